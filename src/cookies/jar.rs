//! The cookie set: what a paste produced, what the vault stores, expiry and
//! session-cookie detection.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use url::Url;
use zeroize::Zeroizing;

use super::scope;

use crate::secret::{ExposeSecret, SecretString, mask_len};

/// Cookie names that carry a Confluence login session.
/// Cloud: `cloud.session.token`, `tenant.session.token`; Server/DC:
/// `JSESSIONID`, `seraph.confluence`.
pub const SESSION_COOKIE_NAMES: &[&str] = &[
    "cloud.session.token",
    "tenant.session.token",
    "JSESSIONID",
    "seraph.confluence",
];

/// Cookie names that belong to a gateway in front of the site, not to
/// Confluence: Cloudflare Access's session, F5 BIG-IP APM's. They are sent
/// with every auth mode (next to a token too). `CONFLUENCE_GATEWAY_COOKIES`
/// adds names.
pub const GATEWAY_COOKIE_NAMES: &[&str] =
    &["CF_Authorization", "MRHSession", "LastMRH_Session", "F5_ST"];

/// Whether `name` is a gateway's cookie (the known ones, or one of `extra`).
pub fn is_gateway_cookie(name: &str, extra: &[String]) -> bool {
    GATEWAY_COOKIE_NAMES.contains(&name) || extra.iter().any(|e| e == name)
}

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
    /// Read from a browser profile (`cookies import --from-browser`, or
    /// `watch` picking up a fresh login).
    Browser { browser: String, profile: String },
}

impl std::fmt::Display for CookieSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CookieSource::IntakeFile => f.write_str("intake file"),
            CookieSource::Stdin => f.write_str("standard input"),
            CookieSource::File { path } => write!(f, "file {path}"),
            CookieSource::Paste => f.write_str("paste"),
            CookieSource::Refresh => f.write_str("server refresh"),
            CookieSource::Browser { browser, profile } => write!(f, "browser:{browser}:{profile}"),
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
    /// When the site last refreshed a value of the set with `Set-Cookie`
    /// (absent until it does): of two copies of the same set, the later
    /// refresh is the newer one, so a process never writes back, or reads
    /// back, an older value than the vault holds.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub refreshed_at: Option<OffsetDateTime>,
}

impl Cookie {
    /// A cookie with only a name and a value (no domain, path, or expiry).
    pub fn new(name: impl Into<String>, value: &str) -> Cookie {
        Cookie {
            name: name.into(),
            value: SecretString::from(value),
            domain: None,
            path: None,
            expires: None,
            secure: false,
            http_only: false,
        }
    }

    /// Whether this cookie carries a Confluence login session.
    pub(crate) fn is_session_cookie(&self) -> bool {
        SESSION_COOKIE_NAMES.contains(&self.name.as_str())
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// Adds a cookie; one with the same name is replaced in its original
    /// position (so the header keeps the browser's order) and returned.
    pub fn insert(&mut self, cookie: Cookie) -> Option<Cookie> {
        match self.cookies.iter_mut().find(|c| c.name == cookie.name) {
            Some(slot) => Some(std::mem::replace(slot, cookie)),
            None => {
                self.cookies.push(cookie);
                None
            }
        }
    }

    /// The cookie with this exact (case-sensitive) name.
    pub fn get(&self, name: &str) -> Option<&Cookie> {
        self.cookies.iter().find(|c| c.name == name)
    }

    /// Cookie names in order.
    pub fn names(&self) -> Vec<String> {
        self.cookies.iter().map(|c| c.name.clone()).collect()
    }

    /// Number of cookies.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether the jar holds no cookie.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// Names of the cookies that carry a login session, in jar order.
    pub fn session_cookie_names(&self) -> Vec<String> {
        self.cookies
            .iter()
            .filter(|c| c.is_session_cookie())
            .map(|c| c.name.clone())
            .collect()
    }

    /// Whether any cookie carries a login session.
    pub fn has_session_cookie(&self) -> bool {
        self.cookies.iter().any(Cookie::is_session_cookie)
    }

    /// The `Cookie` request header value of every cookie: `a=1; b=2`.
    pub fn header_value(&self) -> SecretString {
        self.header_of(self.cookies.iter())
    }

    /// The `Cookie` request header value for a request to `url`: only the
    /// cookies that domain-match, path-match and (when secure) may travel
    /// to it; `None` when no cookie does.
    pub fn header_value_for(&self, url: &Url) -> Option<SecretString> {
        let mut matching = self
            .cookies
            .iter()
            .filter(|c| scope::matches_request(c, url))
            .peekable();
        matching.peek()?;
        Some(self.header_of(matching))
    }

    fn header_of<'a>(&self, cookies: impl Iterator<Item = &'a Cookie> + Clone) -> SecretString {
        // Built in a zeroizing buffer so no plain copy outlives the call.
        let capacity = cookies
            .clone()
            .map(|c| c.name.len() + c.value.expose_secret().len() + 3)
            .sum();
        let mut header = Zeroizing::new(String::with_capacity(capacity));
        for (i, cookie) in cookies.enumerate() {
            if i > 0 {
                header.push_str("; ");
            }
            header.push_str(&cookie.name);
            header.push('=');
            header.push_str(cookie.value.expose_secret());
        }
        SecretString::from(header.as_str())
    }

    /// The gateway cookies of the jar (`is_gateway_cookie`), if any.
    pub fn gateway_cookies(&self, extra: &[String]) -> Option<CookieJar> {
        let cookies: Vec<Cookie> = self
            .cookies
            .iter()
            .filter(|c| is_gateway_cookie(&c.name, extra))
            .cloned()
            .collect();
        (!cookies.is_empty()).then_some(CookieJar { cookies })
    }

    /// Whether every cookie is a gateway's (nothing of Confluence's own).
    pub fn only_gateway_cookies(&self, extra: &[String]) -> bool {
        !self.cookies.is_empty()
            && self
                .cookies
                .iter()
                .all(|c| is_gateway_cookie(&c.name, extra))
    }

    /// The earliest own expiry among the session cookies, if any has one.
    pub fn session_expiry(&self) -> Option<OffsetDateTime> {
        self.cookies
            .iter()
            .filter(|c| c.is_session_cookie())
            .filter_map(|c| c.expires)
            .min()
    }

    /// Applies one `Set-Cookie` response header; see [`CookieJar::merge_set_cookie_at`].
    pub(crate) fn merge_set_cookie(
        &mut self,
        set_cookie_header: &str,
        answer: Answer<'_>,
    ) -> Option<String> {
        self.merge_set_cookie_at(set_cookie_header, answer, OffsetDateTime::now_utc())
    }

    /// Applies one `Set-Cookie` header value of `answer` as of `now` and
    /// returns the name of the cookie it refreshed.
    ///
    /// Only cookies already in the jar are refreshed: the stored set stays
    /// exactly what the user pasted, never growing with tracking cookies
    /// (so the site never holds more than [`scope::MAX_SITE_COOKIES`] through
    /// a `Set-Cookie`). A `Set-Cookie` is ignored when its name and value
    /// exceed [`scope::MAX_COOKIE_BYTES`], or when its Domain does not match
    /// the answering host and the site (or is a public suffix).
    /// Deletions (empty value, `Max-Age` ≤ 0, `Expires` in the past) are
    /// ignored: servers send them on logout or on the way to a login page,
    /// where the response classifier reports the expired session, and keeping
    /// the old value lets the user see which cookie the server rejected.
    /// A header that changes neither value nor expiry returns `None`, so
    /// callers persist (and audit) only real refreshes.
    pub(crate) fn merge_set_cookie_at(
        &mut self,
        set_cookie_header: &str,
        answer: Answer<'_>,
        now: OffsetDateTime,
    ) -> Option<String> {
        let parsed = cookie::Cookie::parse(set_cookie_header.trim()).ok()?;
        if let Err(why) = scope::check_set_cookie(&parsed, answer.from, answer.site) {
            // The name only: it is the site's own word, never a value.
            tracing::warn!(name = ?parsed.name(), reason = %why, "ignored a Set-Cookie");
            return None;
        }
        let new_value = parsed.value();
        if new_value.is_empty() {
            return None;
        }
        let expires = match (parsed.max_age(), parsed.expires_datetime()) {
            (Some(max_age), _) => Some(now.saturating_add(max_age)),
            (None, Some(at)) => Some(at),
            (None, None) => None,
        };
        if expires.is_some_and(|at| at <= now) {
            return None;
        }
        let slot = self.cookies.iter_mut().find(|c| c.name == parsed.name())?;
        if slot.value.expose_secret() == new_value && slot.expires == expires {
            return None;
        }
        slot.value = SecretString::from(new_value);
        slot.expires = expires;
        Some(slot.name.clone())
    }
}

/// Where a `Set-Cookie` came from: the URL that answered, and the site
/// whose cookies the jar holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Answer<'a> {
    pub from: &'a Url,
    pub site: &'a Url,
}

/// How usable a stored cookie set is at a given moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpiryState {
    /// Usable, with more than a day left.
    Valid { left: Duration },
    /// Usable, but less than a day left: time to refresh the cookies.
    ExpiresSoon { left: Duration },
    /// Older than the configured cookie lifetime.
    ExpiredByAge,
    /// A session cookie's own expiry (from the browser) has passed.
    ExpiredBySession,
    /// The server refused the session (recorded once with the reason).
    MarkedExpired { reason: String },
}

/// Below this much time left, a cookie set is reported as expiring soon.
pub(crate) const EXPIRES_SOON_THRESHOLD: Duration = Duration::hours(24);

impl StoredCookies {
    /// Wraps a jar for the vault; it expires at `now + ttl` or at the session
    /// cookies' own expiry, whichever comes first.
    pub fn new(
        jar: CookieJar,
        source: CookieSource,
        now: OffsetDateTime,
        ttl: Duration,
    ) -> StoredCookies {
        let by_age = now.saturating_add(ttl);
        let expires_at = jar.session_expiry().map_or(by_age, |s| s.min(by_age));
        StoredCookies {
            jar,
            source,
            saved_at: now,
            expires_at,
            expired: None,
            refreshed_at: None,
        }
    }

    /// The site accepted the set again after it was found expired (a
    /// verification the user asked for): the mark goes, and a set that was
    /// only too old by our own lifetime guess lives another `ttl` (never
    /// past a session cookie's own expiry). True when anything changed.
    pub(crate) fn revive(&mut self, now: OffsetDateTime, ttl: Duration) -> bool {
        let was_marked = self.expired.take().is_some();
        if now < self.expires_at {
            return was_marked;
        }
        let by_age = now.saturating_add(ttl);
        self.expires_at = self
            .jar
            .session_expiry()
            .filter(|s| *s > now)
            .map_or(by_age, |s| s.min(by_age));
        true
    }

    /// Whether the set can still be used at `now`, and why not.
    pub(crate) fn expiry_state(&self, now: OffsetDateTime) -> ExpiryState {
        if let Some(mark) = &self.expired {
            return ExpiryState::MarkedExpired {
                reason: mark.reason.clone(),
            };
        }
        if now >= self.expires_at {
            return match self.jar.session_expiry() {
                Some(session) if session <= now => ExpiryState::ExpiredBySession,
                _ => ExpiryState::ExpiredByAge,
            };
        }
        let left = self.expires_at - now;
        if left < EXPIRES_SOON_THRESHOLD {
            ExpiryState::ExpiresSoon { left }
        } else {
            ExpiryState::Valid { left }
        }
    }

    /// Whether the cookies may still be sent at `now`.
    pub(crate) fn is_usable(&self, now: OffsetDateTime) -> bool {
        matches!(
            self.expiry_state(now),
            ExpiryState::Valid { .. } | ExpiryState::ExpiresSoon { .. }
        )
    }

    /// Records that the set stopped working; true only the first time, so the
    /// caller audits the expiry exactly once.
    pub(crate) fn mark_expired(&mut self, now: OffsetDateTime, reason: &str) -> bool {
        if self.expired.is_some() {
            return false;
        }
        self.expired = Some(ExpiryMark {
            at: now,
            reason: reason.to_owned(),
        });
        true
    }
}

/// Human time left, two units at most: "13 d 4 h", "3 h 12 min", "5 min 3 s", "42 s".
pub(crate) fn format_time_left(left: Duration) -> String {
    let secs = left.whole_seconds().max(0);
    let (days, hours, mins, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else if mins > 0 {
        format!("{mins} min {s} s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests;
