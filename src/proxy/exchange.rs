//! One request through the proxy, start to end: the door, the target, the
//! method, the session in force; then the site's answer is judged, its
//! refreshed cookies kept, its links rebased, and its body streamed (JSON
//! bodies read whole, up to a cap, to be rewritten).

use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt as _;
use url::Url;

use super::SessionSource;
use super::answer::{self, Seen};
use super::door::{self, ProxyToken, Refusal};
use super::forward::{self, Misdirected};
use super::rewrite::{MAX_REWRITTEN_JSON, Rebase, is_json};
use super::traffic::{ChunkStream, Meter, Metered, Traffic};
use crate::confluence::authority::{Judgement, Refusal as SessionRefusal};
use crate::confluence::client::{ClientError, Deployment, network_message};
use crate::session::{Session, SessionState};

/// Where orchestrators ask whether the session is usable; no token needed.
pub const HEALTH_PATH: &str = "/.confluence-tui/health";

/// How much of a non-JSON answer is read to judge it (an HTML login page,
/// a CAPTCHA page, an error body); the rest streams.
const PEEK_BYTES: usize = 64 * 1024;
/// How often one request is sent again because the credentials it carried
/// were superseded while it was out (each time, another request made
/// progress: it rotated the cookie).
const MAX_SUPERSEDED_RESENDS: u32 = 16;

/// Everything the requests of one proxy share.
pub(super) struct Shared {
    pub token: ProxyToken,
    pub allow_writes: bool,
    /// The site's API base (`https://x.atlassian.net/wiki`).
    pub site: Url,
    pub deployment: Deployment,
    /// Where a dead session's user signs in again.
    pub login_page: String,
    /// The port the proxy listens on (absolute-form targets may name it).
    pub port: u16,
    pub rebase: Rebase,
    pub http: reqwest::Client,
    /// The connections' TLS: says a refused client certificate as such.
    pub tls: crate::confluence::client::Tls,
    /// The process's session owner: every request borrows its credentials.
    pub sessions: SessionSource,
    /// The site's identity: a session for another site is never used.
    pub site_key: String,
    pub traffic: Arc<Traffic>,
    /// At most `--max-concurrency` requests to the site; its pauses.
    pub pace: Arc<super::pace::Pace>,
    /// Refuse a `Host` that is not loopback (plain HTTP on loopback).
    pub check_host: bool,
    /// Named clients seen in this run (their first use is recorded).
    pub used: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// The site's answer as far as it was read to judge it.
struct Received {
    status: StatusCode,
    headers: HeaderMap,
    /// A JSON body (read whole, up to the cap, to be rebased).
    json: bool,
    prefix: Vec<u8>,
    /// The body ended within the prefix.
    ended: bool,
    stream: ChunkStream,
    /// The request's slot of `--max-concurrency`, held until the body is read.
    turn: super::pace::Turn,
}

/// How an answer goes back.
enum Answer {
    /// The proxy's own answer (the site was not asked, or its answer was
    /// replaced): counted as refused.
    Refused(Response),
    /// The site's answer, read whole.
    Whole(Response),
    /// The site's answer; its body streams.
    Streamed(Response<()>, ChunkStream),
}

/// The axum handler: every request, whatever its method and path.
pub(super) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    if request.uri().path() == HEALTH_PATH
        && (request.method() == Method::GET || request.method() == Method::HEAD)
    {
        // Orchestrators ask often: not logged as traffic.
        return shared.health().await;
    }
    let meter = Meter::start(
        shared.traffic.clone(),
        request.method().as_str(),
        request.uri().path(),
    );
    let (answer, client) = shared.exchange(request).await;
    let meter = meter.client(client);
    match answer {
        Answer::Refused(r) => {
            let bytes = r.body().size_hint().exact().unwrap_or(0);
            meter.finish(r.status().as_u16(), bytes, true, true);
            r
        }
        Answer::Whole(r) => {
            let bytes = r.body().size_hint().exact().unwrap_or(0);
            meter.finish(r.status().as_u16(), bytes, true, false);
            r
        }
        Answer::Streamed(head, body) => {
            let status = head.status().as_u16();
            let (parts, ()) = head.into_parts();
            Response::from_parts(parts, Body::from_stream(Metered::new(body, status, meter)))
        }
    }
}

impl Shared {
    /// One request; the answer, and the named client it came from.
    async fn exchange(&self, request: Request) -> (Answer, Option<String>) {
        let (parts, body) = request.into_parts();
        if let Some(page) = self.browser_page(&parts) {
            return (Answer::Refused(answer::to_the_site(&page)), None);
        }
        let clients = match self.sessions.current() {
            Some(s) if s.site() == Some(self.site_key.as_str()) => s.proxy_clients().await,
            _ => Arc::new(Vec::new()),
        };
        let now = time::OffsetDateTime::now_utc();
        let caller = match door::admit(&self.token, &clients, now, &parts.headers, self.check_host)
        {
            Ok(caller) => caller,
            Err(refusal) => {
                let r = match refusal {
                    Refusal::NoToken | Refusal::WrongToken => answer::token_required(),
                    Refusal::ClientExpired => answer::client_expired(),
                    Refusal::ForeignHost => answer::foreign_host(),
                    Refusal::CrossSite => answer::cross_site(),
                };
                return (Answer::Refused(r), None);
            }
        };
        let name = caller.name().map(str::to_string);
        if let Some(n) = &name {
            self.note_first_use(n);
        }
        (self.forward(parts, body, &caller).await, name)
    }

    /// A named client's first request of this run: noted in the vault
    /// (`last_used`) and the audit log, off the request's path.
    fn note_first_use(&self, name: &str) {
        let first = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(name.to_string());
        if !first {
            return;
        }
        let Some(session) = self.sessions.current() else {
            return;
        };
        let creds = session.credentials().clone();
        let name = name.to_string();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = creds.proxy_client_used(&name) {
                tracing::error!(error = %e, client = %name, "cannot record a proxy client's first use");
            }
        });
    }

    async fn forward(
        &self,
        parts: axum::http::request::Parts,
        body: axum::body::Body,
        caller: &door::Caller,
    ) -> Answer {
        let url = match forward::target(&parts.uri, &self.site, self.port) {
            Ok(url) => url,
            Err(m) => return Answer::Refused(self.misdirected(m)),
        };
        let method = parts.method.clone();
        let may_write = match caller {
            door::Caller::RunToken => self.allow_writes,
            door::Caller::Client { allow_writes, .. } => *allow_writes,
        };
        if !forward::method_allowed(&method, may_write) {
            return Answer::Refused(match caller {
                _ if may_write => answer::method_refused(method.as_str()),
                door::Caller::Client { name, .. } => {
                    answer::client_read_only(method.as_str(), name)
                }
                door::Caller::RunToken => answer::read_only(method.as_str()),
            });
        }
        let session = match self.sessions.current() {
            Some(s) if s.site() == Some(self.site_key.as_str()) => s,
            _ => {
                return Answer::Refused(answer::refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "site_changed",
                    "the app's settings now name another site; this proxy stops",
                    None,
                ));
            }
        };
        let authority = session.authority();
        let write = forward::is_write(&method);
        // Only a request without a body can be sent twice.
        let resendable = !write && body.is_end_stream();
        let mut body = Some(body);
        let mut resends = 0;
        let received = loop {
            // The site's pace: a slot, and the end of any pause it asked for.
            let turn = match self.pace.turn().await {
                Ok(turn) => turn,
                Err(busy) => return Answer::Refused(answer::queue_full(busy.retry_after)),
            };
            let mut ticket = match authority.ticket().await {
                Ok(t) => t,
                Err(e) => return Answer::Refused(self.blocked(&session, &e)),
            };
            let mut headers = forward::request_headers(&parts.headers);
            headers.extend(ticket.decorations.headers_for(&self.site, &url));
            if may_write && write {
                // Cookie sessions are subject to Confluence's XSRF check
                // on writes; API clients opt out with this header.
                headers.extend(ticket.decorations.write_headers());
            }
            let mut outgoing = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers);
            // A body of any length and framing (HTTP/2 may send one without
            // Content-Length), streamed: never read into memory.
            if let Some(b) = body.take()
                && !b.is_end_stream()
            {
                outgoing = outgoing.body(reqwest::Body::wrap_stream(b.into_data_stream()));
            }
            let resp = match outgoing.send().await {
                Ok(r) => r,
                Err(e) => {
                    if let Some(message) = self.tls.certificate_refusal(&e) {
                        tracing::warn!(error = %message, "a proxied request failed");
                        return Answer::Refused(answer::client_certificate(&message));
                    }
                    let message = format!("cannot reach the site: {}", network_message(&e));
                    tracing::warn!(error = %message, "a proxied request failed");
                    return Answer::Refused(answer::site_unreachable(e.is_timeout(), &message));
                }
            };
            let status = resp.status();
            let site_headers = resp.headers().clone();
            if let Some(pause) = super::pace::pause_asked(status.as_u16(), &site_headers) {
                tracing::info!(
                    seconds = pause.as_secs(),
                    status = status.as_u16(),
                    queued = self.pace.queued(),
                    "the site asked to wait: nothing is sent until then"
                );
                self.pace.pause(pause);
            }
            authority.absorb(&mut ticket, &site_headers, resp.url());
            let content_type = site_headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let head_only = method == Method::HEAD;
            let json = !head_only
                && is_json(&content_type)
                && resp
                    .content_length()
                    .is_none_or(|n| n <= MAX_REWRITTEN_JSON as u64);
            let peek = if head_only {
                0
            } else if json {
                MAX_REWRITTEN_JSON + 1
            } else if needs_a_look(status, &content_type) {
                PEEK_BYTES
            } else {
                0
            };
            let mut stream: ChunkStream = Box::pin(resp.bytes_stream());
            let (prefix, ended) = match read_prefix(&mut stream, peek).await {
                Ok(read) => read,
                Err(e) => {
                    let message = format!("the site's answer broke off: {}", network_message(&e));
                    return Answer::Refused(answer::site_unreachable(e.is_timeout(), &message));
                }
            };
            let seen = Seen {
                status: status.as_u16(),
                headers: &site_headers,
                body: &prefix,
                mode: ticket.mode(),
                api: forward::is_api_path(url.path()),
                probe: forward::is_probe_path(url.path()),
            };
            let verdict = answer::judge(&seen, &self.site, self.deployment);
            let received = Received {
                status,
                headers: site_headers,
                json,
                prefix,
                ended,
                stream,
                turn,
            };
            let Some(refusal) = verdict else {
                break received;
            };
            match authority.judge(&ticket, &refusal).await {
                Judgement::Superseded if resendable && resends < MAX_SUPERSEDED_RESENDS => {
                    resends += 1;
                    tracing::debug!(
                        path = url.path(),
                        "sent again: its credentials were superseded"
                    );
                    continue;
                }
                // A write that carried superseded credentials gets the
                // site's own answer: the session lives on.
                Judgement::Superseded => break received,
                Judgement::Stands => {}
            }
            return Answer::Refused(match refusal {
                SessionRefusal::Expired { reason, .. } => {
                    answer::session_expired(&reason.to_string(), &self.login_page)
                }
                SessionRefusal::Captcha { login_url, .. } => answer::captcha(login_url.as_deref()),
                SessionRefusal::Rejected { .. } | SessionRefusal::Anonymous => {
                    answer::rejected(ticket.mode())
                }
                SessionRefusal::Gateway {
                    gateway, login_url, ..
                } => answer::gateway(&gateway, login_url.as_deref()),
            });
        };
        let Received {
            status,
            headers: site_headers,
            json,
            prefix,
            ended,
            stream,
            turn,
        } = received;
        let mut out_headers = forward::response_headers(&site_headers);
        self.rebase_headers(&mut out_headers);
        let mut head = Response::new(());
        *head.status_mut() = status;
        if json && ended {
            let body = match self.rebase.json(&prefix) {
                Some(rewritten) => {
                    out_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(rewritten.len()));
                    rewritten
                }
                None => prefix,
            };
            *head.headers_mut() = out_headers;
            let (parts, ()) = head.into_parts();
            return Answer::Whole(Response::from_parts(parts, Body::from(body)));
        }
        *head.headers_mut() = out_headers;
        // The slot is free again once the last byte came from the site.
        let stream: ChunkStream = Box::pin(stream.map(move |chunk| {
            let _held = &turn;
            chunk
        }));
        let body = if prefix.is_empty() {
            stream
        } else {
            let first = futures::stream::once(async move { Ok(Bytes::from(prefix)) });
            Box::pin(first.chain(stream))
        };
        Answer::Streamed(head, body)
    }

    /// A person's browser asking for a page (a link an index stored with
    /// the proxy's address): a `GET` or `HEAD` that accepts HTML, carries no
    /// credentials, and names a path under the site outside the REST API.
    /// The same page on the real site answers it.
    fn browser_page(&self, parts: &axum::http::request::Parts) -> Option<Url> {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return None;
        }
        if door::presents_credentials(&parts.headers) {
            return None;
        }
        let html = parts
            .headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/html"));
        if !html {
            return None;
        }
        let url = forward::target(&parts.uri, &self.site, self.port).ok()?;
        (!forward::is_api_path(url.path())).then_some(url)
    }

    /// `Location` and `Link` pointing at the site point at the proxy.
    fn rebase_headers(&self, headers: &mut HeaderMap) {
        for name in [header::LOCATION, header::CONTENT_LOCATION, header::LINK] {
            let Some(value) = headers.get(&name).and_then(|v| v.to_str().ok()) else {
                continue;
            };
            let rebased = if name == header::LINK {
                self.rebase.link_header(value)
            } else {
                self.rebase.url(value)
            };
            if let Some(v) = rebased.and_then(|r| HeaderValue::from_str(&r).ok()) {
                headers.insert(name, v);
            }
        }
    }

    /// The session's state for `GET /.confluence-tui/health`: 200 while
    /// requests can be served, 503 otherwise; the state's word only.
    /// A session not verified since its credentials were read is verified
    /// first (once: it is then known), so the answer is never a guess.
    async fn health(&self) -> Response {
        use crate::session::{Ask, StateWord};
        let word = match self.sessions.current() {
            Some(s) if s.site() == Some(self.site_key.as_str()) => {
                let now = time::OffsetDateTime::now_utc();
                let mut word = s.snapshot().word(now);
                if word == StateWord::Checking
                    && let Ok(seen) = s.verify(Ask::IfUseful, None).await
                {
                    word = seen.word(now);
                }
                word
            }
            _ => StateWord::NoCredentials,
        };
        let usable = matches!(
            word,
            StateWord::SignedIn | StateWord::Expiring | StateWord::Checking
        );
        answer::health(word.as_str(), usable)
    }

    /// Nothing may be sent: why, in the proxy's words.
    fn blocked(&self, session: &Session, e: &ClientError) -> Response {
        match session.snapshot().state {
            SessionState::Expired { reason, .. } => {
                answer::session_expired(&reason, &self.login_page)
            }
            SessionState::Captcha { login_url, .. } => answer::captcha(login_url.as_deref()),
            SessionState::Gateway {
                gateway, login_url, ..
            } => answer::gateway(&gateway, login_url.as_deref()),
            SessionState::Rejected { .. } => answer::rejected(
                session
                    .snapshot()
                    .mode
                    .unwrap_or(crate::confluence::client::AuthMode::Anonymous),
            ),
            _ => answer::no_credentials(&e.to_string()),
        }
    }

    fn misdirected(&self, m: Misdirected) -> Response {
        match m {
            Misdirected::OtherHost => answer::refusal(
                StatusCode::FORBIDDEN,
                "not_an_open_proxy",
                &format!(
                    "this proxy forwards only to {} and only origin-form requests (a path, not a URL of another host)",
                    self.site
                ),
                None,
            ),
            Misdirected::NotAPath => answer::refusal(
                StatusCode::BAD_REQUEST,
                "not_a_path",
                "the request target must be a path",
                None,
            ),
            Misdirected::EncodedSeparator => answer::refusal(
                StatusCode::BAD_REQUEST,
                "encoded_separator",
                "a path segment may not hold an encoded slash or backslash (%2F, %5C) or a backslash: a server decoding it would see another path",
                None,
            ),
            Misdirected::PathParameter => answer::refusal(
                StatusCode::BAD_REQUEST,
                "path_parameter",
                "a path segment may not hold a ';' parameter: a server dropping it would see another path",
                None,
            ),
            Misdirected::ControlCharacter => answer::refusal(
                StatusCode::BAD_REQUEST,
                "control_character",
                "a path may not hold control characters",
                None,
            ),
            Misdirected::OutsideSite => answer::refusal(
                StatusCode::NOT_FOUND,
                "outside_site",
                &format!(
                    "this proxy forwards only paths under {} (the site's context path)",
                    path_or_root(&self.site)
                ),
                None,
            ),
        }
    }
}

fn path_or_root(site: &Url) -> &str {
    match site.path() {
        "" => "/",
        p => p,
    }
}

/// Whether the body of a non-JSON answer must be looked at to judge it:
/// HTML (a login or CAPTCHA page) or an untyped success, and any error.
fn needs_a_look(status: StatusCode, content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    if status.is_success() {
        ct.is_empty() || ct.contains("html")
    } else {
        !status.is_redirection()
    }
}

/// Reads chunks until at least `limit` bytes or the end; true when the
/// stream ended.
async fn read_prefix(
    stream: &mut ChunkStream,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut prefix = Vec::new();
    while prefix.len() < limit {
        match stream.next().await {
            Some(chunk) => prefix.extend_from_slice(&chunk?),
            None => return Ok((prefix, true)),
        }
    }
    Ok((prefix, false))
}
