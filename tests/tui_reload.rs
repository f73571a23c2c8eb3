//! `r` on the status screen: the worker reads the settings again and sends
//! the new site; `update()` applies it to every screen, and the next frames
//! show it (rendered on `TestBackend`).

use std::path::PathBuf;

use confluence_tui::confluence::client::{AuthMode, Deployment};
use confluence_tui::confluence::model::User;
use confluence_tui::session::Snapshot;
use confluence_tui::tui::app::{App, Effect, Msg};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{
    Command, Event, Mutation, MutationDone, MutationKind, Query, SiteInfo,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t.backend().to_string()
}

fn no_site() -> SiteInfo {
    SiteInfo {
        site: None,
        deployment: None,
        login_page: None,
        env_file: PathBuf::from("/work/project/.env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    }
}

fn example_site() -> SiteInfo {
    SiteInfo {
        site: Some("https://example.atlassian.net/wiki".into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some("https://example.atlassian.net/login".into()),
        env_file: PathBuf::from("/work/project/.env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    }
}

#[test]
fn a_reload_changes_the_rendered_header_and_status() {
    let mut app = App::new(SessionView::new(&no_site()), NOW, Duration::days(14));
    let before = render(&app, 100, 30);
    assert!(before.contains("no site"), "{before}");
    assert!(before.contains("NOT CONFIGURED"), "{before}");

    // `r` asks the worker to read the settings again (a queued mutation).
    let fx = app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('r'),
        KeyModifiers::NONE,
    )));
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Worker(Command::Mutate(Mutation::ReloadSettings))]
        ),
        "{fx:?}"
    );

    // The worker answers with the new site, then with the reload's result.
    app.update(Msg::Worker(Event::Site(example_site())));
    let fx = app.update(Msg::Worker(Event::Mutated {
        kind: MutationKind::ReloadSettings,
        result: Ok(MutationDone::SettingsReloaded),
    }));
    let queries: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::Worker(Command::Query(q)) => Some(q.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(queries, [Query::Describe, Query::Verify], "re-verifies");
    let after = render(&app, 100, 30);
    assert!(!after.contains("no site"), "{after}");
    assert!(after.contains("example.atlassian.net"), "{after}");
    assert!(after.contains("CHECKING"), "{after}");
    assert!(!after.contains("NOT CONFIGURED"), "{after}");
    insta::assert_snapshot!("reloaded_80x24", render(&app, 80, 24));

    // The verification that follows signs in on the new site.
    app.update(Msg::Worker(Event::Session(Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: "Dana Analyst".into(),
            id: Some("5b10".into()),
            email: None,
        },
        AuthMode::Basic,
        "auto: a user name and an API token are set".into(),
        Deployment::Cloud,
    ))));
    let signed = render(&app, 100, 30);
    assert!(signed.contains("SIGNED IN"), "{signed}");
    assert!(signed.contains("Dana Analyst"), "{signed}");
}

#[test]
fn a_reload_to_another_site_forgets_the_old_session() {
    let mut app = App::new(SessionView::new(&example_site()), NOW, Duration::days(14));
    app.update(Msg::Worker(Event::Session(Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: "Dana Analyst".into(),
            id: None,
            email: None,
        },
        AuthMode::Cookie,
        "auto: unexpired browser cookies are stored".into(),
        Deployment::Cloud,
    ))));
    assert!(render(&app, 100, 30).contains("Dana Analyst"));
    app.update(Msg::Worker(Event::Site(no_site())));
    let s = render(&app, 100, 30);
    assert!(!s.contains("Dana Analyst"), "{s}");
    assert!(s.contains("no site"), "{s}");
}
