//! The vault's bytes on disk: an 80-byte header, the AEAD ciphertext, and a
//! trailing SHA-256 checksum. Specified byte by byte in `docs/vault-format.md`.
//!
//! This module only parses and lays out bytes; it never derives keys or
//! decrypts. `parse_file` performs every check that needs no secret, in the
//! documented order, so a damaged or hostile file is refused before scrypt.

use sha2::{Digest, Sha256};

use super::error::VaultError;

/// First four bytes of every vault file ("confluence-tui vault").
pub const MAGIC: [u8; 4] = *b"CTVF";
/// The format version this build writes (per-site document). It also reads
/// `V1_FORMAT_VERSION`.
pub const FORMAT_VERSION: u8 = 2;
/// The first format (one site's credentials, no site named), still read.
pub const V1_FORMAT_VERSION: u8 = 1;
/// Header length in bytes; the header is also the AEAD's associated data.
pub const HEADER_LEN: usize = 80;
/// Length of the Poly1305 tag at the end of the ciphertext.
pub(crate) const TAG_LEN: usize = 16;
/// Length of the trailing SHA-256 checksum.
pub const CHECKSUM_LEN: usize = 32;
/// Shortest possible file: header, an empty ciphertext's tag, checksum.
pub(crate) const MIN_FILE_LEN: usize = HEADER_LEN + TAG_LEN + CHECKSUM_LEN;
/// KDF id for scrypt, the only KDF defined.
pub(crate) const KDF_SCRYPT: u8 = 1;
/// Flag bit: a passphrase is part of the key.
pub(crate) const FLAG_PASSPHRASE: u8 = 0b01;
/// Flag bit: the machine id is part of the key and the machine tag is set.
pub(crate) const FLAG_MACHINE_BOUND: u8 = 0b10;

/// Accepted scrypt log2(N) range when reading and writing; also the range of
/// `CONFLUENCE_KDF_LOG_N`.
pub(crate) const KDF_LOG_N_RANGE: std::ops::RangeInclusive<u8> = 10..=20;
/// Accepted scrypt r range.
pub(crate) const R_RANGE: std::ops::RangeInclusive<u32> = 1..=16;
/// Accepted scrypt p range.
pub(crate) const P_RANGE: std::ops::RangeInclusive<u32> = 1..=4;
/// Largest scrypt working memory (128·r·N bytes) a header may ask for.
pub(crate) const MAX_KDF_MEMORY: u64 = 1 << 30;
/// scrypt cost (log2 N) for new vaults unless `CONFLUENCE_KDF_LOG_N` says.
pub(crate) const DEFAULT_KDF_LOG_N: u8 = 17;
/// scrypt r used for new vaults.
pub(crate) const DEFAULT_R: u32 = 8;
/// scrypt p used for new vaults.
pub(crate) const DEFAULT_P: u32 = 1;

const OFF_VERSION: usize = 4;
const OFF_FLAGS: usize = 5;
const OFF_KDF_ID: usize = 6;
const OFF_LOG_N: usize = 7;
const OFF_R: usize = 8;
const OFF_P: usize = 12;
const OFF_TAG: usize = 16;
const OFF_SALT: usize = 24;
const OFF_NONCE: usize = 40;
const OFF_KEY_CHECK: usize = 64;

/// scrypt cost parameters as stored in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl KdfParams {
    /// Parameters for a new vault at the given cost.
    pub fn with_log_n(log_n: u8) -> KdfParams {
        KdfParams {
            log_n,
            r: DEFAULT_R,
            p: DEFAULT_P,
        }
    }

    /// Refuses parameters outside the bounds, so scrypt never runs with a
    /// hostile header's cost.
    pub fn check(&self) -> Result<(), VaultError> {
        let in_range = KDF_LOG_N_RANGE.contains(&self.log_n)
            && R_RANGE.contains(&self.r)
            && P_RANGE.contains(&self.p);
        // Ranges hold first, so the shift and product cannot overflow u64.
        if in_range && self.memory_bytes() <= MAX_KDF_MEMORY {
            Ok(())
        } else {
            Err(self.unsafe_error(KDF_SCRYPT))
        }
    }

    /// scrypt's working memory for these parameters, saturating.
    pub fn memory_bytes(&self) -> u64 {
        let n = 1u64.checked_shl(u32::from(self.log_n)).unwrap_or(u64::MAX);
        128u64.saturating_mul(u64::from(self.r)).saturating_mul(n)
    }

    fn unsafe_error(&self, kdf_id: u8) -> VaultError {
        VaultError::UnsafeKdfParams {
            kdf_id,
            log_n: self.log_n,
            r: self.r,
            p: self.p,
        }
    }
}

/// The fixed-size header in front of the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub flags: u8,
    pub kdf_id: u8,
    pub kdf: KdfParams,
    /// Truncated keyed hash of the machine id; zero when not machine-bound.
    pub machine_tag: [u8; 8],
    pub salt: [u8; 16],
    pub nonce: [u8; 24],
    /// Truncated HMAC of the derived key: tells a wrong passphrase from tampering.
    pub key_check: [u8; 16],
}

impl Header {
    /// True when a passphrase is part of the key.
    pub fn passphrase_used(&self) -> bool {
        self.flags & FLAG_PASSPHRASE != 0
    }

    /// True when the machine id is part of the key.
    pub fn machine_bound(&self) -> bool {
        self.flags & FLAG_MACHINE_BOUND != 0
    }

    /// The header's bytes, exactly as written to disk and authenticated.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..OFF_VERSION].copy_from_slice(&MAGIC);
        out[OFF_VERSION] = self.version;
        out[OFF_FLAGS] = self.flags;
        out[OFF_KDF_ID] = self.kdf_id;
        out[OFF_LOG_N] = self.kdf.log_n;
        out[OFF_R..OFF_P].copy_from_slice(&self.kdf.r.to_le_bytes());
        out[OFF_P..OFF_TAG].copy_from_slice(&self.kdf.p.to_le_bytes());
        out[OFF_TAG..OFF_SALT].copy_from_slice(&self.machine_tag);
        out[OFF_SALT..OFF_NONCE].copy_from_slice(&self.salt);
        out[OFF_NONCE..OFF_KEY_CHECK].copy_from_slice(&self.nonce);
        out[OFF_KEY_CHECK..HEADER_LEN].copy_from_slice(&self.key_check);
        out
    }

    /// Reads the fields without judging them (the caller checks magic,
    /// version and parameters in the documented order).
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Header {
        Header {
            version: bytes[OFF_VERSION],
            flags: bytes[OFF_FLAGS],
            kdf_id: bytes[OFF_KDF_ID],
            kdf: KdfParams {
                log_n: bytes[OFF_LOG_N],
                r: u32::from_le_bytes(array_at(bytes, OFF_R)),
                p: u32::from_le_bytes(array_at(bytes, OFF_P)),
            },
            machine_tag: array_at(bytes, OFF_TAG),
            salt: array_at(bytes, OFF_SALT),
            nonce: array_at(bytes, OFF_NONCE),
            key_check: array_at(bytes, OFF_KEY_CHECK),
        }
    }
}

/// A file that passed every check that needs no key.
#[derive(Debug)]
pub struct ParsedFile<'a> {
    pub header: Header,
    /// The header's raw bytes: the AEAD's associated data.
    pub header_bytes: &'a [u8; HEADER_LEN],
    /// Ciphertext including the trailing Poly1305 tag.
    pub ciphertext: &'a [u8],
}

/// Checks a whole file in the documented order: length and magic, checksum,
/// version, KDF id and parameters, flag sanity. No key is needed or derived.
pub fn parse_file(bytes: &[u8]) -> Result<ParsedFile<'_>, VaultError> {
    if bytes.len() < MIN_FILE_LEN {
        return Err(VaultError::corrupt("the file is too short to be a vault"));
    }
    if bytes[..MAGIC.len()] != MAGIC {
        return Err(VaultError::corrupt("the file does not start like a vault"));
    }
    let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
    if Sha256::digest(body).as_slice() != checksum {
        return Err(VaultError::corrupt(
            "the checksum does not match: bytes were changed, cut off or appended",
        ));
    }
    let (head, ciphertext) = body.split_at(HEADER_LEN);
    let header_bytes: &[u8; HEADER_LEN] = head
        .try_into()
        .map_err(|_| VaultError::corrupt("the header is incomplete"))?;
    let header = Header::decode(header_bytes);
    if header.version != FORMAT_VERSION && header.version != V1_FORMAT_VERSION {
        return Err(VaultError::UnsupportedVersion {
            found: header.version,
            supported: FORMAT_VERSION,
        });
    }
    if header.kdf_id != KDF_SCRYPT {
        return Err(header.kdf.unsafe_error(header.kdf_id));
    }
    header.kdf.check()?;
    check_flags(&header)?;
    Ok(ParsedFile {
        header,
        header_bytes,
        ciphertext,
    })
}

/// Lays out a file: header, ciphertext, then the checksum over both.
pub(crate) fn assemble(header_bytes: &[u8; HEADER_LEN], ciphertext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len() + CHECKSUM_LEN);
    out.extend_from_slice(header_bytes);
    out.extend_from_slice(ciphertext);
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(checksum.as_slice());
    out
}

/// Recomputes the trailing checksum in place; used by tests and tools that
/// craft files to exercise the checks behind the checksum.
pub fn reseal_checksum(file: &mut Vec<u8>) {
    let body_len = file.len().saturating_sub(CHECKSUM_LEN);
    file.truncate(body_len);
    let checksum = Sha256::digest(file.as_slice());
    file.extend_from_slice(checksum.as_slice());
}

fn check_flags(header: &Header) -> Result<(), VaultError> {
    if header.flags & !(FLAG_PASSPHRASE | FLAG_MACHINE_BOUND) != 0 {
        return Err(VaultError::corrupt("the header has unknown flag bits"));
    }
    if header.flags == 0 {
        return Err(VaultError::corrupt(
            "the header names neither a passphrase nor a machine binding",
        ));
    }
    if !header.machine_bound() && header.machine_tag != [0u8; 8] {
        return Err(VaultError::corrupt(
            "the header has a machine tag but is not machine-bound",
        ));
    }
    Ok(())
}

fn array_at<const N: usize>(bytes: &[u8; HEADER_LEN], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[offset..offset + N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_header() -> Header {
        Header {
            version: FORMAT_VERSION,
            flags: FLAG_PASSPHRASE | FLAG_MACHINE_BOUND,
            kdf_id: KDF_SCRYPT,
            kdf: KdfParams {
                log_n: 12,
                r: 8,
                p: 1,
            },
            machine_tag: [1, 2, 3, 4, 5, 6, 7, 8],
            salt: [0x11; 16],
            nonce: [0x22; 24],
            key_check: [0x33; 16],
        }
    }

    fn sample_file(header: &Header) -> Vec<u8> {
        assemble(&header.encode(), &[0xAB; 40])
    }

    #[test]
    fn header_round_trips_through_bytes() {
        let h = sample_header();
        let bytes = h.encode();
        assert_eq!(&bytes[..4], b"CTVF");
        assert_eq!(bytes[4], 2);
        assert_eq!(bytes[5], 0b11);
        assert_eq!(bytes[6], 1);
        assert_eq!(bytes[7], 12);
        assert_eq!(&bytes[8..12], &8u32.to_le_bytes());
        assert_eq!(&bytes[12..16], &1u32.to_le_bytes());
        assert_eq!(&bytes[16..24], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[24..40], &[0x11; 16]);
        assert_eq!(&bytes[40..64], &[0x22; 24]);
        assert_eq!(&bytes[64..80], &[0x33; 16]);
        assert_eq!(Header::decode(&bytes), h);
    }

    #[test]
    fn parse_accepts_a_well_formed_file() {
        let h = sample_header();
        let file = sample_file(&h);
        let parsed = parse_file(&file).unwrap();
        assert_eq!(parsed.header, h);
        assert_eq!(parsed.ciphertext, &[0xAB; 40]);
        assert_eq!(parsed.header_bytes, &h.encode());
    }

    #[test]
    fn checksum_is_checked_before_version() {
        let mut h = sample_header();
        h.version = 9;
        let mut file = sample_file(&h);
        let last = file.len() - 1;
        file[last] ^= 1;
        assert!(matches!(parse_file(&file), Err(VaultError::Corrupt { .. })));
        reseal_checksum(&mut file);
        assert!(matches!(
            parse_file(&file),
            Err(VaultError::UnsupportedVersion {
                found: 9,
                supported: 2
            })
        ));
    }

    #[test]
    fn versions_one_and_two_are_read_and_others_refused() {
        for (version, accepted) in [(0, false), (1, true), (2, true), (3, false), (255, false)] {
            let mut h = sample_header();
            h.version = version;
            let file = sample_file(&h);
            assert_eq!(parse_file(&file).is_ok(), accepted, "version {version}");
        }
    }

    #[test]
    fn short_file_and_bad_magic_are_corrupt() {
        assert!(matches!(parse_file(&[]), Err(VaultError::Corrupt { .. })));
        let mut file = sample_file(&sample_header());
        file[0] = b'X';
        reseal_checksum(&mut file);
        assert!(matches!(parse_file(&file), Err(VaultError::Corrupt { .. })));
    }

    #[test]
    fn kdf_bounds_are_enforced() {
        let bad = [
            (9, 8, 1),
            (21, 8, 1),
            (40, 8, 1),
            (14, 0, 1),
            (14, 17, 1),
            (14, u32::MAX, 1),
            (14, 8, 0),
            (14, 8, 5),
            (20, 16, 1), // 2 GiB of memory
        ];
        for (log_n, r, p) in bad {
            let kdf = KdfParams { log_n, r, p };
            assert!(
                matches!(kdf.check(), Err(VaultError::UnsafeKdfParams { .. })),
                "{kdf:?}"
            );
            let mut h = sample_header();
            h.kdf = kdf;
            assert!(matches!(
                parse_file(&sample_file(&h)),
                Err(VaultError::UnsafeKdfParams { .. })
            ));
        }
        for (log_n, r, p) in [(10, 1, 1), (17, 8, 1), (20, 8, 4), (13, 16, 4)] {
            assert!(KdfParams { log_n, r, p }.check().is_ok());
        }
        let mut h = sample_header();
        h.kdf_id = 2;
        assert!(matches!(
            parse_file(&sample_file(&h)),
            Err(VaultError::UnsafeKdfParams { kdf_id: 2, .. })
        ));
    }

    #[test]
    fn impossible_flags_are_corrupt() {
        for (flags, tag) in [
            (0b100, [0u8; 8]),
            (0, [0u8; 8]),
            (FLAG_PASSPHRASE, [9u8; 8]),
        ] {
            let mut h = sample_header();
            h.flags = flags;
            h.machine_tag = tag;
            assert!(
                matches!(
                    parse_file(&sample_file(&h)),
                    Err(VaultError::Corrupt { .. })
                ),
                "{flags:#b}"
            );
        }
    }
}
