//! What is forwarded and how: the request target (origin-form, under the
//! site's context path, to the site's origin only), the method policy
//! (read-only unless writes are allowed), and the headers that cross in
//! each direction (never the client's credentials, never hop-by-hop ones,
//! never a `Set-Cookie` back).

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use url::Url;

use super::door::is_loopback_authority;

/// Methods forwarded without `--allow-writes`.
pub(super) const READ_METHODS: &[Method] = &[Method::GET, Method::HEAD, Method::OPTIONS];
/// The `Allow` header of a refused write.
pub(super) const ALLOW_READS: &str = "GET, HEAD, OPTIONS";

/// Why a request target is not forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Misdirected {
    /// An absolute-form request for another host (the proxy is no open proxy).
    OtherHost,
    /// Not a path (`*`, authority-form) or not a URL.
    NotAPath,
    /// A path outside the site's context path.
    OutsideSite,
    /// A segment holding an encoded `/` or `\` (or a raw `\`): a front end
    /// that decodes before resolving dot segments would see other segments.
    EncodedSeparator,
    /// A `;` path parameter: Tomcat drops it before resolving, so
    /// `/wiki/..;/admin` leaves the context there.
    PathParameter,
    /// A control character (`%00`, a raw or encoded line break).
    ControlCharacter,
}

/// Bytes written back percent-encoded in a path segment: everything but
/// RFC 3986's unreserved characters and the sub-delimiters, `:` and `@`
/// that a segment may hold as they are.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// The path as the site will resolve it: each segment percent-decoded, dot
/// segments (`.`, `..`, `%2e%2e`) resolved, each segment encoded again in
/// one canonical way. What a front end (nginx, Apache, Tomcat) would make
/// of the path is then exactly what was checked. Refuses what decodes into
/// a different segment structure: an encoded `/` or `\`, a raw `\`, a `;`
/// parameter, a control character.
pub(super) fn normalise_path(raw: &str) -> Result<String, Misdirected> {
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(Misdirected::NotAPath);
    };
    let mut out: Vec<String> = Vec::new();
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    for (i, segment) in segments.into_iter().enumerate() {
        if segment.contains(';') {
            return Err(Misdirected::PathParameter);
        }
        let decoded: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
        if decoded.iter().any(|b| matches!(b, b'/' | b'\\')) {
            return Err(Misdirected::EncodedSeparator);
        }
        if decoded.iter().any(|b| b.is_ascii_control()) {
            return Err(Misdirected::ControlCharacter);
        }
        match decoded.as_slice() {
            b"." => {
                if i == last {
                    out.push(String::new());
                }
            }
            b".." => {
                out.pop();
                if i == last {
                    out.push(String::new());
                }
            }
            bytes => out.push(percent_encoding::percent_encode(bytes, SEGMENT).to_string()),
        }
    }
    Ok(format!("/{}", out.join("/")))
}

/// The site URL a request target stands for. Origin-form targets (and
/// absolute-form ones naming the proxy itself) map one to one onto the
/// site's origin; the path is normalised first ([`normalise_path`]), so
/// the result is checked, and forwarded, in the form the site resolves.
/// REST API paths asked for without the context path (`/rest/…`,
/// `/api/v2/…`, `/download/…`) are mapped under it.
pub(super) fn target(uri: &Uri, site: &Url, own_port: u16) -> Result<Url, Misdirected> {
    if let Some(authority) = uri.authority() {
        let ours = uri
            .scheme_str()
            .is_none_or(|s| s.eq_ignore_ascii_case("http"))
            && authority.port_u16() == Some(own_port)
            && is_loopback_authority(authority.as_str());
        if !ours {
            return Err(Misdirected::OtherHost);
        }
    }
    let raw_path = uri.path();
    if !raw_path.starts_with('/') {
        return Err(Misdirected::NotAPath);
    }
    let path = normalise_path(raw_path)?;
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    // The site's scheme and authority (no user-info: the settings refuse it).
    let authority = &site[url::Position::BeforeHost..url::Position::BeforePath];
    let url = Url::parse(&format!("{}://{authority}{path}{query}", site.scheme()))
        .map_err(|_| Misdirected::NotAPath)?;
    if !crate::site::same_origin(&url, site) || url.path() != path {
        // The URL parser saw the path differently from the check.
        return Err(Misdirected::NotAPath);
    }
    let context = site.path().trim_end_matches('/');
    let under = context.is_empty()
        || path == context
        || path
            .strip_prefix(context)
            .is_some_and(|rest| rest.starts_with('/'));
    if !under {
        // A client that takes the proxy for a site at the root (it sees a
        // plain loopback host, not `*.atlassian.net`) asks for the REST API
        // without the context path: those paths are the site's API all the
        // same. Anything else outside the context stays refused.
        let api = ["/rest/", "/api/v2/", "/download/"]
            .iter()
            .any(|prefix| path.starts_with(prefix));
        if !api {
            return Err(Misdirected::OutsideSite);
        }
        let mut mapped = url.clone();
        mapped.set_path(&format!("{context}{path}"));
        return Ok(mapped);
    }
    Ok(url)
}

/// Whether `method` is forwarded: reads always; anything else only with
/// writes allowed. `CONNECT` and `TRACE` never: this is no tunnel, and an
/// echo of the request would show the credentials the proxy added.
pub(super) fn method_allowed(method: &Method, allow_writes: bool) -> bool {
    if READ_METHODS.contains(method) {
        return true;
    }
    allow_writes && *method != Method::CONNECT && *method != Method::TRACE
}

/// Whether `method` changes something (and so needs the XSRF opt-out with
/// cookie sessions).
pub(super) fn is_write(method: &Method) -> bool {
    !READ_METHODS.contains(method)
}

/// Headers that belong to one connection, not to the request or answer.
const HOP_BY_HOP: &[HeaderName] = &[
    header::CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// `Keep-Alive` has no constant in `http`.
const KEEP_ALIVE: &str = "keep-alive";

/// The names a `Connection` header lists (hop-by-hop by declaration).
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &HeaderName, listed: &[String]) -> bool {
    HOP_BY_HOP.contains(name)
        || name.as_str() == KEEP_ALIVE
        || listed.iter().any(|l| l == name.as_str())
}

/// The client's headers as sent on to the site: without hop-by-hop ones,
/// without `Host` (the site's own is used), without the client's
/// `Authorization` and `Cookie` (the proxy token, or anything else: only
/// the site's stored credentials are sent), without `Expect`, and asking
/// for an uncompressed answer so JSON can be rewritten.
pub(super) fn request_headers(client: &HeaderMap) -> HeaderMap {
    let listed = connection_listed(client);
    let mut out = HeaderMap::with_capacity(client.len());
    for (name, value) in client {
        let dropped = is_hop_by_hop(name, &listed)
            || *name == header::HOST
            || *name == header::AUTHORIZATION
            || *name == header::COOKIE
            || *name == header::EXPECT
            || *name == header::ACCEPT_ENCODING;
        if !dropped {
            out.append(name.clone(), value.clone());
        }
    }
    out.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity"),
    );
    out
}

/// The site's headers as sent back: without hop-by-hop ones and without
/// `Set-Cookie` (refreshed cookies go to the vault, never to the client).
/// `Location` and `Link` are rewritten by the caller.
pub(super) fn response_headers(site: &HeaderMap) -> HeaderMap {
    let listed = connection_listed(site);
    let mut out = HeaderMap::with_capacity(site.len());
    for (name, value) in site {
        if !is_hop_by_hop(name, &listed) && *name != header::SET_COOKIE {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// Whether the path is the REST API's, where an HTML page can only be a
/// login page (elsewhere a page may be what was asked for).
pub(super) fn is_api_path(path: &str) -> bool {
    path.contains("/rest/") || path.contains("/api/v2/")
}

/// Whether the path is the current-user probe, where a 403 means signed out.
pub(super) fn is_probe_path(path: &str) -> bool {
    path.trim_end_matches('/')
        .ends_with("/rest/api/user/current")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Url {
        Url::parse("https://x.atlassian.net/wiki").unwrap()
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    #[test]
    fn origin_form_paths_under_the_context_go_to_the_site() {
        let t = target(&uri("/wiki/rest/api/space?limit=1"), &site(), 9).unwrap();
        assert_eq!(
            t.as_str(),
            "https://x.atlassian.net/wiki/rest/api/space?limit=1"
        );
        assert_eq!(
            target(&uri("/wiki"), &site(), 9).unwrap().as_str(),
            "https://x.atlassian.net/wiki"
        );
        let own = target(&uri("http://127.0.0.1:9/wiki/rest/api/space"), &site(), 9).unwrap();
        assert_eq!(own.as_str(), "https://x.atlassian.net/wiki/rest/api/space");
    }

    #[test]
    fn other_hosts_and_paths_outside_the_site_are_refused() {
        for (t, why) in [
            (
                "http://evil.example.com/wiki/rest/api/space",
                Misdirected::OtherHost,
            ),
            (
                "https://x.atlassian.net/wiki/rest/api/space",
                Misdirected::OtherHost,
            ),
            (
                "http://127.0.0.1:10/wiki/rest/api/space",
                Misdirected::OtherHost,
            ),
            ("/login", Misdirected::OutsideSite),
            ("/wikipedia", Misdirected::OutsideSite),
            ("/wiki/../admin", Misdirected::OutsideSite),
            ("/wiki/%2e%2e/admin", Misdirected::OutsideSite),
            ("*", Misdirected::NotAPath),
        ] {
            assert_eq!(target(&uri(t), &site(), 9), Err(why), "{t}");
        }
    }

    #[test]
    fn encoded_traversal_is_resolved_or_refused_never_forwarded_as_is() {
        for (t, why) in [
            ("/wiki/..%2fadmin", Misdirected::EncodedSeparator),
            ("/wiki/..%2Fadmin", Misdirected::EncodedSeparator),
            ("/wiki/%2e%2e%2fadmin", Misdirected::EncodedSeparator),
            ("/rest/..%2f..%2fadmin", Misdirected::EncodedSeparator),
            ("/wiki/..%5cadmin", Misdirected::EncodedSeparator),
            ("/wiki/%252e%252e%252fadmin/x", Misdirected::OutsideSite),
            ("/wiki/..;/admin", Misdirected::PathParameter),
            ("/wiki/rest;jsessionid=1/api", Misdirected::PathParameter),
            ("/wiki/%2e%2e/admin", Misdirected::OutsideSite),
            ("/wiki/%2E%2E/%2e%2e/admin", Misdirected::OutsideSite),
            ("/wiki/.%2e/admin", Misdirected::OutsideSite),
            ("/wiki/a%00b", Misdirected::ControlCharacter),
            ("/wiki/a%0d%0aX:1", Misdirected::ControlCharacter),
        ] {
            let got = target(&uri(t), &site(), 9);
            if t.starts_with("/wiki/%252e") {
                // Double encoding decodes once: a harmless segment `%2e%2e%2fadmin`.
                let url = got.unwrap();
                assert_eq!(url.path(), "/wiki/%252e%252e%252fadmin/x", "{t}");
                continue;
            }
            assert_eq!(got, Err(why), "{t}");
        }
    }

    #[test]
    fn the_checked_canonical_path_is_what_is_forwarded() {
        for (asked, sent) in [
            ("/wiki/./rest/api/space", "/wiki/rest/api/space"),
            ("/wiki/x/%2e%2e/rest/api/space", "/wiki/rest/api/space"),
            (
                "/wiki/spaces/%7Eme/pages/1/A+B",
                "/wiki/spaces/~me/pages/1/A+B",
            ),
            (
                "/wiki/spaces/K/pages/1/Caf%C3%A9",
                "/wiki/spaces/K/pages/1/Caf%C3%A9",
            ),
            ("/wiki/a%20b/", "/wiki/a%20b/"),
            ("/wiki/a%25b", "/wiki/a%25b"),
            ("/wiki/x/..", "/wiki/"),
        ] {
            let url = target(&uri(asked), &site(), 9).unwrap();
            assert_eq!(url.path(), sent, "{asked}");
        }
        let q = target(&uri("/wiki/rest/api/search?cql=a%2Fb%3Bc"), &site(), 9).unwrap();
        assert_eq!(q.query(), Some("cql=a%2Fb%3Bc"), "queries pass untouched");
    }

    #[test]
    fn api_paths_without_the_context_path_are_the_sites_api() {
        for (asked, sent) in [
            (
                "/rest/api/space?limit=1",
                "https://x.atlassian.net/wiki/rest/api/space?limit=1",
            ),
            (
                "/api/v2/pages/1",
                "https://x.atlassian.net/wiki/api/v2/pages/1",
            ),
            (
                "/download/attachments/1/a.bin",
                "https://x.atlassian.net/wiki/download/attachments/1/a.bin",
            ),
            (
                "/rest/../../admin/rest/x",
                "https://x.atlassian.net/wiki/admin/rest/x",
            ),
        ] {
            let t = target(&uri(asked), &site(), 9);
            if asked.contains("..") {
                // Dot segments resolve first: `/admin/…` is no API path.
                assert_eq!(t, Err(Misdirected::OutsideSite), "{asked}");
            } else {
                assert_eq!(t.unwrap().as_str(), sent, "{asked}");
            }
        }
    }

    #[test]
    fn a_site_at_the_root_takes_every_path() {
        let root = Url::parse("https://c.example.com").unwrap();
        assert_eq!(
            target(&uri("/rest/api/space"), &root, 9).unwrap().as_str(),
            "https://c.example.com/rest/api/space"
        );
    }

    #[test]
    fn reads_always_writes_only_when_allowed_tunnels_never() {
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(method_allowed(&m, false));
        }
        for m in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            assert!(!method_allowed(&m, false));
            assert!(method_allowed(&m, true));
        }
        assert!(!method_allowed(&Method::CONNECT, true));
        assert!(!method_allowed(&Method::TRACE, true));
    }

    #[test]
    fn client_credentials_and_hop_by_hop_headers_are_not_forwarded() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic x"));
        h.insert(header::COOKIE, HeaderValue::from_static("a=b"));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:9"));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        h.insert("x-atlassian-token", HeaderValue::from_static("no-check"));
        let out = request_headers(&h);
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert_eq!(out[header::ACCEPT], "application/json");
        assert_eq!(out["x-atlassian-token"], "no-check");
        assert_eq!(out[header::ACCEPT_ENCODING], "identity");
    }

    #[test]
    fn set_cookie_never_goes_back() {
        let mut h = HeaderMap::new();
        h.append(header::SET_COOKIE, HeaderValue::from_static("JSESSIONID=x"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("b=y"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        let out = response_headers(&h);
        assert_eq!(out.len(), 1);
        assert_eq!(out[header::RETRY_AFTER], "5");
    }

    #[test]
    fn api_and_probe_paths_are_recognised() {
        assert!(is_api_path("/wiki/rest/api/space"));
        assert!(is_api_path("/wiki/api/v2/pages/1"));
        assert!(!is_api_path("/wiki/download/attachments/1/a.html"));
        assert!(is_probe_path("/wiki/rest/api/user/current"));
        assert!(!is_probe_path("/wiki/rest/api/user"));
    }
}
