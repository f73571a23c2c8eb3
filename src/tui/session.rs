//! What the header and the status screen know about the session: site,
//! mode, user, stored credentials, and the state behind the colour badge.

use time::OffsetDateTime;

use crate::confluence::client::AuthMode;
use crate::cookies::jar::{EXPIRES_SOON_THRESHOLD, ExpiryState};
use crate::credentials::CookieStatus;
use crate::worker::{Event, MutationDone, MutationKind, SessionInfo, SiteInfo};

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
    /// A site is set but nothing to sign in with is stored or set yet.
    NoCredentials,
    Checking,
    Failed,
}

impl Badge {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Badge::SignedIn => "SIGNED IN",
            Badge::ExpiresSoon => "EXPIRES SOON",
            Badge::Expired => "EXPIRED",
            Badge::Captcha => "CAPTCHA",
            Badge::NotConfigured => "NOT CONFIGURED",
            Badge::NoCredentials => "NO CREDENTIALS",
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
    pub mode: Option<AuthMode>,
    pub why: Option<String>,
    pub user: Option<String>,
    pub last_verified: Option<OffsetDateTime>,
    pub state: SessionState,
    /// What the vault holds, from the last `Describe`.
    pub stored: Option<CookieStatus>,
    pub token_in_environment: bool,
}

impl SessionView {
    /// A view of `site` before anything was checked.
    pub fn new(site: &SiteInfo) -> SessionView {
        let mut view = SessionView {
            site: None,
            deployment: None,
            login_page: None,
            env_file: String::new(),
            mode: None,
            why: None,
            user: None,
            last_verified: None,
            state: SessionState::Checking,
            stored: None,
            token_in_environment: false,
        };
        view.apply_site(site);
        view
    }

    /// The site in force changed (start, reload): forget what was learnt
    /// about the old one.
    pub(crate) fn apply_site(&mut self, site: &SiteInfo) {
        self.site = site.site.clone();
        self.deployment = site.deployment.map(|d| d.to_string());
        self.login_page = site.login_page.clone();
        self.env_file = site.env_file.display().to_string();
        self.mode = None;
        self.why = None;
        self.user = None;
        self.last_verified = None;
        self.state = if self.site.is_none() {
            SessionState::NotConfigured {
                message: format!(
                    "CONFLUENCE_BASE_URL is not set: put it in {} or export it",
                    self.env_file
                ),
            }
        } else {
            SessionState::Checking
        };
    }

    pub(crate) fn is_signed_in(&self) -> bool {
        self.state == SessionState::SignedIn
    }

    /// Listing makes sense only with a site and some credential.
    pub(crate) fn can_list(&self) -> bool {
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
            // The site is set (the demo's always is): what is missing is a
            // sign-in, not configuration.
            SessionState::NotConfigured { .. } if self.site.is_some() => Badge::NoCredentials,
            SessionState::NotConfigured { .. } => Badge::NotConfigured,
            SessionState::Checking => Badge::Checking,
            SessionState::Expired { .. } => Badge::Expired,
            SessionState::Captcha { .. } => Badge::Captcha,
            SessionState::Failed { .. } => Badge::Failed,
            SessionState::SignedIn => match (self.mode, self.cookie_state(now)) {
                (Some(AuthMode::Cookie), Some(ExpiryState::ExpiresSoon { .. })) => {
                    Badge::ExpiresSoon
                }
                (
                    Some(AuthMode::Cookie),
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
    pub(crate) fn needs_cookie_guidance(&self, now: OffsetDateTime) -> bool {
        match &self.state {
            SessionState::Expired { .. } | SessionState::Captcha { .. } => true,
            SessionState::NotConfigured { .. } => self.site.is_some(),
            SessionState::SignedIn => matches!(self.badge(now), Badge::Expired),
            _ => false,
        }
    }

    /// Applies a worker event.
    pub(crate) fn on_event(&mut self, ev: &Event, now: OffsetDateTime) {
        match ev {
            Event::Site(site) => self.apply_site(site),
            Event::Session(info) => self.apply_session(info, now),
            Event::Stored(info) => {
                self.stored = Some(info.status.clone());
                self.token_in_environment = info.token_in_environment;
            }
            Event::Mutated {
                kind: MutationKind::ImportCookies | MutationKind::StoreToken,
                result: Ok(done),
            } if !matches!(done, MutationDone::NothingToImport) => {
                self.state = SessionState::Checking
            }
            _ => {}
        }
    }

    fn apply_session(&mut self, info: &SessionInfo, now: OffsetDateTime) {
        self.state = match info {
            SessionInfo::SignedIn {
                user,
                mode,
                why,
                deployment,
                ..
            } => {
                self.user = Some(user.display_name.clone());
                self.mode = Some(*mode);
                self.why = Some(why.clone());
                self.deployment = Some(deployment.to_string());
                self.last_verified = Some(now);
                return self.state = SessionState::SignedIn;
            }
            SessionInfo::NotConfigured { message } => SessionState::NotConfigured {
                message: message.clone(),
            },
            SessionInfo::Expired { reason, status } => SessionState::Expired {
                reason: reason.clone(),
                status: *status,
            },
            SessionInfo::Captcha { login_url, status } => SessionState::Captcha {
                login_url: login_url.clone(),
                status: *status,
            },
            SessionInfo::Failed { error } => SessionState::Failed {
                message: error.message.clone(),
            },
        };
        // Who was signed in, and why that mode, belonged to the last
        // successful verification: not to this state.
        self.user = None;
        self.mode = None;
        self.why = None;
    }
}
