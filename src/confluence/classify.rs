//! Response → outcome. Every response Confluence gives is sorted into one
//! `Outcome` the rest of the code matches on; the rules follow how Cloud and
//! Server/Data Center actually signal dead sessions, CAPTCHAs and limits.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};

pub use super::retry::{MAX_RETRY_AFTER, retry_after};

/// Parts of a URL that mark a login page (Server/DC's own, Atlassian's
/// account site, SAML/SSO/OAuth/OpenID sign-in). Matched case-insensitively
/// against the whole URL, both to stop following a redirect there and to
/// read a redirect there as a dead session.
pub(crate) const LOGIN_URL_MARKERS: &[&str] = &[
    "login.action",
    "/login",
    "id.atlassian.com",
    "saml",
    "/sso",
    "oauth",
    "signin",
    "openid",
];

/// Where a gateway in front of the site sends the user to sign in: matched
/// case-insensitively against a redirect's whole `Location`.
const GATEWAY_LOGIN_MARKERS: &[(&str, Gateway)] = &[
    (
        "cloudflareaccess.com/cdn-cgi/access/login",
        Gateway::CloudflareAccess,
    ),
    ("/cdn-cgi/access/login", Gateway::CloudflareAccess),
    ("/my.policy", Gateway::F5),
    ("/vdesk/", Gateway::F5),
    ("login.microsoftonline.com", Gateway::MicrosoftEntra),
];

/// A gateway in front of the site that wants its own sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gateway {
    /// Cloudflare Access (`CF_Authorization`, service tokens).
    CloudflareAccess,
    /// F5 BIG-IP Access Policy Manager (`MRHSession`).
    F5,
    /// Microsoft Entra ID (Azure AD application proxy).
    MicrosoftEntra,
    /// Kerberos / SPNEGO (`WWW-Authenticate: Negotiate`): not supported.
    Negotiate,
    /// A sign-in on another host.
    Other { host: String },
}

impl Gateway {
    /// The gateway's name in `check --json` (`gateway`) and the audit log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Gateway::CloudflareAccess => "cloudflare_access",
            Gateway::F5 => "f5",
            Gateway::MicrosoftEntra => "microsoft_entra",
            Gateway::Negotiate => "negotiate",
            Gateway::Other { .. } => "other",
        }
    }

    /// The gateway named by `as_str` (the vault keeps it so), with `host`
    /// for an unnamed one.
    pub fn from_name(name: &str, host: Option<&str>) -> Gateway {
        match name {
            "cloudflare_access" => Gateway::CloudflareAccess,
            "f5" => Gateway::F5,
            "microsoft_entra" => Gateway::MicrosoftEntra,
            "negotiate" => Gateway::Negotiate,
            _ => Gateway::Other {
                host: host.unwrap_or("another host").to_string(),
            },
        }
    }
}

impl std::fmt::Display for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gateway::CloudflareAccess => f.write_str("Cloudflare Access"),
            Gateway::F5 => f.write_str("the F5 BIG-IP access gateway"),
            Gateway::MicrosoftEntra => f.write_str("Microsoft Entra ID"),
            Gateway::Negotiate => f.write_str("a Kerberos (Negotiate) gateway"),
            Gateway::Other { host } => write!(f, "the sign-in at {host}"),
        }
    }
}

/// The gateway whose sign-in `location` is, if it names a known one.
pub(crate) fn gateway_login(location: &str) -> Option<Gateway> {
    let l = location.to_ascii_lowercase();
    GATEWAY_LOGIN_MARKERS
        .iter()
        .find(|(m, _)| l.contains(m))
        .map(|(_, g)| g.clone())
}

/// How the request authenticated; the same status means different things.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// Browser session cookies: a 401 means the session died.
    Cookie,
    /// Basic (email + API token) or Bearer (PAT): a 401 means rejected.
    Token,
    /// No credentials at all.
    None,
}

/// Why a cookie session is considered dead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiryReason {
    /// 401 Unauthorized.
    Unauthorized,
    /// 403 "Current user not permitted to use Confluence", or 403 on the sign-in probe.
    NotPermitted,
    /// A redirect to a login page.
    LoginRedirect { location: String },
    /// An HTML page (a login page) where JSON was expected.
    HtmlInsteadOfJson,
    /// `X-Seraph-LoginReason: AUTHENTICATED_FAILED` (or another failure).
    SeraphLoginFailed { reason: String },
}

impl std::fmt::Display for ExpiryReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpiryReason::Unauthorized => f.write_str("the site answered 401 Unauthorized"),
            ExpiryReason::NotPermitted => {
                f.write_str("the site answered 403: not permitted to use Confluence")
            }
            ExpiryReason::LoginRedirect { location } => {
                write!(f, "the site redirected to its login page ({location})")
            }
            ExpiryReason::HtmlInsteadOfJson => {
                f.write_str("the site answered with an HTML login page instead of data")
            }
            ExpiryReason::SeraphLoginFailed { reason } => {
                write!(f, "the site reported a failed login ({reason})")
            }
        }
    }
}

/// What a response means.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx with the expected body.
    Ok,
    /// The cookie session is dead; fresh cookies are needed.
    SessionExpired { reason: ExpiryReason, status: u16 },
    /// A token (Basic or Bearer) was refused.
    CredentialsRejected { status: u16, message: String },
    /// Signed in as nobody: a 200 current-user of type `anonymous`.
    Anonymous,
    /// A gateway in front of the site wants its own sign-in (a redirect to
    /// its login, Kerberos): Confluence's own credentials are not judged.
    GatewaySignIn {
        gateway: Gateway,
        login_url: Option<String>,
        status: u16,
    },
    /// A redirect that is not a sign-in (where to is kept: off the site it
    /// is a gateway's, see `login_page::keep_on_site`).
    Redirect { status: u16, location: String },
    /// A CAPTCHA must be solved in the browser; never retry.
    Captcha {
        status: u16,
        /// Where to sign in. The client keeps only a URL on the site's own
        /// origin; an off-site one is replaced by the site's login page.
        login_url: Option<String>,
        /// The response named a login URL on another origin, which was
        /// dropped (never shown, stored or opened).
        off_site_login_ignored: bool,
    },
    /// 403 on a resource while signed in.
    Forbidden { status: u16, message: String },
    /// 404.
    NotFound { message: String },
    /// 429, or 503 with `Retry-After`; the wait is clamped.
    RateLimited {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// 5xx.
    ServerError { status: u16, message: String },
    /// Anything else (4xx, unexpected 3xx, 1xx).
    Unexpected { status: u16, message: String },
}

impl Outcome {
    /// Worth another attempt after a wait: rate limits and gateway errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            Outcome::RateLimited { .. } => true,
            Outcome::ServerError { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }
}

/// The parts of a response classification looks at.
pub struct ResponseFacts<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    /// The body, or its first part (enough to sniff HTML and read an error).
    pub body: &'a [u8],
    pub auth: AuthKind,
    /// True for the sign-in probe (current user): a 403 there means signed out.
    pub probe: bool,
}

/// Sorts a response into one outcome.
pub fn classify_response(r: &ResponseFacts<'_>) -> Outcome {
    if let Some(captcha) = captcha(r) {
        return captcha;
    }
    let status = r.status;
    let seraph = header(r.headers, "x-seraph-loginreason");
    match status {
        300..=399 => {
            let location = header(r.headers, LOCATION.as_str()).unwrap_or_default();
            if let Some(gateway) = gateway_login(&location) {
                return Outcome::GatewaySignIn {
                    gateway,
                    login_url: Some(location),
                    status,
                };
            }
            if is_login_url(&location) {
                return dead_session(
                    r,
                    ExpiryReason::LoginRedirect { location },
                    "redirected to the login page",
                );
            }
            Outcome::Redirect { status, location }
        }
        401 if header(r.headers, "www-authenticate")
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("negotiate")) =>
        {
            Outcome::GatewaySignIn {
                gateway: Gateway::Negotiate,
                login_url: None,
                status,
            }
        }
        401 => dead_session(r, ExpiryReason::Unauthorized, &error_message(r.body)),
        403 => {
            let msg = error_message(r.body);
            if r.probe || msg.contains("not permitted to use Confluence") {
                dead_session(r, ExpiryReason::NotPermitted, &msg)
            } else {
                Outcome::Forbidden {
                    status,
                    message: msg,
                }
            }
        }
        404 => Outcome::NotFound {
            message: error_message(r.body),
        },
        429 => Outcome::RateLimited {
            status,
            retry_after: retry_after(r.headers),
        },
        503 if r.headers.contains_key(RETRY_AFTER) => Outcome::RateLimited {
            status,
            retry_after: retry_after(r.headers),
        },
        500..=599 => Outcome::ServerError {
            status,
            message: error_message(r.body),
        },
        200..=299 => {
            if let Some(reason) = seraph.filter(|s| s.contains("FAILED") || s.contains("OUT"))
                && (r.body.iter().all(u8::is_ascii_whitespace) || looks_like_html(r))
            {
                return dead_session(
                    r,
                    ExpiryReason::SeraphLoginFailed { reason },
                    "login failed",
                );
            }
            if looks_like_html(r) {
                return dead_session(
                    r,
                    ExpiryReason::HtmlInsteadOfJson,
                    "an HTML page instead of JSON",
                );
            }
            if r.probe && is_anonymous_user(r.body) {
                return Outcome::Anonymous;
            }
            Outcome::Ok
        }
        _ => Outcome::Unexpected {
            status,
            message: error_message(r.body),
        },
    }
}

/// A dead session for cookies; a refused token otherwise.
fn dead_session(r: &ResponseFacts<'_>, reason: ExpiryReason, message: &str) -> Outcome {
    match r.auth {
        AuthKind::Cookie | AuthKind::None => Outcome::SessionExpired {
            reason,
            status: r.status,
        },
        AuthKind::Token => Outcome::CredentialsRejected {
            status: r.status,
            message: message.to_string(),
        },
    }
}

fn captcha(r: &ResponseFacts<'_>) -> Option<Outcome> {
    if let Some(denied) = header(r.headers, "x-authentication-denied-reason")
        && denied.to_ascii_uppercase().starts_with("CAPTCHA_CHALLENGE")
    {
        let login_url = denied
            .split(';')
            .map(str::trim)
            .find_map(|p| p.strip_prefix("login-url="))
            .map(str::to_string);
        return Some(Outcome::Captcha {
            status: r.status,
            login_url,
            off_site_login_ignored: false,
        });
    }
    if header(r.headers, "x-seraph-loginreason")
        .is_some_and(|s| s.contains("AUTHENTICATION_DENIED"))
    {
        return Some(Outcome::Captcha {
            status: r.status,
            login_url: None,
            off_site_login_ignored: false,
        });
    }
    if looks_like_html(r) && contains_ignore_case(r.body, b"captcha") {
        return Some(Outcome::Captcha {
            status: r.status,
            login_url: None,
            off_site_login_ignored: false,
        });
    }
    None
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// True when `url` (absolute or relative) looks like a login page.
pub(crate) fn is_login_url(url: &str) -> bool {
    let l = url.to_ascii_lowercase();
    LOGIN_URL_MARKERS.iter().any(|m| l.contains(m))
}

fn looks_like_html(r: &ResponseFacts<'_>) -> bool {
    let ct = header(r.headers, CONTENT_TYPE.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ct.contains("text/html") {
        return true;
    }
    let start = r
        .body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(r.body.len());
    let head = &r.body[start..r.body.len().min(start + 64)];
    contains_ignore_case(head, b"<!doctype html") || contains_ignore_case(head, b"<html")
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn is_anonymous_user(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("type")
                .and_then(|t| t.as_str())
                .map(|t| t == "anonymous")
        })
        .unwrap_or(false)
}

/// The message of an error body, read leniently: `message`, `reason`,
/// `errors`, `errorMessages`, else the start of the text.
pub(crate) fn error_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let mut parts: Vec<String> = Vec::new();
        for key in ["message", "reason"] {
            if let Some(s) = v.get(key).and_then(|m| m.as_str()) {
                parts.push(s.to_string());
            }
        }
        for key in ["errors", "errorMessages"] {
            if let Some(arr) = v.get(key).and_then(|e| e.as_array()) {
                for e in arr {
                    let text = e.as_str().map(str::to_string).or_else(|| {
                        ["message", "title", "detail"]
                            .iter()
                            .filter_map(|k| {
                                e.get(*k).and_then(|m| {
                                    m.as_str().or_else(|| m.get("key").and_then(|x| x.as_str()))
                                })
                            })
                            .next()
                            .map(str::to_string)
                    });
                    parts.extend(text);
                }
            }
        }
        parts.dedup();
        if !parts.is_empty() {
            return truncate(&parts.join("; "), 300);
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "no message".to_string();
    }
    if text.starts_with('<') {
        return "an HTML page".to_string();
    }
    truncate(text, 300)
}

fn truncate(s: &str, max: usize) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cleaned.chars().count() <= max {
        cleaned
    } else {
        format!("{}…", cleaned.chars().take(max).collect::<String>())
    }
}

#[cfg(test)]
mod tests;
