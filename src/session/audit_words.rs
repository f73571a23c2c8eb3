//! The audit records of the session and its faces, worded in one place.

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::confluence::client::AuthMode;

/// A verification that succeeded.
pub(crate) fn session_verified(display_name: &str, mode: AuthMode) -> AuditEntry {
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
pub(crate) fn credentials_rejected(mode: AuthMode, status: u16) -> AuditEntry {
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
pub(crate) fn answered_anonymous(mode: AuthMode) -> AuditEntry {
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

/// Where a CAPTCHA said to sign in, as the client left it.
pub(crate) struct CaptchaSeen {
    /// On the site's own origin (or the site's login page).
    pub login_url: Option<String>,
    /// The response named an off-site login URL, which was dropped.
    pub off_site_login_ignored: bool,
}

/// The session died (`captcha` none) or a CAPTCHA blocks it.
pub(crate) fn session_lost(
    mode: AuthMode,
    reason: &str,
    status: Option<u16>,
    captcha: Option<CaptchaSeen>,
) -> AuditEntry {
    let (reason, login_url) = match captcha.as_ref() {
        Some(c) if c.off_site_login_ignored => (
            format!("{reason}; off-site login URL ignored"),
            c.login_url.clone(),
        ),
        Some(c) => (reason.to_string(), c.login_url.clone()),
        None => (reason.to_string(), None),
    };
    let (event, outcome, message) = if captcha.is_some() {
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
        reason: Some(reason),
        login_url,
        ..Default::default()
    })
}

/// The proxy started forwarding to `site` (never its token).
pub(crate) fn proxy_started(site: &str, listen: &str, mode: AuthMode, writes: bool) -> AuditEntry {
    let access = if writes { "read-write" } else { "read-only" };
    AuditEntry::new(
        AuditEvent::ProxyStarted,
        AuditOutcome::Info,
        format!("Proxy started on {listen} for {site} ({mode} auth, {access})"),
    )
    .details(AuditDetails {
        mode: Some(mode.to_string()),
        site: Some(site.to_string()),
        ..Default::default()
    })
}

/// The proxy stopped after `requests` requests.
pub(crate) fn proxy_stopped(site: &str, listen: &str, requests: u64) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::ProxyStopped,
        AuditOutcome::Info,
        format!("Proxy on {listen} for {site} stopped after {requests} request(s)"),
    )
    .details(AuditDetails {
        count: Some(usize::try_from(requests).unwrap_or(usize::MAX)),
        site: Some(site.to_string()),
        ..Default::default()
    })
}

/// First-run setup wrote settings to a `.env` file: their names and the
/// file, never their values.
pub(crate) fn settings_written(names: &[&str], path: &std::path::Path, site: &str) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::SettingsWritten,
        AuditOutcome::Success,
        format!("Setup wrote {} to {}", names.join(", "), path.display()),
    )
    .details(AuditDetails {
        names: Some(names.iter().map(|n| n.to_string()).collect()),
        path: Some(path.display().to_string()),
        site: Some(site.to_string()),
        ..Default::default()
    })
}

/// A session found dead (expired, a CAPTCHA, a refused token) was accepted
/// again by the site at a verification: the mark is gone.
pub(crate) fn session_restored(display_name: &str, mode: AuthMode, was: &str) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::SessionRestored,
        AuditOutcome::Success,
        format!("The site accepts the {mode} credentials again (they were {was}); signed in as {display_name}"),
    )
    .details(AuditDetails {
        user: Some(display_name.to_string()),
        mode: Some(mode.to_string()),
        reason: Some(was.to_string()),
        ..Default::default()
    })
}

/// Cookies read from `source` were refused by the site before they were
/// stored; `kept` says whether a working stored session stays in force.
pub(crate) fn cookies_refused(
    names: Vec<String>,
    source: &str,
    reason: &str,
    status: Option<u16>,
    kept: bool,
) -> AuditEntry {
    let what = if kept {
        "the stored session still works and was kept"
    } else {
        "nothing was stored"
    };
    AuditEntry::new(
        AuditEvent::CookiesRefused,
        AuditOutcome::Failure,
        format!("The site refused the cookies from {source} ({reason}); {what}"),
    )
    .details(AuditDetails {
        count: Some(names.len()),
        names: Some(names),
        source: Some(source.to_string()),
        reason: Some(reason.to_string()),
        http_status: status,
        ..Default::default()
    })
}

/// A gateway in front of the site wants its own sign-in (Confluence's own
/// credentials were not judged).
pub(crate) fn gateway_sign_in(
    gateway: &crate::confluence::classify::Gateway,
    login_url: Option<String>,
    status: u16,
) -> AuditEntry {
    AuditEntry::new(
        AuditEvent::GatewaySignIn,
        AuditOutcome::Warning,
        format!(
            "{gateway} in front of the site wants a sign-in; Confluence's credentials are kept"
        ),
    )
    .details(AuditDetails {
        http_status: Some(status),
        reason: Some(gateway.as_str().to_string()),
        login_url,
        ..Default::default()
    })
}
