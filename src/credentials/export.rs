//! Exporting the configured site's stored cookies for another program.
//! Refused (and audited) unless the stored cookies are usable now and no
//! CAPTCHA blocks the session; the site is never asked.

use time::OffsetDateTime;

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::cookies::export::{self, ExportFormat};
use crate::secret::SecretString;
use crate::vault::StoredSession;

use super::{CredentialError, Credentials, error_code, expiry_reason};

/// Cookies written out for another program. `text` is the secret to print;
/// the rest may be shown.
#[derive(Debug)]
pub struct CookieExport {
    pub format: ExportFormat,
    /// The names of the cookies written, in order.
    pub names: Vec<String>,
    /// The cookies in `format`, ending with a newline.
    pub text: SecretString,
}

impl Credentials {
    /// The configured site's stored cookies in `format`, audited as
    /// `cookies_exported` (names, never values). Refused with exit 3 when
    /// none are stored or they are expired (found expired now: marked so,
    /// once, like `status` does), exit 4 in the stored CAPTCHA state.
    pub fn export_cookies(
        &self,
        format: ExportFormat,
        now: OffsetDateTime,
    ) -> Result<CookieExport, CredentialError> {
        self.try_export(format, now)
            .map_err(|e| self.export_failed(format, e))
    }

    fn try_export(
        &self,
        format: ExportFormat,
        now: OffsetDateTime,
    ) -> Result<CookieExport, CredentialError> {
        let site = self.require_site("export its cookies")?.clone();
        let doc = self.read("export cookies")?.unwrap_or_default();
        let own = self.own(&doc);
        let Some(stored) = own.cookies else {
            return Err(CredentialError::NoCookies {
                site: site.to_string(),
                intake: self.paths.intake_file.clone(),
            });
        };
        if let Some(reason) = expiry_reason(&stored.expiry_state(now)) {
            if stored.expired.is_none() {
                self.mark_expired(now, &reason, None)?;
            }
            return Err(CredentialError::CookiesExpired { reason });
        }
        match own.session {
            Some(StoredSession::Expired { reason }) => {
                return Err(CredentialError::CookiesExpired { reason });
            }
            Some(StoredSession::Captcha { login_url, .. }) => {
                return Err(CredentialError::Captcha { login_url });
            }
            // A gateway's own sign-in says nothing of Confluence's cookies.
            Some(
                StoredSession::SignedIn | StoredSession::Expiring | StoredSession::Gateway { .. },
            )
            | None => {}
        }
        let site_url = site.url().ok_or(CredentialError::NoSite {
            action: "export its cookies",
        })?;
        let text = export::render(&stored.jar, &site_url, format).ok_or_else(|| {
            CredentialError::NoCookies {
                site: site.to_string(),
                intake: self.paths.intake_file.clone(),
            }
        })?;
        let names = stored.jar.names();
        self.audit.append(
            AuditEntry::new(
                AuditEvent::CookiesExported,
                AuditOutcome::Success,
                format!(
                    "Exported {} stored cookies for {site} as {format}",
                    names.len()
                ),
            )
            .details(AuditDetails {
                count: Some(names.len()),
                names: Some(names.clone()),
                format: Some(format.to_string()),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        tracing::info!(count = names.len(), %format, "stored cookies exported");
        Ok(CookieExport {
            format,
            names,
            text,
        })
    }

    /// Audits a refused or failed export (once: an unreadable vault or an
    /// unwritable audit log already said so) and hands the error back.
    fn export_failed(&self, format: ExportFormat, err: CredentialError) -> CredentialError {
        if matches!(err, CredentialError::Vault(_) | CredentialError::Audit(_)) {
            return err;
        }
        let entry = AuditEntry::new(
            AuditEvent::CookieOperationFailed,
            AuditOutcome::Failure,
            format!("Could not export cookies: {err}"),
        )
        .details(AuditDetails {
            reason: Some(error_code(&err).to_string()),
            format: Some(format.to_string()),
            site: self.site_detail(),
            ..Default::default()
        });
        if let Err(e) = self.audit.append(entry) {
            tracing::error!(error = %e, "audit log unwritable while reporting a refused export");
        }
        err
    }
}
