//! Watches the data directory for the app: the intake file (cookies dropped
//! in), the vault (another process imported or expired cookies) and the
//! audit log. File events come from the operating system (`notify`), on the
//! watcher's own thread, so the UI loop never polls or stats a file.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::app::{Msg, WatchedFile};
use crate::config::DataPaths;

/// Keeps the watch alive; dropping it stops the events.
pub(crate) struct FileWatcher {
    _watcher: notify::RecommendedWatcher,
}

/// Starts watching `paths`; changes arrive on `tx` as `Msg::FileChanged`.
pub fn watch(paths: &DataPaths, tx: mpsc::UnboundedSender<Msg>) -> notify::Result<FileWatcher> {
    for dir in [&paths.cookies_dir, &paths.logs_dir] {
        crate::fsutil::create_private_dir(dir).map_err(notify::Error::io)?;
    }
    let targets = Targets {
        intake: paths.intake_file.clone(),
        vault: paths.vault_file.clone(),
        audit: paths.audit_log.clone(),
    };
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        for path in &event.paths {
            if let Some(file) = targets.which(path) {
                let _ = tx.send(Msg::FileChanged(file));
            }
        }
    })?;
    watcher.watch(&paths.cookies_dir, RecursiveMode::NonRecursive)?;
    watcher.watch(&paths.logs_dir, RecursiveMode::NonRecursive)?;
    Ok(FileWatcher { _watcher: watcher })
}

struct Targets {
    intake: PathBuf,
    vault: PathBuf,
    audit: PathBuf,
}

impl Targets {
    /// Which watched file `path` is, if it matters now. The intake file
    /// counts only when it holds something: emptying it after an import is
    /// not a new paste.
    fn which(&self, path: &Path) -> Option<WatchedFile> {
        if path == self.intake {
            let m = std::fs::symlink_metadata(path).ok()?;
            (m.is_file() && m.len() > 0 && !zero_filled(path)).then_some(WatchedFile::Intake)
        } else if path == self.vault {
            Some(WatchedFile::Vault)
        } else if path == self.audit {
            Some(WatchedFile::AuditLog)
        } else {
            None
        }
    }
}

/// True when the file starts with NUL bytes only: the import overwrites the
/// plain file with zeros before truncating it, and that is no new paste.
fn zero_filled(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 512];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    match f.read(&mut head) {
        Ok(n) => n > 0 && head[..n].iter().all(|&b| b == 0),
        Err(_) => false,
    }
}
