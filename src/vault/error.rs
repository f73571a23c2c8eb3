//! Why the vault could not be read or written, worded for the person who has
//! to fix it. No variant ever carries a secret: reasons are built only from
//! fixed text, numbers and paths.

use std::path::PathBuf;

/// Every way opening, saving or managing the vault can fail.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The machine tag in the header belongs to another machine.
    #[error(
        "the cookie vault was made on another machine, and its cookies cannot be moved to this one; \
         run `confluence-tui cookies clear`, then import cookies again here"
    )]
    OtherMachine,

    /// The vault was made with a passphrase and none is set now.
    #[error(
        "the cookie vault is protected by a passphrase, but CONFLUENCE_VAULT_PASSPHRASE is not set; \
         set it (in the environment or .env) to the passphrase used when the cookies were stored"
    )]
    PassphraseMissing,

    /// The key check value did not match: the passphrase differs from the one used to write.
    #[error(
        "the cookie vault cannot be unlocked with this CONFLUENCE_VAULT_PASSPHRASE; \
         set the passphrase used when the cookies were stored, \
         or run `confluence-tui cookies clear` and import cookies again"
    )]
    WrongPassphrase,

    /// Damaged, truncated, extended or tampered bytes.
    #[error(
        "the cookie vault is damaged or was tampered with ({reason}); \
         run `confluence-tui cookies clear` (the damaged file is kept aside), then import cookies again"
    )]
    Corrupt { reason: String },

    /// A format version this build does not read.
    #[error(
        "the cookie vault has format version {found}, but this confluence-tui reads only versions 1 to {supported}; \
         upgrade confluence-tui, or run `confluence-tui cookies clear` and import cookies again"
    )]
    UnsupportedVersion { found: u8, supported: u8 },

    /// The header asks for a KDF that is unknown or too costly to run safely.
    #[error(
        "the cookie vault asks for key-derivation settings that are refused as unknown or too costly \
         (kdf {kdf_id}, log2 N {log_n}, r {r}, p {p}), so the file is damaged or hostile; \
         run `confluence-tui cookies clear` (the damaged file is kept aside), then import cookies again"
    )]
    UnsafeKdfParams {
        kdf_id: u8,
        log_n: u8,
        r: u32,
        p: u32,
    },

    /// No usable machine id, and the vault needs one.
    #[error(
        "cannot read this machine's id ({reason}); set CONFLUENCE_VAULT_PASSPHRASE so the cookie vault \
         is keyed by a passphrase instead (a vault already bound to this machine's id opens only once \
         the id is readable again)"
    )]
    MachineIdUnreadable { reason: String },

    /// The file system refused a read, write, rename or lock.
    #[error(
        "cannot access {path}: {source}; check that the directory exists and that you own it and may write to it"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The vault, its lock file or its directory is not the user's, can be
    /// changed by others, or is a symbolic link (never followed).
    #[error(transparent)]
    Unsafe(#[from] crate::fsutil::UnsafePath),

    /// Another process held the vault's lock longer than
    /// `CONFLUENCE_LOCK_TIMEOUT_SECS`.
    #[error(transparent)]
    LockTimeout(#[from] crate::fsutil::LockTimedOut),

    /// Something that should not happen (no randomness, an encoder failure).
    #[error(
        "internal error while writing the cookie vault ({what}); nothing was changed; please report this"
    )]
    Internal { what: String },
}

impl VaultError {
    /// A stable short code for audit records and `--json` output.
    pub fn reason_code(&self) -> &'static str {
        match self {
            VaultError::OtherMachine => "other_machine",
            VaultError::PassphraseMissing => "passphrase_missing",
            VaultError::WrongPassphrase => "wrong_passphrase",
            VaultError::Corrupt { .. } => "corrupt",
            VaultError::UnsupportedVersion { .. } => "unsupported_version",
            VaultError::UnsafeKdfParams { .. } => "unsafe_kdf_params",
            VaultError::MachineIdUnreadable { .. } => "machine_id_unreadable",
            VaultError::Io { .. } => "io",
            VaultError::Unsafe(_) => "unsafe_file",
            VaultError::LockTimeout(_) => "lock_timeout",
            VaultError::Internal { .. } => "internal",
        }
    }

    /// What kind of failure this is (decides the exit code): the file system
    /// refusing, a lock held too long, or a bug, is internal; a file refused
    /// as unsafe is the user's setup to fix (usage); everything else means
    /// the vault cannot be read.
    pub fn class(&self) -> crate::exit::ErrorClass {
        use crate::exit::ErrorClass;
        match self {
            VaultError::Io { .. } | VaultError::LockTimeout(_) | VaultError::Internal { .. } => {
                ErrorClass::Internal
            }
            VaultError::Unsafe(_) => ErrorClass::Usage,
            VaultError::OtherMachine
            | VaultError::PassphraseMissing
            | VaultError::WrongPassphrase
            | VaultError::Corrupt { .. }
            | VaultError::UnsupportedVersion { .. }
            | VaultError::UnsafeKdfParams { .. }
            | VaultError::MachineIdUnreadable { .. } => ErrorClass::Vault,
        }
    }

    /// Shorthand for a `Corrupt` with a fixed reason.
    pub(crate) fn corrupt(reason: &str) -> VaultError {
        VaultError::Corrupt {
            reason: reason.to_string(),
        }
    }

    /// A failed private open, check or lock of `path`.
    pub(crate) fn file(path: &std::path::Path, failure: crate::fsutil::FileFailure) -> VaultError {
        use crate::fsutil::FileFailure;
        match failure {
            FileFailure::Unsafe(e) => VaultError::Unsafe(e),
            FileFailure::TimedOut(e) => VaultError::LockTimeout(e),
            FileFailure::Io(e) => VaultError::io(path, e),
        }
    }

    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> VaultError {
        VaultError::Io {
            path: path.into(),
            source,
        }
    }
}
