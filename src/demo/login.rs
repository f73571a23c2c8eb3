//! The demo login page: shows the live session's `Cookie:` header as text to
//! copy (the demo stand-in for the browser's developer tools), and a
//! "Sign in" form that starts a fresh session and clears a CAPTCHA.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

use super::DemoFlavor;
use super::session::{DEMO_API_TOKEN, DEMO_EMAIL, DEMO_PAT};
use super::state::{PathKind, SiteState};

/// Wraps a page as a `text/html` 200.
pub fn html(page: String) -> Html<String> {
    Html(page)
}

/// The sign-in form alone: what a site answers instead of JSON when the
/// session is gone.
pub(crate) fn login_form_page(destination: Option<&str>) -> String {
    let hidden = destination
        .map(|d| {
            format!(
                r#"<input type="hidden" name="os_destination" value="{}">"#,
                escape(d)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Log in - Demo Confluence</title></head>
<body>
<h1>Log in to Demo Confluence</h1>
<form id="login-form" method="post" action="/login">
{hidden}
<label>Username <input name="os_username" value="{DEMO_EMAIL}"></label>
<label>Password <input name="os_password" type="password"></label>
<button type="submit">Sign in</button>
</form>
</body></html>
"#
    )
}

/// GET `/login` and `/login.action`: the live demo cookie plus the form.
/// `?demo=1` signs in at once (a fresh session in `Set-Cookie`, CAPTCHA
/// cleared), so a browser driven without a person (tests, a headless
/// browser) ends up holding the session cookie as a sign-in leaves it.
pub(crate) async fn get_login(State(state): State<Arc<SiteState>>, uri: Uri) -> Response {
    let demo_sign_in = uri.query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "demo" && v == "1")
    });
    if demo_sign_in {
        return post_login(State(state), String::new()).await;
    }
    state.count(PathKind::Login);
    let cookie = state.session_cookie_header();
    let destination = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "os_destination")
            .map(|(_, v)| v.into_owned())
    });
    let token_line = match state.flavor {
        DemoFlavor::Cloud => {
            format!("email <code>{DEMO_EMAIL}</code>, API token <code>{DEMO_API_TOKEN}</code>")
        }
        DemoFlavor::Server => format!("personal access token <code>{DEMO_PAT}</code>"),
    };
    let form = login_form_page(destination.as_deref());
    let body_start = form.find("<h1>").unwrap_or(0);
    let page = format!(
        r#"{head}<h1>Demo Confluence ({flavor})</h1>
<p>This is the built-in demo site of confluence-tui. Copy the whole line below:
it is the <code>Cookie:</code> header of the demo browser session. Then press
<kbd>p</kbd> in confluence-tui to paste it.</p>
<pre id="demo-cookie">{cookie}</pre>
<p>Or sign in with the demo credentials: {token_line}.</p>
{rest}"#,
        head = &form[..body_start],
        flavor = state.flavor.name(),
        cookie = escape(&cookie),
        rest = &form[body_start..],
    );
    html(page).into_response()
}

/// POST `/login`: the "browser sign-in" — a fresh session, CAPTCHA cleared.
pub(crate) async fn post_login(State(state): State<Arc<SiteState>>, body: String) -> Response {
    state.count(PathKind::Login);
    state.clear_captcha();
    let destination = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "os_destination")
        .map(|(_, v)| v.into_owned())
        // Only same-site paths: an open redirect has no place even in a demo.
        .filter(|d| d.starts_with('/') && !d.starts_with("//"))
        .unwrap_or_else(|| "/login".to_string());
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&destination) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    for cookie in state.sign_in() {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
