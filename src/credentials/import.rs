//! Importing cookies: reading the input, parsing, storing, emptying the
//! plain file.

use std::path::PathBuf;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::cookies::intake::{self, IntakeStatus};
use crate::cookies::jar::{CookieSource, StoredCookies};
use crate::cookies::parse::{ParseWarning, parse_browser_cookies_for_site, parse_cookies_for_site};
use crate::vault::VaultDocument;

use super::{CredentialError, Credentials, ImportInput, ImportReport, rfc3339};

/// Cookies read and parsed for the configured site, not stored yet: what
/// a paste, a file or a browser gave, to be verified before it replaces
/// what is stored ([`Credentials::commit`]).
pub struct Staged {
    /// The set as it will be stored.
    pub cookies: StoredCookies,
    pub(crate) format: String,
    pub(crate) warnings: Vec<String>,
    /// The plain file to empty once stored, if it is ours to empty.
    pub(crate) to_empty: Option<PathBuf>,
    pub(crate) site: crate::site::SiteKey,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("names", &self.cookies.jar.names())
            .field("source", &self.cookies.source)
            .finish_non_exhaustive()
    }
}

impl Staged {
    /// Where the cookies came from, as audited.
    pub fn source(&self) -> &CookieSource {
        &self.cookies.source
    }

    /// The intake file is the source.
    pub fn from_intake(&self) -> bool {
        self.cookies.source == CookieSource::IntakeFile
    }
}

impl Credentials {
    /// Parses, encrypts and stores cookies, then empties the plain file when
    /// it is ours to empty. Nothing stored is touched when any step fails.
    /// (Unverified: the session owner verifies staged cookies before it
    /// commits them.)
    pub fn import(
        &self,
        input: ImportInput,
        now: OffsetDateTime,
    ) -> Result<ImportReport, CredentialError> {
        let staged = self.stage(input, now)?;
        self.commit(staged)
    }

    /// Reads and parses cookies for the configured site (audited as
    /// `cookies_loaded`); nothing is stored, no file is emptied.
    pub fn stage(
        &self,
        input: ImportInput,
        now: OffsetDateTime,
    ) -> Result<Staged, CredentialError> {
        let from_intake = matches!(input, ImportInput::IntakeFile);
        let site = match self.require_site("import the cookies again") {
            Ok(site) => site.clone(),
            Err(e) => return Err(self.fail("import cookies", None, e)),
        };
        // Only the site's own cookies are kept (domain and path, RFC 6265).
        let Some(site_url) = site.url() else {
            let e = CredentialError::NoSite {
                action: "import the cookies again",
            };
            return Err(self.fail("import cookies", None, e));
        };
        let (parsed, source, to_empty) = match input {
            ImportInput::Browser(read) => {
                let source = CookieSource::Browser {
                    browser: read.profile.kind.name().to_string(),
                    profile: read.profile.dir.display().to_string(),
                };
                match parse_browser_cookies_for_site(read.cookies, &site_url, now) {
                    Ok(p) => (p, source, None),
                    Err(e) => return Err(self.fail("parse cookies", Some(&source), e.into())),
                }
            }
            input => {
                let (text, source, to_empty) = match self.read_input(input) {
                    Ok(read) => read,
                    Err(e) if from_intake => {
                        return Err(self.fail_intake("read cookies", None, e, ""));
                    }
                    Err(e) => return Err(self.fail("read cookies", None, e)),
                };
                let parsed = match parse_cookies_for_site(&text, &site_url, now) {
                    Ok(p) => p,
                    Err(e) if from_intake => {
                        return Err(self.fail_intake(
                            "parse cookies",
                            Some(&source),
                            e.into(),
                            &text,
                        ));
                    }
                    Err(e) => return Err(self.fail("parse cookies", Some(&source), e.into())),
                };
                (parsed, source, to_empty)
            }
        };
        if from_intake && let Ok(mut last) = self.last_intake_failure.lock() {
            *last = None;
        }
        let names = parsed.jar.names();
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
        Ok(Staged {
            cookies: StoredCookies::new(parsed.jar, source, now, self.ttl),
            format: parsed.format.to_string(),
            warnings,
            to_empty,
            site,
        })
    }

    /// Stores staged cookies in place of what the site held (audited as
    /// `cookies_saved`), then empties the plain file they came from when
    /// it is ours to empty.
    pub fn commit(&self, staged: Staged) -> Result<ImportReport, CredentialError> {
        let Staged {
            cookies: stored,
            format,
            warnings,
            to_empty,
            site,
        } = staged;
        let source = stored.source.clone();
        let names = stored.jar.names();
        let session_cookies = stored.jar.session_cookie_names();
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
            format,
            source: source.to_string(),
            names,
            session_cookies,
            warnings,
            expires_at,
            emptied,
        })
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
            // Handled by `import` before any text is read.
            ImportInput::Browser(_) => Err(CredentialError::Interrupted(
                "browser cookies are not text to read".into(),
            )),
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
}
