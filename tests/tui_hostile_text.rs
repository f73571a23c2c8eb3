//! Server text with terminal control sequences, drawn by the TUI: the space
//! and page lists and details, the header, the message line, the status
//! screen and the audit viewer show it escaped, never raw.
//!
//! ratatui already drops C0/C1 control characters from cells, so an ESC
//! would vanish silently (leaving `[2J` without its cause); bidi overrides
//! it keeps. The rule is one: every such character is shown as an escape.

use std::path::PathBuf;

use confluence_tui::audit::{AuditDetails, AuditEvent, AuditOutcome, AuditRecord, ChainReport};
use confluence_tui::confluence::client::{AuthMode, Deployment};
use confluence_tui::confluence::model::{Page, Space, User};
use confluence_tui::exit::ErrorClass;
use confluence_tui::session::{SessionState, Snapshot};
use confluence_tui::tui::app::{App, Effect, Msg, Screen};
use confluence_tui::tui::screens::audit::AuditSnapshot;
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{
    Command, Event, Generation, Generational, Listing, Query, SiteInfo, WorkerError,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;

const SITE: &str = "https://example.atlassian.net/wiki";
/// Clear screen, set the window title (OSC … BEL), BEL, 8-bit CSI, RLO.
const EVIL: &str = "\x1b[2J\x1b]0;pwned\x07\x07\u{9b}31m\u{202e}";

fn app() -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some(SITE.into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some("https://example.atlassian.net/login".into()),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    App::new(
        session,
        datetime!(2026-11-21 12:00 UTC),
        time::Duration::days(14),
    )
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn signed_in_event() -> Event {
    Event::Session(Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: format!("Eve{EVIL}"),
            id: Some("abc".into()),
            email: None,
        },
        AuthMode::Cookie,
        "stored cookies".into(),
        Deployment::Cloud,
    ))
}

fn space(i: usize) -> Space {
    let key = format!("SP{i:02}");
    Space {
        id: format!("{}", 98_000 + i),
        url: format!("{SITE}/spaces/{key}"),
        kind: "global".into(),
        status: "current".into(),
        description: Some(format!("About{EVIL}")),
        homepage_id: Some(format!("{}", 500_000 + i)),
        name: format!("N{EVIL}{i}"),
        key,
    }
}

fn page(i: usize) -> Page {
    Page {
        id: format!("{}", 700_000 + i),
        title: format!("T{EVIL}{i}"),
        parent_id: None,
        version: Some(1),
        updated_at: Some("2026-11-20T14:03:00.000Z".into()),
        url: format!("{SITE}/spaces/SP00/pages/{}", 700_000 + i),
    }
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    let buf = t.backend().buffer();
    buf.content().iter().map(|c| c.symbol()).collect()
}

/// A character a terminal would obey rather than show.
fn obeyed(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

/// No cell holds a control character, and the sequence shows as escapes.
fn assert_escaped(screen: &str, what: &str) {
    let bad: Vec<char> = screen.chars().filter(|&c| obeyed(c)).collect();
    assert!(bad.is_empty(), "{what} draws {bad:?}:\n{screen}");
    assert!(
        screen.contains("\\x1b[2J"),
        "{what} shows the sequence escaped:\n{screen}"
    );
}

fn listing(a: &mut App) -> Generation {
    let effects = a.update(Msg::Worker(signed_in_event()));
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Worker(Command::Query(Query::ListSpaces { generation, .. })) => {
                Some(*generation)
            }
            _ => None,
        })
        .expect("signing in lists the spaces")
}

#[test]
fn spaces_pages_header_and_details_show_hostile_names_escaped() {
    let mut a = app();
    let g = listing(&mut a);
    a.update(key(KeyCode::Char('2')));
    assert_eq!(a.screen, Screen::Spaces);
    for step in [
        Listing::Started,
        Listing::Items {
            items: (0..3).map(space).collect(),
            loaded: 3,
        },
        Listing::Done { total: 3 },
    ] {
        a.update(Msg::Worker(Event::Spaces(Generational::new(g, step))));
    }
    // Wide: the details pane beside the list; the flash still says who.
    let screen = render(&a, 160, 30);
    assert_escaped(&screen, "the spaces list");
    assert!(screen.contains("Eve\\x1b[2J"), "header:\n{screen}");
    assert!(screen.contains("About\\x1b[2J"), "details:\n{screen}");

    let effects = a.update(key(KeyCode::Enter));
    let pg = effects
        .iter()
        .find_map(|e| match e {
            Effect::Worker(Command::Query(Query::ListPages { generation, .. })) => {
                Some(*generation)
            }
            _ => None,
        })
        .expect("Enter lists the pages");
    for step in [
        Listing::Started,
        Listing::Items {
            items: (0..2).map(page).collect(),
            loaded: 2,
        },
        Listing::Done { total: 2 },
    ] {
        a.update(Msg::Worker(Event::Pages(Generational::new(pg, step))));
    }
    let screen = render(&a, 160, 30);
    assert_escaped(&screen, "the pages list");
    assert!(screen.contains("T\\x1b[2J"), "titles:\n{screen}");
}

#[test]
fn a_hostile_error_in_the_message_line_is_escaped() {
    let mut a = app();
    let g = listing(&mut a);
    a.update(key(KeyCode::Char('2')));
    a.update(Msg::Worker(Event::Spaces(Generational::new(
        g,
        Listing::Failed(WorkerError::new(
            ErrorClass::Network,
            format!("server error (HTTP 500): boom{EVIL}"),
        )),
    ))));
    let screen = render(&a, 120, 30);
    assert_escaped(&screen, "a failed listing");
}

#[test]
fn status_screen_shows_a_hostile_user_and_captcha_url_escaped() {
    let mut a = app();
    a.update(Msg::Worker(signed_in_event()));
    a.screen = Screen::Status;
    let screen = render(&a, 120, 30);
    assert_escaped(&screen, "the status screen (signed in)");
    assert!(screen.contains("Eve\\x1b[2J"), "user:\n{screen}");

    let mut a = app();
    a.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Captcha {
            login_url: Some(format!("https://example.atlassian.net/login{EVIL}")),
            status: Some(403),
        },
    ))));
    let screen = render(&a, 160, 30);
    assert_escaped(&screen, "the status screen (CAPTCHA)");

    let mut a = app();
    a.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Expired {
            reason: format!("the site said{EVIL}"),
            status: Some(401),
        },
    ))));
    let screen = render(&a, 160, 30);
    assert_escaped(&screen, "the status screen (expired)");

    let mut a = app();
    a.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Rejected {
            reason: format!("rejected{EVIL}"),
            status: Some(401),
        },
    ))));
    let screen = render(&a, 160, 30);
    assert_escaped(&screen, "the status screen (failed)");
}

#[test]
fn the_audit_viewer_shows_hostile_records_escaped() {
    let record = AuditRecord {
        time: datetime!(2026-11-21 09:00 UTC),
        seq: 1,
        event: AuditEvent::SessionVerified,
        outcome: AuditOutcome::Success,
        message: format!("Signed in as Eve{EVIL}"),
        details: AuditDetails {
            user: Some(format!("Eve{EVIL}")),
            reason: Some(format!("why{EVIL}")),
            login_url: Some(format!("https://x/login{EVIL}")),
            ..AuditDetails::default()
        },
        prev: "0".repeat(64),
        hash: format!("ab{EVIL}"),
    };
    let mut a = app();
    a.screen = Screen::Audit;
    a.update(Msg::AuditLoaded(AuditSnapshot::new(
        vec![record],
        ChainReport::Intact { records: 1 },
    )));
    let screen = render(&a, 160, 40);
    assert_escaped(&screen, "the audit viewer");
    assert!(screen.contains("Eve\\x1b[2J"), "message:\n{screen}");
}
