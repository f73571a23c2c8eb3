//! Response classifier target: any status 100–599, the headers that matter
//! (Seraph, Authentication-Denied, Retry-After, Location, Content-Type) with
//! random values, and arbitrary or typical bodies.

use confluence_tui::confluence::classify::{
    AuthKind, MAX_RETRY_AFTER, Outcome, ResponseFacts, classify_response, retry_after,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// One response as the classifier sees it. Stored in regression files as
/// JSON (`{"status":…,"headers":[[name, hex value]…],"body":hex,…}`).
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    pub auth: u8,
    pub probe: bool,
}

/// The regression file's JSON.
pub fn to_bytes(r: &Response) -> Vec<u8> {
    let headers: Vec<serde_json::Value> = r
        .headers
        .iter()
        .map(|(n, v)| serde_json::json!([n, hex::encode(v)]))
        .collect();
    serde_json::json!({
        "status": r.status,
        "headers": headers,
        "body": hex::encode(&r.body),
        "auth": r.auth,
        "probe": r.probe,
    })
    .to_string()
    .into_bytes()
}

/// Reads a regression file written by [`to_bytes`].
pub fn from_bytes(bytes: &[u8]) -> Option<Response> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let headers = v["headers"]
        .as_array()?
        .iter()
        .map(|h| {
            Some((
                h[0].as_str()?.to_string(),
                hex::decode(h[1].as_str()?).ok()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Response {
        status: u16::try_from(v["status"].as_u64()?).ok()?,
        headers,
        body: hex::decode(v["body"].as_str()?).ok()?,
        auth: u8::try_from(v["auth"].as_u64()?).ok()?,
        probe: v["probe"].as_bool()?,
    })
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let text =
        |v: &[&'static str]| prop::sample::select(v.to_vec()).prop_map(|s| s.as_bytes().to_vec());
    prop_oneof![
        text(&[
            "CAPTCHA_CHALLENGE; login-url=https://c.example.com/login.jsp",
            "captcha_challenge",
            "CAPTCHA_CHALLENGE;login-url=",
            "AUTHENTICATION_DENIED",
            "AUTHENTICATED_FAILED",
            "OUT",
            "OK",
            "0",
            "1",
            "60",
            "61",
            "9223372036854775807",
            "99999999999999999999999999",
            "-1",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "text/html; charset=utf-8",
            "application/json",
            "https://id.atlassian.com/login?continue=x",
            "/login.action?os_destination=%2F",
            "/wiki/spaces",
        ]),
        "[ -~]{0,40}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
        ("[a-zA-Z_]{0,10}", "[ -~]{0,20}")
            .prop_map(|(a, b)| format!("{a}CAPTCHA_CHALLENGE{b}").into_bytes()),
        ("[ -~]{0,10}", "[ -~]{0,10}")
            .prop_map(|(a, b)| format!("{a}AUTHENTICATION_DENIED{b}").into_bytes()),
        (0u64..200).prop_map(|n| n.to_string().into_bytes()),
    ]
}

fn header() -> impl Strategy<Value = (String, Vec<u8>)> {
    (
        prop_oneof![
            4 => prop::sample::select(vec![
                "X-Seraph-LoginReason", "X-Authentication-Denied-Reason", "Retry-After",
                "Location", "Content-Type", "x-seraph-loginreason", "RETRY-AFTER",
            ]).prop_map(str::to_string),
            1 => "[a-zA-Z-]{1,20}",
        ],
        header_value(),
    )
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let text =
        |v: &[&'static str]| prop::sample::select(v.to_vec()).prop_map(|s| s.as_bytes().to_vec());
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        "(?s).{0,200}".prop_map(String::into_bytes),
        text(&[
            r#"{"message":"Current user not permitted to use Confluence","statusCode":403}"#,
            r#"{"type":"anonymous","displayName":"Anonymous"}"#,
            r#"{"type":"known","accountId":"x"}"#,
            r#"{"errors":[{"title":"x","detail":"y"},"z",{"message":{"key":"k"}}],"errorMessages":["a"]}"#,
            "<!DOCTYPE html><html><body>Log in</body></html>",
            "   <html><form>captcha</form></html>",
            "",
            "\u{0}\u{1}\u{7f}",
        ]),
        ("[ -~]{0,20}", prop::collection::vec("[ -~é✓]{0,30}", 0..4)).prop_map(|(m, errs)| {
            serde_json::json!({"message": m, "errors": errs, "reason": m})
                .to_string()
                .into_bytes()
        }),
    ]
}

/// Statuses from the whole range, weighted towards the ones that matter.
fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        3 => 100u16..=599,
        2 => prop::sample::select(vec![200u16, 204, 301, 302, 303, 307, 401, 403, 404, 429, 500, 502, 503, 504]),
    ]
}

/// Random responses.
pub fn strategy() -> impl Strategy<Value = Response> {
    (
        status(),
        prop::collection::vec(header(), 0..5),
        body(),
        0u8..3,
        any::<bool>(),
    )
        .prop_map(|(status, headers, body, auth, probe)| Response {
            status,
            headers,
            body,
            auth,
            probe,
        })
}

fn header_map(r: &Response) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in &r.headers {
        // Only what could arrive over HTTP: invalid names/values are skipped,
        // as the HTTP parser would have refused them.
        // The wire's parser strips surrounding whitespace too.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.trim_ascii()),
        ) {
            map.append(n, v);
        }
    }
    map
}

fn first_text(map: &HeaderMap, name: &str) -> Option<String> {
    map.get(name)?.to_str().ok().map(|s| s.trim().to_string())
}

/// Never panics; a CAPTCHA header always gives `Captcha`; only 429 and
/// 502–504 are ever retryable; no wait exceeds `MAX_RETRY_AFTER`; messages
/// stay short and free of control characters.
pub fn check(r: &Response) -> TestCaseResult {
    let headers = header_map(r);
    let auth = match r.auth {
        0 => AuthKind::Cookie,
        1 => AuthKind::Token,
        _ => AuthKind::None,
    };
    let facts = ResponseFacts {
        status: r.status,
        headers: &headers,
        body: &r.body,
        auth,
        probe: r.probe,
    };
    let outcome = classify_response(&facts);

    let denied = first_text(&headers, "x-authentication-denied-reason")
        .is_some_and(|v| v.to_ascii_uppercase().starts_with("CAPTCHA_CHALLENGE"));
    let seraph_denied = first_text(&headers, "x-seraph-loginreason")
        .is_some_and(|v| v.contains("AUTHENTICATION_DENIED"));
    if denied || seraph_denied {
        prop_assert!(
            matches!(outcome, Outcome::Captcha { .. }),
            "CAPTCHA header gave {outcome:?}"
        );
    }
    if outcome.is_retryable() {
        prop_assert!(
            matches!(r.status, 429 | 502..=504),
            "status {} is retryable: {outcome:?}",
            r.status
        );
    }
    if let Some(wait) = retry_after(&headers) {
        prop_assert!(wait <= MAX_RETRY_AFTER, "Retry-After {wait:?}");
    }
    match &outcome {
        Outcome::RateLimited {
            retry_after: Some(w),
            ..
        } => {
            prop_assert!(*w <= MAX_RETRY_AFTER, "wait {w:?}");
        }
        Outcome::CredentialsRejected { message, .. }
        | Outcome::Forbidden { message, .. }
        | Outcome::NotFound { message }
        | Outcome::ServerError { message, .. }
        | Outcome::Unexpected { message, .. } => {
            prop_assert!(
                message.chars().count() <= 301,
                "message of {} chars",
                message.chars().count()
            );
            prop_assert!(
                !message.chars().any(char::is_control),
                "control char in message"
            );
        }
        _ => {}
    }
    if r.status == 429 && !matches!(outcome, Outcome::Captcha { .. }) {
        prop_assert!(outcome.is_retryable(), "429 not retryable: {outcome:?}");
    }
    Ok(())
}
