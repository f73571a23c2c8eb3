//! Every accepted paste format, every refusal, the warnings, and that no
//! cookie value ever leaks into a message.

use confluence_tui::cookies::jar::{Cookie, CookieJar, SESSION_COOKIE_NAMES};
use confluence_tui::cookies::parse::{
    CookieParseError, MAX_PASTE_BYTES, ParseWarning, ParsedCookies, PasteFormat, parse_cookies,
    parse_cookies_at,
};
use confluence_tui::secret::ExposeSecret;
use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);
const JAN_2026: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/cookies/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

fn parse(input: &str) -> ParsedCookies {
    parse_cookies_at(input, NOW).unwrap_or_else(|e| panic!("parse failed: {e}"))
}

fn err(input: &str) -> CookieParseError {
    match parse_cookies_at(input, NOW) {
        Ok(p) => panic!("expected an error, got {p:?}"),
        Err(e) => e,
    }
}

fn pairs(jar: &CookieJar) -> Vec<(String, String)> {
    jar.cookies
        .iter()
        .map(|c| (c.name.clone(), c.value.expose_secret().to_owned()))
        .collect()
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

fn cookie<'a>(p: &'a ParsedCookies, name: &str) -> &'a Cookie {
    p.jar
        .get(name)
        .unwrap_or_else(|| panic!("no cookie {name}"))
}

// ---- Cookie header ----

#[test]
fn cookie_header_fixture_with_prefix_and_blank_lines() {
    let p = parse(&fixture("cookie_header.txt"));
    assert_eq!(p.format, PasteFormat::CookieHeader);
    assert_eq!(
        pairs(&p.jar),
        [
            pair("cloud.session.token", "SENTINEL-hdr-cloud"),
            pair("atlassian.xsrf.token", "SENTINEL-hdr-xsrf"),
            pair("ajs_group_id", "null"),
        ]
    );
    assert!(p.jar.has_session_cookie());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.jar.session_expiry(), None);
}

#[test]
fn cookie_prefix_is_case_insensitive_and_optional() {
    for input in [
        "JSESSIONID=abc; x=1",
        "Cookie: JSESSIONID=abc; x=1",
        "COOKIE:JSESSIONID=abc; x=1",
        "cookie:   JSESSIONID=abc;x=1;",
    ] {
        let p = parse(input);
        assert_eq!(p.format, PasteFormat::CookieHeader, "{input}");
        assert_eq!(
            pairs(&p.jar),
            [pair("JSESSIONID", "abc"), pair("x", "1")],
            "{input}"
        );
    }
}

#[test]
fn header_wrapped_after_semicolons_and_one_per_line_both_parse() {
    let p = parse("a=1;\n  JSESSIONID=2;\r\n b=3\nc=4\n");
    assert_eq!(
        pairs(&p.jar),
        [
            pair("a", "1"),
            pair("JSESSIONID", "2"),
            pair("b", "3"),
            pair("c", "4")
        ]
    );
}

#[test]
fn raw_request_headers_block_uses_only_cookie_lines() {
    let input = "GET /wiki/rest/api/user/current HTTP/2\nHost: sambatv.atlassian.net\nAccept: application/json\ncookie: cloud.session.token=v1; b=v2\nReferer: https://sambatv.atlassian.net/wiki?a=b\n";
    let p = parse(input);
    assert_eq!(p.format, PasteFormat::CookieHeader);
    assert_eq!(
        pairs(&p.jar),
        [pair("cloud.session.token", "v1"), pair("b", "v2")]
    );
}

#[test]
fn quoted_and_equals_containing_values_are_kept_verbatim() {
    let p = parse("JSESSIONID=\"quoted\"; b64=YWJj==; empty=");
    assert_eq!(
        pairs(&p.jar),
        [
            pair("JSESSIONID", "\"quoted\""),
            pair("b64", "YWJj=="),
            pair("empty", "")
        ]
    );
}

// ---- cURL ----

#[test]
fn chrome_copy_as_curl_bash_fixture() {
    let p = parse(&fixture("chrome_curl_bash.txt"));
    assert_eq!(p.format, PasteFormat::CurlBash);
    assert_eq!(
        pairs(&p.jar),
        [
            pair(
                "ajs_anonymous_id",
                "%22b3f1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d%22"
            ),
            pair("atlassian.xsrf.token", "SENTINEL-xsrf-9f8e7d6c5b4a_lin"),
            pair(
                "cloud.session.token",
                "eyJraWQiOiJzZXNzaW9uLXNlcnZpY2UiLCJhbGciOiJSUzI1NiJ9.SENTINEL-cloud-session.c2lnbmF0dXJl"
            ),
            pair(
                "tenant.session.token",
                "eyJhbGciOiJIUzI1NiJ9.SENTINEL-tenant-session.dGVuYW50"
            ),
        ]
    );
    assert_eq!(
        p.jar.session_cookie_names(),
        ["cloud.session.token", "tenant.session.token"]
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn chrome_copy_as_curl_cmd_fixture_with_caret_escapes() {
    let p = parse(&fixture("chrome_curl_cmd.txt"));
    assert_eq!(p.format, PasteFormat::CurlCmd);
    assert_eq!(
        pairs(&p.jar),
        [
            pair("JSESSIONID", "SENTINEL-jsession-0A1B2C3D4E5F"),
            pair("seraph.confluence", "SENTINEL-seraph%3A42"),
            pair("prefs", "\"dark\""),
        ]
    );
    assert!(p.jar.has_session_cookie());
}

#[test]
fn firefox_curl_with_b_option() {
    let p = parse(&fixture("firefox_curl_b.txt"));
    assert_eq!(p.format, PasteFormat::CurlBash);
    assert_eq!(
        p.jar.names(),
        [
            "JSESSIONID",
            "seraph.confluence",
            "confluence.browse.space.cookie"
        ]
    );
    assert_eq!(
        cookie(&p, "seraph.confluence").value.expose_secret(),
        "SENTINEL-ff-seraph"
    );
}

#[test]
fn curl_variants_cookie_long_option_ansi_c_quoting_and_double_quotes() {
    let p = parse("curl 'https://x/wiki' --cookie 'JSESSIONID=1' -H $'Cookie: a=it\\'s\\u0021'");
    assert_eq!(pairs(&p.jar), [pair("JSESSIONID", "1"), pair("a", "it's!")]);

    let p = parse("curl \"https://x/wiki\" \\\n  -H \"Cookie: JSESSIONID=\\\"q\\\"\"");
    assert_eq!(pairs(&p.jar), [pair("JSESSIONID", "\"q\"")]);

    // `-b FILE` names a cookie file, which holds nothing usable.
    assert_eq!(
        err("curl https://x -b cookies.txt"),
        CookieParseError::CurlWithoutCookies
    );
}

#[test]
fn curl_without_cookies_is_refused() {
    let e = err("curl 'https://sambatv.atlassian.net/wiki' -H 'accept: */*' --compressed");
    assert_eq!(e, CookieParseError::CurlWithoutCookies);
    assert!(e.to_string().contains("Copy as cURL"));
}

// ---- Netscape ----

#[test]
fn netscape_fixture_with_httponly_comments_expiry_and_junk() {
    let p = parse(&fixture("netscape_cookies.txt"));
    assert_eq!(p.format, PasteFormat::Netscape);
    assert_eq!(
        pairs(&p.jar),
        [
            pair("cloud.session.token", "SENTINEL-ns-cloud-session"),
            pair("atlassian.xsrf.token", "SENTINEL-ns-xsrf"),
            pair("tenant.session.token", "SENTINEL-ns-tenant"),
        ]
    );
    let cloud = cookie(&p, "cloud.session.token");
    assert!(cloud.http_only && cloud.secure);
    assert_eq!(cloud.domain.as_deref(), Some(".atlassian.net"));
    assert_eq!(cloud.path.as_deref(), Some("/"));
    assert_eq!(cloud.expires, Some(JAN_2026));
    let xsrf = cookie(&p, "atlassian.xsrf.token");
    assert!(!xsrf.http_only);
    assert_eq!(xsrf.expires, None, "expiry 0 is a session cookie");
    assert_eq!(xsrf.path.as_deref(), Some("/wiki"));
    assert_eq!(p.jar.session_expiry(), Some(JAN_2026));
    assert_eq!(
        p.warnings,
        [
            ParseWarning::AlreadyExpired {
                name: "old.tracking".into()
            },
            ParseWarning::SkippedLines { count: 1 },
        ]
    );
}

#[test]
fn netscape_line_with_empty_value_and_no_trailing_tab() {
    let p = parse(
        ".example.com\tTRUE\t/\tFALSE\t0\tJSESSIONID\tv\n.example.com\tTRUE\t/\tFALSE\t0\tflag\n",
    );
    assert_eq!(pairs(&p.jar), [pair("JSESSIONID", "v"), pair("flag", "")]);
}

// ---- cookie-editor JSON ----

#[test]
fn cookie_editor_json_fixture() {
    let p = parse(&fixture("cookie_editor.json"));
    assert_eq!(p.format, PasteFormat::CookieEditorJson);
    assert_eq!(
        pairs(&p.jar),
        [
            pair("cloud.session.token", "SENTINEL-json-cloud-session"),
            pair("atlassian.xsrf.token", "SENTINEL-json-xsrf"),
        ]
    );
    let cloud = cookie(&p, "cloud.session.token");
    assert_eq!(cloud.expires, Some(JAN_2026));
    assert!(cloud.http_only && cloud.secure);
    assert_eq!(cloud.domain.as_deref(), Some(".atlassian.net"));
    assert_eq!(cookie(&p, "atlassian.xsrf.token").expires, None);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn json_object_with_cookies_array_is_accepted() {
    let p = parse(
        r#"{"cookies": [{"name": "JSESSIONID", "value": "v", "expires": -1}], "origins": []}"#,
    );
    assert_eq!(p.format, PasteFormat::CookieEditorJson);
    assert_eq!(pairs(&p.jar), [pair("JSESSIONID", "v")]);
    assert_eq!(p.jar.cookies[0].expires, None);
}

#[test]
fn invalid_json_gets_a_reason_without_values() {
    let e = err(r#"[{"name": "JSESSIONID", "value": "SENTINEL-cut"#);
    assert!(
        matches!(&e, CookieParseError::InvalidJson { reason } if reason.contains("cut off")),
        "{e:?}"
    );
    let e = err(r#"{"name": "JSESSIONID"}"#);
    assert!(
        matches!(&e, CookieParseError::InvalidJson { reason } if reason.contains("\"cookies\"")),
        "{e:?}"
    );
    let e = err(r#"[{"name": "JSESSIONID", "value": "a" "b": 1}]"#);
    assert!(matches!(e, CookieParseError::InvalidJson { .. }), "{e:?}");
    let e = err(r#"[{"name": "JSESSIONID", "value": ["SENTINEL-array"]}]"#);
    assert!(matches!(e, CookieParseError::InvalidCookie { .. }), "{e:?}");
    let e = err(r#"[{"value": "SENTINEL-no-name"}]"#);
    assert_eq!(
        e,
        CookieParseError::InvalidCookie {
            name_or_index: "#1".into(),
            why: "it has no \"name\" string".into()
        }
    );
    assert_eq!(err("[]"), CookieParseError::NoNameValue);
}

// ---- the other errors ----

#[test]
fn empty_and_whitespace_only_pastes_are_empty() {
    for input in ["", "   ", "\n\r\n\t \n", "\u{feff}\n"] {
        assert_eq!(err(input), CookieParseError::Empty, "{input:?}");
    }
}

#[test]
fn over_one_mib_is_too_large() {
    let input = "a".repeat(MAX_PASTE_BYTES + 1);
    assert_eq!(
        err(&input),
        CookieParseError::TooLarge {
            bytes: MAX_PASTE_BYTES + 1
        }
    );
}

#[test]
fn control_characters_report_line_and_column() {
    assert_eq!(
        err("a=1;\nb=2\u{0}x"),
        CookieParseError::ControlCharacters { line: 2, column: 4 }
    );
    assert_eq!(
        err("\u{1b}[31mJSESSIONID=x"),
        CookieParseError::ControlCharacters { line: 1, column: 1 }
    );
    assert!(
        parse_cookies_at("a=1;\tJSESSIONID=2\r\n", NOW).is_ok(),
        "tab, CR, LF are fine"
    );
}

#[test]
fn text_without_name_value_pair_is_refused() {
    assert_eq!(err("hello world"), CookieParseError::NoNameValue);
    assert_eq!(err("Cookie:"), CookieParseError::NoNameValue);
    assert_eq!(err("# just a comment\n"), CookieParseError::NoNameValue);
}

#[test]
fn invalid_names_are_refused_by_position_not_by_text() {
    let e = err("ok=1; bad name=SENTINEL-v");
    assert_eq!(
        e,
        CookieParseError::InvalidCookie {
            name_or_index: "#2".into(),
            why: "its name contains a space or line break".into()
        }
    );
    let e = err("a=1; SENTINEL-broken-wrap; b=2");
    assert!(
        matches!(&e, CookieParseError::InvalidCookie { name_or_index, .. } if name_or_index == "#2"),
        "{e:?}"
    );
    let e = err("=SENTINEL-v");
    assert!(matches!(e, CookieParseError::InvalidCookie { .. }), "{e:?}");
}

#[test]
fn invalid_values_are_refused_by_name() {
    let e = err(r#"[{"name": "JSESSIONID", "value": "SENTINEL;split"}]"#);
    assert!(
        matches!(&e, CookieParseError::InvalidCookie { name_or_index, .. } if name_or_index == "`JSESSIONID`"),
        "{e:?}"
    );
    let e = err(r#"[{"name": "JSESSIONID", "value": "SENTINEL\u0007bell"}]"#);
    assert!(matches!(e, CookieParseError::InvalidCookie { .. }), "{e:?}");
}

#[test]
fn all_expired_is_an_error_so_nothing_stored_is_replaced() {
    let e = err(".x.com\tTRUE\t/\tFALSE\t1700000000\tJSESSIONID\tSENTINEL-old\n");
    assert_eq!(e, CookieParseError::AllExpired { count: 1 });
}

#[test]
fn every_error_message_shows_a_valid_example() {
    let errors = [
        err(""),
        err(&"a".repeat(MAX_PASTE_BYTES + 1)),
        err("\u{0}"),
        err("hello"),
        err("[1"),
        err("curl https://x"),
        err("a b=1"),
        err(".x.com\tTRUE\t/\tFALSE\t1\tJSESSIONID\tv"),
    ];
    for e in errors {
        let message = e.to_string();
        assert!(message.contains("e.g. `"), "no example in: {message}");
    }
}

// ---- warnings ----

#[test]
fn duplicate_names_keep_the_last_value_in_first_position() {
    let p = parse("a=1; JSESSIONID=x; a=2; a=3");
    assert_eq!(pairs(&p.jar), [pair("a", "3"), pair("JSESSIONID", "x")]);
    assert_eq!(
        p.warnings,
        [ParseWarning::DuplicateName { name: "a".into() }]
    );
}

#[test]
fn missing_session_cookie_warns_with_expected_names() {
    let p = parse("atlassian.xsrf.token=1; ajs=2");
    assert_eq!(p.warnings, [ParseWarning::NoSessionCookie]);
    let message = p.warnings[0].to_string();
    for name in SESSION_COOKIE_NAMES {
        assert!(message.contains(name), "{message}");
    }
    assert!(message.contains("not accept"), "{message}");
}

#[test]
fn parse_cookies_uses_the_real_clock() {
    // Expired in 2023 and far in the future, judged against now.
    let p = parse_cookies(".x.com\tTRUE\t/\tFALSE\t1700000000\told\tv\n.x.com\tTRUE\t/\tFALSE\t32503680000\tJSESSIONID\tv\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.jar.names(), ["JSESSIONID"]);
}

#[test]
fn format_names_read_well() {
    assert_eq!(PasteFormat::CookieHeader.to_string(), "Cookie header");
    assert_eq!(PasteFormat::Netscape.to_string(), "Netscape cookies.txt");
    assert_eq!(PasteFormat::CurlCmd.to_string(), "cURL command (cmd)");
}

// ---- nothing leaks ----

#[test]
fn sentinel_values_never_appear_in_errors_warnings_or_debug() {
    let fixtures = [
        fixture("chrome_curl_bash.txt"),
        fixture("chrome_curl_cmd.txt"),
        fixture("firefox_curl_b.txt"),
        fixture("netscape_cookies.txt"),
        fixture("cookie_editor.json"),
        fixture("cookie_header.txt"),
        "a=SENTINEL-1; a=SENTINEL-2".into(),
        "curl 'https://x' -H 'Cookie: a=SENTINEL-curl; b=SENTINEL-c2'".into(),
    ];
    for input in &fixtures {
        let p = parse(input);
        let mut shown = format!("{p:?}{:?}", p.jar);
        for w in &p.warnings {
            shown += &format!("{w}{w:?}");
        }
        for c in &p.jar.cookies {
            shown += &format!("{c:?}");
        }
        assert!(!shown.contains("SENTINEL"), "leak: {shown}");
    }
    let failures = [
        "bad name=SENTINEL-a",
        "a=1; SENTINEL-b",
        "=SENTINEL-c",
        "SENTINEL-d",
        r#"[{"name": "a", "value": "SENTINEL-e"#,
        r#"[{"name": "a", "value": 5, "x": "SENTINEL-f"}]"#,
        r#"[{"name": "a", "value": ["SENTINEL-g"]}]"#,
        r#"[{"name": "a", "value": "SENTINEL;h"}]"#,
        r#"[{"name": "a", "value": "SENTINEL\u0000i"}]"#,
        r#""SENTINEL-j""#,
        "curl https://x/SENTINEL-k",
        "x\u{0}SENTINEL-l",
        ".x.com\tTRUE\t/\tFALSE\t5\tJSESSIONID\tSENTINEL-m",
    ];
    for input in failures {
        let e = err(input);
        let shown = format!("{e}{e:?}");
        assert!(!shown.contains("SENTINEL"), "leak for {input:?}: {shown}");
    }
}

// ---- properties ----

fn token_name() -> impl Strategy<Value = String> {
    "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,24}"
}

fn cookie_octets() -> impl Strategy<Value = String> {
    "[\\x21\\x23-\\x2B\\x2D-\\x3A\\x3C-\\x5B\\x5D-\\x7E]{0,64}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_text(chars in proptest::collection::vec(any::<char>(), 0..3000)) {
        let text: String = chars.into_iter().collect();
        let _ = parse_cookies_at(&text, NOW);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = parse_cookies_at(&String::from_utf8_lossy(&bytes), NOW);
    }

    #[test]
    fn parse_never_panics_on_format_shaped_noise(
        prefix in prop::sample::select(vec!["curl ", "curl ^\"", "[", "{\"cookies\":", "#HttpOnly_", "Cookie: ", "a\tb\tc\td\t"]),
        body in "(?s)[ -~\\t\\n'\"$^\\\\;=:{}\\[\\]]{0,400}",
    ) {
        let _ = parse_cookies_at(&format!("{prefix}{body}"), NOW);
    }

    #[test]
    fn header_value_round_trips(cookies in proptest::collection::vec((token_name(), cookie_octets()), 1..20)) {
        let mut jar = CookieJar::new();
        for (name, value) in &cookies {
            if jar.get(name).is_none() {
                jar.insert(Cookie::new(name.clone(), value));
            }
        }
        let header = jar.header_value();
        let parsed = parse_cookies_at(header.expose_secret(), NOW);
        prop_assert!(parsed.is_ok(), "{:?}", parsed.err());
        let parsed = parsed.map(|p| pairs(&p.jar)).unwrap_or_default();
        prop_assert_eq!(parsed, pairs(&jar));
    }
}

#[test]
fn a_paste_just_under_the_limit_with_many_cookies_parses_quickly() {
    let mut input = String::with_capacity(MAX_PASTE_BYTES);
    let mut i = 0;
    while input.len() < MAX_PASTE_BYTES - 32 {
        input.push_str(&format!("c{i}=v{i}; "));
        i += 1;
    }
    let started = std::time::Instant::now();
    let p = parse(&input);
    assert_eq!(p.jar.len(), i);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
