//! The proxy's request log: one record per request (time, method, path
//! without its query, status, duration, bytes sent back), kept in a ring
//! for whoever looks later, broadcast to whoever listens now (the TUI's
//! Pipeline screen), and written to the diagnostics log at debug level.
//! Never a header value, never a query string (it may carry a secret).

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use futures::Stream;
use time::OffsetDateTime;
use tokio::sync::broadcast;

/// Records kept in the ring.
const RING_CAPACITY: usize = 1000;
/// Records kept for a subscriber that reads slowly.
const BROADCAST_BACKLOG: usize = 256;

/// One request through the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// When the request arrived.
    pub at: OffsetDateTime,
    pub method: String,
    /// The path as the client sent it, without the query string.
    pub path: String,
    /// The status the client got.
    pub status: u16,
    /// From the request's arrival to the last byte of the answer.
    pub duration: Duration,
    /// Body bytes sent to the client.
    pub bytes: u64,
    /// False when the answer was cut off (the client went away, the site
    /// failed mid-body).
    pub complete: bool,
    /// The named client that sent it (`proxy clients add`); `None` for the
    /// per-run token and for requests refused at the door.
    pub client: Option<String>,
}

/// Counts since the proxy started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficTotals {
    /// Every request, answered or refused.
    pub requests: u64,
    /// Refused by the proxy itself (token, method, target, dead session).
    pub refused: u64,
    /// Answered 5xx (by the site, or by the proxy when the site failed).
    pub failed: u64,
    /// Body bytes sent to clients.
    pub bytes: u64,
    /// Requests waiting for their turn to the site (`--max-concurrency`).
    pub queued: u64,
    /// The site asked to wait (429/503 `Retry-After`): nothing is sent
    /// until then.
    pub paused_until: Option<OffsetDateTime>,
}

/// The request log of one proxy.
#[derive(Debug)]
pub struct Traffic {
    inner: Mutex<Inner>,
    live: broadcast::Sender<RequestRecord>,
    /// The proxy's pace, for the queue and any pause in the totals.
    pace: Option<Arc<super::pace::Pace>>,
}

#[derive(Debug, Default)]
struct Inner {
    ring: VecDeque<RequestRecord>,
    totals: TrafficTotals,
}

impl Default for Traffic {
    fn default() -> Traffic {
        Traffic {
            inner: Mutex::default(),
            live: broadcast::channel(BROADCAST_BACKLOG).0,
            pace: None,
        }
    }
}

impl Traffic {
    /// Every record from now on (a slow reader loses the oldest).
    pub fn subscribe(&self) -> broadcast::Receiver<RequestRecord> {
        self.live.subscribe()
    }

    /// The most recent records (up to 1000), oldest first.
    pub fn recent(&self) -> Vec<RequestRecord> {
        self.lock().ring.iter().cloned().collect()
    }

    /// The request log of a proxy keeping `pace`.
    pub(super) fn with_pace(pace: Arc<super::pace::Pace>) -> Traffic {
        Traffic {
            pace: Some(pace),
            ..Traffic::default()
        }
    }

    /// Counts since the proxy started, with the queue and any pause now.
    pub fn totals(&self) -> TrafficTotals {
        let mut totals = self.lock().totals;
        if let Some(pace) = &self.pace {
            totals.queued = pace.queued() as u64;
            totals.paused_until = pace.paused_until().map(|until| {
                let left = until.saturating_duration_since(tokio::time::Instant::now());
                OffsetDateTime::now_utc() + left
            });
        }
        totals
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, record: RequestRecord, refused: bool) {
        tracing::debug!(
            method = %record.method,
            path = %record.path,
            client = record.client.as_deref().unwrap_or("-"),
            status = record.status,
            duration_ms = u64::try_from(record.duration.as_millis()).unwrap_or(u64::MAX),
            bytes = record.bytes,
            complete = record.complete,
            "proxied request"
        );
        {
            let mut inner = self.lock();
            inner.totals.requests += 1;
            inner.totals.bytes += record.bytes;
            if refused {
                inner.totals.refused += 1;
            }
            if record.status >= 500 {
                inner.totals.failed += 1;
            }
            if inner.ring.len() == RING_CAPACITY {
                inner.ring.pop_front();
            }
            inner.ring.push_back(record.clone());
        }
        // Nobody listening is fine.
        let _ = self.live.send(record);
    }
}

/// A request under way; recorded once its answer is sent (or dropped).
pub(super) struct Meter {
    traffic: Arc<Traffic>,
    at: OffsetDateTime,
    started: Instant,
    method: String,
    path: String,
    client: Option<String>,
}

impl Meter {
    /// Starts timing a request.
    pub(super) fn start(traffic: Arc<Traffic>, method: &str, path: &str) -> Meter {
        Meter {
            traffic,
            at: OffsetDateTime::now_utc(),
            started: Instant::now(),
            method: method.to_string(),
            path: path.to_string(),
            client: None,
        }
    }

    /// The named client the request came from.
    pub(super) fn client(mut self, client: Option<String>) -> Meter {
        self.client = client;
        self
    }

    /// Records an answer sent whole (`refused`: by the proxy itself).
    pub(super) fn finish(self, status: u16, bytes: u64, complete: bool, refused: bool) {
        let record = RequestRecord {
            at: self.at,
            method: self.method,
            path: self.path,
            status,
            duration: self.started.elapsed(),
            bytes,
            complete,
            client: self.client,
        };
        self.traffic.record(record, refused);
    }
}

/// A boxed stream of body chunks.
pub(super) type ChunkStream =
    Pin<Box<dyn Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static>>;

/// A streamed answer's body that counts what passes and records the request
/// when it ends, or when it is dropped half-way (the client went away).
pub(super) struct Metered {
    inner: ChunkStream,
    bytes: u64,
    status: u16,
    meter: Option<Meter>,
}

impl Metered {
    pub(super) fn new(inner: ChunkStream, status: u16, meter: Meter) -> Metered {
        Metered {
            inner,
            bytes: 0,
            status,
            meter: Some(meter),
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(meter) = self.meter.take() {
            meter.finish(self.status, self.bytes, complete, false);
        }
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, reqwest::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => self.bytes += chunk.len() as u64,
            Poll::Ready(Some(Err(e))) => {
                tracing::warn!(error = %crate::confluence::client::network_message(e), "the site's answer broke off");
                self.finish(false);
            }
            Poll::Ready(None) => self.finish(true),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_totals_say_who_waits_and_until_when_the_site_paused_us() {
        let pace = Arc::new(super::super::pace::Pace::new(1, Duration::from_secs(60)));
        let traffic = Traffic::with_pace(pace.clone());
        assert_eq!(traffic.totals().queued, 0);
        assert_eq!(traffic.totals().paused_until, None);
        let _turn = pace.turn().await.unwrap();
        let p = pace.clone();
        let waiting = tokio::spawn(async move { p.turn().await.map(drop) });
        while traffic.totals().queued == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(traffic.totals().queued, 1);
        pace.pause(Duration::from_secs(30));
        let until = traffic.totals().paused_until.expect("the pause shows");
        let left = until - OffsetDateTime::now_utc();
        assert!(left > time::Duration::seconds(25), "{left}");
        waiting.abort();
    }

    #[tokio::test]
    async fn records_reach_the_ring_the_totals_and_subscribers() {
        let traffic = Arc::new(Traffic::default());
        let mut live = traffic.subscribe();
        Meter::start(traffic.clone(), "GET", "/wiki/rest/api/space").finish(200, 10, true, false);
        Meter::start(traffic.clone(), "POST", "/wiki/rest/api/content").finish(405, 2, true, true);
        let got = live.recv().await.unwrap();
        assert_eq!((got.method.as_str(), got.status), ("GET", 200));
        assert_eq!(traffic.recent().len(), 2);
        let totals = traffic.totals();
        assert_eq!((totals.requests, totals.refused, totals.bytes), (2, 1, 12));
    }

    #[tokio::test]
    async fn a_streamed_body_is_recorded_with_its_bytes_when_it_ends_or_is_dropped() {
        use futures::StreamExt as _;
        let traffic = Arc::new(Traffic::default());
        let chunks: ChunkStream = Box::pin(futures::stream::iter(vec![
            Ok(Bytes::from_static(b"abc")),
            Ok(Bytes::from_static(b"de")),
        ]));
        let mut body = Metered::new(chunks, 200, Meter::start(traffic.clone(), "GET", "/a"));
        while body.next().await.is_some() {}
        drop(body);
        let cut: ChunkStream = Box::pin(futures::stream::iter(vec![Ok(Bytes::from_static(b"x"))]));
        let mut cut = Metered::new(cut, 200, Meter::start(traffic.clone(), "GET", "/b"));
        let _ = cut.next().await;
        drop(cut);
        let recent = traffic.recent();
        assert_eq!(recent.len(), 2);
        assert_eq!((recent[0].bytes, recent[0].complete), (5, true));
        assert_eq!((recent[1].bytes, recent[1].complete), (1, false));
    }

    #[test]
    fn the_ring_keeps_the_newest() {
        let traffic = Arc::new(Traffic::default());
        for i in 0..(RING_CAPACITY + 5) {
            Meter::start(traffic.clone(), "GET", &format!("/{i}")).finish(200, 0, true, false);
        }
        let recent = traffic.recent();
        assert_eq!(recent.len(), RING_CAPACITY);
        assert_eq!(recent[0].path, "/5");
        assert_eq!(traffic.totals().requests, (RING_CAPACITY + 5) as u64);
    }
}
