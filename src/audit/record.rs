//! What one audit record holds, and the canonical bytes its hash covers.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// `prev` of the very first record: there is nothing before it.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Which credential operation a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditEvent {
    CookiesLoaded,
    CookiesSaved,
    CookieFileEmptied,
    CookiesExpired,
    CookiesCleared,
    CookiesRefreshed,
    TokenStored,
    TokenCleared,
    VaultUnreadable,
    VaultKeptAside,
    CookieOperationFailed,
    SessionVerified,
    SessionExpired,
    CaptchaChallenge,
    CredentialsRejected,
    LogRotated,
    VaultBoundToSite,
    CookiesExported,
    ExecStarted,
    ProxyStarted,
    ProxyStopped,
    SettingsWritten,
    SessionRestored,
    CookiesRefused,
    GatewaySignIn,
    GatewayStored,
    GatewayCleared,
    ProxyClientAdded,
    ProxyClientRevoked,
    ProxyClientUsed,
}

impl AuditEvent {
    /// Every event kind, in declaration order (filters, help texts, tests).
    pub const ALL: &'static [AuditEvent] = &[
        AuditEvent::CookiesLoaded,
        AuditEvent::CookiesSaved,
        AuditEvent::CookieFileEmptied,
        AuditEvent::CookiesExpired,
        AuditEvent::CookiesCleared,
        AuditEvent::CookiesRefreshed,
        AuditEvent::TokenStored,
        AuditEvent::TokenCleared,
        AuditEvent::VaultUnreadable,
        AuditEvent::VaultKeptAside,
        AuditEvent::CookieOperationFailed,
        AuditEvent::SessionVerified,
        AuditEvent::SessionExpired,
        AuditEvent::CaptchaChallenge,
        AuditEvent::CredentialsRejected,
        AuditEvent::LogRotated,
        AuditEvent::VaultBoundToSite,
        AuditEvent::CookiesExported,
        AuditEvent::ExecStarted,
        AuditEvent::ProxyStarted,
        AuditEvent::ProxyStopped,
        AuditEvent::SettingsWritten,
        AuditEvent::SessionRestored,
        AuditEvent::CookiesRefused,
        AuditEvent::GatewaySignIn,
        AuditEvent::GatewayStored,
        AuditEvent::GatewayCleared,
        AuditEvent::ProxyClientAdded,
        AuditEvent::ProxyClientRevoked,
        AuditEvent::ProxyClientUsed,
    ];

    /// The snake_case name, identical to the serialised form.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditEvent::CookiesLoaded => "cookies_loaded",
            AuditEvent::CookiesSaved => "cookies_saved",
            AuditEvent::CookieFileEmptied => "cookie_file_emptied",
            AuditEvent::CookiesExpired => "cookies_expired",
            AuditEvent::CookiesCleared => "cookies_cleared",
            AuditEvent::CookiesRefreshed => "cookies_refreshed",
            AuditEvent::TokenStored => "token_stored",
            AuditEvent::TokenCleared => "token_cleared",
            AuditEvent::VaultUnreadable => "vault_unreadable",
            AuditEvent::VaultKeptAside => "vault_kept_aside",
            AuditEvent::CookieOperationFailed => "cookie_operation_failed",
            AuditEvent::SessionVerified => "session_verified",
            AuditEvent::SessionExpired => "session_expired",
            AuditEvent::CaptchaChallenge => "captcha_challenge",
            AuditEvent::CredentialsRejected => "credentials_rejected",
            AuditEvent::LogRotated => "log_rotated",
            AuditEvent::VaultBoundToSite => "vault_bound_to_site",
            AuditEvent::CookiesExported => "cookies_exported",
            AuditEvent::ExecStarted => "exec_started",
            AuditEvent::ProxyStarted => "proxy_started",
            AuditEvent::ProxyStopped => "proxy_stopped",
            AuditEvent::SettingsWritten => "settings_written",
            AuditEvent::SessionRestored => "session_restored",
            AuditEvent::CookiesRefused => "cookies_refused",
            AuditEvent::GatewaySignIn => "gateway_sign_in",
            AuditEvent::GatewayStored => "gateway_stored",
            AuditEvent::GatewayCleared => "gateway_cleared",
            AuditEvent::ProxyClientAdded => "proxy_client_added",
            AuditEvent::ProxyClientRevoked => "proxy_client_revoked",
            AuditEvent::ProxyClientUsed => "proxy_client_used",
        }
    }

    /// Looks an event up by its snake_case name (CLI and TUI filters).
    pub fn from_name(name: &str) -> Option<AuditEvent> {
        AuditEvent::ALL.iter().copied().find(|e| e.as_str() == name)
    }
}

impl fmt::Display for AuditEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    Success,
    Failure,
    Warning,
    Info,
}

impl AuditOutcome {
    /// The lowercase name, identical to the serialised form.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditOutcome::Success => "success",
            AuditOutcome::Failure => "failure",
            AuditOutcome::Warning => "warning",
            AuditOutcome::Info => "info",
        }
    }
}

impl fmt::Display for AuditOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Structured facts about an event. Deliberately has no field that could hold
/// a cookie value, token or passphrase: only counts, names and descriptions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDetails {
    /// How many cookies (or records) the operation touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Cookie names only; anything after an `=` is cut off before writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// Where the cookies came from (`clipboard`, `intake_file`, `set_cookie`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The paste format recognised (`cookie_header`, `netscape`, `json`, `curl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// HTTP status of the response that triggered the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Why, in words (a classification, never a response body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A file the operation touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Auth mode in use (`cookie`, `basic`, `bearer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Display name of the signed-in user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// When the stored credentials expire (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The login page the user must visit (CAPTCHA, expiry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    /// Where a damaged vault was moved aside to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_at: Option<String>,
    /// The site (normalised base URL) whose credentials were touched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The program `exec` handed the credentials to: its name as given,
    /// never its arguments (they may hold secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
}

impl AuditDetails {
    /// Cuts every name at its first `=` or `;`, so a `name=value` pair passed
    /// by mistake never puts the value on disk.
    pub(crate) fn without_values(mut self) -> AuditDetails {
        if let Some(names) = self.names.as_mut() {
            for name in names.iter_mut() {
                if let Some(cut) = name.find(['=', ';']) {
                    name.truncate(cut);
                }
            }
        }
        self
    }
}

/// What a caller asks to be logged; the log adds time, seq and the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub event: AuditEvent,
    pub outcome: AuditOutcome,
    pub message: String,
    pub details: AuditDetails,
}

impl AuditEntry {
    /// An entry with empty details.
    pub fn new(event: AuditEvent, outcome: AuditOutcome, message: impl Into<String>) -> AuditEntry {
        AuditEntry {
            event,
            outcome,
            message: message.into(),
            details: AuditDetails::default(),
        }
    }

    /// Replaces the details.
    pub fn details(mut self, details: AuditDetails) -> AuditEntry {
        self.details = details;
        self
    }
}

/// One line of the audit log. Field order here is the order on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub seq: u64,
    pub event: AuditEvent,
    pub outcome: AuditOutcome,
    pub message: String,
    #[serde(default)]
    pub details: AuditDetails,
    pub prev: String,
    pub hash: String,
}

/// The record without `hash`, in the fixed field order the hash covers.
#[derive(Serialize)]
struct Canonical<'a> {
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    seq: u64,
    event: AuditEvent,
    outcome: AuditOutcome,
    message: &'a str,
    details: &'a AuditDetails,
    prev: &'a str,
}

impl AuditRecord {
    /// Builds a record from an entry and seals it with its hash.
    pub(crate) fn seal(
        entry: AuditEntry,
        time: OffsetDateTime,
        seq: u64,
        prev: String,
    ) -> Result<AuditRecord, serde_json::Error> {
        let mut record = AuditRecord {
            time,
            seq,
            event: entry.event,
            outcome: entry.outcome,
            message: entry.message,
            details: entry.details.without_values(),
            prev,
            hash: String::new(),
        };
        record.hash = record.compute_hash()?;
        Ok(record)
    }

    /// The bytes the hash covers: compact serde_json of (time, seq, event,
    /// outcome, message, details, prev), in that order.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&Canonical {
            time: self.time,
            seq: self.seq,
            event: self.event,
            outcome: self.outcome,
            message: &self.message,
            details: &self.details,
            prev: &self.prev,
        })
    }

    /// Lowercase hex SHA-256 of [`AuditRecord::canonical_bytes`].
    pub fn compute_hash(&self) -> Result<String, serde_json::Error> {
        Ok(hex::encode(Sha256::digest(self.canonical_bytes()?)))
    }

    /// The line written to disk, without its trailing newline.
    pub(crate) fn to_line(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }

    /// Parses one line; `None` for anything that is not a complete record.
    pub(crate) fn from_line(line: &[u8]) -> Option<AuditRecord> {
        serde_json::from_slice(line).ok()
    }
}
