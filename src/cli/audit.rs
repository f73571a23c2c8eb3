//! `audit [--json] [--verify]`.

use std::fmt::Write as _;

use super::CliError;
use crate::audit::{AuditDetails, AuditLog, AuditRecord};
use crate::config::Settings;
use crate::credentials::rfc3339;
use crate::exit::Exit;

pub(super) fn run(settings: &Settings, json: bool, verify: bool) -> Result<Exit, CliError> {
    let log = AuditLog::new(settings.paths().audit_log);
    if verify {
        let report = log
            .verify()
            .map_err(|e| CliError::Internal(e.to_string()))?;
        // The report words itself (audit::ChainReport's Display); only the
        // exit code is decided here.
        println!("{report}");
        return Ok(if report.is_ok() {
            Exit::Ok
        } else {
            Exit::Internal
        });
    }
    let records = log
        .read_all()
        .map_err(|e| CliError::Internal(e.to_string()))?;
    for r in &records {
        if json {
            let line = serde_json::to_string(r).map_err(|e| CliError::Internal(e.to_string()))?;
            println!("{line}");
        } else {
            println!("{}", format_record(r));
        }
    }
    if records.is_empty() && !json {
        println!("(no audit records yet in {})", log.path().display());
    }
    Ok(Exit::Ok)
}

/// One readable line: time, sequence, event, outcome, message, details.
pub fn format_record(r: &AuditRecord) -> String {
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
    s
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
