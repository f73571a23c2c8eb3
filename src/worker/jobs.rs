//! What the worker does for each query and mutation, for one set of settings.
//! The client for the stored credentials lives in `signed.rs`; what a refusal
//! does to the session (expiry marks, audit records) in `refusal.rs`.

mod browsers;
mod refusal;
mod setup;
mod signed;

use self::signed::Signed;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex as SyncMutex};

use time::OffsetDateTime;
use tokio::sync::{Mutex, mpsc};

use super::audit_words;
use super::{
    Event, Generation, Generational, Listing, Mutation, MutationDone, Query, QueryKind,
    SessionInfo, StoredInfo, WorkerError, WorkerOptions,
};
use crate::config::Settings;
use crate::confluence::classify::Outcome;
use crate::confluence::client::{ClientError, RetryPolicy};
use crate::credentials::{CredentialError, Credentials, ImportInput};
use crate::exit::ErrorClass;
use crate::vault::{StoredSession, VaultStamp};

tokio::task_local! {
    /// The query a request belongs to, so a wait notice can say which.
    static CURRENT_QUERY: QueryKind;
}

/// Who a query's answer goes to: a listing's answers carry its generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Asker {
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

    /// Runs one query to its end (or until aborted by a newer one).
    pub(super) async fn run_query(self: Arc<Self>, query: Query) {
        let kind = query.kind();
        CURRENT_QUERY
            .scope(kind, async move {
                match query {
                    Query::Verify => self.verify(false).await,
                    Query::VerifyAgain => self.verify(true).await,
                    Query::Describe => self.describe().await,
                    Query::ListSpaces { generation, max } => {
                        self.list_spaces(generation, max).await
                    }
                    Query::ListPages {
                        generation,
                        space_key,
                        space_id,
                    } => self.list_pages(generation, space_key, space_id).await,
                    Query::ProbeSite { url } => self.probe_site(url).await,
                    Query::ListBrowserProfiles => self.list_browser_profiles().await,
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
                Mutation::ImportIntake => {
                    // Emptied since the file event (imported already): no
                    // import, no failure to audit.
                    let intake = &me.creds.paths().intake_file;
                    let empty = std::fs::symlink_metadata(intake).is_ok_and(|m| m.len() == 0)
                        || !intake.exists();
                    if empty {
                        Ok(MutationDone::NothingToImport)
                    } else {
                        match me.creds.import(ImportInput::IntakeFile, now) {
                            Err(CredentialError::IntakeEmpty { .. }) => {
                                Ok(MutationDone::NothingToImport)
                            }
                            other => other.map(MutationDone::CookiesImported),
                        }
                    }
                }
                Mutation::ImportFromBrowser { profile } => {
                    let spec = crate::browser::BrowserSpec {
                        choice: crate::browser::BrowserChoice::One(profile.kind),
                        profile: Some(profile.dir),
                    };
                    me.creds
                        .import_from_browser(&spec, now)
                        .map(MutationDone::CookiesImported)
                }
                Mutation::ImportFreshBrowserSession => Ok(me.import_fresh_browser_session(now)),
                Mutation::ClearCookies => me
                    .creds
                    .clear_cookies(crate::credentials::SiteScope::Configured)
                    .map(MutationDone::CookiesCleared),
                Mutation::StoreToken { token, username } => me
                    .creds
                    .store_token(token, username, now)
                    .map(|()| MutationDone::TokenStored),
                Mutation::ClearToken => me
                    .creds
                    .clear_token(crate::credentials::SiteScope::Configured)
                    .map(|n| MutationDone::TokenCleared(n > 0)),
                Mutation::ReloadSettings => Ok(MutationDone::SettingsReloaded),
                // Run by `write_site_settings`, never here.
                Mutation::WriteSiteSettings { .. } => Err(CredentialError::Interrupted(
                    "the settings are written by the worker's setup step".into(),
                )),
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

    /// Checks a token with the site before `StoreToken` stores it; a
    /// refusal is audited. Without a site the store itself says what is
    /// missing.
    pub(super) async fn check_token_first(
        self: &Arc<Self>,
        token: &crate::secret::SecretString,
        username: Option<&str>,
    ) -> Result<(), WorkerError> {
        if self.settings.base_url.is_none() {
            return Ok(());
        }
        let events = self.events.clone();
        let notices: crate::confluence::client::NoticeSink = Arc::new(move |n| {
            let crate::confluence::client::ClientNotice::Waiting {
                wait,
                next_attempt,
                reason,
            } = n;
            let _ = events.send(Event::Waiting(super::Wait {
                query: QueryKind::Verify,
                wait,
                next_attempt,
                reason,
            }));
        });
        let checked = super::check_token(
            &self.settings,
            self.retry.clone(),
            username,
            token,
            Some(notices),
        )
        .await;
        match checked {
            Ok(_) => Ok(()),
            Err(e) => {
                if let Some(record) = super::token_refused_record(&e) {
                    // The refusal is the answer; a failed record is logged.
                    if let Err(audit) = self.audit(record).await {
                        tracing::warn!(error = %audit, "could not audit the refused token");
                    }
                }
                Err(e)
            }
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

    /// Verifies the session; `again` (asked by the user) asks the site
    /// even in the CAPTCHA state.
    async fn verify(self: &Arc<Self>, again: bool) {
        let Some(s) = self.signed(Asker::Verify).await else {
            return;
        };
        if !again && self.held_by_captcha(Asker::Verify, &s) {
            return;
        }
        let result = s.client.current_user().await;
        self.upkeep(&s).await;
        match result {
            Ok(user) if !user.is_anonymous() => {
                s.identity_checked.store(true, Ordering::Relaxed);
                let recorded = self
                    .audit(audit_words::session_verified(&user.display_name, s.mode))
                    .await;
                if let Err(e) = recorded {
                    // Signed in, but the record of it cannot be kept: the
                    // user must fix the audit log (the message says how).
                    self.report(Asker::Verify, None, e);
                    return;
                }
                let now = OffsetDateTime::now_utc();
                let state = match s.expires_at {
                    Some(at) if at - now <= super::EXPIRING_WITHIN => StoredSession::Expiring,
                    _ => StoredSession::SignedIn,
                };
                self.remember(&s, state).await;
                self.send(Event::Session(SessionInfo::SignedIn {
                    user,
                    mode: s.mode,
                    why: s.why.clone(),
                    deployment: s.client.deployment(),
                    expires_at: s.expires_at,
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
        if self.held_by_captcha(Asker::Spaces(generation), &s) {
            return;
        }
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
        if self.held_by_captcha(Asker::Pages(generation), &s) {
            return;
        }
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
