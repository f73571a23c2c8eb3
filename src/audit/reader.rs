//! Reading records back (all, or only the newest) and verifying the chain.

use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::backward::BackwardLines;
use super::files::{files_oldest_first, open_for_reading};
use super::record::{AuditEvent, AuditRecord, GENESIS_PREV};
use super::{AuditError, ChainReport};

fn io_err(path: &Path, source: io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Calls `each(line_number, bytes)` for every line of a file, 1-based.
/// A final line without `\n` (a torn write) is still a line.
fn for_each_line(
    path: &Path,
    mut each: impl FnMut(usize, &[u8]) -> Option<ChainReport>,
) -> Result<Option<ChainReport>, AuditError> {
    // None: rotated by another process between listing and opening.
    let Some(file) = open_for_reading(path)? else {
        return Ok(None);
    };
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| io_err(path, source))?;
        if n == 0 {
            return Ok(None);
        }
        number += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if let Some(stop) = each(number, &buf) {
            return Ok(Some(stop));
        }
    }
}

/// Every parsable record, oldest first, rotated files included.
pub(crate) fn read_all(log: &Path) -> Result<Vec<AuditRecord>, AuditError> {
    let mut records = Vec::new();
    for path in files_oldest_first(log)? {
        for_each_line(&path, |_, line| {
            if let Some(record) = AuditRecord::from_line(line) {
                records.push(record);
            }
            None
        })?;
    }
    Ok(records)
}

/// The newest `max` parsable records, oldest first, read from the end.
pub(crate) fn read_tail(log: &Path, max: usize) -> Result<Vec<AuditRecord>, AuditError> {
    let mut newest_first = Vec::new();
    if max == 0 {
        return Ok(newest_first);
    }
    for path in files_oldest_first(log)?.into_iter().rev() {
        let Some(file) = open_for_reading(&path)? else {
            continue;
        };
        let mut lines = BackwardLines::new(file).map_err(|source| io_err(&path, source))?;
        while let Some(line) = lines.next_line().map_err(|source| io_err(&path, source))? {
            if let Some(record) = AuditRecord::from_line(&line) {
                newest_first.push(record);
                if newest_first.len() == max {
                    newest_first.reverse();
                    return Ok(newest_first);
                }
            }
        }
    }
    newest_first.reverse();
    Ok(newest_first)
}

/// The link a record must continue from.
struct Link {
    seq: u64,
    hash: String,
}

/// Walks every file oldest → newest and reports the first broken record.
pub(crate) fn verify(log: &Path) -> Result<ChainReport, AuditError> {
    let mut last: Option<Link> = None;
    let mut records = 0usize;
    for path in files_oldest_first(log)? {
        let stop = for_each_line(&path, |number, line| {
            let broken = |seq: Option<u64>, reason: String| ChainReport::Broken {
                seq,
                line: number,
                file: path.clone(),
                reason,
            };
            let record = match AuditRecord::from_line(line) {
                Some(r) => r,
                None => return Some(broken(seq_of_unparsable(line), unparsable_reason(line))),
            };
            if let Some(reason) = check(&record, last.as_ref()) {
                return Some(broken(Some(record.seq), reason));
            }
            records += 1;
            last = Some(Link {
                seq: record.seq,
                hash: record.hash,
            });
            None
        })?;
        if let Some(report) = stop {
            return Ok(report);
        }
    }
    Ok(if records == 0 {
        ChainReport::Empty
    } else {
        ChainReport::Intact { records }
    })
}

/// Why a parsed record does not belong where it is, if it does not.
fn check(record: &AuditRecord, last: Option<&Link>) -> Option<String> {
    match record.compute_hash() {
        Ok(h) if h == record.hash => {}
        _ => return Some("hash mismatch: record was changed".to_string()),
    }
    match last {
        Some(link) => {
            if record.prev != link.hash {
                return Some("prev does not match: a record was removed or reordered".to_string());
            }
            if Some(record.seq) != link.seq.checked_add(1) {
                return Some(format!(
                    "seq {} does not follow {}: a record was removed, duplicated or reordered",
                    record.seq, link.seq
                ));
            }
        }
        // The oldest kept record is the anchor: either the very first record
        // of the log, or the start of a file made by rotation (whose
        // predecessor may have been dropped). Anything else means records at
        // the start were removed.
        None => {
            let is_first = record.seq == 1 && record.prev == GENESIS_PREV;
            if !is_first && record.event != AuditEvent::LogRotated {
                return Some(
                    "the oldest record is neither record 1 nor the start of a rotated file: records at the start were removed"
                        .to_string(),
                );
            }
        }
    }
    None
}

fn seq_of_unparsable(line: &[u8]) -> Option<u64> {
    serde_json::from_slice::<serde_json::Value>(line)
        .ok()?
        .get("seq")?
        .as_u64()
}

/// Never quotes the line: a garbage line could be anything, even a secret.
fn unparsable_reason(line: &[u8]) -> String {
    if line.is_empty() {
        "empty line: not a JSON record".to_string()
    } else if serde_json::from_slice::<serde_json::Value>(line).is_ok() {
        "not an audit record: a field is missing or has the wrong type".to_string()
    } else {
        "not a JSON record (a damaged line, or half a record left by a crash)".to_string()
    }
}

/// The file a broken report points at, for messages.
pub(crate) fn display_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| PathBuf::from(file).display().to_string())
}
