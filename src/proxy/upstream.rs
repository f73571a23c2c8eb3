//! The site's side of the proxy: the credentials in force (resolved from
//! the settings and the vault, and again only when the vault file changed,
//! so scrypt never runs per request), what a dead session or a CAPTCHA does
//! to them (marked in the vault, audited, and every later request refused
//! at once until fresh credentials are stored), and the cookies the site
//! refreshed, saved to the vault in the background.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex, PoisonError};

use axum::http::HeaderMap;
use time::OffsetDateTime;
use tokio::sync::{Mutex, mpsc, oneshot};
use url::Url;

use crate::auth::{AuthError, resolve};
use crate::config::Settings;
use crate::confluence::auth::auth_headers;
use crate::confluence::client::{AuthMode, Credential};
use crate::confluence::refresh::Refreshed;
use crate::credentials::{CredentialError, Credentials};
use crate::vault::{StoredSession, VaultStamp};
use crate::worker::audit_words::{self, CaptchaSeen};

/// The credentials of one resolution, shared by the requests that use them.
pub(super) struct Signed {
    credential: SyncMutex<Credential>,
    pub(super) mode: AuthMode,
    /// When the stored cookie set expires: which set the jar was read from.
    set_expires_at: Option<OffsetDateTime>,
    refreshed: Refreshed,
    /// A refusal of the token was audited already.
    rejection_audited: AtomicBool,
}

impl Signed {
    fn new(resolved: Resolved) -> Signed {
        let Resolved {
            credential,
            expires_at,
        } = resolved;
        Signed {
            set_expires_at: expires_at,
            mode: credential.mode(),
            credential: SyncMutex::new(credential),
            refreshed: Refreshed::default(),
            rejection_audited: AtomicBool::new(false),
        }
    }

    fn credential(&self) -> std::sync::MutexGuard<'_, Credential> {
        self.credential
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The headers carrying the credentials to `url` (only on the site's
    /// origin; of cookies, only those that match `url`).
    pub(super) fn auth_headers(&self, site: &Url, url: &Url) -> HeaderMap {
        auth_headers(&self.credential(), site, url)
    }

    /// Takes refreshed values of stored cookies from an answer's
    /// `Set-Cookie`s (same domain, size and count rules as the client);
    /// true when any value changed.
    pub(super) fn absorb(&self, headers: &HeaderMap, from: &Url, site: &Url) -> bool {
        self.refreshed
            .absorb(&mut self.credential(), headers, from, site);
        self.mode == AuthMode::Cookie && self.refreshed.pending()
    }
}

/// Credentials read from the settings and the vault.
pub(super) struct Resolved {
    pub credential: Credential,
    /// When the stored cookies expire (cookie mode).
    pub expires_at: Option<OffsetDateTime>,
}

/// What a request finds when it asks for the credentials.
#[derive(Clone)]
pub(super) enum Session {
    /// Credentials to send.
    Ready(Arc<Signed>),
    /// The cookie session died; nothing is sent until fresh credentials.
    Dead { reason: String },
    /// A CAPTCHA blocks sign-in; nothing is sent until fresh credentials.
    Captcha { login_url: Option<String> },
    /// No usable credentials (none stored any more, a vault that cannot be
    /// read): the message says what to do.
    Unusable { message: String },
}

/// The session in force and the vault file it was learnt from.
struct Held {
    session: Session,
    stamp: Option<VaultStamp>,
}

/// Work for the background saver.
enum SaverJob {
    Save(Arc<Signed>),
    /// Answered once every save asked before it is done.
    Flush(oneshot::Sender<()>),
}

/// The credentials in force for the configured site.
pub(super) struct Upstream {
    settings: Settings,
    creds: Arc<Credentials>,
    held: Arc<Mutex<Held>>,
    saver: mpsc::UnboundedSender<SaverJob>,
}

impl Upstream {
    /// Starts with credentials already resolved (see `resolve_now`), and
    /// the background saver on the current runtime.
    pub(super) fn new(
        settings: Settings,
        creds: Arc<Credentials>,
        first: Resolved,
        stamp: Option<VaultStamp>,
    ) -> Upstream {
        let held = Arc::new(Mutex::new(Held {
            session: Session::Ready(Arc::new(Signed::new(first))),
            stamp,
        }));
        let (saver, jobs) = mpsc::unbounded_channel();
        tokio::spawn(save_refreshed(creds.clone(), held.clone(), jobs));
        Upstream {
            settings,
            creds,
            held,
            saver,
        }
    }

    fn stamp(&self) -> Option<VaultStamp> {
        VaultStamp::of(&self.creds.paths().vault_file)
    }

    /// The session for a request: the one held, unless the vault file
    /// changed since (another process imported, refreshed or cleared
    /// credentials), then resolved again (one scrypt run, on the blocking
    /// pool, one request at a time).
    pub(super) async fn current(&self) -> Session {
        let mut held = self.held.lock().await;
        let stamp = self.stamp();
        if held.stamp == stamp {
            return held.session.clone();
        }
        let settings = self.settings.clone();
        let creds = self.creds.clone();
        let resolved = tokio::task::spawn_blocking(move || resolve_now(&settings, &creds)).await;
        let session = match resolved {
            Ok(Ok(resolved)) => Session::Ready(Arc::new(Signed::new(resolved))),
            Ok(Err(refused)) => refused,
            Err(e) => Session::Unusable {
                message: format!("the credentials could not be read: {e}"),
            },
        };
        tracing::info!(
            state = session_word(&session),
            "the vault changed; credentials read again"
        );
        held.session = session.clone();
        held.stamp = stamp;
        session
    }

    /// The session `signed` belongs to died: the cookies are marked
    /// expired in the vault and audited (first: the dead cookies must never
    /// be sent again), and every later request is refused at once. True
    /// when this call ended it (a death seen by several requests at once,
    /// or after fresh credentials arrived, is acted on once).
    pub(super) async fn died(&self, signed: &Arc<Signed>, reason: &str, status: u16) -> bool {
        let mut held = self.held.lock().await;
        if !is_current(&held, signed) {
            return false;
        }
        let (creds, mode, why) = (self.creds.clone(), signed.mode, reason.to_string());
        let written = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            if mode == AuthMode::Cookie {
                creds.mark_expired(OffsetDateTime::now_utc(), &why, Some(status))?;
            }
            creds.record(audit_words::session_lost(mode, &why, Some(status), None))
        })
        .await;
        report_failure(written, "could not record the expired session");
        held.session = Session::Dead {
            reason: reason.to_string(),
        };
        // Our own write: not a reason to read the vault again.
        held.stamp = self.stamp();
        true
    }

    /// A CAPTCHA: stored as the session's state (it blocks every process
    /// until fresh credentials) and audited; later requests are refused at
    /// once. True when this call recorded it.
    pub(super) async fn captcha(
        &self,
        signed: &Arc<Signed>,
        status: u16,
        login_url: Option<String>,
        off_site_login_ignored: bool,
    ) -> bool {
        let mut held = self.held.lock().await;
        if !is_current(&held, signed) {
            return false;
        }
        let (creds, mode, url) = (self.creds.clone(), signed.mode, login_url.clone());
        let written = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            creds.set_session(StoredSession::Captcha {
                login_url: url.clone(),
                status: Some(status),
            })?;
            let seen = CaptchaSeen {
                login_url: url,
                off_site_login_ignored,
            };
            creds.record(audit_words::session_lost(
                mode,
                "CAPTCHA challenge",
                Some(status),
                Some(seen),
            ))
        })
        .await;
        report_failure(written, "could not record the CAPTCHA");
        held.session = Session::Captcha { login_url };
        held.stamp = self.stamp();
        true
    }

    /// The site refused the stored token: audited once per resolution.
    pub(super) async fn rejected(&self, signed: &Arc<Signed>, status: u16) {
        if signed.rejection_audited.swap(true, Ordering::Relaxed) {
            return;
        }
        let (creds, mode) = (self.creds.clone(), signed.mode);
        let written = tokio::task::spawn_blocking(move || {
            creds.record(audit_words::credentials_rejected(mode, status))
        })
        .await;
        report_failure(written, "could not record the refused credentials");
    }

    /// Saves `signed`'s refreshed cookies to the vault soon, in the
    /// background (saves asked in a burst are done once).
    pub(super) fn save_later(&self, signed: &Arc<Signed>) {
        let _ = self.saver.send(SaverJob::Save(signed.clone()));
    }

    /// Waits until every save asked so far is done.
    pub(super) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.saver.send(SaverJob::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// Resolves the credentials now (scrypt: on a blocking thread), or the
/// session that refuses requests instead.
pub(super) fn resolve_now(settings: &Settings, creds: &Credentials) -> Result<Resolved, Session> {
    match resolve(settings, creds, OffsetDateTime::now_utc()) {
        Ok(r) => match r.stored {
            Some(StoredSession::Captcha { login_url, .. }) => Err(Session::Captcha { login_url }),
            _ => Ok(Resolved {
                credential: r.credential,
                expires_at: r.expires_at,
            }),
        },
        Err(AuthError::CookiesExpired { reason }) => Err(Session::Dead { reason }),
        Err(e) => Err(Session::Unusable {
            message: e.to_string(),
        }),
    }
}

fn is_current(held: &Held, signed: &Arc<Signed>) -> bool {
    matches!(&held.session, Session::Ready(s) if Arc::ptr_eq(s, signed))
}

fn session_word(s: &Session) -> &'static str {
    match s {
        Session::Ready(_) => "ready",
        Session::Dead { .. } => "expired",
        Session::Captcha { .. } => "captcha",
        Session::Unusable { .. } => "no_credentials",
    }
}

fn report_failure(
    r: Result<Result<(), CredentialError>, tokio::task::JoinError>,
    what: &'static str,
) {
    match r {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "{what}"),
        Err(e) => tracing::error!(error = %e, "{what}"),
    }
}

/// The background saver: writes refreshed cookies of the credentials still
/// in force (a jar replaced by an import is never written back over it).
async fn save_refreshed(
    creds: Arc<Credentials>,
    held: Arc<Mutex<Held>>,
    mut jobs: mpsc::UnboundedReceiver<SaverJob>,
) {
    while let Some(job) = jobs.recv().await {
        let mut batch = vec![job];
        while let Ok(more) = jobs.try_recv() {
            batch.push(more);
        }
        let mut flushes = Vec::new();
        let mut saved: Vec<Arc<Signed>> = Vec::new();
        for job in batch {
            match job {
                SaverJob::Flush(done) => flushes.push(done),
                SaverJob::Save(signed) if !saved.iter().any(|s| Arc::ptr_eq(s, &signed)) => {
                    save_one(&creds, &held, &signed).await;
                    saved.push(signed);
                }
                SaverJob::Save(_) => {}
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

async fn save_one(creds: &Arc<Credentials>, held: &Arc<Mutex<Held>>, signed: &Arc<Signed>) {
    let before = {
        let held = held.lock().await;
        if !is_current(&held, signed) {
            return;
        }
        held.stamp.clone()
    };
    let Some((jar, names)) = signed.refreshed.take(&signed.credential()) else {
        return;
    };
    let vault = creds.paths().vault_file.clone();
    let (c, seen, set) = (creds.clone(), before.clone(), signed.set_expires_at);
    let written = tokio::task::spawn_blocking(move || {
        let untouched = VaultStamp::of(&vault) == seen;
        // Into the set the jar came from only: an import made meanwhile
        // is a new set, never overwritten with an older session's cookies.
        let r = c.refresh_cookies_of(set, jar, &names);
        (r, untouched, VaultStamp::of(&vault))
    })
    .await;
    match written {
        Ok((Ok(_), untouched, after)) => {
            let mut held = held.lock().await;
            // Only our own write happened since the vault was read: no need
            // to read it again. Otherwise the next request reads it (and
            // finds our cookies in it).
            if untouched && is_current(&held, signed) && held.stamp == before {
                held.stamp = after;
            }
        }
        Ok((Err(e), _, _)) => tracing::warn!(error = %e, "could not save refreshed cookies"),
        Err(e) => tracing::warn!(error = %e, "could not save refreshed cookies"),
    }
}
