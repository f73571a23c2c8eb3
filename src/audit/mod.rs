//! Append-only audit log of credential operations: JSON lines chained by
//! SHA-256, safe to append from several processes, rotated by size.
//!
//! The format, the hashing and the rotation rules are described in
//! `docs/audit-log.md`. No secret value is ever written: the only free-form
//! data a record carries is the typed, value-free [`AuditDetails`].

mod backward;
mod files;
mod head;
pub mod index;
mod reader;
mod record;
mod writer;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use head::{HeadCheck, LogHead};
pub use record::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome, AuditRecord, GENESIS_PREV};

/// Size above which the live file is rotated before the next append.
pub(crate) const DEFAULT_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Rotated files kept (`.1` … `.3`); older ones are deleted.
pub(crate) const DEFAULT_KEEP_ROTATED: usize = 3;

/// Why the audit log could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(
        "cannot read or write the audit log file {path}: {source}. Check that the file and its directory exist and belong to you (directory 0700, file 0600), and that the disk is not full"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot lock the audit log with {path}: {source}. Check that the logs directory is writable; if another confluence-tui is hung, stop it"
    )]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot encode an audit record: {source}. This is a bug in confluence-tui; please report it"
    )]
    Encode {
        #[source]
        source: serde_json::Error,
    },
    /// A log file, its lock file or the logs directory is not the user's,
    /// can be changed by others, or is a symbolic link (never followed).
    #[error(transparent)]
    Unsafe(#[from] crate::fsutil::UnsafePath),
    /// Another process held the log's lock longer than
    /// `CONFLUENCE_LOCK_TIMEOUT_SECS`.
    #[error(transparent)]
    LockTimeout(#[from] crate::fsutil::LockTimedOut),
}

impl AuditError {
    /// What kind of failure this is (decides the exit code): a file refused
    /// as unsafe is the user's setup to fix (usage); anything else is a
    /// failed read or write (internal).
    pub fn class(&self) -> crate::exit::ErrorClass {
        match self {
            AuditError::Unsafe(_) => crate::exit::ErrorClass::Usage,
            AuditError::Io { .. }
            | AuditError::Lock { .. }
            | AuditError::Encode { .. }
            | AuditError::LockTimeout(_) => crate::exit::ErrorClass::Internal,
        }
    }

    /// A failed private open, check or lock of `path`.
    pub(crate) fn file(path: &Path, failure: crate::fsutil::FileFailure) -> AuditError {
        use crate::fsutil::FileFailure;
        match failure {
            FileFailure::Unsafe(e) => AuditError::Unsafe(e),
            FileFailure::TimedOut(e) => AuditError::LockTimeout(e),
            FileFailure::Io(source) => AuditError::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

/// The result of checking the hash chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainReport {
    /// Every record parses and links to the one before it.
    Intact { records: usize },
    /// The first record (or line) that does not; `line` is 1-based in `file`.
    Broken {
        seq: Option<u64>,
        line: usize,
        file: PathBuf,
        reason: String,
    },
    /// No records at all (no file yet, or only empty files).
    Empty,
}

impl ChainReport {
    /// True when nothing is wrong (an empty log is not wrong).
    pub fn is_ok(&self) -> bool {
        !matches!(self, ChainReport::Broken { .. })
    }
}

impl fmt::Display for ChainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainReport::Intact { records } => {
                write!(
                    f,
                    "audit log intact: {records} records, hash chain verified"
                )
            }
            ChainReport::Empty => f.write_str("audit log is empty: nothing to verify"),
            ChainReport::Broken {
                seq,
                line,
                file,
                reason,
            } => {
                let at = match seq {
                    Some(seq) => {
                        format!("record {seq} ({}, line {line})", reader::display_name(file))
                    }
                    None => format!("{}, line {line}", reader::display_name(file)),
                };
                write!(f, "audit log chain broken at {at}: {reason}")
            }
        }
    }
}

/// One audit log file and its rotated siblings.
#[derive(Clone, Debug)]
pub struct AuditLog {
    path: PathBuf,
    max_bytes: u64,
    keep_rotated: usize,
    /// How long to wait for another process's lock.
    lock_timeout: Duration,
}

impl AuditLog {
    /// A log at `path` rotating at 5 MiB and keeping 3 rotated files.
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog::with_limits(path, DEFAULT_MAX_BYTES, DEFAULT_KEEP_ROTATED)
    }

    /// A log with explicit rotation limits.
    pub fn with_limits(path: impl Into<PathBuf>, max_bytes: u64, keep_rotated: usize) -> AuditLog {
        AuditLog {
            path: path.into(),
            max_bytes,
            keep_rotated,
            lock_timeout: crate::fsutil::DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Waits at most `timeout` for a lock held by another process
    /// (`CONFLUENCE_LOCK_TIMEOUT_SECS`; 30 s unless set).
    pub(crate) fn with_lock_timeout(mut self, timeout: Duration) -> AuditLog {
        self.lock_timeout = timeout;
        self
    }

    /// The live file (`…/logs/cookie_audit.log`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record under the cross-process lock and returns it as written.
    pub fn append(&self, entry: AuditEntry) -> Result<AuditRecord, AuditError> {
        writer::append(self, entry)
    }

    /// Every parsable record, oldest first, rotated files included; damaged
    /// lines are skipped here and reported by [`AuditLog::verify`].
    pub fn read_all(&self) -> Result<Vec<AuditRecord>, AuditError> {
        reader::read_all(&self.path)
    }

    /// The newest `max` records, oldest first, read backwards from the end.
    pub fn read_tail(&self, max: usize) -> Result<Vec<AuditRecord>, AuditError> {
        reader::read_tail(&self.path, max)
    }

    /// Checks every line across all kept files and reports the first break.
    pub fn verify(&self) -> Result<ChainReport, AuditError> {
        // Writers append and rotate under this lock; reading under it too
        // means never seeing half a rotation or a half-copied last line, so
        // a healthy log is never called broken. Where the lock cannot be
        // taken (no logs directory yet, a read-only copy) the files are read
        // as they are.
        let _lock = self
            .path
            .parent()
            .filter(|dir| dir.is_dir())
            .and_then(|_| files::LogLock::acquire(&self.path, self.lock_timeout).ok());
        reader::verify(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    /// Found by the kill/soak work: `verify` read without the writers' lock
    /// and, while another thread appended and rotated, now and then saw half
    /// a rotation ("prev does not match") or a half-copied last line, and
    /// called a healthy log broken.
    #[test]
    fn verify_during_appends_and_rotations_never_reports_a_healthy_log_broken() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::with_limits(dir.path().join("cookie_audit.log"), 20_000, 1);
        let entry = || {
            AuditEntry::new(
                AuditEvent::CookiesSaved,
                AuditOutcome::Success,
                "x".repeat(2_000),
            )
        };
        log.append(entry()).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (log, stop) = (log.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut appended = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    log.append(entry()).unwrap();
                    appended += 1;
                }
                appended
            })
        };
        let started = Instant::now();
        let mut broken = Vec::new();
        let mut checks = 0u32;
        while started.elapsed() < Duration::from_secs(3) {
            checks += 1;
            let report = log.verify().unwrap();
            if !report.is_ok() {
                broken.push(report);
            }
        }
        stop.store(true, Ordering::Relaxed);
        let appended = writer.join().unwrap();
        assert!(
            appended > 20 && checks > 20,
            "{appended} appends, {checks} checks"
        );
        assert!(
            broken.is_empty(),
            "{} of {checks} checks: {:?}",
            broken.len(),
            broken.first()
        );
    }
}
