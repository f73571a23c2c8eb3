//! The authenticating loopback proxy: lets any Confluence client that
//! speaks HTTP Basic work against the configured site with the session
//! kept in the vault, while the client only ever holds a throw-away token.
//!
//! ```text
//! client ──Basic(any user, proxy token)──▶ 127.0.0.1:PORT/<context>
//!        ◀── rebased links, no Set-Cookie ──   │ door: token, loopback Host
//!                                               │ target: a path under the site
//!                                               │ method: reads (writes if allowed)
//!                                               ▼
//!                                   site + its stored credentials
//! ```
//!
//! [`start`] runs it on the current tokio runtime and returns a
//! [`ProxyHandle`]: its base URL and token for the client, its request log
//! ([`Traffic`]), and [`ProxyHandle::shutdown`]. The session it serves is
//! the process's one session owner ([`Session`]): every request borrows
//! its credentials and reports its answer to it, so the proxy, the
//! keep-alive and (in the app) the worker never hold copies of their own.
//! `docs/proxy.md` says what it forwards, rewrites and refuses, and why.
//!
//! Files: `door.rs` (token and loopback checks), `forward.rs` (target,
//! methods, headers), `exchange.rs` (one request end to end), `answer.rs`
//! (what an answer means; the proxy's own answers), `rewrite.rs` (links
//! rebased onto the proxy), `traffic.rs` (the request log).

mod answer;
mod certificate;
mod door;
mod exchange;
mod forward;
mod listen;
mod pace;
mod rewrite;
mod traffic;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

pub use certificate::ServerCertificate;
pub use door::{PROXY_USERNAME, ProxyToken};
pub use exchange::HEALTH_PATH;
pub use listen::{HEADER_READ_TIMEOUT, Limits, MAX_CONNECTIONS};
pub use pace::{MAX_CONCURRENCY, MAX_WAIT};
pub use traffic::{RequestRecord, Traffic, TrafficTotals};

use self::exchange::Shared;
use self::rewrite::Rebase;
use crate::config::ConfigError;
use crate::confluence::client::{ClientError, transport};
use crate::credentials::{CredentialError, Credentials};
use crate::exit::ErrorClass;
use crate::session::{Session, SessionError, SessionState, audit_words};

/// `127.0.0.1:0`: loopback, any free port (the token changes every run
/// anyway, so a fixed port would buy a client nothing).
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));

/// How long `shutdown` lets requests under way (a long download) finish.
const SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(5);

/// How the proxy runs.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    /// Where to listen: a loopback address (port 0: any free port).
    pub listen: SocketAddr,
    /// Forward writes (POST, PUT, PATCH, DELETE…); cookie sessions then
    /// send `X-Atlassian-Token: no-check`. Off: reads only.
    pub allow_writes: bool,
    /// The token clients must present (HTTP Basic password).
    pub token: ProxyToken,
    /// Open connections and how long a request head may take.
    pub limits: Limits,
    /// Requests in flight to the site at most.
    pub max_concurrency: usize,
    /// Longest a request waits for its turn before the proxy answers 429.
    pub max_wait: Duration,
    /// Serve HTTPS with this certificate (required off loopback).
    pub tls: Option<ServerCertificate>,
    /// Only peers in these networks may connect (required off loopback).
    pub allow_from: Vec<ipnet::IpNet>,
    /// Serve on this Unix socket instead of `listen` (a socket mounted into
    /// a container): mode 0600, or 0660 owned by `group`.
    pub unix: Option<UnixSocket>,
}

/// `--listen unix:PATH [--socket-group G]`.
#[derive(Clone, Debug)]
pub struct UnixSocket {
    pub path: std::path::PathBuf,
    /// The group that may connect too (mode 0660); none: mode 0600.
    pub group: Option<u32>,
}

impl ProxyOptions {
    /// Read-only, on [`DEFAULT_LISTEN`], with `token`.
    pub fn new(token: ProxyToken) -> ProxyOptions {
        ProxyOptions {
            listen: DEFAULT_LISTEN,
            allow_writes: false,
            token,
            limits: Limits::default(),
            max_concurrency: MAX_CONCURRENCY,
            max_wait: MAX_WAIT,
            tls: None,
            allow_from: Vec::new(),
            unix: None,
        }
    }
}

/// Where the proxy finds the session it serves: the process's session
/// owner, which a reload of the app's settings may replace.
#[derive(Clone, Debug)]
pub struct SessionSource(watch::Receiver<Option<Session>>);

impl SessionSource {
    /// Always this session (the `proxy` and `exec --proxy` commands).
    pub fn fixed(session: Session) -> SessionSource {
        let (_tx, rx) = watch::channel(Some(session));
        SessionSource(rx)
    }

    /// Whichever session the app's worker holds now.
    pub fn follow(sessions: watch::Receiver<Option<Session>>) -> SessionSource {
        SessionSource(sessions)
    }

    /// The session in force, if any.
    pub fn current(&self) -> Option<Session> {
        self.0.borrow().clone()
    }
}

/// Why the proxy did not start; [`ProxyError::class`] decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Plain HTTP stays on this machine: the proxy hands out a signed-in
    /// session, and its token would cross the network in clear text.
    #[error(
        "plain HTTP listens on loopback only, not {addr}: whoever reaches it uses your session, and the token would cross the network in clear text; use --listen 127.0.0.1:PORT, or serve other hosts with --tls and --allow-from CIDR"
    )]
    NotLoopback { addr: SocketAddr },
    /// Off loopback, who may connect must be said.
    #[error(
        "--listen {addr} is off loopback: name the networks allowed to connect with --allow-from CIDR (e.g. --allow-from 10.0.0.0/8; repeat it for more)"
    )]
    NoAllowFrom { addr: SocketAddr },
    /// The Unix socket could not be made.
    #[error("cannot serve on the socket {path}: {reason}")]
    Socket { path: String, reason: String },
    /// The TLS configuration could not be built.
    #[error("cannot serve TLS: {0}")]
    Tls(String),
    #[error(
        "cannot listen on {addr}: {source}; pick another port with --listen 127.0.0.1:PORT (0: any free port)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Nothing stored or set to sign in with.
    #[error("{0}")]
    NoCredentials(String),
    #[error(
        "the stored cookies have expired ({reason}); sign in with the browser, copy the Cookie header, run `confluence-tui cookies import -`, then start the proxy again"
    )]
    CookiesExpired { reason: String },
    #[error(
        "the site demanded a CAPTCHA: sign in through the browser{}, solve it, then import fresh cookies with `confluence-tui cookies import -` (`check --retry` asks the site again)",
        .login_url.as_deref().map(|u| format!(" at {u}")).unwrap_or_default()
    )]
    Captcha { login_url: Option<String> },
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The session cannot be used (its credentials cannot be read).
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("the proxy failed: {0}")]
    Internal(String),
}

impl ProxyError {
    /// What kind of failure this is (decides the exit code).
    pub fn class(&self) -> ErrorClass {
        match self {
            ProxyError::NotLoopback { .. }
            | ProxyError::NoAllowFrom { .. }
            | ProxyError::Tls(_)
            | ProxyError::Socket { .. }
            | ProxyError::Bind { .. }
            | ProxyError::Config(_) => ErrorClass::Usage,
            ProxyError::NoCredentials(_) | ProxyError::CookiesExpired { .. } => ErrorClass::Auth,
            ProxyError::Captcha { .. } => ErrorClass::Captcha,
            ProxyError::Credentials(e) => e.class(),
            ProxyError::Client(e) => e.class(),
            ProxyError::Session(e) => e.class,
            ProxyError::Internal(_) => ErrorClass::Internal,
        }
    }
}

/// A running proxy. Dropping it stops it at once; [`ProxyHandle::shutdown`]
/// stops it gracefully (and saves refreshed cookies, and audits the stop).
pub struct ProxyHandle {
    base_url: Url,
    /// Where it listens, as said to people (`127.0.0.1:PORT`, `unix:PATH`).
    shown: String,
    tls_sha256: Option<String>,
    local_addr: SocketAddr,
    token: ProxyToken,
    site: String,
    traffic: Arc<Traffic>,
    sessions: SessionSource,
    creds: Arc<Credentials>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("base_url", &self.base_url.as_str())
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl ProxyHandle {
    /// The proxy's base URL, context path included
    /// (`http://127.0.0.1:PORT/wiki`): what a client takes as the site.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// Where it listens, as said to people (`127.0.0.1:PORT`, `unix:PATH`).
    pub fn listening(&self) -> &str {
        &self.shown
    }

    /// With TLS: the certificate's SHA-256 (lowercase hex).
    pub fn tls_sha256(&self) -> Option<&str> {
        self.tls_sha256.as_deref()
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The user name to tell clients (any is accepted).
    pub fn username(&self) -> &'static str {
        PROXY_USERNAME
    }

    /// The token clients must present (a secret).
    pub fn token(&self) -> &ProxyToken {
        &self.token
    }

    /// The request log: recent records, totals, and a live subscription.
    pub fn traffic(&self) -> Arc<Traffic> {
        self.traffic.clone()
    }

    /// Stops accepting, lets requests under way finish for a few seconds,
    /// saves cookies the site refreshed and audits the stop.
    pub async fn shutdown(mut self) -> Result<(), ProxyError> {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE_PERIOD, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        if let Some(session) = self.sessions.current() {
            session.flush().await;
        }
        let entry =
            audit_words::proxy_stopped(&self.site, &self.shown, self.traffic.totals().requests);
        let creds = self.creds.clone();
        tokio::task::spawn_blocking(move || creds.record(entry))
            .await
            .map_err(|e| ProxyError::Internal(e.to_string()))??;
        Ok(())
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts the proxy for the session's site on the current tokio runtime.
///
/// Refuses before listening when there is nothing usable, exactly as
/// `check` would say from the stored state: no site (usage), no
/// credentials or expired cookies (auth), a stored CAPTCHA (CAPTCHA), an
/// unreadable vault (vault); and a listening address that is not loopback
/// (usage). Audits `proxy_started`.
pub async fn start(sessions: SessionSource, opts: ProxyOptions) -> Result<ProxyHandle, ProxyError> {
    let loopback = opts.unix.is_some() || door::listen_is_loopback(opts.listen);
    if !loopback && opts.tls.is_none() {
        return Err(ProxyError::NotLoopback { addr: opts.listen });
    }
    if !loopback && opts.allow_from.is_empty() {
        return Err(ProxyError::NoAllowFrom { addr: opts.listen });
    }
    let acceptor = opts
        .tls
        .as_ref()
        .map(ServerCertificate::acceptor)
        .transpose()
        .map_err(ProxyError::Tls)?;
    let session = sessions
        .current()
        .ok_or_else(|| ProxyError::Internal("no session to serve".into()))?;
    let settings = session.settings().clone();
    settings.require_base_url()?;
    let (Some(site), Some(deployment), Some(site_key)) = (
        session.site_url().cloned(),
        session.deployment(),
        session.site().map(str::to_string),
    ) else {
        return Err(ProxyError::Internal("the session has no site".into()));
    };
    let tls = match session.tls() {
        Some(tls) => tls.clone(),
        None => crate::confluence::client::Tls::new(settings.ca_bundle.as_deref())?,
    };
    let http = transport(&site, settings.timeout, &tls)?
        // No total timeout: a long download is fine while bytes flow.
        .read_timeout(settings.timeout)
        // Redirects go back to the client, rebased, to follow through us.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProxyError::Client(ClientError::Setup(e.to_string())))?;
    let creds = session.credentials().clone();

    let now = session.refresh().await;
    match &now.state {
        SessionState::NoCredentials { message } => {
            return Err(ProxyError::NoCredentials(message.clone()));
        }
        SessionState::Expired { reason, .. } => {
            return Err(ProxyError::CookiesExpired {
                reason: reason.clone(),
            });
        }
        SessionState::Captcha { login_url, .. } => {
            return Err(ProxyError::Captcha {
                login_url: login_url.clone(),
            });
        }
        SessionState::Gateway {
            gateway, login_url, ..
        } => {
            return Err(ProxyError::Session(SessionError::new(
                ErrorClass::Auth,
                crate::session::gateway_message(gateway, login_url.as_deref()),
            )));
        }
        SessionState::Failed { class, message } => {
            return Err(ProxyError::Session(SessionError::new(
                *class,
                message.clone(),
            )));
        }
        _ => {}
    }
    let mode = now
        .mode
        .unwrap_or(crate::confluence::client::AuthMode::Anonymous);

    let (listener, local_addr, shown) = match &opts.unix {
        Some(unix) => {
            let listener = bind_unix(unix)?;
            // Clients name `localhost` as the host of a socket's URLs.
            let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
            (
                Listener::Unix(listener, unix.path.clone()),
                addr,
                format!("unix:{}", unix.path.display()),
            )
        }
        None => {
            let listener = tokio::net::TcpListener::bind(opts.listen)
                .await
                .map_err(|source| ProxyError::Bind {
                    addr: opts.listen,
                    source,
                })?;
            let local_addr = listener.local_addr().map_err(|source| ProxyError::Bind {
                addr: opts.listen,
                source,
            })?;
            (Listener::Tcp(listener), local_addr, local_addr.to_string())
        }
    };
    let authority = if opts.unix.is_some() {
        "localhost".to_string()
    } else {
        local_addr.to_string()
    };
    let base_url = Url::parse(&format!(
        "{}://{authority}{}",
        if acceptor.is_some() { "https" } else { "http" },
        site.path().trim_end_matches('/')
    ))
    .map_err(|e| ProxyError::Internal(e.to_string()))?;

    let entry = audit_words::proxy_started(&site_key, &shown, mode, opts.allow_writes);
    let c = creds.clone();
    tokio::task::spawn_blocking(move || c.record(entry))
        .await
        .map_err(|e| ProxyError::Internal(e.to_string()))??;

    let pace = Arc::new(pace::Pace::new(opts.max_concurrency, opts.max_wait));
    let traffic = Arc::new(Traffic::with_pace(pace.clone()));
    let shared = Arc::new(Shared {
        token: opts.token.clone(),
        allow_writes: opts.allow_writes,
        login_page: session
            .login_page()
            .map(str::to_string)
            .unwrap_or_else(|| site.to_string()),
        rebase: Rebase::new(&site, &base_url),
        port: local_addr.port(),
        deployment,
        http,
        tls,
        sessions: sessions.clone(),
        site_key: site_key.clone(),
        traffic: traffic.clone(),
        used: std::sync::Mutex::default(),
        // A browser on this machine may be sent to a loopback port under a
        // rebound name; off loopback, TLS names the server instead.
        check_host: acceptor.is_none(),
        pace,
        site,
    });
    let app = Router::new()
        .fallback(exchange::handle)
        .with_state(shared.clone());
    let (stop, stopped) = watch::channel(false);
    let door = Door {
        limits: opts.limits.within_descriptors(),
        tls: acceptor,
        allow_from: opts.allow_from.clone(),
    };
    let task = tokio::spawn(accept_loop(listener, app, door, stopped));
    tracing::info!(listen = %shown, site = %site_key, mode = %mode, writes = shared.allow_writes, "proxy started");
    Ok(ProxyHandle {
        base_url,
        tls_sha256: opts.tls.as_ref().map(ServerCertificate::sha256),
        local_addr,
        shown,
        token: opts.token,
        site: site_key,
        traffic,
        sessions,
        creds,
        stop,
        task: Some(task),
    })
}

/// What a connection meets before its first request.
struct Door {
    limits: listen::Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// Empty: anyone who can reach the address (loopback only).
    allow_from: Vec<ipnet::IpNet>,
}

impl Door {
    fn allows(&self, peer: std::net::IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.allow_from.is_empty() || self.allow_from.iter().any(|n| n.contains(&peer))
    }
}

/// Accepts connections until told to stop, then lets the open ones finish
/// the requests under way (idle ones close at once).
async fn accept_loop(listener: Listener, app: Router, door: Door, mut stop: watch::Receiver<bool>) {
    let connections = Arc::new(listen::Connections::default());
    let mut tasks = tokio::task::JoinSet::new();
    let each = stop.clone();
    let limits = door.limits;
    loop {
        tokio::select! {
            () = listen::stopped(&mut stop) => break,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(Accepted::Tcp(tcp, peer)) => (tcp, peer),
                    Ok(Accepted::Unix(stream)) => {
                        let Some(place) = connections.admit(limits.max_connections) else {
                            continue;
                        };
                        tasks.spawn(listen::serve(stream, app.clone(), place, limits, each.clone()));
                        continue;
                    }
                    Err(e) => {
                        // Out of descriptors or a connection reset before
                        // it was taken: wait a moment rather than spin.
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                if !door.allows(peer.ip()) {
                    tracing::info!(peer = %peer.ip(), "a connection from outside --allow-from was closed");
                    continue;
                }
                let Some(place) = connections.admit(limits.max_connections) else {
                    tracing::debug!("every connection is busy: one more refused");
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let (app, stop) = (app.clone(), each.clone());
                match door.tls.clone() {
                    None => {
                        tasks.spawn(listen::serve(tcp, app, place, limits, stop));
                    }
                    Some(acceptor) => {
                        tasks.spawn(async move {
                            // The handshake counts against the header timeout.
                            let shaken = tokio::time::timeout(
                                limits.header_read_timeout,
                                acceptor.accept(tcp),
                            )
                            .await;
                            match shaken {
                                Ok(Ok(tls)) => listen::serve(tls, app, place, limits, stop).await,
                                Ok(Err(e)) => tracing::debug!(error = %e, "a TLS handshake failed"),
                                Err(_) => tracing::debug!("a TLS handshake took too long"),
                            }
                        });
                    }
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// A TCP or a Unix listener.
enum Listener {
    Tcp(tokio::net::TcpListener),
    /// Its path is removed when the listener goes.
    Unix(tokio::net::UnixListener, std::path::PathBuf),
}

enum Accepted {
    Tcp(tokio::net::TcpStream, SocketAddr),
    Unix(tokio::net::UnixStream),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Accepted> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, a)| Accepted::Tcp(s, a)),
            Listener::Unix(l, _) => l.accept().await.map(|(s, _)| Accepted::Unix(s)),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Binds the Unix socket: a stale socket of ours from a run that crashed is
/// replaced; anything else at the path is refused. Mode 0600 (0660 with a
/// group) before the first connection is accepted.
fn bind_unix(unix: &UnixSocket) -> Result<tokio::net::UnixListener, ProxyError> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    let failed = |reason: String| ProxyError::Socket {
        path: unix.path.display().to_string(),
        reason,
    };
    if let Ok(meta) = std::fs::symlink_metadata(&unix.path) {
        if !meta.file_type().is_socket() {
            return Err(failed(
                "something other than a socket is there; pick another path".into(),
            ));
        }
        crate::fsutil::check_owner(&unix.path, &meta).map_err(|e| failed(e.to_string()))?;
        std::fs::remove_file(&unix.path).map_err(|e| failed(e.to_string()))?;
    }
    let listener = tokio::net::UnixListener::bind(&unix.path).map_err(|e| failed(e.to_string()))?;
    let mode = if unix.group.is_some() { 0o660 } else { 0o600 };
    if let Some(gid) = unix.group {
        rustix::fs::chown(&unix.path, None, Some(rustix::fs::Gid::from_raw(gid)))
            .map_err(|e| failed(format!("cannot give it to group {gid}: {e}")))?;
    }
    std::fs::set_permissions(&unix.path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| failed(e.to_string()))?;
    Ok(listener)
}
