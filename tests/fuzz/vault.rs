//! Vault reader target: arbitrary bytes as a vault file, and mutations of a
//! real small vault (bit flips, truncations, splices, header fields with
//! random KDF parameters), with and without the checksum recomputed, all
//! loaded through `Vault::load` from a real file.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::credentials::{Credentials, ImportInput};
use confluence_tui::vault::format::{self, HEADER_LEN, KdfParams};
use confluence_tui::vault::{MachineIdSource, Vault, VaultError, VaultOptions};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;

use super::alloc::peak_bytes;
use super::cookies::SENTINEL;

const MACHINE: &str = "fuzz-vault-machine";
/// Header fields a mutation may overwrite: (offset, length).
const FIELDS: &[(usize, usize)] = &[
    (4, 1),   // version
    (5, 1),   // flags
    (6, 1),   // kdf id
    (7, 1),   // log2 N
    (8, 4),   // r
    (12, 4),  // p
    (16, 8),  // machine tag
    (24, 16), // salt
    (40, 24), // nonce
    (64, 16), // key check
];
/// Loads whose header asks scrypt for more than this are only parsed: the
/// bounds allow up to 1 GiB, which is correct for a real vault but would
/// make a fuzz run crawl and crowd the machine.
const MAX_FUZZ_KDF_MEMORY: u64 = 16 << 20;

/// A real vault written by the import path, holding sentinel cookie values.
pub fn base_vault() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let flags = FlagOverrides {
            data_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let vars = HashMap::from([
            ("CONFLUENCE_KDF_LOG_N".to_string(), "10".to_string()),
            (
                "CONFLUENCE_BASE_URL".to_string(),
                "https://example.atlassian.net/wiki".to_string(),
            ),
        ]);
        let settings = Settings::from_vars(&flags, &vars).expect("settings");
        let creds = Credentials::with_machine_id(&settings, MachineIdSource::Fixed(MACHINE.into()));
        let paste =
            format!("cloud.session.token={SENTINEL}session; atlassian.xsrf.token={SENTINEL}xsrf");
        creds
            .import(
                ImportInput::Paste(paste.into()),
                time::OffsetDateTime::now_utc(),
            )
            .expect("import");
        std::fs::read(settings.paths().vault_file).expect("vault bytes")
    })
}

/// How a file is made from the base vault.
#[derive(Clone, Debug)]
pub enum VaultInput {
    Arbitrary(Vec<u8>),
    Mutated { edits: Vec<Edit>, reseal: bool },
}

/// One change to the base vault's bytes.
#[derive(Clone, Debug)]
pub enum Edit {
    FlipBit {
        at: usize,
        bit: u8,
    },
    Truncate {
        keep: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    /// Copies a range of the file over another place of it.
    CopyWithin {
        from: usize,
        to: usize,
        len: usize,
    },
    SetField {
        field: usize,
        bytes: Vec<u8>,
    },
    Kdf {
        log_n: u8,
        r: u32,
        p: u32,
    },
}

fn apply(edit: &Edit, file: &mut Vec<u8>) {
    let len = file.len();
    let pos = |at: usize| if len == 0 { 0 } else { at % (len + 1) };
    match edit {
        Edit::FlipBit { at, bit } => {
            if len > 0 {
                file[at % len] ^= 1 << (bit % 8);
            }
        }
        Edit::Truncate { keep } => file.truncate(pos(*keep)),
        Edit::Insert { at, bytes } => {
            let at = pos(*at);
            file.splice(at..at, bytes.iter().copied());
        }
        Edit::Remove { at, len: n } => {
            let at = pos(*at);
            let end = at.saturating_add(*n).min(len);
            file.drain(at..end);
        }
        Edit::CopyWithin { from, to, len: n } => {
            if len > 0 {
                let from = from % len;
                let to = to % len;
                let n = (*n).min(len - from).min(len - to);
                file.copy_within(from..from + n, to);
            }
        }
        Edit::SetField { field, bytes } => {
            let (off, n) = FIELDS[field % FIELDS.len()];
            if file.len() >= off + n {
                for (i, b) in bytes.iter().take(n).enumerate() {
                    file[off + i] = *b;
                }
            }
        }
        Edit::Kdf { log_n, r, p } => {
            if file.len() >= HEADER_LEN {
                file[7] = *log_n;
                file[8..12].copy_from_slice(&r.to_le_bytes());
                file[12..16].copy_from_slice(&p.to_le_bytes());
            }
        }
    }
}

impl VaultInput {
    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            VaultInput::Arbitrary(b) => b.clone(),
            VaultInput::Mutated { edits, reseal } => {
                let mut file = base_vault().to_vec();
                for e in edits {
                    apply(e, &mut file);
                }
                if *reseal && file.len() >= format::CHECKSUM_LEN {
                    format::reseal_checksum(&mut file);
                }
                file
            }
        }
    }
}

/// The bytes a regression file stores: the vault file itself.
pub fn to_bytes(v: &VaultInput) -> Vec<u8> {
    v.bytes()
}

fn edit() -> impl Strategy<Value = Edit> {
    let log_n = prop_oneof![
        Just(0u8),
        Just(9),
        Just(10),
        Just(11),
        Just(20),
        Just(21),
        any::<u8>()
    ];
    let r = prop_oneof![
        Just(0u32),
        Just(1),
        Just(8),
        Just(16),
        Just(17),
        any::<u32>()
    ];
    let p = prop_oneof![Just(0u32), Just(1), Just(4), Just(5), any::<u32>()];
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, bit)| Edit::FlipBit { at, bit }),
        1 => any::<usize>().prop_map(|keep| Edit::Truncate { keep }),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..40))
            .prop_map(|(at, bytes)| Edit::Insert { at, bytes }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Remove { at, len }),
        1 => (any::<usize>(), any::<usize>(), 1usize..64)
            .prop_map(|(from, to, len)| Edit::CopyWithin { from, to, len }),
        2 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..24))
            .prop_map(|(field, bytes)| Edit::SetField { field, bytes }),
        2 => (log_n, r, p).prop_map(|(log_n, r, p)| Edit::Kdf { log_n, r, p }),
    ]
}

/// Arbitrary files (some starting with the magic) and mutated real vaults.
pub fn strategy() -> impl Strategy<Value = VaultInput> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..400).prop_map(VaultInput::Arbitrary),
        1 => prop::collection::vec(any::<u8>(), 0..400).prop_map(|mut b| {
            let mut file = format::MAGIC.to_vec();
            file.append(&mut b);
            format::reseal_checksum(&mut file);
            VaultInput::Arbitrary(file)
        }),
        4 => (prop::collection::vec(edit(), 1..4), any::<bool>())
            .prop_map(|(edits, reseal)| VaultInput::Mutated { edits, reseal }),
    ]
}

fn vault_at(path: &Path) -> Vault {
    Vault::new(
        path.to_path_buf(),
        VaultOptions {
            machine_id: MachineIdSource::Fixed(MACHINE.into()),
            passphrase: None,
            kdf_log_n: 10,
        },
    )
}

/// Never panics; a file other than `original` is never accepted (with no
/// original, every file must be refused); every refusal is one of the "this
/// file is bad" errors and names no secret; memory stays bounded.
pub fn check_bytes(bytes: &[u8], original: Option<&[u8]>) -> TestCaseResult {
    if let Ok(parsed) = format::parse_file(bytes) {
        // Judged against the documented bounds, not `KdfParams::check`: a
        // parse that succeeded has already passed `check`, so asking it again
        // would hold even with the bounds gone.
        let kdf = parsed.header.kdf;
        prop_assert!(
            within_documented_kdf_bounds(&kdf),
            "parsed a header with KDF parameters outside the bounds: {kdf:?}"
        );
        // Accepted, but too costly for a fuzz loop: skip the key derivation.
        if kdf.memory_bytes() > MAX_FUZZ_KDF_MEMORY {
            return Ok(());
        }
    }
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("secure_cookies.enc");
    std::fs::write(&path, bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let vault = vault_at(&path);
    let (result, peak) = peak_bytes(|| vault.load());
    // scrypt at the accepted fuzz cost uses ≤ 16 MiB; decryption and JSON a
    // few copies of the file.
    let bound = MAX_FUZZ_KDF_MEMORY as usize + 4 * bytes.len() + (1 << 20);
    prop_assert!(peak <= bound, "load held {peak} bytes (bound {bound})");
    let unchanged = original == Some(bytes);
    match result {
        Ok(Some(doc)) => prop_assert!(unchanged, "a changed vault opened: {doc:?}"),
        Ok(None) => prop_assert!(false, "an existing file read as absent"),
        Err(e) => {
            prop_assert!(!unchanged, "the untouched vault was refused: {e}");
            let shown = format!("{e} {e:?}");
            prop_assert!(!shown.contains(SENTINEL), "secret in error: {shown}");
            prop_assert!(
                matches!(
                    e,
                    VaultError::Corrupt { .. }
                        | VaultError::UnsupportedVersion { .. }
                        | VaultError::UnsafeKdfParams { .. }
                        | VaultError::OtherMachine
                        | VaultError::PassphraseMissing
                        | VaultError::WrongPassphrase
                ),
                "unexpected kind of refusal: {e:?}"
            );
        }
    }
    Ok(())
}

/// `check_bytes` on a generated input.
pub fn check(input: &VaultInput) -> TestCaseResult {
    check_bytes(&input.bytes(), Some(base_vault()))
}

/// The scrypt bounds of `docs/vault-format.md` (check 4), written out here
/// so the fuzz checks do not trust the code they test: 10 ≤ log2 N ≤ 20,
/// 1 ≤ r ≤ 16, 1 ≤ p ≤ 4, and 128·r·2^log2 N ≤ 1 GiB.
pub fn within_documented_kdf_bounds(kdf: &KdfParams) -> bool {
    let KdfParams { log_n, r, p } = *kdf;
    (10..=20).contains(&log_n)
        && (1..=16).contains(&r)
        && (1..=4).contains(&p)
        && 128 * u64::from(r) * (1u64 << log_n) <= 1 << 30
}

/// Why a saved vault file must be refused, exactly.
#[derive(Clone, Copy, Debug)]
pub enum Refusal {
    /// `parse_file` (so also `Vault::load`, before any scrypt run) names the
    /// header's scrypt parameters back: `UnsafeKdfParams { kdf_id: 1, .. }`.
    UnsafeKdf { log_n: u8, r: u32, p: u32 },
    /// `parse_file` and `Vault::load` refuse the bytes as `Corrupt` with
    /// this reason.
    CorruptBeforeKey(&'static str),
    /// The file parses; `Vault::load` refuses it as `Corrupt` with this
    /// reason once the key is derived.
    CorruptAfterKey(&'static str),
}

/// Every file of `tests/fixtures/fuzz/vault_reader/` and its refusal. The
/// `kdf-*` files are the base vault with only log2 N, r and p changed and
/// the checksum recomputed (`regenerate_seed_inputs`), so nothing but the
/// KDF bounds stands between them and scrypt.
pub const SAVED_REFUSALS: &[(&str, Refusal)] = &[
    (
        "ciphertext-bit-flip-resealed.enc",
        Refusal::CorruptAfterKey("the encrypted contents fail authentication: they were changed"),
    ),
    (
        "kdf-2gib.enc",
        Refusal::UnsafeKdf {
            log_n: 20,
            r: 16,
            p: 1,
        },
    ),
    (
        "kdf-log-n-63.enc",
        Refusal::UnsafeKdf {
            log_n: 63,
            r: 8,
            p: 1,
        },
    ),
    (
        "kdf-p-zero.enc",
        Refusal::UnsafeKdf {
            log_n: 10,
            r: 8,
            p: 0,
        },
    ),
    (
        "kdf-r-huge.enc",
        Refusal::UnsafeKdf {
            log_n: 14,
            r: u32::MAX,
            p: 1,
        },
    ),
    (
        "truncated-header.enc",
        Refusal::CorruptBeforeKey("the file is too short to be a vault"),
    ),
];

impl Refusal {
    /// True when `e` is exactly this refusal.
    fn is(self, e: &VaultError) -> bool {
        match self {
            Refusal::UnsafeKdf { log_n, r, p } => matches!(
                *e,
                VaultError::UnsafeKdfParams { kdf_id: 1, log_n: l, r: rr, p: pp }
                    if (l, rr, pp) == (log_n, r, p)
            ),
            Refusal::CorruptBeforeKey(want) | Refusal::CorruptAfterKey(want) => {
                matches!(e, VaultError::Corrupt { reason } if reason == want)
            }
        }
    }
}

/// A saved file gets exactly its refusal from `parse_file` (or parses, when
/// the refusal comes after the key) and from `Vault::load`. `Vault::load`
/// runs only once `parse_file` behaved, so a broken bound fails here instead
/// of running scrypt with a hostile cost.
pub fn check_saved(bytes: &[u8], expected: Refusal) -> TestCaseResult {
    let fail = |what: String| {
        Err(TestCaseError::fail(format!(
            "{what}, expected {expected:?}"
        )))
    };
    match (expected, format::parse_file(bytes)) {
        (Refusal::CorruptAfterKey(_), Ok(_)) => {}
        (Refusal::CorruptAfterKey(_), Err(e)) => return fail(format!("parse_file gave {e:?}")),
        (_, Err(e)) if expected.is(&e) => {}
        (_, Err(e)) => return fail(format!("parse_file gave {e:?}")),
        (_, Ok(parsed)) => return fail(format!("parse_file accepted {:?}", parsed.header)),
    }
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("secure_cookies.enc");
    std::fs::write(&path, bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    match vault_at(&path).load() {
        Err(e) if expected.is(&e) => Ok(()),
        Err(e) => fail(format!("load gave {e:?}")),
        Ok(doc) => fail(format!(
            "load opened it (document present: {})",
            doc.is_some()
        )),
    }
}
