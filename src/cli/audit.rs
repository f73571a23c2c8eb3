//! `audit [--json] [--verify]`.

use std::fmt::Write as _;

use super::CliError;
use super::output::Output;
use crate::audit::{AuditDetails, AuditLog, AuditRecord};
use crate::config::Settings;
use crate::credentials::{Credentials, rfc3339};
use crate::exit::{ErrorClass, Exit};
use crate::text::for_terminal;

pub(super) fn run(
    out: &mut Output,
    settings: &Settings,
    json: bool,
    verify: bool,
) -> Result<Exit, CliError> {
    let log = AuditLog::new(settings.paths().audit_log).with_lock_timeout(settings.lock_timeout);
    if verify {
        let report = log.verify()?;
        // The report words itself (audit::ChainReport's Display); it may
        // quote the log, so it is escaped like any text read back from it.
        out.line(for_terminal(&report.to_string()))?;
        if !report.is_ok() {
            // A broken chain is exit 1 by contract: an internal error whose
            // explanation is the report just printed.
            return Err(CliError::Answered {
                message: report.to_string(),
                class: ErrorClass::Internal,
            });
        }
        return verify_head(out, settings, &log);
    }
    let records = log.read_all()?;
    for r in &records {
        if json {
            let line = serde_json::to_string(r).map_err(|e| {
                CliError::Internal(format!("cannot encode audit record {}: {e}", r.seq))
            })?;
            out.line(line)?;
        } else {
            out.line(format_record(r))?;
        }
    }
    if records.is_empty() && !json {
        out.line(format_args!(
            "(no audit records yet in {})",
            for_terminal(&log.path().display().to_string())
        ))?;
    }
    Ok(Exit::Ok)
}

/// The chain is intact; does the log still reach the head stored in the
/// vault at its last write? Records cut off the end leave no break in the
/// chain, only a log shorter than that head.
fn verify_head(out: &mut Output, settings: &Settings, log: &AuditLog) -> Result<Exit, CliError> {
    if !settings.paths().vault_file.exists() {
        return Ok(Exit::Ok);
    }
    let head = match Credentials::open(settings).stored_audit_head() {
        Ok(Some(head)) => head,
        // A vault written before heads were stored (or by no write at all).
        Ok(None) => return Ok(Exit::Ok),
        Err(e) => {
            out.line(format_args!(
                "note: the vault could not be read ({}), so records cut off the end of the log cannot be checked",
                e.reason_code()
            ))?;
            return Ok(Exit::Ok);
        }
    };
    let check = log.check_head(&head)?;
    if check.is_ok() {
        out.line(format_args!(
            "The log reaches record {}, the last one written before the vault's last write.",
            head.seq
        ))?;
        return Ok(Exit::Ok);
    }
    out.line(&check)?;
    Err(CliError::Answered {
        message: check.to_string(),
        class: ErrorClass::Internal,
    })
}

/// One readable line: time, sequence, event, outcome, message, details.
/// Messages and details may hold server text (a display name, a login URL)
/// or anything a tampered log holds: the line is escaped for the terminal
/// (`text::for_terminal`); `--json` keeps the exact values.
pub(crate) fn format_record(r: &AuditRecord) -> String {
    let mut s = format!(
        "{}  #{:<5} {:<24} {:<8} {}",
        rfc3339(r.time),
        r.seq,
        r.event.to_string(),
        r.outcome.to_string(),
        r.message
    );
    let d = details_text(&r.details);
    if !d.is_empty() {
        let _ = write!(s, "  [{d}]");
    }
    for_terminal(&s).into_owned()
}

fn details_text(d: &AuditDetails) -> String {
    let mut parts = Vec::new();
    if let Some(v) = d.count {
        parts.push(format!("count={v}"));
    }
    if let Some(v) = &d.names {
        parts.push(format!("names={}", v.join(",")));
    }
    let text_fields = [
        ("source", &d.source),
        ("format", &d.format),
        ("reason", &d.reason),
        ("mode", &d.mode),
        ("user", &d.user),
        ("expires_at", &d.expires_at),
        ("login_url", &d.login_url),
        ("path", &d.path),
        ("kept_at", &d.kept_at),
        ("site", &d.site),
        ("program", &d.program),
    ];
    for (k, v) in text_fields {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if let Some(v) = d.http_status {
        parts.push(format!("http_status={v}"));
    }
    parts.join(" ")
}
