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
        let session = match outcome {
            Outcome::SessionExpired { reason, status } => {
                let reason = reason.to_string();
                self.expire(s.mode, &reason, Some(*status)).await;
                Some(SessionInfo::Expired {
                    reason,
                    status: Some(*status),
                })
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
                self.captcha(s.mode, *status, seen).await;
                Some(SessionInfo::Captcha {
                    login_url: login_url.clone(),
                    status: *status,
                })
            }
            Outcome::CredentialsRejected { status, .. } => {
                self.audit(audit_words::credentials_rejected(s.mode, *status))
                    .await;
                *self.signed.lock().await = None;
                Some(SessionInfo::Failed {
                    error: error.clone(),
                })
            }
            Outcome::Anonymous => {
                self.audit(audit_words::answered_anonymous(s.mode)).await;
                *self.signed.lock().await = None;
                Some(SessionInfo::Failed {
                    error: error.clone(),
                })
            }
            _ => None,
        };
        self.report(asker, session, error);
    }

    /// Audits a lost session and, in cookie mode, marks the cookies expired.
    async fn expire(self: &Arc<Self>, mode: AuthMode, reason: &str, status: Option<u16>) {
        let me = self.clone();
        let reason = reason.to_string();
        let recorded = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            me.creds
                .record(audit_words::session_lost(mode, &reason, status, None))?;
            if mode == AuthMode::Cookie {
                me.creds
                    .mark_expired(OffsetDateTime::now_utc(), &reason, status)?;
            }
            Ok(())
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not record the expired session"),
            Err(e) => tracing::error!(error = %e, "could not record the expired session"),
        }
        *self.signed.lock().await = None;
    }

    /// Audits a CAPTCHA and stores it as the session's state (the cookies
    /// are kept: the CAPTCHA, not the session, blocks sign-in).
    async fn captcha(self: &Arc<Self>, mode: AuthMode, status: u16, seen: CaptchaSeen) {
        let me = self.clone();
        let login_url = seen.login_url.clone();
        let recorded = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            me.creds.record(audit_words::session_lost(
                mode,
                "CAPTCHA challenge",
                Some(status),
                Some(seen),
            ))?;
            me.creds.set_session(StoredSession::Captcha {
                login_url,
                status: Some(status),
            })?;
            Ok(())
        })
        .await;
        match recorded {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not record the CAPTCHA"),
            Err(e) => tracing::error!(error = %e, "could not record the CAPTCHA"),
        }
        *self.signed.lock().await = None;
    }

    pub(super) async fn audit(self: &Arc<Self>, entry: AuditEntry) {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.creds.record(entry)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not write the audit log"),
            Err(e) => tracing::error!(error = %e, "could not write the audit log"),
        }
    }
}
