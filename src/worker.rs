//! The async backend: a tokio task that owns the settings, the credential
//! store and the HTTP client. `Command`s go in, `Event`s come out; the TUI
//! and the headless commands are two faces on this one API. One job runs per
//! kind; a newer command of the same kind replaces (aborts) the older one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

use crate::audit::{AuditDetails, AuditEntry, AuditEvent, AuditOutcome};
use crate::auth::{AuthError, ResolvedAuth, resolve};
use crate::config::{FlagOverrides, Settings};
use crate::confluence::classify::Outcome;
use crate::confluence::client::{
    Client, ClientError, ClientNotice, ClientOptions, Deployment, RetryPolicy, WaitReason,
    detect_deployment,
};
use crate::confluence::model::{Page, Space, User};
use crate::credentials::{
    ClearReport, CookieStatus, CredentialError, Credentials, ImportInput, ImportReport,
};
use crate::secret::SecretString;
use crate::vault::{MachineIdSource, VaultError};

/// The kinds of job; one of each runs at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    Verify,
    Describe,
    Spaces,
    Pages,
    Credentials,
    Settings,
}

/// What the UI or CLI asks of the worker.
pub enum Command {
    /// Check the credentials now (current user).
    Verify,
    /// Report what is stored (cookies, token, vault), for the status screen.
    Describe,
    /// Stream every space (at most `max`).
    ListSpaces { max: Option<usize> },
    /// Stream the pages of a space.
    ListPages {
        space_key: String,
        space_id: Option<String>,
    },
    /// Parse, encrypt, store cookies; then verify them.
    ImportCookies { input: ImportInput },
    /// Delete the stored cookies.
    ClearCookies,
    /// Store an API token in the vault.
    StoreToken { token: SecretString },
    /// Read the settings again (flags, environment, `.env`).
    ReloadSettings,
    /// Stop the running job of this kind.
    Cancel { kind: JobKind },
}

impl std::fmt::Debug for Command {
    /// Names the command only: imports and tokens carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Command::Verify => "Verify",
            Command::Describe => "Describe",
            Command::ListSpaces { .. } => "ListSpaces",
            Command::ListPages { .. } => "ListPages",
            Command::ImportCookies { .. } => "ImportCookies",
            Command::ClearCookies => "ClearCookies",
            Command::StoreToken { .. } => "StoreToken",
            Command::ReloadSettings => "ReloadSettings",
            Command::Cancel { .. } => "Cancel",
        };
        f.write_str(name)
    }
}

/// How a failure should be handled by whoever shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Settings missing or wrong, bad input.
    Config,
    /// Not signed in: no credentials, expired, rejected, anonymous.
    Auth,
    /// CAPTCHA: browser sign-in needed.
    Captcha,
    /// Network or server trouble after retries.
    Network,
    /// The vault cannot be read.
    Vault,
    /// Something that should not happen.
    Internal,
    /// No such space, or no access to it.
    NotFound,
}

/// What the worker reports.
#[derive(Debug)]
pub enum Event {
    /// Credentials verified: who, how, and why that mode.
    Verified {
        user: User,
        mode: &'static str,
        why: String,
        deployment: Deployment,
    },
    /// No usable credentials; the message says what to set.
    NotConfigured { message: String },
    /// The cookie session is dead (marked expired and audited).
    SessionExpired { reason: String, status: Option<u16> },
    /// A CAPTCHA blocks sign-in; sign in through the browser.
    Captcha {
        login_url: Option<String>,
        status: u16,
    },
    /// A new listing of spaces began; later pages carry this generation.
    SpacesStarted { generation: u64 },
    /// One page of spaces; `loaded` counts all delivered so far.
    SpacesPage {
        generation: u64,
        spaces: Vec<Space>,
        loaded: usize,
    },
    /// The listing is complete.
    SpacesDone { generation: u64, total: usize },
    /// A new listing of pages began.
    PagesStarted { generation: u64, space_key: String },
    /// One page of pages.
    PagesPage {
        generation: u64,
        space_key: String,
        pages: Vec<Page>,
        loaded: usize,
    },
    /// The page listing is complete.
    PagesDone {
        generation: u64,
        space_key: String,
        total: usize,
    },
    /// Waiting before another attempt (rate limit or backoff): a countdown.
    Waiting {
        kind: JobKind,
        wait: Duration,
        next_attempt: u32,
        reason: WaitReason,
    },
    /// Cookies were imported (then a verification follows).
    CookiesImported { report: ImportReport },
    /// Cookies were cleared.
    CookiesCleared { report: ClearReport },
    /// A token was stored.
    TokenStored,
    /// Settings were read again.
    SettingsReloaded { settings: Box<Settings> },
    /// What is stored (never values), answering `Describe`.
    Described {
        status: Box<CookieStatus>,
        token_in_environment: bool,
    },
    /// A job failed.
    Error {
        kind: JobKind,
        class: ErrorClass,
        message: String,
    },
}

/// The channels to a running worker.
pub struct WorkerHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub events: mpsc::UnboundedReceiver<Event>,
    pub task: JoinHandle<()>,
}

/// How the worker builds what it owns; tests inject the machine id and a
/// faster retry policy.
#[derive(Clone)]
pub struct WorkerOptions {
    pub flags: FlagOverrides,
    pub machine_id: MachineIdSource,
    pub retry: RetryPolicy,
}

/// Starts the worker on the current tokio runtime.
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

tokio::task_local! {
    static CURRENT_JOB: JobKind;
}

/// Shared by the jobs of one settings generation.
struct Ctx {
    settings: Settings,
    creds: Credentials,
    retry: RetryPolicy,
    events: mpsc::UnboundedSender<Event>,
    /// The client for the current credentials, built on first use.
    client: Mutex<Option<(Arc<Client>, Arc<ResolvedMeta>)>>,
}

/// What `check` and the status screen show about the credential in use.
struct ResolvedMeta {
    mode: &'static str,
    why: String,
}

async fn run(
    settings: Settings,
    opts: WorkerOptions,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut ctx = Arc::new(Ctx::new(settings, &opts, events.clone()));
    let mut jobs: HashMap<JobKind, JoinHandle<()>> = HashMap::new();
    let mut generation = 0u64;
    while let Some(cmd) = commands.recv().await {
        generation += 1;
        let kind = match &cmd {
            Command::Verify => JobKind::Verify,
            Command::Describe => JobKind::Describe,
            Command::ListSpaces { .. } => JobKind::Spaces,
            Command::ListPages { .. } => JobKind::Pages,
            Command::ImportCookies { .. } | Command::ClearCookies | Command::StoreToken { .. } => {
                JobKind::Credentials
            }
            Command::ReloadSettings => JobKind::Settings,
            Command::Cancel { kind } => {
                if let Some(h) = jobs.remove(kind) {
                    h.abort();
                }
                continue;
            }
        };
        if let Some(old) = jobs.remove(&kind) {
            old.abort();
        }
        if let Command::ReloadSettings = cmd {
            match Settings::load(&opts.flags) {
                Ok(s) => {
                    for (_, h) in jobs.drain() {
                        h.abort();
                    }
                    let shown = Settings::load(&opts.flags).ok().map(Box::new);
                    ctx = Arc::new(Ctx::new(s, &opts, events.clone()));
                    if let Some(settings) = shown {
                        let _ = events.send(Event::SettingsReloaded { settings });
                    }
                }
                Err(e) => {
                    let _ = events.send(Event::Error {
                        kind,
                        class: ErrorClass::Config,
                        message: e.to_string(),
                    });
                }
            }
            continue;
        }
        let c = ctx.clone();
        let handle =
            tokio::spawn(CURRENT_JOB.scope(kind, async move { c.perform(cmd, generation).await }));
        jobs.insert(kind, handle);
        jobs.retain(|_, h| !h.is_finished());
    }
    for (_, h) in jobs {
        h.abort();
    }
}

impl Ctx {
    fn new(settings: Settings, opts: &WorkerOptions, events: mpsc::UnboundedSender<Event>) -> Ctx {
        let creds = Credentials::with_machine_id(&settings, opts.machine_id.clone());
        Ctx {
            settings,
            creds,
            retry: opts.retry.clone(),
            events,
            client: Mutex::new(None),
        }
    }

    fn send(&self, ev: Event) -> bool {
        self.events.send(ev).is_ok()
    }

    fn error(&self, kind: JobKind, class: ErrorClass, message: impl Into<String>) {
        self.send(Event::Error {
            kind,
            class,
            message: message.into(),
        });
    }

    async fn perform(self: Arc<Self>, cmd: Command, generation: u64) {
        match cmd {
            Command::Verify => self.verify().await,
            Command::Describe => self.describe().await,
            Command::ListSpaces { max } => self.list_spaces(max, generation).await,
            Command::ListPages {
                space_key,
                space_id,
            } => self.list_pages(space_key, space_id, generation).await,
            Command::ImportCookies { input } => {
                let me = self.clone();
                let result = tokio::task::spawn_blocking(move || {
                    me.creds.import(input, OffsetDateTime::now_utc())
                })
                .await;
                match flatten(result) {
                    Ok(report) => {
                        self.invalidate_client().await;
                        self.send(Event::CookiesImported { report });
                        self.verify().await;
                    }
                    Err(e) => self.credential_error(JobKind::Credentials, e),
                }
            }
            Command::ClearCookies => {
                let me = self.clone();
                match flatten(tokio::task::spawn_blocking(move || me.creds.clear_cookies()).await) {
                    Ok(report) => {
                        self.invalidate_client().await;
                        self.send(Event::CookiesCleared { report });
                    }
                    Err(e) => self.credential_error(JobKind::Credentials, e),
                }
            }
            Command::StoreToken { token } => {
                let me = self.clone();
                match flatten(
                    tokio::task::spawn_blocking(move || {
                        me.creds.store_token(token, OffsetDateTime::now_utc())
                    })
                    .await,
                ) {
                    Ok(()) => {
                        self.invalidate_client().await;
                        self.send(Event::TokenStored);
                        self.verify().await;
                    }
                    Err(e) => self.credential_error(JobKind::Credentials, e),
                }
            }
            Command::ReloadSettings | Command::Cancel { .. } => {}
        }
    }

    fn credential_error(&self, kind: JobKind, e: CredentialError) {
        let class = match &e {
            CredentialError::Vault(VaultError::Io { .. })
            | CredentialError::Audit(_)
            | CredentialError::Interrupted(_) => ErrorClass::Internal,
            CredentialError::Vault(_) => ErrorClass::Vault,
            _ => ErrorClass::Config,
        };
        self.error(kind, class, e.to_string());
    }

    /// The client for the current credentials; resolving opens the vault
    /// (scrypt), so it runs on the blocking pool and only once.
    async fn client(self: &Arc<Self>, kind: JobKind) -> Option<(Arc<Client>, Arc<ResolvedMeta>)> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Some(c.clone());
        }
        let base = match self.settings.require_base_url() {
            Ok(b) => b.clone(),
            Err(e) => {
                self.send(Event::NotConfigured {
                    message: e.to_string(),
                });
                return None;
            }
        };
        let me = self.clone();
        let resolved = tokio::task::spawn_blocking(move || {
            resolve(&me.settings, &me.creds, OffsetDateTime::now_utc())
        })
        .await;
        let resolved: ResolvedAuth = match resolved {
            Ok(Ok(r)) => r,
            Ok(Err(AuthError::NotConfigured(m))) => {
                self.send(Event::NotConfigured { message: m });
                return None;
            }
            Ok(Err(e @ AuthError::CookiesExpired { .. })) => {
                self.send(Event::SessionExpired {
                    reason: e.to_string(),
                    status: None,
                });
                return None;
            }
            Ok(Err(AuthError::Credentials(e))) => {
                self.credential_error(kind, e);
                return None;
            }
            Err(e) => {
                self.error(kind, ErrorClass::Internal, e.to_string());
                return None;
            }
        };
        let meta = Arc::new(ResolvedMeta {
            mode: resolved.credential.mode_name(),
            why: resolved.why,
        });
        let events = self.events.clone();
        let opts = ClientOptions {
            deployment: detect_deployment(&base, self.settings.deployment),
            base_url: base,
            credential: resolved.credential,
            timeout: self.settings.timeout,
            ca_bundle: self.settings.ca_bundle.clone(),
            retry: self.retry.clone(),
        };
        match Client::new(opts) {
            Ok(c) => {
                let c = Arc::new(c.with_notices(Arc::new(move |n: ClientNotice| {
                    let ClientNotice::Waiting {
                        wait,
                        next_attempt,
                        reason,
                    } = n;
                    let kind = CURRENT_JOB.try_with(|k| *k).unwrap_or(JobKind::Verify);
                    let _ = events.send(Event::Waiting {
                        kind,
                        wait,
                        next_attempt,
                        reason,
                    });
                })));
                *slot = Some((c.clone(), meta.clone()));
                Some((c, meta))
            }
            Err(e) => {
                self.error(kind, ErrorClass::Config, e.to_string());
                None
            }
        }
    }

    async fn invalidate_client(&self) {
        *self.client.lock().await = None;
    }

    async fn describe(self: &Arc<Self>) {
        let me = self.clone();
        match flatten(
            tokio::task::spawn_blocking(move || me.creds.status(OffsetDateTime::now_utc())).await,
        ) {
            Ok(status) => {
                self.send(Event::Described {
                    status: Box::new(status),
                    token_in_environment: self.settings.api_token.is_some(),
                });
            }
            Err(e) => self.credential_error(JobKind::Describe, e),
        }
    }

    async fn verify(self: &Arc<Self>) {
        let Some((client, meta)) = self.client(JobKind::Verify).await else {
            return;
        };
        let result = client.current_user().await;
        self.upkeep(&client, meta.mode).await;
        match result {
            Ok(user) if !user.is_anonymous() => {
                let entry = AuditEntry::new(
                    AuditEvent::SessionVerified,
                    AuditOutcome::Success,
                    format!("Signed in as {} ({} auth)", user.display_name, meta.mode),
                )
                .details(AuditDetails {
                    user: Some(user.display_name.clone()),
                    mode: Some(meta.mode.to_string()),
                    ..Default::default()
                });
                self.audit(entry).await;
                self.send(Event::Verified {
                    user,
                    mode: meta.mode,
                    why: meta.why.clone(),
                    deployment: client.deployment(),
                });
            }
            Ok(_) => {
                self.refused(
                    JobKind::Verify,
                    meta.mode,
                    &Outcome::Anonymous,
                    "user/current",
                )
                .await
            }
            Err(e) => self.client_error(JobKind::Verify, meta.mode, e).await,
        }
    }

    async fn list_spaces(self: &Arc<Self>, max: Option<usize>, generation: u64) {
        let Some((client, meta)) = self.client(JobKind::Spaces).await else {
            return;
        };
        self.send(Event::SpacesStarted { generation });
        let forward = forward_pages(self.events.clone(), move |spaces, loaded| {
            Event::SpacesPage {
                generation,
                spaces,
                loaded,
            }
        });
        let result = client.for_each_space_page(max, forward).await;
        self.finish_listing(&client, meta.mode, JobKind::Spaces, result, |total| {
            Event::SpacesDone { generation, total }
        })
        .await;
    }

    async fn list_pages(
        self: &Arc<Self>,
        space_key: String,
        space_id: Option<String>,
        generation: u64,
    ) {
        let Some((client, meta)) = self.client(JobKind::Pages).await else {
            return;
        };
        self.send(Event::PagesStarted {
            generation,
            space_key: space_key.clone(),
        });
        let key = space_key.clone();
        let forward = forward_pages(self.events.clone(), move |pages, loaded| Event::PagesPage {
            generation,
            space_key: key.clone(),
            pages,
            loaded,
        });
        let result = client
            .for_each_page_of_space(&space_key, space_id.as_deref(), forward)
            .await;
        self.finish_listing(&client, meta.mode, JobKind::Pages, result, |total| {
            Event::PagesDone {
                generation,
                space_key,
                total,
            }
        })
        .await;
    }

    /// After a listing: persist refreshed cookies, then report done or why not.
    async fn finish_listing(
        self: &Arc<Self>,
        client: &Client,
        mode: &'static str,
        kind: JobKind,
        result: Result<usize, ClientError>,
        done: impl FnOnce(usize) -> Event,
    ) {
        self.upkeep(client, mode).await;
        match result {
            Ok(total) => {
                self.send(done(total));
            }
            Err(e) => self.client_error(kind, mode, e).await,
        }
    }

    /// After every request: persist cookies the server refreshed.
    async fn upkeep(self: &Arc<Self>, client: &Client, mode: &str) {
        if mode != "cookie" {
            return;
        }
        if let Some((jar, names)) = client.take_refreshed() {
            let me = self.clone();
            if let Err(e) = flatten(
                tokio::task::spawn_blocking(move || me.creds.refresh_cookies(jar, &names)).await,
            ) {
                tracing::warn!(error = %e, "could not save refreshed cookies");
            }
        }
    }

    async fn audit(self: &Arc<Self>, entry: AuditEntry) {
        let me = self.clone();
        if let Err(e) = flatten(tokio::task::spawn_blocking(move || me.creds.record(entry)).await) {
            tracing::error!(error = %e, "could not write the audit log");
        }
    }

    async fn client_error(self: &Arc<Self>, kind: JobKind, mode: &str, e: ClientError) {
        match e {
            ClientError::Refused { outcome, path } => {
                self.refused(kind, mode, &outcome, &path).await
            }
            ClientError::Network { .. } => self.error(kind, ErrorClass::Network, e.to_string()),
            ClientError::InsecureUrl { .. }
            | ClientError::CaBundle { .. }
            | ClientError::Setup(_) => self.error(kind, ErrorClass::Config, e.to_string()),
            ClientError::Decode { .. } | ClientError::TooLarge { .. } => {
                self.error(kind, ErrorClass::Network, e.to_string())
            }
        }
    }

    /// A refusal: dead sessions and CAPTCHAs mark the cookies expired (cookie
    /// mode), are audited, and drop the cached client.
    async fn refused(self: &Arc<Self>, kind: JobKind, mode: &str, outcome: &Outcome, path: &str) {
        let message = ClientError::Refused {
            outcome: outcome.clone(),
            path: path.to_string(),
        }
        .to_string();
        match outcome {
            Outcome::SessionExpired { reason, status } => {
                let reason = reason.to_string();
                self.expire(
                    mode,
                    &reason,
                    Some(*status),
                    AuditEvent::SessionExpired,
                    None,
                )
                .await;
                self.send(Event::SessionExpired {
                    reason,
                    status: Some(*status),
                });
            }
            Outcome::Captcha { status, login_url } => {
                self.expire(
                    mode,
                    "CAPTCHA challenge",
                    Some(*status),
                    AuditEvent::CaptchaChallenge,
                    login_url.clone(),
                )
                .await;
                self.send(Event::Captcha {
                    login_url: login_url.clone(),
                    status: *status,
                });
            }
            Outcome::CredentialsRejected { status, .. } => {
                let entry = AuditEntry::new(
                    AuditEvent::CredentialsRejected,
                    AuditOutcome::Failure,
                    format!("The site rejected the {mode} credentials"),
                )
                .details(AuditDetails {
                    http_status: Some(*status),
                    mode: Some(mode.to_string()),
                    ..Default::default()
                });
                self.audit(entry).await;
                self.invalidate_client().await;
                self.error(kind, ErrorClass::Auth, message);
            }
            Outcome::Anonymous => {
                let entry = AuditEntry::new(
                    AuditEvent::CredentialsRejected,
                    AuditOutcome::Failure,
                    format!(
                        "The site answered as anonymous: the {mode} credentials were not accepted"
                    ),
                )
                .details(AuditDetails {
                    http_status: Some(200),
                    mode: Some(mode.to_string()),
                    reason: Some("anonymous".into()),
                    ..Default::default()
                });
                self.audit(entry).await;
                self.invalidate_client().await;
                self.error(kind, ErrorClass::Auth, message);
            }
            Outcome::NotFound { .. } | Outcome::Forbidden { .. } => {
                self.error(kind, ErrorClass::NotFound, message)
            }
            Outcome::RateLimited { .. }
            | Outcome::ServerError { .. }
            | Outcome::Unexpected { .. } => self.error(kind, ErrorClass::Network, message),
            Outcome::Ok => {}
        }
    }

    async fn expire(
        self: &Arc<Self>,
        mode: &str,
        reason: &str,
        status: Option<u16>,
        event: AuditEvent,
        login_url: Option<String>,
    ) {
        let me = self.clone();
        let (reason_s, mode_s) = (reason.to_string(), mode.to_string());
        let audited = tokio::task::spawn_blocking(move || -> Result<(), CredentialError> {
            let outcome = if event == AuditEvent::CaptchaChallenge {
                AuditOutcome::Failure
            } else {
                AuditOutcome::Warning
            };
            let message = if event == AuditEvent::CaptchaChallenge {
                "The site demands a CAPTCHA; sign in through the browser, then paste fresh cookies"
                    .to_string()
            } else {
                format!("Session expired: {reason_s}")
            };
            me.creds.record(
                AuditEntry::new(event, outcome, message).details(AuditDetails {
                    http_status: status,
                    mode: Some(mode_s.clone()),
                    reason: Some(reason_s.clone()),
                    login_url,
                    ..Default::default()
                }),
            )?;
            if mode_s == "cookie" {
                me.creds
                    .mark_expired(OffsetDateTime::now_utc(), &reason_s, status)?;
            }
            Ok(())
        })
        .await;
        if let Err(e) = flatten(audited) {
            tracing::error!(error = %e, "could not record the expired session");
        }
        self.invalidate_client().await;
    }
}

/// A page callback for the client that forwards each page as an event with
/// the running count, and stops the listing when nobody listens any more.
fn forward_pages<T>(
    events: mpsc::UnboundedSender<Event>,
    make: impl Fn(Vec<T>, usize) -> Event,
) -> impl FnMut(Vec<T>) -> std::ops::ControlFlow<()> {
    let mut loaded = 0usize;
    move |items| {
        loaded += items.len();
        match events.send(make(items, loaded)) {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(_) => std::ops::ControlFlow::Break(()),
        }
    }
}

fn flatten<T>(
    r: Result<Result<T, CredentialError>, tokio::task::JoinError>,
) -> Result<T, CredentialError> {
    match r {
        Ok(inner) => inner,
        Err(e) => Err(CredentialError::Interrupted(e.to_string())),
    }
}
