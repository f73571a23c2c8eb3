//! The credential a client sends, its mode, and the one header it becomes,
//! offered only to the site's own origin.

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::classify::AuthKind;
use crate::cookies::jar::CookieJar;
use crate::secret::{ExposeSecret, SecretString};

/// How requests authenticate, as shown to people and written to `--json` and
/// the audit log (`cookie`, `basic`, `bearer`, `none`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Browser session cookies.
    Cookie,
    /// Cloud: account email + API token.
    Basic,
    /// Server/DC personal access token.
    Bearer,
    /// No credential at all.
    #[serde(rename = "none")]
    Anonymous,
}

impl std::fmt::Display for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AuthMode {
    /// `cookie`, `basic`, `bearer` or `none`: the name the contract uses.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Cookie => "cookie",
            AuthMode::Basic => "basic",
            AuthMode::Bearer => "bearer",
            AuthMode::Anonymous => "none",
        }
    }

    /// What a refusal means depends on it: a dead session or a refused token.
    pub(crate) fn auth_kind(self) -> AuthKind {
        match self {
            AuthMode::Basic | AuthMode::Bearer => AuthKind::Token,
            AuthMode::Cookie => AuthKind::Cookie,
            AuthMode::Anonymous => AuthKind::None,
        }
    }
}

/// The credential a client sends.
pub enum Credential {
    /// Cloud: account email + API token.
    Basic {
        username: String,
        token: SecretString,
    },
    /// Server/DC personal access token.
    Bearer { token: SecretString },
    /// Browser session cookies, sent only to the site's host.
    Cookies { jar: CookieJar },
    /// Nothing (used to probe anonymous access).
    None,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values: only which kind of credential this is.
        write!(f, "{}", self.mode())
    }
}

impl Credential {
    /// Which way this credential authenticates.
    pub fn mode(&self) -> AuthMode {
        match self {
            Credential::Basic { .. } => AuthMode::Basic,
            Credential::Bearer { .. } => AuthMode::Bearer,
            Credential::Cookies { .. } => AuthMode::Cookie,
            Credential::None => AuthMode::Anonymous,
        }
    }

    /// The header carrying this credential to `url`, marked sensitive so it
    /// never shows in debug output; `None` for no credential, for cookies of
    /// which none matches `url` (domain, path, secure), or for a value that
    /// cannot be a header (control characters: never sent half-way).
    fn header(&self, url: &Url) -> Option<(HeaderName, HeaderValue)> {
        let (name, value) = match self {
            Credential::Basic { username, token } => {
                use base64::Engine as _;
                let raw = zeroize::Zeroizing::new(format!("{username}:{}", token.expose_secret()));
                let enc = zeroize::Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()),
                );
                let value = zeroize::Zeroizing::new(format!("Basic {}", enc.as_str()));
                (AUTHORIZATION, HeaderValue::from_str(&value))
            }
            Credential::Bearer { token } => {
                let value = zeroize::Zeroizing::new(format!("Bearer {}", token.expose_secret()));
                (AUTHORIZATION, HeaderValue::from_str(&value))
            }
            Credential::Cookies { jar } => (
                COOKIE,
                HeaderValue::from_str(jar.header_value_for(url)?.expose_secret()),
            ),
            Credential::None => return None,
        };
        let mut value = value.ok()?;
        value.set_sensitive(true);
        Some((name, value))
    }
}

/// The headers authenticating a request to `url`: the credential only when
/// `url` is on the origin of `site` (scheme, host and port), else none; of
/// a cookie jar, only the cookies that match `url`.
pub(crate) fn auth_headers(credential: &Credential, site: &Url, url: &Url) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if !crate::site::same_origin(url, site) {
        return headers;
    }
    if let Some((name, value)) = credential.header(url) {
        headers.insert(name, value);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookies::jar::Cookie;

    #[test]
    fn modes_print_and_serialise_as_the_contract_names_them() {
        for (mode, name) in [
            (AuthMode::Cookie, "cookie"),
            (AuthMode::Basic, "basic"),
            (AuthMode::Bearer, "bearer"),
            (AuthMode::Anonymous, "none"),
        ] {
            assert_eq!(mode.to_string(), name);
            assert_eq!(
                serde_json::to_value(mode).ok(),
                Some(serde_json::json!(name))
            );
        }
        assert_eq!(Credential::None.mode(), AuthMode::Anonymous);
        assert_eq!(format!("{:?}", Credential::None), "none");
    }

    #[test]
    fn credential_headers_are_sensitive_and_only_for_the_site_origin() {
        let site = Url::parse("https://x.atlassian.net/wiki").unwrap();
        let mut jar = CookieJar::new();
        jar.insert(Cookie::new("cloud.session.token", "SENTINEL-cookie"));
        let cases = [
            (
                Credential::Basic {
                    username: "a@example.com".into(),
                    token: SecretString::from("SENTINEL-token"),
                },
                AUTHORIZATION,
            ),
            (
                Credential::Bearer {
                    token: SecretString::from("SENTINEL-token"),
                },
                AUTHORIZATION,
            ),
            (Credential::Cookies { jar }, COOKIE),
        ];
        for (credential, name) in cases {
            let url = Url::parse("https://x.atlassian.net/wiki/rest/api/space").unwrap();
            let headers = auth_headers(&credential, &site, &url);
            let value = headers.get(&name).unwrap();
            assert!(value.is_sensitive(), "{name} must be marked sensitive");
            assert!(!format!("{headers:?}").contains("SENTINEL"));
            assert!(!format!("{credential:?}").contains("SENTINEL"));
            for other in [
                "https://evil.example.com/wiki/rest/api/space",
                "http://x.atlassian.net/wiki/rest/api/space",
                "https://x.atlassian.net:8443/wiki/rest/api/space",
            ] {
                let h = auth_headers(&credential, &site, &Url::parse(other).unwrap());
                assert!(h.is_empty(), "credentials offered to {other}");
            }
        }
        assert!(auth_headers(&Credential::None, &site, &site).is_empty());
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_not_sent() {
        let site = Url::parse("https://c.example.com").unwrap();
        let credential = Credential::Bearer {
            token: SecretString::from("bad\ntoken"),
        };
        assert!(auth_headers(&credential, &site, &site).is_empty());
    }
}
