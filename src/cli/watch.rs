//! `watch`: keeps the session alive in the foreground. It verifies every
//! interval (jittered), prints a line at start and at every state change,
//! runs the notify command when the user must act, waits for fresh
//! credentials (the vault file, watched with `notify`) after a death, and
//! ends with exit 0 on SIGINT or SIGTERM.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;

use super::CliError;
use super::output::Output;
use crate::config::{FlagOverrides, Settings};
use crate::confluence::client::RetryPolicy;
use crate::credentials::rfc3339;
use crate::exit::Exit;
use crate::session::{FirstCheck, Notifier, Session, SessionConfig, SessionState, Snapshot, Watch};
use crate::text::for_terminal;
use crate::vault::MachineIdSource;

/// The flags of `watch`.
pub(super) struct WatchArgs {
    pub interval: Option<u64>,
    pub notify: Option<String>,
    pub json: bool,
    /// `--from-browser NAME [--profile PATH]`; default `CONFLUENCE_BROWSER`.
    pub browser: Option<crate::browser::BrowserSpec>,
}

pub(super) fn run(
    args: WatchArgs,
    settings: Settings,
    _flags: FlagOverrides,
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
    let browser = args.browser.or_else(|| settings.browser.clone());
    let rt = super::runtime()?;
    rt.block_on(watch(settings, interval, notify_cmd, browser, args.json))
}

async fn watch(
    settings: Settings,
    interval: Duration,
    notify_cmd: Option<String>,
    browser: Option<crate::browser::BrowserSpec>,
    json: bool,
) -> Result<Exit, CliError> {
    let site = settings
        .base_url
        .as_ref()
        .map(|u| u.to_string())
        .unwrap_or_default();
    if let Some(spec) = &browser {
        // A browser or profile that is not there: the user's to fix.
        crate::browser::resolve_profiles(spec).map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let watch = Watch {
        running: true,
        interval: Some(interval),
        first: FirstCheck::Now,
        notifier: Notifier::new(notify_cmd, site.clone()),
        browser,
    };
    let owner = Session::start(SessionConfig {
        settings,
        machine_id: MachineIdSource::System,
        retry: RetryPolicy::default(),
        login_page: None,
        watch,
    });
    let mut changes = owner.subscribe();
    let mut out = Output::stdout();
    let stop = stop_signal()?;
    tokio::pin!(stop);
    // The state it starts in: what the vault says, unless that still
    // needs a verification (the first one runs at once).
    let mut last: Option<Snapshot> = None;
    let start = owner.refresh().await;
    if start.state != SessionState::Checking {
        print(&mut out, json, &site, &start, OffsetDateTime::now_utc())?;
        last = Some(start);
    }
    loop {
        tokio::select! {
            () = &mut stop => break,
            change = changes.recv() => match change {
                Ok(seen) => {
                    let now = OffsetDateTime::now_utc();
                    let news = seen.state != SessionState::Checking
                        && last.as_ref().is_none_or(|l| l.differs(&seen, now));
                    if news {
                        print(&mut out, json, &site, &seen, now)?;
                        last = Some(seen);
                    }
                }
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => {
                    return Err(CliError::Internal("the session stopped".into()));
                }
            },
        }
    }
    owner.flush().await;
    out.flush()?;
    Ok(Exit::Ok)
}

/// Resolves on SIGINT or SIGTERM.
pub(super) fn stop_signal() -> Result<impl std::future::Future<Output = ()>, CliError> {
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
    seen: &Snapshot,
    now: OffsetDateTime,
) -> Result<(), CliError> {
    let state = seen.word(now).as_str();
    let expires_at = seen.expires_at.filter(|_| seen.is_signed_in());
    if json {
        out.line(json!({
            "time": rfc3339(now),
            "site": site,
            "state": state,
            "reason": seen.reason(),
            "user": seen.user_name(),
            "expires_at": expires_at.map(rfc3339),
            "login_url": seen.login_url(),
        }))?;
    } else {
        let mut line = format!("{} {site} {state}", rfc3339(now));
        if let Some(user) = seen.user_name() {
            line.push_str(&format!(" as {user}"));
        }
        if let Some(at) = expires_at {
            line.push_str(&format!(" (cookies expire {})", rfc3339(at)));
        }
        if let Some(reason) = seen.reason() {
            line.push_str(&format!(": {reason}"));
        }
        if let Some(url) = seen.login_url() {
            line.push_str(&format!(" (sign in at {url})"));
        }
        // The user name and reasons are the server's: escaped.
        out.line(for_terminal(&line))?;
    }
    out.flush()?;
    Ok(())
}
