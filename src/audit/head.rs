//! The log's head (sequence number and hash of its last record), stored in
//! the vault on every vault write, and the check that the log still reaches
//! it: records cut off the end of the log leave no break in the chain, but
//! they do leave the log shorter than the head the vault remembers.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{AuditError, AuditLog, files, reader, writer};

/// Sequence number and hash of a log's last record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogHead {
    pub seq: u64,
    pub hash: String,
}

/// How the log compares with a head remembered elsewhere (the vault).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadCheck {
    /// The log holds the remembered record (or has rotated it away, which
    /// cannot be told from here) and goes on from it.
    Reached,
    /// The log ends before the remembered record: records after `last_seq`
    /// (0: the log is empty) up to at least `head_seq` are missing.
    Missing { last_seq: u64, head_seq: u64 },
    /// The log holds a record with the remembered number but another hash:
    /// the log was rewritten from that record on.
    Differs { seq: u64 },
}

impl HeadCheck {
    /// True when nothing is missing or rewritten.
    pub fn is_ok(&self) -> bool {
        matches!(self, HeadCheck::Reached)
    }
}

impl fmt::Display for HeadCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadCheck::Reached => {
                f.write_str("the audit log reaches the head recorded in the vault")
            }
            HeadCheck::Missing { last_seq, head_seq } => write!(
                f,
                "audit log cut off: records after seq {last_seq} are missing \
                 (the vault was last written when the log ended at record {head_seq})"
            ),
            HeadCheck::Differs { seq } => write!(
                f,
                "audit log rewritten: record {seq} is not the one the vault recorded at its last write"
            ),
        }
    }
}

impl AuditLog {
    /// The last record's number and hash, or `None` for an empty log. Read
    /// under the writers' lock so a half-written record is never the head.
    pub fn head(&self) -> Result<Option<LogHead>, AuditError> {
        let path = self.path();
        let _lock = path
            .parent()
            .filter(|dir| dir.is_dir())
            .and_then(|_| files::LogLock::acquire(path, self.lock_timeout).ok());
        let end = writer::last_record(path)?;
        Ok((end.seq > 0).then_some(LogHead {
            seq: end.seq,
            hash: end.hash,
        }))
    }

    /// Compares the log with a head remembered at the last vault write.
    pub(crate) fn check_head(&self, head: &LogHead) -> Result<HeadCheck, AuditError> {
        let path = self.path();
        let _lock = path
            .parent()
            .filter(|dir| dir.is_dir())
            .and_then(|_| files::LogLock::acquire(path, self.lock_timeout).ok());
        let records = reader::read_all(path)?;
        let last_seq = records.last().map_or(0, |r| r.seq);
        if last_seq < head.seq {
            return Ok(HeadCheck::Missing {
                last_seq,
                head_seq: head.seq,
            });
        }
        match records.iter().find(|r| r.seq == head.seq) {
            Some(r) if r.hash != head.hash => Ok(HeadCheck::Differs { seq: head.seq }),
            _ => Ok(HeadCheck::Reached),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEntry, AuditEvent, AuditOutcome};

    fn log_with(n: usize) -> (tempfile::TempDir, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("logs").join("cookie_audit.log"));
        for i in 0..n {
            log.append(AuditEntry::new(
                AuditEvent::TokenStored,
                AuditOutcome::Success,
                format!("record {i}"),
            ))
            .unwrap();
        }
        (dir, log)
    }

    #[test]
    fn empty_log_has_no_head() {
        let (_dir, log) = log_with(0);
        assert_eq!(log.head().unwrap(), None);
    }

    #[test]
    fn head_is_the_last_record_and_a_longer_log_still_reaches_it() {
        let (_dir, log) = log_with(3);
        let head = log.head().unwrap().unwrap();
        assert_eq!(head.seq, 3);
        assert_eq!(log.check_head(&head).unwrap(), HeadCheck::Reached);
        log.append(AuditEntry::new(
            AuditEvent::TokenCleared,
            AuditOutcome::Success,
            "later",
        ))
        .unwrap();
        assert_eq!(log.check_head(&head).unwrap(), HeadCheck::Reached);
    }

    #[test]
    fn cut_off_records_are_missing() {
        let (_dir, log) = log_with(4);
        let head = log.head().unwrap().unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        let kept: Vec<&str> = text.lines().take(2).collect();
        std::fs::write(log.path(), format!("{}\n", kept.join("\n"))).unwrap();
        let check = log.check_head(&head).unwrap();
        assert_eq!(
            check,
            HeadCheck::Missing {
                last_seq: 2,
                head_seq: 4
            }
        );
        assert!(
            check
                .to_string()
                .contains("records after seq 2 are missing")
        );
    }

    #[test]
    fn a_different_record_at_the_head_is_a_rewrite() {
        let (_dir, log) = log_with(2);
        let mut head = log.head().unwrap().unwrap();
        head.hash = "0".repeat(64);
        assert_eq!(
            log.check_head(&head).unwrap(),
            HeadCheck::Differs { seq: 2 }
        );
    }
}
