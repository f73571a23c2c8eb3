//! The paste-cookie dialog through the whole app: keys and clipboard answers
//! in, effects out, and the full frame drawn on a `TestBackend`.

use std::path::PathBuf;

use confluence_tui::confluence::client::Deployment;
use confluence_tui::credentials::ImportInput;
use confluence_tui::tui::app::{App, ClipboardText, Dialog, Effect, FlashLevel, Msg};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{Command, Mutation, SiteInfo};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use zeroize::Zeroizing;

/// Long enough that `mask` (first and last four characters) never shows its middle.
const SESSION: &str = "SENTINEL-session-0123456789-abcdefghijklmnopqrstuvwxyz-END1";
const XSRF: &str = "SENTINEL-xsrf-0123456789-abcdefghijklmnopqrstuvwxyz-END2";

fn app() -> App {
    App::new(
        SessionView::new(&SiteInfo {
            site: Some("https://example.atlassian.net/wiki".into()),
            deployment: Some(Deployment::Cloud),
            login_page: Some("https://example.atlassian.net/login".into()),
            env_file: PathBuf::from(".env"),
            data_dir: "/tmp/confluence-tui-test".into(),
            browser: None,
        }),
        datetime!(2026-11-21 12:00 UTC),
        time::Duration::days(14),
    )
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn header() -> String {
    format!("cloud.session.token={SESSION}; atlassian.xsrf.token={XSRF}")
}

/// The app with the dialog open (through `p`) and the clipboard's answer.
fn dialog_with(clipboard: ClipboardText) -> App {
    let mut app = app();
    let effects = app.update(key(KeyCode::Char('p')));
    assert!(matches!(effects.as_slice(), [Effect::ReadClipboard]));
    app.update(Msg::Clipboard(clipboard));
    app
}

fn clip(text: &str) -> ClipboardText {
    ClipboardText::Text(Zeroizing::new(text.to_string()))
}

fn paste_state(app: &App) -> &confluence_tui::tui::screens::paste::PasteState {
    match &app.dialog {
        Some(Dialog::Paste(p)) => p,
        other => panic!("paste dialog not open: {other:?}"),
    }
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

/// Snapshots at both sizes; returns the frames' text for further checks.
fn snap(name: &str, app: &App) -> Vec<String> {
    let mut texts = Vec::new();
    for (w, h) in [(80, 24), (120, 40)] {
        let t = frame(app, w, h);
        let text = text_of(&t);
        for secret in [SESSION, XSRF] {
            assert!(
                !text.contains(secret),
                "{name} {w}x{h} shows a secret:\n{text}"
            );
        }
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
        texts.push(text);
    }
    texts
}

#[test]
fn valid_paste_is_masked_and_previewed() {
    let app = dialog_with(clip(&header()));
    for text in snap("valid_masked", &app) {
        assert!(
            !text.contains("SENT"),
            "masked preview shows no characters:\n{text}"
        );
        assert!(text.contains("cloud.session.token"));
        assert!(text.contains("atlassian.xsrf.token"));
        assert!(text.contains("2 cookies"));
        assert!(text.contains("Expires in 14 d 0 h"));
        assert!(text.contains(&format!("•••• ({} chars)", SESSION.len())));
    }
}

#[test]
fn revealed_paste_shows_only_the_ends_of_values() {
    let mut app = dialog_with(clip(&header()));
    app.update(ctrl('r'));
    assert!(paste_state(&app).is_revealed());
    for text in snap("valid_revealed", &app) {
        assert!(text.contains(&format!("SENT…END1 ({} chars)", SESSION.len())));
    }
}

#[test]
fn invalid_paste_shows_the_error_and_enter_does_not_save() {
    let mut app = dialog_with(clip("this is not a cookie header"));
    let effects = app.update(key(KeyCode::Enter));
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.dialog.is_some(), "the dialog stays open");
    assert_eq!(app.flash.as_ref().map(|f| f.level), Some(FlashLevel::Error));
    for text in snap("invalid", &app) {
        assert!(text.contains("Cannot save: No cookie found"), "{text}");
    }
}

#[test]
fn no_clipboard_says_so_and_takes_the_terminal_paste() {
    let mut app = dialog_with(ClipboardText::Unavailable(
        "no display: DISPLAY is not set".into(),
    ));
    for text in snap("no_clipboard", &app) {
        assert!(text.contains("No clipboard here"), "{text}");
        assert!(text.contains("Ctrl+Shift+V"), "{text}");
    }
    // The terminal's bracketed paste, newlines included, never submits.
    let pasted = format!("{}\r\n", header());
    let effects = app.update(Msg::Paste(pasted));
    assert!(effects.is_empty());
    assert!(paste_state(&app).is_valid());
    let effects = app.update(key(KeyCode::Enter));
    match effects.as_slice() {
        [
            Effect::Worker(Command::Mutate(Mutation::ImportCookies {
                input: ImportInput::Paste(text),
            })),
        ] => assert_eq!(text.trim(), header()),
        other => panic!("expected an import, got {other:?}"),
    }
    assert!(app.dialog.is_none());
}

#[test]
fn paste_without_session_cookie_warns() {
    let app = dialog_with(clip(&format!(
        "atlassian.xsrf.token={XSRF}; ajs_anonymous_id=x1"
    )));
    assert!(
        paste_state(&app).is_valid(),
        "still saveable, with a warning"
    );
    for text in snap("no_session_cookie", &app) {
        assert!(text.contains("no session cookie"), "{text}");
        assert!(text.contains("No session cookie found"), "{text}");
    }
}

#[test]
fn esc_cancels_and_nothing_is_saved() {
    let mut app = dialog_with(clip(&header()));
    let effects = app.update(key(KeyCode::Esc));
    assert!(effects.is_empty());
    assert!(app.dialog.is_none());
    assert_eq!(
        app.flash.as_ref().map(|f| f.text.as_str()),
        Some("Nothing was saved.")
    );
}

#[test]
fn global_keys_type_text_while_the_dialog_is_open() {
    let mut app = dialog_with(ClipboardText::Unavailable("none".into()));
    for c in "q=1".chars() {
        let effects = app.update(key(KeyCode::Char(c)));
        assert!(effects.is_empty(), "{c} did something: {effects:?}");
    }
    assert!(!app.quit);
    assert_eq!(paste_state(&app).char_count(), 3);
    let effects = app.update(ctrl('v'));
    assert!(matches!(effects.as_slice(), [Effect::ReadClipboard]));
}

#[test]
fn a_paste_on_a_screen_opens_the_dialog_with_it() {
    let mut app = app();
    app.update(Msg::Paste(header()));
    assert!(paste_state(&app).is_valid());
}

#[test]
fn debug_of_the_app_never_shows_the_paste() {
    let app = dialog_with(clip(&header()));
    let dbg = format!("{app:?}");
    assert!(!dbg.contains("SENTINEL"), "{dbg}");
}

#[test]
fn a_gateways_cookies_are_marked_in_the_preview() {
    let mut app = app();
    // One more name from CONFLUENCE_GATEWAY_COOKIES.
    app.gateway_cookies = vec!["EdgeAuth".into()];
    app.update(key(KeyCode::Char('p')));
    app.update(Msg::Clipboard(clip(&format!(
        "cloud.session.token={SESSION}; CF_Authorization={XSRF}; EdgeAuth=e1; theme=dark"
    ))));
    for text in snap("gateway_cookies", &app) {
        assert!(
            text.contains("gateway: CF_Authorization, EdgeAuth"),
            "{text}"
        );
        let marked = |name: &str| text.lines().any(|l| l.contains(&format!("g {name} ")));
        assert!(marked("CF_Authorization") && marked("EdgeAuth"), "{text}");
        assert!(!marked("theme"), "{text}");
    }
}
