//! The credential operations shared by the headless commands and the worker:
//! import cookies, report their status, clear or export them, store or clear
//! a token.
//! Every operation, successful or not, writes an audit record; none ever
//! writes a secret value anywhere but the vault.
//!
//! The operations live in child modules, each an `impl Credentials`:
//! `import`, `browser` (import from a browser profile), `status` (status and the site list), `session` (expiry,
//! refreshed cookies, audit records), `clear`, `token`, `export` (the
//! stored cookies written out for another program), `intake` (intake
//! failures audited once) and `binding` (version 1 binding, the vault's
//! read-modify-write and the stored audit head).

mod binding;
mod browser;
mod clear;
mod export;
mod gateway;
mod import;
mod intake;
mod proxy_clients;
mod session;
mod status;
mod token;

use std::path::PathBuf;
use std::sync::Mutex;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::{AuditDetails, AuditEntry, AuditError, AuditEvent, AuditLog, AuditOutcome};
use crate::config::{DataPaths, Settings};
use crate::cookies::intake::{INTAKE_HELP, IntakeError};
use crate::cookies::jar::{CookieSource, ExpiryState, StoredCookies};
use crate::cookies::parse::CookieParseError;
use crate::site::SiteKey;
pub use export::CookieExport;
pub use gateway::{CLIENT_CERT_NAME, GatewayEntry, GatewayStatus};
pub use import::Staged;
pub use proxy_clients::{ClientListing, check_client_name, token_hash};

use crate::vault::{
    MachineIdSource, SiteCredentials, Vault, VaultDocument, VaultError, VaultOptions,
};

/// A credential operation that failed; each maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("{0}")]
    Parse(#[from] CookieParseError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error("cannot write the audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("{}", intake_empty_message(path, *created))]
    IntakeEmpty { path: PathBuf, created: bool },
    #[error(
        "the token is empty or contains spaces or control characters; paste it exactly as Confluence showed it"
    )]
    BadToken,
    /// The browser profile could not be read.
    #[error(transparent)]
    Browser(#[from] crate::browser::BrowserError),
    #[error("the credential operation was interrupted: {0}")]
    Interrupted(String),
    /// Credentials are kept per site, and no site is configured.
    #[error(
        "no site is configured, and credentials are stored per site: set CONFLUENCE_BASE_URL \
         (in the environment or .env, e.g. CONFLUENCE_BASE_URL=https://your-site.atlassian.net/wiki) \
         or pass --base-url, then {action}"
    )]
    NoSite { action: &'static str },
    /// The configured site has no stored cookies (`cookies export`).
    #[error(
        "no cookies are stored for {site}: sign in to the site in the browser, copy the Cookie \
         request header, and import it with `confluence-tui cookies import -` (or paste it into \
         {} and run `confluence-tui cookies import`)",
        intake.display()
    )]
    NoCookies { site: String, intake: PathBuf },
    /// The stored cookies are expired or were marked so (`cookies export`).
    #[error(
        "the stored cookies have expired ({reason}); sign in with the browser and import fresh \
         cookies (`confluence-tui cookies import`)"
    )]
    CookiesExpired { reason: String },
    /// The site's stored session state is a CAPTCHA (`cookies export`).
    #[error(
        "the site demanded a CAPTCHA: sign in through the browser{}, solve it, then import fresh \
         cookies (`confluence-tui check --retry` asks the site again)",
        login_url.as_deref().map(|u| format!(" at {u}")).unwrap_or_default()
    )]
    Captcha { login_url: Option<String> },
    /// A request that cannot be carried out as asked (the message says why
    /// and what to do instead).
    #[error("{0}")]
    Refused(String),
}

impl CredentialError {
    /// What kind of failure this is (decides the exit code).
    pub fn class(&self) -> crate::exit::ErrorClass {
        use crate::exit::ErrorClass;
        match self {
            CredentialError::Vault(e) => e.class(),
            CredentialError::Parse(_)
            | CredentialError::Intake(_)
            | CredentialError::IntakeEmpty { .. }
            | CredentialError::BadToken
            | CredentialError::NoSite { .. }
            | CredentialError::Refused(_) => ErrorClass::Usage,
            CredentialError::Audit(e) => e.class(),
            CredentialError::Browser(e) => e.class(),
            CredentialError::Interrupted(_) => ErrorClass::Internal,
            CredentialError::NoCookies { .. } | CredentialError::CookiesExpired { .. } => {
                ErrorClass::Auth
            }
            CredentialError::Captcha { .. } => ErrorClass::Captcha,
        }
    }
}

fn intake_empty_message(path: &std::path::Path, created: bool) -> String {
    let what = if created {
        "was missing, so it was created (empty, mode 0600)"
    } else {
        "is empty"
    };
    format!(
        "the intake file {} {what}.\n{}",
        path.display(),
        INTAKE_HELP
    )
}

/// Where cookies to import come from.
pub enum ImportInput {
    /// `cookies/confluence_cookies.txt`, emptied after a successful import.
    IntakeFile,
    /// Text already read from standard input.
    Stdin(Zeroizing<String>),
    /// A file named by the user; emptied only when `consume` is set.
    File { path: PathBuf, consume: bool },
    /// Text from the TUI's paste dialog.
    Paste(Zeroizing<String>),
    /// Cookies already read from a browser profile
    /// (see [`Credentials::import_from_browser`]).
    Browser(crate::browser::BrowserCookies),
}

/// What an import did (no values).
#[derive(Debug)]
pub struct ImportReport {
    pub format: String,
    /// Where the cookies came from, as audited (`browser:firefox:/path`).
    pub source: String,
    pub names: Vec<String>,
    pub session_cookies: Vec<String>,
    pub warnings: Vec<String>,
    pub expires_at: OffsetDateTime,
    /// The plain file that was emptied, if any.
    pub emptied: Option<PathBuf>,
}

/// What is stored for the configured site, for `cookies status` and the
/// status screen (no values).
#[derive(Debug, Clone)]
pub struct CookieStatus {
    /// The configured site the status is about.
    pub site: Option<SiteKey>,
    /// Other sites that hold credentials in the vault.
    pub other_sites: Vec<String>,
    pub cookies: Option<StoredCookieSummary>,
    pub token_stored: bool,
    /// The gateway credentials stored (`cloudflare`, header names, `cert`).
    pub gateway: Vec<String>,
    /// The session state last recorded for the site (never verified: none).
    pub session: Option<crate::vault::StoredSession>,
    pub vault_path: PathBuf,
    pub vault_exists: bool,
    pub machine_bound: Option<bool>,
    pub passphrase_used: Option<bool>,
    pub permission_warnings: Vec<String>,
}

/// Metadata of the stored cookie set.
#[derive(Debug, Clone)]
pub struct StoredCookieSummary {
    pub names: Vec<String>,
    pub session_cookies: Vec<String>,
    /// The cookies that are a gateway's (sent with every auth mode).
    pub gateway_cookies: Vec<String>,
    pub source: String,
    pub saved_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub state: ExpiryState,
}

/// What `cookies clear` did.
#[derive(Debug)]
pub struct ClearReport {
    pub removed: usize,
    /// Where an unreadable vault was kept aside.
    pub kept_aside: Option<PathBuf>,
}

/// One site held in the vault and its state (no values), for `sites`.
#[derive(Debug, Clone)]
pub struct SiteSummary {
    /// The site's identity; `None` for credentials of a version 1 vault not
    /// yet bound to a site (no site was configured when it was read).
    pub site: Option<String>,
    /// True for the configured site.
    pub configured: bool,
    pub cookies: Option<StoredCookieSummary>,
    pub token_stored: bool,
    pub token_saved_at: Option<OffsetDateTime>,
    /// The session state last recorded for the site (never verified: none).
    pub session: Option<crate::vault::StoredSession>,
}

/// Which sites an operation acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteScope {
    /// The configured site only (refused when none is configured).
    Configured,
    /// Every site in the vault.
    All,
}

/// The vault, the audit log and the settings that govern them. Every
/// per-site operation acts on the configured site only.
pub struct Credentials {
    site: Option<SiteKey>,
    vault: Vault,
    audit: AuditLog,
    paths: DataPaths,
    ttl: time::Duration,
    /// Cookie names a gateway owns beyond the known ones
    /// (`CONFLUENCE_GATEWAY_COOKIES`), for what status says.
    gateway_cookie_names: Vec<String>,
    /// A digest of the last intake-file failure audited (what went wrong and
    /// the content read, if any), so the same bad file seen again (saved
    /// again unchanged, touched, reported once more by the file watcher)
    /// adds no record. Memory only; cleared by a successful intake import.
    last_intake_failure: Mutex<Option<Vec<u8>>>,
}

impl Credentials {
    /// Opens the credential store of the settings' data directory, bound to
    /// this machine.
    pub fn open(settings: &Settings) -> Credentials {
        Credentials::with_machine_id(settings, MachineIdSource::System)
    }

    /// As `open`, with the machine id injected (tests, other-machine checks).
    pub fn with_machine_id(settings: &Settings, machine_id: MachineIdSource) -> Credentials {
        let paths = settings.paths();
        let opts = VaultOptions {
            machine_id,
            passphrase: settings.vault_passphrase.clone(),
            kdf_log_n: settings.kdf_log_n,
        };
        Credentials {
            site: settings.site(),
            vault: Vault::new(paths.vault_file.clone(), opts)
                .with_lock_timeout(settings.lock_timeout),
            audit: AuditLog::new(paths.audit_log.clone()).with_lock_timeout(settings.lock_timeout),
            ttl: settings.cookie_ttl,
            gateway_cookie_names: settings.gateway_cookies.clone(),
            paths,
            last_intake_failure: Mutex::new(None),
        }
    }

    /// The audit log this store writes to.
    pub fn audit_log(&self) -> &AuditLog {
        &self.audit
    }

    /// The data paths in use.
    pub fn paths(&self) -> &DataPaths {
        &self.paths
    }

    /// The configured site, whose credentials every operation uses.
    pub fn site(&self) -> Option<&SiteKey> {
        self.site.as_ref()
    }

    fn require_site(&self, action: &'static str) -> Result<&SiteKey, CredentialError> {
        self.site.as_ref().ok_or(CredentialError::NoSite { action })
    }

    fn site_detail(&self) -> Option<String> {
        self.site.as_ref().map(ToString::to_string)
    }

    /// The configured site's credentials (empty when none), or `NoSite`.
    fn own(&self, doc: &VaultDocument) -> SiteCredentials {
        match &self.site {
            Some(site) => doc.site(site).cloned().unwrap_or_default(),
            None => SiteCredentials::default(),
        }
    }

    /// Audits a failed cookie operation and hands the error back.
    fn fail(
        &self,
        action: &str,
        source: Option<&CookieSource>,
        err: CredentialError,
    ) -> CredentialError {
        let audited = self.audit.append(
            AuditEntry::new(
                AuditEvent::CookieOperationFailed,
                AuditOutcome::Failure,
                format!("Could not {action}: {err}"),
            )
            .details(AuditDetails {
                source: source.map(ToString::to_string),
                reason: Some(error_code(&err).to_string()),
                ..Default::default()
            }),
        );
        match audited {
            Ok(_) => err,
            Err(e) => {
                tracing::error!(error = %e, "audit log unwritable while reporting a failure");
                err
            }
        }
    }

    /// Audits an unreadable vault and hands the error back.
    fn vault_failed(&self, action: &str, err: VaultError) -> CredentialError {
        let event = match err {
            VaultError::Io { .. } | VaultError::Unsafe(_) | VaultError::LockTimeout(_) => {
                AuditEvent::CookieOperationFailed
            }
            _ => AuditEvent::VaultUnreadable,
        };
        if let Err(e) = self.audit.append(
            AuditEntry::new(
                event,
                AuditOutcome::Failure,
                format!("Could not {action}: {err}"),
            )
            .details(AuditDetails {
                reason: Some(err.reason_code().to_string()),
                ..Default::default()
            }),
        ) {
            tracing::error!(error = %e, "audit log unwritable while reporting a vault failure");
        }
        CredentialError::Vault(err)
    }
}

fn error_code(err: &CredentialError) -> &'static str {
    match err {
        CredentialError::Vault(v) => v.reason_code(),
        CredentialError::Parse(_) => "unparsable_paste",
        CredentialError::Intake(_) => "intake_unreadable",
        CredentialError::Audit(_) => "audit_unwritable",
        CredentialError::IntakeEmpty { .. } => "intake_empty",
        CredentialError::BadToken => "bad_token",
        CredentialError::Browser(e) => e.reason_code(),
        CredentialError::Interrupted(_) => "interrupted",
        CredentialError::NoSite { .. } => "no_site",
        CredentialError::NoCookies { .. } => "no_cookies",
        CredentialError::CookiesExpired { .. } => "cookies_expired",
        CredentialError::Captcha { .. } => "captcha",
        CredentialError::Refused(_) => "refused",
    }
}

/// Why a cookie set is no longer usable, if it is not.
pub(crate) fn expiry_reason(state: &ExpiryState) -> Option<String> {
    match state {
        ExpiryState::Valid { .. } | ExpiryState::ExpiresSoon { .. } => None,
        ExpiryState::ExpiredByAge => Some("older than CONFLUENCE_COOKIE_TTL_DAYS".to_string()),
        ExpiryState::ExpiredBySession => {
            Some("the session cookie's own expiry has passed".to_string())
        }
        ExpiryState::MarkedExpired { reason } => Some(reason.clone()),
    }
}

fn summary(c: &StoredCookies, now: OffsetDateTime, gateway: &[String]) -> StoredCookieSummary {
    StoredCookieSummary {
        names: c.jar.names(),
        session_cookies: c.jar.session_cookie_names(),
        gateway_cookies: c
            .jar
            .gateway_cookies(gateway)
            .map(|j| j.names())
            .unwrap_or_default(),
        source: c.source.to_string(),
        saved_at: c.saved_at,
        expires_at: c.expires_at,
        state: c.expiry_state(now),
    }
}

/// RFC 3339 in UTC, the one time format of records and JSON output.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    // Whole seconds: nanoseconds are noise to a reader.
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}
