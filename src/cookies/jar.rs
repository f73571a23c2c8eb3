//! The cookie set: what a paste produced, what the vault stores, expiry and
//! session-cookie detection.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::secret::{SecretString, mask_len};

/// Cookie names that carry a Confluence login session.
/// Cloud: `cloud.session.token`, `tenant.session.token`; Server/DC:
/// `JSESSIONID`, `seraph.confluence`.
pub const SESSION_COOKIE_NAMES: &[&str] = &[
    "cloud.session.token",
    "tenant.session.token",
    "JSESSIONID",
    "seraph.confluence",
];

/// One cookie. The value is secret; everything else is metadata that may be
/// shown and audited.
#[derive(Clone, Serialize, Deserialize)]
pub struct Cookie {
    pub name: String,
    #[serde(with = "crate::secret::serde_secret")]
    pub value: SecretString,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The cookie's own expiry when the paste carried one (Netscape, JSON).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    #[serde(default)]
    pub secure: bool,
    #[serde(default)]
    pub http_only: bool,
}

impl std::fmt::Debug for Cookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::secret::ExposeSecret;
        f.debug_struct("Cookie")
            .field("name", &self.name)
            .field("value", &mask_len(self.value.expose_secret()))
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// An ordered set of cookies (names unique; a later duplicate replaces an
/// earlier one).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CookieJar {
    pub cookies: Vec<Cookie>,
}

/// Where a stored cookie set came from (audited; never a value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CookieSource {
    /// `cookies/confluence_cookies.txt`
    IntakeFile,
    /// `cookies import -`
    Stdin,
    /// `cookies import PATH`
    File { path: String },
    /// The TUI paste dialog (clipboard or terminal paste).
    Paste,
    /// A `Set-Cookie` from the server refreshed a stored cookie.
    Refresh,
}

impl std::fmt::Display for CookieSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CookieSource::IntakeFile => f.write_str("intake file"),
            CookieSource::Stdin => f.write_str("standard input"),
            CookieSource::File { path } => write!(f, "file {path}"),
            CookieSource::Paste => f.write_str("paste"),
            CookieSource::Refresh => f.write_str("server refresh"),
        }
    }
}

/// Why and when a stored cookie set stopped being usable.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExpiryMark {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub reason: String,
}

/// The cookie set as the vault stores it, with its metadata.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredCookies {
    pub jar: CookieJar,
    pub source: CookieSource,
    #[serde(with = "time::serde::rfc3339")]
    pub saved_at: OffsetDateTime,
    /// Earliest of saved_at + TTL and the session cookies' own expiry.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Set once when the set is found expired (by age or by the server), so
    /// the expiry is audited once and the cookies are never used again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired: Option<ExpiryMark>,
}
