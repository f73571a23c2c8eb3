//! The one owner of the session in a process: the credentials in force for
//! the configured site, the cookie jar and its version, the typed state,
//! and the background work (the one keep-alive loop, the one vault watch,
//! the one browser watch, the saver of refreshed cookies). Everything else
//! holds a [`Session`] handle and asks it.
//!
//! It is one struct behind one lock ([`Held`], a `std` mutex never held
//! across an `.await`), plus a `tokio` mutex that puts its vault reads and
//! writes in a row. The files beside this one are its parts: `lend.rs`
//! (credentials lent to requests, and what their answers mean),
//! `vault_sync.rs` (reading the vault, saving refreshed cookies),
//! `verify.rs`, `staging.rs` (imports, clears and tokens) and
//! `keepalive.rs` (the loop).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore, broadcast};
use tokio::task::JoinHandle;
use url::Url;

use super::state::{Cause, NextCheck, SessionState, Snapshot, StateWord};
use super::{Notifier, SessionError};
use crate::browser::BrowserSpec;
use crate::config::Settings;
use crate::confluence::client::{
    AuthMode, Client, ClientOptions, Decorations, Deployment, RetryPolicy, Tls, Version, api_base,
    detect_deployment,
};
use crate::confluence::login_page::site_login_page;
use crate::confluence::model::User;
use crate::credentials::Credentials;
use crate::exit::ErrorClass;
use crate::vault::{MachineIdSource, VaultStamp};

/// After this many network failures in a row the keep-alive's wait stops
/// growing.
const MAX_BACKOFF_DOUBLINGS: u32 = 3;
/// Snapshots kept for a subscriber that reads slowly.
const CHANGE_BACKLOG: usize = 64;

/// When the keep-alive's first verification runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstCheck {
    /// At once (`watch` prints the state it starts in).
    Now,
    /// One interval after the start (the proxy and the app ask by
    /// themselves when they start, or their requests show it).
    AfterInterval,
}

/// What the owner watches and runs in the background.
#[derive(Clone, Debug)]
pub struct Watch {
    /// Run the background loop at all: the vault and browser watches, the
    /// keep-alive. Off for one-shot commands.
    pub running: bool,
    /// Between verifications (±10 %); `None`: keep-alive off.
    pub interval: Option<Duration>,
    pub first: FirstCheck,
    /// Run when the session enters a state that needs the user.
    pub notifier: Notifier,
    /// While the session is dead, this browser's cookie store is watched
    /// and a fresh login in it imported (verified first).
    pub browser: Option<BrowserSpec>,
}

impl Watch {
    /// Nothing in the background: a one-shot command.
    pub fn none() -> Watch {
        Watch {
            running: false,
            interval: None,
            first: FirstCheck::AfterInterval,
            notifier: Notifier::default(),
            browser: None,
        }
    }

    /// What the settings ask of a long-running face: their keep-alive
    /// interval (0: off), notify command and browser.
    pub fn from_settings(settings: &Settings, first: FirstCheck) -> Watch {
        let site = settings
            .base_url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        Watch {
            running: true,
            interval: (!settings.keepalive_interval.is_zero())
                .then_some(settings.keepalive_interval),
            first,
            notifier: Notifier::new(settings.notify_cmd.clone(), site),
            browser: settings.browser.clone(),
        }
    }
}

/// How to build the owner.
#[derive(Clone)]
pub struct SessionConfig {
    pub settings: Settings,
    pub machine_id: MachineIdSource,
    pub retry: RetryPolicy,
    /// A login page other than the site's usual one (the demo's).
    pub login_page: Option<String>,
    pub watch: Watch,
}

/// A handle on the process's session owner; cheap to clone.
#[derive(Clone)]
pub struct Session {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("site", &self.shared.site_key)
            .finish_non_exhaustive()
    }
}

/// The owner's life: dropping it stops the background work (a save of
/// refreshed cookies under way finishes).
pub struct SessionOwner {
    session: Session,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for SessionOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.session.fmt(f)
    }
}

impl std::ops::Deref for SessionOwner {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Drop for SessionOwner {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl SessionOwner {
    /// A handle to give to the parts that ask.
    pub fn session(&self) -> Session {
        self.session.clone()
    }
}

/// The clients every request of the process goes through: the gate lends
/// only credentials that may be sent; the asker also lends dead ones, for
/// a verification the user asked for.
pub(super) struct Clients {
    pub gate: Client,
    pub asker: Client,
}

/// What the owner shares with its handles and tasks.
pub(super) struct Shared {
    pub settings: Settings,
    /// How the owner's own requests retry (verifications, trials).
    pub retry: RetryPolicy,
    pub creds: Arc<Credentials>,
    /// The site's identity (`Settings::site`), if one is configured.
    pub site_key: Option<String>,
    /// The site's API base (`https://x.atlassian.net/wiki`).
    pub site_url: Option<Url>,
    pub deployment: Option<Deployment>,
    /// Where `o` sends the user to sign in.
    pub login_page: Option<String>,
    /// `None` without a site; an error when the site cannot be reached the
    /// way the settings say (plain http off loopback, a bad CA bundle).
    pub clients: Option<Result<Clients, SessionError>>,
    /// The TLS configuration of every connection to the site (roots, the
    /// client certificate offered).
    pub tls: Option<Tls>,
    pub watch: Watch,
    pub held: Mutex<Held>,
    /// Vault reads and writes of this owner, one at a time.
    pub io: tokio::sync::Mutex<()>,
    /// A turn at sending, while the site refuses superseded cookies.
    pub turn: Arc<Semaphore>,
    /// A lent ticket got its answer (or was dropped).
    pub answered: Notify,
    /// The keep-alive loop: the schedule or a flag changed.
    pub wake: Notify,
    /// The saver: refreshed cookies wait to be written.
    pub save: Notify,
    pub changes: broadcast::Sender<Snapshot>,
}

/// The credentials in force, as lent.
#[derive(Clone)]
pub(super) struct Lent {
    pub decorations: Arc<Decorations>,
    pub mode: AuthMode,
    pub why: String,
    /// When the stored cookies expire (cookie sessions).
    pub expires_at: Option<OffsetDateTime>,
}

/// Which stored credentials a generation was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SetId {
    /// The stored cookie set saved at this time (and the gateway's
    /// credentials, when any, stored at the second).
    Cookies(OffsetDateTime, Option<OffsetDateTime>),
    /// A token: from the environment, or stored at this time; `gateway`:
    /// when the gateway's credentials sent with it (its cookies, its
    /// headers) were stored, so fresh ones are a new set.
    Token {
        from_env: bool,
        saved_at: Option<OffsetDateTime>,
        gateway: Option<OffsetDateTime>,
    },
}

/// Everything that changes, behind the one lock.
pub(super) struct Held {
    /// The vault was read at least once.
    pub loaded: bool,
    /// The vault file as this owner last read or wrote it.
    pub seen: Option<VaultStamp>,
    pub generation: u64,
    pub jar: u64,
    pub lent: Option<Lent>,
    pub set: Option<SetId>,
    pub state: SessionState,
    pub user: Option<User>,
    pub verified_at: Option<OffsetDateTime>,
    /// When the keep-alive verifies next.
    pub due: Option<tokio::time::Instant>,
    /// Verifications in a row the site did not answer.
    pub failures: u32,
    /// Names of cookies refreshed and not yet saved.
    pub dirty: Vec<String>,
    /// When the jar last took a refreshed value.
    pub refreshed_at: Option<OffsetDateTime>,
    /// Tickets lent and not yet answered, per version.
    pub in_flight: HashMap<Version, usize>,
    /// The site refused a request that carried a superseded cookie: send
    /// one request at a time (each then carries the newest value).
    pub one_at_a_time: bool,
    /// A record of the session could not be written: the next caller that
    /// asks is told (the audit log is part of the command).
    pub record_failure: Option<SessionError>,
    /// The state the notify command last ran for.
    pub notified: Option<StateWord>,
    pub published: Option<Snapshot>,
    /// The session state last read from or written to the vault.
    pub stored: Option<crate::vault::StoredSession>,
    /// The session just died: look in the browser once.
    pub look_in_browser: bool,
    /// Fresh credentials arrived while not signed in: verify them.
    pub verify_soon: bool,
    /// The client certificate could not be read (the state says why).
    pub identity_problem: bool,
    /// The site's named proxy clients as last read from the vault.
    pub proxy_clients: Arc<Vec<crate::vault::ProxyClient>>,
}

impl Held {
    pub fn version(&self) -> Version {
        Version {
            generation: self.generation,
            jar: self.jar,
        }
    }

    /// A new generation of credentials: nothing learnt of the old one
    /// holds.
    pub fn next_generation(&mut self) {
        self.generation += 1;
        self.jar = 0;
        self.dirty.clear();
        self.one_at_a_time = false;
        self.user = None;
        self.verified_at = None;
        self.failures = 0;
    }
}

impl Session {
    /// Starts the owner for `config`'s site on the current tokio runtime.
    /// Nothing is read yet: the vault is read on first use (scrypt, on the
    /// blocking pool), or by [`Session::refresh`].
    pub fn start(config: SessionConfig) -> SessionOwner {
        let SessionConfig {
            settings,
            machine_id,
            retry,
            login_page,
            watch,
        } = config;
        let creds = Arc::new(Credentials::with_machine_id(&settings, machine_id));
        let base = settings.base_url.clone();
        let deployment = base
            .as_ref()
            .map(|b| detect_deployment(b, settings.deployment));
        let site_url = base.as_ref().zip(deployment).map(|(b, d)| api_base(b, d));
        let login_page = login_page.or_else(|| {
            site_url
                .as_ref()
                .zip(deployment)
                .map(|(s, d)| site_login_page(s, d))
        });
        let (changes, _) = broadcast::channel(CHANGE_BACKLOG);
        let site_key = settings.site().map(|s| s.to_string());
        let no_site = SessionState::NoCredentials {
            message: "CONFLUENCE_BASE_URL is not set: put it in .env or export it (e.g. CONFLUENCE_BASE_URL=https://your-site.atlassian.net/wiki)".into(),
        };
        let tls = Tls::new(settings.ca_bundle.as_deref())
            .map_err(|e| SessionError::new(e.class(), e.to_string()));
        let shared = Arc::new_cyclic(|weak: &std::sync::Weak<Shared>| {
            let clients = base.as_ref().zip(deployment).map(|(b, d)| {
                let gate = Client::new(ClientOptions {
                    base_url: b.clone(),
                    deployment: d,
                    authority: Arc::new(super::lend::Gate::new(weak.clone(), false)),
                    timeout: settings.timeout,
                    ca_bundle: settings.ca_bundle.clone(),
                    tls: Some(tls.clone()?),
                    retry: retry.clone(),
                })
                .map_err(|e| SessionError::new(e.class(), e.to_string()))?;
                let asker =
                    gate.with_authority(Arc::new(super::lend::Gate::new(weak.clone(), true)));
                Ok(Clients { gate, asker })
            });
            Shared {
                tls: tls.as_ref().ok().cloned(),
                site_key: site_key.clone(),
                site_url,
                deployment,
                login_page,
                clients,
                watch: watch.clone(),
                held: Mutex::new(Held {
                    loaded: false,
                    seen: None,
                    generation: 0,
                    jar: 0,
                    lent: None,
                    set: None,
                    state: if site_key.is_some() {
                        SessionState::Checking
                    } else {
                        no_site
                    },
                    user: None,
                    verified_at: None,
                    due: None,
                    failures: 0,
                    dirty: Vec::new(),
                    refreshed_at: None,
                    in_flight: HashMap::new(),
                    one_at_a_time: false,
                    record_failure: None,
                    notified: None,
                    published: None,
                    stored: None,
                    look_in_browser: false,
                    verify_soon: false,
                    identity_problem: false,
                    proxy_clients: Arc::new(Vec::new()),
                }),
                io: tokio::sync::Mutex::new(()),
                turn: Arc::new(Semaphore::new(1)),
                answered: Notify::new(),
                wake: Notify::new(),
                save: Notify::new(),
                changes,
                creds,
                settings,
                retry: retry.clone(),
            }
        });
        if watch.running && site_key.is_some() {
            let mut held = shared.held();
            if let Some(interval) = watch.interval {
                let first = match watch.first {
                    FirstCheck::Now => tokio::time::Instant::now(),
                    FirstCheck::AfterInterval => {
                        tokio::time::Instant::now() + super::keepalive_delay(interval)
                    }
                };
                held.due = Some(first);
            }
        }
        let session = Session { shared };
        let mut tasks = vec![tokio::spawn(super::vault_sync::saver(
            session.shared.clone(),
        ))];
        if watch.running && session.shared.site_key.is_some() {
            tasks.push(tokio::spawn(super::keepalive::run(session.shared.clone())));
        }
        SessionOwner { session, tasks }
    }

    /// The site's identity, if one is configured.
    pub fn site(&self) -> Option<&str> {
        self.shared.site_key.as_deref()
    }

    /// The site's API base, if one is configured.
    pub fn site_url(&self) -> Option<&Url> {
        self.shared.site_url.as_ref()
    }

    /// Cloud or Server/Data Center, if a site is configured.
    pub fn deployment(&self) -> Option<Deployment> {
        self.shared.deployment
    }

    /// Where the user signs in again.
    pub fn login_page(&self) -> Option<&str> {
        self.shared.login_page.as_deref()
    }

    /// The TLS configuration of every connection to the site (`None`: the
    /// settings name roots that cannot be read; the clients say why).
    pub fn tls(&self) -> Option<&Tls> {
        self.shared.tls.as_ref()
    }

    /// The settings the owner was built from.
    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    /// The credential store it reads and writes.
    pub fn credentials(&self) -> &Arc<Credentials> {
        &self.shared.creds
    }

    /// The session as it stands.
    pub fn snapshot(&self) -> Snapshot {
        let held = self.shared.held();
        self.shared.snapshot_of(&held, Cause::Start)
    }

    /// Every snapshot that differs from the one before, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Snapshot> {
        self.shared.changes.subscribe()
    }

    /// Reads the vault again if it changed since last read (the first
    /// call reads it): the snapshot then says what is stored.
    pub async fn refresh(&self) -> Snapshot {
        self.shared.ensure_fresh(Cause::Vault).await;
        self.snapshot()
    }

    /// A client for the site whose requests borrow this session's
    /// credentials (with the rules every request of the process follows).
    pub fn client(&self) -> Result<Client, SessionError> {
        let clients = self.shared.clients()?;
        Ok(clients.gate.with_authority(Arc::new(super::lend::Gate::new(
            Arc::downgrade(&self.shared),
            false,
        ))))
    }

    /// The session as the authority of requests the caller sends itself
    /// (the proxy): tickets, refreshed cookies, verdicts.
    pub fn authority(&self) -> Arc<dyn crate::confluence::authority::Authority> {
        Arc::new(super::lend::Gate::new(Arc::downgrade(&self.shared), false))
    }

    /// The site's named proxy clients, as the vault holds them now (read
    /// again when another process changed it: a revocation counts at once).
    pub async fn proxy_clients(&self) -> Arc<Vec<crate::vault::ProxyClient>> {
        self.shared.ensure_fresh(Cause::Vault).await;
        self.shared.held().proxy_clients.clone()
    }

    /// Writes refreshed cookies waiting to be saved, now.
    pub async fn flush(&self) {
        self.shared.save_dirty().await;
    }

    /// A failure to write a record of the session since the last call
    /// (the audit log is part of the command that met it).
    pub fn take_record_failure(&self) -> Option<SessionError> {
        self.shared.held().record_failure.take()
    }
}

impl Shared {
    /// The lock; a panic elsewhere while it was held leaves plain data.
    pub fn held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn clients(&self) -> Result<&Clients, SessionError> {
        match &self.clients {
            Some(Ok(c)) => Ok(c),
            Some(Err(e)) => Err(e.clone()),
            None => Err(SessionError::new(
                ErrorClass::Usage,
                "CONFLUENCE_BASE_URL is not set: put it in .env or export it",
            )),
        }
    }

    /// The snapshot of `held` now.
    pub fn snapshot_of(&self, held: &Held, cause: Cause) -> Snapshot {
        let next_check = match (self.watch.running, self.watch.interval, held.due) {
            (false, _, _) | (true, None, _) => NextCheck::Off,
            (true, Some(_), None) => NextCheck::AfterFreshCredentials,
            (true, Some(_), Some(due)) => {
                let left = due.saturating_duration_since(tokio::time::Instant::now());
                NextCheck::At(OffsetDateTime::now_utc() + left)
            }
        };
        let lent = held.lent.as_ref();
        Snapshot {
            site: self.site_key.clone(),
            deployment: self.deployment,
            state: held.state.clone(),
            user: if held.state == SessionState::SignedIn {
                held.user.clone()
            } else {
                None
            },
            mode: lent.map(|l| l.mode),
            why: lent.map(|l| l.why.clone()),
            expires_at: lent.and_then(|l| l.expires_at),
            verified_at: held.verified_at,
            next_check,
            cause,
            trusted_by: self.tls.as_ref().and_then(Tls::trusted_by),
        }
    }

    /// Tells every subscriber when the session changed (the cause aside),
    /// and runs the notify command once per state that needs the user.
    pub fn publish(&self, held: &mut Held, cause: Cause) -> Snapshot {
        let snapshot = self.snapshot_of(held, cause);
        let now = OffsetDateTime::now_utc();
        let word = snapshot.word(now);
        if word.needs_user() {
            if held.notified != Some(word) {
                self.watch.notifier.notify(&snapshot, now);
                held.notified = Some(word);
            }
        } else if word != StateWord::Checking {
            held.notified = None;
        }
        let news = held.published.as_ref().is_none_or(|p| {
            let mut p = p.clone();
            p.cause = snapshot.cause.clone();
            p != snapshot
        });
        if news {
            held.published = Some(snapshot.clone());
            let _ = self.changes.send(snapshot.clone());
        }
        snapshot
    }

    /// When the keep-alive asks next: after an interval (longer after
    /// failures to reach the site), never while waiting for fresh
    /// credentials, never with keep-alive off.
    pub fn reschedule(&self, held: &mut Held) {
        held.due = match self.watch.interval {
            Some(interval) if self.watch.running && !held.state.waits_for_credentials() => {
                let doublings = held.failures.min(MAX_BACKOFF_DOUBLINGS);
                Some(
                    tokio::time::Instant::now()
                        + super::keepalive_delay(interval * 2u32.pow(doublings)),
                )
            }
            _ => None,
        };
        self.wake.notify_one();
    }
}
