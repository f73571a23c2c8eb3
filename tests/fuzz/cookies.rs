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
