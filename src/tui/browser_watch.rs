//! The TUI's watch on the cookie store of the browser `CONFLUENCE_BROWSER`
//! names (`session::watch_browser`, file events): a burst of writes (the
//! database, its WAL, the session store renamed into place) becomes one
//! `Msg::FileChanged(WatchedFile::Browser)` once it has settled.

use std::time::Duration;

use tokio::sync::mpsc;

use super::app::{Msg, WatchedFile};
use crate::browser::BrowserSpec;

/// A browser writes its cookie store in bursts: wait this long for the
/// burst to end before reading it.
const BROWSER_SETTLE_PERIOD: Duration = Duration::from_millis(300);

/// Keeps the watch alive; dropping it stops the events.
pub(crate) struct BrowserWatch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BrowserWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching; `None` (and a diagnostics line) when the browser's
/// files cannot be watched: the app then works as without the setting.
pub(crate) fn start(spec: &BrowserSpec, tx: &mpsc::UnboundedSender<Msg>) -> Option<BrowserWatch> {
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel();
    let watcher = match crate::session::watch_browser(spec, raw_tx) {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the browser's cookie store");
            return None;
        }
    };
    let tx = tx.clone();
    let task = tokio::spawn(async move {
        while raw_rx.recv().await.is_some() {
            tokio::time::sleep(BROWSER_SETTLE_PERIOD).await;
            while raw_rx.try_recv().is_ok() {}
            if tx.send(Msg::FileChanged(WatchedFile::Browser)).is_err() {
                break;
            }
        }
    });
    Some(BrowserWatch {
        _watcher: watcher,
        task,
    })
}
