//! `sites [--json]`: every site that has credentials in the vault, with its
//! state. Never a value.

use serde_json::json;
use time::OffsetDateTime;

use super::CliError;
use super::output::Output;
use crate::config::Settings;
use crate::cookies::jar::{ExpiryState, format_time_left};
use crate::credentials::{Credentials, SiteSummary, expiry_reason, rfc3339};
use crate::exit::Exit;
use crate::text::for_terminal;
use crate::vault::StoredSession;

pub(super) fn run(out: &mut Output, settings: &Settings, json: bool) -> Result<Exit, CliError> {
    let creds = Credentials::open(settings);
    let now = OffsetDateTime::now_utc();
    let sites = creds.sites(now)?;
    if json {
        let list: Vec<serde_json::Value> = sites.iter().map(site_json).collect();
        out.line(serde_json::Value::Array(list))?;
        return Ok(Exit::Ok);
    }
    if sites.is_empty() {
        out.line("No site has credentials in the vault.")?;
    }
    for s in &sites {
        print_site(out, s)?;
    }
    if let Some(site) = creds.site()
        && !sites.iter().any(|s| s.configured)
    {
        out.line(format_args!(
            "The configured site {site} has no credentials in the vault."
        ))?;
    }
    Ok(Exit::Ok)
}

fn expired(state: &ExpiryState) -> bool {
    !matches!(
        state,
        ExpiryState::Valid { .. } | ExpiryState::ExpiresSoon { .. }
    )
}

fn site_json(s: &SiteSummary) -> serde_json::Value {
    let cookies = s.cookies.as_ref().map(|c| {
        json!({
            "count": c.names.len(),
            "names": c.names,
            "session_cookie": !c.session_cookies.is_empty(),
            "saved_at": rfc3339(c.saved_at),
            "expires_at": rfc3339(c.expires_at),
            "expired": expired(&c.state),
            "expired_reason": expiry_reason(&c.state),
        })
    });
    json!({
        "site": s.site,
        "configured": s.configured,
        "cookies": cookies,
        "token_stored": s.token_stored,
        "token_saved_at": s.token_saved_at.map(rfc3339),
        "session": session_json(s.session.as_ref()),
    })
}

/// The recorded session state: `{state, reason, login_url}`, or null when
/// the site was never verified.
pub(super) fn session_json(s: Option<&StoredSession>) -> serde_json::Value {
    match s {
        None => serde_json::Value::Null,
        Some(s) => json!({
            "state": s.word(),
            "reason": s.reason(),
            "login_url": s.login_url(),
        }),
    }
}

/// One line for people: the recorded session state and what to do about it.
pub(super) fn session_line(s: Option<&StoredSession>) -> String {
    match s {
        None => "not verified yet".to_string(),
        Some(StoredSession::SignedIn) => "signed in at the last verification".to_string(),
        Some(StoredSession::Expiring) => {
            "signed in, expiring within 24 h: import fresh cookies soon".to_string()
        }
        Some(StoredSession::Expired { reason }) => format!(
            "EXPIRED ({}): sign in with the browser and import fresh cookies",
            for_terminal(reason)
        ),
        Some(StoredSession::Captcha { login_url, .. }) => format!(
            "CAPTCHA: sign in through the browser{}, then import fresh cookies (`check --retry` asks again)",
            login_url
                .as_deref()
                .map(|u| format!(" at {}", for_terminal(u)))
                .unwrap_or_default()
        ),
        Some(StoredSession::Gateway {
            gateway,
            host,
            login_url,
        }) => format!(
            "GATEWAY SIGN-IN: {} wants you to sign in{}, then import its cookie (`check --retry` asks again)",
            crate::confluence::classify::Gateway::from_name(gateway, host.as_deref()),
            login_url
                .as_deref()
                .map(|u| format!(" at {}", for_terminal(u)))
                .unwrap_or_default()
        ),
    }
}

fn print_site(out: &mut Output, s: &SiteSummary) -> Result<(), CliError> {
    match (&s.site, s.configured) {
        (Some(site), true) => out.line(format_args!("{site} (configured)"))?,
        (Some(site), false) => out.line(site)?,
        (None, _) => out.line(
            "(a vault from before sites: bound to the site configured when it is next used)",
        )?,
    }
    match &s.cookies {
        None => out.line("  cookies: none")?,
        Some(c) => {
            let session = if c.session_cookies.is_empty() {
                "no session cookie".to_string()
            } else {
                format!("session cookie {}", c.session_cookies.join(", "))
            };
            let when = match &c.state {
                ExpiryState::Valid { left } | ExpiryState::ExpiresSoon { left } => format!(
                    "expires {} (in {})",
                    rfc3339(c.expires_at),
                    format_time_left(*left)
                ),
                other => format!("EXPIRED: {}", expiry_reason(other).unwrap_or_default()),
            };
            out.line(format_args!(
                "  cookies: {} stored, {session}; {when}",
                c.names.len()
            ))?;
        }
    }
    out.line(format_args!(
        "  token:   {}",
        if s.token_stored { "stored" } else { "none" }
    ))?;
    out.line(format_args!(
        "  session: {}",
        session_line(s.session.as_ref())
    ))?;
    Ok(())
}
