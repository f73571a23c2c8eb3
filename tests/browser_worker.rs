//! The worker's browser jobs against a Firefox profile the test builds:
//! `ListBrowserProfiles` names the profile with the site's cookie count and
//! its session cookie (never a value); `ImportFromBrowser` stores exactly
//! the site's cookies once the site accepted them; while the session is
//! dead, the worker's session owner imports a fresh login from the
//! configured browser by itself, and only a session that differs from the
//! stored one and that the site accepts.
#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::browser::*;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::confluence::client::RetryPolicy;
use confluence_tui::demo::{
    CLOUD_SESSION_COOKIE, DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer,
};
use confluence_tui::session::{Cause, SessionState};
use confluence_tui::vault::MachineIdSource;
use confluence_tui::worker::{
    self, Command, Event, Mutation, MutationDone, Query, SettingsSource, WorkerHandle,
};

async fn cloud() -> DemoServer {
    let config = DemoConfig {
        flavor: DemoFlavor::Cloud,
        data: DemoData::default(),
        faults: DemoFaults::default(),
    };
    DemoServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The site's live cookies in the profile (the session cookie only in the
/// session store, as Firefox keeps it), plus other hosts' cookies.
fn firefox_profile(server: &DemoServer, profile: &Path, session_value: Option<&str>) {
    let host = "127.0.0.1";
    let mut db = vec![
        FixtureCookie::new("other.example.com", CLOUD_SESSION_COOKIE, "other-host"),
        FixtureCookie::new("127.0.0.2", "JSESSIONID", "other-ip"),
    ];
    let mut store = vec![FixtureCookie::session(
        "evil.example.net",
        CLOUD_SESSION_COOKIE,
        "other-host-store",
    )];
    for pair in server.session_cookie_header().split("; ") {
        let (name, value) = pair.split_once('=').unwrap();
        if name == CLOUD_SESSION_COOKIE {
            store.push(FixtureCookie::session(
                host,
                name,
                session_value.unwrap_or(value),
            ));
        } else {
            db.push(FixtureCookie::new(host, name, value));
        }
    }
    write_firefox_db(profile, &db, &[]);
    write_firefox_session_store(profile, &store);
}

fn worker(server: &DemoServer, data: &Path, profile: &Path) -> WorkerHandle {
    let vars: HashMap<String, String> = [
        ("CONFLUENCE_BASE_URL", server.base_url().to_string()),
        ("CONFLUENCE_DEPLOYMENT", "cloud".into()),
        ("CONFLUENCE_DATA_DIR", data.display().to_string()),
        ("CONFLUENCE_KDF_LOG_N", "10".into()),
        (
            "CONFLUENCE_BROWSER",
            format!("firefox:{}", profile.display()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = Settings::from_vars(&FlagOverrides::default(), &vars).unwrap();
    worker::spawn(
        settings,
        worker::WorkerOptions {
            source: SettingsSource::Vars(vars),
            machine_id: MachineIdSource::Fixed("browser-worker-test".into()),
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(10),
                max_delay: Duration::from_millis(20),
            },
            login_page: None,
            // The owner watches the configured browser (a long-running face).
            keep_alive: true,
        },
    )
}

/// The next event that `pick` takes, skipping others.
async fn next<T>(w: &mut WorkerHandle, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(20), w.events.recv())
            .await
            .expect("an event within 20 s")
            .expect("the worker is running");
        if let Some(t) = pick(ev) {
            return t;
        }
    }
}

#[tokio::test]
async fn the_worker_lists_a_firefox_profile_and_imports_exactly_the_sites_cookies() {
    let server = cloud().await;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("ff-profile");
    firefox_profile(&server, &profile, None);
    let live = server.session_cookie_header();
    let mut w = worker(&server, &dir.path().join("data"), &profile);

    w.commands
        .send(Command::Query(Query::ListBrowserProfiles))
        .unwrap();
    let list = next(&mut w, |ev| match ev {
        Event::BrowserProfiles(list) => Some(list),
        _ => None,
    })
    .await;
    let ours = list
        .iter()
        .find(|p| p.profile.dir == profile)
        .unwrap_or_else(|| panic!("the configured profile is listed: {list:?}"));
    let read = ours.read.as_ref().expect("the profile is readable");
    let site_names = live.split("; ").count();
    assert_eq!(read.names.len(), site_names, "{read:?}");
    assert_eq!(read.session_cookies, vec![CLOUD_SESSION_COOKIE.to_string()]);
    let shown = format!("{list:?}");
    for pair in live.split("; ") {
        let value = pair.split_once('=').unwrap().1;
        assert!(!shown.contains(value), "a value in the listing: {shown}");
    }

    w.commands
        .send(Command::Mutate(Mutation::ImportFromBrowser {
            profile: ours.profile.clone(),
        }))
        .unwrap();
    let report = next(&mut w, |ev| match ev {
        Event::Mutated { result, .. } => Some(result),
        _ => None,
    })
    .await
    .expect("imported");
    let MutationDone::CookiesImported(report) = report else {
        panic!("{report:?}");
    };
    assert_eq!(
        report.source,
        format!("browser:firefox:{}", profile.display())
    );
    // Accepted by the site before it was stored.
    let signed_in = w.sessions.borrow().clone().unwrap().snapshot();
    assert!(signed_in.is_signed_in(), "{signed_in:?}");
    w.commands.send(Command::Query(Query::Describe)).unwrap();
    let stored = next(&mut w, |ev| match ev {
        Event::Stored(info) => Some(info),
        _ => None,
    })
    .await;
    let mut names = stored.status.cookies.expect("cookies stored").names;
    names.sort();
    let mut want: Vec<String> = live
        .split("; ")
        .map(|p| p.split_once('=').unwrap().0.to_string())
        .collect();
    want.sort();
    assert_eq!(names, want, "exactly the site's cookies");

    // The site ends the session: the browser still holds the same dead
    // value, which is nothing new.
    server.control().end_session();
    w.commands.send(Command::Query(Query::VerifyAgain)).unwrap();
    let dead = next(&mut w, |ev| match ev {
        Event::Verified { snapshot, .. } => Some(snapshot),
        _ => None,
    })
    .await;
    assert!(
        matches!(dead.state, SessionState::Expired { .. }),
        "{dead:?}"
    );
    // A value the site never issued is no fresh login either: refused.
    firefox_profile(&server, &profile, Some("never-issued"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let still = w.sessions.borrow().clone().unwrap().snapshot();
    assert!(
        matches!(still.state, SessionState::Expired { .. }),
        "{still:?}"
    );
    // A real fresh login in the browser is picked up by itself.
    firefox_profile(&server, &profile, None);
    let picked = next(&mut w, |ev| match ev {
        Event::Session(s) if s.is_signed_in() => Some(s),
        _ => None,
    })
    .await;
    match &picked.cause {
        Cause::BrowserPickup {
            browser,
            profile: p,
        } => {
            assert_eq!(browser, "firefox");
            assert_eq!(p, &profile.display().to_string());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_profile_that_cannot_be_read_is_listed_with_why() {
    let server = cloud().await;
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("ff-profile");
    // A profile with cookies for other hosts only.
    write_firefox_db(
        &profile,
        &[FixtureCookie::new("other.example.com", "x", "y")],
        &[],
    );
    let mut w = worker(&server, &dir.path().join("data"), &profile);
    w.commands
        .send(Command::Query(Query::ListBrowserProfiles))
        .unwrap();
    let list = next(&mut w, |ev| match ev {
        Event::BrowserProfiles(list) => Some(list),
        _ => None,
    })
    .await;
    let ours = list.iter().find(|p| p.profile.dir == profile).unwrap();
    let problem = ours.read.as_ref().expect_err("nothing for the site");
    assert_eq!(problem.short, "no cookie for this site");
}
