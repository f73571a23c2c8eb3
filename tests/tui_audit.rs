//! The audit log viewer: key handling through `App::update`, the one-pass
//! loader against the reader's own answers, a 100,000-record log, and
//! snapshots of the whole frame.

use std::io::Write;
use std::path::Path;

use confluence_tui::audit::{
    AuditDetails, AuditEntry, AuditEvent, AuditLog, AuditOutcome, AuditRecord, ChainReport,
    GENESIS_PREV, index::read_verified,
};
use confluence_tui::confluence::client::Deployment;
use confluence_tui::tui::app::{App, Effect, Msg, Screen};
use confluence_tui::tui::screens::audit::{AuditSnapshot, load_snapshot};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::worker::SiteInfo;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::OffsetDateTime;
use time::macros::datetime;

const SENTINEL: &str = "SENTINEL-COOKIE-VALUE-5f3a";

fn app() -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some("https://example.atlassian.net/wiki".into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some("https://example.atlassian.net/login".into()),
        env_file: ".env".into(),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    let mut app = App::new(
        session,
        datetime!(2026-11-21 12:00 UTC),
        time::Duration::days(14),
    );
    app.screen = Screen::Audit;
    app
}

fn details() -> AuditDetails {
    AuditDetails::default()
}

/// A few records of every outcome, with fixed times, oldest first.
fn sample_entries() -> Vec<(OffsetDateTime, AuditEntry)> {
    let t = datetime!(2026-11-21 09:00 UTC);
    vec![
        (
            t,
            AuditEntry::new(
                AuditEvent::CookiesSaved,
                AuditOutcome::Success,
                "Saved 3 cookies from the clipboard",
            )
            .details(AuditDetails {
                count: Some(3),
                names: Some(vec![
                    "cloud.session.token".into(),
                    "atlassian.xsrf.token".into(),
                ]),
                source: Some("clipboard".into()),
                format: Some("cookie_header".into()),
                ..details()
            }),
        ),
        (
            t + time::Duration::minutes(1),
            AuditEntry::new(
                AuditEvent::SessionVerified,
                AuditOutcome::Success,
                "Signed in as Ada Lovelace",
            )
            .details(AuditDetails {
                mode: Some("cookie".into()),
                user: Some("Ada Lovelace".into()),
                ..details()
            }),
        ),
        (
            t + time::Duration::minutes(30),
            AuditEntry::new(
                AuditEvent::TokenStored,
                AuditOutcome::Info,
                "API token stored in the vault",
            ),
        ),
        (
            t + time::Duration::hours(1),
            AuditEntry::new(
                AuditEvent::CookiesExpired,
                AuditOutcome::Warning,
                "Stored cookies are older than 14 days",
            )
            .details(AuditDetails {
                expires_at: Some("2026-11-21T10:00:00Z".into()),
                ..details()
            }),
        ),
        (
            t + time::Duration::hours(2),
            AuditEntry::new(
                AuditEvent::SessionExpired,
                AuditOutcome::Failure,
                "Session expired: redirected to the login page",
            )
            .details(AuditDetails {
                http_status: Some(302),
                reason: Some("login redirect".into()),
                login_url: Some("https://example.atlassian.net/login".into()),
                ..details()
            }),
        ),
        (
            t + time::Duration::hours(2) + time::Duration::minutes(5),
            AuditEntry::new(
                AuditEvent::CookiesSaved,
                AuditOutcome::Success,
                "Saved 2 cookies from the intake file",
            )
            .details(AuditDetails {
                count: Some(2),
                source: Some("intake_file".into()),
                ..details()
            }),
        ),
    ]
}

/// Writes chained records with the given times, exactly as the log does.
fn write_chained(path: &Path, entries: impl IntoIterator<Item = (OffsetDateTime, AuditEntry)>) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut prev = GENESIS_PREV.to_string();
    for (seq, (time, e)) in (1u64..).zip(entries) {
        let mut r = AuditRecord {
            time,
            seq,
            event: e.event,
            outcome: e.outcome,
            message: e.message,
            details: e.details,
            prev: prev.clone(),
            hash: String::new(),
        };
        r.hash = r.compute_hash().unwrap();
        prev = r.hash.clone();
        serde_json::to_writer(&mut out, &r).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

fn sample_app() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    write_chained(&path, sample_entries());
    let mut app = app();
    app.update(Msg::AuditLoaded(load_snapshot(&path)));
    (dir, app)
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn selected_seq(app: &App) -> Option<u64> {
    app.audit.selected_record().map(|r| r.seq)
}

fn frame(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| {
            let area = f.area();
            confluence_tui::tui::view::draw(app, area, f.buffer_mut(), &Theme::plain())
        })
        .unwrap();
    terminal
}

fn text_of(terminal: &Terminal<TestBackend>) -> String {
    let buf = terminal.backend().buffer();
    buf.content().iter().map(|c| c.symbol()).collect()
}

/// Snapshots the whole frame at 80×24 and 120×40; `real_clock` scrubs the
/// times and hashes of a log written by `AuditLog` itself (same widths).
fn snap(name: &str, app: &App, real_clock: bool) {
    let filters = if real_clock {
        vec![
            (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "YYYY-MM-DD hh:mm:ss"),
            (r"\b\d\d-\d\d \d\d:\d\d:\d\d", "MM-DD hh:mm:ss"),
            (r"[0-9a-f]{16}…", "################…"),
        ]
    } else {
        Vec::new()
    };
    for (w, h) in [(80, 24), (120, 40)] {
        let terminal = frame(app, w, h);
        assert!(
            !text_of(&terminal).contains("SENTINEL"),
            "{name} shows a secret"
        );
        insta::with_settings!({filters => filters.clone()}, {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
        });
    }
}

#[test]
fn records_are_listed_newest_first_and_vim_keys_move() {
    let (_dir, mut app) = sample_app();
    assert_eq!(app.audit.total(), 6);
    assert_eq!(
        selected_seq(&app),
        Some(6),
        "the newest record starts selected"
    );
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(selected_seq(&app), Some(5));
    press(&mut app, KeyCode::Down);
    assert_eq!(selected_seq(&app), Some(4));
    press(&mut app, KeyCode::Char('k'));
    assert_eq!(selected_seq(&app), Some(5));
    press(&mut app, KeyCode::Char('G'));
    assert_eq!(selected_seq(&app), Some(1));
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(selected_seq(&app), Some(1), "stops at the oldest");
    press(&mut app, KeyCode::Home);
    assert_eq!(selected_seq(&app), Some(6));
    app.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 10,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(selected_seq(&app), Some(3), "the wheel moves three rows");
}

#[test]
fn text_filter_is_case_insensitive_over_event_message_and_details() {
    let (_dir, mut app) = sample_app();
    press(&mut app, KeyCode::Char('/'));
    assert!(app.text_focus(), "the filter input takes the keyboard");
    // "q" must type, not quit, while the field has focus.
    type_text(&mut app, "Q");
    assert!(!app.quit);
    press(&mut app, KeyCode::Backspace);
    // Only in details: source "clipboard" of record 1.
    type_text(&mut app, "CLIPBOARD");
    assert_eq!(app.audit.filter_text(), "CLIPBOARD");
    assert_eq!(app.audit.shown(), 1);
    assert_eq!(selected_seq(&app), Some(1));
    for _ in 0.."CLIPBOARD".len() {
        press(&mut app, KeyCode::Backspace);
    }
    // Event name: session_verified and session_expired.
    type_text(&mut app, "session_");
    assert_eq!(app.audit.shown(), 2);
    // Message text.
    press(&mut app, KeyCode::Esc);
    assert!(!app.text_focus());
    assert_eq!(app.audit.shown(), 6, "Esc in the field clears the filter");
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "lovelace");
    press(&mut app, KeyCode::Enter);
    assert!(
        !app.text_focus(),
        "Enter keeps the filter and leaves the field"
    );
    assert_eq!(app.audit.shown(), 1);
    assert_eq!(selected_seq(&app), Some(2));
    // With the field left, q quits again.
    let effects = press(&mut app, KeyCode::Char('q'));
    assert!(effects.iter().any(|e| matches!(e, Effect::Quit)));
}

#[test]
fn event_filter_cycles_through_kinds_present_then_all() {
    let (_dir, mut app) = sample_app();
    let mut seen = Vec::new();
    for _ in 0..6 {
        press(&mut app, KeyCode::Char('e'));
        seen.push((app.audit.event_filter(), app.audit.shown()));
    }
    assert_eq!(
        seen,
        vec![
            (Some(AuditEvent::CookiesSaved), 2),
            (Some(AuditEvent::CookiesExpired), 1),
            (Some(AuditEvent::TokenStored), 1),
            (Some(AuditEvent::SessionVerified), 1),
            (Some(AuditEvent::SessionExpired), 1),
            (None, 6),
        ]
    );
    press(&mut app, KeyCode::Char('e'));
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "intake");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.audit.shown(), 1, "both filters apply together");
    assert_eq!(selected_seq(&app), Some(6));
    press(&mut app, KeyCode::Esc);
    assert_eq!(app.audit.event_filter(), None, "Esc clears both filters");
    assert_eq!(app.audit.filter_text(), "");
    assert_eq!(app.audit.shown(), 6);
}

#[test]
fn follow_mode_keeps_the_newest_record_selected_as_records_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    let entries = sample_entries();
    write_chained(&path, entries[..4].to_vec());
    let mut app = app();
    app.update(Msg::AuditLoaded(load_snapshot(&path)));
    press(&mut app, KeyCode::Char('j'));
    assert_eq!(selected_seq(&app), Some(3));

    // Without follow, a reload keeps the selection on the same record.
    write_chained(&path, entries[..5].to_vec());
    app.update(Msg::AuditLoaded(load_snapshot(&path)));
    assert!(!app.audit.following());
    assert_eq!(selected_seq(&app), Some(3));

    press(&mut app, KeyCode::Char('f'));
    assert!(app.audit.following());
    assert_eq!(selected_seq(&app), Some(5));
    write_chained(&path, entries.clone());
    app.update(Msg::AuditLoaded(load_snapshot(&path)));
    assert_eq!(selected_seq(&app), Some(6), "follow jumps to the newest");

    // Moving off the newest record ends follow mode.
    press(&mut app, KeyCode::Char('j'));
    assert!(!app.audit.following());
    press(&mut app, KeyCode::Char('f'));
    press(&mut app, KeyCode::Char('f'));
    assert!(!app.audit.following(), "f toggles");
}

#[test]
fn showing_the_audit_screen_reads_the_log_again() {
    let mut app = app();
    app.screen = Screen::Status;
    let effects = press(&mut app, KeyCode::Char('3'));
    assert_eq!(app.screen, Screen::Audit);
    assert!(effects.iter().any(|e| matches!(e, Effect::LoadAudit)));
}

/// A real log written by `AuditLog::append`, one line then tampered with.
fn tampered_log(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("cookie_audit.log");
    let log = AuditLog::new(&path);
    for (_, entry) in sample_entries().into_iter().take(4) {
        log.append(entry).unwrap();
    }
    log.append(
        AuditEntry::new(
            AuditEvent::CookiesRefreshed,
            AuditOutcome::Success,
            "Session cookie refreshed by the server",
        )
        .details(AuditDetails {
            names: Some(vec![format!("cloud.session.token={SENTINEL}")]),
            source: Some("set_cookie".into()),
            ..details()
        }),
    )
    .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(SENTINEL), "the log never holds a value");
    let tampered = text.replacen("Saved 3 cookies", "Saved 9 cookies", 1);
    assert_ne!(text, tampered);
    std::fs::write(&path, tampered).unwrap();
    path
}

#[test]
fn a_tampered_log_shows_the_break_and_still_lists_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered_log(dir.path());
    let mut app = app();
    app.update(Msg::AuditLoaded(load_snapshot(&path)));
    assert!(matches!(
        app.audit.chain(),
        Some(ChainReport::Broken { seq: Some(1), .. })
    ));
    assert_eq!(app.audit.total(), 5);
    let text = text_of(&frame(&app, 120, 40));
    assert!(text.contains("BROKEN at record 1: hash mismatch"), "{text}");
}

#[test]
fn an_unreadable_log_says_why() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read as a file.
    let path = dir.path().join("cookie_audit.log");
    std::fs::create_dir(&path).unwrap();
    let snapshot = load_snapshot(&path);
    assert!(snapshot.error.is_some());
    let mut app = app();
    app.update(Msg::AuditLoaded(snapshot));
    let text = text_of(&frame(&app, 120, 40));
    assert!(text.contains("unreadable"), "{text}");
}

/// The one-pass loader answers exactly what `read_all` and `verify` answer.
#[test]
fn one_pass_loader_agrees_with_the_reader_on_every_kind_of_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    write_chained(&path, sample_entries());
    let good = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let without = |i: usize| {
        let mut l = lines.clone();
        l.remove(i);
        l.join("\n") + "\n"
    };
    let swapped = {
        let mut l = lines.clone();
        l.swap(2, 3);
        l.join("\n") + "\n"
    };
    let cases: Vec<(&str, String)> = vec![
        ("intact", good.clone()),
        ("empty file", String::new()),
        ("edited message", good.replacen("Ada", "Eve", 1)),
        ("removed middle", without(2)),
        ("removed first", without(0)),
        ("swapped", swapped),
        ("garbage line", good.clone() + "not json\n"),
        (
            "blank line",
            format!("{}\n{}", lines[0], lines[1..].join("\n")),
        ),
        ("torn last line", good.clone() + &lines[1][..40]),
        ("no final newline", good.trim_end().to_string()),
    ];
    for (name, content) in cases {
        std::fs::write(&path, &content).unwrap();
        let log = AuditLog::new(&path);
        let (records, report) = read_verified(&path).unwrap();
        assert_eq!(records, log.read_all().unwrap(), "{name}: records");
        assert_eq!(report, log.verify().unwrap(), "{name}: report");
    }
    std::fs::remove_file(&path).unwrap();
    let (records, report) = read_verified(&path).unwrap();
    assert!(records.is_empty());
    assert_eq!(report, ChainReport::Empty, "no file yet is an empty log");
}

#[test]
fn one_pass_loader_follows_the_chain_across_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    // Rotate after about every two records.
    let log = AuditLog::with_limits(&path, 600, 3);
    for (_, entry) in sample_entries() {
        log.append(entry).unwrap();
    }
    let rotated: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("cookie_audit.log.")
        })
        .collect();
    assert!(rotated.len() >= 2, "the test needs rotated files");
    let (records, report) = read_verified(&path).unwrap();
    assert_eq!(records, log.read_all().unwrap());
    assert_eq!(report, log.verify().unwrap());
    assert!(report.is_ok(), "{report}");
}

/// Not a timing assertion: prints how long a 100,000-record log takes to
/// load, filter and draw, and checks that all of it works at that size.
#[test]
fn a_hundred_thousand_records_load_filter_and_draw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cookie_audit.log");
    let t0 = datetime!(2026-01-01 0:00 UTC);
    let samples = sample_entries();
    write_chained(
        &path,
        (0..100_000i64).map(|i| {
            let (_, e) = samples[(i as usize) % samples.len()].clone();
            (t0 + time::Duration::seconds(i), e)
        }),
    );
    let started = std::time::Instant::now();
    let snapshot = load_snapshot(&path);
    let load = started.elapsed();
    let started = std::time::Instant::now();
    let log = AuditLog::new(&path);
    let _ = (log.read_all().unwrap(), log.verify().unwrap());
    let two_pass = started.elapsed();
    assert_eq!(snapshot.records.len(), 100_000);
    assert_eq!(snapshot.chain, ChainReport::Intact { records: 100_000 });

    let mut app = app();
    app.update(Msg::AuditLoaded(snapshot));
    let started = std::time::Instant::now();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "intake");
    let filter = started.elapsed();
    assert_eq!(app.audit.shown(), 100_000 / 6);
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('G'));
    let started = std::time::Instant::now();
    let text = text_of(&frame(&app, 120, 40));
    let draw = started.elapsed();
    assert!(text.contains("intact (100000 records)"));
    assert!(text.contains("Saved 2 cookies from the intake file"));
    eprintln!(
        "100,000 records: load_snapshot {load:?} (read_all + verify: {two_pass:?}), \
         filter as typed {filter:?}, one frame {draw:?}"
    );
}

#[test]
fn snapshot_normal_log_with_selection_and_details() {
    let (_dir, mut app) = sample_app();
    press(&mut app, KeyCode::Char('j'));
    snap("normal", &app, false);
}

#[test]
fn snapshot_filtered_by_text() {
    let (_dir, mut app) = sample_app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "saved");
    snap("filter_text", &app, false);
}

#[test]
fn snapshot_filtered_by_event() {
    let (_dir, mut app) = sample_app();
    press(&mut app, KeyCode::Char('e'));
    press(&mut app, KeyCode::Char('e'));
    assert_eq!(app.audit.event_filter(), Some(AuditEvent::CookiesExpired));
    snap("filter_event", &app, false);
}

#[test]
fn snapshot_follow_mode() {
    let (_dir, mut app) = sample_app();
    press(&mut app, KeyCode::Char('f'));
    snap("follow", &app, false);
}

#[test]
fn snapshot_broken_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = tampered_log(dir.path());
    let mut app = app();
    app.update(Msg::AuditLoaded(load_snapshot(&path)));
    press(&mut app, KeyCode::Char('G'));
    snap("broken", &app, true);
}

#[test]
fn snapshot_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = app();
    app.update(Msg::AuditLoaded(load_snapshot(
        &dir.path().join("none.log"),
    )));
    assert_eq!(app.audit.chain(), Some(&ChainReport::Empty));
    snap("empty", &app, false);
}

#[test]
fn snapshot_struct_built_by_hand_is_accepted() {
    let mut app = app();
    app.update(Msg::AuditLoaded(AuditSnapshot::new(
        Vec::new(),
        ChainReport::Empty,
    )));
    assert_eq!(app.audit.total(), 0);
    assert_eq!(app.audit.selected_record(), None);
    press(&mut app, KeyCode::Char('j'));
    press(&mut app, KeyCode::Char('e'));
    assert_eq!(app.audit.event_filter(), None, "no kinds to cycle through");
}
