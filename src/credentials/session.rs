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

    /// Writes back cookies the server refreshed with `Set-Cookie`, keeping the
    /// set's metadata, and audits the names refreshed (never the values).
    pub(crate) fn refresh_cookies(
        &self,
        jar: CookieJar,
        names: &[String],
    ) -> Result<(), CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(());
        };
        let updated = self.update(
            "save refreshed cookies",
            |doc: &mut VaultDocument| match doc
                .sites
                .get_mut(site.as_str())
                .and_then(|s| s.cookies.as_mut())
            {
                Some(c) if c.expired.is_none() => {
                    c.jar = jar;
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
