//! Who lends a request its credentials and hears how the site answered it.
//!
//! Before every attempt the client asks its [`Authority`] for a [`Ticket`]:
//! the decorations to send and the credential version they belong to. When
//! the answer's headers arrive it hands them back ([`Authority::absorb`]: a
//! `Set-Cookie` makes the next version at once), and when the answer says
//! something about the session (a refusal, a login page, a CAPTCHA) it asks
//! for a [`Judgement`]: only an answer to the *current* version can end a
//! session; one that carried a superseded version is sent again.
//!
//! The session owner (`crate::session`) is the authority of every request
//! the app makes; [`Fixed`] lends one set of decorations for one-off checks
//! (a token or cookies not stored yet, the setup's anonymous probe).

use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use url::Url;

use super::auth::{AuthMode, Decorations};
use super::classify::{ExpiryReason, Outcome};
use super::error::ClientError;

/// Which credentials a request carried: the credential set (a new import,
/// token or reload is a new generation) and the cookie jar's version within
/// it (a `Set-Cookie` from the site makes the next one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    pub generation: u64,
    pub jar: u64,
}

/// The credentials lent to one attempt of one request.
pub struct Ticket {
    pub version: Version,
    pub decorations: Arc<Decorations>,
    /// The version the answer to this very ticket made (its own
    /// `Set-Cookie`): not a sign that someone else superseded it.
    pub(crate) rotated_to: Option<Version>,
    /// Kept while the request waits for its answer's headers (the
    /// authority's count of requests in flight, a turn at sending);
    /// released by [`Ticket::answered`] or on drop.
    holds: Vec<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("version", &self.version)
            .field("mode", &self.decorations.mode())
            .finish_non_exhaustive()
    }
}

impl Ticket {
    /// A ticket for `decorations` at `version`.
    pub fn new(version: Version, decorations: Arc<Decorations>) -> Ticket {
        Ticket {
            version,
            decorations,
            rotated_to: None,
            holds: Vec::new(),
        }
    }

    /// Keeps `hold` until the answer's headers arrive.
    pub fn holding(mut self, hold: impl Send + Sync + 'static) -> Ticket {
        self.holds.push(Box::new(hold));
        self
    }

    /// The answer's headers arrived: whatever was held for the wait goes.
    pub fn answered(&mut self) {
        self.holds.clear();
    }

    /// How the request authenticates.
    pub fn mode(&self) -> AuthMode {
        self.decorations.mode()
    }
}

/// An answer that says something about the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The cookie session is dead (a 401, a login redirect or page).
    Expired { reason: ExpiryReason, status: u16 },
    /// A CAPTCHA must be solved in the browser; never retried.
    Captcha {
        status: u16,
        /// On the site's own origin (an off-site one was dropped).
        login_url: Option<String>,
        off_site_login_ignored: bool,
    },
    /// The token (Basic or Bearer) was refused.
    Rejected { status: u16 },
    /// A gateway in front of the site wants its own sign-in.
    Gateway {
        gateway: super::classify::Gateway,
        login_url: Option<String>,
        status: u16,
    },
    /// The site answered as if nobody were signed in.
    Anonymous,
}

impl Refusal {
    /// The refusal an outcome is, if it is one.
    pub fn of(outcome: &Outcome) -> Option<Refusal> {
        match outcome {
            Outcome::SessionExpired { reason, status } => Some(Refusal::Expired {
                reason: reason.clone(),
                status: *status,
            }),
            Outcome::Captcha {
                status,
                login_url,
                off_site_login_ignored,
            } => Some(Refusal::Captcha {
                status: *status,
                login_url: login_url.clone(),
                off_site_login_ignored: *off_site_login_ignored,
            }),
            Outcome::CredentialsRejected { status, .. } => {
                Some(Refusal::Rejected { status: *status })
            }
            Outcome::Anonymous => Some(Refusal::Anonymous),
            Outcome::GatewaySignIn {
                gateway,
                login_url,
                status,
            } => Some(Refusal::Gateway {
                gateway: gateway.clone(),
                login_url: login_url.clone(),
                status: *status,
            }),
            _ => None,
        }
    }
}

/// What a refusal means for the request that got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The answer stands: hand it on. (The authority has already done what
    /// it means for the session, once.)
    Stands,
    /// The request carried credentials that were replaced meanwhile: not a
    /// death. An idempotent request is sent again with a new ticket; a
    /// write gets the site's answer.
    Superseded,
}

/// Lends credentials to requests and hears their answers.
pub trait Authority: Send + Sync {
    /// The credentials to send now, or why nothing may be sent.
    fn ticket(&self) -> BoxFuture<'_, Result<Ticket, ClientError>>;

    /// The answer to `ticket` arrived from `from` with `headers`: keep
    /// refreshed cookies. Releases what the ticket held for the wait.
    fn absorb(&self, ticket: &mut Ticket, headers: &HeaderMap, from: &Url);

    /// The answer to `ticket` was `refusal`: superseded credentials, or a
    /// verdict on the session (acted on once).
    fn judge<'a>(&'a self, ticket: &'a Ticket, refusal: &'a Refusal) -> BoxFuture<'a, Judgement>;
}

/// One set of decorations for every request, nothing remembered: for a
/// check of credentials not stored yet, and the setup's anonymous probe.
#[derive(Clone, Debug)]
pub struct Fixed(Arc<Decorations>);

impl Fixed {
    pub fn new(decorations: Decorations) -> Fixed {
        Fixed(Arc::new(decorations))
    }

    /// As an authority for a client.
    pub fn shared(decorations: Decorations) -> Arc<dyn Authority> {
        Arc::new(Fixed::new(decorations))
    }
}

impl Authority for Fixed {
    fn ticket(&self) -> BoxFuture<'_, Result<Ticket, ClientError>> {
        let ticket = Ticket::new(Version::default(), self.0.clone());
        Box::pin(async move { Ok(ticket) })
    }

    fn absorb(&self, ticket: &mut Ticket, _: &HeaderMap, _: &Url) {
        ticket.answered();
    }

    fn judge<'a>(&'a self, _: &'a Ticket, _: &'a Refusal) -> BoxFuture<'a, Judgement> {
        Box::pin(async { Judgement::Stands })
    }
}
