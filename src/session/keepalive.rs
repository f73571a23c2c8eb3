//! The owner's one background loop: the keep-alive (a verification every
//! interval, ±10 % jitter, longer after network failures; none while the
//! session waits for fresh credentials), the vault watch (another process
//! imported, refreshed, cleared or marked the credentials: read them, and
//! verify fresh ones at once) and the browser watch (while the session is
//! dead, a fresh login in the browser is imported once the site accepts
//! it). All events are file events from `notify`, never polling.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::owner::Shared;
use super::state::Cause;
use super::verify::Ask;

/// Vault events come in bursts (temp file, rename): wait this long for the
/// burst to end before reading.
const VAULT_SETTLE_PERIOD: Duration = Duration::from_millis(200);
/// A browser writes its cookie store in bursts (database, WAL, session
/// store renamed into place): wait this long for the burst to end.
const BROWSER_SETTLE_PERIOD: Duration = Duration::from_millis(300);
/// A far-away instant for a timer that is switched off.
const FOREVER: Duration = Duration::from_secs(86_400 * 365);

/// The wait before the next keep-alive verification: `interval` ±10 %, so
/// many watchers do not knock at the same second.
pub fn keepalive_delay(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * fastrand::f64())
}

/// Runs the loop until the owner stops it.
pub(super) async fn run(shared: Arc<Shared>) {
    let (vault_tx, mut vault_rx) = mpsc::unbounded_channel();
    let _vault_watch = match super::watch_vault(&shared.settings.paths(), vault_tx) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the vault file; other processes' changes are seen at the next request");
            None
        }
    };
    let (browser_tx, mut browser_rx) = mpsc::unbounded_channel();
    let _browser_watch = match &shared.watch.browser {
        Some(spec) => match super::watch_browser(spec, browser_tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch the browser's cookie store");
                None
            }
        },
        None => None,
    };
    loop {
        let (due, look, soon) = {
            let mut held = shared.held();
            (
                held.due,
                std::mem::take(&mut held.look_in_browser) && held.state.is_dead(),
                std::mem::take(&mut held.verify_soon),
            )
        };
        if look {
            shared.pick_up_from_browser().await;
            continue;
        }
        if soon {
            run_verification(&shared).await;
            continue;
        }
        let at = due.unwrap_or_else(|| tokio::time::Instant::now() + FOREVER);
        let wake = shared.wake.notified();
        tokio::select! {
            () = tokio::time::sleep_until(at), if due.is_some() => {
                run_verification(&shared).await;
            }
            () = wake => {}
            changed = vault_rx.recv() => {
                if changed.is_none() {
                    break;
                }
                tokio::time::sleep(VAULT_SETTLE_PERIOD).await;
                while vault_rx.try_recv().is_ok() {}
                shared.ensure_fresh(Cause::Vault).await;
            }
            Some(()) = browser_rx.recv() => {
                tokio::time::sleep(BROWSER_SETTLE_PERIOD).await;
                while browser_rx.try_recv().is_ok() {}
                shared.pick_up_from_browser().await;
            }
        }
    }
}

async fn run_verification(shared: &Arc<Shared>) {
    if let Err(e) = shared.verify(Ask::IfUseful, None).await {
        tracing::warn!(error = %e, "the keep-alive's verification could not be recorded");
    }
}
