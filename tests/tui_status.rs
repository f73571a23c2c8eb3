//! The app's `update()` and the status screen: keys and worker events in,
//! state and effects out; frames rendered on `TestBackend` and snapshotted.

use std::path::PathBuf;

use confluence_tui::confluence::client::{AuthMode, Deployment};
use confluence_tui::confluence::model::User;
use confluence_tui::cookies::jar::ExpiryState;
use confluence_tui::credentials::{CookieStatus, StoredCookieSummary};
use confluence_tui::exit::ErrorClass;
use confluence_tui::session::{NextCheck, SessionState, Snapshot};
use confluence_tui::tui::app::{App, Dialog, Effect, Msg, Screen, WatchedFile};
use confluence_tui::tui::session::{Badge, SessionView};
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{Command, Event, Query, QueryKind, SiteInfo, StoredInfo, WorkerError};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);

fn site_app() -> App {
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

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn stored(expires_in: Duration, state: ExpiryState) -> Event {
    Event::Stored(Box::new(StoredInfo {
        status: CookieStatus {
            site: None,
            other_sites: Vec::new(),
            cookies: Some(StoredCookieSummary {
                names: vec!["cloud.session.token".into(), "atlassian.xsrf.token".into()],
                session_cookies: vec!["cloud.session.token".into()],
                gateway_cookies: Vec::new(),
                source: "paste".into(),
                saved_at: NOW - Duration::days(1),
                expires_at: NOW + expires_in,
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
    }))
}

fn verified() -> Event {
    Event::Session(
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
    )
}

/// A command's name, without its arguments (generations, secrets).
fn command_name(c: &Command) -> String {
    match c {
        Command::Query(q) => match q {
            Query::Verify => "Verify",
            Query::VerifyAgain => "VerifyAgain",
            Query::Describe => "Describe",
            Query::ListSpaces { .. } => "ListSpaces",
            Query::ListPages { .. } => "ListPages",
            Query::ProbeSite { .. } => "ProbeSite",
            Query::ListBrowserProfiles => "ListBrowserProfiles",
        }
        .to_string(),
        Command::Mutate(m) => format!("{:?}", m.kind()),
        Command::Cancel(_) => "Cancel".to_string(),
    }
}

fn commands(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Worker(c) => command_name(c),
            other => format!("{other:?}")
                .split(['(', ' '])
                .next()
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t.backend().to_string()
}

#[test]
fn startup_describes_verifies_and_loads_the_audit_log() {
    assert_eq!(
        commands(&site_app().startup()),
        ["Describe", "Verify", "LoadAudit"]
    );
}

#[test]
fn global_keys_switch_screens_and_ask_the_worker() {
    let mut app = site_app();
    let fx = app.update(key('2'));
    assert_eq!(app.screen, Screen::Spaces);
    assert!(commands(&fx).contains(&"ListSpaces".to_string()), "{fx:?}");
    app.update(key('3'));
    assert_eq!(app.screen, Screen::Audit);
    app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    assert_eq!(app.screen, Screen::Pipeline);
    app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    assert_eq!(app.screen, Screen::Status);
    // `v` is a verification the user asked for: it asks the site even
    // after a CAPTCHA.
    assert_eq!(commands(&app.update(key('v'))), ["VerifyAgain"]);
    let fx = app.update(key('o'));
    assert!(
        matches!(&fx[..], [Effect::OpenUrl(u)] if u == "https://example.atlassian.net/login"),
        "{fx:?}"
    );
    let fx = app.update(key('p'));
    assert!(matches!(app.dialog, Some(Dialog::Paste(_))));
    assert_eq!(commands(&fx), ["ReadClipboard"]);
    app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert!(app.dialog.is_none());
    app.update(key('?'));
    assert!(matches!(app.dialog, Some(Dialog::Help(_))));
    app.update(key('x'));
    assert!(app.dialog.is_none());
    let fx = app.update(key('q'));
    assert!(app.quit && matches!(&fx[..], [Effect::Quit]));
}

#[test]
fn switching_to_the_status_screen_reads_nothing() {
    // The status view is the last `Describe` answer, kept current by the
    // vault watcher: `1` and Tab must not ask for another (scrypt).
    let mut app = site_app();
    app.update(key('3'));
    let by_key = app.update(key('1'));
    assert_eq!(app.screen, Screen::Status);
    assert!(commands(&by_key).is_empty(), "{by_key:?}");
    app.update(key('4'));
    let by_tab = app.update(Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)));
    assert_eq!(app.screen, Screen::Status);
    assert!(commands(&by_tab).is_empty(), "{by_tab:?}");
    // A change of the vault file does ask.
    let fx = app.update(Msg::FileChanged(WatchedFile::Vault));
    assert_eq!(commands(&fx), ["Describe"]);
}

#[test]
fn key_releases_are_ignored() {
    let mut app = site_app();
    let mut release = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
    release.kind = crossterm::event::KeyEventKind::Release;
    app.update(Msg::Key(release));
    assert!(!app.quit);
}

#[test]
fn clear_asks_first_and_only_y_clears() {
    let mut app = site_app();
    app.update(key('c'));
    assert!(matches!(app.dialog, Some(Dialog::ConfirmClear)));
    assert!(app.update(key('n')).is_empty());
    assert!(app.dialog.is_none());
    app.update(key('c'));
    assert_eq!(commands(&app.update(key('y'))), ["ClearCookies"]);
}

#[test]
fn token_dialog_masks_input_and_stores_on_enter() {
    let mut app = site_app();
    app.update(key('t'));
    assert!(
        app.text_focus(),
        "typing goes to the field, not global keys"
    );
    for c in "SENTINELtoken42q".chars() {
        assert!(app.update(key(c)).is_empty(), "q must type, not quit");
    }
    assert!(!app.quit);
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("SENTINEL"), "token is masked:\n{screen}");
    assert!(screen.contains("16 characters"));
    let fx = app.update(Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)));
    assert_eq!(commands(&fx), ["StoreToken"]);
    assert!(!format!("{fx:?}").contains("SENTINEL"));
}

#[test]
fn expiry_and_captcha_switch_to_status_with_the_reason() {
    let mut app = site_app();
    app.update(Msg::Worker(verified()));
    app.update(key('2'));
    let fx = app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Expired {
            reason: "the site answered 401 Unauthorized".into(),
            status: Some(401),
        },
    ))));
    assert_eq!(app.screen, Screen::Status);
    assert_eq!(app.session.badge(NOW), Badge::Expired);
    assert_eq!(commands(&fx), ["Bell", "Describe"], "the bell rings once");
    // The keep-alive's next answer says the same: no bell, no screen switch.
    app.update(key('3'));
    let fx = app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Expired {
            reason: "the site answered 401 Unauthorized".into(),
            status: Some(401),
        },
    ))));
    assert!(fx.is_empty(), "{fx:?}");
    assert_eq!(app.screen, Screen::Audit, "the user stays where they are");
    app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Captcha {
            login_url: Some("https://example.atlassian.net/login.action".into()),
            status: Some(403),
        },
    ))));
    assert_eq!(app.screen, Screen::Status);
    assert_eq!(app.session.badge(NOW), Badge::Captcha);
    let fx = app.update(key('o'));
    assert!(
        matches!(&fx[..], [Effect::OpenUrl(u)] if u.ends_with("/login.action")),
        "o opens the CAPTCHA's login URL"
    );
}

#[test]
fn starting_on_a_dead_session_shows_it_without_the_bell_and_a_later_death_rings() {
    // The user who just started the app is looking at it: the first answer
    // switches nothing and rings nothing, it is simply shown.
    let mut app = site_app();
    let expired = || {
        Event::Session(Snapshot::in_state(SessionState::Expired {
            reason: "the site answered 401 Unauthorized".into(),
            status: Some(401),
        }))
    };
    let fx = app.update(Msg::Worker(expired()));
    assert_eq!(app.session.badge(NOW), Badge::Expired);
    assert_eq!(commands(&fx), ["Describe"], "no bell at start: {fx:?}");
    // Fresh cookies, signed in, then the session dies while the app runs.
    app.update(Msg::Worker(verified()));
    let fx = app.update(Msg::Worker(expired()));
    assert_eq!(
        commands(&fx),
        ["Bell", "Describe"],
        "a death seen live rings"
    );
    // A CAPTCHA after the death is another state the user must act on.
    let fx = app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Captcha {
            login_url: None,
            status: Some(403),
        },
    ))));
    assert_eq!(commands(&fx), ["Bell", "Describe"]);
}

#[test]
fn verification_updates_header_and_starts_the_space_listing_once() {
    let mut app = site_app();
    assert_eq!(app.session.badge(NOW), Badge::Checking);
    let fx = app.update(Msg::Worker(verified()));
    assert_eq!(app.session.badge(NOW), Badge::SignedIn);
    assert!(commands(&fx).contains(&"ListSpaces".to_string()));
    let fx = app.update(Msg::Worker(verified()));
    assert!(
        !commands(&fx).contains(&"ListSpaces".to_string()),
        "already loading"
    );
    // The session's cookies near their end: the same snapshot says so.
    let Event::Session(soon) = verified() else {
        unreachable!()
    };
    app.update(Msg::Worker(Event::Session(
        soon.expiring_at(Some(NOW + Duration::hours(3))),
    )));
    assert_eq!(app.session.badge(NOW), Badge::ExpiresSoon);
}

#[test]
fn errors_show_in_the_message_line() {
    let mut app = site_app();
    app.update(Msg::Worker(Event::Failed {
        query: QueryKind::Describe,
        error: WorkerError::new(
            ErrorClass::Network,
            "network error talking to example.atlassian.net: could not connect",
        ),
    }));
    assert!(render(&app, 100, 24).contains("could not connect"));
}

#[test]
fn snapshot_not_configured() {
    let app = App::new(
        SessionView::new(&SiteInfo {
            site: None,
            deployment: None,
            login_page: None,
            env_file: PathBuf::from(".env"),
            data_dir: "/tmp/confluence-tui-test".into(),
            browser: None,
        }),
        NOW,
        Duration::days(14),
    );
    insta::assert_snapshot!("status_not_configured_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("status_not_configured_120x40", render(&app, 120, 40));
}

#[test]
fn snapshot_signed_in() {
    let mut app = site_app();
    app.update(Msg::Worker(stored(
        Duration::days(13),
        ExpiryState::Valid {
            left: Duration::days(13),
        },
    )));
    app.update(Msg::Worker(verified()));
    app.flash = None;
    insta::assert_snapshot!("status_signed_in_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("status_signed_in_120x40", render(&app, 120, 40));
}

#[test]
fn snapshot_expired_with_guidance() {
    let mut app = site_app();
    app.update(Msg::Worker(stored(
        Duration::days(13),
        ExpiryState::MarkedExpired {
            reason: "the site answered 401 Unauthorized".into(),
        },
    )));
    app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Expired {
            reason: "the site answered 401 Unauthorized".into(),
            status: Some(401),
        },
    ))));
    insta::assert_snapshot!("status_expired_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("status_expired_120x40", render(&app, 120, 40));
}

#[test]
fn snapshot_captcha() {
    let mut app = site_app();
    app.update(Msg::Worker(stored(
        Duration::days(13),
        ExpiryState::MarkedExpired {
            reason: "CAPTCHA challenge".into(),
        },
    )));
    app.update(Msg::Worker(Event::Session(Snapshot::in_state(
        SessionState::Captcha {
            login_url: Some("https://example.atlassian.net/login.action".into()),
            status: Some(403),
        },
    ))));
    insta::assert_snapshot!("status_captcha_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("status_captcha_120x40", render(&app, 120, 40));
}

/// What the vault holds behind an F5 gateway: its cookie and a token, a
/// stored gateway header and a client certificate.
fn stored_behind_a_gateway() -> Event {
    let Event::Stored(mut info) = stored(
        Duration::days(13),
        ExpiryState::Valid {
            left: Duration::days(13),
        },
    ) else {
        unreachable!()
    };
    let cookies = info.status.cookies.as_mut().unwrap();
    cookies.names = vec!["MRHSession".into(), "LastMRH_Session".into()];
    cookies.session_cookies = Vec::new();
    cookies.gateway_cookies = cookies.names.clone();
    info.status.token_stored = true;
    info.status.gateway = vec!["X-Edge-Key".into(), "cert".into()];
    Event::Stored(info)
}

#[test]
fn snapshot_gateway_sign_in() {
    let mut app = site_app();
    app.update(Msg::Worker(stored_behind_a_gateway()));
    let mut snapshot = Snapshot::in_state(SessionState::Gateway {
        gateway: confluence_tui::confluence::classify::Gateway::F5,
        login_url: Some("https://example.atlassian.net/my.policy".into()),
        status: Some(302),
    });
    snapshot.trusted_by = Some(confluence_tui::confluence::client::TrustedBy::Bundle);
    app.update(Msg::Worker(Event::Session(snapshot)));
    assert_eq!(app.session.badge(NOW), Badge::GatewaySignIn);
    // `o` opens the gateway's own sign-in.
    assert_eq!(
        app.session.login_url().as_deref(),
        Some("https://example.atlassian.net/my.policy")
    );
    let frame = render(&app, 120, 40);
    assert!(frame.contains("GATEWAY SIGN-IN"), "{frame}");
    assert!(
        frame.contains("Confluence's own cookies and token are kept"),
        "{frame}"
    );
    assert!(!frame.contains("Session expired"), "{frame}");
    insta::assert_snapshot!("status_gateway_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("status_gateway_120x40", frame);
}

#[test]
fn the_card_names_the_roots_and_what_the_gateway_gets() {
    let mut app = site_app();
    app.update(Msg::Worker(stored_behind_a_gateway()));
    let mut snapshot = Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: "Dana Analyst".into(),
            id: Some("5b10".into()),
            email: None,
        },
        AuthMode::Bearer,
        "auto: a token without a user name is sent as a personal access token".into(),
        Deployment::Server,
    );
    snapshot.trusted_by = Some(confluence_tui::confluence::client::TrustedBy::System);
    app.update(Msg::Worker(Event::Session(snapshot)));
    let frame = render(&app, 120, 40);
    assert!(
        frame.contains(
            "Gateway  header X-Edge-Key · client certificate · cookie MRHSession, LastMRH_Session"
        ),
        "{frame}"
    );
    assert!(
        frame.contains("TLS      verified by the system's trusted roots"),
        "{frame}"
    );
}

#[test]
fn snapshot_help_and_token_dialog() {
    let mut app = site_app();
    app.update(key('?'));
    insta::assert_snapshot!("help_80x24", render(&app, 80, 24));
    app.update(key('x'));
    app.update(key('t'));
    for c in "SENTINELtoken".chars() {
        app.update(key(c));
    }
    let frame = render(&app, 80, 24);
    assert!(!frame.contains("SENTINEL"));
    insta::assert_snapshot!("token_dialog_80x24", frame);
    insta::assert_snapshot!("token_dialog_120x40", render(&app, 120, 40));
}

fn expired_now() -> Snapshot {
    Snapshot::in_state(SessionState::Expired {
        reason: "the site answered 401 Unauthorized".into(),
        status: Some(401),
    })
}

fn answered(snapshot: Snapshot) -> Msg {
    Msg::Worker(Event::Verified {
        snapshot,
        problem: None,
    })
}

#[test]
fn v_asks_in_every_state_and_always_ends_in_one() {
    let mut app = site_app();
    app.update(Msg::Worker(Event::Session(expired_now())));
    let fx = app.update(key('v'));
    assert!(commands(&fx).contains(&"VerifyAgain".to_string()), "{fx:?}");
    assert_eq!(app.flash.as_ref().unwrap().text, "Verifying…");
    // Still refused: said so, never "Verifying…" forever.
    app.update(answered(expired_now()));
    let said = &app.flash.as_ref().unwrap().text;
    assert!(said.starts_with("Still expired"), "{said}");
    assert_eq!(app.session.badge(NOW), Badge::Expired);
    // The site takes the session again: signed in.
    app.update(key('v'));
    let Event::Session(back) = verified() else {
        unreachable!()
    };
    app.update(answered(back));
    assert_eq!(
        app.flash.as_ref().unwrap().text,
        "Signed in as Dana Analyst"
    );
    assert_eq!(app.session.badge(NOW), Badge::SignedIn);
    // A CAPTCHA asked about again: still one, said so.
    let captcha = || {
        Snapshot::in_state(SessionState::Captcha {
            login_url: None,
            status: Some(403),
        })
    };
    app.update(Msg::Worker(Event::Session(captcha())));
    app.update(key('v'));
    app.update(answered(captcha()));
    let said = &app.flash.as_ref().unwrap().text;
    assert!(said.starts_with("Still a CAPTCHA"), "{said}");
}

#[test]
fn a_site_that_does_not_answer_is_unreachable_not_signed_out() {
    let mut app = site_app();
    app.update(Msg::Worker(verified()));
    let gone = Snapshot {
        next_check: NextCheck::At(NOW + Duration::minutes(20)),
        ..Snapshot::in_state(SessionState::Unreachable {
            reason: "network error talking to example.atlassian.net: could not connect".into(),
        })
    };
    app.update(Msg::Worker(Event::Session(gone)));
    assert_eq!(app.session.badge(NOW), Badge::Unreachable);
    let frame = render(&app, 100, 30);
    assert!(frame.contains("UNREACHABLE"), "{frame}");
    assert!(
        frame.contains("the site does not answer · next check in 20 min"),
        "{frame}"
    );
    assert!(!frame.contains("NOT SIGNED IN"), "{frame}");
}
