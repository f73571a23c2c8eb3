//! The HTTP client for one Confluence site: building it, and its public
//! requests (who is signed in, spaces, pages of a space). One attempt of a
//! request lives here too; retries, redirects, credentials, cookie refresh
//! and paging each have their own module, re-exported here.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::ACCEPT;
use url::Url;

use super::authority::{Authority, Judgement, Refusal};
use super::classify::{Outcome, ResponseFacts, classify_response};
use super::login_page::keep_on_site;
use super::model::{Page, Space, User, WirePage, WireSpace, WireUser};
use super::paging::{ListPage, decode_error, decode_v2};
use super::redirect;
use super::retry::{Attempt, is_name_resolution_failure, retry_reason, run_with_retries};
use crate::config::{DeploymentSetting, is_loopback};

pub use super::auth::{AuthMode, Decoration, Decorations};
pub use super::authority::{Fixed, Ticket, Version};
pub use super::error::ClientError;
pub(crate) use super::retry::NoticeSink;
pub use super::retry::{ClientNotice, RetryPolicy, WaitReason};
pub use super::tls::{ClientIdentity, IdentityError, Tls, TrustedBy};

/// Page size asked for; the v2 maximum.
pub const PAGE_LIMIT: usize = 250;
/// Largest response body read; a list page of 250 is far below it.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// How often one attempt is sent again because the credentials it carried
/// were superseded meanwhile. Each time, another request made progress (it
/// rotated the cookies), so this bounds a pathological site, not a normal
/// race.
const MAX_SUPERSEDED_RESENDS: u32 = 16;

/// Cloud or Server/Data Center.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deployment {
    Cloud,
    Server,
}

impl std::fmt::Display for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Deployment::Cloud => "Cloud",
            Deployment::Server => "Server/Data Center",
        })
    }
}

/// `*.atlassian.net` is Cloud, anything else Server/DC, unless the setting says.
pub(crate) fn detect_deployment(base: &Url, setting: DeploymentSetting) -> Deployment {
    match setting {
        DeploymentSetting::Cloud => Deployment::Cloud,
        DeploymentSetting::Server => Deployment::Server,
        DeploymentSetting::Auto => {
            let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
            if host == "atlassian.net" || host.ends_with(".atlassian.net") {
                Deployment::Cloud
            } else {
                Deployment::Server
            }
        }
    }
}

/// Cloud sites live under `/wiki`; a Cloud base given without it gets it.
pub(crate) fn api_base(base: &Url, deployment: Deployment) -> Url {
    let mut b = base.clone();
    if deployment == Deployment::Cloud && (b.path().is_empty() || b.path() == "/") {
        b.set_path("/wiki");
    }
    b
}

/// Everything needed to build a client.
pub struct ClientOptions {
    pub base_url: Url,
    pub deployment: Deployment,
    /// Who lends each request its credentials (the session owner, or
    /// [`Fixed`] decorations).
    pub authority: Arc<dyn Authority>,
    pub timeout: Duration,
    /// Extra roots (`CONFLUENCE_CA_BUNDLE`), when `tls` is not given.
    pub ca_bundle: Option<PathBuf>,
    /// The process's TLS configuration (roots, client certificate); a new
    /// one from `ca_bundle` when none is given.
    pub tls: Option<Tls>,
    pub retry: RetryPolicy,
}

/// A Confluence site, asked with the credentials its authority lends.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    api_base: Url,
    deployment: Deployment,
    authority: Arc<dyn Authority>,
    retry: RetryPolicy,
    notices: Option<NoticeSink>,
    /// Watches the handshakes: a refused client certificate is said so.
    tls: Tls,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_base", &self.api_base.as_str())
            .field("deployment", &self.deployment)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds a client; refuses plain http to a non-loopback host before any request.
    pub fn new(opts: ClientOptions) -> Result<Client, ClientError> {
        let base = api_base(&opts.base_url, opts.deployment);
        let tls = match opts.tls {
            Some(tls) => tls,
            None => Tls::new(opts.ca_bundle.as_deref())?,
        };
        let http = transport(&base, opts.timeout, &tls)?
            .timeout(opts.timeout)
            .redirect(redirect::policy(base.clone()))
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Client {
            http,
            api_base: base,
            deployment: opts.deployment,
            authority: opts.authority,
            retry: opts.retry,
            notices: None,
            tls,
        })
    }

    /// The same site and connections, with another authority (a session's
    /// verifier beside its gate).
    pub fn with_authority(&self, authority: Arc<dyn Authority>) -> Client {
        Client {
            http: self.http.clone(),
            api_base: self.api_base.clone(),
            deployment: self.deployment,
            authority,
            retry: self.retry.clone(),
            notices: self.notices.clone(),
            tls: self.tls.clone(),
        }
    }

    /// Sends wait notices (rate limits, backoff) to `sink`.
    pub fn with_notices(mut self, sink: NoticeSink) -> Client {
        self.notices = Some(sink);
        self
    }

    /// Cloud or Server/Data Center.
    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// The site's API base (`https://x.atlassian.net/wiki`).
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// Who is signed in (the sign-in probe).
    pub async fn current_user(&self) -> Result<User, ClientError> {
        let url = self.url(&["rest", "api", "user", "current"], &[]);
        let body = self.get(&url, true).await?;
        let wire: WireUser =
            serde_json::from_slice(&body).map_err(|e| decode_error(&url, e.into()))?;
        Ok(wire.into())
    }

    /// Streams every space, page by page, to `on_page`; stops early when it
    /// returns `Break` or `max` spaces were delivered. Returns how many.
    pub async fn for_each_space_page(
        &self,
        max: Option<usize>,
        mut on_page: impl FnMut(Vec<Space>) -> ControlFlow<()>,
    ) -> Result<usize, ClientError> {
        let limit = PAGE_LIMIT.min(max.unwrap_or(PAGE_LIMIT).max(1)).to_string();
        let web = self.api_base.clone();
        let v1 = self.url(
            &["rest", "api", "space"],
            &[("limit", &limit), ("start", "0")],
        );
        let first = match self.deployment {
            Deployment::Cloud => Some(self.url(&["api", "v2", "spaces"], &[("limit", &limit)])),
            Deployment::Server => None,
        };
        self.stream(
            first,
            v1,
            max,
            |w: WireSpace| w.into_space(&web),
            &mut on_page,
        )
        .await
    }

    /// Streams the pages of a space, page by page. `space_id` is the space's
    /// id when the caller has it from a listing; without it the space is
    /// looked up first, so a key no space has is `ClientError::UnknownSpace`
    /// rather than an empty list.
    pub async fn for_each_page_of_space(
        &self,
        space_key: &str,
        space_id: Option<&str>,
        mut on_page: impl FnMut(Vec<Page>) -> ControlFlow<()>,
    ) -> Result<usize, ClientError> {
        // No space has these keys, and as path segments they would name
        // another resource (`space/..` is the space list).
        if matches!(space_key.trim(), "" | "." | "..") {
            return Err(ClientError::UnknownSpace {
                key: space_key.to_string(),
            });
        }
        let limit = PAGE_LIMIT.to_string();
        let web = self.api_base.clone();
        let v1 = self.url(
            &["rest", "api", "content"],
            &[
                ("spaceKey", space_key),
                ("type", "page"),
                ("limit", &limit),
                ("start", "0"),
                ("expand", "version,ancestors"),
            ],
        );
        let v2_pages =
            |id: &str| self.url(&["api", "v2", "spaces", id, "pages"], &[("limit", &limit)]);
        let first = match (self.deployment, space_id) {
            (Deployment::Cloud, Some(id)) => Some(v2_pages(id)),
            (Deployment::Server, Some(_)) => None,
            (Deployment::Cloud, None) => match self.space_id_for_key(space_key).await {
                Ok(Some(id)) => Some(v2_pages(&id)),
                Ok(None) => {
                    return Err(ClientError::UnknownSpace {
                        key: space_key.to_string(),
                    });
                }
                // No v2 on this site: look the space up and list through v1.
                Err(ClientError::Refused {
                    outcome: Outcome::NotFound { .. },
                    ..
                }) => {
                    self.require_space_v1(space_key).await?;
                    None
                }
                Err(e) => return Err(e),
            },
            (Deployment::Server, None) => {
                self.require_space_v1(space_key).await?;
                None
            }
        };
        self.stream(
            first,
            v1,
            None,
            |w: WirePage| w.into_page(&web),
            &mut on_page,
        )
        .await
    }

    /// The v2 id of the space with `key`, or `None` when no visible space has it.
    async fn space_id_for_key(&self, key: &str) -> Result<Option<String>, ClientError> {
        let url = self.url(&["api", "v2", "spaces"], &[("keys", key), ("limit", "1")]);
        let body = self.get(&url, false).await?;
        let page: ListPage<WireSpace> =
            decode_v2(&body, &url).map_err(|e| decode_error(&url, e))?;
        Ok(page
            .results
            .into_iter()
            .find(|s| s.key.eq_ignore_ascii_case(key))
            .map(|s| s.into_space(&self.api_base).id))
    }

    /// Asks v1 for the space with `key` (`GET …/rest/api/space/{key}`);
    /// Confluence answers 404 both for no such space and for one the
    /// account may not see.
    async fn require_space_v1(&self, key: &str) -> Result<(), ClientError> {
        let url = self.url(&["rest", "api", "space", key], &[]);
        match self.get(&url, false).await {
            Ok(_) => Ok(()),
            Err(ClientError::Refused {
                outcome: Outcome::NotFound { .. },
                ..
            }) => Err(ClientError::UnknownSpace {
                key: key.to_string(),
            }),
            Err(e) => Err(e),
        }
    }

    /// `{api_base}/{segments…}?{query}`. Each segment is escaped, so a space
    /// key or id from outside can never change the path.
    fn url(&self, segments: &[&str], query: &[(&str, &str)]) -> Url {
        let mut u = self.api_base.clone();
        u.set_query(None);
        // `new` admits only http(s) bases, which always have path segments.
        if let Ok(mut path) = u.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        u
    }

    /// GET with retries; returns the body of an OK answer.
    pub(super) async fn get(&self, url: &Url, probe: bool) -> Result<Vec<u8>, ClientError> {
        run_with_retries(&self.retry, self.notices.as_ref(), |_| {
            self.attempt(url, probe)
        })
        .await
    }

    /// One GET: borrow credentials, send, hand back refreshed cookies,
    /// read, classify. A refusal of credentials that were superseded while
    /// the request was out is sent again with the current ones.
    async fn attempt(&self, url: &Url, probe: bool) -> Attempt<Vec<u8>> {
        let network = |message: String| Attempt::Again {
            reason: WaitReason::Network,
            retry_after: None,
            error: ClientError::Network {
                host: url.host_str().unwrap_or_default().to_string(),
                message,
            },
        };
        let mut resends = 0;
        loop {
            let mut ticket = match self.authority.ticket().await {
                Ok(t) => t,
                Err(e) => return Attempt::Done(Err(e)),
            };
            let credentials = ticket.decorations.headers_for(&self.api_base, url);
            let sent = self
                .http
                .get(url.clone())
                .headers(credentials)
                .header(ACCEPT, "application/json")
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                // Asking again does not make a name resolve: the user must fix it.
                Err(e) if is_name_resolution_failure(&e) => {
                    tracing::info!(error = %network_message(&e), "host name does not resolve");
                    return Attempt::Done(Err(ClientError::HostNotFound {
                        host: url.host_str().unwrap_or_default().to_string(),
                    }));
                }
                Err(e) => {
                    if let Some(message) = self.tls.certificate_refusal(&e) {
                        tracing::info!(error = %network_message(&e), "the client certificate was refused");
                        return Attempt::Done(Err(ClientError::ClientCertificate {
                            host: url.host_str().unwrap_or_default().to_string(),
                            message,
                        }));
                    }
                    return network(network_message(&e));
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let answered = resp.url().clone();
            self.authority.absorb(&mut ticket, &headers, &answered);
            let body = match read_body(resp).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => {
                    return Attempt::Done(Err(ClientError::TooLarge {
                        path: url.path().to_string(),
                    }));
                }
                Err(BodyError::Network(message)) => return network(message),
            };
            let outcome = classify_response(&ResponseFacts {
                status,
                headers: &headers,
                body: &body,
                auth: ticket.mode().auth_kind(),
                probe,
            });
            // A CAPTCHA's login URL is offered only on the site's own origin.
            let outcome = keep_on_site(outcome, &self.api_base, self.deployment);
            if outcome == Outcome::Ok {
                return Attempt::Done(Ok(body));
            }
            if let Some(refusal) = Refusal::of(&outcome)
                && self.authority.judge(&ticket, &refusal).await == Judgement::Superseded
                && resends < MAX_SUPERSEDED_RESENDS
            {
                resends += 1;
                tracing::debug!(
                    status,
                    path = url.path(),
                    "sent again: its credentials were superseded"
                );
                continue;
            }
            tracing::info!(status, path = url.path(), outcome = ?outcome, "request not ok");
            let again = retry_reason(&outcome);
            let error = ClientError::Refused {
                outcome,
                path: url.path().to_string(),
            };
            return match again {
                Some((reason, retry_after)) => Attempt::Again {
                    reason,
                    retry_after,
                    error,
                },
                None => Attempt::Done(Err(error)),
            };
        }
    }
}

/// What every connection to the site at `base` shares (the client's and
/// the proxy's): plain http refused unless the host is loopback, our user
/// agent, the connect timeout, no proxy for loopback or plain http, and the
/// process's TLS configuration (the system's roots plus
/// `CONFLUENCE_CA_BUNDLE`, the client certificate a gateway may ask for).
pub(crate) fn transport(
    base: &Url,
    timeout: Duration,
    tls: &Tls,
) -> Result<reqwest::ClientBuilder, ClientError> {
    if base.scheme() != "https" && !is_loopback(base) {
        return Err(ClientError::InsecureUrl {
            host: base.host_str().unwrap_or_default().to_string(),
        });
    }
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("confluence-tui/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .tls_backend_preconfigured(tls.client_config());
    // Credentials never travel in clear text through a proxy: a plain
    // http:// site (loopback only, checked above) and any loopback site
    // are reached directly, whatever HTTP_PROXY / ALL_PROXY say.
    if base.scheme() != "https" || is_loopback(base) {
        builder = builder.no_proxy();
    }
    Ok(builder)
}

enum BodyError {
    TooLarge,
    Network(String),
}

async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(BodyError::TooLarge);
    }
    // Bounded by the check above, so the conversion cannot fail in practice.
    let capacity = announced.map_or(8192, |n| usize::try_from(n).unwrap_or(MAX_BODY_BYTES));
    let mut body = Vec::with_capacity(capacity);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Network(network_message(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A network error in words, without the URL's query (never secret here,
/// but long) and with the root cause.
pub(crate) fn network_message(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out (CONFLUENCE_TIMEOUT_SECS)".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = src {
        last = Some(s.to_string());
        src = s.source();
    }
    if let Some(l) = last {
        msg.push_str(": ");
        msg.push_str(&l);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_at(base: &str) -> Client {
        Client::new(ClientOptions {
            base_url: Url::parse(base).unwrap(),
            deployment: Deployment::Cloud,
            authority: Fixed::shared(Decorations::none()),
            timeout: Duration::from_secs(5),
            ca_bundle: None,
            tls: None,
            retry: RetryPolicy::default(),
        })
        .unwrap()
    }

    #[test]
    fn urls_hang_off_the_api_base_with_escaped_segments() {
        let client = client_at("https://x.atlassian.net/wiki");
        assert_eq!(
            client
                .url(&["rest", "api", "space", "A/B?c"], &[("limit", "1")])
                .as_str(),
            "https://x.atlassian.net/wiki/rest/api/space/A%2FB%3Fc?limit=1"
        );
        let root = client_at("https://x.atlassian.net");
        assert_eq!(
            root.url(&["api", "v2", "spaces"], &[]).as_str(),
            "https://x.atlassian.net/wiki/api/v2/spaces"
        );
    }

    #[tokio::test]
    async fn a_host_that_does_not_resolve_is_tried_once() {
        // `.invalid` never resolves (RFC 6761).
        let waits = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let counted = waits.clone();
        let client = client_at("https://confluence.example.invalid/wiki").with_notices(
            std::sync::Arc::new(move |_| {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
        );
        let err = client.current_user().await.unwrap_err();
        assert!(
            matches!(&err, ClientError::HostNotFound { host } if host == "confluence.example.invalid"),
            "{err:?}"
        );
        assert_eq!(
            waits.load(std::sync::atomic::Ordering::Relaxed),
            0,
            "no retry"
        );
        assert!(err.to_string().contains("CONFLUENCE_BASE_URL"), "{err}");
    }
}
