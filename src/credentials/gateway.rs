//! What a gateway in front of the site wants, kept per site in the vault:
//! a Cloudflare Access service token or another header, a client
//! certificate (`gateway cert import`) and the password of the one
//! `CONFLUENCE_CLIENT_CERT` names. Audited by name, never by value.

use time::OffsetDateTime;

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::confluence::client::ClientIdentity;
use crate::secret::SecretString;
use crate::vault::{GatewaySecret, VaultDocument};

use super::{CredentialError, Credentials};

/// What is stored for the site's gateway (names, never values).
#[derive(Clone, Debug, serde::Serialize)]
pub struct GatewayStatus {
    pub site: String,
    pub entries: Vec<GatewayEntry>,
    /// The client certificate kept in the vault (its subject and issuer).
    pub client_certificate: Option<String>,
    /// The password of `CONFLUENCE_CLIENT_CERT` is kept in the vault.
    pub client_cert_password_stored: bool,
    /// The stored cookies that are the gateway's (`is_gateway_cookie`).
    pub gateway_cookies: Vec<String>,
}

/// One stored gateway credential.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GatewayEntry {
    /// `cloudflare`, or the header's name.
    pub name: String,
    /// The headers sent (their names).
    pub headers: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub saved_at: OffsetDateTime,
}

/// The name `gateway clear` takes for the client certificate.
pub const CLIENT_CERT_NAME: &str = "cert";

impl Credentials {
    /// Stores a gateway credential for the configured site, in place of
    /// one of the same name.
    pub fn store_gateway(&self, secret: GatewaySecret) -> Result<(), CredentialError> {
        let site = self.require_site("store it again")?.clone();
        let name = secret.name().to_string();
        let what = match &secret {
            GatewaySecret::Cloudflare { .. } => "a Cloudflare Access service token".to_string(),
            GatewaySecret::Header { name, .. } => format!("the gateway header {name}"),
        };
        self.update("store the gateway credential", |doc: &mut VaultDocument| {
            let own = doc.site_mut(&site);
            own.gateway
                .retain(|g| !g.name().eq_ignore_ascii_case(secret.name()));
            own.gateway.push(secret);
            // Fresh credentials: what the old ones met is history.
            own.session = None;
        })?;
        self.stored_record(&name, &what, &site.to_string())
    }

    /// Keeps a client certificate and its key in the vault for the
    /// configured site, so the files can be deleted.
    pub fn store_client_identity(&self, identity: &ClientIdentity) -> Result<(), CredentialError> {
        let site = self.require_site("import it again")?.clone();
        let pem = identity.to_pem();
        self.update("store the client certificate", |doc: &mut VaultDocument| {
            let own = doc.site_mut(&site);
            own.client_identity = Some(pem);
            own.session = None;
        })?;
        self.stored_record(
            CLIENT_CERT_NAME,
            &format!("the client certificate {}", identity.describe()),
            &site.to_string(),
        )
    }

    /// Keeps the password of `CONFLUENCE_CLIENT_CERT` for the site.
    pub fn store_client_cert_password(
        &self,
        password: SecretString,
    ) -> Result<(), CredentialError> {
        let site = self.require_site("enter it again")?.clone();
        self.update(
            "store the client certificate's password",
            |doc: &mut VaultDocument| {
                let own = doc.site_mut(&site);
                own.client_cert_password = Some(password);
                own.session = None;
            },
        )?;
        self.stored_record(
            "cert-password",
            "the client certificate's password",
            &site.to_string(),
        )
    }

    fn stored_record(&self, name: &str, what: &str, site: &str) -> Result<(), CredentialError> {
        self.audit.append(
            AuditEntry::new(
                AuditEvent::GatewayStored,
                AuditOutcome::Success,
                format!("Stored {what} for {site} in the vault"),
            )
            .details(AuditDetails {
                names: Some(vec![name.to_string()]),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        Ok(())
    }

    /// Removes the named gateway credential of the configured site
    /// (`cloudflare`, a header's name, `cert` for the client certificate
    /// and its password), or all of them. Returns the names removed.
    pub fn clear_gateway(&self, name: Option<&str>) -> Result<Vec<String>, CredentialError> {
        let site = self.require_site("clear it again")?.clone();
        let removed = if self.paths.vault_file.exists() {
            self.update(
                "clear the gateway credentials",
                |doc: &mut VaultDocument| {
                    let own = doc.site_mut(&site);
                    let mut removed = Vec::new();
                    own.gateway.retain(|g| {
                        let hit = name.is_none_or(|n| g.name().eq_ignore_ascii_case(n));
                        if hit {
                            removed.push(g.name().to_string());
                        }
                        !hit
                    });
                    if name.is_none_or(|n| n.eq_ignore_ascii_case(CLIENT_CERT_NAME)) {
                        if own.client_identity.take().is_some() {
                            removed.push(CLIENT_CERT_NAME.to_string());
                        }
                        if own.client_cert_password.take().is_some() {
                            removed.push("cert-password".to_string());
                        }
                    }
                    removed
                },
            )?
        } else {
            Vec::new()
        };
        self.audit.append(
            AuditEntry::new(
                AuditEvent::GatewayCleared,
                AuditOutcome::Success,
                format!(
                    "Removed {} gateway credential(s) of {site} from the vault",
                    removed.len()
                ),
            )
            .details(AuditDetails {
                count: Some(removed.len()),
                names: Some(removed.clone()),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        Ok(removed)
    }

    /// What is stored for the configured site's gateway.
    pub fn gateway_status(
        &self,
        extra_cookies: &[String],
    ) -> Result<GatewayStatus, CredentialError> {
        let site = self.require_site("ask again")?.clone();
        let doc = self.load()?;
        let own = self.own(&doc);
        let client_certificate = own.client_identity.as_ref().map(|pem| {
            ClientIdentity::from_stored(pem)
                .map(|i| i.describe())
                .unwrap_or_else(|e| format!("unreadable: {e}"))
        });
        Ok(GatewayStatus {
            site: site.to_string(),
            entries: own
                .gateway
                .iter()
                .map(|g| GatewayEntry {
                    name: g.name().to_string(),
                    headers: g.headers().into_iter().map(|(n, _)| n).collect(),
                    saved_at: g.saved_at(),
                })
                .collect(),
            client_certificate,
            client_cert_password_stored: own.client_cert_password.is_some(),
            gateway_cookies: own
                .cookies
                .as_ref()
                .and_then(|c| c.jar.gateway_cookies(extra_cookies))
                .map(|j| j.names())
                .unwrap_or_default(),
        })
    }
}
