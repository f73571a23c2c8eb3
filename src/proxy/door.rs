//! The proxy's door: the throw-away token every request must carry (HTTP
//! Basic with any user name, compared in constant time), and the loopback
//! checks (the listening address, and the `Host` a request names, so a web
//! page whose name was pointed at 127.0.0.1 cannot talk to the proxy).

use std::net::SocketAddr;

use axum::http::{HeaderMap, header};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::vault::ProxyClient;

/// The user name the proxy tells clients to use (any is accepted).
pub const PROXY_USERNAME: &str = "confluence-tui";

/// Random bytes in a token: 256 bits.
const TOKEN_BYTES: usize = 32;

/// The proxy's token: 32 random bytes, base64url without padding (43
/// characters). A secret: whoever holds it can use the session while the
/// proxy runs. `Debug` never shows it.
#[derive(Clone)]
pub struct ProxyToken(SecretString);

impl ProxyToken {
    /// A fresh random token from the operating system's generator.
    pub fn generate() -> Result<ProxyToken, getrandom::Error> {
        use base64::Engine as _;
        let mut raw = Zeroizing::new([0u8; TOKEN_BYTES]);
        getrandom::fill(raw.as_mut())?;
        let text =
            Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_ref()));
        Ok(ProxyToken(SecretString::from(text.as_str())))
    }

    /// Whether `presented` is this token; constant time in its contents.
    fn matches(&self, presented: &[u8]) -> bool {
        self.0.expose_secret().as_bytes().ct_eq(presented).into()
    }
}

impl ExposeSecret<str> for ProxyToken {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ProxyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyToken(<hidden>)")
    }
}

/// Why the door stayed shut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No `Authorization` header, or not Basic/Bearer.
    NoToken,
    /// A token that is not the proxy's.
    WrongToken,
    /// A named client's token past its expiry.
    ClientExpired,
    /// The `Host` header names something other than a loopback address.
    ForeignHost,
    /// A browser request on a web page's behalf: `Origin`, or
    /// `Sec-Fetch-Site` other than `none`.
    CrossSite,
}

/// Who a request came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Caller {
    /// The per-run token (`exec --proxy`, the token printed at start).
    RunToken,
    /// A named client (`proxy clients add`).
    Client { name: String, allow_writes: bool },
}

impl Caller {
    /// The client's name, for the request log (`None`: the per-run token).
    pub(super) fn name(&self) -> Option<&str> {
        match self {
            Caller::RunToken => None,
            Caller::Client { name, .. } => Some(name),
        }
    }
}

/// Whether a request may come in: not a browser acting for a web page, the
/// proxy's per-run token or a named client's token (not expired) in HTTP
/// Basic (any user name) or as a Bearer token, and a loopback `Host`.
pub(super) fn admit(
    token: &ProxyToken,
    clients: &[ProxyClient],
    now: OffsetDateTime,
    headers: &HeaderMap,
    check_host: bool,
) -> Result<Caller, Refusal> {
    if is_cross_site(headers) {
        return Err(Refusal::CrossSite);
    }
    let presented = presented_token(headers).ok_or(Refusal::NoToken)?;
    let caller = if token.matches(presented.as_bytes()) {
        Caller::RunToken
    } else {
        let hash = crate::credentials::token_hash(&presented);
        // Every stored hash is compared, in constant time each.
        let mut found = None;
        for c in clients {
            if bool::from(c.token_sha256.as_bytes().ct_eq(hash.as_bytes())) {
                found = Some(c);
            }
        }
        let found = found.ok_or(Refusal::WrongToken)?;
        if found.expires.is_some_and(|e| e <= now) {
            return Err(Refusal::ClientExpired);
        }
        Caller::Client {
            name: found.name.clone(),
            allow_writes: found.allow_writes,
        }
    };
    if check_host && !host_is_loopback(headers) {
        return Err(Refusal::ForeignHost);
    }
    Ok(caller)
}

/// Whether a browser sent this on a web page's behalf. Programs send no
/// `Origin`; a browser sends one with every cross-origin request and every
/// POST, and `Sec-Fetch-Site` other than `none` (a typed address) with
/// every request a page started.
pub(super) fn is_cross_site(headers: &HeaderMap) -> bool {
    if headers.contains_key(header::ORIGIN) {
        return true;
    }
    headers
        .get_all("sec-fetch-site")
        .iter()
        .any(|v| !v.as_bytes().eq_ignore_ascii_case(b"none"))
}

/// Whether the request presents any credentials at all.
pub(super) fn presents_credentials(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE)
}

/// The token a request presents: the password of HTTP Basic, or a Bearer
/// token. Decoded into a buffer wiped on drop.
fn presented_token(headers: &HeaderMap) -> Option<Zeroizing<String>> {
    use base64::Engine as _;
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Zeroizing::new(rest.to_string()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?,
    );
    let text = std::str::from_utf8(&decoded).ok()?;
    let (_user, password) = text.split_once(':')?;
    Some(Zeroizing::new(password.to_string()))
}

/// True when the request's `Host` (if any) is `localhost` or a loopback
/// address, whatever the port: a browser sent to a rebound name carries
/// that name, never ours.
fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        // HTTP/1.0 without Host, or HTTP/2 (its :authority is checked as
        // the request target).
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    is_loopback_authority(host)
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
pub(super) fn is_loopback_authority(authority: &str) -> bool {
    let host = match authority.rsplit_once(':') {
        // `[::1]:8080` or `127.0.0.1:8080`; a bare `[::1]` has no port.
        Some((h, port)) if !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// A listening address must be loopback: the proxy hands out a live
/// session to whoever holds its token, and only this machine may try.
pub(super) fn listen_is_loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(user: &str, password: &str) -> HeaderValue {
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {enc}")).unwrap()
    }

    fn headers(auth: Option<HeaderValue>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, a);
        }
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        h
    }

    #[test]
    fn tokens_are_long_random_and_never_debugged() {
        let a = ProxyToken::generate().unwrap();
        let b = ProxyToken::generate().unwrap();
        assert_eq!(a.expose_secret().len(), 43);
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert!(
            a.expose_secret()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert!(!format!("{a:?}").contains(a.expose_secret()));
    }

    #[test]
    fn the_token_opens_the_door_with_any_user_name_or_as_bearer() {
        let t = ProxyToken::generate().unwrap();
        let secret = t.expose_secret().to_string();
        for user in ["confluence-tui", "anyone@example.com", ""] {
            let h = headers(Some(basic(user, &secret)), "127.0.0.1:1234");
            assert_eq!(
                admit(&t, &[], OffsetDateTime::now_utc(), &h, true),
                Ok(Caller::RunToken),
                "{user}"
            );
        }
        let bearer = HeaderValue::from_str(&format!("Bearer {secret}")).unwrap();
        assert_eq!(
            admit(
                &t,
                &[],
                OffsetDateTime::now_utc(),
                &headers(Some(bearer), "localhost:1"),
                true
            ),
            Ok(Caller::RunToken)
        );
    }

    #[test]
    fn no_token_a_wrong_one_or_a_foreign_host_is_refused() {
        let t = ProxyToken::generate().unwrap();
        let secret = t.expose_secret().to_string();
        assert_eq!(
            admit(
                &t,
                &[],
                OffsetDateTime::now_utc(),
                &headers(None, "127.0.0.1:1"),
                true
            ),
            Err(Refusal::NoToken)
        );
        let wrong = headers(Some(basic("u", "not-the-token")), "127.0.0.1:1");
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &wrong, true),
            Err(Refusal::WrongToken)
        );
        let prefix = headers(Some(basic("u", &secret[..42])), "127.0.0.1:1");
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &prefix, true),
            Err(Refusal::WrongToken)
        );
        let longer = headers(Some(basic("u", &format!("{secret}x"))), "127.0.0.1:1");
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &longer, true),
            Err(Refusal::WrongToken)
        );
        let garbage = headers(Some(HeaderValue::from_static("Basic !!!")), "127.0.0.1:1");
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &garbage, true),
            Err(Refusal::NoToken)
        );
        let digest = headers(Some(HeaderValue::from_static("Digest x")), "127.0.0.1:1");
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &digest, true),
            Err(Refusal::NoToken)
        );
        let rebound = headers(Some(basic("u", &secret)), "evil.example.com:8080");
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &rebound, true),
            Err(Refusal::ForeignHost)
        );
    }

    #[test]
    fn a_browser_request_on_a_pages_behalf_is_refused_even_with_the_token() {
        let t = ProxyToken::generate().unwrap();
        let secret = t.expose_secret().to_string();
        let mut origin = headers(Some(basic("u", &secret)), "127.0.0.1:1");
        origin.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &origin, true),
            Err(Refusal::CrossSite)
        );
        for site in ["cross-site", "same-site", "same-origin", "garbage"] {
            let mut h = headers(Some(basic("u", &secret)), "127.0.0.1:1");
            h.insert("sec-fetch-site", HeaderValue::from_static(site));
            assert_eq!(
                admit(&t, &[], OffsetDateTime::now_utc(), &h, true),
                Err(Refusal::CrossSite),
                "{site}"
            );
        }
        let mut typed = headers(Some(basic("u", &secret)), "127.0.0.1:1");
        typed.insert("sec-fetch-site", HeaderValue::from_static("none"));
        assert_eq!(
            admit(&t, &[], OffsetDateTime::now_utc(), &typed, true),
            Ok(Caller::RunToken)
        );
    }

    #[test]
    fn a_named_clients_token_opens_the_door_until_it_expires() {
        let t = ProxyToken::generate().unwrap();
        let now = OffsetDateTime::now_utc();
        let client = |name: &str, token: &str, expires: Option<OffsetDateTime>| ProxyClient {
            name: name.into(),
            token_sha256: crate::credentials::token_hash(token),
            created: now,
            expires,
            allow_writes: name == "writer",
            last_used: None,
        };
        let clients = vec![
            client("onyx", "onyx-token", None),
            client(
                "writer",
                "writer-token",
                Some(now + time::Duration::days(1)),
            ),
            client("old", "old-token", Some(now - time::Duration::seconds(1))),
        ];
        let h = |tok: &str| headers(Some(basic("u", tok)), "127.0.0.1:1");
        assert_eq!(
            admit(&t, &clients, now, &h("onyx-token"), true),
            Ok(Caller::Client {
                name: "onyx".into(),
                allow_writes: false
            })
        );
        assert_eq!(
            admit(&t, &clients, now, &h("writer-token"), true),
            Ok(Caller::Client {
                name: "writer".into(),
                allow_writes: true
            })
        );
        assert_eq!(
            admit(&t, &clients, now, &h("old-token"), true),
            Err(Refusal::ClientExpired)
        );
        assert_eq!(
            admit(&t, &clients, now, &h("onyx-tokeN"), true),
            Err(Refusal::WrongToken)
        );
        // The hash itself is no token.
        let hash = crate::credentials::token_hash("onyx-token");
        assert_eq!(
            admit(&t, &clients, now, &h(&hash), true),
            Err(Refusal::WrongToken)
        );
    }

    #[test]
    fn loopback_authorities_are_told_apart() {
        for ok in [
            "127.0.0.1",
            "127.0.0.1:80",
            "127.1.2.3:9",
            "localhost",
            "LOCALHOST:8080",
            "[::1]",
            "[::1]:8080",
        ] {
            assert!(is_loopback_authority(ok), "{ok}");
        }
        for no in [
            "example.com",
            "10.0.0.1:80",
            "localhost.example.com",
            "[::2]:80",
            "0.0.0.0:80",
        ] {
            assert!(!is_loopback_authority(no), "{no}");
        }
    }
}
