//! What the header and the status screen know about the session: the site,
//! and the session owner's latest snapshot (state, mode, user, when it was
//! verified and when the next check is), plus what the vault holds. The
//! badge and every row come from this one value, so they always agree.

use time::OffsetDateTime;

use crate::confluence::client::{AuthMode, TrustedBy};
use crate::cookies::jar::{EXPIRES_SOON_THRESHOLD, ExpiryState};
use crate::credentials::CookieStatus;
pub use crate::session::SessionState;
use crate::session::{NextCheck, Snapshot};
use crate::worker::{Event, SiteInfo};

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
    /// The site does not answer; the credentials are kept.
    Unreachable,
    /// A gateway in front of the site wants its own sign-in.
    GatewaySignIn,
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
            Badge::Unreachable => "UNREACHABLE",
            Badge::GatewaySignIn => "GATEWAY SIGN-IN",
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
    /// How requests authenticate, and why that mode.
    pub mode: Option<AuthMode>,
    pub why: Option<String>,
    /// Who is signed in (while signed in).
    pub user: Option<String>,
    /// When the site last accepted the credentials.
    pub last_verified: Option<OffsetDateTime>,
    /// When the keep-alive asks next (unknown until the owner said).
    pub next_check: Option<NextCheck>,
    /// When the credentials in force expire (cookie sessions).
    pub expires_at: Option<OffsetDateTime>,
    pub state: SessionState,
    /// What the vault holds, from the last `Describe`.
    pub stored: Option<CookieStatus>,
    pub token_in_environment: bool,
    /// Which roots verified the site at the last handshake.
    pub trusted_by: Option<TrustedBy>,
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
            next_check: None,
            expires_at: None,
            state: SessionState::Checking,
            stored: None,
            token_in_environment: false,
            trusted_by: None,
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
        self.trusted_by = None;
        self.why = None;
        self.user = None;
        self.last_verified = None;
        self.next_check = None;
        self.expires_at = None;
        self.state = if self.site.is_none() {
            SessionState::NoCredentials {
                message: format!(
                    "CONFLUENCE_BASE_URL is not set: put it in {} or export it",
                    self.env_file
                ),
            }
        } else {
            SessionState::Checking
        };
    }

    /// Takes in the session owner's snapshot: every field at once.
    pub fn apply_snapshot(&mut self, s: &Snapshot) {
        let ours = self.site.as_deref().map(site_key_of);
        if s.site.is_some() && s.site != ours {
            // Another site's snapshot (a reload under way): not ours.
            return;
        }
        self.state = if self.site.is_none() {
            // Without a site, the owner's words name no file; ours do.
            self.state.clone()
        } else {
            s.state.clone()
        };
        self.mode = s.mode;
        self.why = s.why.clone();
        self.user = s.user_name().map(str::to_string);
        self.last_verified = s.verified_at;
        self.next_check = Some(s.next_check);
        self.expires_at = s.expires_at;
        if s.trusted_by.is_some() {
            self.trusted_by = s.trusted_by;
        }
        if let Some(d) = s.deployment {
            self.deployment = Some(d.to_string());
        }
    }

    pub(crate) fn is_signed_in(&self) -> bool {
        self.state == SessionState::SignedIn
    }

    /// Listing makes sense only with a site and some credential.
    pub(crate) fn can_list(&self) -> bool {
        self.site.is_some()
            && !matches!(
                self.state,
                SessionState::NoCredentials { .. } | SessionState::Failed { .. }
            )
    }

    /// The URL `o` opens on the status screen.
    pub fn login_url(&self) -> Option<String> {
        match &self.state {
            SessionState::Captcha {
                login_url: Some(u), ..
            }
            | SessionState::Gateway {
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

    /// The badge for the header: the session's state, and for a signed-in
    /// cookie session, what the clock says of its cookies.
    pub fn badge(&self, now: OffsetDateTime) -> Badge {
        match &self.state {
            // The site is set (the demo's always is): what is missing is a
            // sign-in, not configuration.
            SessionState::NoCredentials { .. } if self.site.is_some() => Badge::NoCredentials,
            SessionState::NoCredentials { .. } => Badge::NotConfigured,
            SessionState::Checking => Badge::Checking,
            SessionState::Expired { .. } => Badge::Expired,
            SessionState::Captcha { .. } => Badge::Captcha,
            SessionState::Gateway { .. } => Badge::GatewaySignIn,
            SessionState::Unreachable { .. } => Badge::Unreachable,
            SessionState::Rejected { .. } | SessionState::Failed { .. } => Badge::Failed,
            // Only credentials that expire (cookies) have an expiry.
            SessionState::SignedIn => match self.expires_at {
                Some(at) if at <= now => Badge::Expired,
                Some(at) if at - now < EXPIRES_SOON_THRESHOLD => Badge::ExpiresSoon,
                _ => Badge::SignedIn,
            },
        }
    }

    /// True when the guidance panel (how to get fresh cookies) should show.
    pub(crate) fn needs_cookie_guidance(&self, now: OffsetDateTime) -> bool {
        match &self.state {
            SessionState::Expired { .. }
            | SessionState::Captcha { .. }
            | SessionState::Gateway { .. } => true,
            SessionState::NoCredentials { .. } => self.site.is_some(),
            SessionState::SignedIn => matches!(self.badge(now), Badge::Expired),
            _ => false,
        }
    }

    /// Applies a worker event.
    pub(crate) fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::Site(site) => self.apply_site(site),
            Event::Session(snapshot) | Event::Verified { snapshot, .. } => {
                self.apply_snapshot(snapshot)
            }
            Event::Stored(info) => {
                self.stored = Some(info.status.clone());
                self.token_in_environment = info.token_in_environment;
            }
            _ => {}
        }
    }
}

/// The identity of the site at `url` as the owner names it.
fn site_key_of(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| crate::site::SiteKey::from_url(&u).to_string())
        .unwrap_or_else(|_| url.to_string())
}
