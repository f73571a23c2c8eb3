//! Appending under the lock: find the last record from the file's tail,
//! rotate when the file is too big, repair a torn final line, write, sync.

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use time::OffsetDateTime;

use super::backward::BackwardLines;
use super::files::{
    LogLock, ensure_dir, open_for_reading, open_private, rotated_numbers, rotated_path,
};
use super::record::{
    AuditDetails, AuditEntry, AuditEvent, AuditOutcome, AuditRecord, GENESIS_PREV,
};
use super::{AuditError, AuditLog};

/// The end of the chain so far: what the next record continues from.
pub(crate) struct ChainEnd {
    pub(crate) seq: u64,
    pub(crate) hash: String,
}

pub(crate) fn append(log: &AuditLog, entry: AuditEntry) -> Result<AuditRecord, AuditError> {
    let path = log.path();
    ensure_dir(path)?;
    let _lock = LogLock::acquire(path, log.lock_timeout)?;

    let end = last_record(path)?;
    let now = now_millis();
    let mut out = Vec::new();
    let mut next_seq = end.seq.saturating_add(1);
    let mut prev = end.hash;

    let current_len = file_len(path)?;
    if current_len > log.max_bytes {
        let rotated_to = rotate(path, log.keep_rotated)?;
        let rotated = AuditRecord::seal(
            rotation_entry(log, rotated_to.as_deref()),
            now,
            next_seq,
            prev,
        )
        .map_err(|source| AuditError::Encode { source })?;
        push_line(&mut out, &rotated)?;
        next_seq = next_seq.saturating_add(1);
        prev = rotated.hash;
    }

    let mut file = open_private(path, true)?;
    if ends_with_torn_line(&mut file).map_err(|source| io_err(path, source))? {
        // A crash left half a record with no newline. Terminate it so the new
        // record starts on its own line; the fragment stays (the log is
        // append-only) and verify reports it.
        out.insert(0, b'\n');
    }
    let record = AuditRecord::seal(entry, now, next_seq, prev)
        .map_err(|source| AuditError::Encode { source })?;
    push_line(&mut out, &record)?;

    // One write on an O_APPEND file: concurrent readers never see a half
    // record from a live writer, only from a crash.
    file.write_all(&out)
        .map_err(|source| io_err(path, source))?;
    file.sync_data().map_err(|source| io_err(path, source))?;
    Ok(record)
}

fn push_line(out: &mut Vec<u8>, record: &AuditRecord) -> Result<(), AuditError> {
    let line = record
        .to_line()
        .map_err(|source| AuditError::Encode { source })?;
    out.extend_from_slice(&line);
    out.push(b'\n');
    Ok(())
}

fn io_err(path: &Path, source: io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whole milliseconds keep the `time` field short and readable.
fn now_millis() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    let millis = now.nanosecond() / 1_000_000 * 1_000_000;
    now.replace_nanosecond(millis).unwrap_or(now)
}

fn file_len(path: &Path) -> Result<u64, AuditError> {
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(source) => Err(io_err(path, source)),
    }
}

fn ends_with_torn_line(file: &mut fs::File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// The last parsable record, searching the live file's tail and then the
/// rotated files newest first (the live file may be missing or hold only a
/// torn line after a crash mid-rotation).
pub(crate) fn last_record(path: &Path) -> Result<ChainEnd, AuditError> {
    let mut numbers = rotated_numbers(path)?;
    numbers.sort_unstable();
    let candidates = std::iter::once(path.to_path_buf())
        .chain(numbers.into_iter().map(|n| rotated_path(path, n)));
    for file_path in candidates {
        let Some(file) = open_for_reading(&file_path)? else {
            continue;
        };
        let mut lines = BackwardLines::new(file).map_err(|source| io_err(&file_path, source))?;
        while let Some(line) = lines
            .next_line()
            .map_err(|source| io_err(&file_path, source))?
        {
            if let Some(record) = AuditRecord::from_line(&line) {
                return Ok(ChainEnd {
                    seq: record.seq,
                    hash: record.hash,
                });
            }
        }
    }
    Ok(ChainEnd {
        seq: 0,
        hash: GENESIS_PREV.to_string(),
    })
}

/// Shifts `.n` → `.n+1` (dropping those beyond `keep`) and moves the live
/// file to `.1`. Returns where the earlier records now are, if kept.
fn rotate(path: &Path, keep: usize) -> Result<Option<std::path::PathBuf>, AuditError> {
    let mut numbers = rotated_numbers(path)?;
    numbers.sort_unstable_by(|a, b| b.cmp(a));
    for n in numbers {
        let from = rotated_path(path, n);
        if n >= keep {
            fs::remove_file(&from).map_err(|source| io_err(&from, source))?;
        } else {
            let to = rotated_path(path, n + 1);
            fs::rename(&from, &to).map_err(|source| io_err(&from, source))?;
        }
    }
    let kept = if keep == 0 {
        fs::remove_file(path).map_err(|source| io_err(path, source))?;
        None
    } else {
        let to = rotated_path(path, 1);
        fs::rename(path, &to).map_err(|source| io_err(path, source))?;
        Some(to)
    };
    sync_dir(path)?;
    Ok(kept)
}

/// Makes the renames durable before the new file's first record refers to them.
fn sync_dir(path: &Path) -> Result<(), AuditError> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let handle = fs::File::open(dir).map_err(|source| io_err(dir, source))?;
        handle.sync_all().map_err(|source| io_err(dir, source))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn rotation_entry(log: &AuditLog, rotated_to: Option<&Path>) -> AuditEntry {
    let limit = log.max_bytes;
    match rotated_to {
        Some(to) => {
            let name = to
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| to.display().to_string());
            AuditEntry::new(
                AuditEvent::LogRotated,
                AuditOutcome::Info,
                format!("The audit log passed {limit} bytes; earlier records are in {name}."),
            )
            .details(AuditDetails {
                path: Some(to.display().to_string()),
                reason: Some("size limit".to_string()),
                ..AuditDetails::default()
            })
        }
        None => AuditEntry::new(
            AuditEvent::LogRotated,
            AuditOutcome::Info,
            format!(
                "The audit log passed {limit} bytes; earlier records were dropped because no rotated files are kept."
            ),
        )
        .details(AuditDetails {
            reason: Some("size limit".to_string()),
            ..AuditDetails::default()
        }),
    }
}
