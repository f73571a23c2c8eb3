//! The proxy the app runs for the Pipeline screen (`--serve`, `s`). It
//! lives in a task of its own that owns the [`ProxyHandle`] and turns what
//! the proxy reports (requests, totals) into messages for the main loop.
//! It serves the app's own session owner: the keep-alive, the browser
//! watch and the session's state are the worker's, one of each. Nothing
//! here polls: the task sleeps on the proxy's broadcast channel and on the
//! stop signal.

use std::time::Duration;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::app::Msg;
use super::screens::pipeline::{ProxyInfo, ProxyMsg};
use crate::proxy::{self, ProxyError, ProxyHandle, ProxyOptions, ProxyToken, SessionSource};

/// How long quitting waits for the proxy to stop (requests under way
/// finish, refreshed cookies are saved, the stop is audited).
const QUIT_GRACE_PERIOD: Duration = Duration::from_secs(7);

/// Records sent to the app in one message at most: a burst is drawn once.
const BATCH_LIMIT: usize = 256;

/// The running (or stopping) proxy task.
pub(crate) struct Served {
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Served {
    /// Starts the proxy for the session the app's worker holds now (a
    /// reload may have replaced it since the app started), once `previous`
    /// (one asked to stop, which may still be finishing after it said
    /// `Stopped`) has ended: never two at once.
    pub(crate) fn start(
        previous: Option<Served>,
        sessions: SessionSource,
        tx: mpsc::UnboundedSender<Msg>,
    ) -> Served {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.task.await;
            }
            run(sessions, tx, stopped).await;
        });
        Served {
            stop: Some(stop),
            task,
        }
    }

    /// True once asked to stop, while the task still runs.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stop.is_none() && self.is_running()
    }

    /// True while the task runs (started, serving or stopping).
    pub(crate) fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Asks the proxy to stop; the task says `Stopped` when it has.
    pub(crate) fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the proxy and waits (a little) for it: the app is quitting.
    pub(crate) async fn finish(mut self) {
        self.stop();
        if tokio::time::timeout(QUIT_GRACE_PERIOD, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

async fn run(
    sessions: SessionSource,
    tx: mpsc::UnboundedSender<Msg>,
    mut stopped: oneshot::Receiver<()>,
) {
    let send = |m: ProxyMsg| {
        let _ = tx.send(Msg::Proxy(m));
    };
    let handle = tokio::select! {
        started = start(sessions) => match started {
            Ok(h) => h,
            Err(why) => return send(ProxyMsg::Failed(why)),
        },
        _ = &mut stopped => return send(ProxyMsg::Stopped(None)),
    };
    send(ProxyMsg::Started(ProxyInfo {
        base_url: handle.base_url().as_str().trim_end_matches('/').to_string(),
        username: handle.username().to_string(),
        token: handle.token().clone(),
    }));
    let traffic = handle.traffic();
    let mut records = Some(traffic.subscribe());
    loop {
        let record = async {
            match records.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stopped => break,
            r = record => match r {
                Ok(first) => {
                    let mut batch = vec![first];
                    if let Some(rx) = records.as_mut() {
                        while batch.len() < BATCH_LIMIT {
                            match rx.try_recv() {
                                Ok(r) => batch.push(r),
                                Err(TryRecvError::Lagged(_)) => continue,
                                Err(_) => break,
                            }
                        }
                    }
                    send(ProxyMsg::Traffic { records: batch, totals: traffic.totals() });
                }
                // The app read too slowly: the totals still count them all.
                Err(RecvError::Lagged(_)) => {
                    send(ProxyMsg::Traffic { records: Vec::new(), totals: traffic.totals() });
                }
                Err(RecvError::Closed) => records = None,
            },
        }
    }
    let problem = handle.shutdown().await.err().map(|e| e.to_string());
    send(ProxyMsg::Stopped(problem));
}

/// Starts the proxy, or says why not in words for the TUI's message line.
async fn start(sessions: SessionSource) -> Result<ProxyHandle, String> {
    let token = ProxyToken::generate()
        .map_err(|e| format!("The proxy did not start: cannot make a random token: {e}"))?;
    proxy::start(sessions, ProxyOptions::new(token))
        .await
        .map_err(|e| start_failure(&e))
}

/// Why the proxy did not start, with what to do in the app.
pub(crate) fn start_failure(e: &ProxyError) -> String {
    match e {
        // The status screen says what is missing and where (or, in the
        // demo, how to get the demo cookie): here, only what to do.
        ProxyError::NoCredentials(_) => "The proxy waits for a session to hand out: paste browser cookies (p) or enter an API token (t) on the status screen; it starts once signed in.".to_string(),
        ProxyError::CookiesExpired { reason } => format!(
            "The proxy did not start: the stored cookies have expired ({reason}). Paste fresh ones with p; it starts once signed in."
        ),
        ProxyError::Captcha { .. } => "The proxy did not start: the site demands a CAPTCHA. Sign in through the browser (o), then paste fresh cookies (p).".to_string(),
        other => format!("The proxy did not start: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_that_needs_the_user_says_what_to_do_here() {
        let none = start_failure(&ProxyError::NoCredentials(
            "no credentials: set CONFLUENCE_USERNAME".into(),
        ));
        assert!(none.contains("paste browser cookies (p)"), "{none}");
        assert!(
            !none.contains("CONFLUENCE_"),
            "the status screen says that: {none}"
        );
        let expired = start_failure(&ProxyError::CookiesExpired {
            reason: "HTTP 401".into(),
        });
        assert!(
            expired.contains("HTTP 401") && expired.contains("with p"),
            "{expired}"
        );
        let captcha = start_failure(&ProxyError::Captcha { login_url: None });
        assert!(captcha.contains("browser (o)"), "{captcha}");
    }
}
