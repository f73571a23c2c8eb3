//! Shared state of a running demo site and the gate every API request
//! passes: counting, latency, CAPTCHA, rate limit, injected errors, sign-in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::DemoFlavor;
use super::data::DemoData;
use super::faults::{CaptchaForm, DemoFaults};
use super::json::SiteLinks;
use super::login;
use super::session::{Caller, DEMO_PAT, Session, demo_basic_header, presented_session};

/// Which endpoint a request hit, for the per-kind counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// `…/rest/api/user/current`
    UserCurrent,
    /// `…/rest/api/space` and `…/rest/api/space/{key}`
    SpacesV1,
    /// `…/rest/api/content` and `…/rest/api/content/{id}`
    ContentV1,
    /// `…/rest/api/space/{key}/content`
    SpaceContentV1,
    /// `/wiki/api/v2/spaces`
    SpacesV2,
    /// `/wiki/api/v2/spaces/{id}/pages`
    SpacePagesV2,
    /// `/wiki/api/v2/pages/{id}`
    PageV2,
    /// `…/download/attachments/{page_id}/{name}`
    Download,
    /// `/login`, `/login.action` (never faulted)
    Login,
    /// Anything else (answered 404)
    Other,
}

const KINDS: usize = 10;

impl PathKind {
    fn slot(self) -> usize {
        self as usize
    }
}

/// State shared by every handler of one demo site.
#[derive(Debug)]
pub(crate) struct SiteState {
    pub flavor: DemoFlavor,
    pub data: DemoData,
    pub links: SiteLinks,
    faults: Mutex<DemoFaults>,
    session: Mutex<Session>,
    /// Per API request, the names (never the values) of the cookies sent.
    cookie_names: Mutex<Vec<Vec<String>>>,
    /// Every request, with the kinds of credentials it carried.
    seen: Mutex<Vec<SeenRequest>>,
    total: AtomicU64,
    per_kind: [AtomicU64; KINDS],
}

/// Who an admitted request runs as, plus a rotated cookie to send back.
#[derive(Debug)]
pub(crate) struct Admitted {
    pub signed_in: bool,
    pub set_cookie: Option<String>,
    pub faults: DemoFaults,
    /// The flavor's session cookie name (for the hostile `Set-Cookie`s).
    pub session_cookie: &'static str,
}

impl Admitted {
    /// Attaches the rotated session cookie, if any, to a response (and the
    /// hostile ones the `hostile_set_cookies` knob asks for).
    pub fn finish(self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        let hostile = if self.faults.hostile_set_cookies && self.signed_in {
            hostile_set_cookies(self.session_cookie)
        } else {
            Vec::new()
        };
        for value in self.set_cookie.into_iter().chain(hostile) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }
}

/// `Set-Cookie`s for the session cookie that no client may keep: another
/// site's domain, and a value far over the 4096-byte limit.
fn hostile_set_cookies(name: &str) -> Vec<String> {
    vec![
        format!("{name}=planted-by-evil-example-com; Domain=evil.example.com; Path=/"),
        format!(
            "{name}={}; Path=/",
            "x".repeat(super::faults::HOSTILE_SET_COOKIE_VALUE_BYTES)
        ),
    ]
}

/// A poisoned lock only means a handler panicked mid-update; the plain data
/// inside is still usable, and a demo site should keep answering.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SiteState {
    /// State for a site at `links` serving `data`.
    pub fn new(flavor: DemoFlavor, data: DemoData, faults: DemoFaults, links: SiteLinks) -> Self {
        SiteState {
            flavor,
            data,
            links,
            faults: Mutex::new(faults),
            session: Mutex::new(Session::new()),
            cookie_names: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            total: AtomicU64::new(0),
            per_kind: Default::default(),
        }
    }

    /// Current fault knobs.
    pub fn faults(&self) -> DemoFaults {
        lock(&self.faults).clone()
    }

    /// Replaces the fault knobs.
    pub fn set_faults(&self, faults: DemoFaults) {
        *lock(&self.faults) = faults;
    }

    /// Clears a CAPTCHA challenge: only a browser sign-in does that.
    pub(crate) fn clear_captcha(&self) {
        lock(&self.faults).captcha = None;
    }

    /// Ends the live session now (the demo's `x`).
    pub(crate) fn end_session(&self) {
        lock(&self.session).end();
    }

    /// Starts demanding a CAPTCHA (the Server/DC header form), or stops;
    /// returns whether one is demanded now (the demo's `X`).
    pub(crate) fn toggle_captcha(&self) -> bool {
        let mut faults = lock(&self.faults);
        faults.captcha = match faults.captcha {
            Some(_) => None,
            None => Some(CaptchaForm::Header403),
        };
        faults.captcha.is_some()
    }

    /// Total requests seen, all paths.
    pub fn request_count(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Requests seen for one kind of path.
    pub fn request_count_for(&self, kind: PathKind) -> u64 {
        self.per_kind[kind.slot()].load(Ordering::Relaxed)
    }

    /// Counts a request and returns its 1-based number.
    pub fn count(&self, kind: PathKind) -> u64 {
        self.per_kind[kind.slot()].fetch_add(1, Ordering::Relaxed);
        self.total.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Per API request so far, the names of the cookies its `Cookie:`
    /// headers carried, in order (an empty list: no cookie sent).
    pub fn cookie_names_seen(&self) -> Vec<Vec<String>> {
        lock(&self.cookie_names).clone()
    }

    /// Every request so far (API, login page, unknown paths), in order.
    pub fn requests_seen(&self) -> Vec<SeenRequest> {
        lock(&self.seen).clone()
    }

    /// Records the cookie names of one request; values are never kept.
    fn log_cookie_names(&self, headers: &HeaderMap) {
        let names = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| {
                pair.split_once('=')
                    .map(|(name, _)| name.trim().to_string())
            })
            .filter(|name| !name.is_empty())
            .collect();
        lock(&self.cookie_names).push(names);
    }

    /// The live session's `Cookie:` header value, renewed if it has died.
    pub fn session_cookie_header(&self) -> String {
        let faults = self.faults();
        lock(&self.session).cookie_header(self.flavor, &faults)
    }

    /// Starts a fresh session (sign-in) and returns its `Set-Cookie` values.
    pub(crate) fn sign_in(&self) -> Vec<String> {
        let mut session = lock(&self.session);
        session.renew();
        let header = session.cookie_header(self.flavor, &DemoFaults::default());
        header
            .split("; ")
            .map(|pair| format!("{pair}; Path=/; HttpOnly; Secure"))
            .collect()
    }

    /// Runs the fault knobs and the sign-in check for an API request.
    pub(crate) async fn admit(
        &self,
        kind: PathKind,
        headers: &HeaderMap,
        uri: &Uri,
    ) -> Result<Admitted, Response> {
        let number = self.count(kind);
        let faults = self.faults();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if let Some(form) = faults.captcha {
            return Err(self.captcha_response(form, faults.captcha_login_url.as_deref()));
        }
        if faults.is_rate_limited(number) {
            let mut r = error_json(
                StatusCode::TOO_MANY_REQUESTS,
                "Rate limit exceeded; retry later.",
            );
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(faults.retry_after_secs),
            );
            return Err(r);
        }
        if let Some(code) = faults.injected_error(number) {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
            return Err(error_json(
                status,
                "The demo site injected a server error; retry.",
            ));
        }
        self.log_cookie_names(headers);
        let session_cookie = super::session::session_cookie_name(self.flavor);
        match self.identify(headers, &faults) {
            _ if faults.anonymous => Ok(Admitted {
                signed_in: false,
                set_cookie: None,
                faults,
                session_cookie,
            }),
            Caller::User { set_cookie } => Ok(Admitted {
                signed_in: true,
                set_cookie,
                faults,
                session_cookie,
            }),
            Caller::Anonymous => Ok(Admitted {
                signed_in: false,
                set_cookie: None,
                faults,
                session_cookie,
            }),
            Caller::Rejected => Err(self.unauthenticated(&faults, uri)),
        }
    }

    fn identify(&self, headers: &HeaderMap, faults: &DemoFaults) -> Caller {
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            if faults.tokens_disabled {
                return Caller::Rejected;
            }
            let auth = auth.to_str().unwrap_or_default();
            let (scheme, rest) = auth.split_once(' ').unwrap_or((auth, ""));
            return match (self.flavor, scheme.to_ascii_lowercase().as_str()) {
                (DemoFlavor::Cloud, "basic") if auth == demo_basic_header() => {
                    Caller::User { set_cookie: None }
                }
                (DemoFlavor::Server, "bearer") if rest.trim() == DEMO_PAT => {
                    Caller::User { set_cookie: None }
                }
                // Real Server/DC ignores a PAT it does not know and runs the
                // request as anonymous instead of failing it.
                (DemoFlavor::Server, "bearer") => Caller::Anonymous,
                _ => Caller::Rejected,
            };
        }
        let presented = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .find_map(|h| presented_session(h, self.flavor));
        match (presented, self.flavor) {
            (Some(value), _) => lock(&self.session).admit(value, self.flavor, faults),
            (None, DemoFlavor::Cloud) => Caller::Rejected,
            (None, DemoFlavor::Server) => Caller::Anonymous,
        }
    }

    /// The CAPTCHA answer; `login_url` replaces the site's own login page in
    /// the header form.
    fn captcha_response(&self, form: CaptchaForm, login_url: Option<&str>) -> Response {
        match form {
            CaptchaForm::Header403 => {
                let mut r = error_json(
                    StatusCode::FORBIDDEN,
                    "CAPTCHA required: sign in through the browser.",
                );
                let login_url = login_url
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{}/login.action", self.links.origin));
                let value = format!("CAPTCHA_CHALLENGE; login-url={login_url}");
                if let Ok(v) = HeaderValue::from_str(&value) {
                    r.headers_mut().insert("X-Authentication-Denied-Reason", v);
                }
                r
            }
            CaptchaForm::Seraph401 => {
                let mut r = error_json(StatusCode::UNAUTHORIZED, "Authentication denied.");
                r.headers_mut().insert(
                    "X-Seraph-LoginReason",
                    HeaderValue::from_static("AUTHENTICATION_DENIED"),
                );
                r
            }
        }
    }

    fn unauthenticated(&self, faults: &DemoFaults, uri: &Uri) -> Response {
        if faults.redirect_to_login {
            let destination = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("os_destination", destination)
                .finish();
            let location = format!("{}/login.action?{query}", self.links.origin);
            let mut r = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
        if faults.html_login_page {
            return login::html(login::login_form_page(None)).into_response();
        }
        if faults.expired_403 {
            return error_json(
                StatusCode::FORBIDDEN,
                "Current user not permitted to use Confluence",
            );
        }
        error_json(
            StatusCode::UNAUTHORIZED,
            "Client must be authenticated to access this resource.",
        )
    }
}

/// One request as the demo site received it: which credentials it carried
/// (cookie names, the `Authorization` scheme), never their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Names of the cookies in its `Cookie:` headers.
    pub cookie_names: Vec<String>,
    /// The scheme of its `Authorization` header (`Basic`, `Bearer`…).
    pub authorization: Option<String>,
    /// Its `X-Atlassian-Token` header.
    pub atlassian_token: Option<String>,
}

/// Middleware: records every request in [`SiteState::requests_seen`].
pub(crate) async fn log_request(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<SiteState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers();
    let cookie_names = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.split_once('=').map(|(n, _)| n.trim().to_string()))
        .filter(|n| !n.is_empty())
        .collect();
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let seen = SeenRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        cookie_names,
        authorization: text("authorization")
            .map(|a| a.split(' ').next().unwrap_or_default().to_string()),
        atlassian_token: text("x-atlassian-token"),
    };
    lock(&state.seen).push(seen);
    next.run(request).await
}

/// Confluence's JSON error body: `{"statusCode":…,"message":…}`.
pub(crate) fn error_json(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "statusCode": status.as_u16(), "message": message })),
    )
        .into_response()
}
