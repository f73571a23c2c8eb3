//! `cookies import | status | clear`.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde_json::json;
use time::OffsetDateTime;

use super::{CliError, CookiesCommand};
use crate::config::{FlagOverrides, Settings};
use crate::cookies::intake;
use crate::cookies::jar::{ExpiryState, format_time_left};
use crate::credentials::{CookieStatus, Credentials, ImportInput, rfc3339};
use crate::exit::Exit;

pub(super) fn run(
    cmd: CookiesCommand,
    settings: Settings,
    flags: FlagOverrides,
) -> Result<Exit, CliError> {
    let creds = Credentials::open(&settings);
    let now = OffsetDateTime::now_utc();
    match cmd {
        CookiesCommand::Import {
            file,
            consume,
            no_verify,
        } => {
            import(&creds, file, consume, now)?;
            // Stored is not the same as working: check them against the site
            // (the contract's "encrypt, store, empty, verify").
            if no_verify || settings.base_url.is_none() {
                return Ok(Exit::Ok);
            }
            println!("Verifying with the site…");
            super::remote::run(
                super::remote::Remote::Check { json: false },
                settings,
                flags,
            )
        }
        CookiesCommand::Status { json } => status(&creds, &settings, json, now),
        CookiesCommand::Clear => clear(&creds),
    }
}

fn import(
    creds: &Credentials,
    file: Option<String>,
    consume: bool,
    now: OffsetDateTime,
) -> Result<Exit, CliError> {
    let input = match file.as_deref() {
        None => ImportInput::IntakeFile,
        Some("-") => {
            if std::io::stdin().is_terminal() {
                eprintln!("Paste the cookies, then press Ctrl-D on an empty line:");
            }
            ImportInput::Stdin(
                intake::read_stdin_paste().map_err(crate::credentials::CredentialError::from)?,
            )
        }
        Some(path) => {
            let path = PathBuf::from(path);
            // The intake file named explicitly is still ours to empty.
            let ours = path == creds.paths().intake_file;
            ImportInput::File {
                path,
                consume: consume || ours,
            }
        }
    };
    let report = creds.import(input, now)?;
    println!(
        "Imported {} cookies ({}): {}",
        report.names.len(),
        report.format,
        report.names.join(", ")
    );
    if report.session_cookies.is_empty() {
        println!("warning: no session cookie found; the site will likely not accept these cookies");
    } else {
        println!("Session cookie: {}", report.session_cookies.join(", "));
    }
    for w in &report.warnings {
        println!("warning: {w}");
    }
    println!(
        "Stored encrypted in {}; expires {} (in {}).",
        creds.paths().vault_file.display(),
        rfc3339(report.expires_at),
        format_time_left(report.expires_at - now)
    );
    if let Some(p) = &report.emptied {
        println!("Emptied {}.", p.display());
    }
    Ok(Exit::Ok)
}

fn status(
    creds: &Credentials,
    settings: &Settings,
    json: bool,
    now: OffsetDateTime,
) -> Result<Exit, CliError> {
    let st = creds.status(now)?;
    let exit = match st.cookies.as_ref().map(|c| &c.state) {
        Some(ExpiryState::Valid { .. }) | Some(ExpiryState::ExpiresSoon { .. }) => Exit::Ok,
        _ => Exit::AuthNeeded,
    };
    if json {
        println!("{}", status_json(&st, settings, now));
    } else {
        print_status(&st, settings, now);
    }
    Ok(exit)
}

fn state_word(state: &ExpiryState) -> &'static str {
    match state {
        ExpiryState::Valid { .. } => "valid",
        ExpiryState::ExpiresSoon { .. } => "expires_soon",
        _ => "expired",
    }
}

fn status_json(st: &CookieStatus, settings: &Settings, now: OffsetDateTime) -> serde_json::Value {
    let cookies = st.cookies.as_ref().map(|c| {
        json!({
            "count": c.names.len(),
            "names": c.names,
            "session_cookie": !c.session_cookies.is_empty(),
            "session_cookies": c.session_cookies,
            "source": c.source,
            "saved_at": rfc3339(c.saved_at),
            "expires_at": rfc3339(c.expires_at),
            "expires_in_secs": (c.expires_at - now).whole_seconds().max(0),
            "state": state_word(&c.state),
            "expired_reason": crate::credentials::expiry_reason(&c.state),
        })
    });
    json!({
        "cookies": cookies,
        "token": {
            "stored_in_vault": st.token_stored,
            "in_environment": settings.api_token.is_some(),
        },
        "vault": {
            "path": st.vault_path.display().to_string(),
            "exists": st.vault_exists,
            "machine_bound": st.machine_bound,
            "passphrase_used": st.passphrase_used,
        },
        "warnings": st.permission_warnings,
    })
}

fn print_status(st: &CookieStatus, settings: &Settings, now: OffsetDateTime) {
    match &st.cookies {
        None => println!(
            "Cookies:   none stored. Paste them into {} and run `confluence-tui cookies import`.",
            creds_intake(settings)
        ),
        Some(c) => {
            let session = if c.session_cookies.is_empty() {
                "no session cookie".to_string()
            } else {
                format!("session cookie {}", c.session_cookies.join(", "))
            };
            println!("Cookies:   {} stored ({session})", c.names.len());
            println!("  names:   {}", c.names.join(", "));
            println!("  source:  {}", c.source);
            println!("  saved:   {}", rfc3339(c.saved_at));
            match &c.state {
                ExpiryState::Valid { left } => println!(
                    "  expires: {} (in {})",
                    rfc3339(c.expires_at),
                    format_time_left(*left)
                ),
                ExpiryState::ExpiresSoon { left } => println!(
                    "  expires: {} (in {}; soon: import fresh cookies)",
                    rfc3339(c.expires_at),
                    format_time_left(*left)
                ),
                other => println!(
                    "  EXPIRED: {}. Sign in with the browser, copy the Cookie header, and import again.",
                    crate::credentials::expiry_reason(other).unwrap_or_default()
                ),
            }
        }
    }
    let token = match (st.token_stored, settings.api_token.is_some()) {
        (true, true) => {
            "stored in the vault; CONFLUENCE_API_TOKEN is also set (the environment wins)"
        }
        (true, false) => "stored in the vault",
        (false, true) => "from CONFLUENCE_API_TOKEN (not stored)",
        (false, false) => "none",
    };
    println!("API token: {token}");
    let binding = match (st.vault_exists, st.machine_bound, st.passphrase_used) {
        (false, _, _) => "not created yet".to_string(),
        (true, Some(m), Some(p)) => format!(
            "{}, passphrase {}",
            if m {
                "bound to this machine"
            } else {
                "not machine-bound"
            },
            if p { "used" } else { "not used" }
        ),
        _ => "present".to_string(),
    };
    println!("Vault:     {} ({binding})", st.vault_path.display());
    for w in &st.permission_warnings {
        println!("warning: {w}");
    }
    let _ = now;
}

fn creds_intake(settings: &Settings) -> String {
    settings.paths().intake_file.display().to_string()
}

fn clear(creds: &Credentials) -> Result<Exit, CliError> {
    let report = creds.clear_cookies()?;
    match &report.kept_aside {
        Some(p) => println!(
            "The vault could not be read; it was kept aside as {}. Import cookies again to start a new one.",
            p.display()
        ),
        None if report.removed == 0 => println!("No cookies were stored."),
        None => println!("Deleted {} stored cookies.", report.removed),
    }
    Ok(Exit::Ok)
}
