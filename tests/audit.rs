//! The audit log on real files: chain, tampering, rotation, concurrency,
//! torn writes, tail reading, schema and permissions.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use confluence_tui::audit::{
    AuditDetails, AuditEntry, AuditEvent, AuditLog, AuditOutcome, AuditRecord, ChainReport,
    GENESIS_PREV,
};

fn log_in(dir: &tempfile::TempDir) -> AuditLog {
    AuditLog::new(dir.path().join("logs").join("cookie_audit.log"))
}

fn entry(i: usize) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::CookiesSaved,
        AuditOutcome::Success,
        format!("Saved {i} cookies to the vault."),
    )
    .details(AuditDetails {
        count: Some(i),
        ..AuditDetails::default()
    })
}

fn append_n(log: &AuditLog, n: usize) -> Vec<AuditRecord> {
    (1..=n).map(|i| log.append(entry(i)).unwrap()).collect()
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    fs::write(path, text).unwrap();
}

fn broken(report: ChainReport) -> (Option<u64>, usize, PathBuf, String) {
    match report {
        ChainReport::Broken {
            seq,
            line,
            file,
            reason,
        } => (seq, line, file, reason),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn appended_records_read_back_with_an_intact_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    assert_eq!(log.verify().unwrap(), ChainReport::Empty);
    assert!(log.read_all().unwrap().is_empty());

    let written = append_n(&log, 5);
    let read = log.read_all().unwrap();
    assert_eq!(read, written);
    assert_eq!(
        read.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(read[0].prev, GENESIS_PREV);
    for pair in read.windows(2) {
        assert_eq!(pair[1].prev, pair[0].hash);
    }
    for r in &read {
        assert_eq!(r.hash, r.compute_hash().unwrap());
        assert_eq!(r.hash.len(), 64);
        assert!(r.time.offset().is_utc());
    }
    assert_eq!(log.verify().unwrap(), ChainReport::Intact { records: 5 });
    assert_eq!(lines(log.path()).len(), 5);
}

#[test]
fn hash_covers_the_documented_canonical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    let record = log.append(entry(7)).unwrap();
    let line = &lines(log.path())[0];
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    let mut canonical = value.as_object().unwrap().clone();
    canonical.remove("hash");
    let expected_bytes = format!(
        r#"{{"time":{},"seq":1,"event":"cookies_saved","outcome":"success","message":"Saved 7 cookies to the vault.","details":{{"count":7}},"prev":"{GENESIS_PREV}"}}"#,
        serde_json::to_string(&canonical["time"]).unwrap()
    );
    assert_eq!(record.canonical_bytes().unwrap(), expected_bytes.as_bytes());
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(expected_bytes.as_bytes()));
    assert_eq!(record.hash, digest);
    assert!(line.ends_with(&format!(r#","hash":"{digest}"}}"#)));
}

#[test]
fn changed_message_byte_is_a_hash_mismatch_at_that_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 5);
    let mut all = lines(log.path());
    all[2] = all[2].replacen("Saved 3", "Saved 9", 1);
    write_lines(log.path(), &all);

    let (seq, line, file, reason) = broken(log.verify().unwrap());
    assert_eq!(seq, Some(3));
    assert_eq!(line, 3);
    assert_eq!(file, log.path());
    assert!(reason.contains("hash mismatch"), "{reason}");
}

#[test]
fn deleted_line_breaks_the_prev_link() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 5);
    let mut all = lines(log.path());
    all.remove(2);
    write_lines(log.path(), &all);

    let (seq, line, _, reason) = broken(log.verify().unwrap());
    assert_eq!(seq, Some(4));
    assert_eq!(line, 3);
    assert!(reason.contains("prev does not match"), "{reason}");
}

#[test]
fn deleted_first_record_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 3);
    let mut all = lines(log.path());
    all.remove(0);
    write_lines(log.path(), &all);

    let (seq, line, _, reason) = broken(log.verify().unwrap());
    assert_eq!((seq, line), (Some(2), 1));
    assert!(
        reason.contains("records at the start were removed"),
        "{reason}"
    );
}

#[test]
fn reordered_lines_break_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 5);
    let mut all = lines(log.path());
    all.swap(1, 2);
    write_lines(log.path(), &all);

    let (seq, line, _, reason) = broken(log.verify().unwrap());
    assert_eq!((seq, line), (Some(3), 2));
    assert!(reason.contains("prev does not match"), "{reason}");
}

#[test]
fn garbage_line_is_reported_with_its_line_number_and_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 4);
    let mut all = lines(log.path());
    all.insert(2, "JSESSIONID=SENTINEL-garbage-value".to_string());
    write_lines(log.path(), &all);

    let report = log.verify().unwrap();
    let shown = report.to_string();
    let (seq, line, _, reason) = broken(report);
    assert_eq!((seq, line), (None, 3));
    assert!(reason.contains("not a JSON record"), "{reason}");
    assert!(!shown.contains("SENTINEL"), "{shown}");
    assert!(shown.contains("line 3"), "{shown}");
    // read_all skips the damaged line and keeps the rest.
    assert_eq!(log.read_all().unwrap().len(), 4);
}

#[test]
fn json_that_is_not_a_record_reports_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 3);
    let mut all = lines(log.path());
    all[1] = all[1].replacen(r#""outcome":"success""#, r#""outcome":"splendid""#, 1);
    write_lines(log.path(), &all);

    let (seq, line, _, reason) = broken(log.verify().unwrap());
    assert_eq!((seq, line), (Some(2), 2));
    assert!(reason.contains("not an audit record"), "{reason}");
}

#[test]
fn unknown_fields_are_tolerated_by_readers() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 2);
    let mut all = lines(log.path());
    all[1] = all[1].replacen('{', r#"{"host":"build-7","#, 1);
    write_lines(log.path(), &all);

    assert_eq!(log.read_all().unwrap().len(), 2);
    assert_eq!(log.verify().unwrap(), ChainReport::Intact { records: 2 });
    assert_eq!(log.append(entry(3)).unwrap().seq, 3);
}

#[test]
fn rotation_keeps_the_chain_and_seq_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs").join("cookie_audit.log");
    let log = AuditLog::with_limits(&path, 200, 2);
    for i in 1..=20 {
        log.append(entry(i)).unwrap();
    }
    let rotated = |n: usize| PathBuf::from(format!("{}.{n}", path.display()));
    assert!(rotated(1).exists());
    assert!(rotated(2).exists());
    assert!(!rotated(3).exists(), "keep_rotated=2 must drop .3");

    // Each rotated file starts with the LogRotated record that continues the chain.
    let live = AuditLog::with_limits(&path, u64::MAX, 0);
    let records = live.read_all().unwrap();
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    let first = seqs[0];
    assert_eq!(seqs, (first..first + seqs.len() as u64).collect::<Vec<_>>());
    assert!(first > 1, "the oldest records must have been dropped");
    assert_eq!(
        records.last().unwrap().message,
        "Saved 20 cookies to the vault."
    );

    let live_first: AuditRecord = serde_json::from_str(&lines(&path)[0]).unwrap();
    assert_eq!(live_first.event, AuditEvent::LogRotated);
    assert!(
        live_first.message.contains("cookie_audit.log.1"),
        "{}",
        live_first.message
    );
    let newest_rotated = lines(&rotated(1));
    let before: AuditRecord = serde_json::from_str(newest_rotated.last().unwrap()).unwrap();
    assert_eq!(live_first.prev, before.hash);
    assert_eq!(live_first.seq, before.seq + 1);

    assert_eq!(
        log.verify().unwrap(),
        ChainReport::Intact {
            records: records.len()
        }
    );
}

#[test]
fn rotation_break_across_files_is_found_in_the_right_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    let log = AuditLog::with_limits(&path, 200, 5);
    for i in 1..=8 {
        log.append(entry(i)).unwrap();
    }
    let middle = PathBuf::from(format!("{}.2", path.display()));
    let mut all = lines(&middle);
    let last = all.len() - 1;
    all[last] = all[last].replacen("Saved", "Saves", 1);
    write_lines(&middle, &all);

    let (_, line, file, reason) = broken(log.verify().unwrap());
    assert_eq!(file, middle);
    assert_eq!(line, all.len());
    assert!(reason.contains("hash mismatch"), "{reason}");
}

#[test]
fn rotation_keeping_no_files_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    let log = AuditLog::with_limits(&path, 100, 0);
    for i in 1..=6 {
        log.append(entry(i)).unwrap();
    }
    assert!(!PathBuf::from(format!("{}.1", path.display())).exists());
    let records = log.read_all().unwrap();
    assert_eq!(records[0].event, AuditEvent::LogRotated);
    assert!(records[0].message.contains("dropped"));
    assert_eq!(records.last().unwrap().seq, 6 + 5);
    assert!(matches!(log.verify().unwrap(), ChainReport::Intact { .. }));
}

const CHILD_LOG_VAR: &str = "CONFLUENCE_TUI_AUDIT_CHILD_LOG";
const CHILD_MAX_VAR: &str = "CONFLUENCE_TUI_AUDIT_CHILD_MAX_BYTES";
const PER_WRITER: usize = 40;

/// Not a test on its own: the concurrency tests re-run this binary to append
/// from a second OS process.
#[test]
#[ignore]
fn child_process_appends() {
    let Some(path) = std::env::var_os(CHILD_LOG_VAR) else {
        return;
    };
    let max = std::env::var(CHILD_MAX_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let log = AuditLog::with_limits(PathBuf::from(path), max, 10_000);
    for i in 0..PER_WRITER {
        log.append(AuditEntry::new(
            AuditEvent::SessionVerified,
            AuditOutcome::Success,
            format!("child {} record {i}", std::process::id()),
        ))
        .unwrap();
    }
}

fn run_writers_concurrently(path: &Path, max_bytes: u64) {
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_process_appends",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CHILD_LOG_VAR, path)
                .env(CHILD_MAX_VAR, max_bytes.to_string())
                .spawn()
                .unwrap()
        })
        .collect();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let log = AuditLog::with_limits(path, max_bytes, 10_000);
            std::thread::spawn(move || {
                for i in 0..PER_WRITER {
                    log.append(AuditEntry::new(
                        AuditEvent::SessionVerified,
                        AuditOutcome::Success,
                        format!("thread {t} record {i}"),
                    ))
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for mut child in children {
        assert!(child.wait().unwrap().success(), "child writer failed");
    }
}

#[test]
fn two_processes_and_two_threads_append_without_losing_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs").join("cookie_audit.log");
    run_writers_concurrently(&path, u64::MAX);

    let log = AuditLog::new(&path);
    let records = log.read_all().unwrap();
    assert_eq!(records.len(), 4 * PER_WRITER);
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=(4 * PER_WRITER) as u64).collect::<Vec<_>>());
    let children: BTreeSet<&str> = records
        .iter()
        .filter(|r| r.message.starts_with("child "))
        .map(|r| r.message.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(children.len(), 2, "both child processes must have written");
    assert_eq!(
        log.verify().unwrap(),
        ChainReport::Intact {
            records: 4 * PER_WRITER
        }
    );
}

#[test]
fn concurrent_appends_with_rotation_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    run_writers_concurrently(&path, 2_000);

    let log = AuditLog::with_limits(&path, 2_000, 10_000);
    assert!(PathBuf::from(format!("{}.1", path.display())).exists());
    let records = log.read_all().unwrap();
    let written = records
        .iter()
        .filter(|r| r.event == AuditEvent::SessionVerified)
        .count();
    assert_eq!(written, 4 * PER_WRITER);
    assert_eq!(
        log.verify().unwrap(),
        ChainReport::Intact {
            records: records.len()
        }
    );
}

#[test]
fn torn_last_line_is_terminated_and_reported_but_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    let written = append_n(&log, 3);
    let mut bytes = fs::read(log.path()).unwrap();
    let half_record = &fs::read(log.path()).unwrap()[..40];
    bytes.extend_from_slice(half_record);
    fs::write(log.path(), &bytes).unwrap();

    let next = log.append(entry(4)).unwrap();
    assert_eq!(next.seq, 4);
    assert_eq!(
        next.prev, written[2].hash,
        "chains to the last complete record"
    );

    let all = lines(log.path());
    assert_eq!(all.len(), 5);
    assert_eq!(
        all[3].as_bytes(),
        half_record,
        "the fragment is kept, not erased"
    );
    let on_disk: AuditRecord = serde_json::from_str(&all[4]).unwrap();
    assert_eq!(on_disk, next);

    let (seq, line, _, reason) = broken(log.verify().unwrap());
    assert_eq!((seq, line), (None, 4));
    assert!(reason.contains("not a JSON record"), "{reason}");
    assert_eq!(log.read_all().unwrap().len(), 4);
    assert_eq!(log.append(entry(5)).unwrap().seq, 5);
}

#[test]
fn read_tail_is_the_end_of_read_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    let log = AuditLog::with_limits(&path, 1_500, 50);
    for i in 1..=60 {
        log.append(entry(i)).unwrap();
    }
    assert!(PathBuf::from(format!("{}.2", path.display())).exists());
    let all = log.read_all().unwrap();
    for max in [0, 1, 7, 25, all.len(), all.len() + 10] {
        let tail = log.read_tail(max).unwrap();
        let expect = &all[all.len().saturating_sub(max)..];
        assert_eq!(tail, expect, "read_tail({max})");
    }
}

#[test]
fn read_tail_of_a_large_log_skips_damaged_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    append_n(&log, 300);
    let mut all = lines(log.path());
    all.insert(298, "garbage".to_string());
    write_lines(log.path(), &all);
    let tail = log.read_tail(5).unwrap();
    assert_eq!(
        tail.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![296, 297, 298, 299, 300]
    );
}

fn every_details_field() -> AuditDetails {
    AuditDetails {
        count: Some(2),
        names: Some(vec![
            "JSESSIONID".to_string(),
            "cloud.session.token=SENTINEL-cookie-value".to_string(),
        ]),
        source: Some("clipboard".to_string()),
        format: Some("cookie_header".to_string()),
        http_status: Some(401),
        reason: Some("login redirect".to_string()),
        path: Some("/data/cookies/confluence_cookies.txt".to_string()),
        mode: Some("cookie".to_string()),
        user: Some("Ada Lovelace".to_string()),
        expires_at: Some("2026-12-01T00:00:00Z".to_string()),
        login_url: Some("https://example.atlassian.net/login".to_string()),
        kept_at: Some("/data/cookies/secure_cookies.enc.damaged".to_string()),
        site: Some("https://example.atlassian.net/wiki".to_string()),
        program: Some("python3".to_string()),
    }
}

#[test]
fn records_hold_only_the_documented_fields_and_no_values() {
    let dir = tempfile::tempdir().unwrap();
    let log = log_in(&dir);
    for &event in AuditEvent::ALL {
        log.append(
            AuditEntry::new(event, AuditOutcome::Warning, format!("{event} happened."))
                .details(every_details_field()),
        )
        .unwrap();
    }
    let top: BTreeSet<&str> = [
        "time", "seq", "event", "outcome", "message", "details", "prev", "hash",
    ]
    .into();
    let details: BTreeSet<&str> = [
        "count",
        "names",
        "source",
        "format",
        "http_status",
        "reason",
        "path",
        "mode",
        "user",
        "expires_at",
        "login_url",
        "kept_at",
        "site",
        "program",
    ]
    .into();
    let text = fs::read_to_string(log.path()).unwrap();
    assert!(!text.contains("SENTINEL"), "a cookie value reached the log");
    let all = lines(log.path());
    assert_eq!(all.len(), AuditEvent::ALL.len());
    for (line, &event) in all.iter().zip(AuditEvent::ALL) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let obj = value.as_object().unwrap();
        assert_eq!(obj.keys().map(String::as_str).collect::<BTreeSet<_>>(), top);
        assert_eq!(obj["event"], event.to_string());
        let d = obj["details"].as_object().unwrap();
        assert_eq!(
            d.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            details
        );
        assert_eq!(
            d["names"],
            serde_json::json!(["JSESSIONID", "cloud.session.token"])
        );
    }
    // Unset details are omitted, not written as null.
    let bare = log
        .append(AuditEntry::new(
            AuditEvent::TokenCleared,
            AuditOutcome::Success,
            "Token removed.",
        ))
        .unwrap();
    let last = lines(log.path()).pop().unwrap();
    assert!(last.contains(r#""details":{}"#), "{last}");
    assert!(bare.details == AuditDetails::default());
}

#[test]
fn event_names_are_unique_snake_case_and_round_trip() {
    let names: BTreeSet<String> = AuditEvent::ALL.iter().map(|e| e.to_string()).collect();
    assert_eq!(names.len(), 30);
    for &event in AuditEvent::ALL {
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(json, format!("\"{event}\""));
        assert_eq!(AuditEvent::from_name(&event.to_string()), Some(event));
    }
    assert_eq!(
        AuditEvent::CookieFileEmptied.to_string(),
        "cookie_file_emptied"
    );
    assert_eq!(AuditEvent::CookiesExported.to_string(), "cookies_exported");
    assert_eq!(AuditEvent::ExecStarted.to_string(), "exec_started");
    assert_eq!(
        serde_json::to_string(&AuditOutcome::Failure).unwrap(),
        "\"failure\""
    );
    assert_eq!(AuditEvent::from_name("nonsense"), None);
}

#[cfg(unix)]
#[test]
fn log_dir_is_0700_and_files_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("data")
        .join("logs")
        .join("cookie_audit.log");
    let log = AuditLog::with_limits(&path, 100, 3);
    for i in 1..=3 {
        log.append(entry(i)).unwrap();
    }
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        mode(&PathBuf::from(format!("{}.lock", path.display()))),
        0o600
    );
    assert_eq!(mode(&PathBuf::from(format!("{}.1", path.display()))), 0o600);
}

#[test]
fn io_errors_name_the_file_and_say_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the logs directory should be.
    let blocker = dir.path().join("logs");
    fs::write(&blocker, b"not a directory").unwrap();
    let log = AuditLog::new(blocker.join("cookie_audit.log"));
    let err = log.append(entry(1)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("logs"), "{msg}");
    assert!(msg.contains("0700"), "{msg}");
}
