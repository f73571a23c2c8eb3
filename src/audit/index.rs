//! A faster way to load the whole log for the viewer: one pass that parses
//! every line once and checks the chain as it goes, instead of `read_all`
//! followed by `verify` (two parses of every line).
//!
//! Only the common case is handled here: when anything is wrong, the exact
//! report (with the reader's wording) comes from [`AuditLog::verify`], so the
//! viewer and `audit --verify` can never disagree about a broken chain.

use std::io::Read;
use std::path::Path;

use super::files::{files_oldest_first, open_for_reading};
use super::record::{AuditEvent, AuditRecord, GENESIS_PREV};
use super::{AuditError, AuditLog, ChainReport};

/// Every parsable record, oldest first (as [`AuditLog::read_all`]), and the
/// chain report (as [`AuditLog::verify`]), reading each file once.
pub fn read_verified(log: &Path) -> Result<(Vec<AuditRecord>, ChainReport), AuditError> {
    let mut records: Vec<AuditRecord> = Vec::new();
    let mut broken = false;
    for path in files_oldest_first(log)? {
        // None: rotated away by another process between listing and reading.
        let Some(mut file) = open_for_reading(&path)? else {
            continue;
        };
        let mut bytes = Vec::new();
        if let Err(source) = file.read_to_end(&mut bytes) {
            return Err(AuditError::Io { path, source });
        }
        if bytes.is_empty() {
            continue;
        }
        // A final line without `\n` (a torn write) is still a line.
        let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        for line in body.split(|&b| b == b'\n') {
            match AuditRecord::from_line(line) {
                Some(record) => {
                    if !broken && !links(&record, records.last()) {
                        broken = true;
                    }
                    records.push(record);
                }
                None => broken = true,
            }
        }
    }
    let report = if broken {
        AuditLog::new(log).verify()?
    } else if records.is_empty() {
        ChainReport::Empty
    } else {
        ChainReport::Intact {
            records: records.len(),
        }
    };
    Ok((records, report))
}

/// True when `record` is sealed correctly and continues `last` (or may start
/// the log). Mirrors the reader's rules; any `false` defers to `verify`.
fn links(record: &AuditRecord, last: Option<&AuditRecord>) -> bool {
    if !record.compute_hash().is_ok_and(|h| h == record.hash) {
        return false;
    }
    match last {
        Some(last) => record.prev == last.hash && Some(record.seq) == last.seq.checked_add(1),
        None => {
            (record.seq == 1 && record.prev == GENESIS_PREV)
                || record.event == AuditEvent::LogRotated
        }
    }
}
