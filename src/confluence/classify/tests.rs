//! Unit tests of response classification.

use super::*;
use reqwest::header::HeaderValue;

fn facts<'a>(
    status: u16,
    headers: &'a HeaderMap,
    body: &'a [u8],
    auth: AuthKind,
    probe: bool,
) -> ResponseFacts<'a> {
    ResponseFacts {
        status,
        headers,
        body,
        auth,
        probe,
    }
}

fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    m
}

#[test]
fn captcha_header_403_gives_login_url() {
    let hm = h(&[(
        "x-authentication-denied-reason",
        "CAPTCHA_CHALLENGE; login-url=https://c.example.com/login.action",
    )]);
    let o = classify_response(&facts(403, &hm, b"", AuthKind::Cookie, false));
    assert_eq!(
        o,
        Outcome::Captcha {
            status: 403,
            login_url: Some("https://c.example.com/login.action".into()),
            off_site_login_ignored: false,
        }
    );
    assert!(!o.is_retryable());
}

#[test]
fn seraph_denied_is_captcha_even_on_200() {
    let hm = h(&[("x-seraph-loginreason", "AUTHENTICATION_DENIED")]);
    for status in [200, 401] {
        assert!(matches!(
            classify_response(&facts(status, &hm, b"", AuthKind::Token, true)),
            Outcome::Captcha { .. }
        ));
    }
}

#[test]
fn unauthorized_depends_on_auth_kind() {
    let hm = HeaderMap::new();
    let body = br#"{"message":"Client must be authenticated","statusCode":401}"#;
    assert!(matches!(
        classify_response(&facts(401, &hm, body, AuthKind::Cookie, false)),
        Outcome::SessionExpired {
            reason: ExpiryReason::Unauthorized,
            ..
        }
    ));
    assert_eq!(
        classify_response(&facts(401, &hm, body, AuthKind::Token, false)),
        Outcome::CredentialsRejected {
            status: 401,
            message: "Client must be authenticated".into()
        }
    );
}

#[test]
fn forbidden_403_versus_not_permitted() {
    let hm = HeaderMap::new();
    let np = br#"{"message":"Current user not permitted to use Confluence","statusCode":403}"#;
    assert!(matches!(
        classify_response(&facts(403, &hm, np, AuthKind::Cookie, false)),
        Outcome::SessionExpired {
            reason: ExpiryReason::NotPermitted,
            ..
        }
    ));
    let other = br#"{"message":"No permission to view space"}"#;
    assert!(matches!(
        classify_response(&facts(403, &hm, other, AuthKind::Cookie, false)),
        Outcome::Forbidden { .. }
    ));
    assert!(matches!(
        classify_response(&facts(403, &hm, other, AuthKind::Cookie, true)),
        Outcome::SessionExpired { .. }
    ));
}

#[test]
fn login_redirects_and_html_pages_are_dead_sessions() {
    for loc in [
        "/login.action?os_destination=%2Frest",
        "https://id.atlassian.com/login?continue=x",
        "https://sso.example.com/saml/login",
    ] {
        let hm = h(&[("location", loc)]);
        assert!(
            matches!(
                classify_response(&facts(302, &hm, b"", AuthKind::Cookie, false)),
                Outcome::SessionExpired {
                    reason: ExpiryReason::LoginRedirect { .. },
                    ..
                }
            ),
            "{loc}"
        );
    }
    let hm = h(&[("content-type", "text/html;charset=UTF-8")]);
    let page =
        b"<!DOCTYPE html><html><form id=\"loginform\"><input name=\"os_username\"></form></html>";
    assert!(matches!(
        classify_response(&facts(200, &hm, page, AuthKind::Cookie, false)),
        Outcome::SessionExpired {
            reason: ExpiryReason::HtmlInsteadOfJson,
            ..
        }
    ));
    let none = HeaderMap::new();
    assert!(matches!(
        classify_response(&facts(
            200,
            &none,
            b"\n  <html><body>x</body></html>",
            AuthKind::Cookie,
            false
        )),
        Outcome::SessionExpired { .. }
    ));
}

#[test]
fn html_captcha_page_is_captcha() {
    let hm = h(&[("content-type", "text/html")]);
    let page = b"<html><div id=\"captcha-container\">Please verify</div></html>";
    assert!(matches!(
        classify_response(&facts(200, &hm, page, AuthKind::Cookie, false)),
        Outcome::Captcha { .. }
    ));
}

#[test]
fn empty_200_with_failed_seraph_reason_is_expired() {
    let hm = h(&[("x-seraph-loginreason", "AUTHENTICATED_FAILED")]);
    assert!(matches!(
        classify_response(&facts(200, &hm, b"", AuthKind::Cookie, true)),
        Outcome::SessionExpired {
            reason: ExpiryReason::SeraphLoginFailed { .. },
            ..
        }
    ));
    assert!(matches!(
        classify_response(&facts(401, &hm, b"", AuthKind::Token, true)),
        Outcome::CredentialsRejected { .. }
    ));
    let ok = h(&[("x-seraph-loginreason", "OK")]);
    assert_eq!(
        classify_response(&facts(
            200,
            &ok,
            br#"{"type":"known"}"#,
            AuthKind::Cookie,
            true
        )),
        Outcome::Ok
    );
}

#[test]
fn anonymous_current_user_is_not_ok() {
    let hm = HeaderMap::new();
    let body = br#"{"type":"anonymous","displayName":"Anonymous"}"#;
    assert_eq!(
        classify_response(&facts(200, &hm, body, AuthKind::Token, true)),
        Outcome::Anonymous
    );
    assert_eq!(
        classify_response(&facts(200, &hm, body, AuthKind::Token, false)),
        Outcome::Ok
    );
}

#[test]
fn rate_limits_clamp_absurd_retry_after() {
    let hm = h(&[("retry-after", "9223372036854775807")]);
    assert_eq!(
        classify_response(&facts(429, &hm, b"", AuthKind::Token, false)),
        Outcome::RateLimited {
            status: 429,
            retry_after: Some(MAX_RETRY_AFTER)
        }
    );
    let hm = h(&[("retry-after", "99999999999999999999999999")]);
    assert_eq!(retry_after(&hm), Some(MAX_RETRY_AFTER));
    let hm = h(&[("retry-after", "3")]);
    assert_eq!(
        classify_response(&facts(503, &hm, b"", AuthKind::Token, false)),
        Outcome::RateLimited {
            status: 503,
            retry_after: Some(Duration::from_secs(3))
        }
    );
    let hm = h(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]);
    assert_eq!(retry_after(&hm), None);
    assert!(
        classify_response(&facts(429, &HeaderMap::new(), b"", AuthKind::Token, false))
            .is_retryable()
    );
}

#[test]
fn server_errors_and_retryability() {
    let hm = HeaderMap::new();
    for s in [502, 503, 504] {
        assert!(
            classify_response(&facts(s, &hm, b"", AuthKind::Token, false)).is_retryable(),
            "{s}"
        );
    }
    let o = classify_response(&facts(
        500,
        &hm,
        br#"{"message":"boom"}"#,
        AuthKind::Token,
        false,
    ));
    assert_eq!(
        o,
        Outcome::ServerError {
            status: 500,
            message: "boom".into()
        }
    );
    assert!(!o.is_retryable());
}

#[test]
fn error_bodies_are_read_leniently() {
    assert_eq!(
        error_message(br#"{"errors":[{"status":400,"code":"INVALID","title":"Bad cursor"}]}"#),
        "Bad cursor"
    );
    assert_eq!(error_message(br#"{"errorMessages":["a","b"]}"#), "a; b");
    assert_eq!(error_message(br#"{"reason":"Not found"}"#), "Not found");
    assert_eq!(error_message(b"plain text\nerror"), "plain text error");
    assert_eq!(error_message(b"<html>x</html>"), "an HTML page");
    assert_eq!(error_message(b""), "no message");
}

#[test]
fn one_list_of_login_markers_covers_sso_and_oauth() {
    for login in [
        "/login.action?os_destination=%2Frest",
        "https://id.atlassian.com/login",
        "https://idp.example.com/SAML2/SSO/Redirect",
        "https://c.example.com/plugins/servlet/oauth/authorize",
        "https://login.microsoftonline.com/x/oauth2/v2.0/authorize",
        "https://c.example.com/openid/signin",
    ] {
        assert!(is_login_url(login), "{login}");
    }
    for other in [
        "https://c.example.com/rest/api/space?start=25",
        "/wiki/api/v2/spaces?cursor=abc",
    ] {
        assert!(!is_login_url(other), "{other}");
    }
}

#[test]
fn a_gateway_login_redirect_is_the_gateway_not_an_expiry() {
    let cases = [
        (
            "https://acme.cloudflareaccess.com/cdn-cgi/access/login/wiki.acme.com?kid=1",
            Gateway::CloudflareAccess,
        ),
        ("/my.policy", Gateway::F5),
        ("https://wiki.acme.com/vdesk/hangup.php3", Gateway::F5),
        (
            "https://login.microsoftonline.com/tenant/oauth2/authorize?x=1",
            Gateway::MicrosoftEntra,
        ),
    ];
    for (location, want) in cases {
        let hm = h(&[("location", location)]);
        for auth in [AuthKind::Cookie, AuthKind::Token] {
            match classify_response(&facts(302, &hm, b"", auth, true)) {
                Outcome::GatewaySignIn {
                    gateway,
                    login_url,
                    status,
                } => {
                    assert_eq!(gateway, want, "{location}");
                    assert_eq!(login_url.as_deref(), Some(location));
                    assert_eq!(status, 302);
                }
                other => panic!("{location}: {other:?}"),
            }
        }
    }
}

#[test]
fn negotiate_is_a_gateway_and_a_plain_401_is_not() {
    let hm = h(&[("www-authenticate", "Negotiate")]);
    assert_eq!(
        classify_response(&facts(401, &hm, b"", AuthKind::Token, true)),
        Outcome::GatewaySignIn {
            gateway: Gateway::Negotiate,
            login_url: None,
            status: 401,
        }
    );
    let hm = h(&[("www-authenticate", "Basic realm=\"Confluence\"")]);
    assert!(matches!(
        classify_response(&facts(401, &hm, b"", AuthKind::Token, true)),
        Outcome::CredentialsRejected { .. }
    ));
}

#[test]
fn a_redirect_that_is_no_sign_in_is_kept_as_a_redirect() {
    let hm = h(&[("location", "https://c.example.com/confluence/other")]);
    assert_eq!(
        classify_response(&facts(301, &hm, b"", AuthKind::Token, false)),
        Outcome::Redirect {
            status: 301,
            location: "https://c.example.com/confluence/other".into(),
        }
    );
}
