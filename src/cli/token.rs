//! `token set | clear`.

use std::io::{IsTerminal, Read};

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::output::Output;
use super::{CliError, TokenCommand};
use crate::config::Settings;
use crate::credentials::Credentials;
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
            let token = read_token()?;
            creds.store_token(token, OffsetDateTime::now_utc())?;
            out.line(format_args!(
                "Stored the API token encrypted in {}.",
                creds.paths().vault_file.display()
            ))?;
            Ok(Exit::Ok)
        }
        TokenCommand::Clear => {
            if creds.clear_token()? {
                out.line("Removed the API token from the vault.")?;
            } else {
                out.line("No API token was stored.")?;
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
