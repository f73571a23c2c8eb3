//! The audit records the worker writes, worded in one place.

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::confluence::client::AuthMode;

/// A verification that succeeded.
pub(super) fn session_verified(display_name: &str, mode: AuthMode) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::SessionVerified,
        AuditOutcome::Success,
        format!("Signed in as {display_name} ({mode} auth)"),
    )
    .details(AuditDetails {
        user: Some(display_name.to_string()),
        mode: Some(mode.to_string()),
        ..Default::default()
    })
}

/// The site refused the credentials outright.
pub(super) fn credentials_rejected(mode: AuthMode, status: u16) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::CredentialsRejected,
        AuditOutcome::Failure,
        format!("The site rejected the {mode} credentials"),
    )
    .details(AuditDetails {
        http_status: Some(status),
        mode: Some(mode.to_string()),
        ..Default::default()
    })
}

/// The site answered as if nobody were signed in.
pub(super) fn answered_anonymous(mode: AuthMode) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::CredentialsRejected,
        AuditOutcome::Failure,
        format!("The site answered as anonymous: the {mode} credentials were not accepted"),
    )
    .details(AuditDetails {
        http_status: Some(200),
        mode: Some(mode.to_string()),
        reason: Some("anonymous".into()),
        ..Default::default()
    })
}

/// The session died (`captcha` false) or a CAPTCHA blocks it.
pub(super) fn session_lost(
    mode: AuthMode,
    reason: &str,
    status: Option<u16>,
    captcha: bool,
    login_url: Option<String>,
) -> AuditEntry {
    let (event, outcome, message) = if captcha {
        (
            AuditEvent::CaptchaChallenge,
            AuditOutcome::Failure,
            "The site demands a CAPTCHA; sign in through the browser, then paste fresh cookies"
                .to_string(),
        )
    } else {
        (
            AuditEvent::SessionExpired,
            AuditOutcome::Warning,
            format!("Session expired: {reason}"),
        )
    };
    AuditEntry::new(event, outcome, message).details(AuditDetails {
        http_status: status,
        mode: Some(mode.to_string()),
        reason: Some(reason.to_string()),
        login_url,
        ..Default::default()
    })
}
