//! Document ↔ vault bytes: choose the key inputs, derive the key, encrypt or
//! decrypt. Opening follows the order of checks in `docs/vault-format.md`.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

use serde::Serialize;

use super::error::VaultError;
use super::format::{
    self, FLAG_MACHINE_BOUND, FLAG_PASSPHRASE, FORMAT_VERSION, Header, KDF_SCRYPT, KdfParams,
    TAG_LEN, V1_FORMAT_VERSION,
};
use super::key::{self, MachineBinding, MachineIdSource, VaultKey};
use super::{SiteCredentials, VaultDocument};
use crate::secret::SecretString;

/// Encrypts a document into a complete vault file with a fresh salt and nonce.
///
/// Machine-bound when the machine id is readable; otherwise keyed by the
/// passphrase alone, and `MachineIdUnreadable` when there is neither.
pub fn seal(
    doc: &VaultDocument,
    machine_id: &MachineIdSource,
    passphrase: Option<&SecretString>,
    kdf_log_n: u8,
) -> Result<Vec<u8>, VaultError> {
    seal_version(doc, FORMAT_VERSION, machine_id, passphrase, kdf_log_n)
}

/// A version 1 file holding one (unnamed) site's credentials, exactly as
/// builds before sites wrote it. Only for tests of reading old vaults.
#[doc(hidden)]
pub(crate) fn seal_v1(
    creds: &SiteCredentials,
    machine_id: &MachineIdSource,
    passphrase: Option<&SecretString>,
    kdf_log_n: u8,
) -> Result<Vec<u8>, VaultError> {
    seal_version(creds, V1_FORMAT_VERSION, machine_id, passphrase, kdf_log_n)
}

fn seal_version<T: Serialize>(
    doc: &T,
    version: u8,
    machine_id: &MachineIdSource,
    passphrase: Option<&SecretString>,
    kdf_log_n: u8,
) -> Result<Vec<u8>, VaultError> {
    let kdf = KdfParams::with_log_n(kdf_log_n);
    kdf.check()?;
    let machine = match MachineBinding::from_source(machine_id) {
        Ok(binding) => Some(binding),
        Err(VaultError::MachineIdUnreadable { .. }) if passphrase.is_some() => None,
        Err(e) => return Err(e),
    };
    let mut flags = 0;
    if passphrase.is_some() {
        flags |= FLAG_PASSPHRASE;
    }
    if machine.is_some() {
        flags |= FLAG_MACHINE_BOUND;
    }
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    fill_random(&mut salt)?;
    fill_random(&mut nonce)?;
    let key = key::derive_key(&kdf, &salt, machine.as_ref(), passphrase)?;
    let header = Header {
        version,
        flags,
        kdf_id: KDF_SCRYPT,
        kdf,
        machine_tag: machine.as_ref().map(MachineBinding::tag).unwrap_or([0; 8]),
        salt,
        nonce,
        key_check: key::key_check(&key),
    };
    let header_bytes = header.encode();
    let mut buffer = serialize_exact(doc, TAG_LEN)?;
    cipher(&key)?
        .encrypt_in_place(&XNonce::from(nonce), &header_bytes, &mut *buffer)
        .map_err(|_| VaultError::Internal {
            what: "the cipher refused the document".into(),
        })?;
    Ok(format::assemble(&header_bytes, &buffer))
}

/// Checks and decrypts a vault file.
///
/// A vault written without a passphrase opens without one even when a
/// passphrase is configured now; the next save re-keys it with the passphrase.
pub fn open(
    bytes: &[u8],
    machine_id: &MachineIdSource,
    passphrase: Option<&SecretString>,
) -> Result<VaultDocument, VaultError> {
    let parsed = format::parse_file(bytes)?;
    let header = &parsed.header;
    if header.passphrase_used() && passphrase.is_none() {
        return Err(VaultError::PassphraseMissing);
    }
    let machine = if header.machine_bound() {
        let binding = MachineBinding::from_source(machine_id)?;
        if binding.tag() != header.machine_tag {
            return Err(VaultError::OtherMachine);
        }
        Some(binding)
    } else {
        None
    };
    let passphrase = passphrase.filter(|_| header.passphrase_used());
    let key = key::derive_key(&header.kdf, &header.salt, machine.as_ref(), passphrase)?;
    if !key::key_check_matches(&key, &header.key_check) {
        // Without a passphrase in the key there is nothing the user could
        // have mistyped, so a mismatch means the header was altered.
        return Err(if header.passphrase_used() {
            VaultError::WrongPassphrase
        } else {
            VaultError::corrupt("the key check does not match the machine's key")
        });
    }
    let mut buffer = Zeroizing::new(parsed.ciphertext.to_vec());
    cipher(&key)?
        .decrypt_in_place(
            &XNonce::from(header.nonce),
            parsed.header_bytes,
            &mut *buffer,
        )
        .map_err(|_| {
            VaultError::corrupt("the encrypted contents fail authentication: they were changed")
        })?;
    let parsed = if header.version == V1_FORMAT_VERSION {
        // Version 1 knew no sites: its document is one site's credentials.
        serde_json::from_slice::<SiteCredentials>(&buffer).map(|legacy| VaultDocument {
            unbound: Some(legacy),
            ..VaultDocument::default()
        })
    } else {
        serde_json::from_slice::<VaultDocument>(&buffer)
    };
    parsed.map_err(|e| VaultError::Corrupt {
        // serde_json's own message may quote decrypted text; keep only where.
        reason: format!(
            "the decrypted document is not a valid vault document ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

fn cipher(key: &VaultKey) -> Result<XChaCha20Poly1305, VaultError> {
    XChaCha20Poly1305::new_from_slice(key.as_slice()).map_err(|_| VaultError::Internal {
        what: "the derived key has the wrong length".into(),
    })
}

fn fill_random(buf: &mut [u8]) -> Result<(), VaultError> {
    getrandom::fill(buf).map_err(|e| VaultError::Internal {
        what: format!("no randomness from the operating system: {e}"),
    })
}

/// Serialises into a buffer allocated once at its final size (plus room for
/// the tag), so no reallocation leaves plaintext behind in freed memory.
fn serialize_exact<T: Serialize>(doc: &T, spare: usize) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let encode_error = |_| VaultError::Internal {
        what: "the vault document could not be encoded".into(),
    };
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, doc).map_err(encode_error)?;
    let mut buffer = Zeroizing::new(Vec::with_capacity(counter.0 + spare));
    serde_json::to_writer(&mut *buffer, doc).map_err(encode_error)?;
    Ok(buffer)
}

/// A writer that only counts bytes.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
