//! One pace for every worker: at most `--max-concurrency` requests in
//! flight to the site (the rest wait in arrival order: tokio's semaphore is
//! fair), and a `429`/`503` with `Retry-After` from the site stops all
//! sending until then. A request that would wait longer than `--max-wait`
//! is answered by the proxy with `429` and the remaining `Retry-After`
//! instead of being sent into the site's rate limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Requests in flight to the site at most (`--max-concurrency`).
pub const MAX_CONCURRENCY: usize = 8;
/// Longest a request waits for its turn (`--max-wait`).
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Longest pause a site's `Retry-After` may impose.
const MAX_PAUSE: Duration = Duration::from_secs(3600);

/// The pace of one proxy.
#[derive(Debug)]
pub struct Pace {
    slots: Arc<Semaphore>,
    max_wait: Duration,
    paused_until: Mutex<Option<Instant>>,
    queued: AtomicUsize,
}

/// A request's turn: one slot of `--max-concurrency`, held until its
/// answer has been read.
#[derive(Debug)]
pub struct Turn(#[allow(dead_code)] OwnedSemaphorePermit);

/// No turn within `--max-wait`: how long the client should wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy {
    pub retry_after: Duration,
}

impl Pace {
    pub fn new(max_concurrency: usize, max_wait: Duration) -> Pace {
        Pace {
            slots: Arc::new(Semaphore::new(max_concurrency.max(1))),
            max_wait,
            paused_until: Mutex::new(None),
            queued: AtomicUsize::new(0),
        }
    }

    /// Waits for a turn: a free slot, then the end of any pause. Gives up
    /// (and says how long to wait) when that would take past `--max-wait`.
    pub async fn turn(&self) -> Result<Turn, Busy> {
        let deadline = Instant::now() + self.max_wait;
        self.queued.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&self.queued);
        // A pause already known to last past the deadline: no point queueing.
        if let Some(until) = self.paused_until()
            && until > deadline
        {
            return Err(Busy {
                retry_after: until - Instant::now(),
            });
        }
        let permit =
            match tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    return Err(Busy {
                        retry_after: self
                            .paused_until()
                            .map_or(Duration::from_secs(1), |u| u - Instant::now())
                            .max(Duration::from_secs(1)),
                    });
                }
            };
        // Holding a slot, wait out any pause: nobody behind goes first.
        while let Some(until) = self.paused_until() {
            if until > deadline {
                return Err(Busy {
                    retry_after: until - Instant::now(),
                });
            }
            tokio::time::sleep_until(until).await;
        }
        Ok(Turn(permit))
    }

    /// The site said to wait `for_how_long`: no request goes out until then.
    pub fn pause(&self, for_how_long: Duration) {
        let until = Instant::now() + for_how_long.min(MAX_PAUSE);
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if paused.is_none_or(|p| p < until) {
            *paused = Some(until);
        }
    }

    /// When sending may start again, if a pause is still on.
    pub fn paused_until(&self) -> Option<Instant> {
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *paused {
            Some(until) if until > Instant::now() => Some(until),
            _ => {
                *paused = None;
                None
            }
        }
    }

    /// Requests waiting for a turn now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The pause a site's answer asks for: `429` or `503` with `Retry-After`
/// in seconds or as an HTTP date.
pub fn pause_asked(status: u16, headers: &axum::http::HeaderMap) -> Option<Duration> {
    if status != 429 && status != 503 {
        return None;
    }
    let value = headers
        .get(axum::http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let left = at - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(left).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_in_seconds_or_as_a_date_pauses_only_on_429_and_503() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(pause_asked(429, &h), Some(Duration::from_secs(7)));
        assert_eq!(pause_asked(503, &h), Some(Duration::from_secs(7)));
        assert_eq!(pause_asked(500, &h), None);
        assert_eq!(pause_asked(200, &h), None);
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let date = soon
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let d = pause_asked(429, &h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(pause_asked(429, &h), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_everyone_and_a_long_one_answers_busy() {
        let pace = Pace::new(2, Duration::from_secs(10));
        let a = pace.turn().await.unwrap();
        let _b = pace.turn().await.unwrap();
        // Both slots taken: the third waits, then gives up at the deadline.
        let started = Instant::now();
        assert!(pace.turn().await.is_err());
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        drop(a);
        pace.pause(Duration::from_secs(3));
        let started = Instant::now();
        let _c = pace.turn().await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(3),
            "went out during the pause"
        );
        pace.pause(Duration::from_secs(30));
        let busy = pace.turn().await.unwrap_err();
        assert!(busy.retry_after > Duration::from_secs(20), "{busy:?}");
    }
}
