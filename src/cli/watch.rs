//! `watch`: keeps the session alive in the foreground. It verifies every
//! interval (jittered), prints a line at start and at every state change,
//! runs the notify command when the user must act, waits for fresh
//! credentials (the vault file, watched with `notify`) after a death, and
//! ends with exit 0 on SIGINT or SIGTERM.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::CliError;
use super::output::Output;
use crate::config::{FlagOverrides, Settings};
use crate::confluence::client::RetryPolicy;
use crate::credentials::rfc3339;
use crate::exit::Exit;
use crate::text::for_terminal;
use crate::vault::MachineIdSource;
use crate::worker::{self, Event, Query, SessionInfo, SettingsSource, WorkerOptions};

/// The flags of `watch`.
pub(super) struct WatchArgs {
    pub interval: Option<u64>,
    pub notify: Option<String>,
    pub json: bool,
}

/// After this many network failures in a row the wait stops growing.
const MAX_BACKOFF_DOUBLINGS: u32 = 3;
/// Vault events come in bursts (temp file, rename): wait this long for
/// the burst to end before verifying.
const VAULT_SETTLE_PERIOD: Duration = Duration::from_millis(200);

pub(super) fn run(
    args: WatchArgs,
    settings: Settings,
    flags: FlagOverrides,
) -> Result<Exit, CliError> {
    settings
        .require_base_url()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let interval = match args.interval {
        Some(0) => {
            return Err(CliError::Usage(
                "--interval must be at least 1 second (0 turns keep-alive off only in the TUI)"
                    .into(),
            ));
        }
        Some(secs) => Duration::from_secs(secs),
        None if settings.keepalive_interval.is_zero() => {
            return Err(CliError::Usage(
                "CONFLUENCE_KEEPALIVE_SECS=0 turns keep-alive off; `watch` needs an interval (pass --interval SECS)".into(),
            ));
        }
        None => settings.keepalive_interval,
    };
    let notify_cmd = args.notify.or_else(|| settings.notify_cmd.clone());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(watch(settings, flags, interval, notify_cmd, args.json))
}

/// What one verification said, as `watch` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    state: &'static str,
    reason: Option<String>,
    user: Option<String>,
    expires_at: Option<OffsetDateTime>,
    login_url: Option<String>,
}

impl Seen {
    fn of(info: &SessionInfo, now: OffsetDateTime) -> Seen {
        let state = info.state_word(now);
        let (reason, user, expires_at, login_url) = match info {
            SessionInfo::SignedIn {
                user, expires_at, ..
            } => (None, Some(user.display_name.clone()), *expires_at, None),
            SessionInfo::NotConfigured { message } => (Some(message.clone()), None, None, None),
            SessionInfo::Expired { reason, .. } => (Some(reason.clone()), None, None, None),
            SessionInfo::Captcha { login_url, .. } => (
                Some("CAPTCHA challenge: sign in through the browser".into()),
                None,
                None,
                login_url.clone(),
            ),
            SessionInfo::Failed { error } => (Some(error.message.clone()), None, None, None),
        };
        Seen {
            state,
            reason,
            user,
            expires_at,
            login_url,
        }
    }

    /// The user must act: the notify command runs.
    fn needs_user(&self) -> bool {
        matches!(self.state, "expired" | "captcha" | "expiring")
    }

    /// Verifying again cannot help until fresh credentials are stored.
    fn waits_for_credentials(&self) -> bool {
        matches!(self.state, "expired" | "captcha" | "no_credentials")
    }

    /// Whether `other` is a different state for the reader (a new reason for
    /// the same failure is not worth a line).
    fn differs(&self, other: &Seen) -> bool {
        self.state != other.state || self.user != other.user || self.login_url != other.login_url
    }
}

async fn watch(
    settings: Settings,
    flags: FlagOverrides,
    interval: Duration,
    notify_cmd: Option<String>,
    json: bool,
) -> Result<Exit, CliError> {
    let site = settings
        .base_url
        .as_ref()
        .map(|u| u.to_string())
        .unwrap_or_default();
    let paths = settings.paths();
    let (vault_tx, mut vault_rx) = mpsc::unbounded_channel();
    let _watcher = watch_vault(&paths, vault_tx)
        .map_err(|e| CliError::Internal(format!("cannot watch the vault file: {e}")))?;
    let opts = WorkerOptions {
        source: SettingsSource::Environment(flags),
        machine_id: MachineIdSource::System,
        retry: RetryPolicy::default(),
        login_page: None,
    };
    let mut w = worker::spawn(settings, opts);
    let mut out = Output::stdout();
    let stop = stop_signal()?;
    tokio::pin!(stop);

    let mut last: Option<Seen> = None;
    let mut failures: u32 = 0;
    // When the next verification is due; `None` while waiting for fresh
    // credentials.
    let mut due: Option<tokio::time::Instant> = Some(tokio::time::Instant::now());
    let mut asked = false;
    loop {
        let sleep_until = due.unwrap_or_else(|| tokio::time::Instant::now() + FOREVER);
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep_until(sleep_until), if due.is_some() && !asked => {
                if !w.query(Query::Verify) {
                    return Err(CliError::Internal("the worker stopped".into()));
                }
                asked = true;
            }
            changed = vault_rx.recv() => {
                if changed.is_none() {
                    return Err(CliError::Internal("the vault watcher stopped".into()));
                }
                tokio::time::sleep(VAULT_SETTLE_PERIOD).await;
                while vault_rx.try_recv().is_ok() {}
                // Fresh credentials may have been stored: look now.
                if last.as_ref().is_none_or(Seen::waits_for_credentials) && !asked {
                    due = Some(tokio::time::Instant::now());
                }
            }
            ev = w.events.recv() => {
                let Some(ev) = ev else {
                    return Err(CliError::Internal("the worker stopped".into()));
                };
                let Event::Session(info) = ev else { continue };
                asked = false;
                let now = OffsetDateTime::now_utc();
                let seen = Seen::of(&info, now);
                if last.as_ref().is_none_or(|l| l.differs(&seen)) {
                    print(&mut out, json, &site, &seen, now)?;
                    if seen.needs_user()
                        && let Some(cmd) = &notify_cmd
                    {
                        run_notify(cmd, &site, &seen);
                    }
                }
                failures = if seen.state == "unreachable" { failures + 1 } else { 0 };
                due = if seen.waits_for_credentials() {
                    None
                } else {
                    let doublings = failures.min(MAX_BACKOFF_DOUBLINGS);
                    Some(tokio::time::Instant::now() + worker::keepalive_delay(interval * 2u32.pow(doublings)))
                };
                last = Some(seen);
            }
        }
    }
    w.task.abort();
    out.flush()?;
    Ok(Exit::Ok)
}

/// A far-away instant for a timer that is switched off.
const FOREVER: Duration = Duration::from_secs(86_400 * 365);

/// Resolves on SIGINT or SIGTERM.
fn stop_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())
            .map_err(|e| CliError::Internal(format!("cannot listen for SIGTERM: {e}")))?;
        let mut int = signal(SignalKind::interrupt())
            .map_err(|e| CliError::Internal(format!("cannot listen for SIGINT: {e}")))?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

fn print(
    out: &mut Output,
    json: bool,
    site: &str,
    seen: &Seen,
    now: OffsetDateTime,
) -> Result<(), CliError> {
    if json {
        out.line(json!({
            "time": rfc3339(now),
            "site": site,
            "state": seen.state,
            "reason": seen.reason,
            "user": seen.user,
            "expires_at": seen.expires_at.map(rfc3339),
            "login_url": seen.login_url,
        }))?;
    } else {
        let mut line = format!("{} {site} {}", rfc3339(now), seen.state);
        if let Some(user) = &seen.user {
            line.push_str(&format!(" as {user}"));
        }
        if let Some(at) = seen.expires_at {
            line.push_str(&format!(" (cookies expire {})", rfc3339(at)));
        }
        if let Some(reason) = &seen.reason {
            line.push_str(&format!(": {reason}"));
        }
        if let Some(url) = &seen.login_url {
            line.push_str(&format!(" (sign in at {url})"));
        }
        // The user name and reasons are the server's: escaped.
        out.line(for_terminal(&line))?;
    }
    out.flush()?;
    Ok(())
}

/// Runs the notify command through `sh -c`, without waiting for it. Its
/// environment loses every `CONFLUENCE_*` variable of ours (tokens,
/// passphrases) and gains only the session's state.
fn run_notify(cmd: &str, site: &str, seen: &Seen) {
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c").arg(cmd).stdin(std::process::Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CONFLUENCE_") {
            c.env_remove(name);
        }
    }
    c.env("CONFLUENCE_SESSION_STATE", seen.state)
        .env(
            "CONFLUENCE_SESSION_REASON",
            seen.reason.as_deref().unwrap_or(""),
        )
        .env(
            "CONFLUENCE_LOGIN_URL",
            seen.login_url.as_deref().unwrap_or(""),
        )
        .env("CONFLUENCE_BASE_URL", site);
    match c.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                match child.wait().await {
                    Ok(status) if !status.success() => {
                        tracing::warn!(%status, "the notify command failed");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "the notify command failed"),
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot run the notify command"),
    }
}

/// Watches the vault's directory (not the file: it is replaced by a rename
/// on every write); each change to the vault file sends a unit.
fn watch_vault(
    paths: &crate::config::DataPaths,
    tx: mpsc::UnboundedSender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    crate::fsutil::create_private_dir(&paths.cookies_dir).map_err(notify::Error::io)?;
    let vault = paths.vault_file.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        if event.paths.contains(&vault) {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&paths.cookies_dir, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}
