//! Watches the vault file for changes made by any process (an import in
//! another terminal, a refresh saved by another face), without polling.

use tokio::sync::mpsc;

/// Watches the vault's directory (not the file: it is replaced by a rename
/// on every write); each change to the vault file sends a unit. The watch
/// lasts as long as the returned watcher.
pub(crate) fn watch_vault(
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
