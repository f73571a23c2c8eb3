//! Watches a browser profile's cookie store (file events from `notify`,
//! not polling), so a fresh login in the browser is noticed while the
//! session is dead.

use std::path::PathBuf;

use tokio::sync::mpsc;

use crate::browser::{self, BrowserSpec};

/// Why the browser's files cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum BrowserWatchError {
    #[error(transparent)]
    Browser(#[from] browser::BrowserError),
    #[error("cannot watch the browser's cookie store: {0}")]
    Watch(#[from] notify::Error),
}

/// Watches the cookie store files of every profile `spec` names (their
/// directories: browsers replace files by renaming); each change to one of
/// them sends a unit. The watch lasts as long as the returned watcher.
pub(crate) fn watch_browser(
    spec: &BrowserSpec,
    tx: mpsc::UnboundedSender<()>,
) -> Result<notify::RecommendedWatcher, BrowserWatchError> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let files: Vec<PathBuf> = browser::resolve_profiles(spec)?
        .iter()
        .flat_map(browser::store_files)
        .collect();
    let watched = files.clone();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        if event.paths.iter().any(|p| watched.contains(p)) {
            let _ = tx.send(());
        }
    })?;
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(PathBuf::from))
        .collect();
    dirs.dedup();
    for dir in dirs {
        if dir.is_dir() {
            watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        } else if let Some(parent) = dir.parent().filter(|p| p.is_dir()) {
            // A directory the browser has not made yet (the session
            // store's, before its first save): watched from the profile
            // directory down, so its first file is seen too.
            watcher.watch(parent, RecursiveMode::Recursive)?;
        }
    }
    Ok(watcher)
}
