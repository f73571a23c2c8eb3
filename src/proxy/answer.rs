//! What the site's answer means for the session, judged like the client
//! judges its own (`classify_response`), and the proxy's own answers: a
//! JSON body `{"message","reason","login_url"}` for every refusal, so a
//! pipeline can tell "the proxy token is wrong" from "sign in again".

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use crate::confluence::authority::Refusal;
use crate::confluence::classify::{
    AuthKind, ExpiryReason, Outcome, ResponseFacts, classify_response,
};
use crate::confluence::client::{AuthMode, Deployment};
use crate::confluence::login_page::keep_on_site;

/// What the proxy knows about one answer.
pub(super) struct Seen<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    /// The body, or its first part; empty when it was not looked at.
    pub body: &'a [u8],
    pub mode: AuthMode,
    /// The request was for the REST API (see `forward::is_api_path`).
    pub api: bool,
    /// The request was the current-user probe.
    pub probe: bool,
}

/// Judges an answer: what it says about the session, or `None` (hand it to
/// the client: rate limits and errors included). Like the client: a 401, a
/// 403 "not permitted", a redirect to a login page or an HTML login page
/// where data was expected is a dead cookie session (a refused token with
/// Basic or Bearer); a CAPTCHA header is a CAPTCHA. Unlike the client, an
/// HTML page answering a request outside the REST API (a download, a web
/// page) is what was asked for unless it is a login form, and an anonymous
/// answer is passed on (the session owner's verifications judge that).
pub(super) fn judge(seen: &Seen<'_>, site: &Url, deployment: Deployment) -> Option<Refusal> {
    let facts = ResponseFacts {
        status: seen.status,
        headers: seen.headers,
        body: seen.body,
        auth: seen.mode.auth_kind(),
        probe: seen.probe,
    };
    match keep_on_site(classify_response(&facts), site, deployment) {
        Outcome::SessionExpired {
            reason: ExpiryReason::HtmlInsteadOfJson,
            ..
        } if !seen.api && !looks_like_login_form(seen.body) => None,
        Outcome::CredentialsRejected { .. } if facts.auth != AuthKind::Token => None,
        Outcome::Anonymous => None,
        outcome => Refusal::of(&outcome),
    }
}

/// Words of a sign-in form (Server/DC's Seraph, Cloud's, common SSO pages).
const LOGIN_FORM_MARKERS: &[&[u8]] = &[
    b"os_username",
    b"login-form",
    b"loginform",
    b"j_username",
    b"id.atlassian.com",
    b"type=\"password\"",
];

fn looks_like_login_form(body: &[u8]) -> bool {
    LOGIN_FORM_MARKERS
        .iter()
        .any(|m| body.windows(m.len()).any(|w| w.eq_ignore_ascii_case(m)))
}

/// The proxy's own answer: `{"message","reason","login_url"}`.
pub(super) fn refusal(
    status: StatusCode,
    reason: &str,
    message: &str,
    login_url: Option<&str>,
) -> Response {
    let body = json!({ "message": message, "reason": reason, "login_url": login_url });
    (status, axum::Json(body)).into_response()
}

/// No token, or the wrong one: a plain JSON 401. No `WWW-Authenticate`
/// challenge: a browser would prompt for the token, cache it, and then
/// send it along with requests any web page makes.
pub(super) fn token_required() -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "proxy_token_required",
        "this proxy needs HTTP Basic authentication with a proxy token as the password (any user name): the per-run token printed when the proxy starts, or a client token from `confluence-tui proxy clients add NAME`",
        None,
    )
}

/// No turn within `--max-wait` (the site asked for a pause, or the queue is
/// long): 429 with the time left, in the shape of the site's own errors.
pub(super) fn queue_full(retry_after: std::time::Duration) -> Response {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let secs = secs.max(1);
    let body = json!({
        "statusCode": 429,
        "message": format!(
            "the site asked the proxy to slow down, or too many requests are waiting: try again in {secs} s"
        ),
        "reason": "rate_limited",
    });
    let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// A named client's token past its expiry.
pub(super) fn client_expired() -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "proxy_client_expired",
        "this client token has expired: make a new one with `confluence-tui proxy clients revoke NAME` and `confluence-tui proxy clients add NAME`",
        None,
    )
}

/// A write from a named client not allowed to write.
pub(super) fn client_read_only(method: &str, client: &str) -> Response {
    let mut r = refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        "read_only_client",
        &format!(
            "{method} is a write and the client {client} may only read; add a client with `confluence-tui proxy clients add NAME --allow-writes` for a pipeline that writes"
        ),
        None,
    );
    r.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static(super::forward::ALLOW_READS),
    );
    r
}

/// A request a browser makes on a web page's behalf (`Origin`, or a
/// `Sec-Fetch-Site` other than `none`): never forwarded, token or not.
pub(super) fn cross_site() -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "cross_site_request",
        "this proxy serves programs, not web pages: requests carrying an Origin header or a cross-site Sec-Fetch-Site are refused",
        None,
    )
}

/// A person's browser asking for a page: sent to the same page on the
/// real site, where their own browser session applies.
pub(super) fn to_the_site(url: &Url) -> Response {
    let mut r = refusal(
        StatusCode::FOUND,
        "page_on_the_site",
        "this page lives on the site itself",
        None,
    );
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `GET /.confluence-tui/health`: the session's state and nothing else.
pub(super) fn health(state: &str, usable: bool) -> Response {
    let status = if usable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut r = (status, axum::Json(json!({ "state": state }))).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A request naming a host that is not loopback (DNS rebinding).
pub(super) fn foreign_host() -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "foreign_host",
        "this proxy answers only requests addressed to a loopback host (127.0.0.1, [::1], localhost)",
        None,
    )
}

/// A write without `--allow-writes`: 405 saying how to allow them.
pub(super) fn read_only(method: &str) -> Response {
    let mut r = refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        "read_only",
        &format!(
            "the proxy is read-only: {method} is not forwarded; start it with --allow-writes to forward writes"
        ),
        None,
    );
    r.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static(super::forward::ALLOW_READS),
    );
    r
}

/// A method never forwarded (`CONNECT`, `TRACE`).
pub(super) fn method_refused(method: &str) -> Response {
    let mut r = refusal(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_forwarded",
        &format!("{method} is never forwarded: this proxy is no tunnel"),
        None,
    );
    r.headers_mut().insert(
        header::ALLOW,
        HeaderValue::from_static(super::forward::ALLOW_READS),
    );
    r
}

/// The session is dead: 401 with what to do and where to sign in.
pub(super) fn session_expired(reason: &str, login_url: &str) -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "session_expired",
        &format!(
            "the Confluence session has expired ({reason}); sign in with the browser, then import fresh cookies with `confluence-tui cookies import -`: this proxy picks them up without a restart"
        ),
        Some(login_url),
    )
}

/// A CAPTCHA: 403, never retried.
pub(super) fn captcha(login_url: Option<&str>) -> Response {
    refusal(
        StatusCode::FORBIDDEN,
        "captcha",
        "the site demands a CAPTCHA: sign in through the browser, solve it, then import fresh cookies with `confluence-tui cookies import -`; the proxy does not ask the site again until then",
        login_url,
    )
}

/// A gateway in front of the site wants its own sign-in: 401 with what to
/// do and where (the site is not asked again until fresh credentials).
pub(super) fn gateway(
    gateway: &crate::confluence::classify::Gateway,
    login_url: Option<&str>,
) -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "gateway_sign_in",
        &crate::session::gateway_message(gateway, login_url),
        login_url,
    )
}

/// The stored token was refused.
pub(super) fn rejected(mode: AuthMode) -> Response {
    refusal(
        StatusCode::UNAUTHORIZED,
        "credentials_rejected",
        &format!(
            "the site refused the stored {mode} credentials: make a new API token (or personal access token) and store it with `confluence-tui token set`"
        ),
        None,
    )
}

/// No usable credentials (a vault that cannot be read, none stored).
pub(super) fn no_credentials(message: &str) -> Response {
    refusal(StatusCode::UNAUTHORIZED, "no_credentials", message, None)
}

/// The site could not be reached or failed to answer.
pub(super) fn site_unreachable(timed_out: bool, message: &str) -> Response {
    let status = if timed_out {
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_GATEWAY
    };
    refusal(status, "site_unreachable", message, None)
}

/// The site's TLS gateway ended the handshake over the client certificate.
pub(super) fn client_certificate(message: &str) -> Response {
    refusal(
        StatusCode::BAD_GATEWAY,
        "client_certificate_refused",
        message,
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Url {
        Url::parse("https://c.example.com/confluence").unwrap()
    }

    fn judge_it(
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        mode: AuthMode,
        api: bool,
    ) -> Option<Refusal> {
        let seen = Seen {
            status,
            headers,
            body,
            mode,
            api,
            probe: false,
        };
        judge(&seen, &site(), Deployment::Server)
    }

    fn html() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        h
    }

    #[test]
    fn a_401_is_a_dead_session_for_cookies_and_a_refusal_for_tokens() {
        let h = HeaderMap::new();
        assert!(matches!(
            judge_it(401, &h, b"", AuthMode::Cookie, true),
            Some(Refusal::Expired { status: 401, .. })
        ));
        assert_eq!(
            judge_it(401, &h, b"", AuthMode::Bearer, true),
            Some(Refusal::Rejected { status: 401 })
        );
    }

    #[test]
    fn login_redirects_and_html_login_pages_are_dead_sessions() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LOCATION,
            HeaderValue::from_static("https://c.example.com/login.action?os_destination=x"),
        );
        assert!(matches!(
            judge_it(302, &h, b"", AuthMode::Cookie, true),
            Some(Refusal::Expired { .. })
        ));
        let form = b"<!DOCTYPE html><form id=\"login-form\"><input name=\"os_username\">";
        assert!(matches!(
            judge_it(200, &html(), form, AuthMode::Cookie, true),
            Some(Refusal::Expired { .. })
        ));
        assert!(matches!(
            judge_it(200, &html(), form, AuthMode::Cookie, false),
            Some(Refusal::Expired { .. })
        ));
    }

    #[test]
    fn an_html_page_outside_the_api_is_what_was_asked_for() {
        let page = b"<!DOCTYPE html><html><body><h1>Release notes</h1></body></html>";
        assert_eq!(judge_it(200, &html(), page, AuthMode::Cookie, false), None);
        assert!(matches!(
            judge_it(200, &html(), page, AuthMode::Cookie, true),
            Some(Refusal::Expired { .. })
        ));
    }

    #[test]
    fn captchas_keep_only_on_site_login_urls() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-authentication-denied-reason",
            HeaderValue::from_static("CAPTCHA_CHALLENGE; login-url=https://evil.example.com/login"),
        );
        let Some(Refusal::Captcha {
            status,
            login_url,
            off_site_login_ignored,
        }) = judge_it(403, &h, b"", AuthMode::Cookie, true)
        else {
            panic!("not a CAPTCHA");
        };
        assert_eq!(status, 403);
        assert!(off_site_login_ignored);
        assert_eq!(
            login_url.as_deref(),
            Some("https://c.example.com/confluence/login.action")
        );
    }

    #[test]
    fn rate_limits_forbidden_resources_and_errors_pass() {
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("3"));
        for (status, body) in [
            (429, &b""[..]),
            (503, b""),
            (
                403,
                br#"{"message":"You are not permitted to view the pages of this space."}"#,
            ),
            (404, b"{}"),
            (500, b"oops"),
            (200, br#"{"results":[]}"#),
        ] {
            assert_eq!(
                judge_it(status, &h, body, AuthMode::Cookie, true),
                None,
                "{status}"
            );
        }
    }
}
