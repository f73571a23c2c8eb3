//! `token set | clear`.

use std::io::{IsTerminal, Read};

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::output::Output;
use super::{CliError, TokenCommand};
use crate::config::Settings;
use crate::credentials::{CredentialError, Credentials, SiteScope};
use crate::exit::Exit;
use crate::secret::SecretString;

/// Longest token accepted from standard input; real ones are a few hundred bytes.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;

pub(super) fn run(
    out: &mut Output,
    cmd: TokenCommand,
    settings: &Settings,
) -> Result<Exit, CliError> {
    let creds = Credentials::open(settings);
    match cmd {
        TokenCommand::Set => {
            if creds.site().is_none() {
                // Refused before reading: a token typed for no site is lost.
                return Err(CredentialError::NoSite {
                    action: "store the token again",
                }
                .into());
            }
            let token = read_token()?;
            creds.store_token(token, OffsetDateTime::now_utc())?;
            out.line(format_args!(
                "Stored the API token for {} encrypted in {}.",
                creds.site().map(ToString::to_string).unwrap_or_default(),
                creds.paths().vault_file.display()
            ))?;
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
