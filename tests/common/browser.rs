//! Browser profiles built by the tests themselves: a Firefox profile
//! (`cookies.sqlite` whose rows live only in its `-wal`, as a running
//! Firefox leaves it, and a mozlz4 session store) and a Chromium user data
//! directory (`Local State`, `Default/Cookies` with `v10` values).

use std::path::{Path, PathBuf};

use aes::cipher::{BlockModeEncrypt, KeyIvInit, block_padding::Pkcs7};
use sha2::Digest;

/// One cookie as a profile stores it.
#[derive(Clone, Debug)]
pub struct FixtureCookie {
    pub host: String,
    pub name: String,
    pub value: String,
    pub path: String,
    /// Unix seconds; `None` for a session cookie.
    pub expires: Option<i64>,
}

impl FixtureCookie {
    pub fn new(host: &str, name: &str, value: &str) -> FixtureCookie {
        FixtureCookie {
            host: host.into(),
            name: name.into(),
            value: value.into(),
            path: "/".into(),
            expires: Some(unix_now() + 86_400 * 30),
        }
    }
    pub fn session(host: &str, name: &str, value: &str) -> FixtureCookie {
        FixtureCookie {
            expires: None,
            ..FixtureCookie::new(host, name, value)
        }
    }
    pub fn path(mut self, path: &str) -> FixtureCookie {
        self.path = path.into();
        self
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Firefox's `moz_cookies` (schema version 15 and later).
const MOZ_COOKIES: &str = "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, \
    originAttributes TEXT NOT NULL DEFAULT '', name TEXT, value TEXT, host TEXT, path TEXT, \
    expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, \
    isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, \
    schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0, \
    CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes))";

/// Writes `dir/cookies.sqlite` and `dir/cookies.sqlite-wal` holding
/// `cookies` (in the WAL only: the main file has no rows) plus, for each
/// `(origin_attributes, cookie)` in `other_containers`, a row of another
/// container.
pub fn write_firefox_db(
    dir: &Path,
    cookies: &[FixtureCookie],
    other_containers: &[(&str, FixtureCookie)],
) {
    std::fs::create_dir_all(dir).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let db = staging.path().join("cookies.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
        .unwrap();
    conn.execute_batch(MOZ_COOKIES).unwrap();
    let now_us = unix_now() * 1_000_000;
    let rows = cookies
        .iter()
        .map(|c| ("", c))
        .chain(other_containers.iter().map(|(a, c)| (*a, c)));
    for (i, (attrs, c)) in rows.enumerate() {
        conn.execute(
            "INSERT INTO moz_cookies (originAttributes, name, value, host, path, expiry, \
             lastAccessed, creationTime, isSecure, isHttpOnly) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,0,1)",
            rusqlite::params![
                attrs,
                c.name,
                c.value,
                c.host,
                c.path,
                // Current Firefox: milliseconds.
                c.expires.unwrap_or(unix_now() + 86_400) * 1000,
                now_us,
                now_us + i as i64,
            ],
        )
        .unwrap();
    }
    // Copied while the connection is open: the rows are in the WAL only,
    // as a running Firefox leaves them.
    std::fs::copy(&db, dir.join("cookies.sqlite")).unwrap();
    std::fs::copy(
        staging.path().join("cookies.sqlite-wal"),
        dir.join("cookies.sqlite-wal"),
    )
    .unwrap();
    drop(conn);
}

/// Writes `dir/sessionstore-backups/recovery.jsonlz4` holding `cookies`
/// (atomically, as Firefox does: a temporary file renamed into place).
pub fn write_firefox_session_store(dir: &Path, cookies: &[FixtureCookie]) {
    let backups = dir.join("sessionstore-backups");
    std::fs::create_dir_all(&backups).unwrap();
    let cookies: Vec<serde_json::Value> = cookies
        .iter()
        .map(|c| {
            serde_json::json!({
                "host": c.host, "value": c.value, "path": c.path, "name": c.name,
                "secure": false, "httponly": true, "sameSite": 0, "schemeMap": 1,
                "originAttributes": {"firstPartyDomain": "", "geckoViewSessionContextId": "",
                    "inIsolatedMozBrowser": false, "partitionKey": "", "privateBrowsingId": 0,
                    "userContextId": 0}
            })
        })
        .collect();
    let doc = serde_json::json!({
        "version": ["sessionrestore", 1],
        "windows": [{"tabs": [], "selected": 0}],
        "session": {"lastUpdate": unix_now() * 1000},
        "cookies": cookies,
    });
    let json = serde_json::to_vec(&doc).unwrap();
    let mut file = b"mozLz40\0".to_vec();
    file.extend_from_slice(&(json.len() as u32).to_le_bytes());
    file.extend_from_slice(&lz4_flex::block::compress(&json));
    let tmp = backups.join("recovery.jsonlz4.tmp");
    std::fs::write(&tmp, file).unwrap();
    std::fs::rename(&tmp, backups.join("recovery.jsonlz4")).unwrap();
}

/// The Linux basic store's key: PBKDF2-HMAC-SHA1("peanuts", "saltysalt", 1).
pub fn chromium_basic_key() -> [u8; 16] {
    pbkdf2::pbkdf2_hmac_array::<sha1::Sha1, 16>(b"peanuts", b"saltysalt", 1)
}

/// `prefix` + AES-128-CBC(SHA-256(host) ‖ value), IV of 16 spaces.
pub fn chromium_encrypt(key: &[u8; 16], prefix: &[u8], host: &str, value: &str) -> Vec<u8> {
    let mut plain = sha2::Sha256::digest(host.as_bytes()).to_vec();
    plain.extend_from_slice(value.as_bytes());
    let ct = cbc::Encryptor::<aes::Aes128>::new(key.into(), &[b' '; 16].into())
        .encrypt_padded_vec::<Pkcs7>(&plain);
    let mut out = prefix.to_vec();
    out.extend(ct);
    out
}

const CHROMIUM_COOKIES: &str = "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, \
    value LONGVARCHAR); CREATE TABLE cookies(creation_utc INTEGER NOT NULL, host_key TEXT NOT NULL, \
    top_frame_site_key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, \
    encrypted_value BLOB NOT NULL, path TEXT NOT NULL, expires_utc INTEGER NOT NULL, \
    is_secure INTEGER NOT NULL, is_httponly INTEGER NOT NULL, last_access_utc INTEGER NOT NULL, \
    has_expires INTEGER NOT NULL, is_persistent INTEGER NOT NULL, priority INTEGER NOT NULL, \
    samesite INTEGER NOT NULL, source_scheme INTEGER NOT NULL, source_port INTEGER NOT NULL, \
    last_update_utc INTEGER NOT NULL, source_type INTEGER NOT NULL, \
    has_cross_site_ancestor INTEGER NOT NULL)";

/// Microseconds since 1601-01-01 of a Unix time.
pub fn chromium_time(unix: i64) -> i64 {
    (unix + 11_644_473_600) * 1_000_000
}

/// A Chromium user data directory: `Local State` and `Default/Cookies`
/// (meta version 24) with each cookie encrypted as `prefix` says.
pub fn write_chromium_profile(user_data: &Path, cookies: &[(FixtureCookie, &[u8])]) -> PathBuf {
    let profile = user_data.join("Default");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::write(
        user_data.join("Local State"),
        r#"{"profile":{"last_used":"Default","info_cache":{"Default":{"name":"Person 1"}}}}"#,
    )
    .unwrap();
    let conn = rusqlite::Connection::open(profile.join("Cookies")).unwrap();
    conn.execute_batch(CHROMIUM_COOKIES).unwrap();
    conn.execute("INSERT INTO meta VALUES ('version', '24')", [])
        .unwrap();
    let key = chromium_basic_key();
    for (i, (c, prefix)) in cookies.iter().enumerate() {
        let created = chromium_time(unix_now()) + i as i64;
        conn.execute(
            "INSERT INTO cookies VALUES (?1,?2,'',?3,'',?4,?5,?6,0,1,?1,?7,?7,1,0,1,80,?1,0,0)",
            rusqlite::params![
                created,
                c.host,
                c.name,
                chromium_encrypt(&key, prefix, &c.host, &c.value),
                c.path,
                c.expires.map(chromium_time).unwrap_or(0),
                i64::from(c.expires.is_some()),
            ],
        )
        .unwrap();
    }
    profile
}

/// The demo site's live session as Firefox keeps a session login: in the
/// session store only, for `127.0.0.1`.
pub fn session_cookies(site: &super::site::Site) -> Vec<FixtureCookie> {
    site.server
        .session_cookie_header()
        .split("; ")
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap();
            FixtureCookie::session("127.0.0.1", n, v)
        })
        .collect()
}

/// A sign-in on the demo site through its GET route (a new session).
pub fn sign_in_again(site: &super::site::Site) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(site.server.addr()).unwrap();
    write!(
        s,
        "GET /login?demo=1 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        site.server.addr()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("set-cookie: jsessionid=")
    );
}

/// A Firefox profile holding the site's live session (and another host's
/// cookie), imported without verifying; returns the profile and the
/// session cookie's value.
pub fn imported_firefox_profile(
    site: &super::site::Site,
    sb: &super::Sandbox,
) -> (PathBuf, String) {
    let profile = sb.dir.path().join("ff-profile");
    write_firefox_db(
        &profile,
        &[FixtureCookie::new(
            "other.example.com",
            "JSESSIONID",
            "not-ours",
        )],
        &[],
    );
    write_firefox_session_store(&profile, &session_cookies(site));
    let first = session_cookies(site)[0].value.clone();
    let out = site
        .cmd(sb)
        .args([
            "cookies",
            "import",
            "--no-verify",
            "--from-browser",
            "firefox",
            "--profile",
        ])
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", super::stderr(&out));
    (profile, first)
}

/// `cookies import [--no-verify] --from-browser BROWSER --profile PROFILE`
/// for `site`, with the sandbox as `HOME` (no real profile is ever found).
pub fn import_from_browser(
    site: &super::site::Site,
    sb: &super::Sandbox,
    browser: &str,
    profile: &Path,
    verify: bool,
) -> std::process::Output {
    let mut cmd = site.cmd(sb);
    cmd.args(["cookies", "import"]);
    if !verify {
        cmd.arg("--no-verify");
    }
    cmd.args(["--from-browser", browser, "--profile"])
        .arg(profile)
        .env("HOME", sb.dir.path())
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap()
}

/// The cookies stored for `site` are its live session, exactly.
pub fn assert_live_session_stored(site: &super::site::Site, sb: &super::Sandbox) {
    let out = site
        .cmd(sb)
        .args(["cookies", "export", "--format", "header"])
        .output()
        .unwrap();
    assert_eq!(
        super::stdout(&out).trim(),
        site.server.session_cookie_header(),
        "the live session is stored"
    );
}
