//! First-run setup's live check of a site address: is something there, is
//! it Confluence, Cloud or Server/Data Center? Asked anonymously, once (no
//! retries, no redirects followed), so a wrong address gets a clear answer
//! at once: the host does not resolve, nothing listens, TLS failed, or what
//! answers is not Confluence.
//!
//! Confluence answers an anonymous `GET …/rest/api/user/current` with JSON:
//! an anonymous user (Server/DC, and Cloud sites that allow it) or a JSON
//! 401/403 (Cloud). Cloud also has `…/api/v2/spaces`, which Server/DC does
//! not: that tells the two apart on a host that is not `*.atlassian.net`.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION};
use url::Url;

use super::classify::LOGIN_URL_MARKERS;
use super::client::{Deployment, api_base, network_message, transport};
use super::login_page::site_login_page;
use super::retry::is_name_resolution_failure;
use crate::config::{DeploymentSetting, parse_base_url};
use crate::text::for_terminal;

/// A site address that answered like Confluence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteProbe {
    /// The base URL to configure (normalised; `/wiki` added for Cloud).
    pub base_url: String,
    pub deployment: Deployment,
    /// The page where the user signs in.
    pub login_page: String,
    /// The site sent an anonymous request to a sign-in page (SSO in
    /// front): Confluence could not be confirmed behind it.
    pub behind_sign_in: bool,
}

/// Why an address is not usable, in words for the person who typed it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Not an address the settings would accept (scheme, plain http…).
    #[error("{0}")]
    Address(String),
    #[error(
        "cannot find the host {host}: its name does not resolve (DNS); check the spelling, or the network and VPN"
    )]
    HostNotFound { host: String },
    #[error("nothing answers at {host}:{port} (connection refused); check the address and port")]
    Refused { host: String, port: u16 },
    #[error(
        "the secure (TLS) connection to {host} failed: {reason}; behind a company proxy that inspects https, set CONFLUENCE_CA_BUNDLE"
    )]
    Tls { host: String, reason: String },
    /// A gateway in front of the site wants a client certificate.
    #[error("{host} ended the secure (TLS) connection: {message}")]
    ClientCertificate { host: String, message: String },
    #[error("cannot reach {host}: {reason}")]
    Network { host: String, reason: String },
    #[error("{url} redirects to {location}; enter the address Confluence really lives at")]
    Redirected { url: String, location: String },
    #[error(
        "{url} answered, but not like a Confluence site ({what}); check the address: Cloud is https://your-site.atlassian.net/wiki, Server/Data Center the address you open Confluence at, with its path (e.g. /confluence)"
    )]
    NotConfluence { url: String, what: String },
}

/// Turns what the user typed into the base URL to check: `https://` added
/// when no scheme is given, the settings' rules applied (no plain http
/// except loopback, no user-info, query or fragment), `/wiki` added to a
/// Cloud host given without a path.
pub fn normalise_site_address(typed: &str) -> Result<Url, ProbeError> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err(ProbeError::Address(
            "type the site's address, e.g. https://your-site.atlassian.net/wiki".into(),
        ));
    }
    let with_scheme = if typed.contains("://") {
        typed.to_string()
    } else {
        format!("https://{typed}")
    };
    let url = parse_base_url(&with_scheme).map_err(|e| ProbeError::Address(e.to_string()))?;
    let cloud = super::client::detect_deployment(&url, DeploymentSetting::Auto);
    Ok(api_base(&url, cloud))
}

/// Checks `typed` live; `timeout` per request, `ca_bundle` as configured.
pub async fn probe_site(
    typed: &str,
    timeout: Duration,
    ca_bundle: Option<&std::path::Path>,
) -> Result<SiteProbe, ProbeError> {
    let base = normalise_site_address(typed)?;
    let tls = super::tls::Tls::new(ca_bundle).map_err(|e| ProbeError::Address(e.to_string()))?;
    let http = transport(&base, timeout, &tls)
        .map_err(|e| ProbeError::Address(e.to_string()))?
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProbeError::Address(e.to_string()))?;
    let first = ask(&http, &tls, &base, &["rest", "api", "user", "current"]).await?;
    let (base, answer) = match judge_user_current(&first) {
        Verdict::NotConfluence if base.path().trim_matches('/').is_empty() => {
            // Confluence often lives under /wiki even on its own host.
            let mut wiki = base.clone();
            wiki.set_path("/wiki");
            let second = ask(&http, &tls, &wiki, &["rest", "api", "user", "current"]).await?;
            match judge_user_current(&second) {
                Verdict::NotConfluence => (base, first),
                _ => (wiki, second),
            }
        }
        _ => (base, first),
    };
    let behind_sign_in = match judge_user_current(&answer) {
        Verdict::Confluence => false,
        Verdict::SignInFirst => true,
        Verdict::OtherRedirect(location) => {
            return Err(ProbeError::Redirected {
                url: base.to_string(),
                location: for_terminal(&location).into_owned(),
            });
        }
        Verdict::NotConfluence => {
            return Err(ProbeError::NotConfluence {
                url: base.to_string(),
                what: describe(&answer),
            });
        }
    };
    let deployment = match super::client::detect_deployment(&base, DeploymentSetting::Auto) {
        Deployment::Cloud => Deployment::Cloud,
        // Not an atlassian.net host: Cloud (a custom domain, the demo)
        // has the v2 API, Server/DC has not.
        Deployment::Server if behind_sign_in => Deployment::Server,
        Deployment::Server => {
            let v2 = ask(&http, &tls, &base, &["api", "v2", "spaces"]).await?;
            if v2.status != 404 && looks_like_json(&v2) {
                Deployment::Cloud
            } else {
                Deployment::Server
            }
        }
    };
    Ok(SiteProbe {
        // The site's identity, as the vault keys it.
        base_url: crate::site::SiteKey::from_url(&base).to_string(),
        deployment,
        login_page: site_login_page(&base, deployment),
        behind_sign_in,
    })
}

/// What an anonymous request got back (the body cut short).
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Largest body read from a probe answer.
const MAX_PROBE_BODY: usize = 64 * 1024;

async fn ask(
    http: &reqwest::Client,
    tls: &super::tls::Tls,
    base: &Url,
    segments: &[&str],
) -> Result<Answer, ProbeError> {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    let host = base.host_str().unwrap_or_default().to_string();
    let mut resp = http
        .get(url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| connection_error(&e, tls, base))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() >= MAX_PROBE_BODY {
                    body.truncate(MAX_PROBE_BODY);
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(ProbeError::Network {
                    host,
                    reason: network_message(&e),
                });
            }
        }
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Whether `io` carries an error of the TLS library (a failed handshake, a
/// refused certificate). Such errors travel inside io::Errors, sometimes
/// one inside another, whose `source()` skips what they wrap.
fn wraps_tls_error(io: &std::io::Error) -> bool {
    let mut inner = io.get_ref();
    while let Some(e) = inner {
        if e.is::<rustls::Error>() {
            return true;
        }
        inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
    }
    false
}

/// A failed request in the user's terms: DNS, refused, TLS, or other.
fn connection_error(e: &reqwest::Error, tls: &super::tls::Tls, base: &Url) -> ProbeError {
    let host = base.host_str().unwrap_or_default().to_string();
    if let Some(message) = tls.certificate_refusal(e) {
        return ProbeError::ClientCertificate { host, message };
    }
    if is_name_resolution_failure(e) {
        return ProbeError::HostNotFound { host };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return ProbeError::Refused {
                    host,
                    port: base.port_or_known_default().unwrap_or_default(),
                };
            }
            if wraps_tls_error(io) {
                return ProbeError::Tls {
                    host,
                    reason: for_terminal(&io.to_string()).into_owned(),
                };
            }
        }
        let text = s.to_string().to_ascii_lowercase();
        if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
            return ProbeError::Tls {
                host,
                reason: for_terminal(&s.to_string()).into_owned(),
            };
        }
        source = s.source();
    }
    ProbeError::Network {
        host,
        reason: network_message(e),
    }
}

enum Verdict {
    Confluence,
    /// A redirect to a sign-in page: SSO in front of the site.
    SignInFirst,
    /// A redirect elsewhere (another address, http → https).
    OtherRedirect(String),
    NotConfluence,
}

fn judge_user_current(a: &Answer) -> Verdict {
    let header = |name: &str| a.headers.contains_key(name);
    if (300..400).contains(&a.status) {
        let location = a
            .headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let lower = location.to_ascii_lowercase();
        return if LOGIN_URL_MARKERS.iter().any(|m| lower.contains(m)) {
            Verdict::SignInFirst
        } else {
            Verdict::OtherRedirect(location)
        };
    }
    // Server/DC's own headers, also on CAPTCHA answers.
    if header("x-seraph-loginreason")
        || header("x-authentication-denied-reason")
        || header("x-ausername")
        || header("x-confluence-request-time")
    {
        return Verdict::Confluence;
    }
    let json: Option<serde_json::Value> = looks_like_json(a)
        .then(|| serde_json::from_slice(&a.body).ok())
        .flatten();
    let Some(serde_json::Value::Object(map)) = json else {
        return Verdict::NotConfluence;
    };
    match a.status {
        200 if map.contains_key("type") || map.contains_key("displayName") => Verdict::Confluence,
        401 | 403 if map.contains_key("message") || map.contains_key("statusCode") => {
            Verdict::Confluence
        }
        _ => Verdict::NotConfluence,
    }
}

fn looks_like_json(a: &Answer) -> bool {
    let typed = a
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
    let body = String::from_utf8_lossy(&a.body);
    typed || body.trim_start().starts_with('{')
}

/// "HTTP 404, an HTML page" — what answered instead of Confluence.
fn describe(a: &Answer) -> String {
    let kind = a
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| t.split(';').next().unwrap_or_default().trim().to_string())
        .filter(|t| !t.is_empty());
    match kind {
        Some(k) if k.contains("html") => format!("HTTP {}, an HTML page", a.status),
        Some(k) => format!("HTTP {}, {}", a.status, for_terminal(&k)),
        None => format!("HTTP {}", a.status),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_normalised_like_the_settings() {
        let n = |s: &str| {
            normalise_site_address(s).map(|u| crate::site::SiteKey::from_url(&u).to_string())
        };
        assert_eq!(
            n("https://x.atlassian.net").unwrap(),
            "https://x.atlassian.net/wiki"
        );
        assert_eq!(
            n("X.Atlassian.NET/").unwrap(),
            "https://x.atlassian.net/wiki"
        );
        assert_eq!(
            n("https://confluence.example.com:443/confluence/").unwrap(),
            "https://confluence.example.com/confluence"
        );
        assert_eq!(n("http://127.0.0.1:8090").unwrap(), "http://127.0.0.1:8090");
        let refused = n("http://confluence.example.com").unwrap_err();
        assert!(refused.to_string().contains("plain http://"), "{refused}");
        assert!(n("https://u:p@x.example").is_err());
        assert!(n("  ").is_err());
    }
}
