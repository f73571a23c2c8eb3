//! `cookies import | status | clear | export`.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;

use serde_json::json;
use time::OffsetDateTime;

use super::output::Output;
use super::{CliError, CookiesCommand};
use crate::config::{FlagOverrides, Settings};
use crate::cookies::export::ExportFormat;
use crate::cookies::intake;
use crate::cookies::jar::{ExpiryState, format_time_left};
use crate::credentials::{
    CookieStatus, CredentialError, Credentials, ImportInput, SiteScope, rfc3339,
};
use crate::exit::{ErrorClass, Exit};
use crate::secret::ExposeSecret;
use crate::text::for_terminal;

pub(super) fn run(
    out: &mut Output,
    cmd: CookiesCommand,
    settings: Settings,
    _flags: FlagOverrides,
) -> Result<Exit, CliError> {
    let creds = Credentials::open(&settings);
    let now = OffsetDateTime::now_utc();
    match cmd {
        CookiesCommand::Import {
            file,
            consume,
            no_verify,
            from_browser,
            profile,
        } => {
            let input = match super::browser_spec(from_browser, profile)? {
                Some(spec) => ImportInput::Browser(creds.read_from_browser(&spec)?),
                None => import_input(&creds, file, consume)?,
            };
            let from = match &input {
                // The profile path is the user's, but escaped all the same.
                ImportInput::Browser(read) => Some(format!(
                    "Read from {}",
                    for_terminal(&format!(
                        "browser:{}:{}",
                        read.profile.kind.name(),
                        read.profile.dir.display()
                    ))
                )),
                _ => None,
            };
            if no_verify || settings.base_url.is_none() {
                // Stored as they are (without a site, the import says what
                // is missing).
                let report = creds.import(input, now)?;
                if let Some(line) = from {
                    out.line(line)?;
                }
                return print_import(out, &creds, &report, &settings.gateway_cookies, now);
            }
            import_verified(out, &creds, settings, input, from, now)
        }
        CookiesCommand::Status { json } => status(out, &creds, &settings, json, now),
        CookiesCommand::Clear { all_sites } => clear(out, &creds, all_sites),
        CookiesCommand::Export { format } => export(out, &creds, format.into(), now),
    }
}

/// Prints the stored cookies: the one command whose stdout is a secret.
/// On a terminal a warning goes to stderr first (never into the output a
/// script may capture).
fn export(
    out: &mut Output,
    creds: &Credentials,
    format: ExportFormat,
    now: OffsetDateTime,
) -> Result<Exit, CliError> {
    let exported = creds.export_cookies(format, now)?;
    if std::io::stdout().is_terminal() {
        let _ = writeln!(
            std::io::stderr(),
            "warning: the {} cookies below are live session secrets: anyone who sees them can act as you on the site",
            exported.names.len()
        );
    }
    out.write_all(exported.text.expose_secret().as_bytes())?;
    Ok(Exit::Ok)
}

/// Stage, then commit: the cookies are asked about first, and stored only
/// when the site takes them (a refusal never replaces a working session).
fn import_verified(
    out: &mut Output,
    creds: &Credentials,
    settings: Settings,
    input: ImportInput,
    from: Option<String>,
    now: OffsetDateTime,
) -> Result<Exit, CliError> {
    use crate::session::{Session, SessionConfig, Verify, Watch};
    let rt = super::runtime()?;
    let site = settings
        .base_url
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let gateway = settings.gateway_cookies.clone();
    let imported = rt.block_on(async move {
        let owner = Session::start(SessionConfig {
            settings,
            machine_id: crate::vault::MachineIdSource::System,
            retry: crate::confluence::client::RetryPolicy::default(),
            login_page: None,
            watch: Watch::none(),
        });
        let _ = std::io::stderr()
            .write_all(b"Verifying the cookies with the site before storing them...\n");
        let imported = owner.import(input, Verify::First, None).await;
        owner.flush().await;
        imported
    });
    let imported = imported.map_err(|e| CliError::Remote {
        message: e.message,
        class: e.class,
        printed: false,
    })?;
    if let Some(line) = from {
        out.line(line)?;
    }
    print_import(out, creds, &imported.report, &gateway, now)?;
    match &imported.user {
        Some(user) => out.line(format_args!(
            "Signed in to {} as {}.",
            for_terminal(&site),
            for_terminal(&user.display_name)
        ))?,
        // A gateway's cookies alone: the note above says what is missing.
        None if matches!(
            imported.snapshot.state,
            crate::session::SessionState::NoCredentials { .. }
        ) =>
        {
            if let Some(reason) = imported.snapshot.reason() {
                out.line(format_args!("Not signed in yet: {}", for_terminal(&reason)))?;
            }
        }
        None => out.line(
            "warning: the site could not be asked; the cookies were stored without a check",
        )?,
    }
    let state = &imported.snapshot.state;
    if !imported.snapshot.is_signed_in() && state.is_dead() {
        // The intake file with nothing stored before: stored, and dead.
        return Err(CliError::Remote {
            message: imported
                .snapshot
                .reason()
                .unwrap_or_else(|| "the site refused the cookies".into()),
            class: state.class().unwrap_or(ErrorClass::Auth),
            printed: false,
        });
    }
    Ok(Exit::Ok)
}

/// Where the cookies to import come from.
fn import_input(
    creds: &Credentials,
    file: Option<String>,
    consume: bool,
) -> Result<ImportInput, CliError> {
    let input = match file.as_deref() {
        None => ImportInput::IntakeFile,
        Some("-") => {
            if std::io::stdin().is_terminal() {
                let _ = writeln!(
                    std::io::stderr(),
                    "Paste the cookies, then press Ctrl-D on an empty line:"
                );
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
    Ok(input)
}

fn print_import(
    out: &mut Output,
    creds: &Credentials,
    report: &crate::credentials::ImportReport,
    gateway_names: &[String],
    now: OffsetDateTime,
) -> Result<Exit, CliError> {
    // Cookie names and domains come from a paste or a site's Set-Cookie:
    // shown escaped, never obeyed.
    out.line(format_args!(
        "Imported {} cookies ({}): {}",
        report.names.len(),
        report.format,
        for_terminal(&report.names.join(", "))
    ))?;
    let gateway: Vec<&str> = report
        .names
        .iter()
        .filter(|n| crate::cookies::jar::is_gateway_cookie(n, gateway_names))
        .map(String::as_str)
        .collect();
    if !gateway.is_empty() {
        out.line(format_args!(
            "Gateway cookie: {} (a gateway's: sent with every auth mode, next to a token too)",
            for_terminal(&gateway.join(", "))
        ))?;
    }
    if report.session_cookies.is_empty() && gateway.len() == report.names.len() {
        out.line(
            "note: no Confluence session cookie: these open the gateway only; Confluence itself takes the token (`confluence-tui token set`)",
        )?;
    } else if report.session_cookies.is_empty() {
        out.line(
            "warning: no session cookie found; the site will likely not accept these cookies",
        )?;
    } else {
        out.line(format_args!(
            "Session cookie: {}",
            for_terminal(&report.session_cookies.join(", "))
        ))?;
    }
    for w in &report.warnings {
        out.line(format_args!("warning: {}", for_terminal(w)))?;
    }
    out.line(format_args!(
        "Stored encrypted in {}; expires {} (in {}).",
        creds.paths().vault_file.display(),
        rfc3339(report.expires_at),
        format_time_left(report.expires_at - now)
    ))?;
    if let Some(p) = &report.emptied {
        out.line(format_args!("Emptied {}.", p.display()))?;
    }
    Ok(Exit::Ok)
}

fn status(
    out: &mut Output,
    creds: &Credentials,
    settings: &Settings,
    json: bool,
    now: OffsetDateTime,
) -> Result<Exit, CliError> {
    if creds.site().is_none() {
        return Err(CredentialError::NoSite {
            action: "ask again (`confluence-tui sites` lists every site held)",
        }
        .into());
    }
    let st = creds.status(now)?;
    if json {
        out.line(status_json(&st, settings, now))?;
    } else {
        print_status(out, &st, settings, now)?;
    }
    // Without usable cookies the answer (printed above) is "authentication
    // needed".
    match st.cookies.as_ref().map(|c| &c.state) {
        Some(ExpiryState::Valid { .. }) | Some(ExpiryState::ExpiresSoon { .. }) => Ok(Exit::Ok),
        None => Err(CliError::Answered {
            message: "no cookies are stored".into(),
            class: ErrorClass::Auth,
        }),
        Some(other) => Err(CliError::Answered {
            message: format!(
                "the stored cookies are expired: {}",
                crate::credentials::expiry_reason(other).unwrap_or_default()
            ),
            class: ErrorClass::Auth,
        }),
    }
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
            "gateway_cookies": c.gateway_cookies,
            "source": c.source,
            "saved_at": rfc3339(c.saved_at),
            "expires_at": rfc3339(c.expires_at),
            "expires_in_secs": (c.expires_at - now).whole_seconds().max(0),
            "state": state_word(&c.state),
            "expired_reason": crate::credentials::expiry_reason(&c.state),
        })
    });
    json!({
        "site": st.site.as_ref().map(ToString::to_string),
        "other_sites": st.other_sites,
        "cookies": cookies,
        "token": {
            "stored_in_vault": st.token_stored,
            "in_environment": settings.api_token.is_some(),
        },
        "gateway": st.gateway,
        "session": super::sites::session_json(st.session.as_ref()),
        "vault": {
            "path": st.vault_path.display().to_string(),
            "exists": st.vault_exists,
            "machine_bound": st.machine_bound,
            "passphrase_used": st.passphrase_used,
        },
        "warnings": st.permission_warnings,
    })
}

fn print_status(
    out: &mut Output,
    st: &CookieStatus,
    settings: &Settings,
    now: OffsetDateTime,
) -> Result<(), CliError> {
    if let Some(site) = &st.site {
        out.line(format_args!("Site:      {site}"))?;
    }
    match &st.cookies {
        None => out.line(format_args!(
            "Cookies:   none stored. Paste them into {} and run `confluence-tui cookies import`.",
            creds_intake(settings)
        ))?,
        Some(c) => {
            let session = if c.session_cookies.is_empty() {
                "no session cookie".to_string()
            } else {
                format!(
                    "session cookie {}",
                    for_terminal(&c.session_cookies.join(", "))
                )
            };
            out.line(format_args!(
                "Cookies:   {} stored ({session})",
                c.names.len()
            ))?;
            out.line(format_args!(
                "  names:   {}",
                for_terminal(&c.names.join(", "))
            ))?;
            if !c.gateway_cookies.is_empty() {
                out.line(format_args!(
                    "  gateway: {} (a gateway's, sent with every auth mode)",
                    for_terminal(&c.gateway_cookies.join(", "))
                ))?;
            }
            out.line(format_args!("  source:  {}", for_terminal(&c.source)))?;
            out.line(format_args!("  saved:   {}", rfc3339(c.saved_at)))?;
            match &c.state {
                ExpiryState::Valid { left } => out.line(format_args!(
                    "  expires: {} (in {})",
                    rfc3339(c.expires_at),
                    format_time_left(*left)
                ))?,
                ExpiryState::ExpiresSoon { left } => out.line(format_args!(
                    "  expires: {} (in {}; soon: import fresh cookies)",
                    rfc3339(c.expires_at),
                    format_time_left(*left)
                ))?,
                other => out.line(format_args!(
                    "  EXPIRED: {}. Sign in with the browser, copy the Cookie header, and import again.",
                    crate::credentials::expiry_reason(other).unwrap_or_default()
                ))?,
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
    out.line(format_args!("API token: {token}"))?;
    if !st.gateway.is_empty() {
        out.line(format_args!(
            "Gateway:   {} (`confluence-tui gateway status` says more)",
            for_terminal(&st.gateway.join(", "))
        ))?;
    }
    if st.site.is_some() {
        out.line(format_args!(
            "Session:   {}",
            super::sites::session_line(st.session.as_ref())
        ))?;
    }
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
    out.line(format_args!(
        "Vault:     {} ({binding})",
        st.vault_path.display()
    ))?;
    if !st.other_sites.is_empty() {
        out.line(format_args!(
            "Other sites with credentials: {} (see `confluence-tui sites`)",
            st.other_sites.join(", ")
        ))?;
    }
    for w in &st.permission_warnings {
        out.line(format_args!("warning: {w}"))?;
    }
    let _ = now;
    Ok(())
}

fn creds_intake(settings: &Settings) -> String {
    settings.paths().intake_file.display().to_string()
}

fn clear(out: &mut Output, creds: &Credentials, all_sites: bool) -> Result<Exit, CliError> {
    let scope = if all_sites {
        SiteScope::All
    } else {
        SiteScope::Configured
    };
    let report = creds.clear_cookies(scope)?;
    let whose = match (all_sites, creds.site()) {
        (false, Some(site)) => format!(" for {site}"),
        _ => " for any site".to_string(),
    };
    match &report.kept_aside {
        Some(p) => out.line(format_args!(
            "The vault could not be read; it was kept aside as {}. Import cookies again to start a new one.",
            p.display()
        ))?,
        None if report.removed == 0 => out.line(format_args!("No cookies were stored{whose}."))?,
        None => out.line(format_args!(
            "Deleted {} stored cookies{whose}.",
            report.removed
        ))?,
    }
    Ok(Exit::Ok)
}
