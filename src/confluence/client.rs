//! The HTTP client: authentication, safe redirects, retries with backoff,
//! response classification, session-cookie refresh, and streaming lists.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderValue, SET_COOKIE};
use serde::de::DeserializeOwned;
use url::Url;

use super::classify::{AuthKind, Outcome, ResponseFacts, classify_response};
use super::model::{Page, Space, User, WirePage, WireSpace, WireUser};
use super::paging::{ListPage, PagingError, decode_v1, decode_v2};
use crate::config::{DeploymentSetting, is_loopback};
use crate::cookies::jar::CookieJar;
use crate::secret::{ExposeSecret, SecretString};

/// Page size asked for; the v2 maximum.
pub const PAGE_LIMIT: usize = 250;
/// Largest response body read; a list page of 250 is far below it.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

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
pub fn detect_deployment(base: &Url, setting: DeploymentSetting) -> Deployment {
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
pub fn api_base(base: &Url, deployment: Deployment) -> Url {
    let mut b = base.clone();
    if deployment == Deployment::Cloud && (b.path().is_empty() || b.path() == "/") {
        b.set_path("/wiki");
    }
    b
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
        f.write_str(self.mode_name())
    }
}

impl Credential {
    /// `basic`, `bearer`, `cookie` or `none`.
    pub fn mode_name(&self) -> &'static str {
        match self {
            Credential::Basic { .. } => "basic",
            Credential::Bearer { .. } => "bearer",
            Credential::Cookies { .. } => "cookie",
            Credential::None => "none",
        }
    }

    fn kind(&self) -> AuthKind {
        match self {
            Credential::Basic { .. } | Credential::Bearer { .. } => AuthKind::Token,
            Credential::Cookies { .. } => AuthKind::Cookie,
            Credential::None => AuthKind::None,
        }
    }
}

/// How often and how long to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// Why the client is waiting before another attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitReason {
    RateLimited { status: u16 },
    ServerError { status: u16 },
    Network,
}

/// Something the caller may show while a request is under way.
#[derive(Clone, Debug)]
pub enum ClientNotice {
    /// Waiting `wait` before attempt `next_attempt` (a countdown for the UI).
    Waiting {
        wait: Duration,
        next_attempt: u32,
        reason: WaitReason,
    },
}

/// Receives notices; called from the request's task.
pub type NoticeSink = Arc<dyn Fn(ClientNotice) + Send + Sync>;

/// Everything needed to build a client.
pub struct ClientOptions {
    pub base_url: Url,
    pub deployment: Deployment,
    pub credential: Credential,
    pub timeout: Duration,
    pub ca_bundle: Option<PathBuf>,
    pub retry: RetryPolicy,
}

/// A request that did not give what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "refusing to send credentials over plain http:// to {host}; use https:// (plain http is allowed only for loopback hosts)"
    )]
    InsecureUrl { host: String },
    #[error("cannot use CONFLUENCE_CA_BUNDLE {path}: {reason}")]
    CaBundle { path: PathBuf, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    #[error("{}", describe_outcome(outcome))]
    Refused { outcome: Outcome, path: String },
    #[error("network error talking to {host}: {message}")]
    Network { host: String, message: String },
    #[error("unexpected answer from {path}: {source}")]
    Decode { path: String, source: PagingError },
    #[error("the answer from {path} is larger than 32 MiB; refusing to read it")]
    TooLarge { path: String },
}

impl ClientError {
    /// The outcome behind a refusal, if this is one.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            ClientError::Refused { outcome, .. } => Some(outcome),
            _ => None,
        }
    }
}

fn describe_outcome(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::SessionExpired { reason, .. } => format!("the session has expired: {reason}"),
        Outcome::CredentialsRejected { status, message } => {
            format!("the credentials were rejected (HTTP {status}: {message})")
        }
        Outcome::Anonymous => {
            "the site answered as an anonymous user: the credentials were not accepted".into()
        }
        Outcome::Captcha { login_url, .. } => match login_url {
            Some(u) => format!("the site demands a CAPTCHA: sign in through the browser at {u}"),
            None => "the site demands a CAPTCHA: sign in through the browser".into(),
        },
        Outcome::Forbidden { status, message } => format!("not allowed (HTTP {status}): {message}"),
        Outcome::NotFound { message } => format!("not found: {message}"),
        Outcome::RateLimited { status, .. } => {
            format!("rate limited (HTTP {status}) and still limited after retries")
        }
        Outcome::ServerError { status, message } => {
            format!("server error (HTTP {status}): {message}")
        }
        Outcome::Unexpected { status, message } => format!("unexpected HTTP {status}: {message}"),
    }
}

/// A Confluence site, signed in one way.
pub struct Client {
    http: reqwest::Client,
    api_base: Url,
    deployment: Deployment,
    credential: Mutex<Credential>,
    /// Names of cookies the server refreshed since the last `take_refreshed`.
    refreshed: Mutex<Vec<String>>,
    retry: RetryPolicy,
    notices: Option<NoticeSink>,
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
        if base.scheme() != "https" && !is_loopback(&base) {
            return Err(ClientError::InsecureUrl {
                host: base.host_str().unwrap_or_default().to_string(),
            });
        }
        let site = base.clone();
        // Follow only same-origin redirects that are not login pages; a login
        // redirect is an answer to classify, and another host never gets our
        // credentials.
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            let login = ["login.action", "/login", "id.atlassian.com", "saml", "/sso"]
                .iter()
                .any(|m| attempt.url().as_str().contains(m));
            if attempt.url().origin() != site.origin() || login || attempt.previous().len() >= 5 {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("confluence-tui/", env!("CARGO_PKG_VERSION")))
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
            .redirect(policy);
        if let Some(path) = &opts.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| ClientError::CaBundle {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientError::CaBundle {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(ClientError::CaBundle {
                    path: path.clone(),
                    reason: "no PEM certificates in it".into(),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Client {
            http,
            api_base: base,
            deployment: opts.deployment,
            credential: Mutex::new(opts.credential),
            refreshed: Mutex::new(Vec::new()),
            retry: opts.retry,
            notices: None,
        })
    }

    /// Sends wait notices (rate limits, backoff) to `sink`.
    pub fn with_notices(mut self, sink: NoticeSink) -> Client {
        self.notices = Some(sink);
        self
    }

    /// The site base the API paths hang off (`…/wiki` on Cloud).
    pub fn api_base(&self) -> &Url {
        &self.api_base
    }

    pub fn deployment(&self) -> Deployment {
        self.deployment
    }

    /// `basic`, `bearer`, `cookie` or `none`.
    pub fn mode_name(&self) -> &'static str {
        self.credential
            .lock()
            .map(|c| c.mode_name())
            .unwrap_or("none")
    }

    /// The cookie jar with refreshed values and the refreshed names, if the
    /// server refreshed any since the last call.
    pub fn take_refreshed(&self) -> Option<(CookieJar, Vec<String>)> {
        let names = std::mem::take(&mut *self.refreshed.lock().ok()?);
        if names.is_empty() {
            return None;
        }
        match &*self.credential.lock().ok()? {
            Credential::Cookies { jar } => Some((jar.clone(), names)),
            _ => None,
        }
    }

    /// Who is signed in (the sign-in probe).
    pub async fn current_user(&self) -> Result<User, ClientError> {
        let url = self.url("/rest/api/user/current", &[]);
        let body = self.get(&url, true).await?;
        let wire: WireUser =
            serde_json::from_slice(&body).map_err(|e| self.decode_err(&url, e.into()))?;
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
        let v1 = self.url("/rest/api/space", &[("limit", &limit), ("start", "0")]);
        let first = match self.deployment {
            Deployment::Cloud => Some(self.url("/api/v2/spaces", &[("limit", &limit)])),
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

    /// Streams the pages of a space (by key; the v2 id is looked up when
    /// needed), page by page.
    pub async fn for_each_page_of_space(
        &self,
        space_key: &str,
        space_id: Option<&str>,
        mut on_page: impl FnMut(Vec<Page>) -> ControlFlow<()>,
    ) -> Result<usize, ClientError> {
        let limit = PAGE_LIMIT.to_string();
        let web = self.api_base.clone();
        let v1 = self.url(
            "/rest/api/content",
            &[
                ("spaceKey", space_key),
                ("type", "page"),
                ("limit", &limit),
                ("start", "0"),
                ("expand", "version,ancestors"),
            ],
        );
        let first = match (self.deployment, space_id) {
            (Deployment::Server, _) => None,
            (Deployment::Cloud, Some(id)) => {
                Some(self.url(&format!("/api/v2/spaces/{id}/pages"), &[("limit", &limit)]))
            }
            (Deployment::Cloud, None) => match self.space_id_for_key(space_key).await {
                Ok(Some(id)) => {
                    Some(self.url(&format!("/api/v2/spaces/{id}/pages"), &[("limit", &limit)]))
                }
                Ok(None) => {
                    return Err(ClientError::Refused {
                        outcome: Outcome::NotFound {
                            message: format!("no space with key {space_key}"),
                        },
                        path: "/api/v2/spaces".into(),
                    });
                }
                Err(ClientError::Refused {
                    outcome: Outcome::NotFound { .. },
                    ..
                }) => None,
                Err(e) => return Err(e),
            },
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

    async fn space_id_for_key(&self, key: &str) -> Result<Option<String>, ClientError> {
        let url = self.url("/api/v2/spaces", &[("keys", key), ("limit", "1")]);
        let body = self.get(&url, false).await?;
        let page: ListPage<WireSpace> =
            decode_v2(&body, &url).map_err(|e| self.decode_err(&url, e))?;
        Ok(page
            .results
            .into_iter()
            .find(|s| s.key.eq_ignore_ascii_case(key))
            .map(|s| s.into_space(&self.api_base).id))
    }

    /// Follows v2 cursors from `v2_first` (falling back to v1 when the site
    /// has no v2), or v1 start/limit from `v1_first`.
    async fn stream<W: DeserializeOwned, T>(
        &self,
        v2_first: Option<Url>,
        v1_first: Url,
        max: Option<usize>,
        convert: impl Fn(W) -> T,
        on_page: &mut impl FnMut(Vec<T>) -> ControlFlow<()>,
    ) -> Result<usize, ClientError> {
        // `--limit 0` wants nothing; asking the site for one item would be waste.
        if max == Some(0) {
            return Ok(0);
        }
        let (mut next, mut v2) = match v2_first {
            Some(u) => (Some(u), true),
            None => (Some(v1_first.clone()), false),
        };
        let mut delivered = 0usize;
        while let Some(url) = next.take() {
            let body = match self.get(&url, false).await {
                Ok(b) => b,
                Err(ClientError::Refused {
                    outcome: Outcome::NotFound { .. },
                    ..
                }) if v2 && delivered == 0 => {
                    tracing::info!("no v2 API on this site; using v1");
                    v2 = false;
                    next = Some(v1_first.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            let page: ListPage<W> = if v2 {
                decode_v2(&body, &url)
            } else {
                decode_v1(&body, &url)
            }
            .map_err(|e| self.decode_err(&url, e))?;
            drop(body);
            let mut items: Vec<T> = page.results.into_iter().map(&convert).collect();
            if let Some(m) = max {
                items.truncate(m.saturating_sub(delivered));
            }
            delivered += items.len();
            let done = max.is_some_and(|m| delivered >= m);
            if !items.is_empty() && on_page(items).is_break() {
                break;
            }
            if done {
                break;
            }
            // A server that hands back the link it was asked for would loop
            // forever; stop with an error instead.
            if page.next.as_ref() == Some(&url) {
                return Err(ClientError::Decode {
                    path: url.path().to_string(),
                    source: PagingError::BadNext("the same page again".into()),
                });
            }
            next = page.next;
        }
        Ok(delivered)
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut u = self.api_base.clone();
        u.set_path(&format!(
            "{}{}",
            self.api_base.path().trim_end_matches('/'),
            path
        ));
        if !query.is_empty() {
            u.query_pairs_mut().extend_pairs(query);
        }
        u
    }

    fn decode_err(&self, url: &Url, source: PagingError) -> ClientError {
        ClientError::Decode {
            path: url.path().to_string(),
            source,
        }
    }

    fn auth_headers(&self, url: &Url) -> HeaderMap {
        let mut h = HeaderMap::new();
        let Ok(cred) = self.credential.lock() else {
            return h;
        };
        // Credentials go only to the site's own origin.
        if url.origin() != self.api_base.origin() {
            return h;
        }
        let value = match &*cred {
            Credential::Basic { username, token } => {
                use base64::Engine as _;
                let raw = zeroize::Zeroizing::new(format!("{username}:{}", token.expose_secret()));
                let enc = zeroize::Zeroizing::new(
                    base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()),
                );
                Some((
                    AUTHORIZATION,
                    HeaderValue::from_str(&format!("Basic {}", enc.as_str())),
                ))
            }
            Credential::Bearer { token } => Some((
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())),
            )),
            Credential::Cookies { jar } => Some((
                COOKIE,
                HeaderValue::from_str(jar.header_value().expose_secret()),
            )),
            Credential::None => None,
        };
        if let Some((name, Ok(mut v))) = value {
            v.set_sensitive(true);
            h.insert(name, v);
        }
        h
    }

    /// GET with retries; returns the body of an OK answer.
    async fn get(&self, url: &Url, probe: bool) -> Result<Vec<u8>, ClientError> {
        let host = url.host_str().unwrap_or_default().to_string();
        let mut attempt = 1u32;
        loop {
            let kind = self
                .credential
                .lock()
                .map(|c| c.kind())
                .unwrap_or(AuthKind::None);
            let sent = self
                .http
                .get(url.clone())
                .headers(self.auth_headers(url))
                .header("Accept", "application/json")
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    let message = network_message(&e);
                    if attempt < self.retry.max_attempts {
                        self.wait(self.backoff(attempt), attempt + 1, WaitReason::Network)
                            .await;
                        attempt += 1;
                        continue;
                    }
                    return Err(ClientError::Network { host, message });
                }
            };
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            if kind == AuthKind::Cookie {
                self.absorb_set_cookies(&headers);
            }
            let body = match read_body(resp).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => {
                    return Err(ClientError::TooLarge {
                        path: url.path().to_string(),
                    });
                }
                Err(BodyError::Network(message)) => {
                    if attempt < self.retry.max_attempts {
                        self.wait(self.backoff(attempt), attempt + 1, WaitReason::Network)
                            .await;
                        attempt += 1;
                        continue;
                    }
                    return Err(ClientError::Network { host, message });
                }
            };
            let outcome = classify_response(&ResponseFacts {
                status,
                headers: &headers,
                body: &body,
                auth: kind,
                probe,
            });
            if outcome == Outcome::Ok {
                return Ok(body);
            }
            tracing::info!(status, path = url.path(), outcome = ?outcome, attempt, "request not ok");
            if outcome.is_retryable() && attempt < self.retry.max_attempts {
                let (wait, reason) = match &outcome {
                    Outcome::RateLimited {
                        status,
                        retry_after,
                    } => (
                        retry_after.unwrap_or_else(|| self.backoff(attempt)),
                        WaitReason::RateLimited { status: *status },
                    ),
                    _ => (self.backoff(attempt), WaitReason::ServerError { status }),
                };
                self.wait(wait, attempt + 1, reason).await;
                attempt += 1;
                continue;
            }
            return Err(ClientError::Refused {
                outcome,
                path: url.path().to_string(),
            });
        }
    }

    /// Exponential backoff with jitter: a random wait in [d/2, d], d doubling.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .retry
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let d = exp.min(self.retry.max_delay);
        let half = d / 2;
        half + Duration::from_millis(fastrand::u64(0..=half.as_millis() as u64))
    }

    async fn wait(&self, wait: Duration, next_attempt: u32, reason: WaitReason) {
        if let Some(sink) = &self.notices {
            sink(ClientNotice::Waiting {
                wait,
                next_attempt,
                reason,
            });
        }
        tokio::time::sleep(wait).await;
    }

    /// Takes refreshed values of stored cookies from `Set-Cookie` headers.
    fn absorb_set_cookies(&self, headers: &HeaderMap) {
        let Ok(mut cred) = self.credential.lock() else {
            return;
        };
        let Credential::Cookies { jar } = &mut *cred else {
            return;
        };
        for v in headers.get_all(SET_COOKIE) {
            if let Ok(s) = v.to_str()
                && let Some(name) = jar.merge_set_cookie(s)
                && let Ok(mut r) = self.refreshed.lock()
                && !r.contains(&name)
            {
                r.push(name);
            }
        }
    }
}

enum BodyError {
    TooLarge,
    Network(String),
}

async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, BodyError> {
    if resp
        .content_length()
        .is_some_and(|n| n as usize > MAX_BODY_BYTES)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(resp.content_length().map_or(8192, |n| n as usize));
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
fn network_message(e: &reqwest::Error) -> String {
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
    use crate::cookies::jar::Cookie;

    fn client_with(credential: Credential) -> Client {
        Client::new(ClientOptions {
            base_url: Url::parse("https://x.atlassian.net/wiki").unwrap(),
            deployment: Deployment::Cloud,
            credential,
            timeout: Duration::from_secs(5),
            ca_bundle: None,
            retry: RetryPolicy::default(),
        })
        .unwrap()
    }

    #[test]
    fn credential_headers_are_sensitive_and_only_for_the_site_origin() {
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
            let client = client_with(credential);
            let site = client.url("/rest/api/space", &[]);
            let headers = client.auth_headers(&site);
            let value = headers.get(&name).unwrap();
            assert!(value.is_sensitive(), "{name} must be marked sensitive");
            assert!(!format!("{headers:?}").contains("SENTINEL"));
            for other in [
                "https://evil.example.com/wiki/rest/api/space",
                "http://x.atlassian.net/wiki/rest/api/space",
                "https://x.atlassian.net:8443/wiki/rest/api/space",
            ] {
                let h = client.auth_headers(&Url::parse(other).unwrap());
                assert!(h.is_empty(), "credentials offered to {other}");
            }
        }
        assert!(
            client_with(Credential::None)
                .auth_headers(&Url::parse("https://x.atlassian.net/wiki").unwrap())
                .is_empty()
        );
    }
}
