//! Messages for people: the browser's and the clipboard's failures as
//! short sentences with the URL early; a header that does not fit ends
//! with `…` instead of a misleading fragment; a message about a session
//! state goes when the state does; stored cookies never read as "auth not
//! chosen".

use std::path::PathBuf;

use confluence_tui::confluence::client::{AuthMode, Deployment};
use confluence_tui::confluence::model::User;
use confluence_tui::cookies::jar::ExpiryState;
use confluence_tui::credentials::{CookieStatus, StoredCookieSummary};
use confluence_tui::session::{Cause, SessionState, Snapshot};
use confluence_tui::tui::app::{App, Effect, Msg};
use confluence_tui::tui::clipboard::ClipboardProblem;
use confluence_tui::tui::session::{Badge, SessionView};
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{Command, Event, Query, SiteInfo, StoredInfo};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
const URL: &str = "http://127.0.0.1:37887/wiki/spaces/SENTINEL";

fn app_at(site: &str) -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some(site.into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some(format!("{site}/login")),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    App::new(session, NOW, Duration::days(14))
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t.backend().to_string()
}

fn row(screen: &str, n: usize) -> String {
    screen
        .lines()
        .nth(n)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

fn flash(app: &App) -> String {
    app.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

/// Cookies saved at `saved_at`, valid for 13 more days (or marked expired).
fn stored(saved_at: OffsetDateTime, state: ExpiryState) -> Event {
    Event::Stored(Box::new(StoredInfo {
        status: CookieStatus {
            site: None,
            other_sites: Vec::new(),
            cookies: Some(StoredCookieSummary {
                names: vec!["cloud.session.token".into()],
                session_cookies: vec!["cloud.session.token".into()],
                gateway_cookies: Vec::new(),
                source: "paste".into(),
                saved_at,
                expires_at: NOW + Duration::days(13),
                state,
            }),
            token_stored: false,
            gateway: Vec::new(),
            session: None,
            vault_path: PathBuf::from("/tmp/v/cookies/secure_cookies.enc"),
            vault_exists: true,
            machine_bound: Some(true),
            passphrase_used: Some(false),
            permission_warnings: vec![],
        },
        token_in_environment: false,
    }))
}

fn expired() -> Event {
    Event::Session(Snapshot::in_state(SessionState::Expired {
        reason: "the site answered 401 Unauthorized".into(),
        status: Some(401),
    }))
}

fn signed_in(name: &str) -> Event {
    Event::Session(Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: name.into(),
            id: Some("5b10".into()),
            email: None,
        },
        AuthMode::Cookie,
        "auto: unexpired browser cookies are stored".into(),
        Deployment::Cloud,
    ))
}

#[test]
fn a_browser_that_cannot_start_is_a_sentence_with_the_url() {
    let mut app = app_at("http://127.0.0.1:37887/wiki");
    app.update(Msg::Opened {
        url: URL.into(),
        opened: false,
    });
    assert_eq!(
        flash(&app),
        format!("No browser could be started: open {URL} yourself")
    );
    let line = row(&render(&app, 80, 24), 22);
    assert!(line.contains(URL), "the URL is whole at 80 columns: {line}");
    assert!(
        !line.contains("Launcher") && !line.contains("ExitStat"),
        "{line}"
    );
}

#[test]
fn no_clipboard_is_a_sentence_with_the_url() {
    let mut app = app_at("http://127.0.0.1:37887/wiki");
    app.update(Msg::Copied {
        shown: URL.into(),
        secret: false,
        result: Err(ClipboardProblem::NoDisplay),
    });
    assert_eq!(flash(&app), format!("No clipboard (no display): {URL}"));
    let line = row(&render(&app, 80, 24), 22);
    assert!(line.contains(URL), "{line}");
    app.update(Msg::Copied {
        shown: URL.into(),
        secret: false,
        result: Ok(()),
    });
    assert_eq!(flash(&app), format!("Copied {URL}"));
}

#[test]
fn a_message_that_does_not_fit_ends_with_an_ellipsis() {
    let mut app = app_at("http://127.0.0.1:37887/wiki");
    let long = format!("{URL}/{}", "x".repeat(100));
    app.update(Msg::Opened {
        url: long,
        opened: false,
    });
    let line = row(&render(&app, 80, 24), 22);
    assert!(line.ends_with('…'), "{line:?}");
}

#[test]
fn a_header_that_does_not_fit_ends_with_an_ellipsis_never_a_wrong_port() {
    let mut app = app_at("http://127.0.0.1:37887/wiki");
    app.update(Msg::Worker(stored(
        NOW - Duration::hours(1),
        ExpiryState::Valid {
            left: Duration::days(13),
        },
    )));
    app.update(Msg::Worker(signed_in("Demo User")));
    for width in 60..=90 {
        let header = row(&render(&app, width, 24), 0);
        let header = header.trim_end();
        assert!(
            header.ends_with("127.0.0.1:37887/wiki") || header.ends_with('…'),
            "at {width} columns: {header:?}"
        );
        assert!(
            !header.contains(":3788 ") && !header.ends_with(":3788"),
            "at {width} columns: {header:?}"
        );
    }
    // Where there is room for all of it, all of it shows.
    let wide = row(&render(&app, 120, 24), 0);
    assert!(
        wide.contains("Demo User · cookie · 127.0.0.1:37887/wiki"),
        "{wide}"
    );
    // A little narrower, the site stays whole: the mode gives way first
    // (87 columns: four tabs since the Pipeline screen).
    let header = row(&render(&app, 87, 24), 0);
    assert!(
        header.contains("Demo User · 127.0.0.1:37887/wiki"),
        "{header}"
    );
}

#[test]
fn session_expired_goes_once_fresh_cookies_are_stored_elsewhere() {
    let mut app = app_at("https://example.atlassian.net/wiki");
    let before = NOW - Duration::days(2);
    app.update(Msg::Worker(stored(
        before,
        ExpiryState::MarkedExpired {
            reason: "the site answered 401 Unauthorized".into(),
        },
    )));
    app.update(Msg::Worker(expired()));
    assert!(
        flash(&app).starts_with("Session expired"),
        "{}",
        flash(&app)
    );
    // Another terminal imports fresh cookies: the session owner reads them
    // and checks them by itself (the app asks nothing); its snapshot says
    // they are being checked.
    let fx = app.update(Msg::Worker(Event::Session(Snapshot {
        cause: Cause::Vault,
        ..Snapshot::in_state(SessionState::Checking)
    })));
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::Worker(Command::Query(Query::Verify)))),
        "{fx:?}"
    );
    assert!(
        !flash(&app).contains("expired"),
        "the expiry is no longer the state: {}",
        flash(&app)
    );
    let screen = render(&app, 100, 30);
    assert!(!screen.contains("Session expired"), "{screen}");
    app.update(Msg::Worker(signed_in("Dana Analyst")));
    assert_eq!(flash(&app), "Signed in as Dana Analyst");
}

#[test]
fn a_clear_shows_no_credentials_at_once_and_fresh_cookies_end_it() {
    // `c` clears the cookies through the session owner: its snapshot (no
    // credentials) turns the header and every row at once.
    let mut app = app_at("https://example.atlassian.net/wiki");
    app.update(Msg::Worker(signed_in("Dana Analyst")));
    assert_eq!(app.session.badge(NOW), Badge::SignedIn);
    app.update(Msg::Worker(Event::Session(Snapshot {
        cause: Cause::Cleared,
        ..Snapshot::in_state(SessionState::NoCredentials {
            message: "no credentials: import browser cookies".into(),
        })
    })));
    assert_eq!(app.session.badge(NOW), Badge::NoCredentials);
    let screen = render(&app, 100, 30);
    assert!(screen.contains("NO CREDENTIALS"), "{screen}");
    assert!(!screen.contains("Dana Analyst"), "{screen}");
    // Another process imports: the owner checks them; the app only follows.
    app.update(Msg::Worker(Event::Session(Snapshot {
        cause: Cause::Vault,
        ..Snapshot::in_state(SessionState::Checking)
    })));
    assert!(app.flash.is_none(), "{}", flash(&app));
    app.update(Msg::Worker(signed_in("Dana Analyst")));
    assert_eq!(flash(&app), "Signed in as Dana Analyst");
}

#[test]
fn stored_cookies_never_read_as_auth_not_chosen() {
    let mut app = app_at("https://example.atlassian.net/wiki");
    app.update(Msg::Worker(stored(
        NOW - Duration::days(1),
        ExpiryState::Valid {
            left: Duration::days(13),
        },
    )));
    let screen = render(&app, 100, 30);
    assert!(!screen.contains("not chosen"), "{screen}");
    assert!(
        screen.contains("cookie  browser cookies are stored"),
        "{screen}"
    );
    app.update(Msg::Worker(expired()));
    app.update(Msg::Worker(stored(
        NOW - Duration::days(1),
        ExpiryState::MarkedExpired {
            reason: "the site answered 401 Unauthorized".into(),
        },
    )));
    let screen = render(&app, 100, 30);
    assert!(!screen.contains("not chosen"), "{screen}");
    assert!(
        screen.contains("the stored cookies have expired"),
        "{screen}"
    );
}
