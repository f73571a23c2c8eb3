//! A site's identity: the normalised base URL its credentials belong to.
//!
//! The vault keys every site's cookies and token by this string, and a
//! site's credentials are only ever sent to that site. Normalising means two
//! spellings of one site (`HTTPS://Site.example:443/wiki/`) are one key,
//! while another host, port, scheme or context path is another site.

use std::fmt;

use url::Url;

/// The normalised base URL of a site: lower-case scheme and host, the
/// default port dropped, the context path without a trailing slash, e.g.
/// `https://sambatv.atlassian.net/wiki`. No user-info, query or fragment
/// (`config::parse_base_url` refuses them; they are dropped here anyway).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteKey(String);

impl SiteKey {
    /// The identity of the site at `url` (usually the configured base URL).
    pub fn from_url(url: &Url) -> SiteKey {
        let scheme = url.scheme().to_ascii_lowercase();
        // `url` already lower-cases and punycodes hosts of http(s) URLs and
        // brackets IPv6 addresses; lower-casing again costs nothing.
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        // `port()` is `None` when the port is the scheme's default.
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let path = url.path().trim_end_matches('/');
        SiteKey(format!("{scheme}://{host}{port}{path}"))
    }

    /// The site's base URL again (the key is one, so this is always `Some`).
    pub fn url(&self) -> Option<Url> {
        Url::parse(&self.0).ok()
    }

    /// The key as stored in the vault and shown to people.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `a` and `b` have the same origin as `Url::origin` compares
/// them (scheme, host and port of a tuple origin; never for an opaque
/// one), without building either origin: the proxy asks on every request.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    matches!(a.scheme(), "http" | "https" | "ws" | "wss" | "ftp")
        && a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> String {
        SiteKey::from_url(&Url::parse(raw).unwrap()).to_string()
    }

    #[test]
    fn scheme_and_host_are_lower_cased() {
        assert_eq!(
            key("HTTPS://SambaTV.Atlassian.NET/wiki"),
            "https://sambatv.atlassian.net/wiki"
        );
    }

    #[test]
    fn default_port_is_dropped_and_others_kept() {
        assert_eq!(key("https://a.example:443/wiki"), "https://a.example/wiki");
        assert_eq!(key("http://127.0.0.1:80/"), "http://127.0.0.1");
        assert_eq!(
            key("https://a.example:8443/wiki"),
            "https://a.example:8443/wiki"
        );
    }

    #[test]
    fn trailing_slashes_are_dropped_but_the_context_path_kept() {
        assert_eq!(key("https://a.example/wiki/"), "https://a.example/wiki");
        assert_eq!(key("https://a.example/wiki//"), "https://a.example/wiki");
        assert_eq!(key("https://a.example/"), "https://a.example");
        assert_eq!(key("https://a.example"), "https://a.example");
        assert_eq!(
            key("https://a.example/confluence/wiki"),
            "https://a.example/confluence/wiki"
        );
    }

    #[test]
    fn query_fragment_and_user_info_never_reach_the_key() {
        assert_eq!(
            key("https://u:p@a.example/wiki?x=1#top"),
            "https://a.example/wiki"
        );
    }

    #[test]
    fn ipv6_and_idn_hosts_have_one_spelling() {
        assert_eq!(key("http://[::1]:8080/wiki"), "http://[::1]:8080/wiki");
        assert_eq!(
            key("https://bücher.example/"),
            "https://xn--bcher-kva.example"
        );
    }

    #[test]
    fn other_host_port_scheme_or_path_is_another_site() {
        let a = key("https://a.example/wiki");
        for other in [
            "https://b.example/wiki",
            "https://a.example:8443/wiki",
            "http://a.example/wiki",
            "https://a.example/other",
            "https://a.example",
        ] {
            assert_ne!(a, key(other), "{other}");
        }
    }

    #[test]
    fn the_configured_url_gives_the_same_key_as_its_spellings() {
        let configured = crate::config::parse_base_url("https://Site.Example:443/wiki/").unwrap();
        assert_eq!(
            SiteKey::from_url(&configured).as_str(),
            "https://site.example/wiki"
        );
    }

    #[test]
    fn same_origin_agrees_with_the_url_crates_origins() {
        let urls = [
            "https://x.atlassian.net/wiki",
            "https://X.Atlassian.NET:443/other?q",
            "https://x.atlassian.net:8443/wiki",
            "http://x.atlassian.net/wiki",
            "https://y.atlassian.net/wiki",
            "http://127.0.0.1:8090/",
            "http://127.0.0.1:8091/",
            "http://[::1]:8090/",
            "http://localhost:8090/",
            "file:///etc/passwd",
            "data:text/plain,x",
            "mailto:a@b.c",
        ];
        for a in urls {
            for b in urls {
                let (ua, ub) = (Url::parse(a).unwrap(), Url::parse(b).unwrap());
                assert_eq!(
                    same_origin(&ua, &ub),
                    ua.origin() == ub.origin(),
                    "{a} vs {b}"
                );
            }
        }
    }
}
