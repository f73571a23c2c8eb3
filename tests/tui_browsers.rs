//! The browser dialog (`b` on the status screen, `Ctrl+B` in the paste
//! dialog) and the pickup of a fresh browser login, through `update()`:
//! keys and worker events in, state and effects out; the list rendered on
//! `TestBackend` and snapshotted.

use std::path::PathBuf;

use confluence_tui::browser::{BrowserKind, Profile};
use confluence_tui::confluence::client::AuthMode;
use confluence_tui::confluence::client::Deployment;
use confluence_tui::confluence::model::User;
use confluence_tui::session::{Cause, SessionState, Snapshot};
use confluence_tui::tui::app::{App, Dialog, Effect, Msg};
use confluence_tui::tui::screens::browsers::BrowsersState;
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{
    BrowserProfileInfo, Command, Event, Mutation, ProfileCookies, ProfileProblem, Query, SiteInfo,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

fn app() -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some("https://example.atlassian.net/wiki".into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some("https://example.atlassian.net/login".into()),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    App::new(session, NOW, Duration::days(14))
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn char_key(c: char) -> Msg {
    key(KeyCode::Char(c))
}

fn profiles() -> Vec<BrowserProfileInfo> {
    vec![
        BrowserProfileInfo {
            profile: Profile {
                kind: BrowserKind::Firefox,
                dir: "/home/me/.mozilla/firefox/abcd1234.default-release".into(),
            },
            read: Ok(ProfileCookies {
                names: vec![
                    "cloud.session.token".into(),
                    "atlassian.xsrf.token".into(),
                    "ajs_anonymous_id".into(),
                ],
                session_cookies: vec!["cloud.session.token".into()],
                expires_at: Some(NOW + Duration::days(30)),
            }),
        },
        BrowserProfileInfo {
            profile: Profile {
                kind: BrowserKind::Chromium,
                dir: "/home/me/.config/chromium/Default".into(),
            },
            read: Ok(ProfileCookies {
                names: vec!["atlassian.xsrf.token".into()],
                session_cookies: vec![],
                expires_at: None,
            }),
        },
        BrowserProfileInfo {
            profile: Profile {
                kind: BrowserKind::Edge,
                // Hostile text from disk: an escape sequence in a path.
                dir: "/home/me/.config/microsoft-edge/Profile \u{1b}[2J1".into(),
            },
            read: Err(ProfileProblem {
                short: "v20: app-bound, paste instead".into(),
                message: "the cookie `cloud.session.token` uses Windows app-bound encryption (v20): paste instead".into(),
            }),
        },
    ]
}

fn is_listing(effects: &[Effect]) -> bool {
    effects.iter().any(|e| {
        matches!(
            e,
            Effect::Worker(Command::Query(Query::ListBrowserProfiles))
        )
    })
}

fn browsers(app: &App) -> &BrowsersState {
    match &app.dialog {
        Some(Dialog::Browsers(b)) => b,
        other => panic!("browser dialog not open: {other:?}"),
    }
}

fn listed_app() -> App {
    let mut app = app();
    let effects = app.update(char_key('b'));
    assert!(is_listing(&effects), "{effects:?}");
    app.update(Msg::Worker(Event::BrowserProfiles(profiles())));
    app
}

fn frame(app: &App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .expect("draw");
    t
}

fn text_of(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn b_on_the_status_screen_lists_the_profiles_and_the_answer_opens_the_list() {
    let mut app = app();
    let effects = app.update(char_key('b'));
    assert!(is_listing(&effects), "{effects:?}");
    assert!(browsers(&app).profiles().is_none(), "waits for the worker");
    app.update(Msg::Worker(Event::BrowserProfiles(profiles())));
    assert_eq!(browsers(&app).profiles().map(<[_]>::len), Some(3));
}

#[test]
fn ctrl_b_in_the_paste_dialog_lists_the_profiles_instead() {
    let mut app = app();
    app.update(char_key('p'));
    assert!(matches!(app.dialog, Some(Dialog::Paste(_))));
    let effects = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('b'),
        KeyModifiers::CONTROL,
    )));
    assert!(is_listing(&effects), "{effects:?}");
    browsers(&app);
}

#[test]
fn b_in_the_paste_dialog_lists_the_profiles_while_its_text_is_empty() {
    let mut app = app();
    app.update(char_key('p'));
    let text = text_of(&frame(&app, 120, 24));
    assert!(text.contains("b browser"), "{text}");
    assert!(!text.contains("Ctrl+b browser"), "one entry: {text}");
    let effects = app.update(char_key('b'));
    assert!(is_listing(&effects), "{effects:?}");
    browsers(&app);
}

#[test]
fn once_the_paste_dialog_has_text_b_is_a_letter_and_ctrl_b_lists() {
    let mut app = app();
    app.update(char_key('p'));
    app.update(char_key('a'));
    let effects = app.update(char_key('b'));
    assert!(!is_listing(&effects), "{effects:?}");
    match &app.dialog {
        Some(Dialog::Paste(p)) => assert_eq!(p.char_count(), 2, "`b` was typed"),
        other => panic!("the paste dialog closed: {other:?}"),
    }
    let text = text_of(&frame(&app, 120, 24));
    assert!(text.contains("Ctrl+b browser"), "{text}");
    let effects = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('b'),
        KeyModifiers::CONTROL,
    )));
    assert!(is_listing(&effects), "{effects:?}");
}

#[test]
fn enter_previews_then_enter_imports_from_the_chosen_profile() {
    let mut app = listed_app();
    app.update(char_key('j'));
    app.update(key(KeyCode::Up));
    let effects = app.update(key(KeyCode::Enter));
    assert!(effects.is_empty(), "choosing only previews: {effects:?}");
    assert!(browsers(&app).previewing());
    let effects = app.update(key(KeyCode::Enter));
    let profile = effects.iter().find_map(|e| match e {
        Effect::Worker(Command::Mutate(Mutation::ImportFromBrowser { profile })) => Some(profile),
        _ => None,
    });
    assert_eq!(profile, Some(&profiles()[0].profile), "{effects:?}");
    assert!(app.dialog.is_none());
}

#[test]
fn a_profile_that_cannot_be_read_imports_nothing() {
    let mut app = listed_app();
    app.update(char_key('j'));
    app.update(char_key('j'));
    app.update(char_key('j'));
    assert_eq!(browsers(&app).selected(), 2, "stops at the last row");
    app.update(key(KeyCode::Enter));
    let text = text_of(&frame(&app, 80, 24));
    assert!(text.contains("Cannot import"), "{text}");
    let effects = app.update(key(KeyCode::Enter));
    assert!(effects.is_empty(), "{effects:?}");
    browsers(&app);
}

#[test]
fn esc_goes_back_from_the_preview_then_closes() {
    let mut app = listed_app();
    app.update(key(KeyCode::Enter));
    assert!(browsers(&app).previewing());
    app.update(key(KeyCode::Esc));
    assert!(!browsers(&app).previewing());
    let effects = app.update(key(KeyCode::Esc));
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.dialog.is_none());
}

#[test]
fn the_list_at_80x24() {
    let app = listed_app();
    let t = frame(&app, 80, 24);
    let text = text_of(&t);
    assert!(!text.contains('\u{1b}'), "hostile text reached the screen");
    assert!(text.contains("v20: app-bound, paste instead"), "{text}");
    insta::assert_snapshot!("browsers_list_80x24", t.backend());
    let mut app = app;
    app.update(key(KeyCode::Enter));
    insta::assert_snapshot!("browsers_preview_80x24", frame(&app, 80, 24).backend());
}

#[test]
fn the_status_footer_and_help_name_b() {
    let mut app = app();
    // Ranked after the global keys: shown where there is room.
    let text = text_of(&frame(&app, 160, 24));
    assert!(text.contains("b browser"), "{text}");
    app.update(char_key('?'));
    let text = text_of(&frame(&app, 120, 40));
    assert!(text.contains("import from a browser profile"), "{text}");
}

fn expired() -> Msg {
    Msg::Worker(Event::Session(Snapshot::in_state(SessionState::Expired {
        reason: "the site answered 401".into(),
        status: Some(401),
    })))
}

#[test]
fn the_app_looks_in_no_browser_itself_and_says_where_a_picked_up_session_came_from() {
    // The session owner watches the browser and imports a fresh login (one
    // watch in the process); the app only shows what came of it.
    let mut app = app();
    let effects = app.update(expired());
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Worker(Command::Mutate(_)))),
        "{effects:?}"
    );
    let mut back = Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: "Dana Analyst".into(),
            id: None,
            email: None,
        },
        AuthMode::Cookie,
        "auto: unexpired browser cookies are stored".into(),
        Deployment::Cloud,
    );
    back.cause = Cause::BrowserPickup {
        browser: "firefox".into(),
        profile: "/home/me/.mozilla/firefox/abc.default".into(),
    };
    app.update(Msg::Worker(Event::Session(back)));
    let flash = &app.flash.as_ref().expect("a message").text;
    assert_eq!(
        flash,
        "Imported a fresh session from firefox /home/me/.mozilla/firefox/abc.default. Signed in as Dana Analyst"
    );
}

fn click(column: u16, row: u16) -> Msg {
    Msg::Mouse(crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::Down(crossterm::event::MouseButton::Left),
        column,
        row,
        modifiers: KeyModifiers::NONE,
    })
}

#[test]
fn a_click_on_a_profile_selects_it() {
    let mut app = listed_app();
    app.set_terminal_size(80, 24);
    let text = text_of(&frame(&app, 80, 24));
    let y_of = |needle: &str| {
        text.lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} on screen:\n{text}")) as u16
    };
    app.update(click(20, y_of("microsoft-edge")));
    assert_eq!(browsers(&app).selected(), 2);
    app.update(click(20, y_of(".config/chromium/Default")));
    assert_eq!(browsers(&app).selected(), 1);
    // The line heading the list and the space under the rows select nothing.
    app.update(click(20, y_of("The site's cookies in each profile")));
    app.update(click(20, y_of("microsoft-edge") + 3));
    assert_eq!(browsers(&app).selected(), 1);
    app.update(key(KeyCode::Enter));
    assert!(browsers(&app).previewing());
    let text = text_of(&frame(&app, 80, 24));
    assert!(text.contains(".config/chromium/Default"), "{text}");
}
