//! The demo (`--demo`) teaches: its first screen speaks of the demo, not of
//! settings to set; `x` and `X` (demo only, shown in the footer and help)
//! end the session and make the site demand a CAPTCHA; the demo site's
//! knobs really do that; and stored demo cookies live as long as a demo
//! session.

use std::path::PathBuf;

use confluence_tui::confluence::client::Deployment;
use confluence_tui::credentials::CookieStatus;
use confluence_tui::demo::{
    CLOUD_SESSION_COOKIE, DEMO_SESSION_LIFETIME, DemoConfig, DemoData, DemoFaults, DemoFlavor,
    DemoServer,
};
use confluence_tui::session::{SessionState, Snapshot};
use confluence_tui::tui::app::{App, DemoChange, DemoKnob, Effect, Msg};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{Command, Event, Query, SettingsSource, SiteInfo, StoredInfo};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
const SITE: &str = "http://127.0.0.1:37887/wiki";
const LOGIN: &str = "http://127.0.0.1:37887/login";
/// What the worker says when nothing is stored (and the demo must not show).
const NO_CREDENTIALS: &str = "no credentials: set CONFLUENCE_USERNAME and CONFLUENCE_API_TOKEN (Cloud API token), or CONFLUENCE_API_TOKEN alone (Server/DC personal access token), or import browser cookies with `confluence-tui cookies import`";

fn demo_app() -> App {
    let session = SessionView::new(&SiteInfo {
        site: Some(SITE.into()),
        deployment: Some(Deployment::Cloud),
        login_page: Some(LOGIN.into()),
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-demo".into(),
        browser: None,
    });
    let mut app = App::new(session, NOW, Duration::minutes(5));
    app.demo = true;
    app
}

/// The demo's first answers: nothing stored, no credentials.
fn first_answers(app: &mut App) {
    app.update(Msg::Worker(Event::Stored(Box::new(StoredInfo {
        status: CookieStatus {
            site: None,
            other_sites: Vec::new(),
            cookies: None,
            token_stored: false,
            gateway: Vec::new(),
            session: None,
            vault_path: PathBuf::from("/tmp/demo/cookies/secure_cookies.enc"),
            vault_exists: false,
            machine_bound: None,
            passphrase_used: None,
            permission_warnings: vec![],
        },
        token_in_environment: false,
    }))));
    app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::NoCredentials {
            message: NO_CREDENTIALS.into(),
        },
    ))));
}

fn key(c: char) -> Msg {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Msg::Key(KeyEvent::new(KeyCode::Char(c), mods))
}

fn draw(app: &App, w: u16, h: u16, theme: Theme) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &theme))
        .unwrap();
    t
}

fn render(app: &App, w: u16, h: u16) -> String {
    draw(app, w, h, Theme::plain()).backend().to_string()
}

#[test]
fn the_demo_s_first_screen_speaks_of_the_demo_in_no_red() {
    let mut app = demo_app();
    first_answers(&mut app);
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("no credentials"), "{screen}");
    assert!(!screen.contains("CONFLUENCE_USERNAME"), "{screen}");
    assert!(screen.contains("Sign in to the demo"), "{screen}");
    assert!(screen.contains("Press o"), "{screen}");
    assert!(screen.contains("Press p"), "{screen}");
    assert!(
        screen.contains(LOGIN),
        "the login page to open by hand:\n{screen}"
    );
    insta::assert_snapshot!("demo_first_screen_80x24", screen);
    // In colour, nothing on the first screen is red: nothing is wrong yet.
    let t = draw(&app, 80, 24, Theme { color: true });
    let red: Vec<String> = t
        .backend()
        .buffer()
        .content()
        .iter()
        .filter(|c| matches!(c.fg, Color::Red | Color::LightRed) && !c.symbol().trim().is_empty())
        .map(|c| c.symbol().to_string())
        .collect();
    assert!(red.is_empty(), "red text on the first demo screen: {red:?}");
}

#[test]
fn outside_the_demo_the_same_answers_say_what_to_set() {
    let mut app = demo_app();
    app.demo = false;
    first_answers(&mut app);
    let screen = render(&app, 100, 30);
    assert!(screen.contains("no credentials"), "{screen}");
    assert!(!screen.contains("Sign in to the demo"), "{screen}");
}

#[test]
fn x_and_big_x_turn_the_demo_knobs_and_are_shown_only_in_the_demo() {
    let mut app = demo_app();
    first_answers(&mut app);
    let fx = app.update(key('x'));
    assert!(
        matches!(fx.as_slice(), [Effect::Demo(DemoKnob::EndSession)]),
        "{fx:?}"
    );
    let fx = app.update(key('X'));
    assert!(
        matches!(fx.as_slice(), [Effect::Demo(DemoKnob::ToggleCaptcha)]),
        "{fx:?}"
    );
    // The footer (wide enough) and the help list them, from the key table.
    let wide = render(&app, 160, 30);
    assert!(wide.contains("x end session"), "{wide}");
    assert!(wide.contains("X CAPTCHA"), "{wide}");
    app.update(key('?'));
    let help = render(&app, 100, 40);
    assert!(help.contains("end the browser session now"), "{help}");
    assert!(help.contains("demands a CAPTCHA"), "{help}");

    // Outside the demo the keys do nothing and are shown nowhere.
    let mut real = demo_app();
    real.demo = false;
    first_answers(&mut real);
    assert!(real.update(key('x')).is_empty());
    assert!(real.update(key('X')).is_empty());
    let wide = render(&real, 160, 30);
    assert!(!wide.contains("end session"), "{wide}");
    real.update(key('?'));
    let help = render(&real, 100, 40);
    assert!(!help.contains("demo:"), "{help}");
}

#[test]
fn a_turned_knob_is_said_and_checked_at_once() {
    let mut app = demo_app();
    first_answers(&mut app);
    for (change, words) in [
        (DemoChange::SessionEnded, "ended the session"),
        (DemoChange::Captcha(true), "demands a CAPTCHA"),
        (DemoChange::Captcha(false), "no longer demands a CAPTCHA"),
    ] {
        let fx = app.update(Msg::Demo(change));
        assert!(
            matches!(
                fx.as_slice(),
                [Effect::Worker(Command::Query(Query::VerifyAgain))]
            ),
            "{change:?}: {fx:?}"
        );
        let text = app
            .flash
            .as_ref()
            .map(|f| f.text.clone())
            .unwrap_or_default();
        assert!(text.contains(words), "{change:?}: {text}");
    }
}

#[test]
fn the_demo_s_expiry_guidance_speaks_of_the_demo() {
    let mut app = demo_app();
    first_answers(&mut app);
    app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Captcha {
            login_url: Some("http://127.0.0.1:37887/login.action".into()),
            status: Some(403),
        },
    ))));
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("Sign in on the demo login page"),
        "{screen}"
    );
    assert!(!screen.contains("Developer tools"), "{screen}");
}

/// A demo site on a runtime of its own, and a client that asks it who is
/// signed in with a cookie header.
struct Site {
    server: DemoServer,
    rt: tokio::runtime::Runtime,
}

impl Site {
    fn start() -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor: DemoFlavor::Cloud,
            data: DemoData {
                spaces: 3,
                pages_per_space: 2,
            },
            faults: DemoFaults::default(),
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, rt }
    }

    /// Status and `X-Authentication-Denied-Reason` of `user/current`.
    fn current_user(&self, cookie: &str) -> (u16, Option<String>) {
        let url = format!("{}/rest/api/user/current", self.server.base_url());
        let cookie = cookie.to_string();
        self.rt.block_on(async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("Cookie", cookie)
                .send()
                .await
                .unwrap();
            let reason = r
                .headers()
                .get("X-Authentication-Denied-Reason")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            (r.status().as_u16(), reason)
        })
    }
}

#[test]
fn the_demo_knobs_end_the_session_and_demand_a_captcha_on_the_site() {
    let site = Site::start();
    let control = site.server.control();
    let cookie = site.server.session_cookie_header();
    assert!(cookie.contains(CLOUD_SESSION_COOKIE));
    assert_eq!(site.current_user(&cookie).0, 200);

    // `x`: the session's cookies are refused from now on…
    control.end_session();
    assert_eq!(
        site.current_user(&cookie).0,
        401,
        "the ended session is refused"
    );
    // …and the login page hands out a fresh session that works.
    let fresh = site.server.session_cookie_header();
    assert_ne!(fresh, cookie);
    assert_eq!(site.current_user(&fresh).0, 200);

    // `X`: a CAPTCHA for every request, signed in or not; again: none.
    assert!(control.toggle_captcha());
    let (status, reason) = site.current_user(&fresh);
    assert_eq!(status, 403);
    assert!(
        reason.is_some_and(|r| r.starts_with("CAPTCHA_CHALLENGE")),
        "the CAPTCHA header"
    );
    assert!(!control.toggle_captcha());
    assert_eq!(site.current_user(&fresh).0, 200);
}

#[test]
fn demo_cookies_are_stored_for_as_long_as_a_demo_session_lives() {
    let vars = [
        ("CONFLUENCE_BASE_URL", SITE),
        ("CONFLUENCE_DATA_DIR", "/tmp/confluence-tui-demo-ttl"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = SettingsSource::Demo(vars).load().unwrap();
    assert_eq!(
        settings.cookie_ttl,
        Duration::try_from(DEMO_SESSION_LIFETIME).unwrap(),
        "not the 14 days a real site's cookies get"
    );
}

#[test]
fn ending_the_session_while_signed_in_with_a_token_only_says_so() {
    use confluence_tui::confluence::client::AuthMode;
    use confluence_tui::confluence::model::User;
    let mut app = demo_app();
    first_answers(&mut app);
    app.update(Msg::Worker(Event::Session(Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: "Demo User".into(),
            id: None,
            email: None,
        },
        AuthMode::Basic,
        "auto: a user name and an API token are set".into(),
        Deployment::Cloud,
    ))));
    let fx = app.update(Msg::Demo(DemoChange::SessionEnded));
    assert!(fx.is_empty(), "nothing to check: {fx:?}");
    let text = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert!(text.contains("token"), "{text}");
}
