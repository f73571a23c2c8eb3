//! `cookies import --from-browser` on profiles the tests build: Firefox
//! (rows only in `cookies.sqlite-wal`, the session cookie only in the
//! session store) and Chromium (`v10` values with the host hash). Exactly
//! the site's cookies are stored, the profile is never written, and a
//! profile that cannot be read ends with a clear message, an audited
//! failure and nothing stored.
#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::browser::*;
use common::site::Site;
use common::*;
use serde_json::Value;

/// The stored cookies as `cookies export --format json` prints them:
/// name → value.
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

fn audit_records(sb: &Sandbox) -> Vec<Value> {
    std::fs::read_to_string(sb.audit())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The demo site's live session value (`JSESSIONID=…; xsrf=…`).
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

/// Every file of a directory tree with its content, to show nothing in a
/// profile was written, created or removed.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            out.extend(snapshot(&path));
        } else {
            out.insert(path.display().to_string(), std::fs::read(&path).unwrap());
        }
    }
    out
}

/// The site's session and xsrf cookies in a Firefox profile: the xsrf
/// cookie in the database, the session cookie only in the session store;
/// other hosts' cookies and another container's in both.
fn firefox_fixture(site: &Site, profile: &Path) {
    let live = live(site);
    let host = "127.0.0.1";
    let mut db_rows = Vec::new();
    let mut store_rows = Vec::new();
    for (name, value) in &live {
        if name == "JSESSIONID" {
            store_rows.push(FixtureCookie::session(host, name, value));
        } else {
            db_rows.push(FixtureCookie::new(host, name, value));
        }
    }
    db_rows.push(FixtureCookie::new(
        "other.example.com",
        "JSESSIONID",
        "other-host-db",
    ));
    db_rows.push(FixtureCookie::new(
        ".example.com",
        "tracker",
        "other-domain",
    ));
    db_rows.push(FixtureCookie::new("127.0.0.2", "JSESSIONID", "other-ip"));
    store_rows.push(FixtureCookie::session(
        "evil.example.net",
        "JSESSIONID",
        "other-host-store",
    ));
    write_firefox_db(
        profile,
        &db_rows,
        &[(
            "^userContextId=2",
            FixtureCookie::new(host, "container", "in-a-container"),
        )],
    );
    write_firefox_session_store(profile, &store_rows);
}

#[test]
fn firefox_profile_import_stores_exactly_the_sites_cookies_and_verifies() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let profile = sb.dir.path().join("ff-profile");
    firefox_fixture(&site, &profile);
    // The rows are in the WAL only: the database alone shows none.
    {
        let copy = sb.dir.path().join("alone.sqlite");
        std::fs::copy(profile.join("cookies.sqlite"), &copy).unwrap();
        let conn = rusqlite::Connection::open(&copy).unwrap();
        assert!(
            conn.query_row("SELECT count(*) FROM moz_cookies", [], |r| r
                .get::<_, i64>(0))
                .is_err()
        );
    }
    let before = snapshot(&profile);
    let out = import_from_browser(&site, &sb, "firefox", &profile, true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains(&format!("Read from browser:firefox:{}", profile.display())),
        "{text}"
    );
    assert!(text.contains("Session cookie: JSESSIONID"), "{text}");
    assert!(
        text.contains("signed in") || text.contains("Signed in"),
        "verified: {text}"
    );
    assert_eq!(
        exported(&site, &sb),
        live(&site),
        "exactly the site's cookies"
    );
    // Nothing of the profile was written, created or removed.
    assert_eq!(snapshot(&profile), before);
    // Audited with the profile as the source, and no value anywhere.
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    let source = format!("browser:firefox:{}", profile.display());
    assert!(
        audit_records(&sb)
            .iter()
            .any(|r| r["event"] == "cookies_saved" && r["details"]["source"] == source.as_str()),
        "{audit}"
    );
    for value in live(&site)
        .values()
        .chain(["other-host-db".to_string(), "in-a-container".to_string()].iter())
    {
        assert!(!audit.contains(value.as_str()), "a value in the audit log");
    }
    // Nor in what the command printed or the diagnostics log.
    let diagnostics =
        std::fs::read_to_string(sb.data().join("logs/confluence-tui.log")).unwrap_or_default();
    for value in live(&site).values() {
        for (what, text) in [
            ("stdout", stdout(&out)),
            ("stderr", stderr(&out)),
            ("the diagnostics log", diagnostics.clone()),
        ] {
            assert!(!text.contains(value.as_str()), "a cookie value in {what}");
        }
    }
}

#[test]
fn chromium_profile_import_decrypts_v10_values_of_the_site_only() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let user_data = sb.dir.path().join("chromium");
    let host = "127.0.0.1";
    let mut rows: Vec<(FixtureCookie, &[u8])> = live(&site)
        .iter()
        .map(|(n, v)| (FixtureCookie::session(host, n, v), b"v10".as_slice()))
        .collect();
    rows.push((
        FixtureCookie::new("other.example.com", "JSESSIONID", "other-host"),
        b"v10",
    ));
    rows.push((
        FixtureCookie::new(host, "JSESSIONID", "other-path").path("/elsewhere"),
        b"v10",
    ));
    // Another host's app-bound value is never even looked at.
    rows.push((
        FixtureCookie::new("bank.example.com", "sid", "app-bound"),
        b"v20",
    ));
    write_chromium_profile(&user_data, &rows);
    let before = snapshot(&user_data);
    let out = import_from_browser(&site, &sb, "chromium", &user_data, true);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(exported(&site, &sb), live(&site));
    assert_eq!(snapshot(&user_data), before, "the profile is never written");
    let source = format!("browser:chromium:{}", user_data.join("Default").display());
    assert!(
        audit_records(&sb)
            .iter()
            .any(|r| r["event"] == "cookies_saved" && r["details"]["source"] == source.as_str())
    );
}

/// A browser holding its database locked mid-write (an exclusive lock, an
/// uncommitted change) neither blocks nor fools the import: it reads the
/// committed rows from its private copy at once.
#[test]
fn a_database_the_browser_holds_locked_is_read_from_its_committed_state() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let user_data = sb.dir.path().join("chromium");
    let host = "127.0.0.1";
    let rows: Vec<(FixtureCookie, &[u8])> = live(&site)
        .iter()
        .map(|(n, v)| (FixtureCookie::session(host, n, v), b"v10".as_slice()))
        .collect();
    write_chromium_profile(&user_data, &rows);
    let browser = rusqlite::Connection::open(user_data.join("Default/Cookies")).unwrap();
    browser
        .execute_batch("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE;")
        .unwrap();
    let uncommitted = chromium_encrypt(&chromium_basic_key(), b"v10", host, "uncommitted");
    browser
        .execute("UPDATE cookies SET encrypted_value = ?1", [uncommitted])
        .unwrap();
    // Locked indeed: reading the database in place fails.
    let other = rusqlite::Connection::open(user_data.join("Default/Cookies")).unwrap();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    assert!(
        other
            .query_row("SELECT count(*) FROM cookies", [], |r| r.get::<_, i64>(0))
            .is_err(),
        "the database is locked"
    );
    let out = import_from_browser(&site, &sb, "chromium", &user_data, false);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(exported(&site, &sb), live(&site), "the committed values");
    // The lock was never taken from the browser: its change is still its own.
    browser.execute_batch("COMMIT").unwrap();
}

#[test]
fn a_v20_value_of_the_site_is_refused_with_advice_to_paste_and_nothing_is_stored() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let user_data = sb.dir.path().join("chromium");
    write_chromium_profile(
        &user_data,
        &[(
            FixtureCookie::session("127.0.0.1", "JSESSIONID", "secret-v20"),
            b"v20",
        )],
    );
    let out = import_from_browser(&site, &sb, "chrome", &user_data, false);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("app-bound") && err.contains("paste"), "{err}");
    assert!(!err.contains("secret-v20"));
    assert!(!sb.vault().exists(), "nothing stored");
    let failed = audit_records(&sb);
    assert!(
        failed
            .iter()
            .any(|r| r["event"] == "cookie_operation_failed"
                && r["details"]["reason"] == "app_bound_encryption"),
        "{failed:?}"
    );
}

/// Imports once from a good profile so something is stored, then shows a
/// bad profile changes nothing of it.
fn stored_then_refused(bad_profile: &Path, reason: &str) {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    site.import_live(&sb);
    let stored = exported(&site, &sb);
    let out = import_from_browser(&site, &sb, "firefox", bad_profile, false);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cookies.sqlite"), "names the file: {err}");
    assert_eq!(exported(&site, &sb), stored, "what was stored is kept");
    let records = audit_records(&sb);
    assert!(
        records
            .iter()
            .any(|r| r["event"] == "cookie_operation_failed" && r["details"]["reason"] == reason),
        "{records:?}"
    );
}

#[test]
fn a_corrupt_firefox_database_is_refused_and_nothing_stored_changes() {
    let sb = Sandbox::new();
    let profile = sb.dir.path().join("broken");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::write(
        profile.join("cookies.sqlite"),
        b"SQLite format 3\0 but then garbage ".repeat(200),
    )
    .unwrap();
    stored_then_refused(&profile, "corrupt_database");
}

#[test]
fn an_unreadable_firefox_database_is_refused_without_hanging() {
    let sb = Sandbox::new();
    let profile = sb.dir.path().join("fifo");
    std::fs::create_dir_all(&profile).unwrap();
    // A FIFO where the database should be: opening it to read would wait
    // for a writer forever.
    let status = std::process::Command::new("mkfifo")
        .arg(profile.join("cookies.sqlite"))
        .status()
        .unwrap();
    assert!(status.success());
    stored_then_refused(&profile, "profile_unreadable");
}

#[test]
fn a_profile_without_the_sites_cookies_is_auth_needed_and_no_verify_skips_the_check() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let profile = sb.dir.path().join("ff");
    write_firefox_db(
        &profile,
        &[FixtureCookie::new("other.example.com", "JSESSIONID", "x")],
        &[],
    );
    let out = import_from_browser(&site, &sb, "firefox", &profile, true);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sign in to the site"),
        "{}",
        stderr(&out)
    );
    // A stale session: stored with --no-verify, the site is not asked.
    write_firefox_db(
        &sb.dir.path().join("ff2"),
        &[FixtureCookie::new("127.0.0.1", "JSESSIONID", "stale-value")],
        &[],
    );
    let before = site.count();
    let out = import_from_browser(&site, &sb, "firefox", &sb.dir.path().join("ff2"), false);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(site.count(), before, "not verified");
    assert_eq!(exported(&site, &sb)["JSESSIONID"], "stale-value");
}

#[test]
fn an_unknown_browser_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["cookies", "import", "--from-browser", "netscape"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("firefox, chromium, chrome, brave, edge"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_v11_value_needs_the_secret_service_and_without_one_the_message_says_to_paste() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let user_data = sb.dir.path().join("chromium");
    write_chromium_profile(
        &user_data,
        &[(
            FixtureCookie::session("127.0.0.1", "JSESSIONID", "keyring-value"),
            b"v11",
        )],
    );
    // No session bus in the environment: no Secret Service to ask.
    let out = import_from_browser(&site, &sb, "chromium", &user_data, false);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Secret Service") && err.contains("paste"),
        "{err}"
    );
    assert!(!sb.vault().exists());
    assert!(
        audit_records(&sb)
            .iter()
            .any(|r| r["details"]["reason"] == "key_unavailable")
    );
}

#[test]
fn default_profiles_are_found_and_auto_takes_the_newest_session() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let home = sb.dir.path().join("home");
    // Firefox: profiles.ini names the install's default profile.
    let firefox = home.join(".mozilla/firefox");
    let ff_profile = firefox.join("abcd.default-release");
    write_firefox_db(
        &ff_profile,
        &[FixtureCookie::new("127.0.0.1", "xsrf", "ff-xsrf")],
        &[],
    );
    write_firefox_session_store(
        &ff_profile,
        &[FixtureCookie::session(
            "127.0.0.1",
            "JSESSIONID",
            "from-firefox",
        )],
    );
    std::fs::write(
        firefox.join("profiles.ini"),
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd.default-release\n\n\
         [Install4F96D1932A9F858E]\nDefault=abcd.default-release\nLocked=1\n",
    )
    .unwrap();
    // Chromium: ~/.config/chromium/Default, its session an hour older.
    let chromium = home.join(".config/chromium");
    let profile = write_chromium_profile(
        &chromium,
        &[(
            FixtureCookie::session("127.0.0.1", "JSESSIONID", "from-chromium"),
            b"v10",
        )],
    );
    {
        let conn = rusqlite::Connection::open(profile.join("Cookies")).unwrap();
        conn.execute(
            "UPDATE cookies SET creation_utc = ?1",
            [chromium_time(unix_now() - 3600)],
        )
        .unwrap();
    }
    let import = |browser: &str| {
        let out = site
            .cmd(&sb)
            .args([
                "cookies",
                "import",
                "--no-verify",
                "--from-browser",
                browser,
            ])
            .env("HOME", &home)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{browser}: {}", stderr(&out));
        exported(&site, &sb)
    };
    assert_eq!(import("chromium")["JSESSIONID"], "from-chromium");
    let ff = import("firefox");
    assert_eq!(
        (ff["JSESSIONID"].as_str(), ff["xsrf"].as_str()),
        ("from-firefox", "ff-xsrf")
    );
    assert_eq!(import("chromium")["JSESSIONID"], "from-chromium");
    assert_eq!(
        import("auto")["JSESSIONID"],
        "from-firefox",
        "the newest session wins"
    );
    // Nothing there at all: the message says where it looked.
    let out = site
        .cmd(&sb)
        .args(["cookies", "import", "--from-browser", "brave"])
        .env("HOME", sb.dir.path().join("empty-home"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("BraveSoftware"), "{}", stderr(&out));
}
