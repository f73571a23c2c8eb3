//! What the worker does for each query and mutation, for one set of
//! settings: their session owner lends every request its credentials and
//! takes every credential change.

mod browsers;
mod setup;

use std::sync::{Arc, Mutex as SyncMutex};

use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::{
    Event, Generation, Generational, Listing, Mutation, MutationDone, Query, QueryKind, StoredInfo,
    WorkerError, WorkerOptions,
};
use crate::config::Settings;
use crate::confluence::client::{Client, ClientError, ClientNotice, NoticeSink};
use crate::credentials::{CredentialError, ImportInput};
use crate::exit::ErrorClass;
use crate::session::{
    Ask, FirstCheck, Session, SessionConfig, SessionOwner, SessionState, Verify, Watch,
};
use crate::vault::VaultStamp;

tokio::task_local! {
    /// The query a request belongs to, so a wait notice can say which.
    static CURRENT_QUERY: QueryKind;
}

/// Who a query's answer goes to: a listing's answers carry its generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Asker {
    Spaces(Generation),
    Pages(Generation),
}

/// Shared by the queries and mutations of one settings generation.
pub(super) struct Ctx {
    settings: Settings,
    owner: SessionOwner,
    events: mpsc::UnboundedSender<Event>,
    /// The last `Describe` answer and the vault file it was read from.
    described: SyncMutex<Option<(Option<VaultStamp>, StoredInfo)>>,
}

impl Ctx {
    pub(super) fn new(
        settings: Settings,
        opts: &WorkerOptions,
        events: mpsc::UnboundedSender<Event>,
    ) -> Ctx {
        let watch = if opts.keep_alive {
            Watch::from_settings(&settings, FirstCheck::AfterInterval)
        } else {
            Watch::none()
        };
        let owner = Session::start(SessionConfig {
            settings: settings.clone(),
            machine_id: opts.machine_id.clone(),
            retry: opts.retry.clone(),
            login_page: opts.login_page.clone(),
            watch,
        });
        Ctx {
            settings,
            owner,
            events,
            described: SyncMutex::new(None),
        }
    }

    /// The session owner of these settings.
    pub(super) fn session(&self) -> Session {
        self.owner.session()
    }

    fn send(&self, ev: Event) -> bool {
        self.events.send(ev).is_ok()
    }

    /// Wait notices of the running query, as events.
    fn notices(&self) -> NoticeSink {
        let events = self.events.clone();
        Arc::new(move |n: ClientNotice| {
            let ClientNotice::Waiting {
                wait,
                next_attempt,
                reason,
            } = n;
            let query = CURRENT_QUERY.try_with(|k| *k).unwrap_or(QueryKind::Verify);
            let _ = events.send(Event::Waiting(super::Wait {
                query,
                wait,
                next_attempt,
                reason,
            }));
        })
    }

    /// Runs one query to its end (or until aborted by a newer one).
    pub(super) async fn run_query(self: Arc<Self>, query: Query) {
        let kind = query.kind();
        CURRENT_QUERY
            .scope(kind, async move {
                match query {
                    Query::Verify => self.verify(Ask::IfUseful).await,
                    Query::VerifyAgain => self.verify(Ask::Always).await,
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

    /// Runs one credential mutation through the session owner; it always
    /// runs to its end.
    pub(super) async fn run_mutation(
        self: &Arc<Self>,
        m: Mutation,
    ) -> Result<MutationDone, WorkerError> {
        let session = self.owner.session();
        let notices = Some(self.notices());
        let done = match m {
            Mutation::ImportCookies { input } => session
                .import(input, Verify::First, notices)
                .await
                .map(|i| MutationDone::CookiesImported(i.report)),
            Mutation::ImportIntake => {
                // Emptied since the file event (imported already): no
                // import, no failure to audit.
                let intake = self.owner.credentials().paths().intake_file.clone();
                let empty = std::fs::symlink_metadata(&intake).is_ok_and(|m| m.len() == 0)
                    || !intake.exists();
                if empty {
                    Ok(MutationDone::NothingToImport)
                } else {
                    session
                        .import(ImportInput::IntakeFile, Verify::First, notices)
                        .await
                        .map(|i| MutationDone::CookiesImported(i.report))
                }
            }
            Mutation::ImportFromBrowser { profile } => {
                let spec = crate::browser::BrowserSpec {
                    choice: crate::browser::BrowserChoice::One(profile.kind),
                    profile: Some(profile.dir),
                };
                session
                    .import_from_browser(spec, Verify::First, notices)
                    .await
                    .map(|i| MutationDone::CookiesImported(i.report))
            }
            Mutation::ClearCookies => session
                .clear_cookies()
                .await
                .map(MutationDone::CookiesCleared),
            Mutation::StoreToken { token, username } => session
                .store_token(token, username, Verify::First, notices)
                .await
                .map(|_| MutationDone::TokenStored),
            Mutation::ClearToken => session.clear_token().await.map(MutationDone::TokenCleared),
            Mutation::ReloadSettings => Ok(MutationDone::SettingsReloaded),
            // Run by `write_site_settings`, never here.
            Mutation::WriteSiteSettings { .. } => {
                return Err(WorkerError::new(
                    ErrorClass::Internal,
                    "the settings are written by the worker's setup step",
                ));
            }
        };
        done.map_err(WorkerError::from)
    }

    /// Verifies the session; answered by `Event::Verified`.
    async fn verify(self: &Arc<Self>, ask: Ask) {
        let (snapshot, problem) = match self.owner.verify(ask, Some(self.notices())).await {
            Ok(s) => (s, None),
            Err(e) => (self.owner.snapshot(), Some(WorkerError::from(e))),
        };
        // Cookies the site refreshed are saved before anyone hears the
        // answer (a one-shot command exits right after).
        self.owner.flush().await;
        self.send(Event::Verified { snapshot, problem });
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
            let status = me.owner.credentials().status(OffsetDateTime::now_utc());
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
            Ok((Err(e), _)) => {
                self.send(Event::Failed {
                    query: QueryKind::Describe,
                    error: credential_error(e),
                });
            }
            Err(e) => {
                self.send(Event::Failed {
                    query: QueryKind::Describe,
                    error: WorkerError::new(ErrorClass::Internal, e.to_string()),
                });
            }
        }
    }

    fn vault_stamp(&self) -> Option<VaultStamp> {
        VaultStamp::of(&self.owner.credentials().paths().vault_file)
    }

    /// A listing's failure, carrying its generation like its results, so a
    /// replaced listing's failure cannot stop the one that replaced it.
    fn fail_listing(&self, asker: Asker, error: WorkerError) {
        self.send(match asker {
            Asker::Spaces(g) => Event::Spaces(Generational::new(g, Listing::Failed(error))),
            Asker::Pages(g) => Event::Pages(Generational::new(g, Listing::Failed(error))),
        });
    }

    /// A client for a listing, once the session is known to be signed in
    /// (a listing as an anonymous user is "not signed in", not an empty
    /// success): verified first when it was not yet.
    async fn signed_in_client(self: &Arc<Self>, asker: Asker) -> Option<Client> {
        if self.owner.snapshot().state != SessionState::SignedIn {
            let checked = self.owner.verify(Ask::IfUseful, Some(self.notices())).await;
            let failure = match checked {
                Ok(s) if s.is_signed_in() => None,
                Ok(s) => Some(state_error(&s.state)),
                Err(e) => Some(WorkerError::from(e)),
            };
            if let Some(error) = failure {
                self.fail_listing(asker, error);
                return None;
            }
        }
        match self.owner.client() {
            Ok(c) => Some(c.with_notices(self.notices())),
            Err(e) => {
                self.fail_listing(asker, e.into());
                None
            }
        }
    }

    async fn list_spaces(self: &Arc<Self>, generation: Generation, max: Option<usize>) {
        let asker = Asker::Spaces(generation);
        let Some(client) = self.signed_in_client(asker).await else {
            return;
        };
        let stamp = |l| Event::Spaces(Generational::new(generation, l));
        self.send(stamp(Listing::Started));
        let forward = forward_pages(self.events.clone(), stamp);
        let result = client.for_each_space_page(max, forward).await;
        self.finish_listing(asker, result, |total| stamp(Listing::Done { total }))
            .await;
    }

    async fn list_pages(
        self: &Arc<Self>,
        generation: Generation,
        space_key: String,
        space_id: Option<String>,
    ) {
        let asker = Asker::Pages(generation);
        let Some(client) = self.signed_in_client(asker).await else {
            return;
        };
        let stamp = |l| Event::Pages(Generational::new(generation, l));
        self.send(stamp(Listing::Started));
        let forward = forward_pages(self.events.clone(), stamp);
        let result = client
            .for_each_page_of_space(&space_key, space_id.as_deref(), forward)
            .await;
        self.finish_listing(asker, result, |total| stamp(Listing::Done { total }))
            .await;
    }

    /// After a listing: refreshed cookies saved, then done or why not.
    async fn finish_listing(
        self: &Arc<Self>,
        asker: Asker,
        result: Result<usize, ClientError>,
        done: impl FnOnce(usize) -> Event,
    ) {
        self.owner.flush().await;
        match result {
            Ok(total) => {
                self.send(done(total));
            }
            Err(e) => {
                let error = match self.owner.take_record_failure() {
                    // The record could not be written (a refused file, a
                    // held lock): that is what the user must fix first.
                    Some(f) => f.into(),
                    None => listing_error(&e, &self.owner.snapshot().state),
                };
                self.fail_listing(asker, error);
            }
        }
    }

    /// Writes an audit record; a failure is the command's failure.
    pub(super) async fn audit(
        self: &Arc<Self>,
        entry: crate::audit::AuditEntry,
    ) -> Result<(), WorkerError> {
        let creds = self.owner.credentials().clone();
        match tokio::task::spawn_blocking(move || creds.record(entry)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(credential_error(e)),
            Err(e) => Err(WorkerError::new(
                ErrorClass::Internal,
                format!("could not write the audit log: {e}"),
            )),
        }
    }
}

fn credential_error(e: CredentialError) -> WorkerError {
    WorkerError::new(e.class(), e.to_string())
}

/// Why a session in `state` cannot list, in its own words.
fn state_error(state: &SessionState) -> WorkerError {
    let class = state.class().unwrap_or(ErrorClass::Auth);
    let message = match state {
        SessionState::Expired { reason, .. } => format!(
            "the session has expired ({reason}); sign in with the browser and import fresh cookies (`confluence-tui cookies import`)"
        ),
        SessionState::Captcha { login_url, .. } => format!(
            "the site demanded a CAPTCHA: sign in through the browser{}, solve it, then import fresh cookies (`check --retry` asks the site again)",
            login_url
                .as_deref()
                .map(|u| format!(" at {u}"))
                .unwrap_or_default()
        ),
        SessionState::Gateway {
            gateway, login_url, ..
        } => crate::session::gateway_message(gateway, login_url.as_deref()),
        SessionState::Rejected { reason, .. } => reason.clone(),
        SessionState::Unreachable { reason } => reason.clone(),
        SessionState::NoCredentials { message } | SessionState::Failed { message, .. } => {
            message.clone()
        }
        SessionState::Checking | SessionState::SignedIn => "the session is not signed in".into(),
    };
    WorkerError::new(class, message)
}

/// A listing's failure: a refusal that ended the session says so in the
/// session's words; anything else in the client's.
fn listing_error(e: &ClientError, state: &SessionState) -> WorkerError {
    let judged = e
        .outcome()
        .and_then(crate::confluence::authority::Refusal::of)
        .is_some();
    if judged && state.is_dead() {
        return state_error(state);
    }
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
