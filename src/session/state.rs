//! The session as one typed value: its [`SessionState`], and the
//! [`Snapshot`] every face draws from (the TUI's header and rows, `watch`'s
//! lines, `check`'s answer, the notify command). A state is an enum until
//! the moment it is printed ([`StateWord::as_str`]).

use time::OffsetDateTime;

use crate::confluence::classify::Gateway;
use crate::confluence::client::{AuthMode, Deployment, TrustedBy};
use crate::confluence::model::User;
use crate::exit::ErrorClass;

/// Below this much time left, a signed-in cookie session is `expiring`.
pub const EXPIRING_WITHIN: time::Duration = time::Duration::hours(24);

/// Where the session stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Credentials are there and not yet verified in this process.
    Checking,
    /// The site accepted the credentials at the last verification.
    SignedIn,
    /// The cookie session is dead: fresh cookies are needed.
    Expired { reason: String, status: Option<u16> },
    /// A CAPTCHA blocks sign-in until the user signs in through the browser.
    Captcha {
        login_url: Option<String>,
        status: Option<u16>,
    },
    /// A gateway in front of the site wants its own sign-in; Confluence's
    /// own credentials were not judged (and are not marked expired).
    Gateway {
        gateway: Gateway,
        login_url: Option<String>,
        status: Option<u16>,
    },
    /// The site refused the token, or answered as if nobody were signed in.
    Rejected { reason: String, status: Option<u16> },
    /// The site did not answer (network, DNS, TLS, server errors): the
    /// credentials are kept and asked again later.
    Unreachable { reason: String },
    /// Nothing to sign in with (or no site): the message says what to set.
    NoCredentials { message: String },
    /// The credentials cannot be read (the vault, the audit log): the
    /// message says what to fix; the class decides the exit code.
    Failed { class: ErrorClass, message: String },
}

impl SessionState {
    /// Verifying again cannot help until fresh credentials are stored
    /// (or the user asks: `v`, `check --retry`).
    pub fn waits_for_credentials(&self) -> bool {
        matches!(
            self,
            SessionState::Expired { .. }
                | SessionState::Captcha { .. }
                | SessionState::Gateway { .. }
                | SessionState::Rejected { .. }
                | SessionState::NoCredentials { .. }
                | SessionState::Failed { .. }
        )
    }

    /// A dead session (expired, CAPTCHA, refused): the user must act.
    pub fn is_dead(&self) -> bool {
        matches!(
            self,
            SessionState::Expired { .. }
                | SessionState::Captcha { .. }
                | SessionState::Gateway { .. }
                | SessionState::Rejected { .. }
        )
    }

    /// The class of the failure, `None` when signed in or being checked.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            SessionState::Checking | SessionState::SignedIn => None,
            SessionState::Expired { .. }
            | SessionState::Gateway { .. }
            | SessionState::Rejected { .. }
            | SessionState::NoCredentials { .. } => Some(ErrorClass::Auth),
            SessionState::Captcha { .. } => Some(ErrorClass::Captcha),
            SessionState::Unreachable { .. } => Some(ErrorClass::Network),
            SessionState::Failed { class, .. } => Some(*class),
        }
    }
}

/// The state's name in `--json` output, `watch` lines and the notify
/// command's environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateWord {
    Checking,
    SignedIn,
    Expiring,
    Expired,
    Captcha,
    Gateway,
    Unreachable,
    NoCredentials,
}

impl StateWord {
    pub fn as_str(self) -> &'static str {
        match self {
            StateWord::Checking => "checking",
            StateWord::SignedIn => "signed_in",
            StateWord::Expiring => "expiring",
            StateWord::Expired => "expired",
            StateWord::Captcha => "captcha",
            StateWord::Gateway => "gateway",
            StateWord::Unreachable => "unreachable",
            StateWord::NoCredentials => "no_credentials",
        }
    }

    /// The user must act: the notify command runs.
    pub fn needs_user(self) -> bool {
        matches!(
            self,
            StateWord::Expired | StateWord::Captcha | StateWord::Gateway | StateWord::Expiring
        )
    }
}

impl std::fmt::Display for StateWord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When the keep-alive asks the site next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextCheck {
    /// At about this time (±10 %).
    At(OffsetDateTime),
    /// Not until fresh credentials are stored (or the user asks).
    AfterFreshCredentials,
    /// Nothing asks by itself (keep-alive off, or a one-shot command).
    Off,
}

/// What made the latest snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The session as read at start (or after a reload of the settings).
    Start,
    /// A verification: one the user asked for (`v`, `check --retry`) or
    /// the keep-alive's.
    Verified { asked: bool },
    /// A request's answer (the proxy's, a listing's).
    Answer,
    /// The vault changed: another process imported, refreshed, cleared or
    /// marked the credentials.
    Vault,
    /// Cookies were imported here (the source as audited).
    Imported { source: String },
    /// A fresh login was picked up from the browser by itself.
    BrowserPickup { browser: String, profile: String },
    /// Stored cookies were cleared here.
    Cleared,
    /// A token was stored or cleared here.
    Token,
}

/// Everything known about the session at one moment: one value drives
/// every face.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The site's identity, if one is configured.
    pub site: Option<String>,
    pub deployment: Option<Deployment>,
    pub state: SessionState,
    /// Who is signed in (while signed in).
    pub user: Option<User>,
    /// How requests authenticate, and why that mode.
    pub mode: Option<AuthMode>,
    pub why: Option<String>,
    /// When the stored cookies expire (cookie sessions).
    pub expires_at: Option<OffsetDateTime>,
    /// When the site last accepted the credentials (in this process).
    pub verified_at: Option<OffsetDateTime>,
    pub next_check: NextCheck,
    pub cause: Cause,
    /// Which roots verified the site's certificate at the last handshake
    /// (none yet, or plain http on loopback).
    pub trusted_by: Option<TrustedBy>,
}

impl Snapshot {
    /// A session nothing is known of yet.
    pub fn unknown(site: Option<String>, deployment: Option<Deployment>) -> Snapshot {
        Snapshot {
            site,
            deployment,
            state: SessionState::Checking,
            user: None,
            mode: None,
            why: None,
            expires_at: None,
            verified_at: None,
            next_check: NextCheck::Off,
            cause: Cause::Start,
            trusted_by: None,
        }
    }

    /// A snapshot in `state` of no site in particular (for drawing one in a
    /// test or a benchmark).
    pub fn in_state(state: SessionState) -> Snapshot {
        Snapshot {
            state,
            ..Snapshot::unknown(None, None)
        }
    }

    /// Signed in as `user`, `mode` chosen for the reason `why` (for drawing
    /// one in a test or a benchmark).
    pub fn signed_in(user: User, mode: AuthMode, why: String, deployment: Deployment) -> Snapshot {
        Snapshot {
            user: Some(user),
            mode: Some(mode),
            why: Some(why),
            deployment: Some(deployment),
            ..Snapshot::in_state(SessionState::SignedIn)
        }
    }

    /// The same, verified at `at`, the keep-alive's next check `next`.
    pub fn verified(mut self, at: OffsetDateTime, next: NextCheck) -> Snapshot {
        self.verified_at = Some(at);
        self.next_check = next;
        self
    }

    /// The same, with the credentials expiring at `at`.
    pub fn expiring_at(mut self, at: Option<OffsetDateTime>) -> Snapshot {
        self.expires_at = at;
        self
    }

    /// The state's word at `now` (a signed-in cookie session whose cookies
    /// expire within a day is `expiring`).
    pub fn word(&self, now: OffsetDateTime) -> StateWord {
        match &self.state {
            SessionState::Checking => StateWord::Checking,
            SessionState::SignedIn => match self.expires_at {
                Some(at) if at - now <= EXPIRING_WITHIN => StateWord::Expiring,
                _ => StateWord::SignedIn,
            },
            SessionState::Expired { .. } | SessionState::Rejected { .. } => StateWord::Expired,
            SessionState::Captcha { .. } => StateWord::Captcha,
            SessionState::Gateway { .. } => StateWord::Gateway,
            SessionState::Unreachable { .. } => StateWord::Unreachable,
            SessionState::NoCredentials { .. } => StateWord::NoCredentials,
            SessionState::Failed { class, .. } => match class {
                ErrorClass::Usage | ErrorClass::Vault | ErrorClass::Auth => {
                    StateWord::NoCredentials
                }
                ErrorClass::Captcha => StateWord::Captcha,
                _ => StateWord::Unreachable,
            },
        }
    }

    /// Why the session is not signed in, in words (the server's words may
    /// be in it: escape before printing to a terminal).
    pub fn reason(&self) -> Option<String> {
        match &self.state {
            SessionState::Checking | SessionState::SignedIn => None,
            SessionState::Expired { reason, .. }
            | SessionState::Rejected { reason, .. }
            | SessionState::Unreachable { reason } => Some(reason.clone()),
            SessionState::Captcha { .. } => {
                Some("CAPTCHA challenge: sign in through the browser".into())
            }
            SessionState::Gateway { gateway, .. } => Some(format!(
                "{gateway} in front of the site wants you to sign in (Confluence's own credentials are kept)"
            )),
            SessionState::NoCredentials { message } | SessionState::Failed { message, .. } => {
                Some(message.clone())
            }
        }
    }

    /// Where to sign in after a CAPTCHA.
    pub fn login_url(&self) -> Option<&str> {
        match &self.state {
            SessionState::Captcha { login_url, .. } | SessionState::Gateway { login_url, .. } => {
                login_url.as_deref()
            }
            _ => None,
        }
    }

    /// The HTTP status that ended the session, if one did.
    pub fn status(&self) -> Option<u16> {
        match &self.state {
            SessionState::Expired { status, .. }
            | SessionState::Captcha { status, .. }
            | SessionState::Gateway { status, .. }
            | SessionState::Rejected { status, .. } => *status,
            _ => None,
        }
    }

    /// The class of the failure, `None` when signed in.
    pub fn class(&self) -> Option<ErrorClass> {
        self.state.class()
    }

    /// Signed in (or expiring).
    pub fn is_signed_in(&self) -> bool {
        self.state == SessionState::SignedIn
    }

    /// The display name of who is signed in.
    pub fn user_name(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.display_name.as_str())
    }

    /// Whether `other` is news to a reader of `watch`: another state,
    /// user or login URL (a new reason for the same failure is not).
    pub fn differs(&self, other: &Snapshot, now: OffsetDateTime) -> bool {
        self.word(now) != other.word(now)
            || self.user_name() != other.user_name()
            || self.login_url() != other.login_url()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-03-01 12:00 UTC);

    fn snap(state: SessionState) -> Snapshot {
        Snapshot {
            state,
            ..Snapshot::unknown(Some("https://c.example.com".into()), None)
        }
    }

    #[test]
    fn words_are_the_contract_s_and_expiring_follows_the_clock() {
        let mut s = snap(SessionState::SignedIn);
        assert_eq!(s.word(NOW).as_str(), "signed_in");
        s.expires_at = Some(NOW + time::Duration::hours(2));
        assert_eq!(s.word(NOW).as_str(), "expiring");
        let cases = [
            (
                SessionState::Expired {
                    reason: "401".into(),
                    status: Some(401),
                },
                "expired",
            ),
            (
                SessionState::Rejected {
                    reason: "refused".into(),
                    status: Some(401),
                },
                "expired",
            ),
            (
                SessionState::Captcha {
                    login_url: None,
                    status: Some(403),
                },
                "captcha",
            ),
            (
                SessionState::Unreachable {
                    reason: "refused".into(),
                },
                "unreachable",
            ),
            (
                SessionState::NoCredentials {
                    message: "set it".into(),
                },
                "no_credentials",
            ),
            (
                SessionState::Failed {
                    class: ErrorClass::Vault,
                    message: "tampered".into(),
                },
                "no_credentials",
            ),
        ];
        for (state, word) in cases {
            assert_eq!(snap(state).word(NOW).as_str(), word);
        }
    }

    #[test]
    fn only_what_a_reader_needs_to_know_is_news() {
        let a = snap(SessionState::Expired {
            reason: "one".into(),
            status: Some(401),
        });
        let b = snap(SessionState::Expired {
            reason: "two".into(),
            status: Some(302),
        });
        assert!(!a.differs(&b, NOW));
        assert!(a.differs(&snap(SessionState::SignedIn), NOW));
        assert!(StateWord::Captcha.needs_user() && !StateWord::Unreachable.needs_user());
    }
}
