//! A private copy of a profile's database, taken with its `-wal` (and
//! `-journal`), so a running browser's lock never stops the read and the
//! profile itself is never opened for writing.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::BrowserError;

/// A cookie database (with its journal) larger than this is refused.
const MAX_DB_BYTES: u64 = 512 * 1024 * 1024;

/// The copy lives as long as this value: a private temporary directory.
pub(crate) struct PrivateCopy {
    _dir: tempfile::TempDir,
    /// The copied database.
    pub db: PathBuf,
}

/// Copies `db` and its `-wal`/`-journal` (when present) into a fresh
/// private directory. Only regular files are read: a FIFO or a device in a
/// profile must not hang or feed the read.
pub(crate) fn private_copy(db: &Path) -> Result<PrivateCopy, BrowserError> {
    let dir = tempfile::Builder::new()
        .prefix("confluence-tui-browser-")
        .tempdir()
        .map_err(|e| BrowserError::TempCopy(e.to_string()))?;
    let name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let target = dir.path().join(&name);
    copy_regular(db, &target, true)?;
    for suffix in ["-wal", "-journal"] {
        let mut side = db.as_os_str().to_os_string();
        side.push(suffix);
        let mut side_target = target.as_os_str().to_os_string();
        side_target.push(suffix);
        copy_regular(Path::new(&side), Path::new(&side_target), false)?;
    }
    Ok(PrivateCopy {
        _dir: dir,
        db: target,
    })
}

fn copy_regular(from: &Path, to: &Path, required: bool) -> Result<(), BrowserError> {
    let unreadable = |reason: String| BrowserError::Unreadable {
        path: from.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(from) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    if !meta.is_file() {
        return Err(unreadable("it is not a regular file".into()));
    }
    if meta.len() > MAX_DB_BYTES {
        return Err(unreadable(format!("it is over {} MiB", MAX_DB_BYTES >> 20)));
    }
    let file = std::fs::File::open(from).map_err(|e| unreadable(e.to_string()))?;
    let mut out = std::fs::File::create(to).map_err(|e| BrowserError::TempCopy(e.to_string()))?;
    std::io::copy(&mut file.take(MAX_DB_BYTES), &mut out).map_err(|e| unreadable(e.to_string()))?;
    Ok(())
}

/// Reads a small regular file of a profile (the session store).
pub(crate) fn read_regular(
    path: &Path,
    limit: u64,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, BrowserError> {
    let unreadable = |reason: String| BrowserError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
    };
    if !meta.is_file() {
        return Err(unreadable("it is not a regular file".into()));
    }
    if meta.len() > limit {
        return Err(unreadable(format!("it is over {} MiB", limit >> 20)));
    }
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    std::fs::File::open(path)
        .and_then(|f| f.take(limit).read_to_end(&mut bytes))
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(Some(bytes))
}
