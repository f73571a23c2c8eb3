//! Key material: the machine binding (a keyed hash of the machine id and a
//! short public tag of it), scrypt over machine key ‖ passphrase, and the key
//! check value stored in the header.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::VaultError;
use super::format::KdfParams;
use crate::secret::{ExposeSecret, SecretString};

/// HMAC key that turns the machine id into key material.
const MACHINE_KEY_DOMAIN: &[u8] = b"confluence-tui/v1/machine-key";
/// HMAC key that turns the machine id into the public header tag; distinct
/// from the key domain so the tag reveals nothing about the key input.
const MACHINE_TAG_DOMAIN: &[u8] = b"confluence-tui/v1/machine-tag";
/// Message authenticated under the derived key to make the key check value.
const KEY_CHECK_LABEL: &[u8] = b"confluence-tui/v1/key-check";

/// Length of the derived XChaCha20-Poly1305 key.
pub(crate) const KEY_LEN: usize = 32;

/// A derived vault key; wiped when dropped.
pub(crate) type VaultKey = Zeroizing<[u8; KEY_LEN]>;

/// Where the machine id comes from.
#[derive(Clone)]
pub enum MachineIdSource {
    /// `machine_uid::get()` (e.g. `/etc/machine-id`).
    System,
    /// A given id (tests, or callers that read it themselves).
    Fixed(String),
    /// Behave as a machine without a readable id.
    Unavailable,
}

impl std::fmt::Debug for MachineIdSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The id is key material for vaults without a passphrase.
        match self {
            MachineIdSource::System => f.write_str("System"),
            MachineIdSource::Fixed(_) => f.write_str("Fixed(<hidden>)"),
            MachineIdSource::Unavailable => f.write_str("Unavailable"),
        }
    }
}

/// The machine's contribution to the key, and its public tag.
pub struct MachineBinding {
    key: Zeroizing<[u8; 32]>,
    tag: [u8; 8],
}

impl std::fmt::Debug for MachineBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MachineBinding")
            .field("tag", &hex::encode(self.tag))
            .finish_non_exhaustive()
    }
}

impl MachineBinding {
    /// Reads and validates the machine id, then derives key and tag from it.
    pub fn from_source(source: &MachineIdSource) -> Result<MachineBinding, VaultError> {
        let raw =
            match source {
                MachineIdSource::System => Zeroizing::new(machine_uid::get().map_err(|e| {
                    VaultError::MachineIdUnreadable {
                        reason: format!("the system refused: {e}"),
                    }
                })?),
                MachineIdSource::Fixed(id) => Zeroizing::new(id.clone()),
                MachineIdSource::Unavailable => {
                    return Err(VaultError::MachineIdUnreadable {
                        reason: "no machine id is available here".into(),
                    });
                }
            };
        let id = raw.trim();
        if id.is_empty() {
            return Err(VaultError::MachineIdUnreadable {
                reason: "the machine id is empty".into(),
            });
        }
        if id.eq_ignore_ascii_case("uninitialized") {
            return Err(VaultError::MachineIdUnreadable {
                reason: "the machine id is not initialised yet (\"uninitialized\")".into(),
            });
        }
        Ok(MachineBinding::from_id(id.as_bytes()))
    }

    fn from_id(id: &[u8]) -> MachineBinding {
        let key = Zeroizing::new(hmac_sha256(MACHINE_KEY_DOMAIN, id));
        let full_tag = hmac_sha256(MACHINE_TAG_DOMAIN, id);
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&full_tag[..8]);
        MachineBinding { key, tag }
    }

    /// The 8-byte tag stored in the header.
    pub(crate) fn tag(&self) -> [u8; 8] {
        self.tag
    }
}

/// Derives the vault key with scrypt over (machine key ‖ passphrase).
///
/// At least one input must be given. The parameters are checked again here
/// so no caller can run scrypt with an unchecked cost.
pub fn derive_key(
    params: &KdfParams,
    salt: &[u8; 16],
    machine: Option<&MachineBinding>,
    passphrase: Option<&SecretString>,
) -> Result<VaultKey, VaultError> {
    params.check()?;
    if machine.is_none() && passphrase.is_none() {
        return Err(VaultError::MachineIdUnreadable {
            reason: "no machine id and no passphrase to key the vault with".into(),
        });
    }
    let mut password = Zeroizing::new(Vec::new());
    if let Some(m) = machine {
        password.extend_from_slice(m.key.as_slice());
    }
    if let Some(p) = passphrase {
        password.extend_from_slice(p.expose_secret().as_bytes());
    }
    let scrypt_params = scrypt::Params::new(params.log_n, params.r, params.p).map_err(|_| {
        VaultError::UnsafeKdfParams {
            kdf_id: super::format::KDF_SCRYPT,
            log_n: params.log_n,
            r: params.r,
            p: params.p,
        }
    })?;
    let mut key: VaultKey = Zeroizing::new([0u8; KEY_LEN]);
    scrypt::scrypt(&password, salt, &scrypt_params, key.as_mut_slice()).map_err(|_| {
        VaultError::Internal {
            what: "scrypt refused the output length".into(),
        }
    })?;
    Ok(key)
}

/// The 16-byte key check value stored in the header.
pub(crate) fn key_check(key: &VaultKey) -> [u8; 16] {
    let full = hmac_sha256(key.as_slice(), KEY_CHECK_LABEL);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// Compares a stored key check value with the key, in constant time.
pub(crate) fn key_check_matches(key: &VaultKey, stored: &[u8; 16]) -> bool {
    key_mac(key.as_slice())
        .chain_update(KEY_CHECK_LABEL)
        .verify_truncated_left(stored)
        .is_ok()
}

fn key_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail; the fallback
    // (an empty key) is unreachable and kept only to avoid a panic path.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let bytes = key_mac(key).chain_update(message).finalize().into_bytes();
    let mut out = [0u8; 32];
    out.copy_from_slice(bytes.as_slice());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_id_is_trimmed_and_validated() {
        let a = MachineBinding::from_source(&MachineIdSource::Fixed("abc\n".into())).unwrap();
        let b = MachineBinding::from_source(&MachineIdSource::Fixed("  abc".into())).unwrap();
        assert_eq!(a.tag(), b.tag());
        for bad in ["", "  \n", "uninitialized", "UNINITIALIZED\n"] {
            let err = MachineBinding::from_source(&MachineIdSource::Fixed(bad.into())).unwrap_err();
            assert!(
                matches!(err, VaultError::MachineIdUnreadable { .. }),
                "{bad:?}"
            );
            assert!(err.to_string().contains("CONFLUENCE_VAULT_PASSPHRASE"));
        }
    }

    #[test]
    fn tag_and_key_differ_per_machine_and_from_each_other() {
        let a = MachineBinding::from_id(b"machine-a");
        let b = MachineBinding::from_id(b"machine-b");
        assert_ne!(a.tag(), b.tag());
        assert_ne!(&a.key[..8], &a.tag()[..]);
        assert!(!format!("{a:?}").contains(&hex::encode(&a.key[..])));
    }

    #[test]
    fn key_depends_on_every_input_and_check_value_verifies() {
        let params = KdfParams::with_log_n(10);
        let m = MachineBinding::from_id(b"m");
        let p = SecretString::from("pw");
        let salt = [7u8; 16];
        let k1 = derive_key(&params, &salt, Some(&m), Some(&p)).unwrap();
        let k2 = derive_key(&params, &salt, Some(&m), None).unwrap();
        let k3 = derive_key(&params, &salt, None, Some(&p)).unwrap();
        let k4 = derive_key(&params, &[8u8; 16], Some(&m), Some(&p)).unwrap();
        assert_ne!(*k1, *k2);
        assert_ne!(*k1, *k3);
        assert_ne!(*k1, *k4);
        let again = derive_key(&params, &salt, Some(&m), Some(&p)).unwrap();
        assert_eq!(*k1, *again);
        let kcv = key_check(&k1);
        assert!(key_check_matches(&k1, &kcv));
        assert!(!key_check_matches(&k2, &kcv));
        assert!(derive_key(&params, &salt, None, None).is_err());
        let hostile = KdfParams {
            log_n: 40,
            r: 8,
            p: 1,
        };
        assert!(matches!(
            derive_key(&hostile, &salt, Some(&m), None),
            Err(VaultError::UnsafeKdfParams { .. })
        ));
    }
}
