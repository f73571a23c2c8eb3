//! Firefox: `cookies.sqlite` (read from a private copy taken with its
//! `-wal`: Firefox holds the database in exclusive locking mode and keeps
//! fresh rows only in the WAL) and, for session cookies, which Firefox
//! never writes to the database, the session store
//! (`sessionstore-backups/recovery.jsonlz4`).

use std::collections::HashSet;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, params_from_iter};
use serde::Deserialize;
use time::OffsetDateTime;
use url::Url;
use zeroize::Zeroizing;

use super::copy::{private_copy, read_regular};
use super::{
    BrowserCookies, BrowserError, Profile, belongs, candidate_hosts, mozlz4, placeholders,
};
use crate::cookies::jar::Cookie;

/// Expiry values above this are milliseconds (current Firefox), below it
/// seconds (older versions): 10^11 seconds is the year 5138.
const MS_THRESHOLD: i64 = 100_000_000_000;
/// A session store larger than this (compressed) is refused.
const MAX_SESSION_STORE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the site's cookies from a Firefox profile.
pub(super) fn read(profile: &Profile, site: &Url) -> Result<BrowserCookies, BrowserError> {
    let hosts = candidate_hosts(site);
    let db = profile.dir.join("cookies.sqlite");
    let mut rows = if db.exists() || !session_store(&profile.dir).exists() {
        read_database(&db, &hosts, site)?
    } else {
        Vec::new()
    };
    let seen: HashSet<(String, String, String)> = rows.iter().map(|(c, _)| key(c)).collect();
    let store = session_store(&profile.dir);
    let store_time = std::fs::metadata(&store)
        .and_then(|m| m.modified())
        .ok()
        .map(OffsetDateTime::from);
    for cookie in read_session_store(&store, &hosts, site)? {
        if !seen.contains(&key(&cookie)) {
            rows.push((cookie, store_time));
        }
    }
    let newest_session = rows
        .iter()
        .filter(|(c, _)| c.is_session_cookie())
        .filter_map(|(_, t)| *t)
        .max();
    Ok(BrowserCookies {
        cookies: rows.into_iter().map(|(c, _)| c).collect(),
        profile: profile.clone(),
        newest_session,
    })
}

fn session_store(dir: &Path) -> std::path::PathBuf {
    let recovery = dir.join("sessionstore-backups").join("recovery.jsonlz4");
    if recovery.exists() {
        recovery
    } else {
        dir.join("sessionstore.jsonlz4")
    }
}

fn key(c: &Cookie) -> (String, String, String) {
    (
        c.name.clone(),
        c.domain.clone().unwrap_or_default(),
        c.path.clone().unwrap_or_default(),
    )
}

/// `moz_cookies` rows of the default container for the candidate hosts,
/// oldest first (a later duplicate replaces an earlier one on import).
fn read_database(
    db: &Path,
    hosts: &[String],
    site: &Url,
) -> Result<Vec<(Cookie, Option<OffsetDateTime>)>, BrowserError> {
    let copy = private_copy(db)?;
    let corrupt = |e: rusqlite::Error| BrowserError::CorruptDatabase {
        path: db.to_path_buf(),
        reason: e.to_string(),
    };
    let conn = Connection::open_with_flags(
        &copy.db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(corrupt)?;
    let sql = format!(
        "SELECT host, name, value, path, expiry, isSecure, isHttpOnly, creationTime \
         FROM moz_cookies WHERE host IN ({}) AND originAttributes = '' \
         ORDER BY creationTime",
        placeholders(hosts.len())
    );
    let mut stmt = conn.prepare(&sql).map_err(corrupt)?;
    let mut rows = stmt
        .query(params_from_iter(hosts.iter()))
        .map_err(corrupt)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(corrupt)? {
        let host: String = row.get(0).map_err(corrupt)?;
        let path: String = row
            .get::<_, Option<String>>(3)
            .map_err(corrupt)?
            .unwrap_or_default();
        if !belongs(&host, &path, site) {
            continue;
        }
        let name: String = row.get(1).map_err(corrupt)?;
        let value = Zeroizing::new(
            row.get::<_, Option<String>>(2)
                .map_err(corrupt)?
                .unwrap_or_default(),
        );
        let mut cookie = Cookie::new(name, &value);
        cookie.domain = Some(host);
        cookie.path = Some(path);
        cookie.expires = row
            .get::<_, Option<i64>>(4)
            .map_err(corrupt)?
            .and_then(expiry_time);
        cookie.secure = row.get::<_, Option<i64>>(5).map_err(corrupt)?.unwrap_or(0) != 0;
        cookie.http_only = row.get::<_, Option<i64>>(6).map_err(corrupt)?.unwrap_or(0) != 0;
        let created = row
            .get::<_, Option<i64>>(7)
            .map_err(corrupt)?
            .and_then(|us| OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).ok());
        out.push((cookie, created));
    }
    Ok(out)
}

/// `moz_cookies.expiry`: milliseconds on current Firefox, seconds before.
pub(crate) fn expiry_time(raw: i64) -> Option<OffsetDateTime> {
    if raw <= 0 {
        return None;
    }
    let secs = if raw > MS_THRESHOLD { raw / 1000 } else { raw };
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// One cookie of the session store (the fields read; the rest ignored).
#[derive(Deserialize)]
struct StoredSessionCookie {
    #[serde(default)]
    host: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: Zeroizing<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    secure: bool,
    #[serde(default)]
    httponly: bool,
    #[serde(default, rename = "originAttributes")]
    origin_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct SessionStoreDoc {
    #[serde(default)]
    cookies: Vec<StoredSessionCookie>,
}

/// The session cookies the session store holds for the site.
fn read_session_store(
    path: &Path,
    hosts: &[String],
    site: &Url,
) -> Result<Vec<Cookie>, BrowserError> {
    let Some(bytes) = read_regular(path, MAX_SESSION_STORE_BYTES)? else {
        return Ok(Vec::new());
    };
    let bad = |reason: String| BrowserError::SessionStore {
        path: path.to_path_buf(),
        reason,
    };
    let json = mozlz4::decode(&bytes).map_err(|e| bad(e.to_string()))?;
    let doc: SessionStoreDoc = serde_json::from_slice(&json).map_err(|e| {
        bad(format!(
            "not the session store's JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let mut out = Vec::new();
    for c in doc.cookies {
        let host = c.host.to_ascii_lowercase();
        let path = c.path.unwrap_or_else(|| "/".into());
        if !hosts.contains(&host) || !default_container(c.origin_attributes.as_ref()) {
            continue;
        }
        if !belongs(&host, &path, site) {
            continue;
        }
        let mut cookie = Cookie::new(c.name, &c.value);
        cookie.domain = Some(host);
        cookie.path = Some(path);
        cookie.secure = c.secure;
        cookie.http_only = c.httponly;
        out.push(cookie);
    }
    Ok(out)
}

/// Only the default container's cookies: no container, not private, not
/// partitioned under another site.
fn default_container(attrs: Option<&serde_json::Map<String, serde_json::Value>>) -> bool {
    attrs.is_none_or(|attrs| {
        attrs.values().all(|v| match v {
            serde_json::Value::Number(n) => n.as_i64() == Some(0),
            serde_json::Value::String(s) => s.is_empty(),
            serde_json::Value::Bool(b) => !b,
            serde_json::Value::Null => true,
            _ => false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_in_milliseconds_and_seconds_both_read() {
        let ms = expiry_time(1_900_000_000_000).unwrap();
        let s = expiry_time(1_900_000_000).unwrap();
        assert_eq!(ms, s);
        assert_eq!(expiry_time(0), None);
    }

    #[test]
    fn only_the_default_container_counts() {
        let parse = |j: &str| serde_json::from_str::<serde_json::Map<_, _>>(j).unwrap();
        assert!(default_container(None));
        assert!(default_container(Some(&parse(
            r#"{"userContextId":0,"privateBrowsingId":0,"firstPartyDomain":"","partitionKey":"","inIsolatedMozBrowser":false}"#
        ))));
        assert!(!default_container(Some(&parse(r#"{"userContextId":2}"#))));
        assert!(!default_container(Some(&parse(
            r#"{"partitionKey":"(https,example.com)"}"#
        ))));
    }
}
