//! `token set | clear`.

use std::io::{IsTerminal, Read, Write as _};
use std::sync::Arc;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::output::Output;
use super::{CliError, TokenCommand};
use crate::config::Settings;
use crate::confluence::client::{ClientNotice, NoticeSink, RetryPolicy};
use crate::credentials::{CredentialError, Credentials, SiteScope};
use crate::exit::Exit;
use crate::secret::SecretString;
use crate::session::{TokenAccepted, check_token};
use crate::text::for_terminal;

/// Longest token accepted from standard input; real ones are a few hundred bytes.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;

pub(super) fn run(
    out: &mut Output,
    cmd: TokenCommand,
    settings: &Settings,
) -> Result<Exit, CliError> {
    let creds = Credentials::open(settings);
    match cmd {
        TokenCommand::Set {
            username,
            no_verify,
        } => {
            if creds.site().is_none() {
                // Refused before reading: a token typed for no site is lost
                // (the vault keeps a token per site).
                return Err(CredentialError::NoSite {
                    action: "store the token again",
                }
                .into());
            }
            let token = read_token()?;
            // A malformed token is refused (and audited) before the site is
            // asked anything.
            creds.check_token_format(&token)?;
            let site = creds.site().map(ToString::to_string).unwrap_or_default();
            if no_verify {
                creds.store_token(token, username, OffsetDateTime::now_utc())?;
                out.line(format_args!(
                    "Stored the API token for {site} encrypted in {}, without asking the site (--no-verify).",
                    creds.paths().vault_file.display()
                ))?;
            } else {
                let accepted = check_with_site(settings, &creds, username.as_deref(), &token)?;
                creds.store_token(token, username, OffsetDateTime::now_utc())?;
                // The display name is the server's: shown, never obeyed.
                out.line(format_args!(
                    "The site accepted the token: signed in to {} ({}) as {} using {} auth ({}).",
                    for_terminal(&site),
                    accepted.deployment,
                    for_terminal(&accepted.user.display_name),
                    accepted.mode,
                    accepted.why
                ))?;
                out.line(format_args!(
                    "Stored the API token for {site} encrypted in {}.",
                    creds.paths().vault_file.display()
                ))?;
            }
            if settings.api_token.is_some() {
                out.line(
                    "note: CONFLUENCE_API_TOKEN is set, and it is used instead of the stored token while it is set.",
                )?;
            }
            Ok(Exit::Ok)
        }
        TokenCommand::Clear { all_sites } => {
            let scope = if all_sites {
                SiteScope::All
            } else {
                SiteScope::Configured
            };
            let removed = creds.clear_token(scope)?;
            let whose = match (all_sites, creds.site()) {
                (false, Some(site)) => format!(" for {site}"),
                _ => " for any site".to_string(),
            };
            match removed {
                0 => out.line(format_args!("No API token was stored{whose}."))?,
                1 if !all_sites => {
                    out.line(format_args!("Removed the API token{whose} from the vault."))?
                }
                n => out.line(format_args!("Removed {n} API tokens from the vault."))?,
            }
            Ok(Exit::Ok)
        }
    }
}

/// Asks the site who the token signs in as (waits before a retry are told
/// on stderr); a refusal is audited and is the command's failure, with the
/// exit code `check` would give.
fn check_with_site(
    settings: &Settings,
    creds: &Credentials,
    username: Option<&str>,
    token: &SecretString,
) -> Result<TokenAccepted, CliError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))?;
    let notices: NoticeSink = Arc::new(|n: ClientNotice| {
        let ClientNotice::Waiting {
            wait,
            next_attempt,
            reason,
        } = n;
        let _ = writeln!(
            std::io::stderr(),
            "waiting {:.1} s before attempt {next_attempt} ({reason})",
            wait.as_secs_f64()
        );
    });
    // The gateway's client certificate, if one is named, goes too.
    let own = match (creds.site(), creds.paths().vault_file.exists()) {
        (Some(site), true) => creds.load()?.site(site).cloned().unwrap_or_default(),
        _ => Default::default(),
    };
    let tls = crate::session::identity::tls_for(settings, &own).map_err(|e| CliError::Remote {
        message: e.message,
        class: e.class,
        printed: false,
    })?;
    let checked = rt.block_on(check_token(
        settings,
        RetryPolicy::default(),
        Some(tls),
        Some(&own),
        username,
        token,
        Some(notices),
    ));
    checked.map_err(|refused| {
        if let Some(record) = refused.record
            && let Err(audit) = creds.record(record)
        {
            // The refusal is the answer; the audit failure is logged.
            tracing::warn!(error = %audit, "could not audit the refused token");
        }
        CliError::Remote {
            message: refused.error.message,
            class: refused.error.class,
            printed: false,
        }
    })
}

/// Reads the token hidden from a terminal, or from standard input when piped.
fn read_token() -> Result<SecretString, CliError> {
    let raw = if std::io::stdin().is_terminal() {
        Zeroizing::new(
            rpassword::prompt_password("API token (input hidden): ").map_err(|e| {
                CliError::Usage(format!("cannot read the token from the terminal: {e}"))
            })?,
        )
    } else {
        let mut buf = Zeroizing::new(String::new());
        std::io::stdin()
            .take(MAX_TOKEN_BYTES + 1)
            .read_to_string(&mut buf)
            .map_err(|e| {
                CliError::Usage(format!("cannot read the token from standard input: {e}"))
            })?;
        if buf.len() as u64 > MAX_TOKEN_BYTES {
            return Err(CliError::Usage(
                "the token on standard input is longer than 16 KiB; pipe only the token".into(),
            ));
        }
        buf
    };
    Ok(SecretString::from(raw.trim()))
}
