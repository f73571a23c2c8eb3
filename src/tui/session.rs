//! What the header and the status screen know about the session: site,
//! mode, user, stored credentials, and the state behind the colour badge.

use time::OffsetDateTime;

use crate::cookies::jar::{EXPIRES_SOON_THRESHOLD, ExpiryState};
use crate::credentials::CookieStatus;
use crate::worker::Event;

/// The session's state as last reported by the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Settings or credentials missing: what and where.
    NotConfigured {
        message: String,
    },
    /// Verification under way (or not yet done).
    Checking,
    SignedIn,
    /// The cookie session died: the reason and the HTTP status.
    Expired {
        reason: String,
        status: Option<u16>,
    },
    Captcha {
        login_url: Option<String>,
        status: u16,
    },
    /// Token refused, anonymous, or another error.
    Failed {
        message: String,
    },
}

/// The header's colour badge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Badge {
    SignedIn,
    ExpiresSoon,
    Expired,
    Captcha,
    NotConfigured,
    Checking,
    Failed,
}

impl Badge {
    pub fn label(self) -> &'static str {
        match self {
            Badge::SignedIn => "SIGNED IN",
            Badge::ExpiresSoon => "EXPIRES SOON",
            Badge::Expired => "EXPIRED",
            Badge::Captcha => "CAPTCHA",
            Badge::NotConfigured => "NOT CONFIGURED",
            Badge::Checking => "CHECKING",
            Badge::Failed => "NOT SIGNED IN",
        }
    }
}

/// Everything known about the session, updated from worker events.
#[derive(Clone, Debug)]
pub struct SessionView {
    pub site: Option<String>,
    pub deployment: Option<String>,
    /// The page `o` opens: the site's login page (or a CAPTCHA's login URL).
    pub login_page: Option<String>,
    /// The settings file looked for (shown in guidance).
    pub env_file: String,
    pub mode: Option<&'static str>,
    pub why: Option<String>,
    pub user: Option<String>,
    pub last_verified: Option<OffsetDateTime>,
    pub state: SessionState,
    /// What the vault holds, from the last `Describe`.
    pub stored: Option<CookieStatus>,
    pub token_in_environment: bool,
}

impl SessionView {
    /// A view before anything was checked.
    pub fn new(
        site: Option<String>,
        deployment: Option<String>,
        login_page: Option<String>,
        env_file: String,
    ) -> SessionView {
        let state = if site.is_none() {
            SessionState::NotConfigured {
                message: format!(
                    "CONFLUENCE_BASE_URL is not set: put it in {env_file} or export it"
                ),
            }
        } else {
            SessionState::Checking
        };
        SessionView {
            site,
            deployment,
            login_page,
            env_file,
            mode: None,
            why: None,
            user: None,
            last_verified: None,
            state,
            stored: None,
            token_in_environment: false,
        }
    }

    pub fn is_signed_in(&self) -> bool {
        self.state == SessionState::SignedIn
    }

    /// Listing makes sense only with a site and some credential.
    pub fn can_list(&self) -> bool {
        self.site.is_some() && !matches!(self.state, SessionState::NotConfigured { .. })
    }

    /// The URL `o` opens on the status screen.
    pub fn login_url(&self) -> Option<String> {
        match &self.state {
            SessionState::Captcha {
                login_url: Some(u), ..
            } => Some(u.clone()),
            _ => self.login_page.clone().or_else(|| self.site.clone()),
        }
    }

    /// The stored cookies' expiry state, if any are stored.
    pub fn cookie_state(&self, now: OffsetDateTime) -> Option<ExpiryState> {
        let c = self.stored.as_ref()?.cookies.as_ref()?;
        Some(match &c.state {
            ExpiryState::MarkedExpired { reason } => ExpiryState::MarkedExpired {
                reason: reason.clone(),
            },
            _ => {
                let left = c.expires_at - now;
                if left <= time::Duration::ZERO {
                    ExpiryState::ExpiredByAge
                } else if left < EXPIRES_SOON_THRESHOLD {
                    ExpiryState::ExpiresSoon { left }
                } else {
                    ExpiryState::Valid { left }
                }
            }
        })
    }

    /// The badge for the header.
    pub fn badge(&self, now: OffsetDateTime) -> Badge {
        match &self.state {
            SessionState::NotConfigured { .. } => Badge::NotConfigured,
            SessionState::Checking => Badge::Checking,
            SessionState::Expired { .. } => Badge::Expired,
            SessionState::Captcha { .. } => Badge::Captcha,
            SessionState::Failed { .. } => Badge::Failed,
            SessionState::SignedIn => match (self.mode, self.cookie_state(now)) {
                (Some("cookie"), Some(ExpiryState::ExpiresSoon { .. })) => Badge::ExpiresSoon,
                (
                    Some("cookie"),
                    Some(
                        ExpiryState::ExpiredByAge
                        | ExpiryState::ExpiredBySession
                        | ExpiryState::MarkedExpired { .. },
                    ),
                ) => Badge::Expired,
                _ => Badge::SignedIn,
            },
        }
    }

    /// True when the guidance panel (how to get fresh cookies) should show.
    pub fn needs_cookie_guidance(&self, now: OffsetDateTime) -> bool {
        match &self.state {
            SessionState::Expired { .. } | SessionState::Captcha { .. } => true,
            SessionState::NotConfigured { .. } => self.site.is_some(),
            SessionState::SignedIn => matches!(self.badge(now), Badge::Expired),
            _ => false,
        }
    }

    /// Applies a worker event.
    pub fn on_event(&mut self, ev: &Event, now: OffsetDateTime) {
        match ev {
            Event::Verified {
                user,
                mode,
                why,
                deployment,
            } => {
                self.state = SessionState::SignedIn;
                self.user = Some(user.display_name.clone());
                self.mode = Some(mode);
                self.why = Some(why.clone());
                self.deployment = Some(deployment.to_string());
                self.last_verified = Some(now);
            }
            Event::NotConfigured { message } => {
                self.state = SessionState::NotConfigured {
                    message: message.clone(),
                };
                self.user = None;
            }
            Event::SessionExpired { reason, status } => {
                self.state = SessionState::Expired {
                    reason: reason.clone(),
                    status: *status,
                };
                self.user = None;
            }
            Event::Captcha { login_url, status } => {
                self.state = SessionState::Captcha {
                    login_url: login_url.clone(),
                    status: *status,
                };
                self.user = None;
            }
            Event::Error {
                kind: crate::worker::JobKind::Verify,
                message,
                ..
            } => {
                self.state = SessionState::Failed {
                    message: message.clone(),
                };
                self.user = None;
            }
            Event::Described {
                status,
                token_in_environment,
            } => {
                self.stored = Some((**status).clone());
                self.token_in_environment = *token_in_environment;
            }
            Event::CookiesImported { .. } | Event::TokenStored | Event::SettingsReloaded { .. } => {
                self.state = SessionState::Checking;
            }
            _ => {}
        }
    }
}
