//! Clearing stored cookies.

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::vault::{SiteCredentials, VaultDocument, VaultError};

use super::{ClearReport, CredentialError, Credentials, SiteScope};

impl Credentials {
    /// Deletes the stored cookies of the configured site (or of every site).
    /// The vault file stays (it keeps the other sites, tokens and the audit
    /// head). An unreadable vault is kept aside under a new name (never
    /// deleted) so the user can start again.
    pub(crate) fn clear_cookies(&self, scope: SiteScope) -> Result<ClearReport, CredentialError> {
        let site = match scope {
            SiteScope::Configured => Some(
                self.require_site("clear its cookies (or pass --all-sites)")?
                    .clone(),
            ),
            SiteScope::All => None,
        };
        let report = match self.vault.load() {
            Ok(None) => ClearReport {
                removed: 0,
                kept_aside: None,
            },
            Ok(Some(_)) => {
                let removed = self.update("clear cookies", |doc: &mut VaultDocument| {
                    let mut removed = 0;
                    doc.for_each_in_scope(site.as_ref(), |c: &mut SiteCredentials| {
                        c.session = None;
                        removed += c.cookies.take().map_or(0, |c| c.jar.len());
                    });
                    // Without a site to bind it to, what a version 1 vault
                    // holds besides cookies cannot be kept in a v2 file.
                    if site.is_none() && doc.unbound.take().is_some_and(|c| !c.is_empty()) {
                        tracing::warn!(
                            "clearing all sites without a site configured dropped a version 1 vault's token"
                        );
                    }
                    removed
                })?;
                ClearReport {
                    removed,
                    kept_aside: None,
                }
            }
            // Refused or locked: nothing is wrong with the vault's content,
            // so there is nothing to keep aside.
            Err(e @ (VaultError::Unsafe(_) | VaultError::LockTimeout(_))) => {
                return Err(self.vault_failed("clear cookies", e));
            }
            Err(unreadable) => {
                let kept = self
                    .vault
                    .keep_damaged_aside()
                    .map_err(|e| self.vault_failed("keep the damaged vault aside", e))?;
                self.audit.append(
                    AuditEntry::new(
                        AuditEvent::VaultKeptAside,
                        AuditOutcome::Warning,
                        "The unreadable vault was kept aside; a new one will be created on the next import",
                    )
                    .details(AuditDetails {
                        reason: Some(unreadable.reason_code().to_string()),
                        kept_at: kept.as_ref().map(|p| p.display().to_string()),
                        ..Default::default()
                    }),
                )?;
                ClearReport {
                    removed: 0,
                    kept_aside: kept,
                }
            }
        };
        let whose = match &site {
            Some(site) => format!("for {site}"),
            None => "for all sites".to_string(),
        };
        self.audit.append(
            AuditEntry::new(
                AuditEvent::CookiesCleared,
                AuditOutcome::Success,
                format!("Cleared {} stored cookies {whose}", report.removed),
            )
            .details(AuditDetails {
                count: Some(report.removed),
                site: site.as_ref().map(ToString::to_string),
                ..Default::default()
            }),
        )?;
        Ok(report)
    }
}
