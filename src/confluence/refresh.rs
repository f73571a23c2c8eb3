//! Session cookies the site refreshed with `Set-Cookie`: merged into the jar
//! in use, and handed out once so the caller can save them (a fresh value
//! keeps the session alive longer).

use std::sync::{Mutex, PoisonError};

use reqwest::header::{HeaderMap, SET_COOKIE};
use url::Url;

use super::auth::Credential;
use crate::cookies::jar::{Answer, CookieJar};

/// Names of cookies the site refreshed since they were last taken.
#[derive(Debug, Default)]
pub(crate) struct Refreshed {
    names: Mutex<Vec<String>>,
}

impl Refreshed {
    /// Takes refreshed values of stored cookies from the `Set-Cookie`
    /// headers of the answer from `from` (a URL of the site at `site`);
    /// other credentials ignore them. A `Set-Cookie` for another domain or
    /// over 4096 bytes is ignored (see [`CookieJar::merge_set_cookie_at`]).
    pub(crate) fn absorb(
        &self,
        credential: &mut Credential,
        headers: &HeaderMap,
        from: &Url,
        site: &Url,
    ) {
        let Credential::Cookies { jar } = credential else {
            return;
        };
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        for value in headers.get_all(SET_COOKIE) {
            if let Ok(s) = value.to_str()
                && let Some(name) = jar.merge_set_cookie(s, Answer { from, site })
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
    }

    /// Whether refreshed values wait to be taken.
    pub(crate) fn pending(&self) -> bool {
        !self
            .names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// The jar with the refreshed values and the refreshed names, if any
    /// were refreshed since the last call.
    pub(crate) fn take(&self, credential: &Credential) -> Option<(CookieJar, Vec<String>)> {
        let mut names = self.names.lock().unwrap_or_else(PoisonError::into_inner);
        if names.is_empty() {
            return None;
        }
        match credential {
            Credential::Cookies { jar } => Some((jar.clone(), std::mem::take(&mut *names))),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookies::jar::Cookie;
    use crate::secret::ExposeSecret;
    use reqwest::header::HeaderValue;

    fn site() -> Url {
        Url::parse("https://x.atlassian.net/wiki").unwrap()
    }

    fn from() -> Url {
        Url::parse("https://x.atlassian.net/wiki/rest/api/space").unwrap()
    }

    fn set_cookies(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(SET_COOKIE, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn refreshed_cookies_are_handed_out_once() {
        let mut jar = CookieJar::new();
        jar.insert(Cookie::new("JSESSIONID", "old"));
        let mut credential = Credential::Cookies { jar };
        let refreshed = Refreshed::default();
        assert!(refreshed.take(&credential).is_none());
        let headers = set_cookies(&["JSESSIONID=new; Path=/", "tracker=1; Path=/"]);
        refreshed.absorb(&mut credential, &headers, &from(), &site());
        refreshed.absorb(&mut credential, &headers, &from(), &site());
        let (jar, names) = refreshed.take(&credential).unwrap();
        assert_eq!(names, vec!["JSESSIONID".to_string()]);
        assert_eq!(jar.get("JSESSIONID").unwrap().value.expose_secret(), "new");
        assert!(jar.get("tracker").is_none(), "only stored cookies refresh");
        assert!(refreshed.take(&credential).is_none());
    }

    #[test]
    fn set_cookie_for_another_domain_or_too_large_refreshes_nothing() {
        let mut jar = CookieJar::new();
        jar.insert(Cookie::new("cloud.session.token", "old"));
        let mut credential = Credential::Cookies { jar };
        let refreshed = Refreshed::default();
        let big = format!("cloud.session.token={}; Path=/", "x".repeat(100 * 1024));
        let headers = set_cookies(&[
            "cloud.session.token=evil; Domain=evil.example.com; Path=/",
            "cloud.session.token=suffix; Domain=.net; Path=/",
            &big,
        ]);
        refreshed.absorb(&mut credential, &headers, &from(), &site());
        assert!(refreshed.take(&credential).is_none());
        let Credential::Cookies { jar } = &credential else {
            unreachable!()
        };
        let value = jar
            .get("cloud.session.token")
            .unwrap()
            .value
            .expose_secret();
        assert_eq!(value, "old");
    }

    #[test]
    fn tokens_ignore_set_cookie() {
        let mut credential = Credential::Bearer {
            token: crate::secret::SecretString::from("t"),
        };
        let refreshed = Refreshed::default();
        refreshed.absorb(
            &mut credential,
            &set_cookies(&["JSESSIONID=new"]),
            &from(),
            &site(),
        );
        assert!(refreshed.take(&credential).is_none());
    }
}
