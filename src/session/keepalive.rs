//! The keep-alive loop shared by `watch` and the proxy: a verification
//! through the worker every interval (±10 % jitter, longer after network
//! failures), which also keeps idle-timeout sessions alive; a
//! [`KeepAliveEvent::Changed`] at every change of state; the notify command
//! once per state that needs the user. After a death or a CAPTCHA it stops
//! asking the site and waits for fresh credentials in the vault (watched
//! with `notify`), then verifies at once.
//!
//! States learnt elsewhere (the proxy seeing a dead session in a forwarded
//! answer) come in through a [`SessionObserver`], so a death seen twice,
//! once by a request and once by a verification, is reported and notified
//! once.

use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use super::{Notifier, SessionView};
use crate::browser::BrowserSpec;
use crate::config::Settings;
use crate::credentials::Credentials;
use crate::worker::{self, Event, Query, SessionInfo, WorkerOptions};

/// After this many network failures in a row the wait stops growing.
const MAX_BACKOFF_DOUBLINGS: u32 = 3;
/// Vault events come in bursts (temp file, rename): wait this long for
/// the burst to end before verifying.
const VAULT_SETTLE_PERIOD: Duration = Duration::from_millis(200);
/// A browser writes its cookie store in bursts (database, WAL, session
/// store renamed into place): wait this long for the burst to end.
const BROWSER_SETTLE_PERIOD: Duration = Duration::from_millis(300);
/// Events kept for a subscriber that reads slowly.
const EVENT_BACKLOG: usize = 64;

/// When the first verification runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstCheck {
    /// At once (`watch` prints the state it starts in).
    Now,
    /// One interval after the start (the proxy: its requests already show
    /// whether the session lives).
    AfterInterval,
}

/// How the loop runs.
#[derive(Clone, Debug)]
pub struct KeepAliveOptions {
    /// Between verifications; `None` verifies only when fresh credentials
    /// arrive while the session is dead (keep-alive off).
    pub interval: Option<Duration>,
    pub first: FirstCheck,
    /// Run when the session enters a state that needs the user.
    pub notifier: Notifier,
    /// While the session is dead, this browser's cookie store is watched
    /// and a fresh login in it imported (`--from-browser`,
    /// `CONFLUENCE_BROWSER`).
    pub browser: Option<BrowserSpec>,
}

/// What the loop reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeepAliveEvent {
    /// The session's state changed (the first state counts as a change).
    Changed(SessionView),
    /// The loop stopped: the worker or the vault watcher ended.
    Stopped(String),
}

/// The keep-alive could not start.
#[derive(Debug, thiserror::Error)]
pub enum KeepAliveError {
    #[error("cannot watch the vault file: {0}")]
    Watch(#[from] notify::Error),
    #[error(transparent)]
    Browser(#[from] super::BrowserWatchError),
}

/// Hands states learnt outside the keep-alive loop to it.
#[derive(Clone, Debug)]
pub struct SessionObserver(mpsc::UnboundedSender<SessionInfo>);

impl SessionObserver {
    /// Reports `info` as if a verification had said it.
    pub fn observe(&self, info: SessionInfo) {
        let _ = self.0.send(info);
    }
}

/// A running keep-alive loop; dropping it stops the loop and its worker.
pub struct KeepAlive {
    observe: mpsc::UnboundedSender<SessionInfo>,
    events: broadcast::Sender<KeepAliveEvent>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for KeepAlive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepAlive").finish_non_exhaustive()
    }
}

impl KeepAlive {
    /// Starts the loop and its worker on the current tokio runtime; the
    /// receiver sees every event from the first.
    pub fn start(
        settings: Settings,
        worker: WorkerOptions,
        opts: KeepAliveOptions,
    ) -> Result<(KeepAlive, broadcast::Receiver<KeepAliveEvent>), KeepAliveError> {
        let (vault_tx, vault_rx) = mpsc::unbounded_channel();
        let watcher = super::watch_vault(&settings.paths(), vault_tx)?;
        let (browser_tx, browser_rx) = mpsc::unbounded_channel();
        let browser = match &opts.browser {
            Some(spec) => {
                let watcher = super::watch_browser(spec, browser_tx)?;
                let creds = Credentials::with_machine_id(&settings, worker.machine_id.clone());
                Some(BrowserSource {
                    spec: spec.clone(),
                    creds: std::sync::Arc::new(creds),
                    _watcher: watcher,
                })
            }
            None => None,
        };
        let (events, first_rx) = broadcast::channel(EVENT_BACKLOG);
        let (observe, observe_rx) = mpsc::unbounded_channel();
        let w = worker::spawn(settings, worker);
        let state = Loop {
            opts,
            events: events.clone(),
            last: None,
            failures: 0,
            browser,
        };
        let task = tokio::spawn(state.run(w, watcher, vault_rx, browser_rx, observe_rx));
        Ok((
            KeepAlive {
                observe,
                events,
                task,
            },
            first_rx,
        ))
    }

    /// Where states learnt elsewhere go (a forwarded answer showed the
    /// session dead or a CAPTCHA): reported and notified like a
    /// verification's.
    pub fn observer(&self) -> SessionObserver {
        SessionObserver(self.observe.clone())
    }

    /// Another receiver of the events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<KeepAliveEvent> {
        self.events.subscribe()
    }

    /// Stops the loop and its worker.
    pub fn stop(self) {
        // Drop does it.
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The loop's own state.
struct Loop {
    opts: KeepAliveOptions,
    events: broadcast::Sender<KeepAliveEvent>,
    last: Option<SessionView>,
    /// Network failures in a row.
    failures: u32,
    /// The browser watched for a fresh login, if any.
    browser: Option<BrowserSource>,
}

/// A browser profile watched for a fresh login, and the store it is
/// imported into.
struct BrowserSource {
    spec: BrowserSpec,
    creds: std::sync::Arc<Credentials>,
    _watcher: notify::RecommendedWatcher,
}

impl Loop {
    async fn run(
        mut self,
        mut w: worker::WorkerHandle,
        _watcher: notify::RecommendedWatcher,
        mut vault_rx: mpsc::UnboundedReceiver<()>,
        mut browser_rx: mpsc::UnboundedReceiver<()>,
        mut observe_rx: mpsc::UnboundedReceiver<SessionInfo>,
    ) {
        let now = tokio::time::Instant::now();
        // When the next verification is due; `None` while waiting for
        // fresh credentials or with keep-alive off.
        let mut due = match (self.opts.first, self.opts.interval) {
            (FirstCheck::Now, _) => Some(now),
            (FirstCheck::AfterInterval, Some(i)) => Some(now + worker::keepalive_delay(i)),
            (FirstCheck::AfterInterval, None) => None,
        };
        let mut asked = false;
        let stopped = loop {
            let sleep_until = due.unwrap_or_else(|| tokio::time::Instant::now() + FOREVER);
            tokio::select! {
                () = tokio::time::sleep_until(sleep_until), if due.is_some() && !asked => {
                    if !w.query(Query::Verify) {
                        break "the worker stopped";
                    }
                    asked = true;
                }
                changed = vault_rx.recv() => {
                    if changed.is_none() {
                        break "the vault watcher stopped";
                    }
                    tokio::time::sleep(VAULT_SETTLE_PERIOD).await;
                    while vault_rx.try_recv().is_ok() {}
                    // Fresh credentials may have been stored: look now.
                    if self.last.as_ref().is_some_and(SessionView::waits_for_credentials) && !asked {
                        due = Some(tokio::time::Instant::now());
                    }
                }
                Some(()) = browser_rx.recv() => {
                    tokio::time::sleep(BROWSER_SETTLE_PERIOD).await;
                    while browser_rx.try_recv().is_ok() {}
                    if self.waiting() && self.import_from_browser().await && !asked {
                        due = Some(tokio::time::Instant::now());
                    }
                }
                observed = observe_rx.recv() => {
                    // The keep-alive's own sender lives as long as the loop.
                    let Some(info) = observed else { break "stopped" };
                    due = self.apply_and_look(&info, &mut asked).await;
                }
                ev = w.events.recv() => {
                    let Some(ev) = ev else { break "the worker stopped" };
                    let Event::Session(info) = ev else { continue };
                    asked = false;
                    due = self.apply_and_look(&info, &mut asked).await;
                }
            }
        };
        w.task.abort();
        let _ = self
            .events
            .send(KeepAliveEvent::Stopped(stopped.to_string()));
    }

    /// Whether the session waits for fresh credentials.
    fn waiting(&self) -> bool {
        self.last
            .as_ref()
            .is_some_and(SessionView::waits_for_credentials)
    }

    /// `apply`, and on entering a dead state, one look at the browser (the
    /// fresh login may already be there): verified at once when it was.
    async fn apply_and_look(
        &mut self,
        info: &SessionInfo,
        asked: &mut bool,
    ) -> Option<tokio::time::Instant> {
        let was_waiting = self.waiting();
        let due = self.apply(info);
        if !was_waiting && self.waiting() && self.import_from_browser().await && !*asked {
            return Some(tokio::time::Instant::now());
        }
        due
    }

    /// Imports the browser's session when it differs from the stored (dead)
    /// one; true when something was imported.
    async fn import_from_browser(&self) -> bool {
        let Some(source) = &self.browser else {
            return false;
        };
        let creds = source.creds.clone();
        let spec = source.spec.clone();
        let done = tokio::task::spawn_blocking(move || {
            creds.import_fresh_browser_session(&spec, OffsetDateTime::now_utc())
        })
        .await;
        match done {
            Ok(Ok(Some(report))) => {
                tracing::info!(
                    count = report.names.len(),
                    browser = source.spec.choice.name(),
                    "imported a fresh session from the browser"
                );
                true
            }
            Ok(Ok(None)) => false,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "could not import from the browser");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "the browser import task failed");
                false
            }
        }
    }

    /// Takes in a state: reports and notifies a change, and returns when
    /// the next verification is due (`None`: not until fresh credentials
    /// arrive, or never with keep-alive off).
    fn apply(&mut self, info: &SessionInfo) -> Option<tokio::time::Instant> {
        let now = OffsetDateTime::now_utc();
        let seen = SessionView::of(info, now);
        if self.last.as_ref().is_none_or(|l| l.differs(&seen)) {
            let _ = self.events.send(KeepAliveEvent::Changed(seen.clone()));
            if seen.needs_user() {
                self.opts.notifier.notify(&seen);
            }
        }
        self.failures = if seen.state == "unreachable" {
            self.failures + 1
        } else {
            0
        };
        let next = if seen.waits_for_credentials() {
            None
        } else {
            self.opts.interval.map(|interval| {
                let doublings = self.failures.min(MAX_BACKOFF_DOUBLINGS);
                tokio::time::Instant::now()
                    + worker::keepalive_delay(interval * 2u32.pow(doublings))
            })
        };
        self.last = Some(seen);
        next
    }
}

/// A far-away instant for a timer that is switched off.
const FOREVER: Duration = Duration::from_secs(86_400 * 365);
