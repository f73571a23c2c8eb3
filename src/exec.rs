//! `exec`: run a program with the site's credentials in its environment.
//!
//! [`stored_handover`] picks the credential from the settings and the vault
//! (the resolver `auth::resolve`, so `CONFLUENCE_AUTH` and `auto` decide
//! as everywhere) without asking the site: the stored state decides, so a
//! pipeline starts at once. [`ChildEnv::for_pipeline`] turns it into the
//! child's environment, and [`run_child`] runs the child, forwarding
//! signals, and returns how it ended. `exec --proxy` will hand over the
//! proxy's URL and token through the same two calls.

mod child;
mod env;

use std::ffi::OsString;

use time::OffsetDateTime;

pub use child::{ChildExit, run_child};
pub use env::{ChildEnv, Handover, PIPELINE_VARIABLES, WITHHELD_VARIABLES};

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::auth::{AuthError, resolve};
use crate::config::Settings;
use crate::confluence::client::{AuthMode, Decoration};
use crate::credentials::{CredentialError, Credentials};
use crate::exit::ErrorClass;
use crate::secret::SecretString;
use crate::site::SiteKey;
use crate::vault::StoredSession;

/// Why the program was not started, or was lost track of.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No site, no usable cookies, a CAPTCHA, an unreadable vault, an
    /// unwritable audit log.
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// Nothing to hand over (the resolver's words say what to set).
    #[error("{0}")]
    NotConfigured(String),
    #[error(
        "no program to run: name it after `--`, e.g. `confluence-tui exec -- python pipeline.py`"
    )]
    NoProgram,
    #[error("{program}: command not found (check the name and PATH)")]
    NotFound { program: String },
    #[error("{program}: cannot be started: {reason}")]
    NotExecutable { program: String, reason: String },
    #[error("cannot catch signals to forward them to the program: {0}")]
    Signals(#[source] std::io::Error),
    #[error("lost track of the program: {0}")]
    Wait(#[source] std::io::Error),
}

impl ExecError {
    /// What kind of failure this is (decides the exit code).
    pub fn class(&self) -> ErrorClass {
        match self {
            ExecError::Credentials(e) => e.class(),
            ExecError::NotConfigured(_) => ErrorClass::Auth,
            ExecError::NoProgram => ErrorClass::Usage,
            ExecError::NotFound { .. } => ErrorClass::ProgramNotFound,
            ExecError::NotExecutable { .. } => ErrorClass::ProgramNotExecutable,
            ExecError::Signals(_) | ExecError::Wait(_) => ErrorClass::Internal,
        }
    }
}

/// The resolver's refusal, in the words `cookies export` uses for the same.
fn from_auth(e: AuthError) -> ExecError {
    match e {
        AuthError::NotConfigured(message) => ExecError::NotConfigured(message),
        AuthError::CookiesExpired { reason } => CredentialError::CookiesExpired { reason }.into(),
        AuthError::Credentials(e) => e.into(),
    }
}

/// The configured site and its credential to hand over, chosen as every
/// command chooses it, from what is stored: no site is exit 2, no usable
/// credential 3, the stored CAPTCHA state 4, an unreadable vault 6. The
/// site is not asked. With a token, a gateway's cookies come too (the
/// `Cookie:` value for `CONFLUENCE_COOKIE`); a gateway's headers and a
/// client certificate cannot travel in an environment: `exec --proxy`
/// carries them.
pub fn stored_handover(
    settings: &Settings,
    creds: &Credentials,
    now: OffsetDateTime,
) -> Result<(SiteKey, Handover, Option<SecretString>), ExecError> {
    let site = creds
        .site()
        .ok_or(CredentialError::NoSite {
            action: "run the command again",
        })?
        .clone();
    let resolved = resolve(settings, creds, now).map_err(from_auth)?;
    if let Some(StoredSession::Captcha { login_url, .. }) = resolved.stored {
        return Err(CredentialError::Captcha { login_url }.into());
    }
    let no_cookies = || CredentialError::NoCookies {
        site: site.to_string(),
        intake: creds.paths().intake_file.clone(),
    };
    // The Confluence credential of the decorations: a token before cookies,
    // as the mode says; with a token, the cookies are a gateway's.
    let mut handover = None;
    let mut cookies = None;
    for item in resolved.decorations.items() {
        handover = match item {
            Decoration::Basic { username, token } => Some(Handover::Basic {
                username: username.clone(),
                token: token.clone(),
            }),
            Decoration::Bearer { token } => Some(Handover::Bearer {
                token: token.clone(),
            }),
            Decoration::Cookies(jar) if handover.is_none() => {
                let site_url = site.url().ok_or_else(no_cookies)?;
                Some(Handover::Cookie {
                    header: jar.header_value_for(&site_url).ok_or_else(no_cookies)?,
                })
            }
            Decoration::Cookies(jar) => {
                cookies = site.url().and_then(|u| jar.header_value_for(&u));
                handover
            }
            Decoration::Header { .. } => handover,
        };
    }
    let gateway_cookie = match &handover {
        Some(Handover::Cookie { .. }) => None,
        _ => cookies,
    };
    match handover {
        Some(h) => Ok((site, h, gateway_cookie)),
        None => Err(no_cookies().into()),
    }
}

/// The `exec_started` record: the site, the mode and the program's name,
/// never its arguments (a command line may hold secrets).
pub fn started_record(site: &SiteKey, mode: AuthMode, program: &OsString) -> AuditEntry {
    let program = child::program_name(program);
    AuditEntry::new(
        AuditEvent::ExecStarted,
        AuditOutcome::Success,
        format!("Starting {program} with the {mode} credentials of {site} in its environment"),
    )
    .details(AuditDetails {
        mode: Some(mode.to_string()),
        site: Some(site.to_string()),
        program: Some(program),
        ..Default::default()
    })
}

/// The `exec_started` record of `exec --proxy`: the program gets the
/// proxy's address and a throw-away token, not the site's credentials.
pub fn started_through_proxy_record(
    site: &SiteKey,
    proxy: &url::Url,
    program: &OsString,
) -> AuditEntry {
    let program = child::program_name(program);
    AuditEntry::new(
        AuditEvent::ExecStarted,
        AuditOutcome::Success,
        format!(
            "Starting {program} with the proxy {proxy} to {site} in its environment (a per-run proxy token, not the site's credentials)"
        ),
    )
    .details(AuditDetails {
        mode: Some("proxy".to_string()),
        site: Some(site.to_string()),
        program: Some(program),
        ..Default::default()
    })
}
