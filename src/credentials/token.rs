//! Storing and clearing an API token.

use time::OffsetDateTime;

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::secret::{ExposeSecret, SecretString};
use crate::vault::{SiteCredentials, VaultDocument};

use super::{CredentialError, Credentials, SiteScope};

impl Credentials {
    /// Stores an API token (or PAT) in the vault for the configured site,
    /// with the user name it is sent with (Basic), if one was given.
    pub(crate) fn store_token(
        &self,
        token: SecretString,
        username: Option<String>,
        now: OffsetDateTime,
    ) -> Result<(), CredentialError> {
        let site = self.require_site("store the token again")?.clone();
        self.check_token_format(&token)?;
        self.update("store the token", |doc: &mut VaultDocument| {
            let entry = doc.site_mut(&site);
            entry.api_token = Some(token);
            entry.token_saved_at = Some(now);
            entry.username = username.filter(|u| !u.trim().is_empty());
            entry.session = None;
        })?;
        self.audit.append(
            AuditEntry::new(
                AuditEvent::TokenStored,
                AuditOutcome::Success,
                format!("Stored an API token in the vault for {site}"),
            )
            .details(AuditDetails {
                path: Some(self.paths.vault_file.display().to_string()),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        Ok(())
    }

    /// Refuses (and audits) a token that cannot be one: empty, or with
    /// spaces or control characters in it.
    pub(crate) fn check_token_format(&self, token: &SecretString) -> Result<(), CredentialError> {
        let t = token.expose_secret();
        if t.is_empty() || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
            self.audit.append(
                AuditEntry::new(
                    AuditEvent::CookieOperationFailed,
                    AuditOutcome::Failure,
                    "Refused to store an empty or malformed token",
                )
                .details(AuditDetails {
                    reason: Some("bad_token".into()),
                    ..Default::default()
                }),
            )?;
            return Err(CredentialError::BadToken);
        }
        Ok(())
    }

    /// Removes the stored API token of the configured site (or of every
    /// site). Returns how many tokens there were.
    pub(crate) fn clear_token(&self, scope: SiteScope) -> Result<usize, CredentialError> {
        let site = match scope {
            SiteScope::Configured => Some(
                self.require_site("clear its token (or pass --all-sites)")?
                    .clone(),
            ),
            SiteScope::All => None,
        };
        let had = match self.vault.load() {
            Ok(None) => 0,
            Ok(Some(_)) => self.update("clear the token", |doc: &mut VaultDocument| {
                let mut had = 0;
                doc.for_each_in_scope(site.as_ref(), |c: &mut SiteCredentials| {
                    c.token_saved_at = None;
                    // The user name belongs to the token.
                    c.username = None;
                    had += usize::from(c.api_token.take().is_some());
                });
                if site.is_none() {
                    // Without a site to bind them to, a version 1 vault's
                    // cookies cannot be kept in a v2 file.
                    doc.unbound = None;
                }
                had
            })?,
            Err(e) => return Err(self.vault_failed("clear the token", e)),
        };
        let whose = match &site {
            Some(site) => format!("for {site}"),
            None => "for all sites".to_string(),
        };
        self.audit.append(
            AuditEntry::new(
                AuditEvent::TokenCleared,
                AuditOutcome::Success,
                if had > 0 {
                    format!("Removed the stored API token {whose}")
                } else {
                    format!("No stored API token to remove {whose}")
                },
            )
            .details(AuditDetails {
                count: Some(had),
                site: site.as_ref().map(ToString::to_string),
                ..Default::default()
            }),
        )?;
        Ok(had)
    }
}
