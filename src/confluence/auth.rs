//! What a request carries to the site, built in one place: a set of
//! [`Decorations`] (session cookies, an `Authorization` header; a new kind
//! of credential is one more [`Decoration`]), offered only to the site's
//! own origin, and the [`AuthMode`] people are shown.

use reqwest::header::{AUTHORIZATION, COOKIE, HeaderMap, HeaderName, HeaderValue, SET_COOKIE};
use url::Url;

use super::classify::AuthKind;
use crate::cookies::jar::{Answer, CookieJar};
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

/// One thing a request carries to the site.
#[derive(Clone)]
pub enum Decoration {
    /// Cloud: account email + API token, sent as HTTP Basic.
    Basic {
        username: String,
        token: SecretString,
    },
    /// Server/DC personal access token, sent as Bearer.
    Bearer { token: SecretString },
    /// Browser session cookies, each sent only where it matches.
    Cookies(CookieJar),
    /// A header a gateway in front of the site checks (a Cloudflare Access
    /// service token, a load balancer's key).
    Header { name: String, value: SecretString },
}

/// Everything a request to the site carries. Built once per credential
/// version by whoever owns the credentials, then applied to each request.
#[derive(Clone, Default)]
pub struct Decorations {
    items: Vec<Decoration>,
}

impl std::fmt::Debug for Decorations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values: only which kind of credential this is.
        write!(f, "{}", self.mode())
    }
}

impl Decorations {
    /// Nothing at all (an anonymous probe).
    pub fn none() -> Decorations {
        Decorations::default()
    }

    /// An account email (or user name) and an API token, sent as Basic.
    pub fn basic(username: impl Into<String>, token: SecretString) -> Decorations {
        Decorations::none().with(Decoration::Basic {
            username: username.into(),
            token,
        })
    }

    /// A personal access token, sent as Bearer.
    pub fn bearer(token: SecretString) -> Decorations {
        Decorations::none().with(Decoration::Bearer { token })
    }

    /// Browser session cookies.
    pub fn cookies(jar: CookieJar) -> Decorations {
        Decorations::none().with(Decoration::Cookies(jar))
    }

    /// These decorations and one more (a later one of the same kind, or a
    /// header of the same name, replaces the earlier).
    pub fn with(mut self, d: Decoration) -> Decorations {
        let replaces = |i: &Decoration| match (i, &d) {
            (Decoration::Header { name: a, .. }, Decoration::Header { name: b, .. }) => {
                a.eq_ignore_ascii_case(b)
            }
            (Decoration::Header { .. }, _) | (_, Decoration::Header { .. }) => false,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        };
        self.items.retain(|i| !replaces(i));
        self.items.push(d);
        self
    }

    /// The names of the gateway headers carried (never their values).
    pub fn header_names(&self) -> Vec<String> {
        self.items
            .iter()
            .filter_map(|i| match i {
                Decoration::Header { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// What is carried.
    pub fn items(&self) -> &[Decoration] {
        &self.items
    }

    /// How Confluence is signed in to: the token's kind, else cookies,
    /// else nothing.
    pub fn mode(&self) -> AuthMode {
        let mut mode = AuthMode::Anonymous;
        for item in &self.items {
            match item {
                Decoration::Basic { .. } => return AuthMode::Basic,
                Decoration::Bearer { .. } => return AuthMode::Bearer,
                Decoration::Cookies(_) => mode = AuthMode::Cookie,
                Decoration::Header { .. } => {}
            }
        }
        mode
    }

    /// The session cookies carried, if any.
    pub fn cookie_jar(&self) -> Option<&CookieJar> {
        self.items.iter().find_map(|i| match i {
            Decoration::Cookies(jar) => Some(jar),
            _ => None,
        })
    }

    fn cookie_jar_mut(&mut self) -> Option<&mut CookieJar> {
        self.items.iter_mut().find_map(|i| match i {
            Decoration::Cookies(jar) => Some(jar),
            _ => None,
        })
    }

    /// The headers authenticating a request to `url`: nothing unless `url`
    /// is on the origin of `site` (scheme, host and port); of the cookies,
    /// only those that match `url`. Every value is marked sensitive, so it
    /// never shows in debug output; a value that cannot be a header
    /// (control characters) is left out, never sent half-way.
    pub(crate) fn headers_for(&self, site: &Url, url: &Url) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if !crate::site::same_origin(url, site) {
            return headers;
        }
        for item in &self.items {
            if let Some((name, value)) = header(item, url) {
                headers.insert(name, value);
            }
        }
        headers
    }

    /// What a write carries besides the credentials: a cookie session opts
    /// out of Confluence's XSRF check, as API clients do.
    pub(crate) fn write_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if self.cookie_jar().is_some() {
            headers.insert("x-atlassian-token", HeaderValue::from_static("no-check"));
        }
        headers
    }

    /// Takes refreshed values of the carried cookies from the `Set-Cookie`s
    /// of an answer from `from` (a URL of the site at `site`): same domain,
    /// size and count rules as any cookie from the site. Returns the names
    /// whose values changed (none without cookies).
    pub(crate) fn absorb_set_cookies(
        &mut self,
        headers: &HeaderMap,
        from: &Url,
        site: &Url,
    ) -> Vec<String> {
        let mut changed = Vec::new();
        let Some(jar) = self.cookie_jar_mut() else {
            return changed;
        };
        for value in headers.get_all(SET_COOKIE) {
            if let Ok(s) = value.to_str()
                && let Some(name) = jar.merge_set_cookie(s, Answer { from, site })
                && !changed.contains(&name)
            {
                changed.push(name);
            }
        }
        changed
    }
}

/// The header one decoration becomes for `url`.
fn header(item: &Decoration, url: &Url) -> Option<(HeaderName, HeaderValue)> {
    let (name, value) = match item {
        Decoration::Basic { username, token } => {
            use base64::Engine as _;
            let raw = zeroize::Zeroizing::new(format!("{username}:{}", token.expose_secret()));
            let enc = zeroize::Zeroizing::new(
                base64::engine::general_purpose::STANDARD.encode(raw.as_bytes()),
            );
            let value = zeroize::Zeroizing::new(format!("Basic {}", enc.as_str()));
            (AUTHORIZATION, HeaderValue::from_str(&value))
        }
        Decoration::Bearer { token } => {
            let value = zeroize::Zeroizing::new(format!("Bearer {}", token.expose_secret()));
            (AUTHORIZATION, HeaderValue::from_str(&value))
        }
        Decoration::Cookies(jar) => (
            COOKIE,
            HeaderValue::from_str(jar.header_value_for(url)?.expose_secret()),
        ),
        Decoration::Header { name, value } => (
            HeaderName::from_bytes(name.as_bytes()).ok()?,
            HeaderValue::from_str(value.expose_secret()),
        ),
    };
    let mut value = value.ok()?;
    value.set_sensitive(true);
    Some((name, value))
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
        assert_eq!(Decorations::none().mode(), AuthMode::Anonymous);
        assert_eq!(format!("{:?}", Decorations::none()), "none");
    }

    #[test]
    fn credential_headers_are_sensitive_and_only_for_the_site_origin() {
        let site = Url::parse("https://x.atlassian.net/wiki").unwrap();
        let mut jar = CookieJar::new();
        jar.insert(Cookie::new("cloud.session.token", "SENTINEL-cookie"));
        let cases = [
            (
                Decorations::basic("a@example.com", SecretString::from("SENTINEL-token")),
                AUTHORIZATION,
            ),
            (
                Decorations::bearer(SecretString::from("SENTINEL-token")),
                AUTHORIZATION,
            ),
            (Decorations::cookies(jar), COOKIE),
        ];
        for (decorations, name) in cases {
            let url = Url::parse("https://x.atlassian.net/wiki/rest/api/space").unwrap();
            let headers = decorations.headers_for(&site, &url);
            let value = headers.get(&name).unwrap();
            assert!(value.is_sensitive(), "{name} must be marked sensitive");
            assert!(!format!("{headers:?}").contains("SENTINEL"));
            assert!(!format!("{decorations:?}").contains("SENTINEL"));
            for other in [
                "https://evil.example.com/wiki/rest/api/space",
                "http://x.atlassian.net/wiki/rest/api/space",
                "https://x.atlassian.net:8443/wiki/rest/api/space",
            ] {
                let h = decorations.headers_for(&site, &Url::parse(other).unwrap());
                assert!(h.is_empty(), "credentials offered to {other}");
            }
        }
        assert!(Decorations::none().headers_for(&site, &site).is_empty());
    }

    #[test]
    fn a_token_that_cannot_be_a_header_is_not_sent() {
        let site = Url::parse("https://c.example.com").unwrap();
        let d = Decorations::bearer(SecretString::from("bad\ntoken"));
        assert!(d.headers_for(&site, &site).is_empty());
    }

    #[test]
    fn decorations_add_up_and_a_token_names_the_mode() {
        let mut jar = CookieJar::new();
        jar.insert(Cookie::new("JSESSIONID", "v"));
        let both = Decorations::cookies(jar).with(Decoration::Bearer {
            token: SecretString::from("t"),
        });
        assert_eq!(both.mode(), AuthMode::Bearer);
        let site = Url::parse("https://c.example.com").unwrap();
        let h = both.headers_for(&site, &site);
        assert!(h.contains_key(COOKIE) && h.contains_key(AUTHORIZATION));
        assert!(both.write_headers().contains_key("x-atlassian-token"));
        let token_only = Decorations::bearer(SecretString::from("t"));
        assert!(token_only.write_headers().is_empty());
    }

    fn set_cookies(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SET_COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn refreshed_cookies_change_only_carried_cookies_of_the_site() {
        let site = Url::parse("https://x.atlassian.net/wiki").unwrap();
        let from = Url::parse("https://x.atlassian.net/wiki/rest/api/space").unwrap();
        let mut jar = CookieJar::new();
        jar.insert(Cookie::new("JSESSIONID", "old"));
        let mut d = Decorations::cookies(jar);
        let headers = set_cookies(&[
            "JSESSIONID=new; Path=/",
            "tracker=1; Path=/",
            "JSESSIONID=evil; Domain=evil.example.com; Path=/",
        ]);
        assert_eq!(d.absorb_set_cookies(&headers, &from, &site), ["JSESSIONID"]);
        let jar = d.cookie_jar().unwrap();
        assert_eq!(jar.get("JSESSIONID").unwrap().value.expose_secret(), "new");
        assert!(jar.get("tracker").is_none(), "only carried cookies refresh");
        assert!(d.absorb_set_cookies(&headers, &from, &site).is_empty());
        let mut token = Decorations::bearer(SecretString::from("t"));
        assert!(token.absorb_set_cookies(&headers, &from, &site).is_empty());
    }
}
