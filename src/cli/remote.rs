//! `check`, `spaces`, `pages`: the headless face of the worker. Each command
//! sends one query and prints the events as they arrive, so a listing
//! streams to stdout page by page and memory stays flat.

use serde_json::json;

use super::CliError;
use super::output::Output;
use crate::config::{FlagOverrides, Settings};
use crate::confluence::client::TrustedBy;
use crate::exit::{ErrorClass, Exit};
use crate::session::{SessionState, Snapshot};
use crate::text::for_terminal;
use crate::worker::{
    self, Event, Generation, Listing, Query, SettingsSource, WorkerError, WorkerOptions,
};

/// Which remote command to run.
pub(super) enum Remote {
    Check { json: bool, retry: bool },
    Spaces { json: bool, limit: Option<usize> },
    Pages { space_key: String, json: bool },
}

impl Remote {
    fn json(&self) -> bool {
        match self {
            Remote::Check { json, .. }
            | Remote::Spaces { json, .. }
            | Remote::Pages { json, .. } => *json,
        }
    }
}

pub(super) fn run(
    remote: Remote,
    settings: Settings,
    flags: FlagOverrides,
) -> Result<Exit, CliError> {
    let check_json = matches!(remote, Remote::Check { json: true, .. });
    let mut out = Output::stdout();
    // Without a site there is nothing to verify: a configuration error (exit
    // 2) naming the setting, not "authentication needed".
    if let Err(e) = settings.require_base_url() {
        let error = WorkerError::new(ErrorClass::Usage, e.to_string());
        if remote.json() && !check_json {
            // A listing's stdout is a JSON array even when nothing was asked.
            JsonArray::default().close(&mut out);
        }
        return Err(fail(check_json, &mut out, "configuration", &error, None));
    }
    let rt = super::runtime()?;
    rt.block_on(run_query(remote, settings, flags, out))
}

async fn run_query(
    remote: Remote,
    settings: Settings,
    flags: FlagOverrides,
    mut out: Output,
) -> Result<Exit, CliError> {
    let site = settings
        .base_url
        .as_ref()
        .map(|u| u.to_string())
        .unwrap_or_default();
    let opts = WorkerOptions::new(SettingsSource::Environment(flags));
    let mut w = worker::spawn(settings, opts);
    let generation = Generation::default().next();
    let query = match &remote {
        Remote::Check { retry: false, .. } => Query::Verify,
        Remote::Check { retry: true, .. } => Query::VerifyAgain,
        Remote::Spaces { limit, .. } => Query::ListSpaces {
            generation,
            max: *limit,
        },
        Remote::Pages { space_key, .. } => Query::ListPages {
            generation,
            space_key: space_key.clone(),
            space_id: None,
        },
    };
    if !w.query(query) {
        return Err(CliError::Internal("the worker stopped".into()));
    }
    let json = remote.json();
    let check_json = matches!(remote, Remote::Check { json: true, .. });
    let mut listing = JsonArray::default();
    while let Some(ev) = w.events.recv().await {
        match ev {
            Event::Verified { snapshot, problem } => {
                if !matches!(remote, Remote::Check { .. }) {
                    continue;
                }
                if let Some(error) = problem {
                    // Verified or not, the record of it cannot be kept:
                    // the user must fix the audit log (the message says how).
                    return Err(fail(
                        check_json,
                        &mut out,
                        code_for(error.class),
                        &error,
                        None,
                    ));
                }
                if !snapshot.is_signed_in() {
                    return Err(session_failure(check_json, &mut out, &snapshot));
                }
                signed_in(&mut out, json, &site, &snapshot)?;
                return Ok(Exit::Ok);
            }
            Event::Session(_) => {}
            Event::Spaces(g) => {
                if let Some(step) = g.into_current(generation) {
                    let step = listing.step(&mut out, json, step, |s| {
                        format!("{:<12} {:<9} {:<9} {}", s.key, s.kind, s.status, s.name)
                    })?;
                    if let Some(end) = listing.end(&mut out, json, step) {
                        return end;
                    }
                }
            }
            Event::Pages(g) => {
                if let Some(step) = g.into_current(generation) {
                    let step = listing.step(&mut out, json, step, |p| {
                        let v = p.version.map(|v| format!("v{v}")).unwrap_or_default();
                        let at = p.updated_at.as_deref().unwrap_or("-");
                        format!("{:<12} {v:<6} {at:<24} {}", p.id, p.title)
                    })?;
                    if let Some(end) = listing.end(&mut out, json, step) {
                        return end;
                    }
                }
            }
            Event::Waiting(wait) => {
                eprintln_quiet(format_args!(
                    "waiting {:.1} s before attempt {} ({})",
                    wait.wait.as_secs_f64(),
                    wait.next_attempt,
                    wait.reason
                ));
            }
            Event::Failed { error, .. } => {
                return Err(fail(
                    check_json,
                    &mut out,
                    code_for(error.class),
                    &error,
                    None,
                ));
            }
            Event::Site(_)
            | Event::Stored(_)
            | Event::Mutated { .. }
            | Event::SiteProbe { .. }
            | Event::BrowserProfiles(_) => {}
        }
    }
    Err(CliError::Internal(
        "the worker ended without an answer".into(),
    ))
}

/// The one line (or JSON object) of `check` for a signed-in session.
fn signed_in(out: &mut Output, json: bool, site: &str, s: &Snapshot) -> Result<(), CliError> {
    let deployment = s.deployment.map(|d| d.to_string()).unwrap_or_default();
    let mode = s.mode.map(|m| m.to_string()).unwrap_or_default();
    let why = s.why.clone().unwrap_or_default();
    let user = s.user_name().unwrap_or_default();
    if json {
        let now = time::OffsetDateTime::now_utc();
        let v = json!({"ok": true, "site": site, "deployment": deployment,
            "mode": s.mode, "why": why, "user": s.user,
            "state": s.word(now).as_str(),
            "expires_at": s.expires_at.map(crate::credentials::rfc3339),
            "expires_in_secs": s.expires_at.map(|at| (at - now).whole_seconds().max(0)),
            "login_url": Option::<String>::None, "gateway": Option::<String>::None,
            "trusted_by": s.trusted_by});
        out.line(v)?;
    } else {
        // The display name is the server's: shown, never obeyed.
        out.line(format_args!(
            "Signed in to {} ({deployment}) as {} using {mode} auth ({}).",
            for_terminal(site),
            for_terminal(user),
            for_terminal(&why)
        ))?;
    }
    out.flush()?;
    Ok(())
}

fn finish(out: &mut Output, json: bool, total: usize) -> Result<Exit, CliError> {
    out.flush()?;
    if !json {
        eprintln_quiet(format_args!("{total} listed."));
    }
    Ok(Exit::Ok)
}

/// Where a listing stands after one step.
enum Step {
    Going,
    Done(usize),
    Failed(WorkerError),
}

/// A listing's stdout: a JSON array of items (or lines), written as pages
/// arrive; its failure goes to stderr only, never into the array.
#[derive(Default)]
struct JsonArray {
    open: bool,
    items: usize,
}

impl JsonArray {
    /// The command's result once the listing ended, `None` while it goes on.
    fn end(&mut self, out: &mut Output, json: bool, step: Step) -> Option<Result<Exit, CliError>> {
        match step {
            Step::Going => None,
            Step::Done(total) => Some(finish(out, json, total)),
            Step::Failed(error) => {
                // Keep stdout a valid (if partial) JSON array for scripts.
                if json {
                    self.close(out);
                }
                Some(Err(fail(false, out, code_for(error.class), &error, None)))
            }
        }
    }

    /// Prints one step.
    fn step<T: serde::Serialize>(
        &mut self,
        out: &mut Output,
        json: bool,
        step: Listing<T>,
        line: impl Fn(&T) -> String,
    ) -> Result<Step, CliError> {
        match step {
            Listing::Started => {
                if json {
                    out.write_all(b"[")?;
                    self.open = true;
                }
            }
            Listing::Items { items, .. } => {
                for item in &items {
                    if json {
                        if self.items > 0 {
                            out.write_all(b",")?;
                        }
                        let text = serde_json::to_string(item)
                            .map_err(|e| CliError::Internal(e.to_string()))?;
                        out.write_all(text.as_bytes())?;
                    } else {
                        // Names and titles are the server's: escaped on the
                        // human line, exact in JSON.
                        out.line(for_terminal(&line(item)))?;
                    }
                    self.items += 1;
                }
                out.flush()?;
            }
            Listing::Done { total } => {
                if json {
                    out.write_all(b"]\n")?;
                    self.open = false;
                }
                return Ok(Step::Done(total));
            }
            Listing::Failed(error) => return Ok(Step::Failed(error)),
        }
        Ok(Step::Going)
    }

    /// Closes an array a failure interrupted, or prints an empty one when
    /// the failure came first (best effort: we are failing anyway).
    fn close(&mut self, out: &mut Output) {
        let text: &[u8] = if self.open { b"]\n" } else { b"[]\n" };
        let _ = out.write_all(text);
        let _ = out.flush();
        self.open = false;
    }
}

/// The stable reason code of `check --json` for a failure class.
fn code_for(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::Usage => "configuration",
        ErrorClass::Auth => "auth_failed",
        ErrorClass::Captcha => "captcha",
        ErrorClass::Network => "network",
        ErrorClass::Vault => "vault_unreadable",
        // `exec` alone starts programs; a query never fails so.
        ErrorClass::Internal | ErrorClass::ProgramNotExecutable | ErrorClass::ProgramNotFound => {
            "internal"
        }
    }
}

/// The session state word of `check --json` for a failure's reason code.
fn state_for(code: &str) -> &'static str {
    match code {
        "session_expired" | "auth_failed" => "expired",
        "captcha" => "captcha",
        "gateway" => "gateway",
        "network" | "internal" => "unreachable",
        _ => "no_credentials",
    }
}

/// A session that is not signed in, as a failure with what to do next.
fn session_failure(json: bool, out: &mut Output, s: &Snapshot) -> CliError {
    let (code, error, login_url, gateway) = match &s.state {
        SessionState::SignedIn | SessionState::Checking => {
            return CliError::Internal("the verification ended without an answer".into());
        }
        SessionState::NoCredentials { message } => (
            "not_configured",
            WorkerError::new(ErrorClass::Auth, message.clone()),
            None,
            None,
        ),
        SessionState::Expired { reason, status } => {
            let message = format!(
                "the session has expired: {reason}. Sign in with the browser, copy the Cookie header, then run `confluence-tui cookies import -` (or press p in the app){}",
                status.map(|s| format!(" [HTTP {s}]")).unwrap_or_default()
            );
            (
                "session_expired",
                WorkerError::new(ErrorClass::Auth, message),
                None,
                None,
            )
        }
        SessionState::Captcha { login_url, status } => {
            let at = login_url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default();
            let status = status.map(|s| format!(" [HTTP {s}]")).unwrap_or_default();
            let message = format!(
                "the site demands a CAPTCHA{status}: sign in through the browser{at}, solve it, then paste fresh cookies (`confluence-tui cookies import -`). Retrying would make it worse."
            );
            (
                "captcha",
                WorkerError::new(ErrorClass::Captcha, message),
                login_url.clone(),
                None,
            )
        }
        SessionState::Gateway {
            gateway, login_url, ..
        } => (
            "gateway",
            WorkerError::new(
                ErrorClass::Auth,
                crate::session::gateway_message(gateway, login_url.as_deref()),
            ),
            login_url.clone(),
            Some(gateway.as_str()),
        ),
        SessionState::Rejected { reason, .. } => (
            "auth_failed",
            WorkerError::new(
                ErrorClass::Auth,
                format!(
                    "{reason}; make a new API token (or personal access token) and store it with `confluence-tui token set`, or import fresh cookies"
                ),
            ),
            None,
            None,
        ),
        SessionState::Unreachable { reason } => (
            "network",
            WorkerError::new(ErrorClass::Network, reason.clone()),
            None,
            None,
        ),
        SessionState::Failed { class, message } => (
            code_for(*class),
            WorkerError::new(*class, message.clone()),
            None,
            None,
        ),
    };
    let details = Details {
        login_url,
        gateway,
        trusted_by: s.trusted_by,
    };
    fail_with(json, out, code, &error, details)
}

/// What `check --json` says of a failure beside its reason.
#[derive(Default)]
struct Details {
    /// Where to sign in again (a CAPTCHA's, a gateway's).
    login_url: Option<String>,
    /// The gateway that wants its own sign-in.
    gateway: Option<&'static str>,
    /// Which roots verified the site.
    trusted_by: Option<TrustedBy>,
}

/// Prints a failure (as JSON on stdout for `check --json`) and makes the error.
fn fail(
    json: bool,
    out: &mut Output,
    code: &str,
    error: &WorkerError,
    login_url: Option<String>,
) -> CliError {
    let details = Details {
        login_url,
        ..Details::default()
    };
    fail_with(json, out, code, error, details)
}

fn fail_with(
    json: bool,
    out: &mut Output,
    code: &str,
    error: &WorkerError,
    details: Details,
) -> CliError {
    if json {
        let v = json!({"ok": false, "state": state_for(code), "reason": code,
            "message": error.message, "login_url": details.login_url,
            "gateway": details.gateway, "trusted_by": details.trusted_by,
            "expires_at": Option::<String>::None, "expires_in_secs": Option::<i64>::None});
        if let Err(e) = out.line(v).and_then(|()| out.flush()) {
            return e.into();
        }
    }
    CliError::Remote {
        message: error.message.clone(),
        class: error.class,
        printed: json,
    }
}

/// Progress on stderr, escaped like every human line; a closed stderr is not
/// worth failing the command for.
fn eprintln_quiet(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{}", for_terminal(&args.to_string()));
}
