//! The proxy's accept loop: every connection is served over HTTP/1 with a
//! header-read timeout (which also closes a keep-alive connection left idle
//! between requests) and counted against a cap on open connections. At the
//! cap, the oldest connection with no request under way is closed to make
//! room, so a flood of idle or slow connections (no token needed to open
//! one) neither exhausts descriptors nor keeps a real client out: the
//! newest connection, about to send its request, is the last to go.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

/// How long a client may take to send a request's headers, counted from
/// the moment the connection is ready for one (a new connection, or one
/// kept alive after an answer): a slow or silent client is cut then.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Open connections per listener; at the cap, the oldest idle one goes.
pub const MAX_CONNECTIONS: usize = 1024;
/// The largest request head (request line and headers) read.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// The connection limits of one listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: HEADER_READ_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// These limits within what the process may open: the soft descriptor
    /// limit is raised to the hard one first (as servers do), and the cap
    /// leaves room for the vault, the log and the site's connections.
    pub fn within_descriptors(mut self) -> Limits {
        if let Some(room) = descriptor_room()
            && self.max_connections > room
        {
            tracing::warn!(
                asked = self.max_connections,
                allowed = room,
                "fewer open connections than asked: the descriptor limit (ulimit -n) is low"
            );
            self.max_connections = room.max(1);
        }
        self
    }
}

/// Descriptors left for client connections after raising the soft limit
/// to the hard one; `None` when unlimited or unknown.
#[cfg(unix)]
fn descriptor_room() -> Option<usize> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    /// Kept for everything but client connections.
    const RESERVED: u64 = 128;
    let now = getrlimit(Resource::Nofile);
    if now.current != now.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: now.maximum,
                maximum: now.maximum,
            },
        );
    }
    let current = getrlimit(Resource::Nofile).current?;
    usize::try_from(current.saturating_sub(RESERVED)).ok()
}

#[cfg(not(unix))]
fn descriptor_room() -> Option<usize> {
    None
}

/// One open connection as the cap sees it.
struct Open {
    /// Requests under way (answers still streaming included).
    busy: Arc<AtomicUsize>,
    /// Told to close (the cap needs its place).
    evict: Arc<Notify>,
}

/// The open connections of one listener, oldest first.
#[derive(Default)]
pub(super) struct Connections {
    inner: Mutex<ConnectionsInner>,
}

#[derive(Default)]
struct ConnectionsInner {
    next: u64,
    open: BTreeMap<u64, Open>,
}

/// A connection's place among the open ones; leaving frees it.
pub(super) struct Place {
    id: u64,
    busy: Arc<AtomicUsize>,
    evict: Arc<Notify>,
    connections: Arc<Connections>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.connections.lock().open.remove(&self.id);
    }
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, ConnectionsInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for a new connection: at the cap, the oldest idle one is
    /// told to close; `None` when every open connection is busy.
    pub(super) fn admit(self: &Arc<Self>, cap: usize) -> Option<Place> {
        let mut inner = self.lock();
        if inner.open.len() >= cap.max(1) {
            let oldest_idle = inner
                .open
                .iter()
                .find(|(_, o)| o.busy.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(gone) = inner.open.remove(&oldest_idle) {
                gone.evict.notify_one();
            }
        }
        let id = inner.next;
        inner.next += 1;
        let busy = Arc::new(AtomicUsize::new(0));
        let evict = Arc::new(Notify::new());
        inner.open.insert(
            id,
            Open {
                busy: busy.clone(),
                evict: evict.clone(),
            },
        );
        Some(Place {
            id,
            busy,
            evict,
            connections: self.clone(),
        })
    }

    /// How many connections are open.
    #[cfg(test)]
    pub(super) fn count(&self) -> usize {
        self.lock().open.len()
    }
}

/// Serves one connection until it ends, is evicted, or the listener stops
/// (then requests under way finish and the connection closes).
pub(super) async fn serve<IO>(
    io: IO,
    app: Router,
    place: Place,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let busy = place.busy.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let app = app.clone();
        let guard = Busy::enter(busy.clone());
        async move {
            let response = app
                .oneshot(request.map(Body::new))
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            Ok::<_, Infallible>(response.map(|body| Body::new(Guarded { body, guard })))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let evict = place.evict.clone();
    tokio::select! {
        _ = conn.as_mut() => return,
        () = evict.notified() => return,
        () = stopped(&mut stop) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
    drop(place);
}

/// Resolves once the listener is told to stop (or its handle is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// A request under way on its connection, until its answer is sent.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(count)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project_lite::pin_project! {
    /// An answer's body that keeps its connection counted busy until the
    /// last byte went out (a long download is not idle).
    struct Guarded {
        #[pin]
        body: Body,
        guard: Busy,
    }
}

impl http_body::Body for Guarded {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let c = Arc::new(Connections::default());
        let a = c.admit(2).unwrap();
        let b = c.admit(2).unwrap();
        let _busy_a = Busy::enter(a.busy.clone());
        // `a` is busy, `b` idle: `b` goes although `a` is older.
        let evicted = b.evict.clone();
        let third = c.admit(2).unwrap();
        assert_eq!(c.count(), 2);
        {
            use futures::FutureExt as _;
            let told = evicted.notified();
            assert!(
                told.now_or_never().is_some(),
                "the idle one was told to close"
            );
            let kept = a.evict.notified();
            assert!(kept.now_or_never().is_none(), "the busy one stays");
        }
        // Everyone busy: no room.
        let _busy_third = Busy::enter(third.busy.clone());
        assert!(c.admit(2).is_none());
        drop(b);
        drop(third);
        assert_eq!(c.count(), 1);
        assert!(c.admit(2).is_some());
    }
}
