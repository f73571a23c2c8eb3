//! What a session does to the stored cookies: marking them expired,
//! saving refreshed ones, reading the usable ones, auditing events.

use time::OffsetDateTime;

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::cookies::jar::{CookieJar, CookieSource, StoredCookies};
use crate::vault::{StoredSession, VaultDocument};

use super::{CredentialError, Credentials};

impl Credentials {
    /// Marks the stored cookies expired (by age, or because the server said
    /// so) and audits it the first time only. Returns whether it was new.
    pub(crate) fn mark_expired(
        &self,
        now: OffsetDateTime,
        reason: &str,
        http_status: Option<u16>,
    ) -> Result<bool, CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(false);
        };
        let marked = self.update("mark cookies expired", |doc: &mut VaultDocument| {
            let entry = doc.sites.get_mut(site.as_str())?;
            let c = entry.cookies.as_mut()?;
            let marked = c.mark_expired(now, reason).then(|| c.jar.names());
            entry.session = Some(StoredSession::Expired {
                reason: reason.to_string(),
            });
            marked
        })?;
        if let Some(names) = &marked {
            self.audit.append(
                AuditEntry::new(
                    AuditEvent::CookiesExpired,
                    AuditOutcome::Warning,
                    format!("Stored cookies expired: {reason}"),
                )
                .details(AuditDetails {
                    count: Some(names.len()),
                    names: Some(names.clone()),
                    reason: Some(reason.to_string()),
                    http_status,
                    site: Some(site.to_string()),
                    ..Default::default()
                }),
            )?;
        }
        Ok(marked.is_some())
    }

    /// Writes back cookies the site refreshed with `Set-Cookie` into the
    /// stored set they came from (the one saved at `set`), and audits the
    /// names refreshed (never the values). Nothing is written when the set
    /// was replaced meanwhile (an import is a new set, never overwritten by
    /// an older session's jar), was marked expired, or already holds a
    /// later refresh (another process's): the newest value always wins.
    /// Returns whether it wrote.
    pub(crate) fn refresh_cookies_of(
        &self,
        set: OffsetDateTime,
        jar: CookieJar,
        names: &[String],
        refreshed_at: OffsetDateTime,
    ) -> Result<bool, CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(false);
        };
        let updated = self.update(
            "save refreshed cookies",
            |doc: &mut VaultDocument| match doc
                .sites
                .get_mut(site.as_str())
                .and_then(|s| s.cookies.as_mut())
            {
                Some(c)
                    if c.expired.is_none()
                        && c.saved_at == set
                        && c.refreshed_at.is_none_or(|at| at < refreshed_at) =>
                {
                    c.jar = jar;
                    c.refreshed_at = Some(refreshed_at);
                    true
                }
                _ => false,
            },
        )?;
        if updated {
            self.audit.append(
                AuditEntry::new(
                    AuditEvent::CookiesRefreshed,
                    AuditOutcome::Success,
                    format!(
                        "The site refreshed {} session cookie(s); saved to the vault",
                        names.len()
                    ),
                )
                .details(AuditDetails {
                    count: Some(names.len()),
                    names: Some(names.to_vec()),
                    source: Some(CookieSource::Refresh.to_string()),
                    site: Some(site.to_string()),
                    ..Default::default()
                }),
            )?;
        }
        Ok(updated)
    }

    /// The site accepted the configured site's credentials again after
    /// they were found dead (a verification the user asked for): the
    /// cookies' expiry mark goes (a set only too old by our lifetime guess
    /// lives another lifetime), the session is recorded `state`, and the
    /// restoration is audited (`entry`).
    pub(crate) fn restore_session(
        &self,
        now: OffsetDateTime,
        state: StoredSession,
        entry: AuditEntry,
    ) -> Result<(), CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(());
        };
        let ttl = self.ttl;
        self.update("record the restored session", |doc: &mut VaultDocument| {
            let own = doc.site_mut(&site);
            if let Some(c) = own.cookies.as_mut() {
                c.revive(now, ttl);
            }
            own.session = Some(state);
        })?;
        self.audit.append(entry)?;
        Ok(())
    }

    /// The configured site's stored session state (one scrypt run).
    pub fn stored_session(&self) -> Result<Option<StoredSession>, CredentialError> {
        let doc = self.read("read the vault")?.unwrap_or_default();
        Ok(self.own(&doc).session)
    }

    /// Records the configured site's session state; nothing is written when
    /// it is already the stored one. Returns whether it changed.
    pub(crate) fn set_session(&self, state: StoredSession) -> Result<bool, CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(false);
        };
        if self.stored_session()?.as_ref() == Some(&state) {
            return Ok(false);
        }
        self.update("record the session state", |doc: &mut VaultDocument| {
            doc.site_mut(&site).session = Some(state);
        })?;
        Ok(true)
    }

    /// Appends a record about the session (verification, expiry, CAPTCHA).
    pub(crate) fn record(&self, entry: AuditEntry) -> Result<(), CredentialError> {
        self.audit.append(entry)?;
        Ok(())
    }

    /// Cookies that may be sent: stored, unexpired, not marked expired.
    pub fn usable_cookies(
        &self,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCookies>, CredentialError> {
        let doc = self.read("read the vault")?.unwrap_or_default();
        Ok(self.own(&doc).cookies.filter(|c| c.is_usable(now)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{FlagOverrides, Settings};
    use crate::cookies::jar::Cookie;
    use crate::credentials::ImportInput;
    use crate::secret::ExposeSecret;
    use crate::vault::MachineIdSource;

    fn creds(dir: &std::path::Path) -> Credentials {
        let vars: HashMap<String, String> = [
            ("CONFLUENCE_DATA_DIR", dir.display().to_string()),
            ("CONFLUENCE_KDF_LOG_N", "10".to_string()),
            ("CONFLUENCE_BASE_URL", "https://c.example.com".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let settings = Settings::from_vars(&FlagOverrides::default(), &vars).unwrap();
        Credentials::with_machine_id(&settings, MachineIdSource::Fixed("test-machine".into()))
    }

    fn import(c: &Credentials, value: &str) -> StoredCookies {
        let paste = zeroize::Zeroizing::new(format!("JSESSIONID={value}"));
        c.import(ImportInput::Stdin(paste), OffsetDateTime::now_utc())
            .unwrap();
        c.usable_cookies(OffsetDateTime::now_utc())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_refresh_of_an_older_set_never_overwrites_a_newer_import() {
        let dir = tempfile::tempdir().unwrap();
        let c = creds(dir.path());
        let old = import(&c, "old-session");
        std::thread::sleep(std::time::Duration::from_millis(5));
        import(&c, "fresh-import");
        let mut refreshed = old.jar.clone();
        refreshed.insert(Cookie::new("JSESSIONID", "old-session-rotated"));
        let names = vec!["JSESSIONID".to_string()];
        let at = OffsetDateTime::now_utc();
        let wrote = c
            .refresh_cookies_of(old.saved_at, refreshed.clone(), &names, at)
            .unwrap();
        assert!(!wrote);
        let now = c
            .usable_cookies(OffsetDateTime::now_utc())
            .unwrap()
            .unwrap();
        let value = now.jar.get("JSESSIONID").unwrap().value.expose_secret();
        assert_eq!(value, "fresh-import");
        // Into its own set it writes.
        let wrote = c
            .refresh_cookies_of(now.saved_at, refreshed.clone(), &names, at)
            .unwrap();
        assert!(wrote);
        let after = c
            .usable_cookies(OffsetDateTime::now_utc())
            .unwrap()
            .unwrap();
        let value = after.jar.get("JSESSIONID").unwrap().value.expose_secret();
        assert_eq!(value, "old-session-rotated");
        // An older refresh (another process's, saved late) never goes
        // over a newer one.
        let mut older = refreshed;
        older.insert(Cookie::new("JSESSIONID", "older-rotation"));
        let earlier = at - time::Duration::seconds(1);
        assert!(
            !c.refresh_cookies_of(now.saved_at, older, &names, earlier)
                .unwrap()
        );
        let kept = c
            .usable_cookies(OffsetDateTime::now_utc())
            .unwrap()
            .unwrap();
        assert_eq!(
            kept.jar.get("JSESSIONID").unwrap().value.expose_secret(),
            "old-session-rotated"
        );
    }
}
