//! The proxy's own TLS (`proxy --tls`, for listening off loopback): a
//! certificate the tool makes once per site (its key kept in the vault, the
//! certificate also written to the data dir for clients to trust), or one
//! the user names with `--tls-cert`/`--tls-key`. Its SHA-256 fingerprint is
//! printed at start (and in `--json` as `tls_sha256`) for clients that pin.

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::confluence::client::{ClientIdentity, IdentityError};
use crate::secret::{ExposeSecret as _, SecretString};

/// A server certificate chain and its key, ready to serve.
#[derive(Clone)]
pub struct ServerCertificate {
    identity: Arc<ClientIdentity>,
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCertificate")
            .field("subject", &self.identity.subject)
            .field("sha256", &self.sha256())
            .finish()
    }
}

impl ServerCertificate {
    /// A certificate chain and key the user made (`--tls-cert`, `--tls-key`):
    /// files that must be theirs and not writable by others, as the vault.
    pub fn from_files(
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<ServerCertificate, IdentityError> {
        Ok(ServerCertificate {
            identity: Arc::new(ClientIdentity::load(cert, Some(key), None)?),
        })
    }

    /// The one kept in the vault (chain and key as PEM).
    pub fn from_stored(pem: &SecretString) -> Result<ServerCertificate, IdentityError> {
        Ok(ServerCertificate {
            identity: Arc::new(ClientIdentity::from_stored(pem)?),
        })
    }

    /// Makes a self-signed certificate for `names` (host names and
    /// addresses) with a new P-256 key, or with `key` (a PEM key kept from
    /// an earlier certificate, so the key stays when the names grow).
    /// Returns it and the PEM (chain and key) for the vault.
    pub fn generate(
        names: &[String],
        key: Option<&SecretString>,
    ) -> Result<(ServerCertificate, SecretString), String> {
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "confluence-tui proxy");
        for name in names {
            let san = match name.parse::<IpAddr>() {
                Ok(ip) => rcgen::SanType::IpAddress(ip),
                Err(_) => rcgen::SanType::DnsName(
                    name.clone()
                        .try_into()
                        .map_err(|e| format!("{name}: {e}"))?,
                ),
            };
            params.subject_alt_names.push(san);
        }
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let key_pair = match key {
            Some(pem) => {
                rcgen::KeyPair::from_pem(pem.expose_secret()).map_err(|e| e.to_string())?
            }
            None => rcgen::KeyPair::generate().map_err(|e| e.to_string())?,
        };
        let cert = params.self_signed(&key_pair).map_err(|e| e.to_string())?;
        let pem = SecretString::from(format!(
            "{}{}",
            cert.pem(),
            zeroize::Zeroizing::new(key_pair.serialize_pem()).as_str()
        ));
        let made = ServerCertificate::from_stored(&pem).map_err(|e| e.to_string())?;
        Ok((made, pem))
    }

    /// The key alone, as PEM, from the vault's chain-and-key PEM.
    pub fn key_pem(stored: &SecretString) -> Option<SecretString> {
        let text = stored.expose_secret();
        let start = text.find("-----BEGIN PRIVATE KEY-----")?;
        Some(SecretString::from(&text[start..]))
    }

    /// Lowercase hex SHA-256 of the certificate (DER): what clients pin.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.identity.leaf_der()))
    }

    /// The chain as PEM (no key): what clients trust.
    pub fn chain_pem(&self) -> String {
        self.identity.chain_pem()
    }

    /// The server side of TLS with this certificate.
    pub(super) fn acceptor(&self) -> Result<tokio_rustls::TlsAcceptor, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(
                self.identity.certified_key(),
            )));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_certificate_names_its_addresses_and_keeps_its_key() {
        let names = vec!["10.0.0.1".to_string(), "proxy.example".to_string()];
        let (cert, pem) = ServerCertificate::generate(&names, None).unwrap();
        assert_eq!(cert.sha256().len(), 64);
        assert!(cert.chain_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(!cert.chain_pem().contains("PRIVATE KEY"));
        assert!(!format!("{cert:?}").contains("PRIVATE"));
        let key = ServerCertificate::key_pem(&pem).unwrap();
        let more = vec!["10.0.0.1".into(), "proxy.example".into(), "10.0.0.2".into()];
        let (again, pem2) = ServerCertificate::generate(&more, Some(&key)).unwrap();
        assert_ne!(again.sha256(), cert.sha256(), "a new certificate");
        assert_eq!(
            ServerCertificate::key_pem(&pem2).unwrap().expose_secret(),
            key.expose_secret(),
            "the same key"
        );
        assert!(cert.acceptor().is_ok());
    }
}
