//! What a refused request does: a dead session or a CAPTCHA marks the cookies
//! expired and is audited; rejected credentials are audited; each is
//! reported with the session's new state.

use std::sync::Arc;

use time::OffsetDateTime;

use super::signed::Signed;
use super::{Asker, Ctx};
use crate::audit::AuditEntry;
use crate::confluence::classify::Outcome;
use crate::confluence::client::{AuthMode, ClientError};
use crate::credentials::CredentialError;
use crate::vault::StoredSession;
use crate::worker::audit_words::{self, CaptchaSeen};
use crate::worker::{SessionInfo, WorkerError};

impl Ctx {
    pub(super) async fn client_error(
        self: &Arc<Self>,
        asker: Asker,
        s: &Arc<Signed>,
        e: ClientError,
    ) {
        match e {
            ClientError::Refused { outcome, path } => self.refused(asker, s, &outcome, &path).await,
            other => self.report(
                asker,
                None,
                WorkerError::new(other.class(), other.to_string()),
            ),
        }
    }

    /// A refusal: dead sessions and CAPTCHAs mark the cookies expired (cookie
    /// mode), are audited, and drop the cached client.
    pub(super) async fn refused(
        self: &Arc<Self>,
        asker: Asker,
        s: &Arc<Signed>,
        outcome: &Outcome,
        path: &str,
    ) {
        let refusal = ClientError::Refused {
            outcome: outcome.clone(),
            path: path.to_string(),
        };
        let error = WorkerError::new(refusal.class(), refusal.to_string());
        let (session, recorded) = match outcome {
            Outcome::SessionExpired { reason, status } => {
                let reason = reason.to_string();
                let recorded = self.expire(s.mode, &reason, Some(*status)).await;
                let session = SessionInfo::Expired {
                    reason,
                    status: Some(*status),
                };
                (Some(session), recorded)
            }
            Outcome::Captcha {
                status,
                login_url,
                off_site_login_ignored,
            } => {
                let seen = CaptchaSeen {
                    login_url: login_url.clone(),
                    off_site_login_ignored: *off_site_login_ignored,
                };
                let recorded = self.captcha(s.mode, *status, seen).await;
                let session = SessionInfo::Captcha {
                    login_url: login_url.clone(),
                    status: *status,
                };
                (Some(session), recorded)
            }
            Outcome::CredentialsRejected { status, .. } => {
                let recorded = self
                    .audit(audit_words::credentials_rejected(s.mode, *status))
                    .await;
                *self.signed.lock().await = None;
                let session = SessionInfo::Failed {
                    error: error.clone(),
                };
                (Some(session), recorded)
            }
            Outcome::Anonymous => {
                let recorded = self.audit(audit_words::answered_anonymous(s.mode)).await;
                *self.signed.lock().await = None;
                let session = SessionInfo::Failed {
                    error: error.clone(),
                };
                (Some(session), recorded)
            }
            _ => (None, Ok(())),
        };
        match recorded {
            Ok(()) => self.report(asker, session, error),
            // The record could not be written (a refused file, a held lock):
            // that is what the user must fix first, and it says how.
            Err(audit_error) => self.report(asker, None, audit_error),
        }
    }

    /// In cookie mode marks the cookies expired (first: the dead cookies
    /// must never be sent again, whatever happens to the audit record), then
    /// audits the lost session.
    async fn expire(
        self: &Arc<Self>,
        mode: AuthMode,
        reason: &str,
        status: Option<u16>,
    ) -> Result<(), WorkerError> {
        let me = self.clone();
        let reason = reason.to_string();
        let recorded = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            if mode == AuthMode::Cookie {
                me.creds
                    .mark_expired(OffsetDateTime::now_utc(), &reason, status)?;
            }
            me.creds
                .record(audit_words::session_lost(mode, &reason, status, None))
        })
        .await;
        *self.signed.lock().await = None;
        blocking_result(recorded, "could not record the expired session")
    }

    /// Stores a CAPTCHA as the session's state (first: it must block the
    /// next attempt whatever happens to the audit record), then audits it.
    /// The cookies are kept: the CAPTCHA, not the session, blocks sign-in.
    async fn captcha(
        self: &Arc<Self>,
        mode: AuthMode,
        status: u16,
        seen: CaptchaSeen,
    ) -> Result<(), WorkerError> {
        let me = self.clone();
        let login_url = seen.login_url.clone();
        let recorded = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            me.creds.set_session(StoredSession::Captcha {
                login_url,
                status: Some(status),
            })?;
            me.creds.record(audit_words::session_lost(
                mode,
                "CAPTCHA challenge",
                Some(status),
                Some(seen),
            ))
        })
        .await;
        *self.signed.lock().await = None;
        blocking_result(recorded, "could not record the CAPTCHA")
    }

    /// Writes an audit record; a failure is the command's failure.
    pub(super) async fn audit(self: &Arc<Self>, entry: AuditEntry) -> Result<(), WorkerError> {
        let me = self.clone();
        let recorded = tokio::task::spawn_blocking(move || me.creds.record(entry)).await;
        blocking_result(recorded, "could not write the audit log")
    }
}

/// A credential operation run on the blocking pool, as the worker reports it.
fn blocking_result(
    r: Result<Result<(), CredentialError>, tokio::task::JoinError>,
    what: &str,
) -> Result<(), WorkerError> {
    match r {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "{what}");
            Err(WorkerError::new(e.class(), e.to_string()))
        }
        Err(e) => {
            tracing::error!(error = %e, "{what}");
            Err(WorkerError::new(
                crate::exit::ErrorClass::Internal,
                format!("{what}: {e}"),
            ))
        }
    }
}
