//! Verifying the session: who does the site say we are? The keep-alive's
//! verification (and `check`) answers a dead session from the stored state
//! without asking; one the user asks for (`v`, `check --retry`) always asks
//! the site, in every state, and a site that answers as signed in brings
//! the session back (`session_restored`).

use std::sync::Arc;

use time::OffsetDateTime;

use super::SessionError;
use super::audit_words;
use super::owner::{Session, Shared};
use super::state::{Cause, EXPIRING_WITHIN, SessionState, Snapshot, StateWord};
use crate::confluence::authority::Refusal;
use crate::confluence::client::{ClientError, NoticeSink};
use crate::confluence::model::User;
use crate::credentials::CredentialError;
use crate::exit::ErrorClass;
use crate::vault::{StoredSession, VaultStamp};

/// Whether a verification asks the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// Unless the session waits for fresh credentials (expired, a CAPTCHA,
    /// a refused token): then the stored state is the answer. The
    /// keep-alive's, and `check`'s.
    IfUseful,
    /// In every state, with the credentials held even when they were found
    /// dead: the user asked (`v`, `check --retry`).
    Always,
}

impl Session {
    /// Verifies the session and answers with the snapshot it leads to.
    /// `notices` hears the waits before another attempt. An error is a
    /// record of the session that could not be written (the audit log is
    /// part of the command).
    pub async fn verify(
        &self,
        ask: Ask,
        notices: Option<NoticeSink>,
    ) -> Result<Snapshot, SessionError> {
        self.shared.verify(ask, notices).await
    }
}

impl Shared {
    pub(super) async fn verify(
        self: &Arc<Self>,
        ask: Ask,
        notices: Option<NoticeSink>,
    ) -> Result<Snapshot, SessionError> {
        self.ensure_fresh(Cause::Vault).await;
        let cause = Cause::Verified {
            asked: ask == Ask::Always,
        };
        let (skip, was) = {
            let held = self.held();
            let skip = match ask {
                Ask::IfUseful => held.state.waits_for_credentials(),
                Ask::Always => {
                    held.lent.is_none()
                        || matches!(
                            held.state,
                            SessionState::NoCredentials { .. } | SessionState::Failed { .. }
                        )
                }
            };
            (skip, held.state.clone())
        };
        if skip {
            self.reschedule(&mut self.held());
            return self.answer(cause);
        }
        let client = match self.clients() {
            Ok(c) if ask == Ask::Always => c.asker.clone(),
            Ok(c) => c.gate.clone(),
            Err(e) => {
                let mut held = self.held();
                held.state = SessionState::Failed {
                    class: e.class,
                    message: e.message.clone(),
                };
                self.publish(&mut held, cause);
                return Err(e);
            }
        };
        let client = match notices {
            Some(sink) => client.with_notices(sink),
            None => client,
        };
        let generation = self.held().generation;
        match client.current_user().await {
            Ok(user) => self.verified(user, generation, &was, cause).await,
            Err(e) => {
                self.not_verified(e, generation);
                self.answer(cause)
            }
        }
    }

    /// The snapshot as the answer to a verification; a record that could
    /// not be written meanwhile fails it.
    fn answer(&self, cause: Cause) -> Result<Snapshot, SessionError> {
        let mut held = self.held();
        let snapshot = self.publish(&mut held, cause);
        match held.record_failure.take() {
            Some(e) => Err(e),
            None => Ok(snapshot),
        }
    }

    /// The site accepted the credentials of `generation` as `user`.
    pub(super) async fn verified(
        self: &Arc<Self>,
        user: User,
        generation: u64,
        was: &SessionState,
        cause: Cause,
    ) -> Result<Snapshot, SessionError> {
        let now = OffsetDateTime::now_utc();
        let (mode, stored, restore) = {
            let mut held = self.held();
            let Some(lent) = held.lent.clone().filter(|_| held.generation == generation) else {
                // Replaced meanwhile (an import): its own verification speaks.
                drop(held);
                return self.answer(cause);
            };
            let stored = match lent.expires_at {
                Some(at) if at - now <= EXPIRING_WITHIN => StoredSession::Expiring,
                _ => StoredSession::SignedIn,
            };
            let restore = was.is_dead().then(|| was_word(was));
            held.state = SessionState::SignedIn;
            held.user = Some(user.clone());
            held.verified_at = Some(now);
            held.failures = 0;
            held.look_in_browser = false;
            self.reschedule(&mut held);
            let write = restore.is_some() || held.stored.as_ref() != Some(&stored);
            if write {
                held.stored = Some(stored.clone());
            }
            (lent.mode, write.then_some(stored), restore)
        };
        let _io = self.io.lock().await;
        let creds = self.creds.clone();
        let vault = creds.paths().vault_file.clone();
        let before = VaultStamp::of(&vault);
        let name = user.display_name.clone();
        let restored = restore.is_some();
        let written = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            match (stored, restore) {
                (Some(state), Some(was)) => creds.restore_session(
                    now,
                    state,
                    audit_words::session_restored(&name, mode, was.as_str()),
                )?,
                (Some(state), None) => {
                    creds.set_session(state)?;
                }
                (None, _) => {}
            }
            creds.record(audit_words::session_verified(&name, mode))
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.record_failed(SessionError::new(e.class(), e.to_string())),
            Err(e) => self.record_failed(SessionError::new(
                ErrorClass::Internal,
                format!("could not record the verification: {e}"),
            )),
        }
        if restored {
            // The restore revived the stored set's expiry: read it back.
            self.read_vault(Cause::Vault).await;
        } else {
            super::lend::note_own_write(&mut self.held(), before, &vault);
        }
        drop(_io);
        self.answer(cause)
    }

    /// The verification of `generation` did not get a user: a refusal was
    /// judged already (the session ended once); anything else says the site
    /// cannot be reached, which never ends a session.
    fn not_verified(&self, e: ClientError, generation: u64) {
        let mut held = self.held();
        if held.generation != generation {
            return;
        }
        let judged = e.outcome().and_then(Refusal::of).is_some();
        if judged || matches!(e, ClientError::Blocked { .. }) {
            return;
        }
        let class = e.class();
        if held.state.is_dead() {
            // Still dead as far as anyone knows: the site just did not say.
            tracing::info!(error = %e, "the verification got no answer");
            return;
        }
        // A refused client certificate is refused again: the user acts.
        let waits = matches!(e, ClientError::ClientCertificate { .. });
        held.state = if class == ErrorClass::Network && !waits {
            held.failures = held.failures.saturating_add(1);
            SessionState::Unreachable {
                reason: e.to_string(),
            }
        } else {
            SessionState::Failed {
                class,
                message: e.to_string(),
            }
        };
        held.user = None;
        self.reschedule(&mut held);
    }
}

/// How a dead state is named in the `session_restored` record.
fn was_word(state: &SessionState) -> StateWord {
    match state {
        SessionState::Captcha { .. } => StateWord::Captcha,
        SessionState::Gateway { .. } => StateWord::Gateway,
        _ => StateWord::Expired,
    }
}
