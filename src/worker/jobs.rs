//! What the worker does for each query and mutation, for one set of settings.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as SyncMutex};

use time::OffsetDateTime;
use tokio::sync::{Mutex, mpsc};

use super::audit_words;
use super::{
    Event, Generation, Generational, Listing, Mutation, MutationDone, Query, QueryKind,
    SessionInfo, StoredInfo, Wait, WorkerError, WorkerOptions,
};
use crate::audit::AuditEntry;
use crate::auth::{AuthError, resolve};
use crate::config::Settings;
use crate::confluence::classify::Outcome;
use crate::confluence::client::{
    AuthMode, Client, ClientError, ClientNotice, ClientOptions, RetryPolicy, detect_deployment,
};
use crate::credentials::{CredentialError, Credentials};
use crate::exit::ErrorClass;

tokio::task_local! {
    /// The query a request belongs to, so a wait notice can say which.
    static CURRENT_QUERY: QueryKind;
}

/// Who a query's answer goes to: a listing's answers carry its generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asker {
    Verify,
    Describe,
    Spaces(Generation),
    Pages(Generation),
}

impl Asker {
    fn kind(self) -> QueryKind {
        match self {
            Asker::Verify => QueryKind::Verify,
            Asker::Describe => QueryKind::Describe,
            Asker::Spaces(_) => QueryKind::Spaces,
            Asker::Pages(_) => QueryKind::Pages,
        }
    }
}

/// Shared by the queries and mutations of one settings generation.
pub(super) struct Ctx {
    settings: Settings,
    creds: Credentials,
    retry: RetryPolicy,
    events: mpsc::UnboundedSender<Event>,
    /// The client for the current credentials, built on first use.
    signed: Mutex<Option<Arc<Signed>>>,
    /// The last `Describe` answer and the vault file it was read from.
    described: SyncMutex<Option<(Option<VaultStamp>, StoredInfo)>>,
}

/// A client and what was resolved to build it.
struct Signed {
    client: Client,
    mode: AuthMode,
    why: String,
    /// The current user was checked not to be anonymous.
    identity_checked: AtomicBool,
    /// The vault file as it was when the credential was read from it.
    vault_seen: SyncMutex<Option<VaultStamp>>,
}

/// Identifies a version of the vault file without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct VaultStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

impl VaultStamp {
    fn of(path: &std::path::Path) -> Option<VaultStamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(VaultStamp {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&m),
        })
    }
}

impl Ctx {
    pub(super) fn new(
        settings: Settings,
        opts: &WorkerOptions,
        events: mpsc::UnboundedSender<Event>,
    ) -> Ctx {
        let creds = Credentials::with_machine_id(&settings, opts.machine_id.clone());
        Ctx {
            settings,
            creds,
            retry: opts.retry.clone(),
            events,
            signed: Mutex::new(None),
            described: SyncMutex::new(None),
        }
    }

    fn send(&self, ev: Event) -> bool {
        self.events.send(ev).is_ok()
    }

    fn vault_stamp(&self) -> Option<VaultStamp> {
        VaultStamp::of(&self.creds.paths().vault_file)
    }

    /// Runs one query to its end (or until aborted by a newer one).
    pub(super) async fn run_query(self: Arc<Self>, query: Query) {
        let kind = query.kind();
        CURRENT_QUERY
            .scope(kind, async move {
                match query {
                    Query::Verify => self.verify().await,
                    Query::Describe => self.describe().await,
                    Query::ListSpaces { generation, max } => {
                        self.list_spaces(generation, max).await
                    }
                    Query::ListPages {
                        generation,
                        space_key,
                        space_id,
                    } => self.list_pages(generation, space_key, space_id).await,
                }
            })
            .await
    }

    /// Runs one credential mutation on the blocking pool (the vault runs
    /// scrypt); it always runs to its end.
    pub(super) async fn run_mutation(
        self: &Arc<Self>,
        m: Mutation,
    ) -> Result<MutationDone, WorkerError> {
        let me = self.clone();
        let done = tokio::task::spawn_blocking(move || {
            let now = OffsetDateTime::now_utc();
            match m {
                Mutation::ImportCookies { input } => me
                    .creds
                    .import(input, now)
                    .map(MutationDone::CookiesImported),
                Mutation::ClearCookies => {
                    me.creds.clear_cookies().map(MutationDone::CookiesCleared)
                }
                Mutation::StoreToken { token } => me
                    .creds
                    .store_token(token, now)
                    .map(|()| MutationDone::TokenStored),
                Mutation::ClearToken => me.creds.clear_token().map(MutationDone::TokenCleared),
                Mutation::ReloadSettings => Ok(MutationDone::SettingsReloaded),
            }
        })
        .await;
        // Whatever happened, the stored credentials may have changed.
        *self.signed.lock().await = None;
        match done {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(credential_error(e)),
            Err(e) => Err(WorkerError::new(
                ErrorClass::Internal,
                format!("the credential operation was interrupted: {e}"),
            )),
        }
    }

    /// Reports a failed query: the session's new state first (when the
    /// failure says something about it), then the failure. A verification is
    /// always answered by a `Session` event.
    fn report(&self, asker: Asker, session: Option<SessionInfo>, error: WorkerError) {
        if asker == Asker::Verify {
            self.send(Event::Session(
                session.unwrap_or(SessionInfo::Failed { error }),
            ));
            return;
        }
        if let Some(s) = session {
            self.send(Event::Session(s));
        }
        // A listing's failure carries its generation like its results, so a
        // replaced listing's failure cannot stop the one that replaced it.
        self.send(match asker {
            Asker::Spaces(g) => Event::Spaces(Generational::new(g, Listing::Failed(error))),
            Asker::Pages(g) => Event::Pages(Generational::new(g, Listing::Failed(error))),
            Asker::Verify | Asker::Describe => Event::Failed {
                query: asker.kind(),
                error,
            },
        });
    }

    /// The client for the current credentials; resolving opens the vault
    /// (scrypt), so it runs on the blocking pool, and again only when the
    /// vault file changed (another process imported or expired cookies).
    async fn signed(self: &Arc<Self>, asker: Asker) -> Option<Arc<Signed>> {
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
        });
        *slot = Some(signed.clone());
        Some(signed)
    }

    /// What is stored; the vault is read (scrypt) only when its file changed
    /// since the last answer.
    async fn describe(self: &Arc<Self>) {
        let stamp = self.vault_stamp();
        let cached = self.described.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|(s, _)| *s == stamp)
                .map(|(_, i)| i.clone())
        });
        if let Some(info) = cached {
            self.send(Event::Stored(Box::new(info)));
            return;
        }
        let me = self.clone();
        let read = tokio::task::spawn_blocking(move || {
            let status = me.creds.status(OffsetDateTime::now_utc());
            // Reading may mark expired cookies in the vault: stamp it after.
            (status, me.vault_stamp())
        })
        .await;
        match read {
            Ok((Ok(status), stamp)) => {
                let info = StoredInfo {
                    status,
                    token_in_environment: self.settings.api_token.is_some(),
                };
                if let Ok(mut c) = self.described.lock() {
                    *c = Some((stamp, info.clone()));
                }
                self.send(Event::Stored(Box::new(info)));
            }
            Ok((Err(e), _)) => self.report(Asker::Describe, None, credential_error(e)),
            Err(e) => self.report(
                Asker::Describe,
                None,
                WorkerError::new(ErrorClass::Internal, e.to_string()),
            ),
        }
    }

    async fn verify(self: &Arc<Self>) {
        let Some(s) = self.signed(Asker::Verify).await else {
            return;
        };
        let result = s.client.current_user().await;
        self.upkeep(&s).await;
        match result {
            Ok(user) if !user.is_anonymous() => {
                s.identity_checked.store(true, Ordering::Relaxed);
                self.audit(audit_words::session_verified(&user.display_name, s.mode))
                    .await;
                self.send(Event::Session(SessionInfo::SignedIn {
                    user,
                    mode: s.mode,
                    why: s.why.clone(),
                    deployment: s.client.deployment(),
                }));
            }
            Ok(_) => {
                self.refused(Asker::Verify, &s, &Outcome::Anonymous, "user/current")
                    .await
            }
            Err(e) => self.client_error(Asker::Verify, &s, e).await,
        }
    }

    /// A listing as an anonymous user is "not signed in", not an empty
    /// success: the identity is checked once per client before listing.
    async fn check_identity(self: &Arc<Self>, asker: Asker, s: &Arc<Signed>) -> bool {
        if s.identity_checked.load(Ordering::Relaxed) {
            return true;
        }
        let result = s.client.current_user().await;
        self.upkeep(s).await;
        match result {
            Ok(user) if !user.is_anonymous() => {
                s.identity_checked.store(true, Ordering::Relaxed);
                true
            }
            Ok(_) => {
                self.refused(asker, s, &Outcome::Anonymous, "user/current")
                    .await;
                false
            }
            Err(e) => {
                self.client_error(asker, s, e).await;
                false
            }
        }
    }

    async fn list_spaces(self: &Arc<Self>, generation: Generation, max: Option<usize>) {
        let Some(s) = self.signed(Asker::Spaces(generation)).await else {
            return;
        };
        if !self.check_identity(Asker::Spaces(generation), &s).await {
            return;
        }
        let stamp = |l| Event::Spaces(Generational::new(generation, l));
        self.send(stamp(Listing::Started));
        let forward = forward_pages(self.events.clone(), stamp);
        let result = s.client.for_each_space_page(max, forward).await;
        self.finish_listing(Asker::Spaces(generation), &s, result, |total| {
            stamp(Listing::Done { total })
        })
        .await;
    }

    async fn list_pages(
        self: &Arc<Self>,
        generation: Generation,
        space_key: String,
        space_id: Option<String>,
    ) {
        let Some(s) = self.signed(Asker::Pages(generation)).await else {
            return;
        };
        if !self.check_identity(Asker::Pages(generation), &s).await {
            return;
        }
        let stamp = |l| Event::Pages(Generational::new(generation, l));
        self.send(stamp(Listing::Started));
        let forward = forward_pages(self.events.clone(), stamp);
        let result = s
            .client
            .for_each_page_of_space(&space_key, space_id.as_deref(), forward)
            .await;
        self.finish_listing(Asker::Pages(generation), &s, result, |total| {
            stamp(Listing::Done { total })
        })
        .await;
    }

    /// After a listing: persist refreshed cookies, then report done or why not.
    async fn finish_listing(
        self: &Arc<Self>,
        asker: Asker,
        s: &Arc<Signed>,
        result: Result<usize, ClientError>,
        done: impl FnOnce(usize) -> Event,
    ) {
        self.upkeep(s).await;
        match result {
            Ok(total) => {
                self.send(done(total));
            }
            Err(e) => self.client_error(asker, s, e).await,
        }
    }

    /// After every request: persist cookies the server refreshed.
    async fn upkeep(self: &Arc<Self>, s: &Arc<Signed>) {
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

    async fn audit(self: &Arc<Self>, entry: AuditEntry) {
        let me = self.clone();
        match tokio::task::spawn_blocking(move || me.creds.record(entry)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not write the audit log"),
            Err(e) => tracing::error!(error = %e, "could not write the audit log"),
        }
    }

    async fn client_error(self: &Arc<Self>, asker: Asker, s: &Arc<Signed>, e: ClientError) {
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
    async fn refused(
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
                self.expire(s.mode, &reason, Some(*status), false, None)
                    .await;
                Some(SessionInfo::Expired {
                    reason,
                    status: Some(*status),
                })
            }
            Outcome::Captcha { status, login_url } => {
                self.expire(
                    s.mode,
                    "CAPTCHA challenge",
                    Some(*status),
                    true,
                    login_url.clone(),
                )
                .await;
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
    async fn expire(
        self: &Arc<Self>,
        mode: AuthMode,
        reason: &str,
        status: Option<u16>,
        captcha: bool,
        login_url: Option<String>,
    ) {
        let me = self.clone();
        let reason = reason.to_string();
        let recorded = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            me.creds.record(audit_words::session_lost(
                mode, &reason, status, captcha, login_url,
            ))?;
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
}

fn credential_error(e: CredentialError) -> WorkerError {
    WorkerError::new(e.class(), e.to_string())
}

/// A page callback for the client that forwards each page as an event with
/// the running count, and stops the listing when nobody listens any more.
fn forward_pages<T>(
    events: mpsc::UnboundedSender<Event>,
    stamp: impl Fn(Listing<T>) -> Event,
) -> impl FnMut(Vec<T>) -> std::ops::ControlFlow<()> {
    let mut loaded = 0usize;
    move |items| {
        loaded += items.len();
        match events.send(stamp(Listing::Items { items, loaded })) {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(_) => std::ops::ControlFlow::Break(()),
        }
    }
}
