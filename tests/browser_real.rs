//! Real browsers store the demo site's session themselves, and
//! `cookies import --from-browser` reads it back: Chromium (headless, basic
//! password store, closed over the DevTools pipe so its database is
//! complete) and Firefox (headless, imported while it still runs).
//! A second demo site on another host name (`localhost`) is visited too:
//! its cookies must not be taken. Skipped only when a browser is not
//! installed and `CI` is unset (`.ci/run` installs both).
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::browser::import_from_browser;
use common::site::Site;
use common::watch::Watch;
use common::*;
use confluence_tui::demo::PathKind;
use serde_json::Value;

/// How long a browser gets to start, load both pages and save.
const BROWSER_PATIENCE: Duration = Duration::from_secs(90);

fn have(program: &str) -> bool {
    if Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install {program} (.ci/run does)"
    );
    eprintln!("skipped: {program} is not installed");
    false
}

fn live(site: &Site) -> BTreeMap<String, String> {
    site.server
        .session_cookie_header()
        .split("; ")
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap();
            (n.to_string(), v.to_string())
        })
        .collect()
}

fn exported(site: &Site, sb: &Sandbox) -> BTreeMap<String, String> {
    let out = site
        .cmd(sb)
        .args(["cookies", "export", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The URLs the browser opens: the site's sign-in (on 127.0.0.1) and the
/// other site's (on `localhost`, another cookie host).
fn sign_in_urls(site: &Site, other: &Site) -> [String; 2] {
    [
        format!(
            "http://127.0.0.1:{}/login?demo=1",
            site.server.addr().port()
        ),
        format!(
            "http://localhost:{}/login?demo=1",
            other.server.addr().port()
        ),
    ]
}

/// Waits until both sites served their sign-in and the page after it.
fn wait_for_sign_ins(site: &Site, other: &Site, browser: &mut Child) {
    wait_for_logins(site, 2, browser);
    wait_for_logins(other, 2, browser);
}

/// Waits until the site counted `count` login requests (a `?demo=1`
/// sign-in is two: the sign-in and the login page it sends the browser to).
fn wait_for_logins(site: &Site, count: u64, browser: &mut Child) {
    let start = Instant::now();
    while site.server.request_count_for(PathKind::Login) < count {
        if let Some(status) = browser.try_wait().unwrap() {
            panic!("the browser ended early: {status}");
        }
        assert!(
            start.elapsed() < BROWSER_PATIENCE,
            "the browser did not sign in"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills a browser left running by a failed test.
struct Reaper(Option<Child>);

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn chromium_stores_the_demo_session_and_import_reads_exactly_it() {
    if !have("chromium") {
        return;
    }
    let site = Site::server_dc();
    let other = Site::server_dc();
    let sb = Sandbox::new();
    let user_data: PathBuf = sb.dir.path().join("chromium-data");
    std::fs::create_dir_all(&user_data).unwrap();
    let [url, other_url] = sign_in_urls(&site, &other);
    // The DevTools pipe is fd 3 (commands in) and fd 4 (answers out).
    let script = r#"exec "$@" 3<&0 4>&1 0</dev/null 1>/dev/null"#;
    let child = Command::new("sh")
        .args(["-c", script, "sh", "chromium"])
        .args([
            "--headless=new",
            "--no-sandbox",
            "--password-store=basic",
            "--remote-debugging-pipe",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--disable-extensions",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--metrics-recording-only",
            "--disable-breakpad",
            "--disable-features=Translate,MediaRouter,OptimizationHints",
        ])
        .arg(format!("--user-data-dir={}", user_data.display()))
        // Headless Chromium takes one URL; the other site is opened over
        // the pipe.
        .arg(&url)
        .env("HOME", sb.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reaper = Reaper(Some(child));
    let browser = reaper.0.as_mut().unwrap();
    // Answers are read (and dropped) so the browser never blocks on them.
    let answers = browser.stdout.take().unwrap();
    std::thread::spawn(move || std::io::copy(&mut { answers }, &mut std::io::sink()));
    let mut pipe = browser.stdin.take().unwrap();
    let mut send = |message: Value| {
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        pipe.write_all(&bytes).unwrap();
        pipe.flush().unwrap();
    };
    send(serde_json::json!({
        "id": 1, "method": "Target.createTarget", "params": {"url": other_url}
    }));
    wait_for_sign_ins(&site, &other, browser);
    // A moment for the cookies to reach the store, then a clean close: the
    // database is complete after Browser.close, not after SIGTERM.
    std::thread::sleep(Duration::from_secs(1));
    send(serde_json::json!({"id": 2, "method": "Browser.close"}));
    assert!(
        wait_exit(browser, BROWSER_PATIENCE),
        "Browser.close ended it"
    );
    // What the browser stored: both hosts' sessions, as `v10` values.
    let db = [
        user_data.join("Default/Network/Cookies"),
        user_data.join("Default/Cookies"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("a cookie database");
    let copy = sb.dir.path().join("inspect.sqlite");
    std::fs::copy(&db, &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    let stored: Vec<(String, String, Vec<u8>, i64)> = conn
        .prepare("SELECT host_key, name, encrypted_value, is_persistent FROM cookies")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let session_of = |host: &str| {
        stored
            .iter()
            .find(|(h, n, _, _)| h == host && n == "JSESSIONID")
            .unwrap_or_else(|| panic!("no {host} session stored"))
    };
    assert!(session_of("127.0.0.1").2.starts_with(b"v10"));
    assert_eq!(session_of("127.0.0.1").3, 0, "a session cookie");
    session_of("localhost");
    drop(conn);
    let out = import_from_browser(&site, &sb, "chromium", &user_data, true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        exported(&site, &sb),
        live(&site),
        "exactly the demo session"
    );
    // The other host's session (another value) was not taken.
    let theirs = live(&other);
    assert_ne!(theirs["JSESSIONID"], live(&site)["JSESSIONID"]);
    assert!(!stdout(&out).contains("localhost"));
}

const FIREFOX_PREFS: &str = r#"
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("startup.homepage_welcome_url", "");
user_pref("startup.homepage_welcome_url.additional", "");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("trailhead.firstrun.didSeeAboutWelcome", true);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("datareporting.healthreport.uploadEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("toolkit.telemetry.unified", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.auto", false);
user_pref("app.normandy.enabled", false);
user_pref("extensions.update.enabled", false);
user_pref("extensions.getAddons.cache.enabled", false);
user_pref("browser.search.update", false);
user_pref("browser.newtabpage.enabled", false);
user_pref("browser.safebrowsing.malware.enabled", false);
user_pref("browser.safebrowsing.phishing.enabled", false);
user_pref("browser.safebrowsing.downloads.enabled", false);
user_pref("network.captive-portal-service.enabled", false);
user_pref("network.connectivity-service.enabled", false);
user_pref("dom.security.https_first", false);
user_pref("browser.sessionstore.interval", 500);
user_pref("browser.sessionstore.privacy_level", 0);
user_pref("browser.sessionstore.resume_from_crash", true);
user_pref("network.proxy.type", 0);
"#;

/// A new Firefox profile directory with the test preferences.
fn firefox_profile(sb: &Sandbox) -> PathBuf {
    let profile = sb.dir.path().join("ff-profile");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::write(profile.join("user.js"), FIREFOX_PREFS).unwrap();
    profile
}

/// Headless Firefox on `profile`, opening `urls`.
fn start_firefox(sb: &Sandbox, profile: &Path, urls: &[&str]) -> Child {
    Command::new("firefox-esr")
        .args(["-headless", "-no-remote", "-profile"])
        .arg(profile)
        .args(urls)
        .env("HOME", sb.dir.path())
        .env("MOZ_HEADLESS", "1")
        .env("MOZ_CRASHREPORTER_DISABLE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Imports from the Firefox profile (without asking the site) until the
/// session cookie is there: Firefox saves its session store on a timer.
fn import_once_saved(site: &Site, sb: &Sandbox, profile: &Path) {
    let start = Instant::now();
    loop {
        let out = import_from_browser(site, sb, "firefox", profile, false);
        if out.status.code() == Some(0) && stdout(&out).contains("Session cookie: JSESSIONID") {
            return;
        }
        assert!(
            start.elapsed() < BROWSER_PATIENCE,
            "no session in the profile: {}{}",
            stdout(&out),
            stderr(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Ends Firefox the way a user's quit does (SIGTERM: a clean shutdown),
/// killing it if it does not end.
fn quit_firefox(reaper: &mut Reaper) {
    let mut child = reaper.0.take().expect("Firefox runs");
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    if !wait_exit(&mut child, Duration::from_secs(30)) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn firefox_holds_the_demo_session_and_import_reads_it_while_firefox_runs() {
    if !have("firefox-esr") {
        return;
    }
    let site = Site::server_dc();
    let other = Site::server_dc();
    let sb = Sandbox::new();
    let profile = firefox_profile(&sb);
    let [url, other_url] = sign_in_urls(&site, &other);
    let child = start_firefox(&sb, &profile, &[&url, &other_url]);
    let mut reaper = Reaper(Some(child));
    let browser = reaper.0.as_mut().unwrap();
    wait_for_sign_ins(&site, &other, browser);
    // Imported while Firefox runs all along.
    import_once_saved(&site, &sb, &profile);
    assert!(browser.try_wait().unwrap().is_none(), "Firefox still runs");
    // The other site's session is in the same session store (not taken).
    let store = std::fs::read(profile.join("sessionstore-backups/recovery.jsonlz4")).unwrap();
    assert_eq!(&store[..8], b"mozLz40\0");
    let size = u32::from_le_bytes(store[8..12].try_into().unwrap()) as usize;
    let json = lz4_flex::block::decompress(&store[12..], size).unwrap();
    let doc: Value = serde_json::from_slice(&json).unwrap();
    assert!(
        doc["cookies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["host"] == "localhost" && c["name"] == "JSESSIONID"),
        "the other host's session is in the profile"
    );
    assert_eq!(
        exported(&site, &sb),
        live(&site),
        "exactly the demo session"
    );
    // The site accepts it.
    let out = site.cmd(&sb).arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_ne!(live(&other)["JSESSIONID"], live(&site)["JSESSIONID"]);
}

/// The whole recovery is "sign in in the browser": `watch --from-browser
/// firefox` on a profile the real Firefox wrote, the session ended on the
/// site, then a second headless Firefox visit to the login page; `watch`
/// imports the new session by itself and reports `signed_in`.
#[test]
fn a_second_firefox_sign_in_brings_watch_back_without_an_import() {
    if !have("firefox-esr") {
        return;
    }
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let profile = firefox_profile(&sb);
    let url = format!(
        "http://127.0.0.1:{}/login?demo=1",
        site.server.addr().port()
    );

    // The first sign-in, imported by hand; then the user quits Firefox.
    let mut reaper = Reaper(Some(start_firefox(&sb, &profile, &[&url])));
    wait_for_logins(&site, 2, reaper.0.as_mut().unwrap());
    import_once_saved(&site, &sb, &profile);
    quit_firefox(&mut reaper);
    let first = live(&site)["JSESSIONID"].clone();

    let home = sb.dir.path().to_str().unwrap().to_string();
    let watch = Watch::firefox(&sb, &site, &profile, &[("HOME", &home)]);
    assert_eq!(watch.next(Duration::from_secs(15))["state"], "signed_in");

    // The session ends on the site.
    site.server.control().end_session();
    let died = watch.next(Duration::from_secs(15));
    assert_eq!(died["state"], "expired", "{died}");

    // The user signs in again in Firefox (a second headless visit); nobody
    // runs an import.
    let logins = site.server.request_count_for(PathKind::Login);
    let mut reaper = Reaper(Some(start_firefox(&sb, &profile, &[&url])));
    wait_for_logins(&site, logins + 2, reaper.0.as_mut().unwrap());
    let start = Instant::now();
    let back = loop {
        let line = watch.next(BROWSER_PATIENCE.saturating_sub(start.elapsed()));
        if line["state"] != "expired" {
            break line;
        }
    };
    assert_eq!(back["state"], "signed_in", "{back}");
    let now = live(&site);
    assert_ne!(now["JSESSIONID"], first, "a new session");
    assert_eq!(exported(&site, &sb), now, "the fresh session is stored");
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    let imports = audit
        .lines()
        .filter(|l| l.contains("\"cookies_saved\"") && l.contains("browser:firefox:"))
        .count();
    assert_eq!(imports, 2, "the first import and the watcher's: {audit}");
    assert!(
        !audit.contains(&now["JSESSIONID"]),
        "no value in the audit log"
    );
    quit_firefox(&mut reaper);
}
