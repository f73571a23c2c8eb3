//! The token dialog (`t`): the token, masked, and the user name it is sent
//! with (started from CONFLUENCE_USERNAME); it says which auth that makes,
//! and its explanation fits at 80×24. Enter hands both to the worker, which
//! checks the token with the site before storing it.

use std::path::PathBuf;

use confluence_tui::confluence::client::Deployment;
use confluence_tui::tui::app::{App, Dialog, Effect, Msg};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{Command, Mutation, SiteInfo};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
const TOKEN: &str = "SENTINELtoken42";

fn app(username: Option<&str>) -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some("https://example.atlassian.net/wiki".into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some("https://example.atlassian.net/login".into()),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    });
    let mut app = App::new(session, NOW, Duration::days(14));
    app.username_hint = username.map(str::to_string);
    app
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        assert!(press(app, KeyCode::Char(c)).is_empty());
    }
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t.backend().to_string()
}

/// The user name of the `StoreToken` in `fx` (outer `None`: no such mutation).
fn stored_username(fx: &[Effect]) -> Option<Option<String>> {
    fx.iter().find_map(|e| match e {
        Effect::Worker(Command::Mutate(Mutation::StoreToken { username, .. })) => {
            Some(username.clone())
        }
        _ => None,
    })
}

#[test]
fn the_dialog_starts_with_the_settings_user_name_and_stores_it_with_the_token() {
    let mut app = app(Some("dana@example.com"));
    press(&mut app, KeyCode::Char('t'));
    assert!(matches!(app.dialog, Some(Dialog::Token(_))));
    type_text(&mut app, TOKEN);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("dana@example.com"), "{screen}");
    assert!(
        screen.contains("email + API token → Basic (Cloud)"),
        "{screen}"
    );
    assert!(
        !screen.contains("SENTINEL"),
        "the token is masked:\n{screen}"
    );
    let fx = press(&mut app, KeyCode::Enter);
    assert_eq!(
        stored_username(&fx),
        Some(Some("dana@example.com".to_string()))
    );
    assert!(!format!("{fx:?}").contains("SENTINEL"));
    assert!(app.dialog.is_none());
}

#[test]
fn without_a_user_name_the_token_is_a_personal_access_token() {
    let mut app = app(None);
    press(&mut app, KeyCode::Char('t'));
    type_text(&mut app, TOKEN);
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("token alone → Bearer personal access token (Server/DC)"),
        "{screen}"
    );
    // Tab goes to the user name; what is typed there is the user name.
    press(&mut app, KeyCode::Tab);
    type_text(&mut app, "me@example.com");
    let screen = render(&app, 80, 24);
    assert!(screen.contains("me@example.com"), "{screen}");
    assert!(screen.contains("→ Basic (Cloud)"), "{screen}");
    let fx = press(&mut app, KeyCode::Enter);
    assert_eq!(
        stored_username(&fx),
        Some(Some("me@example.com".to_string()))
    );
}

#[test]
fn an_emptied_user_name_field_falls_back_to_the_settings_and_says_so() {
    let mut app = app(Some("dana@example.com"));
    press(&mut app, KeyCode::Char('t'));
    type_text(&mut app, TOKEN);
    press(&mut app, KeyCode::Tab);
    for _ in 0.."dana@example.com".len() {
        press(&mut app, KeyCode::Backspace);
    }
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("CONFLUENCE_USERNAME + API token"),
        "{screen}"
    );
    let fx = press(&mut app, KeyCode::Enter);
    assert_eq!(stored_username(&fx), Some(None));
}

#[test]
fn snapshot_token_dialog() {
    let mut app = app(Some("dana@example.com"));
    press(&mut app, KeyCode::Char('t'));
    type_text(&mut app, TOKEN);
    let full = render(&app, 80, 24);
    // The explanation is whole at 80×24, not cut at the dialog's edge.
    assert!(
        full.contains("Cloud: your account email + an API token, sent as Basic auth."),
        "{full}"
    );
    assert!(
        full.contains("Server/Data Center: a personal access token alone, sent as Bearer."),
        "{full}"
    );
    insta::assert_snapshot!("token_dialog_user_80x24", full);
    let small = render(&app, 60, 15);
    assert!(!small.contains("SENTINEL"), "{small}");
    assert!(small.contains("Token (15)"), "{small}");
    assert!(small.contains("Esc cancel"), "{small}");
    insta::assert_snapshot!("token_dialog_user_60x15", small);
}
