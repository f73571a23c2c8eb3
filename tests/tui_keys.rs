//! Keys and clicks people expect, and frames that keep what matters at
//! 80×24 and 60×15: `Ctrl+C` quits from anywhere, `Shift+Tab` goes back a
//! screen, `h`/`←`/`Backspace`/`q` leave the pages list, clicks select rows
//! and tabs; the footer keeps the main keys by rank, the help scrolls to its
//! end and lists every key once. `update` in, state and effects out; frames
//! on `TestBackend`, snapshotted.

use std::path::PathBuf;

use confluence_tui::audit::{AuditDetails, AuditEvent, AuditOutcome, AuditRecord, ChainReport};
use confluence_tui::confluence::client::{AuthMode, Deployment};
use confluence_tui::confluence::model::{Page, Space, User};
use confluence_tui::cookies::jar::ExpiryState;
use confluence_tui::credentials::{CookieStatus, StoredCookieSummary};
use confluence_tui::proxy::{ProxyToken, RequestRecord, TrafficTotals};
use confluence_tui::session::{NextCheck, SessionState, Snapshot};
use confluence_tui::tui::app::{App, Dialog, Effect, Msg, Screen};
use confluence_tui::tui::screens::audit::AuditSnapshot;
use confluence_tui::tui::screens::pipeline::{ProxyInfo, ProxyMsg};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{
    Command, Event, Generation, Generational, Listing, Query, SiteInfo, StoredInfo,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
const SITE: &str = "https://example.atlassian.net/wiki";

// ---- fixtures ---------------------------------------------------------------

fn app() -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some(SITE.into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some("https://example.atlassian.net/login".into()),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    App::new(session, NOW, Duration::days(14))
}

fn press_with(a: &mut App, code: KeyCode, mods: KeyModifiers) -> Vec<Effect> {
    a.update(Msg::Key(KeyEvent::new(code, mods)))
}

fn press(a: &mut App, code: KeyCode) -> Vec<Effect> {
    press_with(a, code, KeyModifiers::NONE)
}

fn ch(a: &mut App, c: char) -> Vec<Effect> {
    press(a, KeyCode::Char(c))
}

fn ctrl_c(a: &mut App) -> Vec<Effect> {
    press_with(a, KeyCode::Char('c'), KeyModifiers::CONTROL)
}

/// A left click at column `x`, row `y` (0-based, as crossterm reports it).
fn click(a: &mut App, x: u16, y: u16) -> Vec<Effect> {
    a.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    }))
}

fn stored(state: ExpiryState) -> Msg {
    Msg::Worker(Event::Stored(Box::new(StoredInfo {
        status: CookieStatus {
            site: None,
            other_sites: Vec::new(),
            cookies: Some(StoredCookieSummary {
                names: vec!["cloud.session.token".into(), "atlassian.xsrf.token".into()],
                session_cookies: vec!["cloud.session.token".into()],
                gateway_cookies: Vec::new(),
                source: "paste".into(),
                saved_at: NOW - Duration::days(1),
                expires_at: NOW + Duration::days(13),
                state,
            }),
            token_stored: false,
            gateway: Vec::new(),
            session: None,
            vault_path: PathBuf::from(
                "/home/me/.local/share/confluence-tui/cookies/secure_cookies.enc",
            ),
            vault_exists: true,
            machine_bound: Some(true),
            passphrase_used: Some(false),
            permission_warnings: vec![],
        },
        token_in_environment: false,
    })))
}

fn verified() -> Msg {
    Msg::Worker(Event::Session(
        Snapshot::signed_in(
            User {
                kind: "known".into(),
                display_name: "Dana Analyst".into(),
                id: Some("5b10".into()),
                email: None,
            },
            AuthMode::Cookie,
            "auto: unexpired browser cookies are stored".into(),
            Deployment::Cloud,
        )
        .verified(
            NOW - Duration::minutes(3),
            NextCheck::At(NOW + Duration::minutes(7)),
        ),
    ))
}

/// Signed in with cookies valid for 13 days, no message shown.
fn signed_in() -> App {
    let mut a = app();
    a.update(stored(ExpiryState::Valid {
        left: Duration::days(13),
    }));
    a.update(verified());
    a.flash = None;
    a
}

/// The session expired: the status screen with its guidance.
fn expired() -> App {
    let mut a = app();
    a.update(stored(ExpiryState::MarkedExpired {
        reason: "the site answered 401 Unauthorized".into(),
    }));
    a.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Expired {
            reason: "the site answered 401 Unauthorized".into(),
            status: Some(401),
        },
    ))));
    a
}

fn space(i: usize) -> Space {
    let key = format!("SP{i:04}");
    Space {
        id: format!("{}", 98_000 + i),
        url: format!("{SITE}/spaces/{key}"),
        kind: "global".into(),
        status: "current".into(),
        description: None,
        homepage_id: None,
        name: format!("Space number {i}"),
        key,
    }
}

fn page(i: usize) -> Page {
    Page {
        id: format!("{}", 700_000 + i),
        title: format!("Page {i:03}"),
        parent_id: None,
        version: Some(1),
        updated_at: Some("2026-11-20T14:03:00.000Z".into()),
        url: format!("{SITE}/pages/{}", 700_000 + i),
    }
}

fn listing_generation(effects: &[Effect]) -> Option<Generation> {
    effects.iter().find_map(|e| match e {
        Effect::Worker(Command::Query(Query::ListSpaces { generation, .. }))
        | Effect::Worker(Command::Query(Query::ListPages { generation, .. })) => Some(*generation),
        _ => None,
    })
}

/// Signed in, on the spaces screen with 40 spaces listed.
fn spaces_app() -> App {
    let mut a = app();
    a.update(stored(ExpiryState::Valid {
        left: Duration::days(13),
    }));
    let g = listing_generation(&a.update(verified())).expect("a listing");
    ch(&mut a, '2');
    for step in [
        Listing::Started,
        Listing::Items {
            items: (0..40).map(space).collect(),
            loaded: 40,
        },
        Listing::Done { total: 40 },
    ] {
        a.update(Msg::Worker(Event::Spaces(Generational::new(g, step))));
    }
    a.flash = None;
    a
}

/// The pages of the first space, 30 of them, listed.
fn pages_app() -> App {
    let mut a = spaces_app();
    let g = listing_generation(&press(&mut a, KeyCode::Enter)).expect("pages asked for");
    for step in [
        Listing::Started,
        Listing::Items {
            items: (0..30).map(page).collect(),
            loaded: 30,
        },
        Listing::Done { total: 30 },
    ] {
        a.update(Msg::Worker(Event::Pages(Generational::new(g, step))));
    }
    assert!(a.spaces.pages_space().is_some());
    a
}

fn audit_app() -> App {
    let mut a = signed_in();
    let records: Vec<AuditRecord> = (1..=8u64)
        .map(|seq| AuditRecord {
            time: NOW - Duration::minutes(60 - seq as i64),
            seq,
            event: if seq % 2 == 0 {
                AuditEvent::SessionVerified
            } else {
                AuditEvent::CookiesSaved
            },
            outcome: AuditOutcome::Success,
            message: format!("Record number {seq}"),
            details: AuditDetails::default(),
            prev: format!("{:064x}", seq - 1),
            hash: format!("{seq:064x}"),
        })
        .collect();
    a.update(Msg::AuditLoaded(AuditSnapshot::new(
        records,
        ChainReport::Intact { records: 8 },
    )));
    ch(&mut a, '3');
    a.flash = None;
    a
}

fn record(secs_ago: i64, path: &str) -> RequestRecord {
    RequestRecord {
        at: NOW - Duration::seconds(secs_ago),
        method: "GET".into(),
        path: path.into(),
        status: 200,
        duration: std::time::Duration::from_millis(40),
        bytes: 512,
        complete: true,
        client: None,
    }
}

fn pipeline_app() -> App {
    let mut a = signed_in();
    ch(&mut a, '4');
    ch(&mut a, 's');
    a.update(Msg::Proxy(ProxyMsg::Started(ProxyInfo {
        base_url: "http://127.0.0.1:41234/wiki".into(),
        username: "confluence-tui".into(),
        token: ProxyToken::generate().unwrap(),
    })));
    a.update(Msg::Proxy(ProxyMsg::Traffic {
        records: (0..6)
            .map(|i| record(60 - i, &format!("/wiki/rest/api/content/{}", 100 + i)))
            .collect(),
        totals: TrafficTotals {
            requests: 6,
            ..TrafficTotals::default()
        },
    }));
    a.flash = None;
    a
}

fn render(a: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(a, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t.backend().to_string()
}

/// The footer: the last line of the frame.
fn footer(a: &App, w: u16, h: u16) -> String {
    let frame = render(a, w, h);
    frame.lines().last().unwrap_or_default().to_string()
}

// ---- keys -------------------------------------------------------------------

fn assert_quits(a: &mut App, where_: &str) {
    let fx = ctrl_c(a);
    assert!(
        a.quit && matches!(&fx[..], [Effect::Quit]),
        "Ctrl+C in {where_}: {fx:?}"
    );
}

#[test]
fn ctrl_c_quits_everywhere_even_in_text_fields_and_dialogs() {
    assert_quits(&mut app(), "the status screen");
    let mut a = app();
    ch(&mut a, 'p');
    assert!(matches!(a.dialog, Some(Dialog::Paste(_))));
    assert_quits(&mut a, "the paste dialog");
    let mut a = app();
    ch(&mut a, 't');
    assert!(a.text_focus());
    assert_quits(&mut a, "the token dialog");
    let mut a = app();
    ch(&mut a, 'c');
    assert_quits(&mut a, "the clear confirmation");
    let mut a = app();
    ch(&mut a, '?');
    assert_quits(&mut a, "the help");
    let mut a = spaces_app();
    ch(&mut a, '/');
    assert!(a.text_focus());
    assert_quits(&mut a, "the spaces filter field");
    let mut a = pages_app();
    assert_quits(&mut a, "the pages list");
}

#[test]
fn shift_tab_goes_to_the_previous_screen() {
    let mut a = app();
    // Terminals send Shift+Tab as BackTab, with or without SHIFT.
    press_with(&mut a, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(a.screen, Screen::Pipeline);
    press(&mut a, KeyCode::BackTab);
    assert_eq!(a.screen, Screen::Audit);
    press_with(&mut a, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(a.screen, Screen::Spaces);
    press_with(&mut a, KeyCode::BackTab, KeyModifiers::SHIFT);
    assert_eq!(a.screen, Screen::Status);
}

#[test]
fn h_left_and_backspace_leave_the_pages_list() {
    for code in [KeyCode::Char('h'), KeyCode::Left, KeyCode::Backspace] {
        let mut a = pages_app();
        let fx = press(&mut a, code);
        assert!(
            a.spaces.pages_space().is_none(),
            "{code:?} goes back to the spaces"
        );
        assert!(!a.quit && fx.is_empty(), "{code:?}: {fx:?}");
        assert_eq!(a.screen, Screen::Spaces);
    }
}

#[test]
fn backspace_edits_the_filter_before_it_leaves_the_pages_list() {
    let mut a = pages_app();
    ch(&mut a, '/');
    ch(&mut a, '0');
    ch(&mut a, '1');
    press(&mut a, KeyCode::Backspace);
    assert!(a.spaces.pages_space().is_some(), "still in the pages");
    assert!(render(&a, 80, 24).contains("/ 0▏"), "one letter erased");
}

#[test]
fn q_backs_out_of_the_pages_list_before_it_quits() {
    let mut a = pages_app();
    let f = footer(&a, 80, 24);
    assert!(
        f.contains("q back") && !f.contains("quit"),
        "the footer says what q does here: {f}"
    );
    let fx = ch(&mut a, 'q');
    assert!(!a.quit && fx.is_empty(), "{fx:?}");
    assert!(a.spaces.pages_space().is_none());
    assert!(footer(&a, 80, 24).contains("q quit"));
    let fx = ch(&mut a, 'q');
    assert!(a.quit && matches!(&fx[..], [Effect::Quit]));
}

// ---- the mouse --------------------------------------------------------------

#[test]
fn a_click_on_a_header_tab_switches_screens() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut a = app();
        a.set_terminal_size(w, h);
        let header = render(&a, w, h);
        let header = header.lines().next().unwrap().trim_start_matches('"');
        for (label, screen) in [
            ("2 Spaces", Screen::Spaces),
            ("4 Pipeline", Screen::Pipeline),
            ("3 Audit", Screen::Audit),
            ("1 Status", Screen::Status),
        ] {
            let x = header.find(label).unwrap();
            let x = header[..x].chars().count() as u16 + 2;
            click(&mut a, x, 0);
            assert_eq!(a.screen, screen, "{label} at column {x} of {w}");
        }
        // Between the tabs and past them: nothing.
        click(&mut a, w - 2, 0);
        assert_eq!(a.screen, Screen::Status);
    }
}

#[test]
fn a_click_selects_a_row_in_the_spaces_and_pages_lists() {
    let mut a = spaces_app();
    a.set_terminal_size(80, 24);
    // Header line, then the block's border and the column heads: the
    // first row is on line 3.
    click(&mut a, 20, 3 + 5);
    assert_eq!(a.spaces.selected_space().unwrap().key, "SP0005");
    // Below the last row, or on the border: nothing changes.
    click(&mut a, 0, 8);
    assert_eq!(a.spaces.selected_space().unwrap().key, "SP0005");
    press(&mut a, KeyCode::Enter);
    let mut a = pages_app();
    a.set_terminal_size(80, 24);
    click(&mut a, 20, 3 + 7);
    assert_eq!(a.spaces.selected_page().unwrap().title, "Page 007");
}

#[test]
fn a_click_selects_a_record_in_the_audit_log_and_a_request_in_the_pipeline() {
    let mut a = audit_app();
    a.set_terminal_size(80, 24);
    // Header, border, status bar, column heads: the newest record is on line 4.
    click(&mut a, 30, 4 + 2);
    assert_eq!(a.audit.selected_record().unwrap().seq, 6);
    let mut a = pipeline_app();
    a.set_terminal_size(80, 24);
    let frame = render(&a, 80, 24);
    let row = frame
        .lines()
        .position(|l| l.contains("/wiki/rest/api/content/103"))
        .unwrap() as u16;
    click(&mut a, 30, row);
    let shown = render(&a, 80, 24);
    let selected = shown.lines().find(|l| l.contains('▶')).unwrap();
    assert!(selected.contains("content/103"), "{selected}");
}

#[test]
fn the_wheel_scrolls_the_help() {
    let mut a = app();
    a.set_terminal_size(60, 15);
    ch(&mut a, '?');
    a.update(Msg::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: 5,
        modifiers: KeyModifiers::NONE,
    }));
    match &a.dialog {
        Some(Dialog::Help(h)) => assert_eq!(h.scroll(), 3),
        other => panic!("help closed: {other:?}"),
    }
}

// ---- footer and help --------------------------------------------------------

#[test]
fn the_footer_keeps_the_main_keys_at_80_columns() {
    let f = footer(&signed_in(), 80, 24);
    for item in ["p paste", "v verify", "o open", "? help", "q quit"] {
        assert!(f.contains(item), "{item} missing: {f}");
    }
    // Kept in table order: the screen's own keys before the global ones.
    assert!(f.find("p paste") < f.find("? help"), "{f}");
    let f = footer(&spaces_app(), 80, 24);
    for item in ["Enter pages", "/ filter", "o open", "? help", "q quit"] {
        assert!(f.contains(item), "{item} missing: {f}");
    }
    let f = footer(&signed_in(), 60, 15);
    for item in ["p paste", "v verify", "? help", "q quit"] {
        assert!(f.contains(item), "{item} missing at 60 columns: {f}");
    }
}

#[test]
fn the_footer_never_cuts_a_label() {
    for a in [
        signed_in(),
        spaces_app(),
        pages_app(),
        audit_app(),
        pipeline_app(),
    ] {
        for w in [40, 60, 80, 100] {
            let f = footer(&a, w, 24);
            let f = f.trim_matches('"').trim_end();
            // Every entry is `key label`, whole.
            for label in [
                "paste", "verify", "open", "help", "quit", "back", "filter", "pages", "clear",
                "token", "reload", "status", "spaces", "audit", "pipeline", "copy", "event",
                "follow", "stop", "env", "reveal", "details",
            ] {
                for (i, _) in f.match_indices(&label[..label.len().min(3)]) {
                    let rest = &f[i..];
                    let word: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                    assert!(
                        !label.starts_with(&word) || word == label || word.len() < 3,
                        "{label} cut to {word} at {w}: {f}"
                    );
                }
            }
        }
    }
}

/// The help's text lines (inside the border), as shown.
fn help_text(a: &App, w: u16, h: u16) -> String {
    render(a, w, h)
}

#[test]
fn help_lists_every_key_once_with_the_mouse() {
    let mut a = spaces_app();
    a.set_terminal_size(120, 60);
    ch(&mut a, '?');
    let text = help_text(&a, 120, 60);
    let opens = text
        .lines()
        .filter(|l| l.contains("│ o ") || l.contains("│ o\u{20}"))
        .count();
    assert_eq!(opens, 1, "o listed once:\n{text}");
    assert!(
        text.contains("click selects a row or a tab"),
        "the mouse is listed:\n{text}"
    );
    assert!(text.contains("Ctrl+c"), "Ctrl+C is listed:\n{text}");
    assert!(text.contains("Shift+Tab"), "{text}");
}

#[test]
fn help_scrolls_to_its_last_line_q_quit() {
    for (w, h) in [(100, 30), (60, 15), (80, 24)] {
        // The spaces screen has the most keys: its help is the longest.
        let mut a = spaces_app();
        a.set_terminal_size(w, h);
        ch(&mut a, '?');
        let top = help_text(&a, w, h);
        assert!(
            top.contains("↓ more"),
            "a scroll indicator at {w}×{h}:\n{top}"
        );
        press(&mut a, KeyCode::End);
        let end = help_text(&a, w, h);
        let last = end
            .lines()
            .rev()
            .find(|l| l.contains("│ ") && l.trim_matches(['"', '│', ' ']).len() > 1)
            .unwrap();
        assert!(
            last.contains(" q ") && last.contains("quit"),
            "q quit is the last line at {w}×{h}:\n{end}"
        );
        assert!(!end.contains("↓ more"), "{end}");
        // j/k scroll and keep the help open.
        ch(&mut a, 'k');
        assert!(matches!(a.dialog, Some(Dialog::Help(_))));
        ch(&mut a, 'j');
        assert!(matches!(a.dialog, Some(Dialog::Help(_))));
        press(&mut a, KeyCode::Esc);
        assert!(a.dialog.is_none());
    }
}

#[test]
fn help_wraps_with_a_hanging_indent() {
    let mut a = signed_in();
    a.set_terminal_size(60, 40);
    ch(&mut a, '?');
    let text = help_text(&a, 60, 40);
    let i = text
        .lines()
        .position(|l| l.contains("open in the browser"))
        .unwrap();
    let next = text.lines().nth(i + 1).unwrap();
    let col = |l: &str, s: &str| l.find(s).map(|b| l[..b].chars().count());
    let start = col(text.lines().nth(i).unwrap(), "open in").unwrap();
    let cont = next.chars().skip(start).take(1).collect::<String>();
    assert!(
        next.chars().take(start).skip(2).all(|c| c == ' ') && cont != " ",
        "the second line starts under the first one's text:\n{text}"
    );
}

#[test]
fn the_clear_confirmation_wraps_instead_of_cutting_words() {
    for (w, h) in [(80, 24), (60, 15)] {
        let mut a = signed_in();
        ch(&mut a, 'c');
        let text = render(&a, w, h);
        let joined: String = text
            .lines()
            .map(|l| l.trim_matches(['"', '│', ' ', '┌', '┐', '└', '┘', '─']))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            joined.contains("The audit log keeps a") && joined.contains("record."),
            "at {w}×{h}:\n{text}"
        );
        assert!(text.contains("y delete"), "{text}");
    }
}

#[test]
fn the_status_guidance_shows_every_step_at_60x15() {
    let text = render(&expired(), 60, 15);
    for step in ["1.", "2.", "3.", "4."] {
        assert!(text.contains(step), "step {step} missing:\n{text}");
    }
}

// ---- frames at 80×24 and 60×15 ----------------------------------------------

fn snap(name: &str, a: &mut App) {
    for (w, h) in [(80, 24), (60, 15)] {
        a.set_terminal_size(w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(a, w, h));
    }
}

#[test]
fn frames_of_every_screen() {
    snap("status_signed_in", &mut signed_in());
    snap("status_expired", &mut expired());
    snap("spaces", &mut spaces_app());
    snap("pages", &mut pages_app());
    snap("audit", &mut audit_app());
    snap("pipeline", &mut pipeline_app());
}

#[test]
fn frames_of_every_dialog() {
    let mut a = signed_in();
    a.update(Msg::Paste(
        "cloud.session.token=SENTINELabcdefghijklmnop; atlassian.xsrf.token=xyz".into(),
    ));
    for (w, h) in [(80, 24), (60, 15)] {
        assert!(!render(&a, w, h).contains("SENTINEL"));
    }
    snap("paste", &mut a);
    let mut a = signed_in();
    ch(&mut a, 't');
    snap("token", &mut a);
    let mut a = signed_in();
    ch(&mut a, 'c');
    snap("confirm_clear", &mut a);
    for (w, h) in [(80, 24), (60, 15)] {
        let mut a = signed_in();
        a.set_terminal_size(w, h);
        ch(&mut a, '?');
        insta::assert_snapshot!(format!("help_top_{w}x{h}"), render(&a, w, h));
        press(&mut a, KeyCode::End);
        insta::assert_snapshot!(format!("help_end_{w}x{h}"), render(&a, w, h));
    }
}
