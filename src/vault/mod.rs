//! The encrypted store for cookies and an optional API token.
//!
//! `format` is the bytes on disk, `key` the machine binding and scrypt,
//! `seal` document ↔ bytes, `store` the atomic save/load under a lock,
//! `error` what can go wrong. See `docs/vault-format.md`.

pub(crate) mod error;
pub mod format;
pub mod key;
pub(crate) mod seal;
mod stamp;
pub(crate) mod store;

pub use crate::audit::LogHead as AuditHead;
pub use error::VaultError;
pub use format::KdfParams;
pub use key::MachineIdSource;
pub(crate) use stamp::VaultStamp;
pub use store::{Vault, VaultOptions};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cookies::jar::StoredCookies;
use crate::secret::SecretString;
use crate::site::SiteKey;

/// What the vault holds (format version 2; serialised as JSON, then
/// encrypted): each site's credentials under the site's identity, and the
/// audit log's head at the time of the write.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct VaultDocument {
    /// Site identity (`SiteKey`, e.g. `https://a.example/wiki`) → credentials.
    #[serde(default)]
    pub sites: BTreeMap<String, SiteCredentials>,
    /// The audit log's last record when this document was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_head: Option<crate::audit::LogHead>,
    /// Credentials read from a version 1 file, which knew no sites: they
    /// belong to no site until `bind_unbound` moves them under one. Never
    /// written (a v2 file has no such field).
    #[serde(skip)]
    pub unbound: Option<SiteCredentials>,
}

/// One site's credentials. Also the whole document of a version 1 file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SiteCredentials {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookies: Option<StoredCookies>,
    #[serde(
        default,
        with = "crate::secret::serde_secret_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_token: Option<SecretString>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub token_saved_at: Option<OffsetDateTime>,
    /// The user name stored with the token (the Cloud account email); with
    /// it, `auto` sends the token as Basic. Absent in vaults written before
    /// it was kept, and when the token is a personal access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The session's last known state on this site (absent in vaults
    /// written before it was recorded, and after fresh credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<StoredSession>,
    /// What a gateway in front of the site wants on every request (a
    /// Cloudflare Access service token, a header a load balancer checks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway: Vec<GatewaySecret>,
    /// A client certificate chain and its (decrypted) key, as PEM, kept
    /// by `gateway cert import` so the files can be deleted.
    #[serde(
        default,
        with = "crate::secret::serde_secret_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_identity: Option<SecretString>,
    /// The password of `CONFLUENCE_CLIENT_CERT` (a PKCS#12 file or an
    /// encrypted key), asked for once and kept.
    #[serde(
        default,
        with = "crate::secret::serde_secret_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_cert_password: Option<SecretString>,
    /// Named client tokens of the proxy (`proxy clients add`): a hash of
    /// each token, never the token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_clients: Vec<ProxyClient>,
    /// The port this site's proxy listens on when not told (chosen once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_port: Option<u16>,
    /// The certificate `proxy --tls` made for this site, and its key, as
    /// PEM; and the names (addresses) it was made for.
    #[serde(
        default,
        with = "crate::secret::serde_secret_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub proxy_tls: Option<SecretString>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_tls_names: Vec<String>,
}

/// A named client of the proxy: who may use the session through it with a
/// token of their own. The token itself is never stored: only its SHA-256
/// (256 random bits need no slow hash).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProxyClient {
    pub name: String,
    /// Lowercase hex SHA-256 of the token.
    pub token_sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    /// Writes (POST, PUT, PATCH, DELETE) are forwarded for this client.
    #[serde(default)]
    pub allow_writes: bool,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_used: Option<OffsetDateTime>,
}

/// A gateway credential sent with every request to the site.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GatewaySecret {
    /// A Cloudflare Access service token: `CF-Access-Client-Id` and
    /// `CF-Access-Client-Secret`.
    Cloudflare {
        client_id: String,
        #[serde(with = "crate::secret::serde_secret")]
        client_secret: SecretString,
        #[serde(with = "time::serde::rfc3339")]
        saved_at: OffsetDateTime,
    },
    /// Any other header a gateway checks.
    Header {
        name: String,
        #[serde(with = "crate::secret::serde_secret")]
        value: SecretString,
        #[serde(with = "time::serde::rfc3339")]
        saved_at: OffsetDateTime,
    },
}

impl std::fmt::Debug for GatewaySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the values are secrets.
        write!(f, "GatewaySecret({})", self.name())
    }
}

impl GatewaySecret {
    /// `cloudflare`, or the header's name: how `gateway clear NAME` names it.
    pub fn name(&self) -> &str {
        match self {
            GatewaySecret::Cloudflare { .. } => "cloudflare",
            GatewaySecret::Header { name, .. } => name,
        }
    }

    /// When it was stored.
    pub fn saved_at(&self) -> OffsetDateTime {
        match self {
            GatewaySecret::Cloudflare { saved_at, .. } | GatewaySecret::Header { saved_at, .. } => {
                *saved_at
            }
        }
    }

    /// The headers it becomes (names are not secret; values are).
    pub fn headers(&self) -> Vec<(String, SecretString)> {
        match self {
            GatewaySecret::Cloudflare {
                client_id,
                client_secret,
                ..
            } => vec![
                (
                    "CF-Access-Client-Id".to_string(),
                    SecretString::from(client_id.as_str()),
                ),
                ("CF-Access-Client-Secret".to_string(), client_secret.clone()),
            ],
            GatewaySecret::Header { name, value, .. } => vec![(name.clone(), value.clone())],
        }
    }
}

/// A site's session state as last learnt, kept with its credentials so
/// every process (and the next run) knows it. `unreachable` is never
/// stored: a network failure says nothing about the session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StoredSession {
    SignedIn,
    /// Signed in, with the cookies' expiry or the TTL within 24 h.
    Expiring,
    Expired {
        reason: String,
    },
    /// A CAPTCHA blocks sign-in; it stays until fresh credentials are
    /// stored or a verification the user asked for succeeds.
    Captcha {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login_url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
    },
    /// A gateway in front of the site wants its own sign-in
    /// (`classify::Gateway::as_str`, and the host of an unnamed one).
    Gateway {
        gateway: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login_url: Option<String>,
    },
}

impl StoredSession {
    /// The state's name in JSON output and the audit log.
    pub fn word(&self) -> &'static str {
        match self {
            StoredSession::SignedIn => "signed_in",
            StoredSession::Expiring => "expiring",
            StoredSession::Expired { .. } => "expired",
            StoredSession::Captcha { .. } => "captcha",
            StoredSession::Gateway { .. } => "gateway",
        }
    }

    /// Why the session is not usable, when it is not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            StoredSession::Expired { reason } => Some(reason),
            StoredSession::Captcha { .. } => Some("the site demanded a CAPTCHA"),
            StoredSession::Gateway { .. } => Some("a gateway in front of the site wants a sign-in"),
            _ => None,
        }
    }

    /// Where to sign in again after a CAPTCHA.
    pub fn login_url(&self) -> Option<&str> {
        match self {
            StoredSession::Captcha { login_url, .. } | StoredSession::Gateway { login_url, .. } => {
                login_url.as_deref()
            }
            _ => None,
        }
    }
}

impl SiteCredentials {
    /// True when nothing is held: no cookies, token, gateway credential
    /// or client certificate.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_none()
            && self.api_token.is_none()
            && self.gateway.is_empty()
            && self.client_identity.is_none()
            && self.client_cert_password.is_none()
    }
}

impl VaultDocument {
    /// The credentials of `site`, if any are held.
    pub fn site(&self, site: &SiteKey) -> Option<&SiteCredentials> {
        self.sites.get(site.as_str())
    }

    /// Applies `f` to the credentials of `site`, or with `None` to every
    /// site's and to a version 1 file's unbound ones.
    pub(crate) fn for_each_in_scope(
        &mut self,
        site: Option<&SiteKey>,
        mut f: impl FnMut(&mut SiteCredentials),
    ) {
        match site {
            Some(site) => {
                if let Some(c) = self.sites.get_mut(site.as_str()) {
                    f(c);
                }
            }
            None => {
                self.sites.values_mut().for_each(&mut f);
                if let Some(c) = self.unbound.as_mut() {
                    f(c);
                }
            }
        }
    }

    /// The credentials of `site`, created empty when none are held.
    pub(crate) fn site_mut(&mut self, site: &SiteKey) -> &mut SiteCredentials {
        self.sites.entry(site.as_str().to_string()).or_default()
    }

    /// Removes the sites that hold nothing (kept out of the file).
    pub(crate) fn prune(&mut self) {
        self.sites.retain(|_, c| {
            !c.is_empty()
                || c.session.is_some()
                || !c.proxy_clients.is_empty()
                || c.proxy_port.is_some()
                || c.proxy_tls.is_some()
        });
    }

    /// Moves credentials read from a version 1 file under `site`. Returns
    /// what was moved (nothing when there was no v1 content, or it was
    /// empty). Credentials already held for `site` win over v1 ones.
    pub(crate) fn bind_unbound(&mut self, site: &SiteKey) -> Option<&SiteCredentials> {
        let legacy = self.unbound.take().filter(|c| !c.is_empty())?;
        let entry = self.site_mut(site);
        if entry.is_empty() {
            *entry = legacy;
        }
        self.site(site)
    }

    /// Sites holding cookies or a token, in order.
    pub(crate) fn sites_with_credentials(&self) -> Vec<String> {
        self.sites
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn a_site_entry_without_a_user_name_still_reads() {
        // Written before the user name was kept with the token.
        let old = r#"{"api_token":"tok","token_saved_at":"2026-11-27T13:57:58Z"}"#;
        let c: SiteCredentials = serde_json::from_str(old).unwrap();
        assert_eq!(c.username, None);
        assert_eq!(c.api_token.as_ref().map(|t| t.expose_secret()), Some("tok"));
    }

    #[test]
    fn the_user_name_is_kept_with_the_token_and_omitted_when_absent() {
        let c = SiteCredentials {
            api_token: Some(SecretString::from("tok")),
            username: Some("you@example.com".into()),
            ..Default::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        let back: SiteCredentials = serde_json::from_str(&json).unwrap();
        assert_eq!(back.username.as_deref(), Some("you@example.com"));
        let none = serde_json::to_string(&SiteCredentials::default()).unwrap();
        assert!(!none.contains("username"), "{none}");
    }
}
