//! The async backend: a tokio task that owns the settings, the credential
//! store and the HTTP client. The TUI and the headless commands are two faces
//! on this one API:
//!
//! - a [`Query`] (verify, describe, list) reads; a newer query of the same
//!   kind replaces (aborts) an older one still running, and listings carry a
//!   [`Generation`] so a stale answer cannot be applied;
//! - a [`Mutation`] (import, clear, store or clear a token, reload the
//!   settings) writes; mutations are queued, run one at a time in the order
//!   sent, are never aborted halfway, and each is answered by
//!   [`Event::Mutated`].
//!
//! The session itself has one owner per process ([`crate::session`]): each
//! settings generation's owner lives here, every query borrows its
//! credentials, every mutation goes through it, and every change of its
//! snapshot is forwarded as [`Event::Session`].
//!
//! Every result is typed: the session's state, the auth mode, a wait's
//! reason and an error's class are enums until someone prints them.

mod browsers;
mod generation;
mod jobs;

pub(crate) use crate::session::audit_words;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use self::browsers::{BrowserProfileInfo, ProfileCookies, ProfileProblem};
pub use self::generation::{Generation, Generational};
use self::jobs::Ctx;
use crate::config::{ConfigError, FlagOverrides, Settings};
use crate::confluence::client::{Deployment, RetryPolicy, WaitReason, api_base, detect_deployment};
use crate::confluence::login_page::site_login_page;
use crate::confluence::model::{Page, Space};
use crate::credentials::{ClearReport, CookieStatus, ImportInput, ImportReport};
use crate::exit::ErrorClass;
use crate::secret::SecretString;
pub use crate::session::{
    EXPIRING_WITHIN, Session, SessionState, Snapshot, TokenAccepted, check_token, keepalive_delay,
};
use crate::vault::MachineIdSource;

/// A read: a newer one of the same kind replaces an older one still running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Check the credentials now (current user); answered by
    /// `Event::Verified`. A dead session (expired, a CAPTCHA, a refused
    /// token) is answered from the stored state without asking.
    Verify,
    /// A verification the user asked for (`v`, `check --retry`): asks the
    /// site in every state; a site that signs the session in again brings
    /// it back.
    VerifyAgain,
    /// Report what is stored; answered by `Event::Stored`. Runs scrypt only
    /// when the vault file changed since the last answer.
    Describe,
    /// Stream every space (at most `max`) as `Event::Spaces`.
    ListSpaces {
        generation: Generation,
        max: Option<usize>,
    },
    /// Stream the pages of a space as `Event::Pages`.
    ListPages {
        generation: Generation,
        space_key: String,
        space_id: Option<String>,
    },
    /// First-run setup: check a site address live, anonymously and once
    /// (reachable? Confluence? Cloud or Server/DC?); answered by
    /// `Event::SiteProbe`. Needs no configured site.
    ProbeSite { url: String },
    /// Every browser profile found (the configured one first), each read
    /// for the site: answered by `Event::BrowserProfiles`. Never values.
    ListBrowserProfiles,
}

impl Query {
    /// Which slot the query runs in.
    pub fn kind(&self) -> QueryKind {
        match self {
            Query::Verify | Query::VerifyAgain => QueryKind::Verify,
            Query::Describe => QueryKind::Describe,
            Query::ListSpaces { .. } => QueryKind::Spaces,
            Query::ListPages { .. } => QueryKind::Pages,
            Query::ProbeSite { .. } => QueryKind::Probe,
            Query::ListBrowserProfiles => QueryKind::Browsers,
        }
    }
}

/// The kinds of query; one of each runs at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueryKind {
    Verify,
    Describe,
    Spaces,
    Pages,
    Probe,
    Browsers,
}

/// A write: queued, run in order, never aborted halfway, always answered.
pub enum Mutation {
    /// Parse cookies, ask the site about them, then encrypt and store them
    /// (a refused paste never replaces a working session).
    ImportCookies { input: ImportInput },
    /// Import the intake file when it holds cookies (the TUI's file
    /// watcher): a file found empty, e.g. already imported, is nothing to do.
    ImportIntake,
    /// Read the site's cookies from this browser profile and import them
    /// (audited as `browser:<name>:<profile>`), verified first.
    ImportFromBrowser { profile: crate::browser::Profile },
    /// Delete the stored cookies.
    ClearCookies,
    /// Check an API token with the site, then store it in the vault (with
    /// the user name it is sent with, if any) only when the site accepts
    /// it.
    StoreToken {
        token: SecretString,
        username: Option<String>,
    },
    /// Remove the API token from the vault.
    ClearToken,
    /// Read the settings again, once, from the worker's [`SettingsSource`],
    /// and use them from now on (running queries are stopped).
    ReloadSettings,
    /// First-run setup: write the site (its deployment, and the user name
    /// when given) to the `.env` file the settings read, then audit it.
    /// Only settings read from the environment have such a file (never
    /// the demo's). A token never goes there: `StoreToken` keeps it.
    WriteSiteSettings {
        base_url: String,
        deployment: Deployment,
        username: Option<String>,
    },
}

impl Mutation {
    /// The mutation's name, for its answer.
    pub fn kind(&self) -> MutationKind {
        match self {
            Mutation::ImportCookies { .. }
            | Mutation::ImportIntake
            | Mutation::ImportFromBrowser { .. } => MutationKind::ImportCookies,
            Mutation::ClearCookies => MutationKind::ClearCookies,
            Mutation::StoreToken { .. } => MutationKind::StoreToken,
            Mutation::ClearToken => MutationKind::ClearToken,
            Mutation::ReloadSettings => MutationKind::ReloadSettings,
            Mutation::WriteSiteSettings { .. } => MutationKind::WriteSiteSettings,
        }
    }
}

impl std::fmt::Debug for Mutation {
    /// Names the mutation only: imports and tokens carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.kind())
    }
}

/// Which mutation an answer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutationKind {
    ImportCookies,
    ClearCookies,
    StoreToken,
    ClearToken,
    ReloadSettings,
    WriteSiteSettings,
}

/// What the UI or CLI sends to the worker.
#[derive(Debug)]
pub enum Command {
    Query(Query),
    Mutate(Mutation),
    /// Stop the running query of this kind.
    Cancel(QueryKind),
}

/// A failure, with the class that decides how it is shown and its exit code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WorkerError {
    pub class: ErrorClass,
    /// A sentence for a person; never a secret.
    pub message: String,
}

impl WorkerError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> WorkerError {
        WorkerError {
            class,
            message: message.into(),
        }
    }
}

/// The site in force: sent when the worker starts and after every reload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteInfo {
    /// The configured base URL, if any.
    pub site: Option<String>,
    pub deployment: Option<Deployment>,
    /// The page `o` opens to sign in.
    pub login_page: Option<String>,
    /// The settings file looked for (shown in guidance).
    pub env_file: PathBuf,
    /// Where the vault, the intake file and the logs live.
    pub data_dir: PathBuf,
    /// The browser whose fresh logins are picked up (`CONFLUENCE_BROWSER`).
    pub browser: Option<crate::browser::BrowserSpec>,
}

impl SiteInfo {
    /// What `settings` say about the site; `login_page` overrides the
    /// site's usual login page (the demo has its own).
    pub(crate) fn from_settings(settings: &Settings, login_page: Option<&str>) -> SiteInfo {
        let base = settings.base_url.as_ref();
        let deployment = base.map(|u| detect_deployment(u, settings.deployment));
        let login_page = login_page.map(str::to_string).or_else(|| {
            let (base, deployment) = (base?, deployment?);
            Some(site_login_page(&api_base(base, deployment), deployment))
        });
        SiteInfo {
            site: base.map(|u| u.to_string()),
            deployment,
            login_page,
            env_file: settings.env_file_looked_for.clone(),
            data_dir: settings.data_dir.clone(),
            browser: settings.browser.clone(),
        }
    }
}

/// What the vault holds (never values).
#[derive(Clone, Debug)]
pub struct StoredInfo {
    pub status: CookieStatus,
    /// `CONFLUENCE_API_TOKEN` is set in the environment or `.env`.
    pub token_in_environment: bool,
}

/// One step of a streamed listing.
#[derive(Debug)]
pub enum Listing<T> {
    /// The listing began (the list starts empty).
    Started,
    /// One page of results; `loaded` counts all delivered so far.
    Items { items: Vec<T>, loaded: usize },
    /// The listing is complete.
    Done { total: usize },
    /// The listing stopped; the error says why (a dead session's own
    /// words when the session ended).
    Failed(WorkerError),
}

/// A wait before another attempt (rate limit or backoff): a countdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wait {
    pub query: QueryKind,
    pub wait: Duration,
    pub next_attempt: u32,
    pub reason: WaitReason,
}

/// What a mutation did.
#[derive(Debug)]
pub enum MutationDone {
    CookiesImported(ImportReport),
    /// `ImportIntake` found the intake file empty.
    NothingToImport,
    CookiesCleared(ClearReport),
    TokenStored,
    /// Whether a token was stored.
    TokenCleared(bool),
    SettingsReloaded,
    /// The settings file was written (`created`: it did not exist).
    SettingsWritten {
        path: PathBuf,
        created: bool,
    },
}

/// What the worker reports.
#[derive(Debug)]
pub enum Event {
    /// The site in force (at start and after a reload).
    Site(SiteInfo),
    /// The session changed (the owner's snapshot, whoever changed it: a
    /// request's answer, the keep-alive, another process, a mutation).
    Session(Snapshot),
    /// The answer to `Verify` / `VerifyAgain`: the session as the
    /// verification left it; `problem` when its record could not be
    /// written (the audit log is part of the command).
    Verified {
        snapshot: Snapshot,
        problem: Option<WorkerError>,
    },
    /// What is stored, answering `Describe`.
    Stored(Box<StoredInfo>),
    Spaces(Generational<Listing<Space>>),
    Pages(Generational<Listing<Page>>),
    Waiting(Wait),
    /// `Describe` failed (a verification is answered by `Session`, a
    /// listing by its own `Listing::Failed`).
    Failed {
        query: QueryKind,
        error: WorkerError,
    },
    /// The answer to `Query::ProbeSite` for the address `url` as typed.
    SiteProbe {
        url: String,
        result: Result<crate::confluence::probe::SiteProbe, crate::confluence::probe::ProbeError>,
    },
    /// The answer to `Query::ListBrowserProfiles`.
    BrowserProfiles(Vec<BrowserProfileInfo>),
    /// The answer to one mutation.
    Mutated {
        kind: MutationKind,
        result: Result<MutationDone, WorkerError>,
    },
}

/// Where settings come from when the worker reloads them.
#[derive(Clone, Debug)]
pub enum SettingsSource {
    /// Flags, the process environment and `.env`.
    Environment(FlagOverrides),
    /// These variables only: the demo's sandbox, tests. A reload never reads
    /// the real environment or data directory.
    Vars(HashMap<String, String>),
    /// The demo's sandbox: these variables only, and cookies stored without
    /// an expiry of their own live as long as a demo session
    /// (`demo::DEMO_SESSION_LIFETIME`), not the days a real site gives.
    Demo(HashMap<String, String>),
}

impl SettingsSource {
    /// Reads the settings once.
    pub fn load(&self) -> Result<Settings, ConfigError> {
        match self {
            SettingsSource::Environment(flags) => Settings::load(flags),
            SettingsSource::Vars(vars) => Settings::from_vars(&FlagOverrides::default(), vars),
            SettingsSource::Demo(vars) => {
                let mut settings = Settings::from_vars(&FlagOverrides::default(), vars)?;
                settings.cookie_ttl = time::Duration::try_from(crate::demo::DEMO_SESSION_LIFETIME)
                    .unwrap_or(settings.cookie_ttl);
                Ok(settings)
            }
        }
    }
}

/// How the worker builds what it owns; tests inject the machine id and a
/// faster retry policy.
#[derive(Clone)]
pub struct WorkerOptions {
    pub source: SettingsSource,
    pub machine_id: MachineIdSource,
    pub retry: RetryPolicy,
    /// A login page other than the site's usual one (the demo's).
    pub login_page: Option<String>,
    /// A long-running face (the TUI): the session owner runs the settings'
    /// keep-alive, watches the vault and the browser, and runs the notify
    /// command. Off for one-shot commands.
    pub keep_alive: bool,
}

impl WorkerOptions {
    /// A one-shot command's worker for `source`.
    pub fn new(source: SettingsSource) -> WorkerOptions {
        WorkerOptions {
            source,
            machine_id: MachineIdSource::System,
            retry: RetryPolicy::default(),
            login_page: None,
            keep_alive: false,
        }
    }
}

/// The channels to a running worker.
pub struct WorkerHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub events: mpsc::UnboundedReceiver<Event>,
    /// The session owner of the settings in force (a reload makes a new
    /// one): what the app's proxy serves.
    pub sessions: watch::Receiver<Option<Session>>,
    pub task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Sends a query; false when the worker has stopped.
    pub fn query(&self, q: Query) -> bool {
        self.commands.send(Command::Query(q)).is_ok()
    }
}

/// Starts the worker on the current tokio runtime with settings already read.
pub fn spawn(settings: Settings, opts: WorkerOptions) -> WorkerHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (sessions_tx, sessions) = watch::channel(None);
    let task = tokio::spawn(run(settings, opts, cmd_rx, ev_tx, sessions_tx));
    WorkerHandle {
        commands: cmd_tx,
        events: ev_rx,
        sessions,
        task,
    }
}

async fn run(
    settings: Settings,
    opts: WorkerOptions,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
    sessions: watch::Sender<Option<Session>>,
) {
    let _ = events.send(Event::Site(SiteInfo::from_settings(
        &settings,
        opts.login_page.as_deref(),
    )));
    let ctx = Arc::new(Ctx::new(settings, &opts, events.clone()));
    let mut changes = ctx.session().subscribe();
    let _ = sessions.send(Some(ctx.session()));
    let (ctx_tx, mut ctx_rx) = watch::channel(ctx);
    let (mutation_tx, mutation_rx) = mpsc::unbounded_channel();
    let (follow_tx, mut follow_rx) = mpsc::unbounded_channel();
    // Not aborted when the worker stops: a write under way finishes.
    tokio::spawn(run_mutations(
        mutation_rx,
        ctx_tx,
        follow_tx,
        opts,
        events.clone(),
    ));
    // Each running query with the settings it was asked under.
    let mut running: HashMap<QueryKind, (JoinHandle<()>, Arc<Ctx>)> = HashMap::new();
    loop {
        let query = tokio::select! {
            cmd = commands.recv() => match cmd {
                None => break,
                Some(Command::Query(q)) => q,
                Some(Command::Mutate(m)) => {
                    let _ = mutation_tx.send(m);
                    continue;
                }
                Some(Command::Cancel(kind)) => {
                    if let Some((h, _)) = running.remove(&kind) {
                        h.abort();
                    }
                    continue;
                }
            },
            Some(q) = follow_rx.recv() => q,
            change = changes.recv() => {
                match change {
                    Ok(snapshot) => {
                        let _ = events.send(Event::Session(snapshot));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let _ = events.send(Event::Session(ctx_rx.borrow().session().snapshot()));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                        changes = ctx_rx.borrow().session().subscribe();
                    }
                }
                continue;
            }
            changed = ctx_rx.changed() => {
                if changed.is_err() {
                    break;
                }
                // New settings: what runs under older ones was asked of the
                // old site. A query already started under the new settings
                // (asked before this branch was polled) goes on.
                let current = ctx_rx.borrow_and_update().clone();
                changes = current.session().subscribe();
                let _ = sessions.send(Some(current.session()));
                running.retain(|_, (h, ctx)| {
                    let stale = !Arc::ptr_eq(ctx, &current);
                    if stale {
                        h.abort();
                    }
                    !stale
                });
                continue;
            }
        };
        let kind = query.kind();
        if let Some((old, _)) = running.remove(&kind) {
            old.abort();
        }
        let ctx = ctx_rx.borrow().clone();
        let handle = tokio::spawn(ctx.clone().run_query(query));
        running.insert(kind, (handle, ctx));
        running.retain(|_, (h, _)| !h.is_finished());
    }
    for (_, (h, _)) in running {
        h.abort();
    }
}

/// Runs mutations one at a time, in order; each is answered.
async fn run_mutations(
    mut mutations: mpsc::UnboundedReceiver<Mutation>,
    ctx_tx: watch::Sender<Arc<Ctx>>,
    follow: mpsc::UnboundedSender<Query>,
    opts: WorkerOptions,
    events: mpsc::UnboundedSender<Event>,
) {
    while let Some(m) = mutations.recv().await {
        let kind = m.kind();
        let ctx = ctx_tx.borrow().clone();
        let result = match m {
            Mutation::ReloadSettings => match opts.source.load() {
                Ok(settings) => {
                    let site = SiteInfo::from_settings(&settings, opts.login_page.as_deref());
                    let _ = ctx_tx.send(Arc::new(Ctx::new(settings, &opts, events.clone())));
                    let _ = events.send(Event::Site(site));
                    Ok(MutationDone::SettingsReloaded)
                }
                Err(e) => Err(WorkerError::new(ErrorClass::Usage, e.to_string())),
            },
            Mutation::WriteSiteSettings {
                base_url,
                deployment,
                username,
            } => match &opts.source {
                SettingsSource::Environment(_) => {
                    ctx.write_site_settings(base_url, deployment, username)
                        .await
                }
                // The demo's and the tests' settings are not read from a
                // file: writing one would touch the user's `.env`.
                SettingsSource::Vars(_) | SettingsSource::Demo(_) => Err(WorkerError::new(
                    ErrorClass::Usage,
                    "these settings are not read from a .env file (the demo keeps its own); nothing was written",
                )),
            },
            other => ctx.run_mutation(other).await,
        };
        let follow_ups: &[Query] = match (&result, kind) {
            (Ok(MutationDone::NothingToImport), _) => &[],
            (_, MutationKind::ReloadSettings) => &[],
            _ => &[Query::Describe],
        };
        if events.send(Event::Mutated { kind, result }).is_err() {
            continue;
        }
        for q in follow_ups {
            let _ = follow.send(q.clone());
        }
    }
}

impl From<crate::session::SessionError> for WorkerError {
    fn from(e: crate::session::SessionError) -> WorkerError {
        WorkerError::new(e.class, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_delay_stays_within_ten_percent() {
        let interval = Duration::from_secs(600);
        for _ in 0..1000 {
            let d = keepalive_delay(interval);
            assert!(
                d >= Duration::from_secs(540) && d <= Duration::from_secs(660),
                "{d:?}"
            );
        }
    }
}
