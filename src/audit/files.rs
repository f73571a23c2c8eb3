//! The files behind one audit log: the live file, its rotated siblings, the
//! lock file, and creating them with private permissions.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::AuditError;
use crate::fsutil::{self, Access, FileFailure};

/// The lock file next to the log: `<log>.lock`.
pub(crate) fn lock_path(log: &Path) -> PathBuf {
    suffixed(log, ".lock")
}

/// The n-th rotated file: `<log>.<n>` (1 is the most recent).
pub(crate) fn rotated_path(log: &Path, n: usize) -> PathBuf {
    suffixed(log, &format!(".{n}"))
}

fn suffixed(log: &Path, suffix: &str) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Every file holding records, oldest first: `<log>.N` … `<log>.1`, `<log>`.
///
/// Rotated files are found by listing the directory rather than counting up
/// from 1, so a gap (a deleted `.2`) still shows up in verify as a chain break
/// instead of silently hiding the older files.
pub(crate) fn files_oldest_first(log: &Path) -> Result<Vec<PathBuf>, AuditError> {
    let dir = parent_dir(log);
    fsutil::check_private_dir_if_present(&dir).map_err(|e| AuditError::file(&dir, e))?;
    let mut rotated = rotated_numbers(log)?;
    rotated.sort_unstable_by(|a, b| b.cmp(a));
    let mut files: Vec<PathBuf> = rotated.into_iter().map(|n| rotated_path(log, n)).collect();
    if log.exists() {
        files.push(log.to_path_buf());
    }
    Ok(files)
}

/// The numbers `n` of existing `<log>.<n>` files, unordered.
pub(crate) fn rotated_numbers(log: &Path) -> Result<Vec<usize>, AuditError> {
    let dir = parent_dir(log);
    let Some(base) = log.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(AuditError::Io { path: dir, source }),
    };
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| AuditError::Io {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(base).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        if let Ok(n) = rest.parse::<usize>()
            && n > 0
        {
            numbers.push(n);
        }
    }
    Ok(numbers)
}

fn parent_dir(log: &Path) -> PathBuf {
    match log.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates the log's directory (0700 on Unix) if it is missing; an existing
/// one must be the user's and not writable by others.
pub(crate) fn ensure_dir(log: &Path) -> Result<(), AuditError> {
    let dir = parent_dir(log);
    fsutil::ensure_private_dir(&dir).map_err(|e| AuditError::file(&dir, e))
}

/// Opens (creating 0600 on Unix) a file for appending or locking, never
/// through a symbolic link, and only when it is the user's and not writable
/// by others.
pub(crate) fn open_private(path: &Path, append: bool) -> Result<File, AuditError> {
    let access = if append {
        Access::AppendCreate
    } else {
        Access::ReadWriteCreate
    };
    fsutil::open_private_file(path, access).map_err(|e| AuditError::file(path, e))
}

/// Opens a log file for reading under the same rules as [`open_private`];
/// `Ok(None)` when it does not exist (rotated away meanwhile).
pub(crate) fn open_for_reading(path: &Path) -> Result<Option<File>, AuditError> {
    match fsutil::open_private_file(path, Access::Read) {
        Ok(file) => Ok(Some(file)),
        Err(FileFailure::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(AuditError::file(path, e)),
    }
}

/// Held while one writer appends; released on drop (closing the file).
pub(crate) struct LogLock {
    _file: File,
}

impl LogLock {
    /// Waits (at most `timeout`, saying so on stderr) until this process
    /// holds the exclusive lock on `<log>.lock`.
    ///
    /// The lock is an OS lock on the open file, so it excludes other
    /// processes and also other threads of this one (each opens its own file).
    pub(crate) fn acquire(log: &Path, timeout: Duration) -> Result<LogLock, AuditError> {
        let path = lock_path(log);
        let file = open_private(&path, false)?;
        fsutil::lock_exclusive(&file, &path, timeout).map_err(|e| match e {
            FileFailure::Io(source) => AuditError::Lock {
                path: path.clone(),
                source,
            },
            other => AuditError::file(&path, other),
        })?;
        Ok(LogLock { _file: file })
    }
}
