//! The session as the long-running faces see it (`watch`, the proxy): its
//! state after each verification, the keep-alive loop that verifies it
//! every interval and notices fresh credentials in the vault, and the
//! notify command run when the user must act.

mod browser_watch;
pub mod keepalive;
pub mod notify;
mod vault_watch;

use time::OffsetDateTime;

use crate::worker::SessionInfo;

pub use browser_watch::BrowserWatchError;
pub(crate) use browser_watch::watch_browser;
pub use keepalive::{
    FirstCheck, KeepAlive, KeepAliveError, KeepAliveEvent, KeepAliveOptions, SessionObserver,
};
pub use notify::Notifier;
pub(crate) use vault_watch::watch_vault;

/// What one verification (or a request that failed) said about the
/// session, as `watch` prints it and the notify command receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionView {
    /// `signed_in`, `expiring`, `expired`, `captcha`, `unreachable` or
    /// `no_credentials` (see [`SessionInfo::state_word`]).
    pub state: &'static str,
    /// Why, in words (the server's words may be in it: escape before
    /// printing to a terminal).
    pub reason: Option<String>,
    /// The signed-in user's display name.
    pub user: Option<String>,
    /// When the stored cookies expire (cookie sessions).
    pub expires_at: Option<OffsetDateTime>,
    /// Where to sign in (after a CAPTCHA).
    pub login_url: Option<String>,
    /// The HTTP status that said the session died or demanded a CAPTCHA.
    pub status: Option<u16>,
}

impl SessionView {
    /// The view of `info` at `now`.
    pub fn of(info: &SessionInfo, now: OffsetDateTime) -> SessionView {
        let state = info.state_word(now);
        let status = match info {
            SessionInfo::Expired { status, .. } => *status,
            SessionInfo::Captcha { status, .. } => Some(*status),
            _ => None,
        };
        let (reason, user, expires_at, login_url) = match info {
            SessionInfo::SignedIn {
                user, expires_at, ..
            } => (None, Some(user.display_name.clone()), *expires_at, None),
            SessionInfo::NotConfigured { message } => (Some(message.clone()), None, None, None),
            SessionInfo::Expired { reason, .. } => (Some(reason.clone()), None, None, None),
            SessionInfo::Captcha { login_url, .. } => (
                Some("CAPTCHA challenge: sign in through the browser".into()),
                None,
                None,
                login_url.clone(),
            ),
            SessionInfo::Failed { error } => (Some(error.message.clone()), None, None, None),
        };
        SessionView {
            state,
            reason,
            user,
            expires_at,
            login_url,
            status,
        }
    }

    /// The user must act: the notify command runs.
    pub fn needs_user(&self) -> bool {
        matches!(self.state, "expired" | "captcha" | "expiring")
    }

    /// Verifying again cannot help until fresh credentials are stored.
    pub fn waits_for_credentials(&self) -> bool {
        matches!(self.state, "expired" | "captcha" | "no_credentials")
    }

    /// Whether `other` is a different state for the reader (a new reason for
    /// the same failure is not worth a line).
    pub fn differs(&self, other: &SessionView) -> bool {
        self.state != other.state || self.user != other.user || self.login_url != other.login_url
    }
}
