//! Which cookies belong to a site and to a request: RFC 6265 domain and path
//! matching (`cookie_store`'s), public suffixes refused (the list `psl`
//! embeds), the secure flag honoured.
//!
//! A stored [`Cookie`]'s `domain` follows the cookies.txt convention: a
//! leading dot (`.atlassian.net`) is a domain cookie, sent to that domain and
//! its subdomains; no dot (`x.atlassian.net`) is a host-only cookie, sent to
//! that host alone; none at all is a cookie of the site's own host (a pasted
//! `Cookie:` header). A missing path is `/`.
//!
//! Only names, domains and paths are read here, never a value.

use std::fmt;

use cookie_store::{CookieDomain, CookiePath};
use url::Url;

use super::jar::Cookie;
use crate::config::is_loopback;

/// A `Set-Cookie` whose name and value together exceed this is ignored.
pub const MAX_COOKIE_BYTES: usize = 4096;
/// A site never holds more cookies than this.
pub const MAX_SITE_COOKIES: usize = 50;

/// Why a cookie does not belong to the site (or `Site` when it does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Belonging {
    /// Domain-matches and path-matches the site.
    Site,
    /// Its domain does not domain-match the site's host (or is not a domain).
    OtherDomain,
    /// Its domain is a public suffix (`.com`, `.co.uk`, `.net`).
    PublicSuffix,
    /// Its domain matches, its path does not cover the site's path.
    OtherPath,
}

impl fmt::Display for Belonging {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Belonging::Site => "the site's",
            Belonging::OtherDomain => "another domain's",
            Belonging::PublicSuffix => "a public suffix's",
            Belonging::OtherPath => "another path's",
        })
    }
}

/// Whether `domain` (lower case, no leading dot) is itself a public suffix
/// on the embedded list. Only listed suffixes count: `psl`'s default rule
/// (any unknown top-level label) does not.
pub(crate) fn is_public_suffix(domain: &str) -> bool {
    let domain = domain.trim_end_matches('.');
    psl::suffix(domain.as_bytes())
        .filter(psl::Suffix::is_known)
        .is_some_and(|suffix| suffix.as_bytes().eq_ignore_ascii_case(domain.as_bytes()))
}

/// The cookie's domain as `cookie_store` matches it; `url`'s host for a
/// cookie without one. `None` for a domain that cannot be one (empty, not
/// IDNA-valid): such a cookie matches nothing.
fn cookie_domain(cookie: &Cookie, url: &Url) -> Option<CookieDomain> {
    let Some(raw) = cookie.domain.as_deref().map(str::trim) else {
        return CookieDomain::host_only(url).ok();
    };
    let host_only = !raw.starts_with('.');
    // `try_from` lower-cases, converts to ASCII (IDNA) and strips one dot.
    match CookieDomain::try_from(raw).ok()? {
        CookieDomain::Suffix(d) if d.is_empty() => None,
        CookieDomain::Suffix(d) if host_only => Some(CookieDomain::HostOnly(d)),
        CookieDomain::Suffix(d) => Some(CookieDomain::Suffix(d)),
        _ => None,
    }
}

/// The cookie's path; `/` when it has none or one that is not a path.
fn cookie_path(cookie: &Cookie, url: &Url) -> CookiePath {
    let path = cookie
        .path
        .as_deref()
        .map(str::trim)
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/");
    // `path` starts with `/`, so `url`'s default path is never used.
    CookiePath::new(path, url)
}

/// Whether the cookie's domain domain-matches `url`'s host and is not a
/// public suffix (one is accepted only as the host itself, RFC 6265 5.3).
fn judge_domain(cookie: &Cookie, url: &Url) -> Belonging {
    let Some(domain) = cookie_domain(cookie, url) else {
        return Belonging::OtherDomain;
    };
    if !domain.matches(url) {
        return Belonging::OtherDomain;
    }
    if let CookieDomain::Suffix(d) = &domain
        && is_public_suffix(d)
        && url.host_str() != Some(d.as_str())
    {
        return Belonging::PublicSuffix;
    }
    Belonging::Site
}

/// Whether a pasted cookie belongs to the site at `site` (its configured
/// base URL): domain-match with its host, path-match with its path.
pub(crate) fn belonging(cookie: &Cookie, site: &Url) -> Belonging {
    match judge_domain(cookie, site) {
        Belonging::Site if !cookie_path(cookie, site).matches(site) => Belonging::OtherPath,
        verdict => verdict,
    }
}

/// Whether the cookie may be sent with a request to `url`: domain, path,
/// and a secure cookie only over `https://` or to a loopback host.
pub(crate) fn matches_request(cookie: &Cookie, url: &Url) -> bool {
    judge_domain(cookie, url) == Belonging::Site
        && cookie_path(cookie, url).matches(url)
        && (!cookie.secure || url.scheme() == "https" || is_loopback(url))
}

/// How a cookie's domain is named in a warning: as pasted, or `(none)`.
pub(crate) fn domain_label(cookie: &Cookie) -> String {
    cookie
        .domain
        .as_deref()
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "(no domain)".to_string())
}

/// Why a `Set-Cookie` was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetCookieRefusal {
    /// Not a cookie at all.
    Unparsable,
    /// Name and value exceed [`MAX_COOKIE_BYTES`].
    TooLarge,
    /// Its Domain does not match the answering host or the site, or is a
    /// public suffix.
    OtherDomain,
}

impl fmt::Display for SetCookieRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SetCookieRefusal::Unparsable => "not a cookie",
            SetCookieRefusal::TooLarge => "over 4096 bytes",
            SetCookieRefusal::OtherDomain => "for another domain",
        })
    }
}

/// Checks a parsed `Set-Cookie` received from `from` (the answering URL)
/// for the site at `site`: size, then Domain (RFC 6265 5.3: it must
/// domain-match the answering host and not be a public suffix), and the
/// resulting cookie must belong to the site's host.
pub(crate) fn check_set_cookie(
    parsed: &cookie::Cookie<'_>,
    from: &Url,
    site: &Url,
) -> Result<(), SetCookieRefusal> {
    if parsed.name().len() + parsed.value().len() > MAX_COOKIE_BYTES {
        return Err(SetCookieRefusal::TooLarge);
    }
    let domain = match parsed.domain() {
        // `cookie` strips the attribute's leading dot; a domain cookie.
        Some(d) if !d.trim().is_empty() => Some(format!(".{}", d.trim())),
        _ => None,
    };
    let mut probe = Cookie::new(parsed.name(), "");
    probe.domain = match domain {
        Some(d) => Some(d),
        // Host-only: the answering host's.
        None => Some(
            from.host_str()
                .ok_or(SetCookieRefusal::Unparsable)?
                .to_string(),
        ),
    };
    if judge_domain(&probe, from) != Belonging::Site
        || judge_domain(&probe, site) != Belonging::Site
    {
        return Err(SetCookieRefusal::OtherDomain);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn c(domain: Option<&str>, path: Option<&str>) -> Cookie {
        let mut cookie = Cookie::new("n", "v");
        cookie.domain = domain.map(str::to_string);
        cookie.path = path.map(str::to_string);
        cookie
    }

    #[test]
    fn the_embedded_list_knows_public_suffixes() {
        for suffix in ["com", "net", "co.uk", "github.io"] {
            assert!(is_public_suffix(suffix), "{suffix}");
        }
        for domain in [
            "atlassian.net",
            "x.atlassian.net",
            "google.com",
            "localhost",
        ] {
            assert!(!is_public_suffix(domain), "{domain}");
        }
    }

    #[test]
    fn domains_and_paths_are_judged_against_the_site() {
        let site = url("https://x.atlassian.net/wiki");
        for (domain, path, verdict) in [
            (None, None, Belonging::Site),
            (Some("x.atlassian.net"), Some("/"), Belonging::Site),
            (Some(".X.Atlassian.NET"), Some("/wiki"), Belonging::Site),
            (Some(".atlassian.net"), Some("/wiki/"), Belonging::OtherPath),
            (Some("x.atlassian.net"), Some("/jira"), Belonging::OtherPath),
            (
                Some("x.atlassian.net"),
                Some("/wikipedia"),
                Belonging::OtherPath,
            ),
            (Some("atlassian.net"), Some("/"), Belonging::OtherDomain),
            (Some("y.atlassian.net"), Some("/"), Belonging::OtherDomain),
            (
                Some(".y.x.atlassian.net"),
                Some("/"),
                Belonging::OtherDomain,
            ),
            (Some(".google.com"), Some("/"), Belonging::OtherDomain),
            (Some("."), Some("/"), Belonging::OtherDomain),
            (Some(".net"), Some("/"), Belonging::PublicSuffix),
        ] {
            assert_eq!(
                belonging(&c(domain, path), &site),
                verdict,
                "{domain:?} {path:?}"
            );
        }
    }

    #[test]
    fn secure_cookies_go_over_https_or_to_loopback_only() {
        let mut cookie = c(None, None);
        cookie.secure = true;
        assert!(matches_request(&cookie, &url("https://c.example.com/x")));
        assert!(matches_request(&cookie, &url("http://127.0.0.1:8080/x")));
        assert!(matches_request(&cookie, &url("http://localhost/x")));
        assert!(!matches_request(&cookie, &url("http://c.example.com/x")));
        cookie.secure = false;
        assert!(matches_request(&cookie, &url("http://c.example.com/x")));
    }

    #[test]
    fn set_cookie_must_fit_and_belong_to_the_site() {
        let site = url("https://x.atlassian.net/wiki");
        let from = url("https://x.atlassian.net/wiki/rest/api/space");
        let check = |header: &str| {
            let parsed = cookie::Cookie::parse(header).unwrap();
            check_set_cookie(&parsed, &from, &site)
        };
        assert_eq!(check("a=1; Path=/"), Ok(()));
        assert_eq!(check("a=1; Domain=x.atlassian.net"), Ok(()));
        assert_eq!(check("a=1; Domain=.atlassian.net"), Ok(()));
        assert_eq!(
            check("a=1; Domain=evil.example.com"),
            Err(SetCookieRefusal::OtherDomain)
        );
        assert_eq!(
            check("a=1; Domain=y.atlassian.net"),
            Err(SetCookieRefusal::OtherDomain)
        );
        assert_eq!(check("a=1; Domain=net"), Err(SetCookieRefusal::OtherDomain));
        let big = format!("a={}", "x".repeat(MAX_COOKIE_BYTES));
        assert_eq!(check(&big), Err(SetCookieRefusal::TooLarge));
        let fits = format!("a={}", "x".repeat(MAX_COOKIE_BYTES - 1));
        assert_eq!(check(&fits), Ok(()));
        // An answer from another host (a redirect target) sets nothing here.
        let other = url("https://evil.example.com/");
        let parsed = cookie::Cookie::parse("a=1").unwrap();
        assert_eq!(
            check_set_cookie(&parsed, &other, &site),
            Err(SetCookieRefusal::OtherDomain)
        );
    }
}
