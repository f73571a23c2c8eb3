//! The proxy's named client tokens, kept per site in the vault as SHA-256
//! hashes (`proxy clients add|list|revoke`). A token is shown once, when
//! it is made; the vault, the audit log and every listing hold its name
//! only. Adding, revoking and a client's first use are audited.

use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::secret::SecretString;
use crate::vault::{ProxyClient, VaultDocument};

use super::{CredentialError, Credentials};

/// The longest client name.
const MAX_NAME: usize = 64;

/// What `proxy clients list` shows of one client (never a token or hash).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClientListing {
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    pub expired: bool,
    pub allow_writes: bool,
}

/// The SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A client name: letters, digits, `-`, `_`, `.`; 1 to 64 of them.
pub fn check_client_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "a client name is 1 to {MAX_NAME} letters, digits, '-', '_' or '.' (e.g. onyx-indexer)"
        ))
    }
}

impl Credentials {
    /// Stores a new client of the configured site's proxy with the hash of
    /// `token`. Refuses a name already in use (revoke it first).
    pub fn add_proxy_client(
        &self,
        name: &str,
        token: &str,
        allow_writes: bool,
        expires_in_days: Option<u32>,
    ) -> Result<ProxyClient, CredentialError> {
        let site = self.require_site("add it again")?.clone();
        let now = OffsetDateTime::now_utc();
        let client = ProxyClient {
            name: name.to_string(),
            token_sha256: token_hash(token),
            created: now,
            expires: expires_in_days.map(|d| now + Duration::days(i64::from(d))),
            allow_writes,
            last_used: None,
        };
        let stored = client.clone();
        let taken = self.update("store the proxy client", |doc: &mut VaultDocument| {
            let own = doc.site_mut(&site);
            if own.proxy_clients.iter().any(|c| c.name == stored.name) {
                return true;
            }
            own.proxy_clients.push(stored);
            false
        })?;
        if taken {
            return Err(CredentialError::Refused(format!(
                "a client named {name} already exists for {site}; revoke it first (`confluence-tui proxy clients revoke {name}`) or pick another name"
            )));
        }
        self.client_record(
            AuditEvent::ProxyClientAdded,
            name,
            &site.to_string(),
            format!(
                "Added the proxy client {name} for {site}{}{}",
                if allow_writes {
                    " (writes allowed)"
                } else {
                    ""
                },
                expires_in_days
                    .map(|d| format!(", expiring in {d} days"))
                    .unwrap_or_default()
            ),
        )?;
        Ok(client)
    }

    /// Removes the named client of the configured site's proxy; false when
    /// there was none of that name.
    pub fn revoke_proxy_client(&self, name: &str) -> Result<bool, CredentialError> {
        let site = self.require_site("revoke it again")?.clone();
        if !self.paths.vault_file.exists() {
            return Ok(false);
        }
        let removed = self.update("revoke the proxy client", |doc: &mut VaultDocument| {
            let own = doc.site_mut(&site);
            let before = own.proxy_clients.len();
            own.proxy_clients.retain(|c| c.name != name);
            own.proxy_clients.len() != before
        })?;
        if removed {
            self.client_record(
                AuditEvent::ProxyClientRevoked,
                name,
                &site.to_string(),
                format!("Revoked the proxy client {name} of {site}"),
            )?;
        }
        Ok(removed)
    }

    /// The configured site's proxy clients, names and dates only.
    pub fn list_proxy_clients(&self) -> Result<Vec<ClientListing>, CredentialError> {
        self.require_site("list them again")?;
        if !self.paths.vault_file.exists() {
            return Ok(Vec::new());
        }
        let doc = self.load()?;
        let now = OffsetDateTime::now_utc();
        Ok(self
            .own(&doc)
            .proxy_clients
            .iter()
            .map(|c| ClientListing {
                name: c.name.clone(),
                created: c.created,
                last_used: c.last_used,
                expires: c.expires,
                expired: c.expires.is_some_and(|e| e <= now),
                allow_writes: c.allow_writes,
            })
            .collect())
    }

    /// Records that the named client used the proxy (its first request of
    /// this proxy's run): `last_used` in the vault, `proxy_client_used` in
    /// the audit log.
    pub fn proxy_client_used(&self, name: &str) -> Result<(), CredentialError> {
        let site = self.require_site("use it again")?.clone();
        let now = OffsetDateTime::now_utc();
        self.update("note the proxy client's use", |doc: &mut VaultDocument| {
            if let Some(c) = doc
                .site_mut(&site)
                .proxy_clients
                .iter_mut()
                .find(|c| c.name == name)
            {
                c.last_used = Some(now);
            }
        })?;
        self.client_record(
            AuditEvent::ProxyClientUsed,
            name,
            &site.to_string(),
            format!("The proxy client {name} used the session of {site}"),
        )
    }

    /// The port the configured site's proxy listened on last, if any.
    pub fn proxy_port(&self) -> Result<Option<u16>, CredentialError> {
        if self.site().is_none() || !self.paths.vault_file.exists() {
            return Ok(None);
        }
        let doc = self.load()?;
        Ok(self.own(&doc).proxy_port)
    }

    /// Remembers the port the configured site's proxy listens on.
    pub fn remember_proxy_port(&self, port: u16) -> Result<(), CredentialError> {
        let site = self.require_site("start it again")?.clone();
        self.update("remember the proxy's port", |doc: &mut VaultDocument| {
            doc.site_mut(&site).proxy_port = Some(port);
        })
    }

    /// The certificate (and key) `proxy --tls` made for the configured
    /// site, with the names it was made for.
    pub fn proxy_tls(&self) -> Result<Option<(SecretString, Vec<String>)>, CredentialError> {
        if self.site().is_none() || !self.paths.vault_file.exists() {
            return Ok(None);
        }
        let doc = self.load()?;
        let own = self.own(&doc);
        Ok(own.proxy_tls.map(|pem| (pem, own.proxy_tls_names)))
    }

    /// Keeps the certificate `proxy --tls` made for the configured site.
    pub fn store_proxy_tls(
        &self,
        pem: SecretString,
        names: Vec<String>,
    ) -> Result<(), CredentialError> {
        let site = self.require_site("start it again")?.clone();
        self.update("keep the proxy's certificate", |doc: &mut VaultDocument| {
            let own = doc.site_mut(&site);
            own.proxy_tls = Some(pem);
            own.proxy_tls_names = names;
        })
    }

    fn client_record(
        &self,
        event: AuditEvent,
        name: &str,
        site: &str,
        message: String,
    ) -> Result<(), CredentialError> {
        self.audit.append(
            AuditEntry::new(event, AuditOutcome::Success, message).details(AuditDetails {
                names: Some(vec![name.to_string()]),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_and_hashes_are_sha256() {
        for ok in ["onyx", "airflow-worker_2", "a.b", &"x".repeat(64)] {
            assert!(check_client_name(ok).is_ok(), "{ok}");
        }
        for no in ["", "a b", "é", "a/b", "a\u{1b}[31m", &"x".repeat(65)] {
            assert!(check_client_name(no).is_err(), "{no:?}");
        }
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
