//! The TLS side of every connection to the site, one configuration for the
//! whole process: which roots verify the site (the operating system's, plus
//! `CONFLUENCE_CA_BUNDLE`), and which client certificate is offered to a
//! gateway that asks for one (mTLS). Both are watched: the roots that
//! verified the site last, and what the server asked for and was offered,
//! so a refused handshake can be said in the user's terms.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{AlertDescription, DigitallySignedStruct, SignatureScheme};
use zeroize::Zeroizing;

use super::error::ClientError;
use crate::secret::{ExposeSecret, SecretString};

/// Largest certificate or key file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Which roots verified the site's certificate at the last handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustedBy {
    /// The operating system's trust store.
    System,
    /// `CONFLUENCE_CA_BUNDLE`.
    Bundle,
}

impl TrustedBy {
    /// `system` or `bundle`, as `check --json` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustedBy::System => "system",
            TrustedBy::Bundle => "bundle",
        }
    }
}

/// The TLS configuration every connection to the site uses.
#[derive(Clone)]
pub struct Tls {
    config: Arc<rustls::ClientConfig>,
    trust: Arc<Trust>,
    slot: Arc<IdentitySlot>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("bundle", &self.trust.bundle.is_some())
            .field("identity", &self.identity().map(|i| i.subject.clone()))
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// The operating system's roots, plus the PEM certificates of
    /// `ca_bundle`; no client certificate until one is set.
    pub fn new(ca_bundle: Option<&Path>) -> Result<Tls, ClientError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let system: Option<Arc<dyn ServerCertVerifier>> =
            match rustls_platform_verifier::Verifier::new(provider.clone()) {
                Ok(v) => Some(Arc::new(v)),
                Err(e) => {
                    tracing::warn!(error = %e, "no usable roots in the operating system's trust store");
                    None
                }
            };
        let bundle: Option<Arc<dyn ServerCertVerifier>> = match ca_bundle {
            None => None,
            Some(path) => Some(bundle_verifier(path, provider.clone())?),
        };
        let Some(fallback) = system.clone().or_else(|| bundle.clone()) else {
            return Err(ClientError::Setup(
                "no trusted root certificates: the operating system's trust store is empty and CONFLUENCE_CA_BUNDLE is not set".into(),
            ));
        };
        let trust = Arc::new(Trust {
            system,
            bundle,
            fallback,
            last: AtomicU8::new(0),
        });
        let slot = Arc::new(IdentitySlot::default());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(trust.clone())
            .with_client_cert_resolver(slot.clone());
        Ok(Tls {
            config: Arc::new(config),
            trust,
            slot,
        })
    }

    /// The configuration for a connection (all share the watches).
    pub(crate) fn client_config(&self) -> rustls::ClientConfig {
        (*self.config).clone()
    }

    /// The client certificate to offer from now on (none: offer none).
    pub fn set_identity(&self, identity: Option<Arc<ClientIdentity>>) {
        *self
            .slot
            .identity
            .write()
            .unwrap_or_else(PoisonError::into_inner) = identity;
    }

    /// The client certificate offered, if any.
    pub fn identity(&self) -> Option<Arc<ClientIdentity>> {
        self.slot
            .identity
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Which roots verified the site at the last handshake.
    pub fn trusted_by(&self) -> Option<TrustedBy> {
        match self.trust.last.load(Ordering::Relaxed) {
            1 => Some(TrustedBy::System),
            2 => Some(TrustedBy::Bundle),
            _ => None,
        }
    }

    /// What the last server that asked for a client certificate asked for,
    /// and what it was offered.
    pub fn last_certificate_request(&self) -> Option<CertificateRequest> {
        self.slot
            .asked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The TLS alerts a server sends when a client certificate is missing or
/// not accepted (`handshake_failure` counts only when it had asked for one).
fn certificate_alert(error: &(dyn std::error::Error + 'static)) -> Option<AlertDescription> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(rustls::Error::AlertReceived(alert)) = e.downcast_ref::<rustls::Error>() {
            return Some(*alert);
        }
        // io::Errors hide what they wrap from `source()`.
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(alert) = certificate_alert(inner)
        {
            return Some(alert);
        }
        next = e.source();
    }
    None
}

impl Tls {
    /// When `error` is the server ending the handshake over the client
    /// certificate (none offered, or the one offered refused): what was
    /// offered, what the server asked for, and what to do, in words.
    pub fn certificate_refusal(&self, error: &(dyn std::error::Error + 'static)) -> Option<String> {
        let alert = certificate_alert(error)?;
        let asked = self.last_certificate_request();
        let about_the_certificate = matches!(
            alert,
            AlertDescription::CertificateRequired
                | AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied
        ) || (alert == AlertDescription::HandshakeFailure
            && asked.is_some());
        if !about_the_certificate {
            return None;
        }
        let offered = asked
            .as_ref()
            .and_then(|a| a.offered.clone())
            .or_else(|| self.identity().map(|i| i.describe()));
        let wanted = asked
            .map(|a| a.authorities)
            .unwrap_or_default()
            .iter()
            .map(|n| crate::text::for_terminal(n).into_owned())
            .collect::<Vec<_>>();
        let wanted = if wanted.is_empty() {
            String::new()
        } else {
            format!(
                "; it accepts certificates issued by {}",
                wanted.join(" or ")
            )
        };
        let alert = alert_words(alert);
        Some(match offered {
            None => format!(
                "the server wants a client certificate and none was offered ({alert}){wanted}; set CONFLUENCE_CLIENT_CERT (and CONFLUENCE_CLIENT_KEY), or store one with `confluence-tui gateway cert import PATH`"
            ),
            Some(cert) => format!(
                "the server refused the client certificate {cert} ({alert}){wanted}; check CONFLUENCE_CLIENT_CERT, or store the right one with `confluence-tui gateway cert import PATH`"
            ),
        })
    }
}

/// A TLS alert in words.
fn alert_words(alert: AlertDescription) -> String {
    match alert {
        AlertDescription::CertificateRequired => "TLS alert: certificate required".into(),
        AlertDescription::BadCertificate => "TLS alert: bad certificate".into(),
        AlertDescription::UnknownCA => "TLS alert: unknown certificate authority".into(),
        AlertDescription::CertificateExpired => "TLS alert: certificate expired".into(),
        AlertDescription::CertificateRevoked => "TLS alert: certificate revoked".into(),
        AlertDescription::AccessDenied => "TLS alert: access denied".into(),
        AlertDescription::HandshakeFailure => "TLS alert: handshake failure".into(),
        other => format!("TLS alert: {other:?}"),
    }
}

/// A server asked for a client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest {
    /// The certificate authorities it named (their subjects), if any.
    pub authorities: Vec<String>,
    /// The certificate offered (its subject and issuer), or none.
    pub offered: Option<String>,
}

/// The operating system's roots first, then the bundle's; remembers which
/// verified the site.
#[derive(Debug)]
struct Trust {
    system: Option<Arc<dyn ServerCertVerifier>>,
    bundle: Option<Arc<dyn ServerCertVerifier>>,
    /// Checks handshake signatures (the same for any roots).
    fallback: Arc<dyn ServerCertVerifier>,
    /// 0 none yet, 1 system, 2 bundle.
    last: AtomicU8,
}

impl ServerCertVerifier for Trust {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut first_error = None;
        for (verifier, code) in [(&self.system, 1), (&self.bundle, 2)] {
            let Some(v) = verifier else { continue };
            match v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
                Ok(ok) => {
                    self.last.store(code, Ordering::Relaxed);
                    return Ok(ok);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(rustls::Error::General("no trusted roots".into())))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.fallback.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.fallback.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.fallback.supported_verify_schemes()
    }
}

/// A verifier that trusts only the PEM certificates of `path`.
fn bundle_verifier(
    path: &Path,
    provider: Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, ClientError> {
    let refuse = |reason: String| ClientError::CaBundle {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| refuse(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| refuse(format!("not PEM certificates: {e}")))?;
        roots.add(cert).map_err(|e| refuse(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(refuse("no PEM certificates in it".into()));
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| refuse(e.to_string()))?;
    Ok(verifier)
}

/// The client certificate offered, and what the server asked for.
#[derive(Debug, Default)]
struct IdentitySlot {
    identity: RwLock<Option<Arc<ClientIdentity>>>,
    asked: Mutex<Option<CertificateRequest>>,
}

impl ResolvesClientCert for IdentitySlot {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let identity = self
            .identity
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let request = CertificateRequest {
            authorities: root_hint_subjects
                .iter()
                .filter_map(|der| distinguished_name(der))
                .collect(),
            offered: identity.as_ref().map(|i| i.describe()),
        };
        *self.asked.lock().unwrap_or_else(PoisonError::into_inner) = Some(request);
        identity.map(|i| i.key.clone())
    }

    fn has_certs(&self) -> bool {
        // Always asked: what the server wants is worth knowing even when
        // there is nothing to offer.
        true
    }
}

/// A DER distinguished name as text (`CN=…, O=…`).
fn distinguished_name(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::FromDer as _;
    if let Ok((_, name)) = x509_parser::x509::X509Name::from_der(der) {
        return Some(name.to_string());
    }
    // Some encoders leave the outer SEQUENCE off.
    let mut wrapped = vec![0x30];
    let len = der.len();
    if len < 0x80 {
        wrapped.push(len as u8);
    } else if len < 0x100 {
        wrapped.extend([0x81, len as u8]);
    } else {
        wrapped.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    wrapped.extend_from_slice(der);
    x509_parser::x509::X509Name::from_der(&wrapped)
        .ok()
        .map(|(_, n)| n.to_string())
}

/// A client certificate chain and its private key, ready to offer.
pub struct ClientIdentity {
    key: Arc<CertifiedKey>,
    /// The certificate's subject and issuer (`CN=…`): not secret.
    pub subject: String,
    pub issuer: String,
    /// The chain and the (decrypted) key as PEM, for the vault.
    pem: SecretString,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Why a client certificate could not be used. Never a key or a password.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the client certificate file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(transparent)]
    Unsafe(#[from] crate::fsutil::UnsafePath),
    #[error(
        "{path} holds no certificate: CONFLUENCE_CLIENT_CERT names a PEM file with the certificate chain (or a PKCS#12 .p12/.pfx)"
    )]
    NoCertificate { path: PathBuf },
    #[error(
        "no private key for the client certificate in {path}: put it in the same PEM file, name it with CONFLUENCE_CLIENT_KEY, or use a PKCS#12 file"
    )]
    NoKey { path: PathBuf },
    #[error(
        "{path} is protected by a password: set CONFLUENCE_CLIENT_CERT_PASSWORD, or import it once with `confluence-tui gateway cert import {path}` (asks for the password and keeps the key in the vault)"
    )]
    PasswordNeeded { path: PathBuf },
    #[error("the password for {path} is wrong (or the file is damaged)")]
    WrongPassword { path: PathBuf },
    #[error(
        "{path}: a key encrypted the old OpenSSL way (Proc-Type) is not supported; convert it with `openssl pkcs8 -topk8 -in {path} -out key-pkcs8.pem` (PKCS#8, with a passphrase if you like)"
    )]
    LegacyEncryptedKey { path: PathBuf },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl IdentityError {
    /// What kind of failure this is: the user's setup (exit 2).
    pub fn class(&self) -> crate::exit::ErrorClass {
        crate::exit::ErrorClass::Usage
    }
}

impl ClientIdentity {
    /// Reads a client certificate: a PEM file with the chain (and the key,
    /// unless `key` names another PEM file), or a PKCS#12 file. A key or
    /// PKCS#12 file protected by a password needs `password`. Every file
    /// must be the user's and not writable by others (as the vault).
    pub fn load(
        cert: &Path,
        key: Option<&Path>,
        password: Option<&SecretString>,
    ) -> Result<ClientIdentity, IdentityError> {
        let data = read_private(cert)?;
        if is_pkcs12(cert, &data) {
            return from_pkcs12(cert, &data, password);
        }
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&data)
            .filter_map(Result::ok)
            .collect();
        if certs.is_empty() {
            return Err(IdentityError::NoCertificate {
                path: cert.to_path_buf(),
            });
        }
        let (key_path, key_data) = match key {
            Some(k) => (k, read_private(k)?),
            None => (cert, data.clone()),
        };
        let key_der = private_key(key_path, &key_data, password)?;
        ClientIdentity::from_parts(certs, key_der, key_path)
    }

    /// The identity the vault keeps (PEM chain and unencrypted key).
    pub fn from_stored(pem: &SecretString) -> Result<ClientIdentity, IdentityError> {
        let data = Zeroizing::new(pem.expose_secret().as_bytes().to_vec());
        let place = Path::new("the vault's client certificate");
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&data)
            .filter_map(Result::ok)
            .collect();
        if certs.is_empty() {
            return Err(IdentityError::NoCertificate {
                path: place.to_path_buf(),
            });
        }
        let key = private_key(place, &data, None)?;
        ClientIdentity::from_parts(certs, key, place)
    }

    fn from_parts(
        certs: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        place: &Path,
    ) -> Result<ClientIdentity, IdentityError> {
        let invalid = |reason: String| IdentityError::Invalid {
            path: place.to_path_buf(),
            reason,
        };
        let (subject, issuer) =
            names(&certs[0]).ok_or_else(|| invalid("not an X.509 certificate".into()))?;
        let pem = identity_pem(&certs, &key);
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let key = CertifiedKey::from_der(certs, key, &provider)
            .map_err(|e| invalid(format!("the key does not fit the certificate ({e})")))?;
        Ok(ClientIdentity {
            key: Arc::new(key),
            subject,
            issuer,
            pem,
        })
    }

    /// The chain and its key as rustls holds them (also a server's, for
    /// `proxy --tls`).
    pub(crate) fn certified_key(&self) -> Arc<CertifiedKey> {
        self.key.clone()
    }

    /// The first certificate of the chain, DER-encoded.
    pub fn leaf_der(&self) -> &[u8] {
        self.key.cert.first().map_or(&[], |c| c.as_ref())
    }

    /// The chain alone as PEM (no key): what clients are given to trust.
    pub fn chain_pem(&self) -> String {
        use base64::Engine as _;
        let mut out = String::new();
        for cert in &self.key.cert {
            let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            for line in b64.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out
    }

    /// The chain and the key as PEM, for the vault (a secret).
    pub fn to_pem(&self) -> SecretString {
        self.pem.clone()
    }

    /// `CN=client (issued by CN=CA)`: how the certificate is named to people.
    pub fn describe(&self) -> String {
        format!("{} (issued by {})", self.subject, self.issuer)
    }
}

/// Reads a user's file with the vault's rules (ours, not writable by
/// others, not a link), at most 1 MiB.
fn read_private(path: &Path) -> Result<Zeroizing<Vec<u8>>, IdentityError> {
    let unreadable = |reason: String| IdentityError::Unreadable {
        path: path.to_path_buf(),
        reason,
    };
    let file = match crate::fsutil::open_private_file(path, crate::fsutil::Access::Read) {
        Ok(f) => f,
        Err(crate::fsutil::FileFailure::Unsafe(u)) => return Err(u.into()),
        Err(crate::fsutil::FileFailure::Io(e)) => return Err(unreadable(e.to_string())),
        Err(crate::fsutil::FileFailure::TimedOut(e)) => return Err(unreadable(e.to_string())),
    };
    let mut data = Zeroizing::new(Vec::new());
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| unreadable(e.to_string()))?;
    if data.len() as u64 > MAX_FILE_BYTES {
        return Err(unreadable("larger than 1 MiB".into()));
    }
    Ok(data)
}

/// A PKCS#12 file: by its name, or by not being PEM text.
fn is_pkcs12(path: &Path, data: &[u8]) -> bool {
    let by_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"));
    by_name || (data.first() == Some(&0x30) && !data.windows(10).any(|w| w == b"-----BEGIN"))
}

fn from_pkcs12(
    path: &Path,
    data: &[u8],
    password: Option<&SecretString>,
) -> Result<ClientIdentity, IdentityError> {
    let attempt = |pw: &str| {
        p12_keystore::KeyStore::from_pkcs12(data, pw, p12_keystore::Pkcs12ImportPolicy::Relaxed)
    };
    let store = match password {
        Some(pw) => attempt(pw.expose_secret()).map_err(|_| IdentityError::WrongPassword {
            path: path.to_path_buf(),
        })?,
        // An empty password is common for files meant for machines.
        None => attempt("").map_err(|_| IdentityError::PasswordNeeded {
            path: path.to_path_buf(),
        })?,
    };
    let Some((_, chain)) = store.private_key_chain() else {
        return Err(IdentityError::NoKey {
            path: path.to_path_buf(),
        });
    };
    let certs: Vec<CertificateDer<'static>> = chain
        .certs()
        .iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect();
    if certs.is_empty() {
        return Err(IdentityError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    let key = PrivateKeyDer::Pkcs8(chain.key().as_der().to_vec().into());
    ClientIdentity::from_parts(certs, key, path)
}

/// The private key of a PEM file: plain (PKCS#8, PKCS#1, SEC1), or PKCS#8
/// encrypted with `password`.
fn private_key(
    path: &Path,
    data: &[u8],
    password: Option<&SecretString>,
) -> Result<PrivateKeyDer<'static>, IdentityError> {
    let text = String::from_utf8_lossy(data);
    if let Some(block) = pem_block(&text, "ENCRYPTED PRIVATE KEY") {
        let Some(password) = password else {
            return Err(IdentityError::PasswordNeeded {
                path: path.to_path_buf(),
            });
        };
        let (_, der) =
            pkcs8::der::pem::decode_vec(block.as_bytes()).map_err(|e| IdentityError::Invalid {
                path: path.to_path_buf(),
                reason: format!("an encrypted key that cannot be read ({e})"),
            })?;
        let der = Zeroizing::new(der);
        let info = pkcs8::EncryptedPrivateKeyInfoRef::try_from(der.as_slice()).map_err(|e| {
            IdentityError::Invalid {
                path: path.to_path_buf(),
                reason: format!("an encrypted key that cannot be read ({e})"),
            }
        })?;
        let plain =
            info.decrypt(password.expose_secret())
                .map_err(|_| IdentityError::WrongPassword {
                    path: path.to_path_buf(),
                })?;
        return Ok(PrivateKeyDer::Pkcs8(plain.as_bytes().to_vec().into()));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(IdentityError::LegacyEncryptedKey {
            path: path.to_path_buf(),
        });
    }
    PrivateKeyDer::from_pem_slice(data).map_err(|_| IdentityError::NoKey {
        path: path.to_path_buf(),
    })
}

/// The first PEM block labelled `label`, BEGIN to END lines included.
fn pem_block<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)?;
    let stop = text[start..].find(&end)? + start + end.len();
    Some(&text[start..stop])
}

/// The subject and issuer of a certificate.
fn names(cert: &CertificateDer<'_>) -> Option<(String, String)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some((parsed.subject().to_string(), parsed.issuer().to_string()))
}

/// The chain and key as PEM text (kept zeroized until it is a secret).
fn identity_pem(certs: &[CertificateDer<'_>], key: &PrivateKeyDer<'_>) -> SecretString {
    use base64::Engine as _;
    let mut out = Zeroizing::new(String::new());
    let mut block = |label: &str, der: &[u8]| {
        let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
    };
    for c in certs {
        block("CERTIFICATE", c.as_ref());
    }
    let label = match key {
        PrivateKeyDer::Pkcs1(_) => "RSA PRIVATE KEY",
        PrivateKeyDer::Sec1(_) => "EC PRIVATE KEY",
        _ => "PRIVATE KEY",
    };
    block(label, key.secret_der());
    SecretString::from(out.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_found_by_label() {
        let text = "x\n-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\ny";
        let block = pem_block(text, "ENCRYPTED PRIVATE KEY").unwrap();
        assert!(block.starts_with("-----BEGIN") && block.ends_with("KEY-----"));
        assert!(pem_block(text, "CERTIFICATE").is_none());
    }

    #[test]
    fn pkcs12_is_told_from_pem_by_name_or_content() {
        assert!(is_pkcs12(Path::new("me.p12"), b"x"));
        assert!(is_pkcs12(Path::new("me.PFX"), b"x"));
        assert!(is_pkcs12(Path::new("me.bin"), &[0x30, 0x82, 0x01]));
        assert!(!is_pkcs12(
            Path::new("me.pem"),
            b"-----BEGIN CERTIFICATE-----"
        ));
    }

    #[test]
    fn the_system_store_and_a_bundle_make_a_configuration() {
        let tls = Tls::new(None).unwrap();
        assert!(tls.identity().is_none() && tls.trusted_by().is_none());
        let bad = std::env::temp_dir().join("confluence-tui-no-such-bundle.pem");
        assert!(matches!(
            Tls::new(Some(&bad)),
            Err(ClientError::CaBundle { .. })
        ));
    }
}
