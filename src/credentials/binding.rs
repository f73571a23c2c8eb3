//! Binding a version 1 vault's credentials to the configured site, the
//! vault's read-modify-write, and the audit head stored in the vault.

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::vault::{VaultDocument, VaultError};

use super::{CredentialError, Credentials};

impl Credentials {
    /// Read-modify-write of the vault under its lock. A version 1 vault's
    /// credentials are first bound to the configured site (and audited once
    /// written); the audit log's head at the time of the write is stored in
    /// the document; sites left empty are dropped.
    pub(super) fn update<T>(
        &self,
        action: &str,
        f: impl FnOnce(&mut VaultDocument) -> T,
    ) -> Result<T, CredentialError> {
        let mut bound = false;
        let result = self.vault.update(|doc| {
            if let Some(site) = &self.site {
                bound = doc.bind_unbound(site).is_some();
            }
            let out = f(doc);
            doc.prune();
            match self.audit.head() {
                Ok(Some(head)) => doc.audit_head = Some(head),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "audit head unreadable; the vault keeps the previous one");
                }
            }
            out
        });
        let out = result.map_err(|e| self.vault_failed(action, e))?;
        if bound {
            self.audit_bound()?;
        }
        Ok(out)
    }

    fn audit_bound(&self) -> Result<(), CredentialError> {
        let site = self.site_detail().unwrap_or_default();
        self.audit.append(
            AuditEntry::new(
                AuditEvent::VaultBoundToSite,
                AuditOutcome::Info,
                format!(
                    "The vault's credentials, stored before sites were recorded, now belong to {site}; the vault was rewritten in format 2"
                ),
            )
            .details(AuditDetails {
                path: Some(self.paths.vault_file.display().to_string()),
                site: Some(site),
                ..Default::default()
            }),
        )?;
        Ok(())
    }

    /// Reads the vault; a version 1 vault is bound to the configured site
    /// on this first open (rewritten as version 2, and audited). With no
    /// site configured it is read as it is and not rewritten.
    pub(super) fn read(&self, action: &str) -> Result<Option<VaultDocument>, CredentialError> {
        let doc = self
            .vault
            .load()
            .map_err(|e| self.vault_failed(action, e))?;
        match doc {
            Some(d) if d.unbound.is_some() && self.site.is_some() => {
                // Under the lock, from a fresh read: another process may
                // have bound it meanwhile (then nothing happens here).
                self.update(action, |_| ())?;
                Ok(self
                    .vault
                    .load()
                    .map_err(|e| self.vault_failed(action, e))?)
            }
            other => Ok(other),
        }
    }

    /// The whole vault document (one scrypt run), or an empty one when no
    /// vault exists yet. A version 1 vault is bound to the configured site
    /// first (see `read`).
    pub fn load(&self) -> Result<VaultDocument, CredentialError> {
        Ok(self.read("read the vault")?.unwrap_or_default())
    }

    /// The audit log's head stored at the last vault write, read without
    /// writing anything (not even an audit record when the vault is
    /// unreadable: `audit --verify` must not change the log it checks).
    pub(crate) fn stored_audit_head(&self) -> Result<Option<crate::audit::LogHead>, VaultError> {
        Ok(self.vault.load()?.and_then(|d| d.audit_head))
    }
}
