//! The Pipeline screen: keys and proxy messages in, state and effects out;
//! the token stays masked on screen, out of `Debug` and out of the message
//! line; frames rendered on `TestBackend` and snapshotted.

use std::path::PathBuf;

use confluence_tui::confluence::client::{AuthMode, Deployment};
use confluence_tui::confluence::model::User;
use confluence_tui::proxy::{ProxyToken, RequestRecord, TrafficTotals};
use confluence_tui::secret::ExposeSecret;
use confluence_tui::session::{SessionState, Snapshot};
use confluence_tui::tui::app::{App, Clip, Effect, Msg, Screen};
use confluence_tui::tui::screens::pipeline::{LOG_CAPACITY, ProxyInfo, ProxyMsg, Serving};
use confluence_tui::tui::session::SessionView;
use confluence_tui::tui::theme::Theme;
use confluence_tui::tui::view;
use confluence_tui::worker::{Event, SiteInfo};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
const PROXY_URL: &str = "http://127.0.0.1:41234/wiki";

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

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn ctrl_r() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL))
}

fn verified() -> Msg {
    Msg::Worker(Event::Session(Snapshot::signed_in(
        User {
            kind: "known".into(),
            display_name: "Dana Analyst".into(),
            id: Some("5b10".into()),
            email: None,
        },
        AuthMode::Cookie,
        "auto: unexpired browser cookies are stored".into(),
        Deployment::Cloud,
    )))
}

/// A proxy token: random, 43 characters; the tests look for its value.
fn token() -> ProxyToken {
    ProxyToken::generate().unwrap()
}

fn started(token: &ProxyToken) -> Msg {
    Msg::Proxy(ProxyMsg::Started(ProxyInfo {
        base_url: PROXY_URL.into(),
        username: "confluence-tui".into(),
        token: token.clone(),
    }))
}

fn record(
    secs_ago: i64,
    method: &str,
    path: &str,
    status: u16,
    ms: u64,
    bytes: u64,
) -> RequestRecord {
    RequestRecord {
        at: NOW - Duration::seconds(secs_ago),
        method: method.into(),
        path: path.into(),
        status,
        duration: std::time::Duration::from_millis(ms),
        bytes,
        complete: true,
        client: None,
    }
}

fn traffic() -> Msg {
    let mut cut = record(
        20,
        "GET",
        "/wiki/download/attachments/98001/report.pdf",
        200,
        2300,
        3_500_000,
    );
    cut.complete = false;
    // A named client's request shows its name (`proxy clients add`).
    let mut named = record(95, "GET", "/wiki/api/v2/spaces", 200, 118, 48_213);
    named.client = Some("onyx".into());
    Msg::Proxy(ProxyMsg::Traffic {
        records: vec![
            record(300, "GET", "/wiki/rest/api/user/current", 200, 42, 512),
            named,
            record(50, "POST", "/wiki/rest/api/content", 405, 1, 96),
            record(40, "GET", "/wiki/rest/api/space/ENG/content", 401, 3, 120),
            cut,
            record(5, "GET", "/wiki/rest/api/content/98001", 502, 30_012, 88),
        ],
        totals: TrafficTotals {
            requests: 6,
            refused: 1,
            failed: 1,
            bytes: 3_549_029,
            // Workers waiting for their turn while the site's pause lasts.
            queued: 3,
            paused_until: Some(NOW + Duration::seconds(30)),
        },
    })
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(app, f.area(), f.buffer_mut(), &Theme::plain()))
        .unwrap();
    t.backend().to_string()
}

/// An app on the Pipeline screen with the proxy running.
fn serving(token: &ProxyToken) -> App {
    let mut app = app();
    app.update(verified());
    app.update(key('4'));
    assert_eq!(app.update(key('s')).len(), 1);
    app.update(started(token));
    app
}

fn assert_hidden(what: &str, text: &str, token: &ProxyToken) {
    assert!(
        !text.contains(token.expose_secret()),
        "{what} shows the proxy token:\n{text}"
    );
}

#[test]
fn four_shows_the_pipeline_screen_and_tab_goes_through_it() {
    let mut app = app();
    let fx = app.update(key('4'));
    assert_eq!(app.screen, Screen::Pipeline);
    assert!(fx.is_empty(), "showing the screen starts nothing: {fx:?}");
    let tab = || Msg::Key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    app.update(key('3'));
    app.update(tab());
    assert_eq!(
        app.screen,
        Screen::Pipeline,
        "Status → Spaces → Audit → Pipeline"
    );
    app.update(tab());
    assert_eq!(app.screen, Screen::Status);
    let frame = render(&app, 100, 30);
    assert!(
        frame.contains("4 Pipeline"),
        "the header has the tab:\n{frame}"
    );
}

#[test]
fn s_starts_the_proxy_and_stops_it() {
    let token = token();
    let mut app = app();
    app.update(key('4'));
    let fx = app.update(key('s'));
    assert!(matches!(fx.as_slice(), [Effect::StartProxy]), "{fx:?}");
    assert!(matches!(app.pipeline.serving(), Serving::Starting));
    assert!(
        app.update(key('s')).is_empty(),
        "no second start while starting"
    );
    app.update(started(&token));
    assert!(matches!(app.pipeline.serving(), Serving::Running(_)));
    assert!(render(&app, 80, 24).contains(PROXY_URL));
    let fx = app.update(key('s'));
    assert!(matches!(fx.as_slice(), [Effect::StopProxy]), "{fx:?}");
    app.update(Msg::Proxy(ProxyMsg::Stopped(None)));
    assert!(matches!(app.pipeline.serving(), Serving::Off));
    assert!(render(&app, 80, 24).contains("The proxy is not running"));
    // Stopped by the user: a later sign-in does not start it again.
    assert!(
        app.update(verified())
            .iter()
            .all(|e| !matches!(e, Effect::StartProxy))
    );
}

#[test]
fn serve_waits_for_a_session_after_a_failed_start() {
    let mut app = app();
    let fx = app.serve();
    assert!(matches!(fx.as_slice(), [Effect::StartProxy]), "{fx:?}");
    let why = "The proxy waits for a session to hand out: paste browser cookies (p)";
    app.update(Msg::Proxy(ProxyMsg::Failed(why.into())));
    assert!(matches!(app.pipeline.serving(), Serving::Off));
    assert_eq!(app.flash.as_ref().map(|f| f.text.as_str()), Some(why));
    app.update(key('4'));
    assert!(render(&app, 100, 30).contains("paste browser cookies (p)"));
    // Signed in (the demo's paste): it starts by itself.
    let fx = app.update(verified());
    assert!(fx.iter().any(|e| matches!(e, Effect::StartProxy)), "{fx:?}");
}

#[test]
fn y_copies_the_environment_lines_with_the_real_token_and_says_so_without_it() {
    let token = token();
    let mut app = serving(&token);
    let fx = app.update(key('y'));
    let [Effect::CopyToClipboard(clip)] = fx.as_slice() else {
        panic!("{fx:?}")
    };
    let Clip::Secret { text, .. } = clip else {
        panic!("the lines are a secret: {clip:?}")
    };
    assert_eq!(
        text.expose_secret(),
        format!(
            "CONFLUENCE_BASE_URL={PROXY_URL}\nCONFLUENCE_AUTH=basic\nCONFLUENCE_USERNAME=confluence-tui\nCONFLUENCE_API_TOKEN={}",
            token.expose_secret()
        )
    );
    assert_hidden("the effects' Debug", &format!("{fx:?}"), &token);
    let copied = Msg::Copied {
        shown: clip.shown(),
        secret: clip.is_secret(),
        result: Ok(()),
    };
    assert_hidden("the message's Debug", &format!("{copied:?}"), &token);
    app.update(copied);
    let flash = app
        .flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default();
    assert_eq!(
        flash,
        "Copied the environment lines (the token is a secret)"
    );
    let frame = render(&app, 120, 40);
    assert!(frame.contains("Copied the environment lines"), "{frame}");
    assert_hidden("the frame after y", &frame, &token);
    // No clipboard (SSH): the message says how to copy by hand, not the token.
    app.update(Msg::Copied {
        shown: clip.shown(),
        secret: true,
        result: Err(confluence_tui::tui::clipboard::ClipboardProblem::NoDisplay),
    });
    assert_hidden("the no-clipboard message", &render(&app, 120, 40), &token);
    assert_hidden("the app's Debug", &format!("{app:?}"), &token);
}

#[test]
fn y_without_a_proxy_copies_nothing() {
    let mut app = app();
    app.update(key('4'));
    assert!(app.update(key('y')).is_empty());
    assert!(app.flash.is_some());
}

#[test]
fn ctrl_r_reveals_the_token_and_hides_it_again() {
    let token = token();
    let mut app = serving(&token);
    app.update(traffic());
    for (w, h) in [(80, 24), (120, 40)] {
        let frame = render(&app, w, h);
        assert!(frame.contains("CONFLUENCE_API_TOKEN=••••••••"), "{frame}");
        assert_hidden("the masked frame", &frame, &token);
    }
    app.update(ctrl_r());
    assert!(app.pipeline.revealed());
    let frame = render(&app, 100, 30);
    assert!(
        frame.contains(&format!("CONFLUENCE_API_TOKEN={}", token.expose_secret())),
        "{frame}"
    );
    assert_hidden(
        "the app's Debug while revealed",
        &format!("{app:?}"),
        &token,
    );
    app.update(ctrl_r());
    assert_hidden("the frame hidden again", &render(&app, 100, 30), &token);
    // A stop forgets the reveal.
    app.update(ctrl_r());
    app.update(key('s'));
    app.update(Msg::Proxy(ProxyMsg::Stopped(None)));
    assert!(!app.pipeline.revealed());
}

/// What the proxy's requests learn is the session owner's, which the app
/// hears from its worker like any change.
fn seen(info: Snapshot) -> Msg {
    Msg::Worker(Event::Session(info))
}

#[test]
fn a_death_the_proxy_sees_switches_to_status_and_rings_once() {
    let token = token();
    let mut app = serving(&token);
    assert_eq!(app.screen, Screen::Pipeline);
    let dead = || {
        seen(Snapshot::in_state(SessionState::Expired {
            reason: "the site answered 401".into(),
            status: Some(401),
        }))
    };
    let fx = app.update(dead());
    assert_eq!(app.screen, Screen::Status);
    assert_eq!(
        fx.iter().filter(|e| matches!(e, Effect::Bell)).count(),
        1,
        "{fx:?}"
    );
    let frame = render(&app, 100, 30);
    assert!(frame.contains("EXPIRED"), "{frame}");
    assert!(frame.contains("Get fresh cookies"), "{frame}");
    // Seen again (or by the app's own worker): no news, no bell.
    app.update(key('4'));
    let fx = app.update(dead());
    assert!(!fx.iter().any(|e| matches!(e, Effect::Bell)), "{fx:?}");
    assert_eq!(
        app.screen,
        Screen::Pipeline,
        "an old death does not move the user"
    );
    // The proxy keeps running through a death: it answers 401 until
    // fresh cookies are stored.
    assert!(matches!(app.pipeline.serving(), Serving::Running(_)));
}

#[test]
fn a_captcha_the_proxy_sees_switches_to_status_with_the_login_url() {
    let token = token();
    let mut app = serving(&token);
    let fx = app.update(seen(Snapshot::in_state(SessionState::Captcha {
        login_url: Some("https://example.atlassian.net/login.action".into()),
        status: Some(403),
    })));
    assert_eq!(app.screen, Screen::Status);
    assert_eq!(fx.iter().filter(|e| matches!(e, Effect::Bell)).count(), 1);
    let frame = render(&app, 120, 40);
    assert!(frame.contains("CAPTCHA (HTTP 403)"), "{frame}");
    // A later state that needs nothing of the app asks nothing.
    let fx = app.update(seen(Snapshot::in_state(SessionState::NoCredentials {
        message: "nothing".into(),
    })));
    assert!(fx.is_empty(), "{fx:?}");
}

#[test]
fn the_log_is_newest_first_filterable_and_keeps_the_newest_thousand() {
    let token = token();
    let mut app = serving(&token);
    app.update(traffic());
    let frame = render(&app, 120, 40);
    let first = frame.find("/wiki/rest/api/content/98001").unwrap();
    let last = frame.find("/wiki/rest/api/user/current").unwrap();
    assert!(first < last, "newest first:\n{frame}");
    assert!(
        frame.contains("6 requests · 1 refused · 1 failed · 3.4 MiB sent · 4/min"),
        "{frame}"
    );
    app.update(key('/'));
    assert!(app.text_focus());
    for c in "405".chars() {
        app.update(key(c));
    }
    assert_eq!(app.pipeline.visible_len(), 1);
    app.update(Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)));
    assert_eq!(app.pipeline.visible_len(), 6);
    let many: Vec<RequestRecord> = (0..1500)
        .map(|i| record(0, "GET", &format!("/wiki/rest/api/content/{i}"), 200, 5, 10))
        .collect();
    app.update(Msg::Proxy(ProxyMsg::Traffic {
        records: many,
        totals: TrafficTotals {
            requests: 1506,
            ..TrafficTotals::default()
        },
    }));
    let kept: Vec<_> = app.pipeline.records().collect();
    assert_eq!(kept.len(), LOG_CAPACITY);
    assert_eq!(kept.last().unwrap().path, "/wiki/rest/api/content/1499");
    assert_eq!(kept.first().unwrap().path, "/wiki/rest/api/content/500");
    assert!(render(&app, 80, 24).contains("1506 requests"));
}

#[test]
fn a_hostile_path_is_escaped_on_screen() {
    let token = token();
    let mut app = serving(&token);
    app.update(Msg::Proxy(ProxyMsg::Traffic {
        records: vec![record(1, "GET", "/wiki/\u{1b}[2Jcleared\u{7}", 404, 2, 0)],
        totals: TrafficTotals::default(),
    }));
    let frame = render(&app, 120, 40);
    assert!(
        !frame.contains('\u{1b}') && !frame.contains('\u{7}'),
        "{frame:?}"
    );
    assert!(frame.contains("cleared"), "{frame}");
}

#[test]
fn the_rate_wakes_the_app_only_when_a_request_leaves_the_minute() {
    let token = token();
    let mut app = serving(&token);
    assert_eq!(
        app.pipeline.next_rate_change(NOW),
        None,
        "idle: nothing to wake for"
    );
    app.update(traffic());
    // The oldest request inside the minute arrived 50 s ago: 10 s to go.
    let wait = app.pipeline.next_rate_change(NOW).unwrap();
    assert!(
        wait >= std::time::Duration::from_secs(10) && wait < std::time::Duration::from_secs(11),
        "{wait:?}"
    );
    assert_eq!(app.pipeline.recent_rate(NOW + Duration::seconds(11)), 3);
}

#[test]
fn snapshot_not_serving() {
    let mut app = app();
    app.update(verified());
    app.update(key('4'));
    insta::assert_snapshot!("pipeline_not_serving_80x24", render(&app, 80, 24));
    insta::assert_snapshot!("pipeline_not_serving_120x40", render(&app, 120, 40));
}

#[test]
fn snapshot_serving_with_requests_token_masked() {
    let token = token();
    let mut app = serving(&token);
    app.update(traffic());
    app.flash = None;
    let small = render(&app, 80, 24);
    let large = render(&app, 120, 40);
    assert_hidden("the 80×24 frame", &small, &token);
    assert_hidden("the 120×40 frame", &large, &token);
    insta::assert_snapshot!("pipeline_serving_80x24", small);
    insta::assert_snapshot!("pipeline_serving_120x40", large);
}

#[test]
fn request_times_are_local_and_the_zone_is_named() {
    let token = token();
    let mut app = serving(&token);
    app.pipeline
        .set_time_offset(time::UtcOffset::from_hms(5, 30, 0).unwrap());
    app.update(traffic());
    let text = render(&app, 120, 40);
    assert!(text.contains("newest first · times +05:30"), "{text}");
    // NOW is 12:00 UTC: the newest request, 5 s before, is 17:29:55 there.
    assert!(text.contains("17:29:55"), "{text}");
}

fn site_event(site: &str) -> Msg {
    Msg::Worker(Event::Site(SiteInfo {
        site: Some(site.into()),
        deployment: Some(Deployment::Cloud),
        login_page: None,
        env_file: PathBuf::from(".env"),
        data_dir: "/tmp/confluence-tui-test".into(),
        browser: None,
    }))
}

fn has(effects: &[Effect], want: fn(&Effect) -> bool) -> bool {
    effects.iter().any(want)
}

/// A reload that names another site: the running proxy (which forwards
/// to the site it started for) stops, and starts again once the new
/// site's session is signed in, whichever of the two comes first.
#[test]
fn a_change_of_site_stops_the_proxy_and_starts_it_again_once_signed_in_there() {
    let token = token();
    for verified_first in [false, true] {
        let mut app = serving(&token);
        // A reload that keeps the site changes nothing.
        let same = app.update(site_event("https://example.atlassian.net/wiki"));
        assert!(!has(&same, |e| matches!(e, Effect::StopProxy)), "{same:?}");

        let other = app.update(site_event("https://other.atlassian.net/wiki"));
        assert!(has(&other, |e| matches!(e, Effect::StopProxy)), "{other:?}");
        assert!(
            app.flash
                .as_ref()
                .is_some_and(|f| f.text.contains("The site changed")),
            "{:?}",
            app.flash
        );
        let (first, second) = if verified_first {
            (verified(), Msg::Proxy(ProxyMsg::Stopped(None)))
        } else {
            (Msg::Proxy(ProxyMsg::Stopped(None)), verified())
        };
        let before = app.update(first);
        assert!(
            !has(&before, |e| matches!(e, Effect::StartProxy)),
            "not while stopping or signed out: {before:?}"
        );
        let after = app.update(second);
        assert!(
            has(&after, |e| matches!(e, Effect::StartProxy)),
            "verified_first={verified_first}: {after:?}"
        );
    }
}
