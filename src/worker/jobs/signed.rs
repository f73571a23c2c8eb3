//! The client for the current credentials: resolved from the settings and
//! the vault (scrypt) on first use, and again only when the vault file
//! changed; cookies the site refreshed are saved back.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex as SyncMutex};

use time::OffsetDateTime;

use super::{Asker, CURRENT_QUERY, Ctx, credential_error};
use crate::auth::{AuthError, resolve};
use crate::confluence::client::{AuthMode, Client, ClientNotice, ClientOptions, detect_deployment};
use crate::exit::ErrorClass;
use crate::vault::{StoredSession, VaultStamp};
use crate::worker::{Event, QueryKind, SessionInfo, Wait, WorkerError};

/// A client and what was resolved to build it.
pub(super) struct Signed {
    pub(super) client: Client,
    pub(super) mode: AuthMode,
    pub(super) why: String,
    /// The current user was checked not to be anonymous.
    pub(super) identity_checked: AtomicBool,
    /// The vault file as it was when the credential was read from it.
    pub(super) vault_seen: SyncMutex<Option<VaultStamp>>,
    /// When the stored cookies expire (cookie mode only).
    pub(super) expires_at: Option<OffsetDateTime>,
    /// The session state the vault held (or this process last stored).
    pub(super) stored: SyncMutex<Option<StoredSession>>,
}

impl Ctx {
    pub(super) fn vault_stamp(&self) -> Option<VaultStamp> {
        VaultStamp::of(&self.creds.paths().vault_file)
    }

    /// The client for the current credentials; resolving opens the vault
    /// (scrypt), so it runs on the blocking pool, and again only when the
    /// vault file changed (another process imported or expired cookies).
    pub(super) async fn signed(self: &Arc<Self>, asker: Asker) -> Option<Arc<Signed>> {
        let mut slot = self.signed.lock().await;
        if let Some(s) = slot.as_ref() {
            let seen = s.vault_seen.lock().map(|v| v.clone()).ok().flatten();
            if seen == self.vault_stamp() {
                return Some(s.clone());
            }
        }
        *slot = None;
        let base = match self.settings.require_base_url() {
            Ok(b) => b.clone(),
            Err(e) => {
                let message = e.to_string();
                self.report(
                    asker,
                    Some(SessionInfo::NotConfigured {
                        message: message.clone(),
                    }),
                    WorkerError::new(ErrorClass::Usage, message),
                );
                return None;
            }
        };
        let me = self.clone();
        let resolved = tokio::task::spawn_blocking(move || {
            let stamp = me.vault_stamp();
            resolve(&me.settings, &me.creds, OffsetDateTime::now_utc()).map(|r| (r, stamp))
        })
        .await;
        let (resolved, stamp) = match resolved {
            Ok(Ok(r)) => r,
            Ok(Err(AuthError::NotConfigured(message))) => {
                self.report(
                    asker,
                    Some(SessionInfo::NotConfigured {
                        message: message.clone(),
                    }),
                    WorkerError::new(ErrorClass::Auth, message),
                );
                return None;
            }
            Ok(Err(e @ AuthError::CookiesExpired { .. })) => {
                let reason = e.to_string();
                self.report(
                    asker,
                    Some(SessionInfo::Expired {
                        reason: reason.clone(),
                        status: None,
                    }),
                    WorkerError::new(ErrorClass::Auth, reason),
                );
                return None;
            }
            Ok(Err(AuthError::Credentials(e))) => {
                self.report(asker, None, credential_error(e));
                return None;
            }
            Err(e) => {
                self.report(
                    asker,
                    None,
                    WorkerError::new(ErrorClass::Internal, e.to_string()),
                );
                return None;
            }
        };
        let mode = resolved.credential.mode();
        let (expires_at, stored) = (resolved.expires_at, resolved.stored.clone());
        let events = self.events.clone();
        let opts = ClientOptions {
            deployment: detect_deployment(&base, self.settings.deployment),
            base_url: base,
            credential: resolved.credential,
            timeout: self.settings.timeout,
            ca_bundle: self.settings.ca_bundle.clone(),
            retry: self.retry.clone(),
        };
        let client = match Client::new(opts) {
            Ok(c) => c.with_notices(Arc::new(move |n: ClientNotice| {
                let ClientNotice::Waiting {
                    wait,
                    next_attempt,
                    reason,
                } = n;
                let query = CURRENT_QUERY.try_with(|k| *k).unwrap_or(QueryKind::Verify);
                let _ = events.send(Event::Waiting(Wait {
                    query,
                    wait,
                    next_attempt,
                    reason,
                }));
            })),
            Err(e) => {
                self.report(asker, None, WorkerError::new(e.class(), e.to_string()));
                return None;
            }
        };
        let signed = Arc::new(Signed {
            client,
            mode,
            why: resolved.why,
            identity_checked: AtomicBool::new(false),
            vault_seen: SyncMutex::new(stamp),
            expires_at,
            stored: SyncMutex::new(stored),
        });
        *slot = Some(signed.clone());
        Some(signed)
    }

    /// In the CAPTCHA state nothing asks the site behind the user's back:
    /// the stored CAPTCHA is the answer. True when it was answered so.
    pub(super) fn held_by_captcha(&self, asker: Asker, s: &Signed) -> bool {
        let stored = s.stored.lock().map(|v| v.clone()).ok().flatten();
        let Some(StoredSession::Captcha { login_url, status }) = stored else {
            return false;
        };
        let message = format!(
            "the site demanded a CAPTCHA: sign in through the browser{}, solve it, then import fresh cookies (`check --retry` asks the site again)",
            login_url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default()
        );
        self.report(
            asker,
            Some(SessionInfo::Captcha {
                login_url,
                status: status.unwrap_or(403),
            }),
            WorkerError::new(ErrorClass::Captcha, message),
        );
        true
    }

    /// Stores the session's state with the site's credentials when it
    /// changed; our own write does not make the client stale.
    pub(super) async fn remember(self: &Arc<Self>, s: &Arc<Signed>, state: StoredSession) {
        let known = s.stored.lock().map(|v| v.clone()).ok().flatten();
        if known.as_ref() == Some(&state) {
            return;
        }
        let me = self.clone();
        let to_store = state.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let r = me.creds.set_session(to_store);
            (r, me.vault_stamp())
        })
        .await;
        match saved {
            Ok((Ok(_), stamp)) => {
                if let Ok(mut seen) = s.vault_seen.lock() {
                    *seen = stamp;
                }
                if let Ok(mut stored) = s.stored.lock() {
                    *stored = Some(state);
                }
            }
            Ok((Err(e), _)) => tracing::warn!(error = %e, "could not record the session state"),
            Err(e) => tracing::warn!(error = %e, "could not record the session state"),
        }
    }

    /// After every request: persist cookies the server refreshed.
    pub(super) async fn upkeep(self: &Arc<Self>, s: &Arc<Signed>) {
        if s.mode != AuthMode::Cookie {
            return;
        }
        let Some((jar, names)) = s.client.take_refreshed() else {
            return;
        };
        let me = self.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let r = me.creds.refresh_cookies(jar, &names);
            (r, me.vault_stamp())
        })
        .await;
        match saved {
            Ok((Ok(_), stamp)) => {
                // Our own write: the client already holds these cookies.
                if let Ok(mut seen) = s.vault_seen.lock() {
                    *seen = stamp;
                }
            }
            Ok((Err(e), _)) => tracing::warn!(error = %e, "could not save refreshed cookies"),
            Err(e) => tracing::warn!(error = %e, "could not save refreshed cookies"),
        }
    }
}
