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
//! Every result is typed: the session's state, the auth mode, a wait's
//! reason and an error's class are enums until someone prints them.

pub(crate) mod audit_words;
mod browsers;
mod generation;
mod jobs;
mod token_check;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use self::browsers::{BrowserProfileInfo, ProfileCookies, ProfileProblem};
pub use self::generation::{Generation, Generational};
use self::jobs::Ctx;
pub(crate) use self::token_check::token_refused_record;
pub use self::token_check::{TokenAccepted, check_token};
use crate::config::{ConfigError, FlagOverrides, Settings};
use crate::confluence::client::{
    AuthMode, Deployment, RetryPolicy, WaitReason, api_base, detect_deployment,
};
use crate::confluence::login_page::site_login_page;
use crate::confluence::model::{Page, Space, User};
use crate::credentials::{ClearReport, CookieStatus, ImportInput, ImportReport};
use crate::exit::ErrorClass;
use crate::secret::SecretString;
use crate::vault::MachineIdSource;

/// A read: a newer one of the same kind replaces an older one still running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Check the credentials now (current user); answered by `Event::Session`.
    /// After a CAPTCHA it answers from the stored state without asking.
    Verify,
    /// A verification the user asked for: asks the site even after a CAPTCHA
    /// (`check --retry`); success ends the CAPTCHA state.
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
    /// Parse, encrypt and store cookies; a verification follows.
    ImportCookies { input: ImportInput },
    /// Import the intake file when it holds cookies (the TUI's file
    /// watcher): a file found empty, e.g. already imported, is nothing to do.
    ImportIntake,
    /// Read the site's cookies from this browser profile and import them
    /// (audited as `browser:<name>:<profile>`); a verification follows.
    ImportFromBrowser { profile: crate::browser::Profile },
    /// Import the configured browser's (`CONFLUENCE_BROWSER`) session when
    /// it differs from the stored one: a fresh login. Nothing new, or a
    /// profile that cannot be read, is `NothingToImport`.
    ImportFreshBrowserSession,
    /// Delete the stored cookies.
    ClearCookies,
    /// Check an API token with the site, then store it in the vault (with
    /// the user name it is sent with, if any) only when the site accepts
    /// it; a verification follows.
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
            | Mutation::ImportFromBrowser { .. }
            | Mutation::ImportFreshBrowserSession => MutationKind::ImportCookies,
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

/// The session's state after a verification (or a request that failed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionInfo {
    /// Verified: who, how, and why that mode.
    SignedIn {
        user: User,
        mode: AuthMode,
        why: String,
        deployment: Deployment,
        /// When the stored cookies expire (cookie mode only).
        expires_at: Option<time::OffsetDateTime>,
    },
    /// No usable credentials; the message says what to set.
    NotConfigured { message: String },
    /// The cookie session is dead (marked expired and audited).
    Expired { reason: String, status: Option<u16> },
    /// A CAPTCHA blocks sign-in; sign in through the browser.
    Captcha {
        login_url: Option<String>,
        status: u16,
    },
    /// Rejected, anonymous, or the verification could not finish.
    Failed { error: WorkerError },
}

/// The wait before the next keep-alive verification: `interval` ±10 %, so
/// many watchers do not knock at the same second.
pub fn keepalive_delay(interval: Duration) -> Duration {
    interval.mul_f64(0.9 + 0.2 * fastrand::f64())
}

/// Below this much time left, a session is `expiring`.
pub const EXPIRING_WITHIN: time::Duration = time::Duration::hours(24);

impl SessionInfo {
    /// The state word of `check --json` and `watch`: `signed_in`,
    /// `expiring`, `expired`, `captcha`, `unreachable`, `no_credentials`.
    pub fn state_word(&self, now: time::OffsetDateTime) -> &'static str {
        match self {
            SessionInfo::SignedIn { expires_at, .. } => match expires_at {
                Some(at) if *at - now <= EXPIRING_WITHIN => "expiring",
                _ => "signed_in",
            },
            SessionInfo::NotConfigured { .. } => "no_credentials",
            SessionInfo::Expired { .. } => "expired",
            SessionInfo::Captcha { .. } => "captcha",
            SessionInfo::Failed { error } => match error.class {
                ErrorClass::Network
                | ErrorClass::Internal
                | ErrorClass::ProgramNotExecutable
                | ErrorClass::ProgramNotFound => "unreachable",
                ErrorClass::Captcha => "captcha",
                ErrorClass::Usage | ErrorClass::Vault => "no_credentials",
                ErrorClass::Auth => "expired",
            },
        }
    }

    /// The class of the failure, `None` when signed in.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            SessionInfo::SignedIn { .. } => None,
            SessionInfo::NotConfigured { .. } | SessionInfo::Expired { .. } => {
                Some(ErrorClass::Auth)
            }
            SessionInfo::Captcha { .. } => Some(ErrorClass::Captcha),
            SessionInfo::Failed { error } => Some(error.class),
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
    /// The listing stopped (after any `Event::Session` that says why).
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
    /// `ImportIntake` found the intake file empty (or
    /// `ImportFreshBrowserSession` found nothing new).
    NothingToImport,
    /// `ImportFreshBrowserSession` imported a fresh login from this profile.
    BrowserSessionImported {
        profile: crate::browser::Profile,
        report: ImportReport,
    },
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
    /// The session's state, answering `Verify` or learnt from a failed request.
    Session(SessionInfo),
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
}

/// The channels to a running worker.
pub struct WorkerHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub events: mpsc::UnboundedReceiver<Event>,
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
    let task = tokio::spawn(run(settings, opts, cmd_rx, ev_tx));
    WorkerHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    }
}

async fn run(
    settings: Settings,
    opts: WorkerOptions,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let _ = events.send(Event::Site(SiteInfo::from_settings(
        &settings,
        opts.login_page.as_deref(),
    )));
    let ctx = Arc::new(Ctx::new(settings, &opts, events.clone()));
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
            changed = ctx_rx.changed() => {
                if changed.is_err() {
                    break;
                }
                // New settings: what runs under older ones was asked of the
                // old site. A query already started under the new settings
                // (asked before this branch was polled) goes on.
                let current = ctx_rx.borrow_and_update().clone();
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
            Mutation::StoreToken { token, username } => {
                // Kept only when the site takes it: a refused token in the
                // vault would be chosen by `auto` and fail every request.
                match ctx.check_token_first(&token, username.as_deref()).await {
                    Ok(()) => {
                        ctx.run_mutation(Mutation::StoreToken { token, username })
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            other => ctx.run_mutation(other).await,
        };
        let follow_ups: &[Query] = match (&result, kind) {
            (Ok(MutationDone::NothingToImport), _) => &[],
            (Ok(_), MutationKind::ImportCookies | MutationKind::StoreToken) => {
                &[Query::Describe, Query::Verify]
            }
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
