//! Chromium's cookie value encryption (`os_crypt`): which scheme a value
//! uses, the keys, AES-128-CBC decryption and the host hash newer versions
//! put before the value.
//!
//! - `v10` on Linux: the "basic" store, key PBKDF2-HMAC-SHA1("peanuts",
//!   "saltysalt", 1 iteration, 16 bytes).
//! - `v11` on Linux: the same derivation from the browser's "Safe Storage"
//!   secret in the Secret Service.
//! - `v10` on macOS: the derivation from the Keychain's "Safe Storage"
//!   secret with 1003 iterations.
//! - `v20` (Windows app-bound encryption) and Windows' DPAPI values are not
//!   read: only the browser itself can decrypt them.
//!
//! Every scheme above is AES-128-CBC, IV of 16 spaces, PKCS#7 padding.

use std::fmt;

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// PBKDF2's salt in every Chromium derivation.
const SALT: &[u8] = b"saltysalt";
/// The Linux basic store's password.
const BASIC_PASSWORD: &[u8] = b"peanuts";
/// PBKDF2 iterations on Linux.
const LINUX_ITERATIONS: u32 = 1;
/// PBKDF2 iterations on macOS.
const MACOS_ITERATIONS: u32 = 1003;
/// The IV of every scheme: 16 spaces.
const IV: [u8; 16] = [b' '; 16];
/// From this `meta` version on, the plaintext starts with SHA-256(host_key).
pub(crate) const HOST_HASH_VERSION: u32 = 24;

/// How a value in `encrypted_value` is protected, from its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    V10,
    V11,
    /// Windows app-bound encryption.
    V20,
    /// No known prefix (Windows DPAPI, or not a Chromium value at all).
    Unknown,
}

/// The scheme of an `encrypted_value` and the ciphertext after its prefix.
pub(crate) fn scheme_of(encrypted: &[u8]) -> (Scheme, &[u8]) {
    match encrypted.split_at_checked(3) {
        Some((b"v10", rest)) => (Scheme::V10, rest),
        Some((b"v11", rest)) => (Scheme::V11, rest),
        Some((b"v20", rest)) => (Scheme::V20, rest),
        _ => (Scheme::Unknown, encrypted),
    }
}

/// A 16-byte AES key; wiped when dropped, never printed.
#[derive(Clone)]
pub struct CookieKey(Zeroizing<[u8; 16]>);

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey(<redacted>)")
    }
}

impl CookieKey {
    fn derive(password: &[u8], iterations: u32) -> CookieKey {
        let mut key = Zeroizing::new([0u8; 16]);
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, SALT, iterations, key.as_mut());
        CookieKey(key)
    }

    /// The Linux basic store's key (`v10`).
    pub fn linux_basic() -> CookieKey {
        CookieKey::derive(BASIC_PASSWORD, LINUX_ITERATIONS)
    }

    /// The Linux key from the Secret Service's "Safe Storage" secret (`v11`).
    pub fn linux_from_secret(secret: &[u8]) -> CookieKey {
        CookieKey::derive(secret, LINUX_ITERATIONS)
    }

    /// The macOS key from the Keychain's "Safe Storage" secret (`v10`).
    pub fn macos_from_secret(secret: &[u8]) -> CookieKey {
        CookieKey::derive(secret, MACOS_ITERATIONS)
    }

    /// The raw key bytes, for the cipher.
    pub(crate) fn expose_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

/// Why a value could not be decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    #[error("it does not decrypt with the key (wrong key or damaged value)")]
    BadCiphertext,
    #[error("its host hash does not match its host")]
    HostHashMismatch,
    #[error("it is not UTF-8 text")]
    NotText,
}

/// Decrypts an AES-128-CBC ciphertext (after its prefix).
pub(crate) fn decrypt(
    key: &CookieKey,
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DecryptError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(DecryptError::BadCiphertext);
    }
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = cbc::Decryptor::<aes::Aes128>::new(key.expose_bytes().into(), &IV.into())
        .decrypt_padded::<Pkcs7>(&mut buf)
        .map_err(|_| DecryptError::BadCiphertext)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// The value itself: from `meta` version 24 on, the plaintext starts with
/// SHA-256 of the cookie's `host_key`, which must match (a value moved
/// from another host's row is refused).
pub(crate) fn strip_host_hash(
    plain: Zeroizing<Vec<u8>>,
    host_key: &str,
    db_version: u32,
) -> Result<Zeroizing<String>, DecryptError> {
    let value: &[u8] = if db_version >= HOST_HASH_VERSION {
        let (hash, rest) = plain
            .split_at_checked(32)
            .ok_or(DecryptError::HostHashMismatch)?;
        if hash != Sha256::digest(host_key.as_bytes()).as_slice() {
            return Err(DecryptError::HostHashMismatch);
        }
        rest
    } else {
        &plain
    };
    let text = std::str::from_utf8(value).map_err(|_| DecryptError::NotText)?;
    Ok(Zeroizing::new(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::BlockModeEncrypt;

    /// A ciphertext built independently of the code under test.
    fn cbc_encrypt(key: &[u8; 16], plain: &[u8]) -> Vec<u8> {
        cbc::Encryptor::<aes::Aes128>::new(key.into(), &[0x20u8; 16].into())
            .encrypt_padded_vec::<Pkcs7>(plain)
    }

    fn pbkdf2_sha1(password: &[u8], iterations: u32) -> [u8; 16] {
        pbkdf2::pbkdf2_hmac_array::<sha1::Sha1, 16>(password, b"saltysalt", iterations)
    }

    #[test]
    fn the_linux_basic_key_is_the_published_one() {
        // PBKDF2-HMAC-SHA1("peanuts", "saltysalt", 1, 16), as every
        // Chromium cookie reader knows it.
        assert_eq!(
            hex::encode(CookieKey::linux_basic().expose_bytes()),
            "fd621fe5a2b402539dfa147ca9272778"
        );
    }

    #[test]
    fn a_v10_value_decrypts_and_its_host_hash_is_stripped() {
        let key = pbkdf2_sha1(b"peanuts", 1);
        let mut plain = Sha256::digest(b".example.com").to_vec();
        plain.extend_from_slice(b"session-value-42");
        let mut stored = b"v10".to_vec();
        stored.extend(cbc_encrypt(&key, &plain));
        let (scheme, ct) = scheme_of(&stored);
        assert_eq!(scheme, Scheme::V10);
        let out = decrypt(&CookieKey::linux_basic(), ct).unwrap();
        let value = strip_host_hash(out.clone(), ".example.com", 24).unwrap();
        assert_eq!(value.as_str(), "session-value-42");
        // Another host's row: refused, not misread.
        assert_eq!(
            strip_host_hash(out, "other.example.com", 24).map(|_| ()),
            Err(DecryptError::HostHashMismatch)
        );
    }

    #[test]
    fn before_version_24_there_is_no_host_hash() {
        let key = pbkdf2_sha1(b"peanuts", 1);
        let ct = cbc_encrypt(&key, b"plain-old");
        let out = decrypt(&CookieKey::linux_basic(), &ct).unwrap();
        assert_eq!(strip_host_hash(out, "x", 23).unwrap().as_str(), "plain-old");
    }

    #[test]
    fn a_v11_value_decrypts_with_the_secret_service_secret() {
        let secret = b"Zm9vYmFyc2VjcmV0MTIzNA==";
        let key = pbkdf2_sha1(secret, 1);
        let mut plain = Sha256::digest(b"h").to_vec();
        plain.extend_from_slice(b"v11-value");
        let mut stored = b"v11".to_vec();
        stored.extend(cbc_encrypt(&key, &plain));
        let (scheme, ct) = scheme_of(&stored);
        assert_eq!(scheme, Scheme::V11);
        let out = decrypt(&CookieKey::linux_from_secret(secret), ct).unwrap();
        assert_eq!(strip_host_hash(out, "h", 24).unwrap().as_str(), "v11-value");
        // The basic key does not open it.
        assert!(
            decrypt(&CookieKey::linux_basic(), ct)
                .ok()
                .and_then(|p| strip_host_hash(p, "h", 24).ok())
                .is_none()
        );
    }

    #[test]
    fn the_macos_key_uses_1003_iterations() {
        let secret = b"keychain-secret";
        assert_eq!(
            CookieKey::macos_from_secret(secret).expose_bytes(),
            &pbkdf2_sha1(secret, 1003)
        );
        assert_ne!(
            CookieKey::macos_from_secret(secret).expose_bytes(),
            CookieKey::linux_from_secret(secret).expose_bytes()
        );
        let ct = cbc_encrypt(&pbkdf2_sha1(secret, 1003), b"mac-value");
        let out = decrypt(&CookieKey::macos_from_secret(secret), &ct).unwrap();
        assert_eq!(out.as_slice(), b"mac-value");
    }

    #[test]
    fn v20_and_unknown_prefixes_are_recognised() {
        assert_eq!(scheme_of(b"v20abcdef").0, Scheme::V20);
        assert_eq!(scheme_of(b"\x01\x00\x00\x00DPAPI").0, Scheme::Unknown);
        assert_eq!(scheme_of(b"v1").0, Scheme::Unknown);
    }

    #[test]
    fn damaged_ciphertexts_are_refused() {
        let key = CookieKey::linux_basic();
        assert_eq!(
            decrypt(&key, b"").map(|_| ()),
            Err(DecryptError::BadCiphertext)
        );
        assert_eq!(
            decrypt(&key, &[0u8; 15]).map(|_| ()),
            Err(DecryptError::BadCiphertext)
        );
        assert!(format!("{key:?}").contains("redacted"));
    }
}
