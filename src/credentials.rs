//! The credential operations shared by the headless commands and the worker:
//! import cookies, report their status, clear them, store or clear a token.
//! Every operation, successful or not, writes an audit record; none ever
//! writes a secret value anywhere but the vault.

use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::{AuditDetails, AuditEntry, AuditError, AuditEvent, AuditLog, AuditOutcome};
use crate::config::{DataPaths, Settings};
use crate::cookies::intake::{self, IntakeError, IntakeStatus};
use crate::cookies::jar::{CookieSource, ExpiryState, StoredCookies};
use crate::cookies::parse::{CookieParseError, ParseWarning, parse_cookies_for_site};
use crate::secret::{ExposeSecret, SecretString};
use crate::site::SiteKey;
use crate::vault::{
    MachineIdSource, SiteCredentials, StoredSession, Vault, VaultDocument, VaultError, VaultOptions,
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
    #[error("the credential operation was interrupted: {0}")]
    Interrupted(String),
    /// Credentials are kept per site, and no site is configured.
    #[error(
        "no site is configured, and credentials are stored per site: set CONFLUENCE_BASE_URL \
         (in the environment or .env, e.g. CONFLUENCE_BASE_URL=https://your-site.atlassian.net/wiki) \
         or pass --base-url, then {action}"
    )]
    NoSite { action: &'static str },
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
            | CredentialError::NoSite { .. } => ErrorClass::Usage,
            CredentialError::Audit(e) => e.class(),
            CredentialError::Interrupted(_) => ErrorClass::Internal,
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
        intake::INTAKE_HELP
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
}

/// What an import did (no values).
#[derive(Debug)]
pub struct ImportReport {
    pub format: String,
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

    /// Read-modify-write of the vault under its lock. A version 1 vault's
    /// credentials are first bound to the configured site (and audited once
    /// written); the audit log's head at the time of the write is stored in
    /// the document; sites left empty are dropped.
    fn update<T>(
        &self,
        action: &str,
        f: impl FnOnce(&mut VaultDocument) -> T,
    ) -> Result<T, CredentialError> {
        let mut bound = false;
        let result = self.vault.update(|doc| {
            if let Some(site) = &self.site {
                bound = doc.bind_unbound(site).is_some();
            }
            let out = f(doc);
            doc.prune();
            match self.audit.head() {
                Ok(Some(head)) => doc.audit_head = Some(head),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "audit head unreadable; the vault keeps the previous one");
                }
            }
            out
        });
        let out = result.map_err(|e| self.vault_failed(action, e))?;
        if bound {
            self.audit_bound()?;
        }
        Ok(out)
    }

    fn audit_bound(&self) -> Result<(), CredentialError> {
        let site = self.site_detail().unwrap_or_default();
        self.audit.append(
            AuditEntry::new(
                AuditEvent::VaultBoundToSite,
                AuditOutcome::Info,
                format!(
                    "The vault's credentials, stored before sites were recorded, now belong to {site}; the vault was rewritten in format 2"
                ),
            )
            .details(AuditDetails {
                path: Some(self.paths.vault_file.display().to_string()),
                site: Some(site),
                ..Default::default()
            }),
        )?;
        Ok(())
    }

    /// Reads the vault; a version 1 vault is bound to the configured site
    /// on this first open (rewritten as version 2, and audited). With no
    /// site configured it is read as it is and not rewritten.
    fn read(&self, action: &str) -> Result<Option<VaultDocument>, CredentialError> {
        let doc = self
            .vault
            .load()
            .map_err(|e| self.vault_failed(action, e))?;
        match doc {
            Some(d) if d.unbound.is_some() && self.site.is_some() => {
                // Under the lock, from a fresh read: another process may
                // have bound it meanwhile (then nothing happens here).
                self.update(action, |_| ())?;
                Ok(self
                    .vault
                    .load()
                    .map_err(|e| self.vault_failed(action, e))?)
            }
            other => Ok(other),
        }
    }

    /// The configured site's credentials (empty when none), or `NoSite`.
    fn own(&self, doc: &VaultDocument) -> SiteCredentials {
        match &self.site {
            Some(site) => doc.site(site).cloned().unwrap_or_default(),
            None => SiteCredentials::default(),
        }
    }

    /// Parses, encrypts and stores cookies, then empties the plain file when
    /// it is ours to empty. Nothing stored is touched when any step fails.
    pub fn import(
        &self,
        input: ImportInput,
        now: OffsetDateTime,
    ) -> Result<ImportReport, CredentialError> {
        let from_intake = matches!(input, ImportInput::IntakeFile);
        let site = match self.require_site("import the cookies again") {
            Ok(site) => site.clone(),
            Err(e) => return Err(self.fail("import cookies", None, e)),
        };
        let (text, source, to_empty) = match self.read_input(input) {
            Ok(read) => read,
            Err(e) if from_intake => return Err(self.fail_intake("read cookies", None, e, "")),
            Err(e) => return Err(self.fail("read cookies", None, e)),
        };
        // Only the site's own cookies are kept (domain and path, RFC 6265).
        let Some(site_url) = site.url() else {
            let e = CredentialError::NoSite {
                action: "import the cookies again",
            };
            return Err(self.fail("import cookies", None, e));
        };
        let parsed = match parse_cookies_for_site(&text, &site_url, now) {
            Ok(p) => p,
            Err(e) if from_intake => {
                return Err(self.fail_intake("parse cookies", Some(&source), e.into(), &text));
            }
            Err(e) => return Err(self.fail("parse cookies", Some(&source), e.into())),
        };
        drop(text);
        if from_intake && let Ok(mut last) = self.last_intake_failure.lock() {
            *last = None;
        }
        let names = parsed.jar.names();
        let session_cookies = parsed.jar.session_cookie_names();
        self.audit.append(
            AuditEntry::new(
                AuditEvent::CookiesLoaded,
                AuditOutcome::Success,
                format!("Loaded {} cookies from {source}", names.len()),
            )
            .details(AuditDetails {
                count: Some(names.len()),
                names: Some(names.clone()),
                source: Some(source.to_string()),
                format: Some(parsed.format.to_string()),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
        if parsed
            .warnings
            .iter()
            .any(|w| matches!(w, ParseWarning::NoSessionCookie))
        {
            tracing::warn!(names = ?names, "imported cookies contain no session cookie");
        }
        let stored = StoredCookies::new(parsed.jar, source.clone(), now, self.ttl);
        let expires_at = stored.expires_at;
        self.update("store cookies", |doc: &mut VaultDocument| {
            let entry = doc.site_mut(&site);
            entry.cookies = Some(stored);
            // Fresh credentials: whatever the old ones met is history.
            entry.session = None;
        })?;
        self.audit.append(
            AuditEntry::new(
                AuditEvent::CookiesSaved,
                AuditOutcome::Success,
                format!("Encrypted and saved {} cookies to the vault", names.len()),
            )
            .details(AuditDetails {
                count: Some(names.len()),
                names: Some(names.clone()),
                source: Some(source.to_string()),
                expires_at: Some(rfc3339(expires_at)),
                path: Some(self.paths.vault_file.display().to_string()),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        let mut emptied = None;
        if let Some(path) = to_empty {
            match intake::empty_file(&path) {
                Ok(()) => {
                    self.audit.append(
                        AuditEntry::new(
                            AuditEvent::CookieFileEmptied,
                            AuditOutcome::Success,
                            format!("Overwrote and emptied {}", path.display()),
                        )
                        .details(AuditDetails {
                            path: Some(path.display().to_string()),
                            ..Default::default()
                        }),
                    )?;
                    emptied = Some(path);
                }
                Err(e) => return Err(self.fail("empty the cookie file", Some(&source), e.into())),
            }
        }
        Ok(ImportReport {
            format: parsed.format.to_string(),
            names,
            session_cookies,
            warnings,
            expires_at,
            emptied,
        })
    }

    /// Reports what is stored. Cookies found expired are marked so in the
    /// vault and audited, once.
    pub fn status(&self, now: OffsetDateTime) -> Result<CookieStatus, CredentialError> {
        let header = match self.vault.inspect() {
            Ok(h) => h,
            Err(e) => return Err(self.vault_failed("read the vault", e)),
        };
        let mut doc = self.read("read the vault")?.unwrap_or_default();
        let mut own = self.own(&doc);
        if let Some(stored) = own.cookies.as_ref()
            && let Some(reason) = expiry_reason(&stored.expiry_state(now))
            && stored.expired.is_none()
        {
            self.mark_expired(now, &reason, None)?;
            doc = self.read("read the vault")?.unwrap_or_default();
            own = self.own(&doc);
        }
        let other_sites = doc
            .sites_with_credentials()
            .into_iter()
            .filter(|s| self.site.as_ref().is_none_or(|own| own.as_str() != s))
            .collect();
        Ok(CookieStatus {
            site: self.site.clone(),
            other_sites,
            cookies: own.cookies.as_ref().map(|c| summary(c, now)),
            token_stored: own.api_token.is_some(),
            vault_path: self.paths.vault_file.clone(),
            vault_exists: header.is_some(),
            machine_bound: header.as_ref().map(|h| h.machine_bound),
            passphrase_used: header.as_ref().map(|h| h.passphrase_used),
            permission_warnings: self.vault.permission_warnings(),
        })
    }

    /// Marks the stored cookies expired (by age, or because the server said
    /// so) and audits it the first time only. Returns whether it was new.
    pub(crate) fn mark_expired(
        &self,
        now: OffsetDateTime,
        reason: &str,
        http_status: Option<u16>,
    ) -> Result<bool, CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(false);
        };
        let marked = self.update("mark cookies expired", |doc: &mut VaultDocument| {
            let entry = doc.sites.get_mut(site.as_str())?;
            let c = entry.cookies.as_mut()?;
            let marked = c.mark_expired(now, reason).then(|| c.jar.names());
            entry.session = Some(StoredSession::Expired {
                reason: reason.to_string(),
            });
            marked
        })?;
        if let Some(names) = &marked {
            self.audit.append(
                AuditEntry::new(
                    AuditEvent::CookiesExpired,
                    AuditOutcome::Warning,
                    format!("Stored cookies expired: {reason}"),
                )
                .details(AuditDetails {
                    count: Some(names.len()),
                    names: Some(names.clone()),
                    reason: Some(reason.to_string()),
                    http_status,
                    site: Some(site.to_string()),
                    ..Default::default()
                }),
            )?;
        }
        Ok(marked.is_some())
    }

    /// The whole vault document (one scrypt run), or an empty one when no
    /// vault exists yet. A version 1 vault is bound to the configured site
    /// first (see `read`).
    pub fn load(&self) -> Result<VaultDocument, CredentialError> {
        Ok(self.read("read the vault")?.unwrap_or_default())
    }

    /// The audit log's head stored at the last vault write, read without
    /// writing anything (not even an audit record when the vault is
    /// unreadable: `audit --verify` must not change the log it checks).
    pub fn stored_audit_head(&self) -> Result<Option<crate::audit::LogHead>, VaultError> {
        Ok(self.vault.load()?.and_then(|d| d.audit_head))
    }

    /// Every site the vault holds, with its state (no values), the
    /// configured one marked. Credentials of a version 1 vault read with
    /// no site configured are listed without a site.
    pub fn sites(&self, now: OffsetDateTime) -> Result<Vec<SiteSummary>, CredentialError> {
        let doc = self.load()?;
        let summarise = |site: Option<String>, c: &SiteCredentials| SiteSummary {
            configured: site.is_some()
                && self.site.as_ref().map(SiteKey::as_str) == site.as_deref(),
            site,
            cookies: c.cookies.as_ref().map(|c| summary(c, now)),
            token_stored: c.api_token.is_some(),
            token_saved_at: c.token_saved_at,
        };
        let mut out: Vec<SiteSummary> = doc
            .sites
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(k, c)| summarise(Some(k.clone()), c))
            .collect();
        if let Some(legacy) = doc.unbound.as_ref().filter(|c| !c.is_empty()) {
            out.push(summarise(None, legacy));
        }
        Ok(out)
    }

    /// Writes back cookies the server refreshed with `Set-Cookie`, keeping the
    /// set's metadata, and audits the names refreshed (never the values).
    pub(crate) fn refresh_cookies(
        &self,
        jar: crate::cookies::jar::CookieJar,
        names: &[String],
    ) -> Result<(), CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(());
        };
        let updated = self.update(
            "save refreshed cookies",
            |doc: &mut VaultDocument| match doc
                .sites
                .get_mut(site.as_str())
                .and_then(|s| s.cookies.as_mut())
            {
                Some(c) if c.expired.is_none() => {
                    c.jar = jar;
                    true
                }
                _ => false,
            },
        )?;
        if updated {
            self.audit.append(
                AuditEntry::new(
                    AuditEvent::CookiesRefreshed,
                    AuditOutcome::Success,
                    format!(
                        "The site refreshed {} session cookie(s); saved to the vault",
                        names.len()
                    ),
                )
                .details(AuditDetails {
                    count: Some(names.len()),
                    names: Some(names.to_vec()),
                    source: Some(CookieSource::Refresh.to_string()),
                    site: Some(site.to_string()),
                    ..Default::default()
                }),
            )?;
        }
        Ok(())
    }

    /// The configured site's stored session state (one scrypt run).
    pub fn stored_session(&self) -> Result<Option<StoredSession>, CredentialError> {
        let doc = self.read("read the vault")?.unwrap_or_default();
        Ok(self.own(&doc).session)
    }

    /// Records the configured site's session state; nothing is written when
    /// it is already the stored one. Returns whether it changed.
    pub(crate) fn set_session(&self, state: StoredSession) -> Result<bool, CredentialError> {
        let Some(site) = self.site.clone() else {
            return Ok(false);
        };
        if self.stored_session()?.as_ref() == Some(&state) {
            return Ok(false);
        }
        self.update("record the session state", |doc: &mut VaultDocument| {
            doc.site_mut(&site).session = Some(state);
        })?;
        Ok(true)
    }

    /// Appends a record about the session (verification, expiry, CAPTCHA).
    pub(crate) fn record(&self, entry: AuditEntry) -> Result<(), CredentialError> {
        self.audit.append(entry)?;
        Ok(())
    }

    /// Cookies that may be sent: stored, unexpired, not marked expired.
    pub fn usable_cookies(
        &self,
        now: OffsetDateTime,
    ) -> Result<Option<StoredCookies>, CredentialError> {
        let doc = self.read("read the vault")?.unwrap_or_default();
        Ok(self.own(&doc).cookies.filter(|c| c.is_usable(now)))
    }

    /// Deletes the stored cookies of the configured site (or of every site).
    /// The vault file stays (it keeps the other sites, tokens and the audit
    /// head). An unreadable vault is kept aside under a new name (never
    /// deleted) so the user can start again.
    pub(crate) fn clear_cookies(&self, scope: SiteScope) -> Result<ClearReport, CredentialError> {
        let site = match scope {
            SiteScope::Configured => Some(
                self.require_site("clear its cookies (or pass --all-sites)")?
                    .clone(),
            ),
            SiteScope::All => None,
        };
        let report = match self.vault.load() {
            Ok(None) => ClearReport {
                removed: 0,
                kept_aside: None,
            },
            Ok(Some(_)) => {
                let removed = self.update("clear cookies", |doc: &mut VaultDocument| {
                    let mut removed = 0;
                    let mut take = |c: &mut SiteCredentials| {
                        c.session = None;
                        removed += c.cookies.take().map_or(0, |c| c.jar.len());
                    };
                    match &site {
                        Some(site) => {
                            if let Some(c) = doc.sites.get_mut(site.as_str()) {
                                take(c);
                            }
                        }
                        None => {
                            doc.sites.values_mut().for_each(&mut take);
                            if let Some(c) = doc.unbound.as_mut() {
                                take(c);
                            }
                            // Without a site to bind it to, what a v1 vault
                            // holds besides cookies cannot be kept in a v2 file.
                            if doc.unbound.take().is_some_and(|c| !c.is_empty()) {
                                tracing::warn!(
                                    "clearing all sites without a site configured dropped a version 1 vault's token"
                                );
                            }
                        }
                    }
                    removed
                })?;
                ClearReport {
                    removed,
                    kept_aside: None,
                }
            }
            // Refused or locked: nothing is wrong with the vault's content,
            // so there is nothing to keep aside.
            Err(e @ (VaultError::Unsafe(_) | VaultError::LockTimeout(_))) => {
                return Err(self.vault_failed("clear cookies", e));
            }
            Err(unreadable) => {
                let kept = self
                    .vault
                    .keep_damaged_aside()
                    .map_err(|e| self.vault_failed("keep the damaged vault aside", e))?;
                self.audit.append(
                    AuditEntry::new(
                        AuditEvent::VaultKeptAside,
                        AuditOutcome::Warning,
                        "The unreadable vault was kept aside; a new one will be created on the next import",
                    )
                    .details(AuditDetails {
                        reason: Some(unreadable.reason_code().to_string()),
                        kept_at: kept.as_ref().map(|p| p.display().to_string()),
                        ..Default::default()
                    }),
                )?;
                ClearReport {
                    removed: 0,
                    kept_aside: kept,
                }
            }
        };
        let whose = match &site {
            Some(site) => format!("for {site}"),
            None => "for all sites".to_string(),
        };
        self.audit.append(
            AuditEntry::new(
                AuditEvent::CookiesCleared,
                AuditOutcome::Success,
                format!("Cleared {} stored cookies {whose}", report.removed),
            )
            .details(AuditDetails {
                count: Some(report.removed),
                site: site.as_ref().map(ToString::to_string),
                ..Default::default()
            }),
        )?;
        Ok(report)
    }

    /// Stores an API token (or PAT) in the vault for the configured site.
    pub(crate) fn store_token(
        &self,
        token: SecretString,
        now: OffsetDateTime,
    ) -> Result<(), CredentialError> {
        let site = self.require_site("store the token again")?.clone();
        let t = token.expose_secret();
        if t.is_empty() || t.chars().any(|c| c.is_control() || c.is_whitespace()) {
            self.audit.append(
                AuditEntry::new(
                    AuditEvent::CookieOperationFailed,
                    AuditOutcome::Failure,
                    "Refused to store an empty or malformed token",
                )
                .details(AuditDetails {
                    reason: Some("bad_token".into()),
                    ..Default::default()
                }),
            )?;
            return Err(CredentialError::BadToken);
        }
        self.update("store the token", |doc: &mut VaultDocument| {
            let entry = doc.site_mut(&site);
            entry.api_token = Some(token);
            entry.token_saved_at = Some(now);
            entry.session = None;
        })?;
        self.audit.append(
            AuditEntry::new(
                AuditEvent::TokenStored,
                AuditOutcome::Success,
                format!("Stored an API token in the vault for {site}"),
            )
            .details(AuditDetails {
                path: Some(self.paths.vault_file.display().to_string()),
                site: Some(site.to_string()),
                ..Default::default()
            }),
        )?;
        Ok(())
    }

    /// Removes the stored API token of the configured site (or of every
    /// site). Returns how many tokens there were.
    pub(crate) fn clear_token(&self, scope: SiteScope) -> Result<usize, CredentialError> {
        let site = match scope {
            SiteScope::Configured => Some(
                self.require_site("clear its token (or pass --all-sites)")?
                    .clone(),
            ),
            SiteScope::All => None,
        };
        let had = match self.vault.load() {
            Ok(None) => 0,
            Ok(Some(_)) => self.update("clear the token", |doc: &mut VaultDocument| {
                let mut had = 0;
                let mut take = |c: &mut SiteCredentials| {
                    c.token_saved_at = None;
                    had += usize::from(c.api_token.take().is_some());
                };
                match &site {
                    Some(site) => {
                        if let Some(c) = doc.sites.get_mut(site.as_str()) {
                            take(c);
                        }
                    }
                    None => {
                        doc.sites.values_mut().for_each(&mut take);
                        if let Some(c) = doc.unbound.as_mut() {
                            take(c);
                        }
                        // Without a site to bind them to, a v1 vault's
                        // cookies cannot be kept in a v2 file.
                        doc.unbound = None;
                    }
                }
                had
            })?,
            Err(e) => return Err(self.vault_failed("clear the token", e)),
        };
        let whose = match &site {
            Some(site) => format!("for {site}"),
            None => "for all sites".to_string(),
        };
        self.audit.append(
            AuditEntry::new(
                AuditEvent::TokenCleared,
                AuditOutcome::Success,
                if had > 0 {
                    format!("Removed the stored API token {whose}")
                } else {
                    format!("No stored API token to remove {whose}")
                },
            )
            .details(AuditDetails {
                count: Some(had),
                site: site.as_ref().map(ToString::to_string),
                ..Default::default()
            }),
        )?;
        Ok(had)
    }

    fn read_input(
        &self,
        input: ImportInput,
    ) -> Result<(Zeroizing<String>, CookieSource, Option<PathBuf>), CredentialError> {
        match input {
            ImportInput::IntakeFile => {
                let path = self.paths.intake_file.clone();
                let status = intake::ensure_intake_file(&path)?;
                let text = match status {
                    IntakeStatus::Created => None,
                    IntakeStatus::Exists { .. } => Some(intake::read_paste(&path)?),
                };
                match text {
                    Some(t) if !t.trim().is_empty() => {
                        Ok((t, CookieSource::IntakeFile, Some(path)))
                    }
                    _ => Err(CredentialError::IntakeEmpty {
                        path,
                        created: status == IntakeStatus::Created,
                    }),
                }
            }
            ImportInput::Stdin(text) => Ok((text, CookieSource::Stdin, None)),
            ImportInput::Paste(text) => Ok((text, CookieSource::Paste, None)),
            ImportInput::File { path, consume } => {
                if consume {
                    // Refuse before reading what could not be emptied after.
                    intake::check_can_empty(&path)?;
                }
                let text = intake::read_paste(&path)?;
                let source = CookieSource::File {
                    path: path.display().to_string(),
                };
                Ok((text, source, consume.then_some(path)))
            }
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

    /// [`Credentials::fail`] for the intake file, auditing a failure only
    /// when it differs from the last one audited: the same bad file seen
    /// again is not a new event.
    fn fail_intake(
        &self,
        action: &str,
        source: Option<&CookieSource>,
        err: CredentialError,
        content: &str,
    ) -> CredentialError {
        let mut digest = Sha256::new();
        digest.update(error_code(&err).as_bytes());
        digest.update([0]);
        digest.update(err.to_string().as_bytes());
        digest.update([0]);
        digest.update(content.as_bytes());
        let digest = digest.finalize().to_vec();
        let repeated = match self.last_intake_failure.lock() {
            Ok(mut last) => last.replace(digest.clone()).as_ref() == Some(&digest),
            Err(_) => false,
        };
        if repeated {
            tracing::debug!(
                action,
                "the same intake-file failure again; not audited again"
            );
            return err;
        }
        self.fail(action, source, err)
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
        CredentialError::Interrupted(_) => "interrupted",
        CredentialError::NoSite { .. } => "no_site",
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

fn summary(c: &StoredCookies, now: OffsetDateTime) -> StoredCookieSummary {
    StoredCookieSummary {
        names: c.jar.names(),
        session_cookies: c.jar.session_cookie_names(),
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
