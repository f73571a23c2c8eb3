//! Audit-log reader target: arbitrary bytes and mutations of a real log
//! (bit flips, cut lines, removed, duplicated, swapped and edited lines,
//! inserted garbage) through `read_all`, `read_tail` and `verify`.

use std::sync::OnceLock;

use confluence_tui::audit::{
    AuditDetails, AuditEntry, AuditEvent, AuditLog, AuditOutcome, AuditRecord, ChainReport,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use super::alloc::peak_bytes;

/// The records of the base log, and the log's bytes.
pub struct BaseLog {
    pub records: Vec<AuditRecord>,
    pub bytes: Vec<u8>,
}

/// A real log of a dozen records written by `AuditLog::append`.
pub fn base_log() -> &'static BaseLog {
    static BASE: OnceLock<BaseLog> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = AuditLog::new(dir.path().join("cookie_audit.log"));
        let events = [
            AuditEvent::CookiesSaved,
            AuditEvent::SessionVerified,
            AuditEvent::CookiesRefreshed,
            AuditEvent::SessionExpired,
            AuditEvent::CookiesExpired,
            AuditEvent::CookiesCleared,
        ];
        for (i, event) in events.iter().cycle().take(12).enumerate() {
            let details = AuditDetails {
                count: Some(i),
                names: Some(vec![
                    "cloud.session.token".into(),
                    "atlassian.xsrf.token".into(),
                ]),
                http_status: (i % 3 == 0).then_some(401),
                reason: Some(format!("step {i} ✓ ünïcode")),
                ..AuditDetails::default()
            };
            log.append(
                AuditEntry::new(*event, AuditOutcome::Success, format!("event number {i}"))
                    .details(details),
            )
            .expect("append");
        }
        BaseLog {
            records: log.read_all().expect("read"),
            bytes: std::fs::read(log.path()).expect("bytes"),
        }
    })
}

/// How a log file is made.
#[derive(Clone, Debug)]
pub enum LogInput {
    Arbitrary(Vec<u8>),
    Mutated(Vec<LogEdit>),
}

/// One change to the base log.
#[derive(Clone, Debug)]
pub enum LogEdit {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        keep: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    RemoveLine {
        line: usize,
    },
    DuplicateLine {
        line: usize,
    },
    SwapLines {
        a: usize,
        b: usize,
    },
    /// Replaces the first occurrence of `from` in a line with `to`.
    EditLine {
        line: usize,
        from: &'static str,
        to: String,
    },
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn apply(edit: &LogEdit, file: &mut Vec<u8>) {
    let len = file.len();
    let pos = |at: usize| at % (len + 1);
    let mut lines = split_lines(file);
    let n = lines.len();
    match edit {
        LogEdit::FlipBit { at, bit } => {
            if len > 0 {
                file[at % len] ^= 1 << (bit % 8);
            }
            return;
        }
        LogEdit::Truncate { keep } => {
            file.truncate(pos(*keep));
            return;
        }
        LogEdit::Insert { at, bytes } => {
            let at = pos(*at);
            file.splice(at..at, bytes.iter().copied());
            return;
        }
        _ if n == 0 => return,
        LogEdit::RemoveLine { line } => {
            lines.remove(line % n);
        }
        LogEdit::DuplicateLine { line } => {
            let l = lines[line % n].clone();
            lines.insert(line % n, l);
        }
        LogEdit::SwapLines { a, b } => lines.swap(a % n, b % n),
        LogEdit::EditLine { line, from, to } => {
            let text = String::from_utf8_lossy(&lines[line % n]).into_owned();
            lines[line % n] = text.replacen(from, to, 1).into_bytes();
        }
    }
    *file = lines.concat();
}

impl LogInput {
    /// The log file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            LogInput::Arbitrary(b) => b.clone(),
            LogInput::Mutated(edits) => {
                let mut file = base_log().bytes.clone();
                for e in edits {
                    apply(e, &mut file);
                }
                file
            }
        }
    }
}

/// The bytes a regression file stores: the log file itself.
pub fn to_bytes(l: &LogInput) -> Vec<u8> {
    l.bytes()
}

fn edit() -> impl Strategy<Value = LogEdit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| LogEdit::FlipBit { at, bit }),
        1 => any::<usize>().prop_map(|keep| LogEdit::Truncate { keep }),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..30))
            .prop_map(|(at, bytes)| LogEdit::Insert { at, bytes }),
        1 => any::<usize>().prop_map(|line| LogEdit::RemoveLine { line }),
        1 => any::<usize>().prop_map(|line| LogEdit::DuplicateLine { line }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| LogEdit::SwapLines { a, b }),
        2 => (
            any::<usize>(),
            prop::sample::select(vec![
                "\"seq\":", "\"message\":\"", "Success", "cookies_saved", "401", "\"prev\":\"",
                "\"hash\":\"", "\"time\":\"2", "\"count\":", ",",
            ]),
            "[ -~]{0,12}",
        )
            .prop_map(|(line, from, to)| LogEdit::EditLine { line, from, to }),
    ]
}

/// Arbitrary files and mutated real logs.
pub fn strategy() -> impl Strategy<Value = LogInput> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..600).prop_map(LogInput::Arbitrary),
        1 => prop::collection::vec("[ -~]{0,80}", 0..8)
            .prop_map(|l| LogInput::Arbitrary(l.join("\n").into_bytes())),
        5 => prop::collection::vec(edit(), 1..4).prop_map(LogInput::Mutated),
    ]
}

/// Never panics, never errors on a readable file; `verify` says Intact only
/// when the records read are exactly the first ones of the `original` log,
/// if known (a cut at a line boundary is the one change a hash chain cannot
/// see without an outside anchor); `read_tail` is the end of `read_all`.
pub fn check_bytes(bytes: &[u8], original: Option<&[AuditRecord]>) -> TestCaseResult {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let log = AuditLog::new(dir.path().join("cookie_audit.log"));
    std::fs::write(log.path(), bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let ((all, report), peak) = peak_bytes(|| (log.read_all(), log.verify()));
    let bound = 16 * bytes.len() + (1 << 20);
    prop_assert!(peak <= bound, "reading held {peak} bytes (bound {bound})");
    let all = all.map_err(|e| TestCaseError::fail(format!("read_all: {e}")))?;
    let report = report.map_err(|e| TestCaseError::fail(format!("verify: {e}")))?;
    for max in [0, 1, 3, all.len(), all.len() + 5] {
        let tail = log
            .read_tail(max)
            .map_err(|e| TestCaseError::fail(format!("read_tail: {e}")))?;
        let want = &all[all.len().saturating_sub(max)..];
        prop_assert!(tail == want, "read_tail({max}) is not the end of read_all");
    }
    match report {
        ChainReport::Intact { records } => {
            prop_assert_eq!(records, all.len());
            prop_assert!(
                original.is_none_or(|base| records <= base.len() && all[..] == base[..records]),
                "verify says intact, but the records differ from the real log's first {}",
                records
            );
        }
        ChainReport::Empty => prop_assert!(all.is_empty(), "empty report with records"),
        ChainReport::Broken { ref reason, .. } => {
            prop_assert!(!reason.is_empty());
            prop_assert!(!report.to_string().is_empty());
        }
    }
    Ok(())
}

/// `check_bytes` on a generated input.
pub fn check(input: &LogInput) -> TestCaseResult {
    check_bytes(&input.bytes(), Some(&base_log().records))
}
