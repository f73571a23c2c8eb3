//! Starting, observing and stopping one demo site.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

use super::json::SiteLinks;
use super::routes::router;
use super::state::{PathKind, SiteState};
use super::{DemoConfig, DemoError, DemoFaults, DemoFlavor};

/// How long `shutdown` waits for in-flight requests before cutting them off.
const SHUTDOWN_GRACE_PERIOD: Duration = Duration::from_secs(2);

/// The demo's knobs, for the app that runs the demo: cheap to clone, usable
/// from any thread, and alive only as long as the site matters.
#[derive(Clone)]
pub struct DemoControl {
    state: Arc<SiteState>,
}

impl fmt::Debug for DemoControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoControl").finish_non_exhaustive()
    }
}

impl DemoControl {
    /// Ends the live demo session now: its cookies are refused from the
    /// next request on, and the login page hands out a fresh session.
    pub fn end_session(&self) {
        self.state.end_session();
    }

    /// Makes the site demand a CAPTCHA (403 with
    /// `X-Authentication-Denied-Reason`), or stops; returns whether it
    /// demands one now. A sign-in through the login page also stops it.
    pub fn toggle_captcha(&self) -> bool {
        self.state.toggle_captcha()
    }
}

/// A running demo site; dropping it stops the server.
pub struct DemoServer {
    addr: SocketAddr,
    base_url: Url,
    login_url: Url,
    state: Arc<SiteState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for DemoServer {
    // Manual so the live session value never reaches a log via `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoServer")
            .field("addr", &self.addr)
            .field("flavor", &self.state.flavor)
            .finish_non_exhaustive()
    }
}

impl DemoServer {
    /// Binds `addr` (loopback only; port 0 picks a free one) and starts serving.
    pub async fn start(config: DemoConfig, addr: SocketAddr) -> Result<DemoServer, DemoError> {
        if !addr.ip().is_loopback() {
            return Err(DemoError::NotLoopback { addr });
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| DemoError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| DemoError::Bind { addr, source })?;
        let context = match config.flavor {
            DemoFlavor::Cloud => "/wiki",
            DemoFlavor::Server => "",
        };
        let links = SiteLinks {
            origin: format!("http://{addr}"),
            context,
            flavor: config.flavor,
        };
        let base_url = Url::parse(&links.base()).map_err(|_| DemoError::Url { addr })?;
        let login_url =
            Url::parse(&format!("{}/login", links.origin)).map_err(|_| DemoError::Url { addr })?;
        let state = Arc::new(SiteState::new(
            config.flavor,
            config.data,
            config.faults,
            links,
        ));
        let app = router(Arc::clone(&state));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            // Serving ends only on shutdown or a listener failure; neither
            // has anyone left to report to.
            let _ = serve.await;
        });
        Ok(DemoServer {
            addr,
            base_url,
            login_url,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The site URL a client is configured with (`…/wiki` on Cloud).
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// The login page showing the demo cookie.
    pub fn login_url(&self) -> Url {
        self.login_url.clone()
    }

    /// The flavor being imitated.
    pub fn flavor(&self) -> DemoFlavor {
        self.state.flavor
    }

    /// The live demo session's `Cookie:` header value; renews a dead session
    /// first, exactly as visiting the login page does.
    pub fn session_cookie_header(&self) -> String {
        self.state.session_cookie_header()
    }

    /// The knobs the demo's keys turn.
    pub fn control(&self) -> DemoControl {
        DemoControl {
            state: Arc::clone(&self.state),
        }
    }

    /// Replaces the fault knobs; takes effect on the next request.
    pub fn set_faults(&self, faults: DemoFaults) {
        self.state.set_faults(faults);
    }

    /// The fault knobs in force.
    pub fn faults(&self) -> DemoFaults {
        self.state.faults()
    }

    /// Per API request so far, the names (never the values) of the cookies
    /// it sent, in order; the login page is not recorded.
    pub fn cookie_names_seen(&self) -> Vec<Vec<String>> {
        self.state.cookie_names_seen()
    }

    /// Every request so far, in order, with the kinds of credentials it
    /// carried (never their values).
    pub fn requests_seen(&self) -> Vec<super::SeenRequest> {
        self.state.requests_seen()
    }

    /// Requests served so far, every path.
    pub fn request_count(&self) -> u64 {
        self.state.request_count()
    }

    /// Requests served so far for one kind of path.
    pub fn request_count_for(&self, kind: PathKind) -> u64 {
        self.state.request_count_for(kind)
    }

    /// Stops accepting, lets in-flight requests finish briefly, then stops.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            // Idle keep-alive connections can hold graceful shutdown open.
            if tokio::time::timeout(SHUTDOWN_GRACE_PERIOD, &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
