//! The Chromium family (Chromium, Chrome, Brave, Edge): the `Cookies`
//! database (`Network/Cookies` in current versions, `Cookies` before),
//! read from a private copy; values decrypted as `crypto` describes.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, params_from_iter};
use time::OffsetDateTime;
use url::Url;
use zeroize::Zeroizing;

use super::copy::private_copy;
use super::crypto::{self, CookieKey, Scheme};
use super::{
    BrowserCookies, BrowserError, BrowserKind, Profile, belongs, candidate_hosts, keys,
    placeholders,
};
use crate::cookies::jar::Cookie;

/// Seconds from 1601-01-01 (Chromium's epoch) to 1970-01-01.
const WINDOWS_TO_UNIX_SECS: i64 = 11_644_473_600;

/// The profile's cookie database, if it has one.
pub(crate) fn database(dir: &Path) -> Option<PathBuf> {
    [dir.join("Network").join("Cookies"), dir.join("Cookies")]
        .into_iter()
        .find(|p| p.exists())
}

/// `expires_utc`/`creation_utc`: microseconds since 1601-01-01 UTC; 0 is
/// "none" (a session cookie).
pub(crate) fn chromium_time(micros: i64) -> Option<OffsetDateTime> {
    if micros <= 0 {
        return None;
    }
    let unix_micros = i128::from(micros) - i128::from(WINDOWS_TO_UNIX_SECS) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(unix_micros * 1000).ok()
}

/// The keys a profile's values may need, fetched once and only when a
/// value needs one.
struct Keys {
    kind: BrowserKind,
    v11: Option<CookieKey>,
    mac: Option<CookieKey>,
}

/// Where a key comes from (the Secret Service, the Keychain).
type KeyFetch = fn(BrowserKind) -> Result<CookieKey, keys::KeyUnavailable>;

impl Keys {
    fn for_scheme(&mut self, scheme: Scheme) -> Result<CookieKey, BrowserError> {
        let kind = self.kind;
        let (slot, fetch): (_, KeyFetch) = if cfg!(target_os = "macos") {
            (&mut self.mac, keys::macos_key)
        } else if scheme == Scheme::V11 {
            (&mut self.v11, keys::linux_v11_key)
        } else {
            return Ok(CookieKey::linux_basic());
        };
        match slot {
            Some(key) => Ok(key.clone()),
            None => {
                let key = fetch(kind)?;
                *slot = Some(key.clone());
                Ok(key)
            }
        }
    }
}

/// Reads the site's cookies from a Chromium-family profile.
pub(super) fn read(profile: &Profile, site: &Url) -> Result<BrowserCookies, BrowserError> {
    let db = database(&profile.dir).ok_or_else(|| BrowserError::NotAProfile {
        browser: profile.kind.name(),
        path: profile.dir.clone(),
    })?;
    let copy = private_copy(&db)?;
    let corrupt = |e: rusqlite::Error| BrowserError::CorruptDatabase {
        path: db.clone(),
        reason: e.to_string(),
    };
    let conn = Connection::open_with_flags(
        &copy.db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(corrupt)?;
    let version: u32 = conn
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get::<_, String>(0)
        })
        .map_err(corrupt)?
        .trim()
        .parse()
        .unwrap_or(0);
    // Partitioned (CHIPS) cookies belong to another top-level site.
    let partitioned = conn
        .prepare("SELECT top_frame_site_key FROM cookies LIMIT 0")
        .is_ok();
    let hosts = candidate_hosts(site);
    let sql = format!(
        "SELECT host_key, name, value, encrypted_value, path, expires_utc, is_secure, \
         is_httponly, is_persistent, creation_utc FROM cookies WHERE host_key IN ({}){} \
         ORDER BY creation_utc",
        placeholders(hosts.len()),
        if partitioned {
            " AND top_frame_site_key = ''"
        } else {
            ""
        }
    );
    let mut stmt = conn.prepare(&sql).map_err(corrupt)?;
    let mut rows = stmt
        .query(params_from_iter(hosts.iter()))
        .map_err(corrupt)?;
    let mut keys = Keys {
        kind: profile.kind,
        v11: None,
        mac: None,
    };
    let mut cookies = Vec::new();
    let mut newest_session = None;
    while let Some(row) = rows.next().map_err(corrupt)? {
        let host: String = row.get(0).map_err(corrupt)?;
        let path: String = row
            .get::<_, Option<String>>(4)
            .map_err(corrupt)?
            .unwrap_or_default();
        if !belongs(&host, &path, site) {
            continue;
        }
        let name: String = row.get(1).map_err(corrupt)?;
        let plain = Zeroizing::new(
            row.get::<_, Option<String>>(2)
                .map_err(corrupt)?
                .unwrap_or_default(),
        );
        let encrypted = Zeroizing::new(
            row.get::<_, Option<Vec<u8>>>(3)
                .map_err(corrupt)?
                .unwrap_or_default(),
        );
        let value = if !plain.is_empty() || encrypted.is_empty() {
            plain
        } else {
            decrypt_value(&mut keys, &encrypted, &name, &host, &db, version)?
        };
        let mut cookie = Cookie::new(name, &value);
        let persistent = row.get::<_, Option<i64>>(8).map_err(corrupt)?.unwrap_or(1) != 0;
        cookie.expires = if persistent {
            row.get::<_, Option<i64>>(5)
                .map_err(corrupt)?
                .and_then(chromium_time)
        } else {
            None
        };
        cookie.secure = row.get::<_, Option<i64>>(6).map_err(corrupt)?.unwrap_or(0) != 0;
        cookie.http_only = row.get::<_, Option<i64>>(7).map_err(corrupt)?.unwrap_or(0) != 0;
        cookie.domain = Some(host);
        cookie.path = Some(path);
        if cookie.is_session_cookie() {
            let created = row
                .get::<_, Option<i64>>(9)
                .map_err(corrupt)?
                .and_then(chromium_time);
            newest_session = newest_session.max(created);
        }
        cookies.push(cookie);
    }
    Ok(BrowserCookies {
        cookies,
        profile: profile.clone(),
        newest_session,
    })
}

fn decrypt_value(
    keys: &mut Keys,
    encrypted: &[u8],
    name: &str,
    host: &str,
    db: &Path,
    version: u32,
) -> Result<Zeroizing<String>, BrowserError> {
    let (scheme, ciphertext) = crypto::scheme_of(encrypted);
    let shown = |s: &str| crate::text::for_terminal(s).into_owned();
    match scheme {
        Scheme::V20 => {
            return Err(BrowserError::AppBound {
                name: shown(name),
                host: shown(host),
                path: db.to_path_buf(),
            });
        }
        Scheme::Unknown => {
            return Err(BrowserError::UnsupportedEncryption {
                name: shown(name),
                host: shown(host),
                path: db.to_path_buf(),
                what: "no v10/v11 prefix: Windows DPAPI or an unknown format",
            });
        }
        Scheme::V10 | Scheme::V11 if cfg!(windows) => {
            return Err(BrowserError::UnsupportedEncryption {
                name: shown(name),
                host: shown(host),
                path: db.to_path_buf(),
                what: "Windows keeps the key under DPAPI",
            });
        }
        Scheme::V10 | Scheme::V11 => {}
    }
    let key = keys.for_scheme(scheme)?;
    let decrypt_error = |why| BrowserError::Decrypt {
        name: shown(name),
        host: shown(host),
        why,
    };
    let plain = crypto::decrypt(&key, ciphertext).map_err(decrypt_error)?;
    crypto::strip_host_hash(plain, host, version).map_err(decrypt_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_times_count_microseconds_from_1601() {
        // 1601-01-01 + 11644473600 s is the Unix epoch.
        assert_eq!(
            chromium_time(11_644_473_600_000_000),
            Some(OffsetDateTime::UNIX_EPOCH)
        );
        let t = chromium_time(13_400_000_000_123_456).unwrap();
        assert_eq!(t.unix_timestamp(), 13_400_000_000 - 11_644_473_600);
        assert_eq!(t.microsecond(), 123_456);
        assert_eq!(chromium_time(0), None);
    }
}
