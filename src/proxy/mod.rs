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
//! ([`Traffic`]), its session events, and [`ProxyHandle::shutdown`].
//! `docs/proxy.md` says what it forwards, rewrites and refuses, and why.
//!
//! Files: `door.rs` (token and loopback checks), `forward.rs` (target,
//! methods, headers), `exchange.rs` (one request end to end), `answer.rs`
//! (what an answer means; the proxy's own answers), `upstream.rs` (the
//! credentials in force, deaths, refreshed cookies), `rewrite.rs` (links
//! rebased onto the proxy), `traffic.rs` (the request log).

mod answer;
mod door;
mod exchange;
mod forward;
mod rewrite;
mod traffic;
mod upstream;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use time::OffsetDateTime;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use url::Url;

pub use door::{PROXY_USERNAME, ProxyToken};
pub use traffic::{RequestRecord, Traffic, TrafficTotals};

use self::exchange::Shared;
use self::rewrite::Rebase;
use self::upstream::{Resolved, Upstream};
use crate::auth::{AuthError, resolve};
use crate::config::{ConfigError, Settings};
use crate::confluence::client::{ClientError, RetryPolicy, api_base, detect_deployment, transport};
use crate::confluence::login_page::site_login_page;
use crate::credentials::{CredentialError, Credentials};
use crate::exit::ErrorClass;
use crate::session::{
    FirstCheck, KeepAlive, KeepAliveError, KeepAliveEvent, KeepAliveOptions, Notifier,
};
use crate::vault::{MachineIdSource, StoredSession, VaultStamp};
use crate::worker::{SettingsSource, WorkerOptions, audit_words};

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
    /// The machine id the vault is bound to (tests inject one).
    pub machine_id: MachineIdSource,
}

impl ProxyOptions {
    /// Read-only, on [`DEFAULT_LISTEN`], with `token`.
    pub fn new(token: ProxyToken) -> ProxyOptions {
        ProxyOptions {
            listen: DEFAULT_LISTEN,
            allow_writes: false,
            token,
            machine_id: MachineIdSource::System,
        }
    }
}

/// Why the proxy did not start; [`ProxyError::class`] decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// Only this machine may knock: the proxy hands out a signed-in session.
    #[error(
        "the proxy listens on loopback only, not {addr}: whoever reaches it uses your session; use --listen 127.0.0.1:PORT (or [::1]:PORT)"
    )]
    NotLoopback { addr: SocketAddr },
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
    #[error(transparent)]
    KeepAlive(#[from] KeepAliveError),
    #[error("the proxy failed: {0}")]
    Internal(String),
}

impl ProxyError {
    /// What kind of failure this is (decides the exit code).
    pub fn class(&self) -> ErrorClass {
        match self {
            ProxyError::NotLoopback { .. } | ProxyError::Bind { .. } | ProxyError::Config(_) => {
                ErrorClass::Usage
            }
            ProxyError::NoCredentials(_) | ProxyError::CookiesExpired { .. } => ErrorClass::Auth,
            ProxyError::Captcha { .. } => ErrorClass::Captcha,
            ProxyError::Credentials(e) => e.class(),
            ProxyError::Client(e) => e.class(),
            ProxyError::KeepAlive(_) | ProxyError::Internal(_) => ErrorClass::Internal,
        }
    }
}

/// A running proxy. Dropping it stops it at once; [`ProxyHandle::shutdown`]
/// stops it gracefully (and saves refreshed cookies, and audits the stop).
pub struct ProxyHandle {
    base_url: Url,
    local_addr: SocketAddr,
    token: ProxyToken,
    site: String,
    traffic: Arc<Traffic>,
    shared: Arc<Shared>,
    creds: Arc<Credentials>,
    keepalive: Option<KeepAlive>,
    /// Kept to hand out fresh receivers (it holds at most a few events).
    session: broadcast::Receiver<KeepAliveEvent>,
    stop: Option<oneshot::Sender<()>>,
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

    /// The session's state changes as the keep-alive and the proxy's own
    /// requests learn them (a death, a CAPTCHA, back after an import).
    pub fn session_events(&self) -> broadcast::Receiver<KeepAliveEvent> {
        self.session.resubscribe()
    }

    /// Stops accepting, lets requests under way finish for a few seconds,
    /// saves cookies the site refreshed, stops the keep-alive and audits
    /// the stop.
    pub async fn shutdown(mut self) -> Result<(), ProxyError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE_PERIOD, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        if let Some(k) = self.keepalive.take() {
            k.stop();
        }
        self.shared.upstream.flush().await;
        let entry = audit_words::proxy_stopped(
            &self.site,
            &self.local_addr.to_string(),
            self.traffic.totals().requests,
        );
        let creds = self.creds.clone();
        tokio::task::spawn_blocking(move || creds.record(entry))
            .await
            .map_err(|e| ProxyError::Internal(e.to_string()))??;
        Ok(())
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Starts the proxy for the configured site on the current tokio runtime.
///
/// Refuses before listening when there is nothing usable, exactly as
/// `check` would say from the stored state: no site (usage), no
/// credentials or expired cookies (auth), a stored CAPTCHA (CAPTCHA), an
/// unreadable vault (vault); and a listening address that is not loopback
/// (usage). Audits `proxy_started`.
pub async fn start(settings: Settings, opts: ProxyOptions) -> Result<ProxyHandle, ProxyError> {
    if !door::listen_is_loopback(opts.listen) {
        return Err(ProxyError::NotLoopback { addr: opts.listen });
    }
    let base = settings.require_base_url()?.clone();
    let deployment = detect_deployment(&base, settings.deployment);
    let site = api_base(&base, deployment);
    let http = transport(&site, settings.timeout, settings.ca_bundle.as_deref())?
        // No total timeout: a long download is fine while bytes flow.
        .read_timeout(settings.timeout)
        // Redirects go back to the client, rebased, to follow through us.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ProxyError::Client(ClientError::Setup(e.to_string())))?;
    let creds = Arc::new(Credentials::with_machine_id(
        &settings,
        opts.machine_id.clone(),
    ));

    let (s, c) = (settings.clone(), creds.clone());
    let (resolved, stamp) = tokio::task::spawn_blocking(move || {
        let stamp = VaultStamp::of(&c.paths().vault_file);
        (resolve(&s, &c, OffsetDateTime::now_utc()), stamp)
    })
    .await
    .map_err(|e| ProxyError::Internal(e.to_string()))?;
    let resolved = match resolved {
        Ok(r) => r,
        Err(AuthError::NotConfigured(message)) => return Err(ProxyError::NoCredentials(message)),
        Err(AuthError::CookiesExpired { reason }) => {
            return Err(ProxyError::CookiesExpired { reason });
        }
        Err(AuthError::Credentials(e)) => return Err(ProxyError::Credentials(e)),
    };
    if let Some(StoredSession::Captcha { login_url, .. }) = resolved.stored {
        return Err(ProxyError::Captcha { login_url });
    }
    let mode = resolved.credential.mode();

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
    let base_url = Url::parse(&format!(
        "http://{local_addr}{}",
        site.path().trim_end_matches('/')
    ))
    .map_err(|e| ProxyError::Internal(e.to_string()))?;

    let site_key = creds.site().map(ToString::to_string).unwrap_or_default();
    let entry =
        audit_words::proxy_started(&site_key, &local_addr.to_string(), mode, opts.allow_writes);
    let c = creds.clone();
    tokio::task::spawn_blocking(move || c.record(entry))
        .await
        .map_err(|e| ProxyError::Internal(e.to_string()))??;

    let worker = WorkerOptions {
        // The keep-alive's worker never reloads its settings.
        source: SettingsSource::Vars(Default::default()),
        machine_id: opts.machine_id.clone(),
        retry: RetryPolicy::default(),
        login_page: None,
    };
    let keepalive_opts = KeepAliveOptions {
        interval: (!settings.keepalive_interval.is_zero()).then_some(settings.keepalive_interval),
        first: FirstCheck::AfterInterval,
        notifier: Notifier::new(settings.notify_cmd.clone(), base.to_string()),
        browser: settings.browser.clone(),
    };
    let (keepalive, session) = KeepAlive::start(settings.clone(), worker, keepalive_opts)?;

    let traffic = Arc::new(Traffic::default());
    let shared = Arc::new(Shared {
        token: opts.token.clone(),
        allow_writes: opts.allow_writes,
        login_page: site_login_page(&site, deployment),
        rebase: Rebase::new(&site, &base_url),
        port: local_addr.port(),
        deployment,
        http,
        upstream: Upstream::new(
            settings,
            creds.clone(),
            Resolved {
                credential: resolved.credential,
                expires_at: resolved.expires_at,
            },
            stamp,
        ),
        traffic: traffic.clone(),
        observer: keepalive.observer(),
        site,
    });
    let app = Router::new()
        .fallback(exchange::handle)
        .with_state(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the proxy stopped serving");
        }
    });
    tracing::info!(listen = %local_addr, site = %site_key, mode = %mode, writes = shared.allow_writes, "proxy started");
    Ok(ProxyHandle {
        base_url,
        local_addr,
        token: opts.token,
        site: site_key,
        traffic,
        shared,
        creds,
        keepalive: Some(keepalive),
        session,
        stop: Some(stop),
        task: Some(task),
    })
}
