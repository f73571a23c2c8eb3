//! First-run setup (`s` on the status screen while no site is set): the
//! address is checked by the worker, then the sign-in choice writes the
//! site to `.env`, reloads the settings and opens the chosen sign-in step.
//! `update()` in, effects out; each step rendered on `TestBackend`.

use std::path::PathBuf;

use confluence_tui::confluence::client::Deployment;
use confluence_tui::confluence::probe::{ProbeError, SiteProbe};
use confluence_tui::exit::ErrorClass;
use confluence_tui::tui::app::{App, Dialog, Effect, Msg};
use confluence_tui::tui::screens::setup::{SetupStep, SignIn};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{
    Command, Event, Mutation, MutationDone, MutationKind, Query, QueryKind, SiteInfo, WorkerError,
};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
const CLOUD: &str = "https://example.atlassian.net/wiki";

fn site_info(site: Option<&str>) -> SiteInfo {
    SiteInfo {
        site: site.map(str::to_string),
        deployment: site.map(|_| Deployment::Cloud),
        login_page: site.map(|_| "https://example.atlassian.net/login".to_string()),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    }
}

fn app_without_site() -> App {
    App::new(SessionView::new(&site_info(None)), NOW, Duration::days(14))
}

fn press(app: &mut App, code: KeyCode) -> Vec<Effect> {
    app.update(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t.backend().to_string()
}

fn step(app: &App) -> SetupStep {
    match &app.dialog {
        Some(Dialog::Setup(s)) => s.step().clone(),
        other => panic!("setup is not open: {other:?}"),
    }
}

fn cloud_probe() -> SiteProbe {
    SiteProbe {
        base_url: CLOUD.into(),
        deployment: Deployment::Cloud,
        login_page: "https://example.atlassian.net/login".into(),
        behind_sign_in: false,
    }
}

fn server_probe() -> SiteProbe {
    SiteProbe {
        base_url: "https://confluence.example.com".into(),
        deployment: Deployment::Server,
        login_page: "https://confluence.example.com/login.action".into(),
        behind_sign_in: false,
    }
}

/// Setup open with `typed` checked and answered by `probe`.
fn at_choice(typed: &str, probe: SiteProbe) -> App {
    let mut app = app_without_site();
    press(&mut app, KeyCode::Char('s'));
    type_text(&mut app, typed);
    press(&mut app, KeyCode::Enter);
    app.update(Msg::Worker(Event::SiteProbe {
        url: typed.into(),
        result: Ok(probe),
    }));
    app
}

fn written(app: &mut App) -> Vec<Effect> {
    app.update(Msg::Worker(Event::Mutated {
        kind: MutationKind::WriteSiteSettings,
        result: Ok(MutationDone::SettingsWritten {
            path: PathBuf::from(".env"),
            created: true,
        }),
    }))
}

/// The worker's answers to the reload: the new site, then done.
fn reloaded(app: &mut App, site: &str) -> Vec<Effect> {
    let mut fx = app.update(Msg::Worker(Event::Site(site_info(Some(site)))));
    fx.extend(app.update(Msg::Worker(Event::Mutated {
        kind: MutationKind::ReloadSettings,
        result: Ok(MutationDone::SettingsReloaded),
    })));
    fx
}

fn write_of(fx: &[Effect]) -> Option<(String, Deployment, Option<String>)> {
    fx.iter().find_map(|e| match e {
        Effect::Worker(Command::Mutate(Mutation::WriteSiteSettings {
            base_url,
            deployment,
            username,
        })) => Some((base_url.clone(), *deployment, username.clone())),
        _ => None,
    })
}

fn asks_reload(fx: &[Effect]) -> bool {
    fx.iter()
        .any(|e| matches!(e, Effect::Worker(Command::Mutate(Mutation::ReloadSettings))))
}

#[test]
fn s_opens_setup_only_while_no_site_is_set() {
    let mut app = app_without_site();
    let frame = render(&app, 100, 30);
    assert!(frame.contains("s setup"), "offered in the footer:\n{frame}");
    let fx = press(&mut app, KeyCode::Char('s'));
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(step(&app), SetupStep::Address);

    let mut configured = App::new(
        SessionView::new(&site_info(Some(CLOUD))),
        NOW,
        Duration::days(14),
    );
    let frame = render(&configured, 100, 30);
    assert!(
        !frame.contains("setup"),
        "not offered with a site:\n{frame}"
    );
    press(&mut configured, KeyCode::Char('s'));
    assert!(configured.dialog.is_none());

    // The demo's settings are its sandbox's: no setup there either.
    let mut demo = app_without_site();
    demo.demo = true;
    press(&mut demo, KeyCode::Char('s'));
    assert!(demo.dialog.is_none());

    // Only on the status screen.
    let mut on_audit = app_without_site();
    press(&mut on_audit, KeyCode::Char('3'));
    press(&mut on_audit, KeyCode::Char('s'));
    assert!(!matches!(on_audit.dialog, Some(Dialog::Setup(_))));
}

#[test]
fn enter_on_an_address_asks_the_worker_to_check_it() {
    let mut app = app_without_site();
    press(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "example.atlassian.net");
    let fx = press(&mut app, KeyCode::Enter);
    assert!(
        matches!(
            fx.as_slice(),
            [Effect::Worker(Command::Query(Query::ProbeSite { url }))] if url == "example.atlassian.net"
        ),
        "{fx:?}"
    );
    assert!(matches!(step(&app), SetupStep::Checking { .. }));
    let frame = render(&app, 80, 24);
    assert!(
        frame.contains("Checking https://example.atlassian.net/wiki"),
        "progress names the normalised address:\n{frame}"
    );
    // Keys while checking change nothing; Esc stops the check.
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    let fx = press(&mut app, KeyCode::Esc);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Worker(Command::Cancel(QueryKind::Probe)))),
        "{fx:?}"
    );
    assert!(app.dialog.is_none());
}

#[test]
fn an_address_the_settings_would_refuse_is_not_checked() {
    let mut app = app_without_site();
    press(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "http://confluence.example.com");
    let fx = press(&mut app, KeyCode::Enter);
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(step(&app), SetupStep::Address);
    let Some(Dialog::Setup(s)) = &app.dialog else {
        panic!()
    };
    assert!(
        s.error().unwrap().contains("plain http://"),
        "{:?}",
        s.error()
    );
}

#[test]
fn a_failed_check_shows_the_message_and_keeps_the_address() {
    let mut app = app_without_site();
    press(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "https://nowhere.invalid");
    press(&mut app, KeyCode::Enter);
    app.update(Msg::Worker(Event::SiteProbe {
        url: "https://nowhere.invalid".into(),
        result: Err(ProbeError::HostNotFound {
            host: "nowhere.invalid".into(),
        }),
    }));
    assert_eq!(step(&app), SetupStep::Address);
    let Some(Dialog::Setup(s)) = &app.dialog else {
        panic!()
    };
    assert_eq!(s.address_text(), "https://nowhere.invalid");
    let frame = render(&app, 80, 24);
    assert!(
        frame.contains("cannot find the host nowhere.invalid"),
        "{frame}"
    );
    insta::assert_snapshot!("setup_check_failed_80x24", frame);
    insta::assert_snapshot!("setup_check_failed_60x15", render(&app, 60, 15));
}

#[test]
fn an_answer_for_another_address_is_ignored() {
    let mut app = app_without_site();
    press(&mut app, KeyCode::Char('s'));
    type_text(&mut app, "a.example");
    press(&mut app, KeyCode::Enter);
    app.update(Msg::Worker(Event::SiteProbe {
        url: "b.example".into(),
        result: Ok(server_probe()),
    }));
    assert!(matches!(step(&app), SetupStep::Checking { .. }));
}

#[test]
fn a_site_that_checks_out_leads_to_the_sign_in_choice() {
    let app = at_choice("example.atlassian.net", cloud_probe());
    assert_eq!(
        step(&app),
        SetupStep::Choose {
            site: cloud_probe(),
            choice: SignIn::CloudToken
        },
        "Cloud suggests email + API token"
    );
    let app = at_choice("confluence.example.com", server_probe());
    assert!(matches!(
        step(&app),
        SetupStep::Choose {
            choice: SignIn::PersonalToken,
            ..
        }
    ));
    let frame = render(&app, 80, 24);
    assert!(frame.contains("Confluence Server/Data Center"), "{frame}");
    assert!(frame.contains("Personal access token"), "{frame}");
}

#[test]
fn browser_cookies_write_the_site_then_open_the_login_page_and_the_paste_dialog() {
    let mut app = at_choice("confluence.example.com", server_probe());
    let fx = press(&mut app, KeyCode::Char('1'));
    assert_eq!(
        write_of(&fx),
        Some((
            "https://confluence.example.com".into(),
            Deployment::Server,
            None
        ))
    );
    assert!(!asks_reload(&fx), "reloaded only once written");
    let fx = written(&mut app);
    assert!(asks_reload(&fx), "{fx:?}");
    assert!(matches!(app.dialog, Some(Dialog::Setup(_))));
    let fx = reloaded(&mut app, "https://confluence.example.com");
    assert!(
        fx.iter().any(|e| matches!(e, Effect::OpenUrl(u)
            if u == "https://confluence.example.com/login.action")),
        "{fx:?}"
    );
    assert!(fx.iter().any(|e| matches!(e, Effect::ReadClipboard)));
    assert!(matches!(app.dialog, Some(Dialog::Paste(_))));
}

#[test]
fn cloud_email_and_token_write_the_email_and_open_the_token_dialog_with_it() {
    let mut app = at_choice("example.atlassian.net", cloud_probe());
    // Enter takes the suggestion (email + API token): the email first.
    let fx = press(&mut app, KeyCode::Enter);
    assert!(write_of(&fx).is_none(), "nothing written yet");
    assert!(matches!(step(&app), SetupStep::Email { .. }));
    insta::assert_snapshot!("setup_email_80x24", render(&app, 80, 24));
    let fx = press(&mut app, KeyCode::Enter);
    assert!(write_of(&fx).is_none(), "an empty email is refused");
    type_text(&mut app, "dana@example.com");
    let fx = press(&mut app, KeyCode::Enter);
    assert_eq!(
        write_of(&fx),
        Some((
            CLOUD.into(),
            Deployment::Cloud,
            Some("dana@example.com".into())
        ))
    );
    written(&mut app);
    reloaded(&mut app, CLOUD);
    assert!(matches!(app.dialog, Some(Dialog::Token(_))));
    let frame = render(&app, 80, 24);
    assert!(frame.contains("dana@example.com"), "{frame}");
    assert!(
        frame.contains("email + API token → Basic (Cloud)"),
        "{frame}"
    );
}

#[test]
fn a_personal_access_token_opens_the_token_dialog_without_a_user_name() {
    let mut app = at_choice("confluence.example.com", server_probe());
    app.username_hint = Some("from-settings@example.com".into());
    let fx = press(&mut app, KeyCode::Enter);
    assert_eq!(
        write_of(&fx),
        Some((
            "https://confluence.example.com".into(),
            Deployment::Server,
            None
        ))
    );
    written(&mut app);
    reloaded(&mut app, "https://confluence.example.com");
    assert!(matches!(app.dialog, Some(Dialog::Token(_))));
    let frame = render(&app, 80, 24);
    assert!(
        frame.contains("token alone → Bearer personal access token"),
        "{frame}"
    );
    assert!(!frame.contains("from-settings"), "{frame}");
}

#[test]
fn escape_cancels_every_step_before_the_choice_and_writes_nothing() {
    let mut app = app_without_site();
    press(&mut app, KeyCode::Char('s'));
    let fx = press(&mut app, KeyCode::Esc);
    assert!(fx.is_empty() && app.dialog.is_none());

    let mut app = at_choice("example.atlassian.net", cloud_probe());
    let fx = press(&mut app, KeyCode::Esc);
    assert!(write_of(&fx).is_none() && app.dialog.is_none());

    let mut app = at_choice("example.atlassian.net", cloud_probe());
    press(&mut app, KeyCode::Char('2'));
    type_text(&mut app, "dana@example.com");
    let fx = press(&mut app, KeyCode::Esc);
    assert!(write_of(&fx).is_none() && app.dialog.is_none());
    let frame = render(&app, 80, 24);
    assert!(frame.contains("nothing was written"), "{frame}");
}

#[test]
fn a_failed_write_returns_to_the_choice_with_the_reason() {
    let mut app = at_choice("confluence.example.com", server_probe());
    press(&mut app, KeyCode::Char('3'));
    let fx = app.update(Msg::Worker(Event::Mutated {
        kind: MutationKind::WriteSiteSettings,
        result: Err(WorkerError::new(
            ErrorClass::Usage,
            ".env is a symbolic link; links are never followed or replaced here",
        )),
    }));
    assert!(!asks_reload(&fx));
    assert!(matches!(step(&app), SetupStep::Choose { .. }));
    let frame = render(&app, 80, 24);
    assert!(frame.contains(".env is a symbolic link"), "{frame}");
}

#[test]
fn each_step_fits_at_80x24_and_60x15() {
    let mut app = app_without_site();
    insta::assert_snapshot!("setup_status_no_site_80x24", render(&app, 80, 24));
    press(&mut app, KeyCode::Char('s'));
    insta::assert_snapshot!("setup_address_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("setup_address_60x15", render(&app, 60, 15));
    type_text(&mut app, "example.atlassian.net");
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("setup_checking_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("setup_checking_60x15", render(&app, 60, 15));
    app.update(Msg::Worker(Event::SiteProbe {
        url: "example.atlassian.net".into(),
        result: Ok(cloud_probe()),
    }));
    insta::assert_snapshot!("setup_choose_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("setup_choose_60x15", render(&app, 60, 15));
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("setup_email_60x15", render(&app, 60, 15));
    type_text(&mut app, "dana@example.com");
    press(&mut app, KeyCode::Enter);
    insta::assert_snapshot!("setup_saving_80x24", render(&app, 80, 24));
}
