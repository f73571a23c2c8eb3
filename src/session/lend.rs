//! Credentials lent to requests, and what their answers mean: the owner as
//! the [`Authority`] of every client of the process.
//!
//! - A ticket carries the decorations of the current version and counts as
//!   in flight until its answer's headers arrive.
//! - A `Set-Cookie` in an answer makes the next version at once (saved to
//!   the vault right after, by the saver).
//! - A refusal of a superseded version is not a death: the request is sent
//!   again. A refusal of the current version waits for the other requests
//!   that carried it (one of them may have rotated the cookie), looks at
//!   the vault (another process may hold newer credentials), and only then
//!   ends the session, once.
//! - A site that refuses superseded cookies at once is sent one request at
//!   a time from then on, so each carries the newest value.

use std::sync::{Arc, Weak};

use futures::future::BoxFuture;
use reqwest::header::HeaderMap;
use time::OffsetDateTime;
use url::Url;

use super::SessionError;
use super::audit_words::{self, CaptchaSeen};
use super::owner::{Held, Shared};
use super::state::{Cause, SessionState};
use crate::confluence::authority::{Authority, Judgement, Refusal, Ticket};
use crate::confluence::client::{AuthMode, ClientError, Version};
use crate::credentials::CredentialError;
use crate::exit::ErrorClass;
use crate::vault::{StoredSession, VaultStamp};

/// The owner as a client's authority. `anyway`: lend dead credentials too
/// (a verification the user asked for asks the site in every state).
pub(super) struct Gate {
    shared: Weak<Shared>,
    anyway: bool,
}

impl Gate {
    pub fn new(shared: Weak<Shared>, anyway: bool) -> Gate {
        Gate { shared, anyway }
    }
}

/// Counts a ticket as in flight until its answer arrives (or it is dropped).
struct InFlight {
    shared: Weak<Shared>,
    version: Version,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        {
            let mut held = shared.held();
            if let Some(n) = held.in_flight.get_mut(&self.version) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    held.in_flight.remove(&self.version);
                }
            }
        }
        shared.answered.notify_waiters();
    }
}

fn gone() -> ClientError {
    ClientError::Blocked {
        class: ErrorClass::Internal,
        message: "the session was closed".into(),
    }
}

impl Authority for Gate {
    fn ticket(&self) -> BoxFuture<'_, Result<Ticket, ClientError>> {
        Box::pin(async move {
            let shared = self.shared.upgrade().ok_or_else(gone)?;
            shared.lend(self.anyway).await
        })
    }

    fn absorb(&self, ticket: &mut Ticket, headers: &HeaderMap, from: &Url) {
        match self.shared.upgrade() {
            Some(shared) => shared.absorb(ticket, headers, from),
            None => ticket.answered(),
        }
    }

    fn judge<'a>(&'a self, ticket: &'a Ticket, refusal: &'a Refusal) -> BoxFuture<'a, Judgement> {
        Box::pin(async move {
            match self.shared.upgrade() {
                Some(shared) => shared.judge(ticket, refusal).await,
                None => Judgement::Stands,
            }
        })
    }
}

impl Shared {
    /// A ticket for the current credentials, or why nothing may be sent.
    pub(super) async fn lend(self: &Arc<Self>, anyway: bool) -> Result<Ticket, ClientError> {
        self.ensure_fresh(Cause::Vault).await;
        let one_at_a_time = self.held().one_at_a_time;
        let turn = if one_at_a_time {
            Some(
                self.turn
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| gone())?,
            )
        } else {
            None
        };
        let (version, decorations) = {
            let mut held = self.held();
            let lent = lendable(&held, anyway)?;
            let version = held.version();
            *held.in_flight.entry(version).or_default() += 1;
            (version, lent)
        };
        let mut ticket = Ticket::new(version, decorations).holding(InFlight {
            shared: Arc::downgrade(self),
            version,
        });
        if let Some(turn) = turn {
            ticket = ticket.holding(turn);
        }
        Ok(ticket)
    }

    /// The answer to `ticket` arrived: refreshed cookies of the current
    /// credentials become the next version at once.
    pub(super) fn absorb(&self, ticket: &mut Ticket, headers: &HeaderMap, from: &Url) {
        let mut rotated = None;
        if let Some(site) = &self.site_url {
            let mut held = self.held();
            let current = held.generation == ticket.version.generation;
            if let Some(lent) = held.lent.as_mut().filter(|_| current)
                && lent.decorations.cookie_jar().is_some()
            {
                let mut next = (*lent.decorations).clone();
                let names = next.absorb_set_cookies(headers, from, site);
                if !names.is_empty() {
                    lent.decorations = Arc::new(next);
                    held.jar += 1;
                    held.refreshed_at = Some(OffsetDateTime::now_utc());
                    for name in names {
                        if !held.dirty.contains(&name) {
                            held.dirty.push(name);
                        }
                    }
                    rotated = Some(held.version());
                }
            }
        }
        if rotated.is_some() {
            ticket.rotated_to = rotated;
        }
        // Outside the lock: the in-flight count takes it.
        ticket.answered();
        if rotated.is_some() {
            self.save.notify_one();
        }
    }

    /// What a refusal of `ticket` means: superseded credentials (send
    /// again), or the session's end, acted on once.
    pub(super) async fn judge(self: &Arc<Self>, ticket: &Ticket, refusal: &Refusal) -> Judgement {
        loop {
            let answered = self.answered.notified();
            tokio::pin!(answered);
            answered.as_mut().enable();
            {
                let mut held = self.held();
                if held.generation != ticket.version.generation {
                    return Judgement::Superseded;
                }
                let current = held.version();
                if current != ticket.version && ticket.rotated_to != Some(current) {
                    let strict = ticket.decorations.cookie_jar().is_some()
                        && !matches!(refusal, Refusal::Captcha { .. });
                    if strict && !held.one_at_a_time {
                        tracing::info!(
                            "the site refused a superseded session cookie: one request at a time from now on"
                        );
                        held.one_at_a_time = true;
                    }
                    return Judgement::Superseded;
                }
                // Requests that carried the same value and are still out
                // may come back with a rotation: theirs is the verdict.
                if !held.in_flight.contains_key(&ticket.version) {
                    break;
                }
            }
            let patience = self.settings.timeout + std::time::Duration::from_secs(1);
            if tokio::time::timeout(patience, answered).await.is_err() {
                break;
            }
        }
        // Another process may have stored newer credentials.
        if self.vault_changed() {
            self.ensure_fresh(Cause::Vault).await;
            if self.held().version() != ticket.version {
                return Judgement::Superseded;
            }
        }
        self.end(ticket, refusal).await;
        Judgement::Stands
    }

    /// Whether the vault file changed since this owner last read or wrote it.
    pub(super) fn vault_changed(&self) -> bool {
        let stamp = VaultStamp::of(&self.creds.paths().vault_file);
        let held = self.held();
        !held.loaded || held.seen != stamp
    }

    /// The session of `ticket` ended with `refusal`: the state changes at
    /// once (nothing more is lent), then the cookies are marked expired in
    /// the vault and the end is audited (the mark first: dead cookies are
    /// never sent again, whatever happens to the record). Once: a death
    /// seen by several requests, or by a request and a verification, is
    /// acted on by the first. (Another kind of end replaces the first: a
    /// CAPTCHA that cleared while the cookies died is an expiry now.)
    pub(super) async fn end(self: &Arc<Self>, ticket: &Ticket, refusal: &Refusal) {
        let _io = self.io.lock().await;
        let (mode, cookies) = {
            let mut held = self.held();
            let dead = dead_state(refusal, ticket.mode());
            let same_kind = std::mem::discriminant(&held.state) == std::mem::discriminant(&dead);
            if held.generation != ticket.version.generation || same_kind {
                return;
            }
            held.state = dead;
            held.user = None;
            held.look_in_browser = true;
            self.reschedule(&mut held);
            (ticket.mode(), ticket.decorations.cookie_jar().is_some())
        };
        let creds = self.creds.clone();
        let refusal = refusal.clone();
        let before = VaultStamp::of(&creds.paths().vault_file);
        let written = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            let now = OffsetDateTime::now_utc();
            match refusal {
                Refusal::Expired { reason, status } => {
                    let reason = reason.to_string();
                    if cookies {
                        creds.mark_expired(now, &reason, Some(status))?;
                    }
                    creds.record(audit_words::session_lost(mode, &reason, Some(status), None))
                }
                Refusal::Captcha {
                    status,
                    login_url,
                    off_site_login_ignored,
                } => {
                    creds.set_session(StoredSession::Captcha {
                        login_url: login_url.clone(),
                        status: Some(status),
                    })?;
                    let seen = CaptchaSeen {
                        login_url,
                        off_site_login_ignored,
                    };
                    creds.record(audit_words::session_lost(
                        mode,
                        "CAPTCHA challenge",
                        Some(status),
                        Some(seen),
                    ))
                }
                Refusal::Rejected { status } => {
                    creds.record(audit_words::credentials_rejected(mode, status))
                }
                Refusal::Anonymous => creds.record(audit_words::answered_anonymous(mode)),
                Refusal::Gateway {
                    gateway,
                    login_url,
                    status,
                } => {
                    // Confluence's own credentials are not judged: nothing
                    // is marked expired; the gateway's state is kept.
                    let host = match &gateway {
                        crate::confluence::classify::Gateway::Other { host } => Some(host.clone()),
                        _ => None,
                    };
                    creds.set_session(StoredSession::Gateway {
                        gateway: gateway.as_str().to_string(),
                        host,
                        login_url: login_url.clone(),
                    })?;
                    creds.record(audit_words::gateway_sign_in(&gateway, login_url, status))
                }
            }
        })
        .await;
        let failure = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(SessionError::new(e.class(), e.to_string())),
            Err(e) => Some(SessionError::new(
                ErrorClass::Internal,
                format!("could not record the end of the session: {e}"),
            )),
        };
        let mut held = self.held();
        note_own_write(&mut held, before, &self.creds.paths().vault_file);
        if let Some(f) = failure {
            tracing::error!(error = %f, "could not record the end of the session");
            held.record_failure = Some(f);
        }
        self.publish(&mut held, Cause::Answer);
    }
}

/// Our own write since `before`: the vault need not be read again. (When
/// someone else wrote too, the stamp does not match and it is.)
pub(super) fn note_own_write(held: &mut Held, before: Option<VaultStamp>, vault: &std::path::Path) {
    if held.seen == before {
        held.seen = VaultStamp::of(vault);
    }
}

/// The state a refusal of the current credentials leaves.
fn dead_state(refusal: &Refusal, mode: AuthMode) -> SessionState {
    match refusal {
        Refusal::Expired { reason, status } => SessionState::Expired {
            reason: reason.to_string(),
            status: Some(*status),
        },
        Refusal::Captcha {
            status, login_url, ..
        } => SessionState::Captcha {
            login_url: login_url.clone(),
            status: Some(*status),
        },
        Refusal::Rejected { status } => SessionState::Rejected {
            reason: format!("the site rejected the {mode} credentials (HTTP {status})"),
            status: Some(*status),
        },
        Refusal::Anonymous => SessionState::Rejected {
            reason: format!(
                "the site answered as anonymous: the {mode} credentials were not accepted"
            ),
            status: Some(200),
        },
        Refusal::Gateway {
            gateway,
            login_url,
            status,
        } => SessionState::Gateway {
            gateway: gateway.clone(),
            login_url: login_url.clone(),
            status: Some(*status),
        },
    }
}

/// The decorations `held` may lend now, or why not (the message says
/// what to do).
fn lendable(
    held: &Held,
    anyway: bool,
) -> Result<Arc<crate::confluence::client::Decorations>, ClientError> {
    let blocked = |class: ErrorClass, message: String| ClientError::Blocked { class, message };
    let lent = || {
        held.lent
            .as_ref()
            .map(|l| l.decorations.clone())
            .ok_or_else(|| {
                blocked(
                    ErrorClass::Auth,
                    "no credentials: import browser cookies (`confluence-tui cookies import`) or set CONFLUENCE_API_TOKEN".into(),
                )
            })
    };
    match &held.state {
        SessionState::Checking | SessionState::SignedIn | SessionState::Unreachable { .. } => {
            lent()
        }
        s if s.is_dead() && anyway => lent(),
        SessionState::Expired { reason, .. } => Err(blocked(
            ErrorClass::Auth,
            format!(
                "the session has expired ({reason}); sign in with the browser and import fresh cookies (`confluence-tui cookies import`, or p in the app)"
            ),
        )),
        SessionState::Captcha { login_url, .. } => Err(blocked(
            ErrorClass::Captcha,
            format!(
                "the site demanded a CAPTCHA: sign in through the browser{}, solve it, then import fresh cookies (`check --retry` asks the site again)",
                login_url
                    .as_deref()
                    .map(|u| format!(" at {u}"))
                    .unwrap_or_default()
            ),
        )),
        SessionState::Gateway {
            gateway, login_url, ..
        } => Err(blocked(
            ErrorClass::Auth,
            gateway_message(gateway, login_url.as_deref()),
        )),
        SessionState::Rejected { reason, .. } => Err(blocked(
            ErrorClass::Auth,
            format!(
                "{reason}; store a working token (`confluence-tui token set`) or fresh cookies"
            ),
        )),
        SessionState::NoCredentials { message } => Err(blocked(ErrorClass::Auth, message.clone())),
        SessionState::Failed { class, message } => Err(blocked(*class, message.clone())),
    }
}

/// What to do when a gateway wants its own sign-in, in words.
pub fn gateway_message(
    gateway: &crate::confluence::classify::Gateway,
    login_url: Option<&str>,
) -> String {
    use crate::confluence::classify::Gateway;
    let at = login_url.map(|u| format!(" at {u}")).unwrap_or_default();
    match gateway {
        Gateway::Negotiate => format!(
            "{gateway} in front of the site asks for Kerberos (SPNEGO), which confluence-tui cannot do; sign in through the browser{at} and import the gateway's session cookie, or ask for a service token"
        ),
        _ => format!(
            "{gateway} in front of the site wants you to sign in (Confluence's own credentials are kept): sign in through the browser{at}, then import its cookie (`confluence-tui cookies import`, p in the app) — or, if a service token is stored (`gateway status`), it was refused"
        ),
    }
}
