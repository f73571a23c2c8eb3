//! Cookie parser target: arbitrary text, byte soup, and structure-aware
//! pastes (Cookie headers, Netscape lines, cookie-editor JSON, cURL commands,
//! and splices of their fragments). Cookie values in generated pastes carry
//! a sentinel that must never reach an error, a warning or a `Debug`.

use std::collections::HashSet;

use confluence_tui::cookies::parse::{CookieParseError, ParsedCookies, parse_cookies_at};
use confluence_tui::secret::ExposeSecret;
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use time::OffsetDateTime;

/// Marks every generated cookie value; never printable by the parser.
pub const SENTINEL: &str = "SENTINEL-";

/// A fixed "now", so expiry decisions do not depend on the clock.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_780_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A paste plus, for generated Cookie headers, what it must parse to.
#[derive(Clone, Debug)]
pub struct Paste {
    pub text: String,
    /// `(name, value)` pairs of a well-formed header paste, in order.
    pub expect: Option<Vec<(String, String)>>,
}

impl Paste {
    fn free(text: String) -> Paste {
        Paste { text, expect: None }
    }
}

/// The bytes a regression file stores: the paste text.
pub fn to_bytes(p: &Paste) -> Vec<u8> {
    p.text.as_bytes().to_vec()
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z][a-z0-9._-]{0,15}",
        1 => prop::sample::select(vec![
            "cloud.session.token", "tenant.session.token", "JSESSIONID", "seraph.confluence",
            "atlassian.xsrf.token", "ajs_anonymous_id", "curl", "Cookie", "Host",
        ]).prop_map(str::to_string),
    ]
}

fn value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9%._~+/-]{0,40}".prop_map(|v| format!("{SENTINEL}{v}"))
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), value()), 1..8)
}

/// A well-formed Cookie header paste, with its expected parse.
fn header() -> impl Strategy<Value = Paste> {
    (
        pairs(),
        prop::sample::select(vec!["; ", ";", " ; ", ";\n", ";\r\n", ";\t"]),
        prop::sample::select(vec!["", "Cookie: ", "cookie:", "COOKIE:  "]),
        // A byte-order mark is only ever at the start of a paste.
        prop::sample::select(vec!["", " ", "\n", "\r\n  ", "\u{feff}"]),
        prop::sample::select(vec!["", " ", "\n", "\r\n  "]),
    )
        .prop_map(|(pairs, sep, prefix, pad, end)| {
            let body: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v}")).collect();
            let text = format!("{pad}{prefix}{}{end}", body.join(sep));
            Paste {
                text,
                expect: Some(pairs),
            }
        })
}

fn netscape_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            ".atlassian.net",
            "example.atlassian.net",
            "#HttpOnly_.example.com",
            "",
            "localhost",
        ]),
        prop::sample::select(vec!["TRUE", "FALSE", "true", "x", ""]),
        prop::sample::select(vec!["/", "/wiki", "", "/a b"]),
        prop::sample::select(vec!["TRUE", "FALSE", "1", ""]),
        prop_oneof![
            Just("0".to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            (1_700_000_000u64..1_900_000_000).prop_map(|n| n.to_string()),
            Just("99999999999999999999999".to_string()),
            Just("1.5e9".to_string()),
            "[a-z]{0,4}",
        ],
        name(),
        value(),
        0usize..3,
    )
        .prop_map(|(domain, flag, path, secure, expiry, name, value, extra)| {
            let mut fields = vec![domain.to_string(), flag.to_string(), path.to_string()];
            fields.extend([secure.to_string(), expiry, name, value]);
            for _ in 0..extra {
                fields.push(String::new());
            }
            fields.join("\t")
        })
}

fn netscape() -> impl Strategy<Value = Paste> {
    prop::collection::vec(
        prop_oneof![
            6 => netscape_line(),
            1 => Just("# Netscape HTTP Cookie File".to_string()),
            1 => Just(String::new()),
            1 => "[ -~]{0,30}",
        ],
        1..8,
    )
    .prop_map(|lines| Paste::free(lines.join("\n")))
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (1.7e9f64..1.9e9).prop_map(|f| json!(f)),
        Just(json!(1e300)),
        Just(json!(-1e300)),
        "[ -~]{0,12}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
    ]
}

fn json_cookie() -> impl Strategy<Value = serde_json::Value> {
    (
        name(),
        value(),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "domain",
                    "path",
                    "expirationDate",
                    "expires",
                    "secure",
                    "httpOnly",
                    "session",
                    "hostOnly",
                    "sameSite",
                    "storeId",
                    "name",
                    "value",
                ]),
                json_value(),
            ),
            0..6,
        ),
        any::<bool>(),
    )
        .prop_map(|(name, value, extra, keep_value)| {
            let mut obj = serde_json::Map::new();
            obj.insert("name".into(), name.into());
            if keep_value {
                obj.insert("value".into(), value.into());
            }
            for (k, v) in extra {
                // Replacing name/value with another type is a valid test too,
                // but a string there could be a value in a name's place.
                if (k == "name" || k == "value") && v.is_string() {
                    continue;
                }
                obj.insert(k.into(), v);
            }
            serde_json::Value::Object(obj)
        })
}

fn json() -> impl Strategy<Value = Paste> {
    prop_oneof![
        4 => prop::collection::vec(json_cookie(), 0..6)
            .prop_map(|c| Paste::free(serde_json::Value::Array(c).to_string())),
        1 => prop::collection::vec(json_cookie(), 0..4)
            .prop_map(|c| Paste::free(serde_json::to_string_pretty(&c).unwrap_or_default())),
        1 => json_cookie().prop_map(|c| Paste::free(c.to_string())),
        1 => (prop::collection::vec(json_cookie(), 1..3), 0usize..200).prop_map(|(c, cut)| {
            let full = serde_json::Value::Array(c).to_string();
            let at = full.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(full.len());
            Paste::free(full[..at].to_string())
        }),
    ]
}

fn quote(word: &str, style: u8) -> String {
    match style % 5 {
        0 => format!("'{word}'"),
        1 => format!("\"{word}\""),
        2 => format!("$'{word}'"),
        3 => format!("^\"{word}^\""),
        _ => word.to_string(),
    }
}

fn curl() -> impl Strategy<Value = Paste> {
    let arg = prop_oneof![
        pairs().prop_map(|p| {
            let h: Vec<String> = p.iter().map(|(n, v)| format!("{n}={v}")).collect();
            ("-H".to_string(), format!("Cookie: {}", h.join("; ")))
        }),
        pairs().prop_map(|p| {
            let h: Vec<String> = p.iter().map(|(n, v)| format!("{n}={v}")).collect();
            ("-b".to_string(), h.join("; "))
        }),
        pairs().prop_map(|p| {
            let h: Vec<String> = p.iter().map(|(n, v)| format!("{n}={v}")).collect();
            ("--cookie".to_string(), h.join(";"))
        }),
        Just(("-H".to_string(), "Accept: */*".to_string())),
        Just(("--compressed".to_string(), String::new())),
        Just(("-X".to_string(), "GET".to_string())),
        "[ -~]{0,20}".prop_map(|w| (w, String::new())),
    ];
    (
        prop::sample::select(vec!["curl", "curl.exe", "CURL"]),
        prop::collection::vec((arg, any::<u8>()), 0..5),
        prop::sample::select(vec![" ", " \\\n  ", " ^\n  ", "\t"]),
        any::<u8>(),
    )
        .prop_map(|(cmd, args, sep, style)| {
            let mut words = vec![
                cmd.to_string(),
                quote("https://example.atlassian.net/wiki/rest/api/space", style),
            ];
            for ((flag, val), s) in args {
                words.push(flag);
                if !val.is_empty() {
                    words.push(quote(&val, s));
                }
            }
            Paste::free(words.join(sep))
        })
}

fn text() -> impl Strategy<Value = Paste> {
    prop_oneof![
        "(?s).{0,300}".prop_map(Paste::free),
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| Paste::free(String::from_utf8_lossy(&b).into_owned())),
    ]
}

/// Fragments of every format spliced together, and cut at random places.
fn splice() -> impl Strategy<Value = Paste> {
    let fragment = prop_oneof![header(), netscape(), json(), curl(), text()];
    (
        prop::collection::vec((fragment, any::<u16>()), 1..4),
        any::<u16>(),
    )
        .prop_map(|(parts, cut)| {
            let mut out = String::new();
            for (p, take) in parts {
                let chars: Vec<char> = p.text.chars().collect();
                let n = usize::from(take) % (chars.len() + 1);
                out.extend(&chars[..n]);
            }
            let chars: Vec<char> = out.chars().collect();
            let start = usize::from(cut) % (chars.len() + 1);
            // A splice moves value text into names and domains, which may be
            // shown; the no-leak property holds only for intact structure.
            let text: String = chars[start..].iter().collect();
            Paste::free(text.replace(SENTINEL, "SPLICED-"))
        })
}

/// Every generator the target draws from.
pub fn strategy() -> impl Strategy<Value = Paste> {
    prop_oneof![
        2 => text(),
        2 => header(),
        2 => netscape(),
        2 => json(),
        2 => curl(),
        3 => splice(),
    ]
}

/// Never panics; a refusal never quotes a value; an accepted jar holds only
/// valid, distinct names and header-safe values; a well-formed header parses
/// to exactly its pairs (the last value of a repeated name wins).
pub fn check(paste: &Paste) -> TestCaseResult {
    match parse_cookies_at(&paste.text, now()) {
        Ok(parsed) => check_accepted(paste, &parsed),
        Err(e) => check_refused(paste, &e),
    }
}

fn check_refused(paste: &Paste, e: &CookieParseError) -> TestCaseResult {
    let shown = format!("{e} {e:?}");
    prop_assert!(
        !shown.contains(SENTINEL),
        "a value leaked into the error: {shown}"
    );
    prop_assert!(!e.to_string().trim().is_empty());
    prop_assert!(
        paste.expect.is_none(),
        "a well-formed Cookie header was refused: {e}"
    );
    Ok(())
}

fn check_accepted(paste: &Paste, parsed: &ParsedCookies) -> TestCaseResult {
    let shown = format!("{parsed:?}");
    prop_assert!(
        !shown.contains(SENTINEL),
        "a value leaked into Debug: {shown}"
    );
    for w in &parsed.warnings {
        prop_assert!(
            !w.to_string().contains(SENTINEL),
            "a value leaked into a warning: {w}"
        );
    }
    prop_assert!(!parsed.jar.is_empty(), "accepted an empty jar");
    let mut seen = HashSet::new();
    for c in &parsed.jar.cookies {
        prop_assert!(seen.insert(c.name.clone()), "duplicate name {}", c.name);
        prop_assert!(!c.name.is_empty());
        prop_assert!(
            c.name
                .chars()
                .all(|ch| ch.is_ascii_graphic() && !";=,\"\\".contains(ch)),
            "bad name {:?}",
            c.name
        );
        let v = c.value.expose_secret();
        prop_assert!(!v.contains(';') && !v.chars().any(char::is_control));
    }
    if let Some(expect) = &paste.expect {
        let mut want: Vec<(String, String)> = Vec::new();
        for (n, v) in expect {
            match want.iter_mut().find(|(wn, _)| wn == n) {
                Some(slot) => slot.1 = v.clone(),
                None => want.push((n.clone(), v.clone())),
            }
        }
        let got: Vec<(String, String)> = parsed
            .jar
            .cookies
            .iter()
            .map(|c| (c.name.clone(), c.value.expose_secret().to_string()))
            .collect();
        prop_assert!(got == want, "header parsed to other pairs");
    }
    Ok(())
}

// ------------------------------------------------------------ cookie scope

/// A browser-wide paste for one site, and a request to that site: what
/// `parse_cookies_for_site` keeps and what `header_value_for` sends are
/// checked against a plain reading of RFC 6265 written here.
#[derive(Clone, Debug)]
pub struct ScopeCase {
    pub site: String,
    pub request: String,
    pub cookies: Vec<ScopeCookie>,
}

#[derive(Clone, Debug)]
pub struct ScopeCookie {
    /// The cookies.txt domain field (may be empty, dotted, upper case).
    pub domain: String,
    /// The include-subdomains flag.
    pub subdomains: bool,
    pub path: String,
    pub secure: bool,
}

impl ScopeCase {
    fn paste(&self) -> String {
        let mut text = String::from("# Netscape HTTP Cookie File\n");
        for (i, c) in self.cookies.iter().enumerate() {
            let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\t0\tc{i}\t{SENTINEL}{i}\n",
                c.domain,
                flag(c.subdomains),
                c.path,
                flag(c.secure)
            ));
        }
        text
    }
}

/// The bytes a regression file stores: site, request, then the paste.
pub fn scope_to_bytes(c: &ScopeCase) -> Vec<u8> {
    format!("{}\n{}\n{}", c.site, c.request, c.paste()).into_bytes()
}

/// Suffixes on the public suffix list, and names that are not.
const PUBLIC_SUFFIXES: &[&str] = &["com", "net", "org", "co.uk", "github.io"];

fn scope_cookie(host: &'static str) -> impl Strategy<Value = ScopeCookie> {
    let parent = host.split_once('.').map_or(host, |(_, p)| p);
    let mut domains: Vec<String> = vec![
        String::new(),
        ".".into(),
        host.into(),
        format!(".{host}"),
        host.to_ascii_uppercase(),
        parent.into(),
        format!(".{parent}"),
        format!("sub.{host}"),
        format!("{host}."),
        "y.atlassian.net".into(),
        ".google.com".into(),
        "evil.example.com".into(),
        "127.0.0.2".into(),
        ".0.0.1".into(),
        "atlassian.net".into(),
    ];
    domains.extend(PUBLIC_SUFFIXES.iter().map(|s| format!(".{s}")));
    (
        prop::sample::select(domains),
        any::<bool>(),
        prop::sample::select(vec![
            "/",
            "/wiki",
            "/wiki/",
            "/wikis",
            "/jira",
            "/wiki/rest",
            "",
            "x",
            "/confluence",
        ]),
        any::<bool>(),
    )
        .prop_map(|(domain, subdomains, path, secure)| ScopeCookie {
            domain,
            subdomains,
            path: path.to_string(),
            secure,
        })
}

pub fn scope_strategy() -> impl Strategy<Value = ScopeCase> {
    (
        prop::sample::select(vec![
            ("https", "x.atlassian.net"),
            ("https", "wiki.example.co.uk"),
            ("http", "127.0.0.1:8090"),
            ("http", "localhost:8090"),
            ("https", "confluence.example.com"),
        ]),
        prop::sample::select(vec!["", "/wiki", "/confluence/wiki"]),
        prop::sample::select(vec!["", "/rest/api/space", "/api/v2/spaces?limit=1"]),
        any::<bool>(),
    )
        .prop_flat_map(|((scheme, authority), site_path, tail, plain)| {
            let host = authority.split(':').next().unwrap_or(authority);
            let host: &'static str = match host {
                "x.atlassian.net" => "x.atlassian.net",
                "wiki.example.co.uk" => "wiki.example.co.uk",
                "127.0.0.1" => "127.0.0.1",
                "localhost" => "localhost",
                _ => "confluence.example.com",
            };
            let site = format!("{scheme}://{authority}{site_path}");
            // Sometimes the request is plain http to the same host.
            let request_scheme = if plain { "http" } else { scheme };
            let request = format!("{request_scheme}://{authority}{site_path}{tail}");
            prop::collection::vec(scope_cookie(host), 1..10).prop_map(move |cookies| ScopeCase {
                site: site.clone(),
                request: request.clone(),
                cookies,
            })
        })
}

/// The stored domain as the parsers write it, lower case: `.d` for a
/// domain cookie, `d` host-only, `None` for the site's own.
fn oracle_domain(c: &ScopeCookie) -> Option<(String, bool)> {
    let raw = c.domain.trim().to_ascii_lowercase();
    let bare = raw.trim_start_matches('.').to_string();
    if raw.is_empty() {
        return None;
    }
    Some((bare, c.subdomains))
}

fn is_ip(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok()
}

/// RFC 6265 5.1.3 plus the public suffix rule, for `host`.
fn oracle_domain_match(c: &ScopeCookie, host: &str) -> bool {
    match oracle_domain(c) {
        None => true,
        Some((bare, _)) if bare.is_empty() => false,
        Some((bare, false)) => bare == host,
        Some((bare, true)) => {
            if PUBLIC_SUFFIXES.contains(&bare.as_str()) && bare != host {
                return false;
            }
            bare == host || (!is_ip(host) && host.ends_with(&format!(".{bare}")))
        }
    }
}

/// RFC 6265 5.1.4; a path that is not one is `/`.
fn oracle_path_match(c: &ScopeCookie, request_path: &str) -> bool {
    let cookie_path = if c.path.starts_with('/') {
        c.path.as_str()
    } else {
        "/"
    };
    cookie_path == request_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// What is kept is exactly what domain-matches and path-matches the site,
/// every dropped cookie is counted in a warning, no value is ever shown;
/// the header for a request carries exactly the kept cookies that match it
/// (domain, path, secure only over https or to loopback).
pub fn scope_check(case: &ScopeCase) -> TestCaseResult {
    use confluence_tui::cookies::parse::{ParseWarning, parse_cookies_for_site};
    let (Ok(site), Ok(request)) = (url::Url::parse(&case.site), url::Url::parse(&case.request))
    else {
        return Err(proptest::test_runner::TestCaseError::fail(
            "bad generated URL",
        ));
    };
    let host = site.host_str().unwrap_or_default().to_string();
    let belongs: Vec<bool> = case
        .cookies
        .iter()
        .map(|c| oracle_domain_match(c, &host) && oracle_path_match(c, site.path()))
        .collect();
    let parsed = parse_cookies_for_site(&case.paste(), &site, now());
    let kept_names: Vec<String> = (0..case.cookies.len())
        .filter(|&i| belongs[i])
        .map(|i| format!("c{i}"))
        .collect();
    let parsed = match parsed {
        Err(e) => {
            let shown = format!("{e} {e:?}");
            prop_assert!(!shown.contains(SENTINEL), "a value in the error: {shown}");
            prop_assert!(
                kept_names.is_empty(),
                "refused although {kept_names:?} belong to {}: {e}",
                case.site
            );
            prop_assert!(matches!(e, CookieParseError::NoneForSite { .. }), "{e}");
            return Ok(());
        }
        Ok(p) => p,
    };
    let shown = format!("{parsed:?}");
    prop_assert!(!shown.contains(SENTINEL), "a value in Debug: {}", shown);
    prop_assert_eq!(
        parsed.jar.names(),
        kept_names.clone(),
        "kept for {}",
        case.site
    );
    let mut dropped = 0;
    for w in &parsed.warnings {
        prop_assert!(
            !w.to_string().contains(SENTINEL),
            "a value in a warning: {w}"
        );
        if let ParseWarning::OtherDomains { count, .. } | ParseWarning::OtherPaths { count, .. } = w
        {
            dropped += count;
        }
    }
    prop_assert_eq!(
        dropped,
        case.cookies.len() - kept_names.len(),
        "dropped count"
    );
    let request_host = request.host_str().unwrap_or_default();
    let loopback = matches!(request_host, "127.0.0.1" | "localhost");
    let sent: Vec<String> = (0..case.cookies.len())
        .filter(|&i| belongs[i])
        .filter(|&i| {
            let c = &case.cookies[i];
            oracle_domain_match(c, request_host)
                && oracle_path_match(c, request.path())
                && (!c.secure || request.scheme() == "https" || loopback)
        })
        .map(|i| format!("c{i}={SENTINEL}{i}"))
        .collect();
    let header = parsed
        .jar
        .header_value_for(&request)
        .map(|h| h.expose_secret().to_string());
    let want = (!sent.is_empty()).then(|| sent.join("; "));
    prop_assert_eq!(header, want, "Cookie header for {}", case.request);
    Ok(())
}
