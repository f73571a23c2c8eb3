//! `check`, `spaces`, `pages`: the headless face of the worker. Each command
//! sends one `Command` and prints the `Event`s as they arrive, so a listing
//! streams to stdout page by page and memory stays flat.

use std::io::{BufWriter, Write};

use serde_json::json;

use super::CliError;
use crate::config::{FlagOverrides, Settings};
use crate::confluence::client::RetryPolicy;
use crate::exit::Exit;
use crate::vault::MachineIdSource;
use crate::worker::{self, Command, ErrorClass, Event, WorkerOptions};

/// Which remote command to run.
pub(super) enum Remote {
    Check { json: bool },
    Spaces { json: bool, limit: Option<usize> },
    Pages { space_key: String, json: bool },
}

pub(super) fn run(
    remote: Remote,
    settings: Settings,
    flags: FlagOverrides,
) -> Result<Exit, CliError> {
    // Without a site there is nothing to verify: a configuration error (exit
    // 2) naming the setting, not "authentication needed".
    if let Err(e) = settings.require_base_url() {
        let check_json = matches!(remote, Remote::Check { json: true });
        let mut out = std::io::stdout().lock();
        return Err(fail(
            check_json,
            &mut out,
            "configuration",
            &e.to_string(),
            None,
            Exit::Usage,
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async move {
        let opts = WorkerOptions { flags, machine_id: MachineIdSource::System, retry: RetryPolicy::default() };
        let site = settings.base_url.as_ref().map(|u| u.to_string()).unwrap_or_default();
        let mut w = worker::spawn(settings, opts);
        let cmd = match &remote {
            Remote::Check { .. } => Command::Verify,
            Remote::Spaces { limit, .. } => Command::ListSpaces { max: *limit },
            Remote::Pages { space_key, .. } => Command::ListPages { space_key: space_key.clone(), space_id: None },
        };
        w.commands.send(cmd).map_err(|_| CliError::Internal("the worker stopped".into()))?;
        let json = matches!(remote, Remote::Check { json: true } | Remote::Spaces { json: true, .. } | Remote::Pages { json: true, .. });
        // A listing's stdout is a JSON array of items; its failure goes to
        // stderr only, never as an object inside the array.
        let check_json = matches!(remote, Remote::Check { json: true });
        let mut out = BufWriter::new(std::io::stdout().lock());
        let mut first = true;
        let mut listing = false;
        let mut result = Err(CliError::Internal("the worker ended without an answer".into()));
        while let Some(ev) = w.events.recv().await {
            match ev {
                Event::Verified { user, mode, why, deployment } => {
                    if json {
                        let v = json!({"ok": true, "site": site, "deployment": deployment.to_string(), "mode": mode, "why": why, "user": user});
                        let _ = writeln!(out, "{v}");
                    } else {
                        let _ = writeln!(out, "Signed in to {site} ({deployment}) as {} using {mode} auth ({why}).", user.display_name);
                    }
                    result = Ok(Exit::Ok);
                    break;
                }
                Event::SpacesStarted { .. } | Event::PagesStarted { .. } => {
                    listing = true;
                    if json {
                        let _ = out.write_all(b"[");
                    }
                }
                Event::SpacesPage { spaces, .. } => {
                    for s in &spaces {
                        if json {
                            write_json_item(&mut out, &mut first, s);
                        } else {
                            let _ = writeln!(out, "{:<12} {:<9} {:<9} {}", s.key, s.kind, s.status, s.name);
                        }
                    }
                    let _ = out.flush();
                }
                Event::PagesPage { pages, .. } => {
                    for p in &pages {
                        if json {
                            write_json_item(&mut out, &mut first, p);
                        } else {
                            let v = p.version.map(|v| format!("v{v}")).unwrap_or_default();
                            let _ = writeln!(out, "{:<12} {:<6} {:<24} {}", p.id, v, p.updated_at.as_deref().unwrap_or("-"), p.title);
                        }
                    }
                    let _ = out.flush();
                }
                Event::SpacesDone { total, .. } | Event::PagesDone { total, .. } => {
                    if json {
                        let _ = out.write_all(b"]\n");
                    } else {
                        eprintln!("{total} listed.");
                    }
                    result = Ok(Exit::Ok);
                    break;
                }
                Event::Waiting { wait, next_attempt, reason, .. } => {
                    eprintln!("waiting {:.1} s before attempt {next_attempt} ({reason:?})", wait.as_secs_f64());
                }
                Event::NotConfigured { message } => {
                    result = Err(fail(check_json, &mut out, "not_configured", &message, None, Exit::AuthNeeded));
                    break;
                }
                Event::SessionExpired { reason, status } => {
                    let msg = format!(
                        "the session has expired: {reason}. Sign in with the browser, copy the Cookie header, then run `confluence-tui cookies import -` (or press p in the app){}",
                        status.map(|s| format!(" [HTTP {s}]")).unwrap_or_default()
                    );
                    result = Err(fail(check_json, &mut out, "session_expired", &msg, None, Exit::AuthNeeded));
                    break;
                }
                Event::Captcha { login_url, status } => {
                    let at = login_url.as_deref().map(|u| format!(" at {u}")).unwrap_or_default();
                    let msg = format!("the site demands a CAPTCHA [HTTP {status}]: sign in through the browser{at}, solve it, then paste fresh cookies (`confluence-tui cookies import -`). Retrying would make it worse.");
                    result = Err(fail(check_json, &mut out, "captcha", &msg, login_url, Exit::Captcha));
                    break;
                }
                Event::Error { class, message, .. } => {
                    let (code, exit) = match class {
                        ErrorClass::Config => ("configuration", Exit::Usage),
                        ErrorClass::Auth => ("auth_failed", Exit::AuthNeeded),
                        ErrorClass::Captcha => ("captcha", Exit::Captcha),
                        ErrorClass::Network => ("network", Exit::Network),
                        ErrorClass::Vault => ("vault_unreadable", Exit::Vault),
                        ErrorClass::Internal => ("internal", Exit::Internal),
                        ErrorClass::NotFound => ("not_found", Exit::Usage),
                    };
                    result = Err(fail(check_json, &mut out, code, &message, None, exit));
                    break;
                }
                Event::CookiesImported { .. } | Event::CookiesCleared { .. } | Event::TokenStored | Event::SettingsReloaded { .. } | Event::Described { .. } => {}
            }
        }
        if listing && json && result.is_err() {
            // Keep stdout a valid (if partial) JSON array for scripts.
            let _ = out.write_all(b"]\n");
        }
        let _ = out.flush();
        result
    })
}

fn write_json_item<T: serde::Serialize>(out: &mut impl Write, first: &mut bool, item: &T) {
    if !*first {
        let _ = out.write_all(b",");
    }
    *first = false;
    let _ = serde_json::to_writer(&mut *out, item);
}

/// Prints a failure (as JSON on stdout for `check --json`) and makes the error.
fn fail(
    json: bool,
    out: &mut impl Write,
    code: &str,
    message: &str,
    login_url: Option<String>,
    exit: Exit,
) -> CliError {
    if json {
        let v = json!({"ok": false, "reason": code, "message": message, "login_url": login_url});
        let _ = writeln!(out, "{v}");
    }
    CliError::Remote {
        message: message.to_string(),
        exit,
        printed: json,
    }
}
