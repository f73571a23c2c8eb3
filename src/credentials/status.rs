//! What is stored: the configured site's status and the list of sites.

use time::OffsetDateTime;

use crate::site::SiteKey;
use crate::vault::SiteCredentials;

use super::{CookieStatus, CredentialError, Credentials, SiteSummary, expiry_reason, summary};

impl Credentials {
    /// Reports what is stored. Cookies found expired are marked so in the
    /// vault and audited, once.
    pub fn status(&self, now: OffsetDateTime) -> Result<CookieStatus, CredentialError> {
        let header = match self.vault.inspect() {
            Ok(h) => h,
            Err(e) => return Err(self.vault_failed("read the vault", e)),
        };
        let mut doc = self.read("read the vault")?.unwrap_or_default();
        let mut own = self.own(&doc);
        if let Some(stored) = own.cookies.as_ref()
            && let Some(reason) = expiry_reason(&stored.expiry_state(now))
            && stored.expired.is_none()
        {
            self.mark_expired(now, &reason, None)?;
            doc = self.read("read the vault")?.unwrap_or_default();
            own = self.own(&doc);
        }
        let other_sites = doc
            .sites_with_credentials()
            .into_iter()
            .filter(|s| self.site.as_ref().is_none_or(|own| own.as_str() != s))
            .collect();
        Ok(CookieStatus {
            site: self.site.clone(),
            other_sites,
            cookies: own
                .cookies
                .as_ref()
                .map(|c| summary(c, now, &self.gateway_cookie_names)),
            token_stored: own.api_token.is_some(),
            gateway: own
                .gateway
                .iter()
                .map(|g| g.name().to_string())
                .chain(
                    own.client_identity
                        .as_ref()
                        .map(|_| super::gateway::CLIENT_CERT_NAME.to_string()),
                )
                .collect(),
            session: own.session.clone(),
            vault_path: self.paths.vault_file.clone(),
            vault_exists: header.is_some(),
            machine_bound: header.as_ref().map(|h| h.machine_bound),
            passphrase_used: header.as_ref().map(|h| h.passphrase_used),
            permission_warnings: self.vault.permission_warnings(),
        })
    }

    /// Every site the vault holds, with its state (no values), the
    /// configured one marked. Credentials of a version 1 vault read with
    /// no site configured are listed without a site.
    pub fn sites(&self, now: OffsetDateTime) -> Result<Vec<SiteSummary>, CredentialError> {
        let doc = self.load()?;
        let summarise = |site: Option<String>, c: &SiteCredentials| SiteSummary {
            configured: site.is_some()
                && self.site.as_ref().map(SiteKey::as_str) == site.as_deref(),
            site,
            cookies: c
                .cookies
                .as_ref()
                .map(|c| summary(c, now, &self.gateway_cookie_names)),
            token_stored: c.api_token.is_some(),
            token_saved_at: c.token_saved_at,
            session: c.session.clone(),
        };
        let mut out: Vec<SiteSummary> = doc
            .sites
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(k, c)| summarise(Some(k.clone()), c))
            .collect();
        if let Some(legacy) = doc.unbound.as_ref().filter(|c| !c.is_empty()) {
            out.push(summarise(None, legacy));
        }
        Ok(out)
    }
}
