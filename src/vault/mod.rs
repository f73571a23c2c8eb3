//! The encrypted store for cookies and an optional API token.
//!
//! `format` is the bytes on disk, `key` the machine binding and scrypt,
//! `seal` document ↔ bytes, `store` the atomic save/load under a lock,
//! `error` what can go wrong. See `docs/vault-format.md`.

pub(crate) mod error;
pub mod format;
pub mod key;
pub(crate) mod seal;
pub(crate) mod store;

pub use error::VaultError;
pub use format::KdfParams;
pub use key::MachineIdSource;
pub use store::{Vault, VaultOptions};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cookies::jar::StoredCookies;
use crate::secret::SecretString;

/// What the vault holds (serialised as JSON, then encrypted).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct VaultDocument {
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
}
