//! When to try a request again and how long to wait first: the policy, the
//! reason shown while waiting, exponential backoff with jitter, the clamped
//! `Retry-After`, and the loop that runs the attempts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::classify::Outcome;
use super::error::ClientError;

/// Longest wait a `Retry-After` may impose (servers have sent 2^63-1).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How often and how long to retry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff; it doubles with every attempt.
    pub base_delay: Duration,
    /// The longest backoff (a server's `Retry-After` is clamped separately).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with jitter before attempt `attempt + 1`: a random
    /// wait in [d/2, d], d doubling from `base_delay` up to `max_delay`.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let d = exp.min(self.max_delay);
        let half = d / 2;
        let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(fastrand::u64(0..=spread))
    }
}

/// Why the client is waiting before another attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitReason {
    /// 429, or 503 with `Retry-After`.
    RateLimited { status: u16 },
    /// A gateway error (502–504) without `Retry-After`.
    ServerError { status: u16 },
    /// The connection failed or broke off; nothing was answered.
    Network,
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitReason::RateLimited { status: 429 } => f.write_str("rate limited (HTTP 429)"),
            WaitReason::RateLimited { status }
            | WaitReason::ServerError {
                status: status @ 503,
            } => {
                write!(f, "server busy (HTTP {status})")
            }
            WaitReason::ServerError { status } => write!(f, "server error (HTTP {status})"),
            WaitReason::Network => f.write_str("network error"),
        }
    }
}

/// Something the caller may show while a request is under way.
#[derive(Clone, Debug)]
pub enum ClientNotice {
    /// Waiting `wait` before attempt `next_attempt` (a countdown for the UI).
    Waiting {
        wait: Duration,
        next_attempt: u32,
        reason: WaitReason,
    },
}

/// Receives notices; called from the request's task.
pub(crate) type NoticeSink = Arc<dyn Fn(ClientNotice) + Send + Sync>;

/// `Retry-After` in seconds, clamped to `MAX_RETRY_AFTER`; absent or an HTTP
/// date (rare here) gives `None`, and the caller backs off on its own.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Any run of digits too long for u64 is absurd: clamp it.
    let secs = raw.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// What one attempt came to.
pub(crate) enum Attempt<T> {
    /// Finished: an answer or an error not worth retrying.
    Done(Result<T, ClientError>),
    /// Worth another try after a wait; `error` is the result if none is left.
    Again {
        reason: WaitReason,
        /// The server's own (clamped) wait, if it named one.
        retry_after: Option<Duration>,
        error: ClientError,
    },
}

/// Why an outcome deserves another attempt, and the server's wait, if any:
/// rate limits and gateway errors only. A CAPTCHA or a dead session never.
pub(crate) fn retry_reason(outcome: &Outcome) -> Option<(WaitReason, Option<Duration>)> {
    if !outcome.is_retryable() {
        return None;
    }
    match outcome {
        Outcome::RateLimited {
            status,
            retry_after,
        } => Some((WaitReason::RateLimited { status: *status }, *retry_after)),
        Outcome::ServerError { status, .. } => {
            Some((WaitReason::ServerError { status: *status }, None))
        }
        _ => None,
    }
}

/// True when `error` (or anything in its chain of sources) says the host
/// name could not be resolved. Trying again does not make a name resolve
/// (a typo in CONFLUENCE_BASE_URL, a VPN that is down), so it is never
/// retried. The chain is read as text because the resolver's error types
/// are private to hyper-util: its connector says "dns error", its
/// `DnsError` "error resolving DNS", and the system resolver's I/O error
/// "failed to lookup address information: …".
pub(crate) fn is_name_resolution_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        let text = e.to_string().to_ascii_lowercase();
        if text == "dns error"
            || text.starts_with("error resolving dns")
            || text.starts_with("failed to lookup address")
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Runs `attempt` (given its 1-based number) until it is done or the policy's
/// attempts are used up, telling `notices` about every wait.
pub(crate) async fn run_with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    notices: Option<&NoticeSink>,
    mut attempt: F,
) -> Result<T, ClientError>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let mut number = 1u32;
    loop {
        match attempt(number).await {
            Attempt::Done(result) => return result,
            Attempt::Again {
                reason,
                retry_after,
                error,
            } => {
                if number >= policy.max_attempts {
                    return Err(error);
                }
                let wait = retry_after.unwrap_or_else(|| policy.backoff(number));
                if let Some(sink) = notices {
                    sink(ClientNotice::Waiting {
                        wait,
                        next_attempt: number + 1,
                        reason,
                    });
                }
                tokio::time::sleep(wait).await;
                number += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_reasons_read_as_sentences() {
        let cases = [
            (
                WaitReason::RateLimited { status: 429 },
                "rate limited (HTTP 429)",
            ),
            (
                WaitReason::RateLimited { status: 503 },
                "server busy (HTTP 503)",
            ),
            (
                WaitReason::ServerError { status: 503 },
                "server busy (HTTP 503)",
            ),
            (
                WaitReason::ServerError { status: 502 },
                "server error (HTTP 502)",
            ),
            (WaitReason::Network, "network error"),
        ];
        for (reason, text) in cases {
            assert_eq!(reason.to_string(), text);
        }
    }

    /// An error with a source, as the resolver's errors come wrapped.
    #[derive(Debug)]
    struct Wrapped(&'static str, Option<Box<Wrapped>>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_name_that_does_not_resolve_is_found_anywhere_in_the_chain() {
        let chain = |inner: &'static str| {
            Wrapped(
                "error sending request",
                Some(Box::new(Wrapped(
                    "client error (Connect)",
                    Some(Box::new(Wrapped(inner, None))),
                ))),
            )
        };
        for inner in [
            "dns error",
            "error resolving DNS",
            "failed to lookup address information: Name or service not known",
            "failed to lookup address information: Temporary failure in name resolution",
        ] {
            assert!(is_name_resolution_failure(&chain(inner)), "{inner}");
        }
        for inner in [
            "tcp connect error",
            "Connection refused (os error 111)",
            "operation timed out",
        ] {
            assert!(!is_name_resolution_failure(&chain(inner)), "{inner}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_stays_under_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1_000),
        };
        for _ in 0..50 {
            let first = policy.backoff(1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = policy.backoff(3);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            assert!(policy.backoff(u32::MAX) <= Duration::from_millis(1_000));
        }
    }

    #[tokio::test]
    async fn the_loop_stops_after_the_last_attempt_and_reports_every_wait() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink: NoticeSink = {
            let seen = seen.clone();
            Arc::new(move |n: ClientNotice| {
                let ClientNotice::Waiting {
                    next_attempt,
                    reason,
                    ..
                } = n;
                if let Ok(mut s) = seen.lock() {
                    s.push((next_attempt, reason));
                }
            })
        };
        let mut calls = 0;
        let result: Result<(), ClientError> = run_with_retries(&policy, Some(&sink), |_| {
            calls += 1;
            async {
                Attempt::Again {
                    reason: WaitReason::Network,
                    retry_after: None,
                    error: ClientError::Setup("gave up".into()),
                }
            }
        })
        .await;
        assert!(matches!(result, Err(ClientError::Setup(_))));
        assert_eq!(calls, 3);
        let seen = seen.lock().map(|s| s.clone()).unwrap_or_default();
        assert_eq!(
            seen,
            vec![(2, WaitReason::Network), (3, WaitReason::Network)]
        );
    }
}
