//! Vault reader targets, all loaded through `Vault::load` from a real file.
//!
//! `vault_reader`: arbitrary bytes as a vault file, and mutations of a real
//! small vault of either format (version 2, and version 1 as builds before
//! sites wrote it): bit flips, truncations, splices, header fields with
//! random KDF parameters, the version byte relabelled, with and without the
//! checksum recomputed.
//!
//! `vault_document`: files that pass every check up to and including the
//! AEAD (header, key, tag all valid) but whose encrypted plaintext is
//! mutated: the real version 2 document (or the version 1 credential set)
//! with JSON values replaced, keys removed, added or renamed, or its bytes
//! edited, and arbitrary bytes. The test seals them with the key of the base
//! vault (derived through the public `vault::key::derive_key`), the way
//! someone holding the key could, so the reader's last check (the document's
//! shape, check 11 of `docs/vault-format.md`) is fuzzed on its own.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::credentials::{Credentials, ImportInput};
use confluence_tui::vault::format::{self, HEADER_LEN, KdfParams};
use confluence_tui::vault::key::{MachineBinding, derive_key};
use confluence_tui::vault::{MachineIdSource, Vault, VaultDocument, VaultError, VaultOptions};
use proptest::prelude::*;
use proptest::test_runner::TestCaseResult;
use serde_json::Value;

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

/// The base vault's credentials as a version 1 file (one credential set,
/// no site), written by the `Vault::save_v1` test hook.
pub fn base_vault_v1() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let v2 = dir.path().join("v2.enc");
        std::fs::write(&v2, base_vault()).expect("write v2");
        let doc = vault_at(&v2).load().expect("load v2").expect("v2 present");
        let creds = doc.sites.values().next().cloned().expect("one site");
        let v1 = dir.path().join("v1.enc");
        vault_at(&v1).save_v1(&creds).expect("save_v1");
        let bytes = std::fs::read(&v1).expect("v1 bytes");
        assert_eq!(bytes[4], format::V1_FORMAT_VERSION);
        bytes
    })
}

/// Which real vault a mutation starts from.
#[derive(Clone, Copy, Debug)]
pub enum Base {
    V2,
    V1,
}

impl Base {
    /// The untouched file.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Base::V2 => base_vault(),
            Base::V1 => base_vault_v1(),
        }
    }
}

/// How a file is made from a base vault.
#[derive(Clone, Debug)]
pub enum VaultInput {
    Arbitrary(Vec<u8>),
    Mutated {
        base: Base,
        edits: Vec<Edit>,
        reseal: bool,
    },
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
    /// Relabels the file's format version (1 ↔ 2 above all).
    Version {
        version: u8,
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
        Edit::Version { version } => {
            if file.len() > 4 {
                file[4] = *version;
            }
        }
    }
}

impl VaultInput {
    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            VaultInput::Arbitrary(b) => b.clone(),
            VaultInput::Mutated {
                base,
                edits,
                reseal,
            } => {
                let mut file = base.bytes().to_vec();
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
        1 => prop_oneof![Just(1u8), Just(2), any::<u8>()]
            .prop_map(|version| Edit::Version { version }),
    ]
}

fn base() -> impl Strategy<Value = Base> {
    prop_oneof![3 => Just(Base::V2), 2 => Just(Base::V1)]
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
        4 => (base(), prop::collection::vec(edit(), 1..4), any::<bool>())
            .prop_map(|(base, edits, reseal)| VaultInput::Mutated { base, edits, reseal }),
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
        Ok(Some(doc)) => {
            prop_assert!(unchanged, "a changed vault opened: {doc:?}");
            check_shape_of_version(bytes[4], &doc)?;
        }
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

/// A version 1 file's credentials belong to no site (and carry no audit
/// head) until they are bound; a version 2 file has no unbound credentials.
fn check_shape_of_version(version: u8, doc: &VaultDocument) -> TestCaseResult {
    if version == format::V1_FORMAT_VERSION {
        prop_assert!(
            doc.sites.is_empty() && doc.audit_head.is_none() && doc.unbound.is_some(),
            "a version 1 file read as sites or a head: {doc:?}"
        );
    } else {
        prop_assert!(
            doc.unbound.is_none(),
            "a version {version} file read as unbound credentials: {doc:?}"
        );
    }
    Ok(())
}

/// `check_bytes` on a generated input.
pub fn check(input: &VaultInput) -> TestCaseResult {
    let original = match input {
        VaultInput::Mutated { base, .. } => base.bytes(),
        VaultInput::Arbitrary(_) => base_vault(),
    };
    check_bytes(&input.bytes(), Some(original))
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

// --- vault_document: the plaintext inside a valid envelope -----------------

/// What sealing a plaintext needs: the base vault's header, its key, and
/// the document it holds.
struct Keyed {
    header: [u8; HEADER_LEN],
    key: [u8; 32],
    /// The version 2 document of the base vault, as written.
    plaintext_v2: Vec<u8>,
    /// The same credentials as a version 1 document (one credential set).
    plaintext_v1: Vec<u8>,
}

fn keyed() -> &'static Keyed {
    static KEYED: OnceLock<Keyed> = OnceLock::new();
    KEYED.get_or_init(|| {
        let parsed = format::parse_file(base_vault()).expect("base vault parses");
        let machine =
            MachineBinding::from_source(&MachineIdSource::Fixed(MACHINE.into())).expect("id");
        let key = derive_key(
            &parsed.header.kdf,
            &parsed.header.salt,
            Some(&machine),
            None,
        )
        .expect("key");
        let header = *parsed.header_bytes;
        let mut plaintext_v2 = parsed.ciphertext.to_vec();
        XChaCha20Poly1305::new_from_slice(key.as_slice())
            .expect("cipher")
            .decrypt_in_place(
                &XNonce::from(parsed.header.nonce),
                &header,
                &mut plaintext_v2,
            )
            .expect("the base vault decrypts with the derived key");
        let doc: Value = serde_json::from_slice(&plaintext_v2).expect("JSON document");
        let one_site = doc["sites"]
            .as_object()
            .and_then(|sites| sites.values().next())
            .expect("one site in the base document");
        let plaintext_v1 = serde_json::to_vec(one_site).expect("v1 document");
        Keyed {
            header,
            key: *key,
            plaintext_v2,
            plaintext_v1,
        }
    })
}

/// A complete vault file of `version` whose encrypted document is
/// `plaintext`: every check before the document's shape passes.
pub fn seal_plaintext(version: u8, plaintext: &[u8]) -> Vec<u8> {
    let k = keyed();
    let mut header = k.header;
    header[4] = version;
    let nonce: [u8; 24] = header[40..64].try_into().expect("nonce field");
    let mut buffer = plaintext.to_vec();
    XChaCha20Poly1305::new_from_slice(&k.key)
        .expect("cipher")
        .encrypt_in_place(&XNonce::from(nonce), &header, &mut buffer)
        .expect("encrypt");
    let mut file = header.to_vec();
    file.extend_from_slice(&buffer);
    file.extend_from_slice(&[0; format::CHECKSUM_LEN]);
    format::reseal_checksum(&mut file);
    file
}

/// One step on the way from a document's root to one of its values.
#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Every value's path, root first (pre-order).
fn paths(v: &Value) -> Vec<Vec<Seg>> {
    fn walk(v: &Value, here: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
        out.push(here.clone());
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    here.push(Seg::Key(k.clone()));
                    walk(child, here, out);
                    here.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    here.push(Seg::Index(i));
                    walk(child, here, out);
                    here.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn at_path<'a>(v: &'a mut Value, path: &[Seg]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        Seg::Key(k) => v.get_mut(k.as_str()),
        Seg::Index(i) => v.get_mut(*i),
    })
}

/// One structural change to the JSON document. `at` picks a value (modulo
/// the number of values, in pre-order); generated values never hold the
/// sentinel, and no edit moves an existing value elsewhere.
#[derive(Clone, Debug)]
pub enum JsonEdit {
    /// The value is replaced by another (any type).
    Replace { at: usize, with: Value },
    /// The value is removed from its object or array.
    Remove { at: usize },
    /// An object gains a key (an unknown one, or a known one where it does
    /// not belong); other values are left alone.
    AddKey { at: usize, key: String, with: Value },
    /// One key of an object is renamed (unless the new name is taken).
    RenameKey { at: usize, key: String },
}

impl JsonEdit {
    fn apply(&self, doc: &mut Value) {
        let all = paths(doc);
        let pick = |at: &usize| all[at % all.len()].clone();
        match self {
            JsonEdit::Replace { at, with } => {
                if let Some(v) = at_path(doc, &pick(at)) {
                    *v = with.clone();
                }
            }
            JsonEdit::Remove { at } => {
                let mut path = pick(at);
                let Some(last) = path.pop() else { return };
                match (at_path(doc, &path), last) {
                    (Some(Value::Object(map)), Seg::Key(k)) => {
                        map.remove(&k);
                    }
                    (Some(Value::Array(items)), Seg::Index(i)) if i < items.len() => {
                        items.remove(i);
                    }
                    _ => {}
                }
            }
            JsonEdit::AddKey { at, key, with } => {
                if let Some(Value::Object(map)) = at_path(doc, &pick(at)) {
                    map.entry(key.clone()).or_insert_with(|| with.clone());
                }
            }
            JsonEdit::RenameKey { at, key } => {
                let mut path = pick(at);
                let Some(Seg::Key(old)) = path.pop() else {
                    return;
                };
                if let Some(Value::Object(map)) = at_path(doc, &path)
                    && !map.contains_key(key.as_str())
                    && let Some(v) = map.remove(&old)
                {
                    map.insert(key.clone(), v);
                }
            }
        }
    }
}

/// How the plaintext is made from the base document.
#[derive(Clone, Debug)]
pub enum Plain {
    /// Any bytes at all.
    Arbitrary(Vec<u8>),
    /// The base document with structural changes.
    Json(Vec<JsonEdit>),
    /// The base document's bytes edited (may move text anywhere).
    Bytes(Vec<Edit>),
}

/// A sealed file whose plaintext document was changed.
#[derive(Clone, Debug)]
pub struct DocInput {
    /// 1 or 2.
    pub version: u8,
    pub plain: Plain,
}

impl DocInput {
    /// The document as encrypted into the file.
    pub fn plaintext(&self) -> Vec<u8> {
        let k = keyed();
        let base = if self.version == format::V1_FORMAT_VERSION {
            &k.plaintext_v1
        } else {
            &k.plaintext_v2
        };
        match &self.plain {
            Plain::Arbitrary(b) => b.clone(),
            Plain::Json(edits) => {
                let mut doc: Value = serde_json::from_slice(base).expect("base JSON");
                for e in edits {
                    e.apply(&mut doc);
                }
                serde_json::to_vec(&doc).expect("JSON")
            }
            Plain::Bytes(edits) => {
                let mut bytes = base.clone();
                for e in edits {
                    apply(e, &mut bytes);
                }
                bytes
            }
        }
    }

    /// True when the base document's sentinel values can only still be
    /// cookie values (no edit moved text around).
    fn values_stay_values(&self) -> bool {
        match &self.plain {
            Plain::Arbitrary(_) | Plain::Bytes(_) => false,
            Plain::Json(edits) => !edits
                .iter()
                .any(|e| matches!(e, JsonEdit::RenameKey { .. })),
        }
    }
}

/// The bytes a regression file stores: the sealed vault file.
pub fn doc_to_bytes(d: &DocInput) -> Vec<u8> {
    seal_plaintext(d.version, &d.plaintext())
}

/// Field names of the document, so renames and additions hit real ones too.
const KNOWN_KEYS: &[&str] = &[
    "sites",
    "audit_head",
    "seq",
    "hash",
    "cookies",
    "api_token",
    "token_saved_at",
    "jar",
    "name",
    "value",
    "domain",
    "path",
    "expires",
    "secure",
    "http_only",
    "source",
    "saved_at",
    "expires_at",
    "expired",
    "https://other.example.com/wiki",
    "",
];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KNOWN_KEYS).prop_map(str::to_string),
        1 => "\\PC{0,12}",
        1 => "[\\x00-\\x1f\\u{202e}a-z]{0,6}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let string = prop_oneof![
        Just("2026-01-01T00:00:00Z".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
        Just("0000-01-01T00:00:00Z".to_string()),
        Just("2026-13-45T99:99:99Z".to_string()),
        Just("paste".to_string()),
        Just("https://sambatv.atlassian.net/wiki".to_string()),
        Just("0".repeat(64)),
        Just("not hex".to_string()),
        "\\PC{0,16}",
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202e};= ]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop_oneof![Just(u64::MAX), Just(0u64), Just(1), any::<u64>()].prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        string.prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        4 => (any::<usize>(), json_value()).prop_map(|(at, with)| JsonEdit::Replace { at, with }),
        2 => any::<usize>().prop_map(|at| JsonEdit::Remove { at }),
        2 => (any::<usize>(), json_key(), json_value())
            .prop_map(|(at, key, with)| JsonEdit::AddKey { at, key, with }),
        1 => (any::<usize>(), json_key()).prop_map(|(at, key)| JsonEdit::RenameKey { at, key }),
    ]
}

/// Documents of either version: structurally changed, byte-edited, or any
/// bytes at all.
pub fn doc_strategy() -> impl Strategy<Value = DocInput> {
    let version =
        prop_oneof![3 => Just(format::FORMAT_VERSION), 2 => Just(format::V1_FORMAT_VERSION)];
    let plain = prop_oneof![
        6 => prop::collection::vec(json_edit(), 0..4).prop_map(Plain::Json),
        2 => prop::collection::vec(edit(), 1..4).prop_map(Plain::Bytes),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Plain::Arbitrary),
    ];
    (version, plain).prop_map(|(version, plain)| DocInput { version, plain })
}

/// The reason `Vault::load` gives for a document of the wrong shape.
const BAD_DOCUMENT: &str = "the decrypted document is not a valid vault document";

/// Loaded through `Vault::load`: never panics; the only refusal is
/// `Corrupt` for the document's shape (every earlier check passes), naming
/// no secret; text that is not JSON (UTF-8 aside) is refused; the untouched document
/// opens; an accepted document has the shape of its version (v2: exactly the
/// `sites` keys of the JSON, no unbound credentials; v1: unbound
/// credentials, no site, no audit head), shows no cookie value in `Debug`,
/// and survives being written back and read again unchanged.
pub fn check_document(input: &DocInput) -> TestCaseResult {
    let plaintext = input.plaintext();
    let file = seal_plaintext(input.version, &plaintext);
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let path = dir.path().join("secure_cookies.enc");
    std::fs::write(&path, &file).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let vault = vault_at(&path);
    let k = keyed();
    let untouched = plaintext
        == if input.version == format::V1_FORMAT_VERSION {
            k.plaintext_v1.as_slice()
        } else {
            k.plaintext_v2.as_slice()
        };
    // serde_json skips an unknown field's value without checking that its
    // strings are UTF-8, so the oracle judges the JSON structure only.
    let json = serde_json::from_str::<Value>(&String::from_utf8_lossy(&plaintext)).ok();
    let doc = match vault.load() {
        Ok(Some(doc)) => doc,
        Ok(None) => return Err(TestCaseError::fail("an existing file read as absent")),
        Err(e) => {
            let shown = format!("{e} {e:?}");
            prop_assert!(!shown.contains(SENTINEL), "secret in error: {shown}");
            prop_assert!(
                matches!(&e, VaultError::Corrupt { reason } if reason.starts_with(BAD_DOCUMENT)),
                "a sealed document was refused for something other than its shape: {e:?}"
            );
            prop_assert!(!untouched, "the untouched document was refused: {e}");
            return Ok(());
        }
    };
    let Some(json) = json else {
        return Err(TestCaseError::fail(format!(
            "text that is not JSON opened as {doc:?}"
        )));
    };
    check_shape_of_version(input.version, &doc)?;
    if input.version == format::FORMAT_VERSION {
        let want: Vec<String> = match json.get("sites") {
            None => Vec::new(),
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            Some(other) => {
                return Err(TestCaseError::fail(format!(
                    "`sites` of type {other} opened as {doc:?}"
                )));
            }
        };
        let got: Vec<String> = doc.sites.keys().cloned().collect();
        prop_assert_eq!(got, want, "the sites read are not the document's");
    }
    if input.values_stay_values() {
        let shown = format!("{doc:?}");
        prop_assert!(!shown.contains(SENTINEL), "Debug shows a value: {shown}");
    }
    // Written back and read again: nothing accepted on reading may be lost
    // or changed by the next write (that would lose credentials later).
    let again = dir.path().join("again.enc");
    let rewritten = vault_at(&again);
    let (before, after) = if input.version == format::V1_FORMAT_VERSION {
        let creds = doc.unbound.clone().unwrap_or_default();
        rewritten
            .save_v1(&creds)
            .map_err(|e| TestCaseError::fail(format!("save_v1 failed: {e}")))?;
        let back = rewritten
            .load()
            .map_err(|e| TestCaseError::fail(format!("rewritten v1 refused: {e:?}")))?
            .and_then(|d| d.unbound)
            .unwrap_or_default();
        (serde_json::to_value(&creds), serde_json::to_value(&back))
    } else {
        rewritten
            .save(&doc)
            .map_err(|e| TestCaseError::fail(format!("save failed: {e}")))?;
        let back = rewritten
            .load()
            .map_err(|e| TestCaseError::fail(format!("rewritten vault refused: {e:?}")))?
            .unwrap_or_default();
        (serde_json::to_value(&doc), serde_json::to_value(&back))
    };
    let (before, after) = (
        before.map_err(|e| TestCaseError::fail(e.to_string()))?,
        after.map_err(|e| TestCaseError::fail(e.to_string()))?,
    );
    prop_assert_eq!(
        before,
        after,
        "the document changed on its way through a write"
    );
    Ok(())
}
