//! Session outcomes through the library against the fake site over real
//! HTTP: the client's classification (`ClientError::outcome()`), and the
//! worker's events, audit records and vault marks in every auth mode; plus
//! the worker's job handling (replace, cancel, wait notices, import).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use confluence_tui::audit::AuditEvent;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::confluence::classify::{ExpiryReason, MAX_RETRY_AFTER, Outcome};
use confluence_tui::confluence::client::{
    Client, ClientError, ClientOptions, Decorations, Deployment, Fixed, RetryPolicy, WaitReason,
};
use confluence_tui::cookies::jar::ExpiryState;
use confluence_tui::credentials::{Credentials, ImportInput};
use confluence_tui::demo::{
    CLOUD_SESSION_COOKIE, CaptchaForm, DEMO_API_TOKEN, DEMO_DISPLAY_NAME, DEMO_EMAIL, DEMO_PAT,
    DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer,
};
use confluence_tui::exit::ErrorClass;
use confluence_tui::secret::{ExposeSecret, SecretString};
use confluence_tui::session::{NextCheck, SessionState, Snapshot};
use confluence_tui::vault::MachineIdSource;
use confluence_tui::worker::{
    self, Command, Event, Generation, Listing, Mutation, MutationDone, Query, QueryKind,
    SettingsSource, Wait, WorkerHandle,
};
use tokio::sync::mpsc::UnboundedReceiver;

const MACHINE: &str = "session-outcomes-test-machine";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    }
}

async fn site(flavor: DemoFlavor, faults: DemoFaults, data: DemoData) -> DemoServer {
    let config = DemoConfig {
        flavor,
        data,
        faults,
    };
    DemoServer::start(config, "127.0.0.1:0".parse::<SocketAddr>().unwrap())
        .await
        .unwrap()
}

async fn cloud(faults: DemoFaults) -> DemoServer {
    site(DemoFlavor::Cloud, faults, DemoData::default()).await
}

async fn server_dc(faults: DemoFaults) -> DemoServer {
    site(DemoFlavor::Server, faults, DemoData::default()).await
}

/// How a test signs in.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Basic(&'a str),
    Bearer(&'a str),
    /// Whatever cookies the vault holds.
    Cookie,
}

/// A data dir and the settings pointing at one site.
struct Env {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Env {
    fn new(server: &DemoServer, mode: Mode) -> Env {
        Env::at(Some(server.base_url().to_string()), server.flavor(), mode)
    }

    fn at(base_url: Option<String>, flavor: DemoFlavor, mode: Mode) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut vars: HashMap<String, String> = HashMap::new();
        vars.insert("CONFLUENCE_KDF_LOG_N".into(), "10".into());
        let deployment = match flavor {
            DemoFlavor::Cloud => "cloud",
            DemoFlavor::Server => "server",
        };
        vars.insert("CONFLUENCE_DEPLOYMENT".into(), deployment.into());
        if let Some(u) = base_url {
            vars.insert("CONFLUENCE_BASE_URL".into(), u);
        }
        match mode {
            Mode::Basic(t) => {
                vars.insert("CONFLUENCE_USERNAME".into(), DEMO_EMAIL.into());
                vars.insert("CONFLUENCE_API_TOKEN".into(), t.into());
            }
            Mode::Bearer(t) => {
                vars.insert("CONFLUENCE_API_TOKEN".into(), t.into());
            }
            Mode::Cookie => {}
        }
        Env { dir, vars }
    }

    fn flags(&self) -> FlagOverrides {
        FlagOverrides {
            data_dir: Some(self.dir.path().to_path_buf()),
            ..Default::default()
        }
    }

    fn settings(&self) -> Settings {
        Settings::from_vars(&self.flags(), &self.vars).unwrap()
    }

    fn creds(&self) -> Credentials {
        Credentials::with_machine_id(&self.settings(), MachineIdSource::Fixed(MACHINE.into()))
    }

    fn import(&self, header: &str) {
        self.creds()
            .import(
                ImportInput::Paste(header.to_string().into()),
                time::OffsetDateTime::now_utc(),
            )
            .unwrap();
    }

    fn worker(&self) -> WorkerHandle {
        self.worker_with(false)
    }

    /// A worker whose session owner runs in the background (keep-alive,
    /// vault and browser watches) when `keep_alive`, as the app's does.
    fn worker_with(&self, keep_alive: bool) -> WorkerHandle {
        worker::spawn(
            self.settings(),
            worker::WorkerOptions {
                source: SettingsSource::Environment(self.flags()),
                machine_id: MachineIdSource::Fixed(MACHINE.into()),
                retry: fast_retry(),
                login_page: None,
                keep_alive,
            },
        )
    }

    fn audit_events(&self) -> Vec<AuditEvent> {
        self.creds()
            .audit_log()
            .read_all()
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect()
    }

    fn cookie_state(&self) -> Option<ExpiryState> {
        self.creds()
            .status(time::OffsetDateTime::now_utc())
            .unwrap()
            .cookies
            .map(|c| c.state)
    }

    fn stored_session(&self) -> String {
        let doc = self.creds().load().unwrap();
        let site = self.settings().site().unwrap();
        let jar = doc.site(&site).unwrap().cookies.clone().unwrap().jar;
        jar.get(CLOUD_SESSION_COOKIE)
            .unwrap()
            .value
            .expose_secret()
            .to_string()
    }
}

/// The next event that answers something: the site announcement and the
/// stored-credential reports that follow mutations are skipped.
async fn next(events: &mut UnboundedReceiver<Event>) -> Event {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event within 10 s")
            .expect("the worker is running");
        // Change notices of the session owner are not answers.
        if !matches!(ev, Event::Site(_) | Event::Stored(_) | Event::Session(_)) {
            return ev;
        }
    }
}

/// Events up to and including the first that ends a job.
async fn until_end(events: &mut UnboundedReceiver<Event>) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let ev = next(events).await;
        let end = match &ev {
            Event::Verified { .. } | Event::Failed { .. } => true,
            Event::Spaces(g) => g
                .as_current(current())
                .is_some_and(|l| matches!(l, Listing::Done { .. } | Listing::Failed(_))),
            Event::Pages(g) => g
                .as_current(current())
                .is_some_and(|l| matches!(l, Listing::Done { .. } | Listing::Failed(_))),
            _ => false,
        };
        seen.push(ev);
        if end {
            return seen;
        }
    }
}

/// The generation the listing tests ask with (one listing at a time).
fn current() -> Generation {
    Generation::default().next()
}

fn list_spaces(generation: Generation) -> Command {
    Command::Query(Query::ListSpaces {
        generation,
        max: None,
    })
}

/// Runs `Verify` on a fresh worker and returns every event to the end.
async fn verify(env: &Env) -> Vec<Event> {
    let mut w = env.worker();
    w.commands.send(Command::Query(Query::Verify)).unwrap();
    until_end(&mut w.events).await
}

fn last(events: &[Event]) -> &Event {
    events.last().unwrap()
}

/// The session a verification answered with.
fn answered(ev: &Event) -> &Snapshot {
    match ev {
        Event::Verified { snapshot, .. } => snapshot,
        other => panic!("not a verification's answer: {other:?}"),
    }
}

/// The session as the worker's owner holds it now.
fn owned(w: &WorkerHandle) -> Snapshot {
    w.sessions.borrow().clone().expect("a session").snapshot()
}

fn direct_client(server: &DemoServer, credential: Decorations) -> Client {
    let deployment = match server.flavor() {
        DemoFlavor::Cloud => Deployment::Cloud,
        DemoFlavor::Server => Deployment::Server,
    };
    Client::new(ClientOptions {
        base_url: server.base_url(),
        deployment,
        authority: Fixed::shared(credential),
        timeout: Duration::from_secs(5),
        ca_bundle: None,
        tls: None,
        retry: fast_retry(),
    })
    .unwrap()
}

fn basic(token: &str) -> Decorations {
    Decorations::basic(DEMO_EMAIL, SecretString::from(token))
}

fn bearer(token: &str) -> Decorations {
    Decorations::bearer(SecretString::from(token))
}

fn cookies(header: &str) -> Decorations {
    let parsed = confluence_tui::cookies::parse::parse_cookies(header).unwrap();
    Decorations::cookies(parsed.jar)
}

/// A fault knob, the expiry reason it must give, and the HTTP status.
type DeadCase = (fn(&mut DemoFaults), fn(&ExpiryReason) -> bool, u16);

async fn refusal(client: &Client) -> Outcome {
    match client.current_user().await {
        Ok(u) => panic!("expected a refusal, got user {}", u.display_name),
        Err(e) => e
            .outcome()
            .cloned()
            .unwrap_or_else(|| panic!("not a refusal: {e}")),
    }
}

// ------------------------------------------------ client classification

#[tokio::test]
async fn client_classifies_every_outcome_over_http() {
    // ok in every mode
    let c = cloud(DemoFaults::default()).await;
    let s = server_dc(DemoFaults::default()).await;
    for (server, cred) in [
        (&c, basic(DEMO_API_TOKEN)),
        (&s, bearer(DEMO_PAT)),
        (&c, cookies(&c.session_cookie_header())),
        (&s, cookies(&s.session_cookie_header())),
    ] {
        let user = direct_client(server, cred).current_user().await.unwrap();
        assert_eq!(user.display_name, DEMO_DISPLAY_NAME);
    }

    // dead sessions: each knob, cookie mode
    let dead = format!("{CLOUD_SESSION_COOKIE}=never-issued");
    let cases: [DeadCase; 4] = [
        (|_| {}, |r| *r == ExpiryReason::Unauthorized, 401),
        (
            |f| f.expired_403 = true,
            |r| *r == ExpiryReason::NotPermitted,
            403,
        ),
        (
            |f| f.redirect_to_login = true,
            |r| matches!(r, ExpiryReason::LoginRedirect { location } if location.contains("/login.action")),
            302,
        ),
        (
            |f| f.html_login_page = true,
            |r| *r == ExpiryReason::HtmlInsteadOfJson,
            200,
        ),
    ];
    for (knob, reason_ok, want_status) in cases {
        let mut faults = DemoFaults::default();
        knob(&mut faults);
        c.set_faults(faults.clone());
        let before = c.request_count();
        match refusal(&direct_client(&c, cookies(&dead))).await {
            Outcome::SessionExpired { reason, status } => {
                assert!(reason_ok(&reason), "{reason:?}");
                assert_eq!(status, want_status);
            }
            other => panic!("{faults:?}: {other:?}"),
        }
        assert_eq!(c.request_count() - before, 1, "never retried");
        // The same answer to a token is a rejection.
        let before = c.request_count();
        assert!(matches!(
            refusal(&direct_client(&c, basic("wrong"))).await,
            Outcome::CredentialsRejected { .. }
        ));
        assert_eq!(c.request_count() - before, 1, "never retried");
    }
    c.set_faults(DemoFaults::default());

    // session lifetime
    c.set_faults(DemoFaults {
        session_expire_after_requests: Some(1),
        ..DemoFaults::default()
    });
    let client = direct_client(&c, cookies(&c.session_cookie_header()));
    client.current_user().await.unwrap();
    assert!(matches!(
        refusal(&client).await,
        Outcome::SessionExpired {
            reason: ExpiryReason::Unauthorized,
            status: 401
        }
    ));

    // CAPTCHA, both forms, every mode, never retried
    let login = format!("http://{}/login.action", s.addr());
    for form in [CaptchaForm::Header403, CaptchaForm::Seraph401] {
        let live = s.session_cookie_header();
        s.set_faults(DemoFaults {
            captcha: Some(form),
            ..DemoFaults::default()
        });
        for cred in [bearer(DEMO_PAT), cookies(&live)] {
            let before = s.request_count();
            match (form, refusal(&direct_client(&s, cred)).await) {
                (
                    CaptchaForm::Header403,
                    Outcome::Captcha {
                        status, login_url, ..
                    },
                ) => {
                    assert_eq!(status, 403);
                    assert_eq!(login_url.as_deref(), Some(login.as_str()));
                }
                (CaptchaForm::Seraph401, Outcome::Captcha { status, .. }) => {
                    assert_eq!(status, 401)
                }
                (_, other) => panic!("{form:?}: {other:?}"),
            }
            assert_eq!(s.request_count() - before, 1, "a CAPTCHA is never retried");
        }
    }
    s.set_faults(DemoFaults::default());

    // rejected, anonymous
    let before = c.request_count();
    c.set_faults(DemoFaults::default());
    assert!(matches!(
        refusal(&direct_client(&c, basic("wrong-token"))).await,
        Outcome::CredentialsRejected { status: 401, .. }
    ));
    assert_eq!(c.request_count() - before, 1);
    assert_eq!(
        refusal(&direct_client(&s, bearer("not-a-pat"))).await,
        Outcome::Anonymous
    );
    c.set_faults(DemoFaults {
        anonymous: true,
        ..DemoFaults::default()
    });
    assert_eq!(
        refusal(&direct_client(&c, basic(DEMO_API_TOKEN))).await,
        Outcome::Anonymous
    );

    // 5xx after retries: every attempt used, then the server error
    c.set_faults(DemoFaults {
        error_rate: 1.0,
        ..DemoFaults::default()
    });
    let before = c.request_count();
    assert!(matches!(
        refusal(&direct_client(&c, basic(DEMO_API_TOKEN))).await,
        Outcome::ServerError {
            status: 502..=504,
            ..
        }
    ));
    assert_eq!(c.request_count() - before, 3);
}

#[tokio::test]
async fn closed_port_is_a_network_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(ClientOptions {
        base_url: format!("http://127.0.0.1:{port}").parse().unwrap(),
        deployment: Deployment::Server,
        authority: Fixed::shared(bearer(DEMO_PAT)),
        timeout: Duration::from_secs(5),
        ca_bundle: None,
        tls: None,
        retry: fast_retry(),
    })
    .unwrap();
    let err = client.current_user().await.unwrap_err();
    assert!(matches!(err, ClientError::Network { .. }), "{err}");
    assert!(err.outcome().is_none());
}

// ------------------------------------------------ worker outcomes

#[tokio::test]
async fn worker_verifies_in_every_mode_and_audits_it() {
    let c = cloud(DemoFaults::default()).await;
    let s = server_dc(DemoFaults::default()).await;
    let cookie_env = Env::new(&c, Mode::Cookie);
    cookie_env.import(&c.session_cookie_header());
    for (env, want_mode) in [
        (Env::new(&c, Mode::Basic(DEMO_API_TOKEN)), "basic"),
        (Env::new(&s, Mode::Bearer(DEMO_PAT)), "bearer"),
        (cookie_env, "cookie"),
    ] {
        let events = verify(&env).await;
        let s = answered(last(&events));
        assert!(s.is_signed_in(), "{want_mode}: {s:?}");
        assert_eq!(s.user_name(), Some(DEMO_DISPLAY_NAME));
        assert_eq!(s.mode.unwrap().to_string(), want_mode);
        assert_eq!(
            env.audit_events().last(),
            Some(&AuditEvent::SessionVerified)
        );
    }
}

#[tokio::test]
async fn worker_marks_dead_cookie_sessions_expired() {
    let dead = format!("{CLOUD_SESSION_COOKIE}=never-issued");
    let knobs: [fn(&mut DemoFaults); 4] = [
        |_| {},
        |f| f.expired_403 = true,
        |f| f.redirect_to_login = true,
        |f| f.html_login_page = true,
    ];
    for knob in knobs {
        let mut faults = DemoFaults::default();
        knob(&mut faults);
        let c = cloud(faults.clone()).await;
        let env = Env::new(&c, Mode::Cookie);
        env.import(&dead);
        let events = verify(&env).await;
        assert!(
            matches!(
                answered(last(&events)).state,
                SessionState::Expired {
                    status: Some(_),
                    ..
                }
            ),
            "{faults:?}: {events:?}"
        );
        let audit = env.audit_events();
        assert!(audit.contains(&AuditEvent::SessionExpired), "{audit:?}");
        assert!(audit.contains(&AuditEvent::CookiesExpired), "{audit:?}");
        assert!(
            matches!(env.cookie_state(), Some(ExpiryState::MarkedExpired { .. })),
            "{faults:?}"
        );
        assert_eq!(c.request_count(), 1);
    }
}

#[tokio::test]
async fn worker_reports_captcha_rejection_and_anonymous() {
    let s = server_dc(DemoFaults::default()).await;
    let env = Env::new(&s, Mode::Cookie);
    env.import(&s.session_cookie_header());
    s.set_faults(DemoFaults {
        captcha: Some(CaptchaForm::Header403),
        ..DemoFaults::default()
    });
    let events = verify(&env).await;
    match &answered(last(&events)).state {
        SessionState::Captcha { login_url, status } => {
            assert_eq!(*status, Some(403));
            assert_eq!(
                login_url.as_deref(),
                Some(format!("http://{}/login.action", s.addr()).as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.request_count(), 1, "never retried");
    assert!(env.audit_events().contains(&AuditEvent::CaptchaChallenge));
    // The cookies are kept; the CAPTCHA is the session's stored state.
    assert!(matches!(
        env.cookie_state(),
        Some(ExpiryState::Valid { .. })
    ));

    s.set_faults(DemoFaults::default());
    let env = Env::new(&s, Mode::Bearer("not-a-pat"));
    let events = verify(&env).await;
    assert!(
        matches!(
            &answered(last(&events)).state,
            SessionState::Rejected { reason, .. } if reason.contains("anonymous")
        ),
        "{events:?}"
    );
    assert_eq!(env.audit_events(), [AuditEvent::CredentialsRejected]);

    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Basic("wrong-token"));
    let events = verify(&env).await;
    assert!(
        matches!(answered(last(&events)).state, SessionState::Rejected { .. }),
        "{events:?}"
    );
    assert_eq!(c.request_count(), 1, "auth failures are never retried");
    assert_eq!(env.audit_events(), [AuditEvent::CredentialsRejected]);
}

#[tokio::test]
async fn worker_retries_server_errors_then_gives_up_as_network() {
    let c = cloud(DemoFaults {
        error_rate: 1.0,
        ..DemoFaults::default()
    })
    .await;
    let env = Env::new(&c, Mode::Basic(DEMO_API_TOKEN));
    let events = verify(&env).await;
    let waits: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Waiting(Wait {
                reason,
                next_attempt,
                ..
            }) => Some((reason.clone(), *next_attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 2, "{events:?}");
    assert!(
        waits
            .iter()
            .all(|(r, _)| matches!(r, WaitReason::ServerError { .. }))
    );
    assert_eq!(
        waits.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert!(matches!(
        answered(last(&events)).state,
        SessionState::Unreachable { .. }
    ));
    assert_eq!(c.request_count(), 3);
    assert!(env.audit_events().is_empty());
}

#[tokio::test]
async fn worker_without_settings_says_not_configured() {
    let env = Env::at(None, DemoFlavor::Cloud, Mode::Bearer(DEMO_PAT));
    let events = verify(&env).await;
    assert!(
        matches!(&answered(last(&events)).state, SessionState::NoCredentials { message } if message.contains("CONFLUENCE_BASE_URL")),
        "{events:?}"
    );
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    let events = verify(&env).await;
    assert!(
        matches!(&answered(last(&events)).state, SessionState::NoCredentials { message } if message.contains("CONFLUENCE_API_TOKEN")),
        "{events:?}"
    );
    assert_eq!(c.request_count(), 0);
}

// ------------------------------------------------ worker jobs

/// A Server site whose v1 listing comes back 5 spaces a page, slowly.
async fn slow_listing_site() -> DemoServer {
    site(
        DemoFlavor::Server,
        DemoFaults {
            cap_limit: Some(5),
            latency: Duration::from_millis(40),
            ..DemoFaults::default()
        },
        DemoData {
            spaces: 60,
            pages_per_space: 3,
        },
    )
    .await
}

// A current-thread runtime: an aborted job is never polled again, so every
// event of the older generation is already queued when the newer starts.
#[tokio::test(flavor = "current_thread")]
async fn newer_space_listing_replaces_the_older() {
    let s = slow_listing_site().await;
    let env = Env::new(&s, Mode::Bearer(DEMO_PAT));
    let mut w = env.worker();
    let first = Generation::default().next();
    let second = first.next();
    w.commands.send(list_spaces(first)).unwrap();
    loop {
        if let Event::Spaces(g) = next(&mut w.events).await
            && matches!(g.as_current(first), Some(Listing::Items { .. }))
        {
            break;
        }
    }
    w.commands.send(list_spaces(second)).unwrap();
    let mut events = Vec::new();
    let total = loop {
        let Event::Spaces(g) = next(&mut w.events).await else {
            continue;
        };
        if let Some(Listing::Done { total }) = g.as_current(second) {
            break *total;
        }
        events.push(g);
    };
    assert_eq!(total, 60);
    let started = events
        .iter()
        .position(|g| matches!(g.as_current(second), Some(Listing::Started)))
        .expect("the newer listing started");
    let older_pages = events[..started]
        .iter()
        .filter(|g| g.as_current(first).is_some())
        .count();
    assert!(older_pages < 11, "the older listing stopped early");
    assert!(
        events[started..]
            .iter()
            .all(|g| g.as_current(first).is_none()),
        "only the newest generation goes on"
    );
    let loaded: usize = events[started..]
        .iter()
        .filter_map(|g| match g.as_current(second) {
            Some(Listing::Items { items, .. }) => Some(items.len()),
            _ => None,
        })
        .sum();
    assert_eq!(loaded, 60);
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_stops_a_listing() {
    let s = slow_listing_site().await;
    let env = Env::new(&s, Mode::Bearer(DEMO_PAT));
    let mut w = env.worker();
    w.commands.send(list_spaces(current())).unwrap();
    loop {
        if let Event::Spaces(g) = next(&mut w.events).await
            && matches!(g.as_current(current()), Some(Listing::Items { .. }))
        {
            break;
        }
    }
    w.commands.send(Command::Cancel(QueryKind::Spaces)).unwrap();
    let at_cancel = s.request_count();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        s.request_count() <= at_cancel + 1,
        "no more requests after cancel"
    );
    while let Ok(ev) = w.events.try_recv() {
        let done = matches!(&ev, Event::Spaces(g) if matches!(g.as_current(current()), Some(Listing::Done { .. })));
        assert!(!done, "cancelled: {ev:?}");
    }
}

#[tokio::test]
async fn rate_limit_waits_are_reported_and_clamped() {
    // Retry-After 1 s: a Waiting event of 1 s, then success.
    let c = cloud(DemoFaults {
        rate_limit_every: Some(1),
        retry_after_secs: 1,
        ..DemoFaults::default()
    })
    .await;
    let env = Env::new(&c, Mode::Basic(DEMO_API_TOKEN));
    let mut w = env.worker();
    w.commands.send(Command::Query(Query::Verify)).unwrap();
    match next(&mut w.events).await {
        Event::Waiting(Wait {
            query: kind,
            wait,
            next_attempt,
            reason,
        }) => {
            assert_eq!(kind, QueryKind::Verify);
            assert_eq!(wait, Duration::from_secs(1));
            assert_eq!(next_attempt, 2);
            assert_eq!(reason, WaitReason::RateLimited { status: 429 });
        }
        other => panic!("{other:?}"),
    }
    c.set_faults(DemoFaults::default());
    assert!(answered(last(&until_end(&mut w.events).await)).is_signed_in());

    // An absurd Retry-After is clamped, and the listing's wait is tagged
    // with its job; cancelling ends the wait.
    c.set_faults(DemoFaults {
        rate_limit_every: Some(1),
        retry_after_secs: u64::MAX,
        ..DemoFaults::default()
    });
    w.commands.send(list_spaces(current())).unwrap();
    let waiting = loop {
        match next(&mut w.events).await {
            Event::Waiting(Wait { query, wait, .. }) => break (query, wait),
            Event::Spaces(_) => {}
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(waiting, (QueryKind::Spaces, MAX_RETRY_AFTER));
    let at_cancel = c.request_count();
    w.commands.send(Command::Cancel(QueryKind::Spaces)).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(c.request_count(), at_cancel);
    assert!(w.events.try_recv().is_err(), "nothing after cancel");
}

#[tokio::test]
async fn import_cookies_then_verified() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    let mut w = env.worker();
    w.commands
        .send(Command::Mutate(Mutation::ImportCookies {
            input: ImportInput::Paste(c.session_cookie_header().into()),
        }))
        .unwrap();
    match next(&mut w.events).await {
        Event::Mutated {
            result: Ok(MutationDone::CookiesImported(report)),
            ..
        } => {
            assert!(
                report
                    .session_cookies
                    .contains(&CLOUD_SESSION_COOKIE.into())
            );
        }
        other => panic!("{other:?}"),
    }
    // Asked about before they were stored: signed in with them already.
    let s = owned(&w);
    assert!(s.is_signed_in(), "{s:?}");
    assert_eq!(s.mode.unwrap().to_string(), "cookie");
    assert_eq!(s.user_name(), Some(DEMO_DISPLAY_NAME));
    let audit = env.audit_events();
    assert_eq!(
        audit.last(),
        Some(&AuditEvent::SessionVerified),
        "{audit:?}"
    );
}

#[tokio::test]
async fn session_dying_during_a_listing_is_reported_and_marked() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let mut w = env.worker();
    w.commands.send(Command::Query(Query::Verify)).unwrap();
    assert!(answered(last(&until_end(&mut w.events).await)).is_signed_in());
    // The session dies on the next use: the listing's first request.
    c.set_faults(DemoFaults {
        session_expire_after_requests: Some(1),
        ..DemoFaults::default()
    });
    w.commands.send(list_spaces(current())).unwrap();
    let events = until_end(&mut w.events).await;
    assert!(
        matches!(last(&events), Event::Spaces(g) if matches!(g.as_current(current()), Some(Listing::Failed(error)) if error.class == ErrorClass::Auth && error.message.contains("expired"))),
        "{events:?}"
    );
    assert!(matches!(
        owned(&w).state,
        SessionState::Expired {
            status: Some(401),
            ..
        }
    ));
    assert!(matches!(
        env.cookie_state(),
        Some(ExpiryState::MarkedExpired { .. })
    ));
    let audit = env.audit_events();
    assert!(audit.contains(&AuditEvent::SessionExpired), "{audit:?}");
    assert!(audit.contains(&AuditEvent::CookiesExpired), "{audit:?}");
    // The marked cookies are not sent again.
    let before = c.request_count();
    w.commands.send(Command::Query(Query::Verify)).unwrap();
    assert!(matches!(
        answered(last(&until_end(&mut w.events).await)).state,
        SessionState::Expired { .. }
    ));
    assert_eq!(c.request_count(), before);
}

#[tokio::test]
async fn refreshed_cookies_are_persisted() {
    let c = cloud(DemoFaults {
        rotate_cookies: true,
        ..DemoFaults::default()
    })
    .await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let before = env.stored_session();
    assert!(answered(last(&verify(&env).await)).is_signed_in());
    let after = env.stored_session();
    assert_ne!(before, after);
    assert!(env.audit_events().contains(&AuditEvent::CookiesRefreshed));
    // The saved value is accepted on its own (a fresh worker reads the vault).
    assert_eq!(
        c.session_cookie_header()
            .split("; ")
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1,
        after
    );
    assert!(answered(last(&verify(&env).await)).is_signed_in());
}

#[tokio::test]
async fn a_clear_sent_right_after_an_import_wins_and_both_are_answered() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    let mut w = env.worker();
    // Sent back to back: the import (scrypt, a vault write) is still running
    // when the clear arrives. Neither may abort the other.
    w.commands
        .send(Command::Mutate(Mutation::ImportCookies {
            input: ImportInput::Paste(c.session_cookie_header().into()),
        }))
        .unwrap();
    w.commands
        .send(Command::Mutate(Mutation::ClearCookies))
        .unwrap();
    let mut answers = Vec::new();
    while answers.len() < 2 {
        if let Event::Mutated { kind, result } = next(&mut w.events).await {
            assert!(result.is_ok(), "{kind:?}: {result:?}");
            answers.push((kind, result));
        }
    }
    assert!(matches!(answers[0].1, Ok(MutationDone::CookiesImported(_))));
    match &answers[1].1 {
        Ok(MutationDone::CookiesCleared(report)) => assert!(report.removed > 0),
        other => panic!("{other:?}"),
    }
    assert!(env.cookie_state().is_none(), "the clear ran last");
    let audit = env.audit_events();
    let saved = audit.iter().position(|e| *e == AuditEvent::CookiesSaved);
    let cleared = audit.iter().position(|e| *e == AuditEvent::CookiesCleared);
    assert!(saved < cleared && saved.is_some(), "{audit:?}");
}

#[tokio::test]
async fn a_reload_reads_its_source_once_and_announces_the_new_site() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Basic(DEMO_API_TOKEN));
    let data = env.dir.path().to_path_buf();
    let mut vars = env.vars.clone();
    vars.insert("CONFLUENCE_DATA_DIR".into(), data.display().to_string());
    // The worker starts without a site; its source has one.
    let mut start = vars.clone();
    start.remove("CONFLUENCE_BASE_URL");
    let settings = Settings::from_vars(&FlagOverrides::default(), &start).unwrap();
    let mut w = worker::spawn(
        settings,
        worker::WorkerOptions {
            source: SettingsSource::Vars(vars),
            machine_id: MachineIdSource::Fixed(MACHINE.into()),
            retry: fast_retry(),
            login_page: None,
            keep_alive: false,
        },
    );
    let first = tokio::time::timeout(Duration::from_secs(10), w.events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(first, Event::Site(ref s) if s.site.is_none()),
        "{first:?}"
    );
    w.commands
        .send(Command::Mutate(Mutation::ReloadSettings))
        .unwrap();
    let site = tokio::time::timeout(Duration::from_secs(10), w.events.recv())
        .await
        .unwrap()
        .unwrap();
    match site {
        Event::Site(s) => {
            let port = c.addr().port().to_string();
            assert!(
                s.site.as_deref().is_some_and(|u| u.contains(&port)),
                "{s:?}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next(&mut w.events).await,
        Event::Mutated {
            result: Ok(MutationDone::SettingsReloaded),
            ..
        }
    ));
    // The next verification uses the new site.
    w.commands.send(Command::Query(Query::Verify)).unwrap();
    assert!(answered(last(&until_end(&mut w.events).await)).is_signed_in());
}

/// The next event of any kind, the site announcement aside.
async fn next_raw(events: &mut UnboundedReceiver<Event>) -> Event {
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event within 10 s")
            .expect("the worker is running");
        if !matches!(ev, Event::Site(_)) {
            return ev;
        }
    }
}

#[tokio::test]
async fn describe_reads_the_vault_only_when_its_file_changed() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let mut w = env.worker();
    w.commands.send(Command::Query(Query::Describe)).unwrap();
    let names = match next_raw(&mut w.events).await {
        Event::Stored(info) => info.status.cookies.expect("cookies stored").names,
        other => panic!("{other:?}"),
    };
    // Garbage of the same length, same inode, same modification time: a
    // second read of the file would fail, so an answer proves the cache.
    let vault = env.dir.path().join("cookies/secure_cookies.enc");
    let modified = std::fs::metadata(&vault).unwrap().modified().unwrap();
    let len = std::fs::metadata(&vault).unwrap().len() as usize;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&vault)
        .unwrap();
    std::io::Write::write_all(&mut &f, &vec![0u8; len]).unwrap();
    f.set_modified(modified).unwrap();
    w.commands.send(Command::Query(Query::Describe)).unwrap();
    match next_raw(&mut w.events).await {
        Event::Stored(info) => assert_eq!(info.status.cookies.unwrap().names, names),
        other => panic!("the unchanged file was read again: {other:?}"),
    }
    // Now the file changed: it is read, and found damaged.
    f.set_modified(modified + Duration::from_secs(5)).unwrap();
    w.commands.send(Command::Query(Query::Describe)).unwrap();
    match next_raw(&mut w.events).await {
        Event::Failed {
            query: QueryKind::Describe,
            error,
        } => assert_eq!(error.class, ErrorClass::Vault, "{error}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_watched_intake_file_found_empty_is_nothing_to_import() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    let mut w = env.worker();
    // The file event came, but the file was already imported and emptied.
    let intake = env.dir.path().join("cookies/confluence_cookies.txt");
    std::fs::create_dir_all(intake.parent().unwrap()).unwrap();
    std::fs::write(&intake, "").unwrap();
    w.commands
        .send(Command::Mutate(Mutation::ImportIntake))
        .unwrap();
    match next(&mut w.events).await {
        Event::Mutated {
            result: Ok(MutationDone::NothingToImport),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(
        env.audit_events().is_empty(),
        "nothing happened, nothing audited"
    );
    // With cookies in it, it is imported as before.
    std::fs::write(&intake, c.session_cookie_header()).unwrap();
    w.commands
        .send(Command::Mutate(Mutation::ImportIntake))
        .unwrap();
    assert!(matches!(
        next(&mut w.events).await,
        Event::Mutated {
            result: Ok(MutationDone::CookiesImported(_)),
            ..
        }
    ));
}

#[tokio::test]
async fn a_token_is_stored_only_when_the_site_accepts_it() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    let mut w = env.worker();
    let store = |token: &str| {
        Command::Mutate(Mutation::StoreToken {
            token: SecretString::from(token),
            username: Some(DEMO_EMAIL.into()),
        })
    };
    // Refused: answered with the class `check` would give, nothing stored.
    w.commands.send(store("wrong-token")).unwrap();
    match next(&mut w.events).await {
        Event::Mutated { result: Err(e), .. } => {
            assert_eq!(e.class, ErrorClass::Auth, "{e}");
            assert!(e.message.contains("not stored"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let status = env.creds().status(time::OffsetDateTime::now_utc()).unwrap();
    assert!(!status.token_stored);
    assert!(
        env.audit_events()
            .contains(&AuditEvent::CredentialsRejected),
        "{:?}",
        env.audit_events()
    );
    // Accepted: stored with its user name, and the verification that
    // follows signs in as Basic with nothing in the settings.
    w.commands.send(store(DEMO_API_TOKEN)).unwrap();
    match next(&mut w.events).await {
        Event::Mutated {
            result: Ok(MutationDone::TokenStored),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    let s = owned(&w);
    assert!(s.is_signed_in(), "{s:?}");
    assert_eq!(s.mode.unwrap().to_string(), "basic");
}

// ------------------------------------------------ one session owner

/// Events until `pick` takes one (change notices included), up to 20 s.
async fn until<T>(
    events: &mut UnboundedReceiver<Event>,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the event within 20 s")
            .expect("the worker is running");
        if let Some(t) = pick(&ev) {
            return t;
        }
    }
}

/// The verification's answer to `q`.
async fn ask(w: &mut WorkerHandle, q: Query) -> Snapshot {
    w.commands.send(Command::Query(q)).unwrap();
    until(&mut w.events, |ev| match ev {
        Event::Verified { snapshot, .. } => Some(snapshot.clone()),
        _ => None,
    })
    .await
}

/// A worker's listings and 32 proxied clients at once share one owner on a
/// site that rotates the session cookie on every request and refuses the
/// value it replaced at once: nobody sees a 401, the session lives, and
/// the vault holds the newest value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_and_proxied_requests_share_one_owner_on_a_strictly_rotating_site() {
    use confluence_tui::proxy::{self, ProxyOptions, ProxyToken, SessionSource};
    let c = cloud(DemoFaults {
        rotate_cookies: true,
        rotation_grace: 0,
        ..DemoFaults::default()
    })
    .await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let mut w = env.worker();
    assert!(ask(&mut w, Query::Verify).await.is_signed_in());
    let sessions = SessionSource::follow(w.sessions.clone());
    let handle = proxy::start(sessions, ProxyOptions::new(ProxyToken::generate().unwrap()))
        .await
        .unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token = confluence_tui::secret::ExposeSecret::expose_secret(handle.token()).to_string();
    for round in 0..3 {
        let generation = Generation::default().next();
        w.commands.send(list_spaces(generation)).unwrap();
        w.commands
            .send(Command::Query(Query::ListPages {
                generation,
                space_key: DemoData::default().space(0).unwrap().key,
                space_id: None,
            }))
            .unwrap();
        let clients = (0..32).map(|i| {
            let url = format!(
                "{}/rest/api/space?limit=1&start={}",
                handle.base_url(),
                i % 3
            );
            let r = http.get(url).basic_auth("confluence-tui", Some(&token));
            async move { r.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        });
        let statuses = futures::future::join_all(clients).await;
        assert!(
            statuses.iter().all(|s| *s == 200),
            "round {round}: {statuses:?}"
        );
        let mut done = 0;
        while done < 2 {
            match tokio::time::timeout(Duration::from_secs(20), w.events.recv())
                .await
                .unwrap()
                .unwrap()
            {
                Event::Spaces(g) => match g.into_current(generation) {
                    Some(Listing::Done { total }) => {
                        assert!(total > 0);
                        done += 1;
                    }
                    Some(Listing::Failed(e)) => panic!("round {round}: spaces: {e}"),
                    _ => {}
                },
                Event::Pages(g) => match g.into_current(generation) {
                    Some(Listing::Done { .. }) => done += 1,
                    Some(Listing::Failed(e)) => panic!("round {round}: pages: {e}"),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    handle.shutdown().await.unwrap();
    let audit = env.audit_events();
    assert!(!audit.contains(&AuditEvent::SessionExpired), "{audit:?}");
    assert!(!audit.contains(&AuditEvent::CookiesExpired), "{audit:?}");
    assert!(owned(&w).is_signed_in());
    // The vault holds the value the site accepts now.
    let current = c
        .session_cookie_header()
        .split("; ")
        .find_map(|p| {
            p.strip_prefix(&format!("{CLOUD_SESSION_COOKIE}="))
                .map(str::to_string)
        })
        .unwrap();
    assert_eq!(env.stored_session(), current);
}

#[tokio::test]
async fn verify_again_asks_in_every_state_and_brings_a_session_back() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let mut w = env.worker();
    // Refused for a while: marked expired.
    c.set_faults(DemoFaults {
        session_expire_after_requests: Some(0),
        ..DemoFaults::default()
    });
    let dead = ask(&mut w, Query::Verify).await;
    assert!(
        matches!(dead.state, SessionState::Expired { .. }),
        "{dead:?}"
    );
    assert!(matches!(
        env.cookie_state(),
        Some(ExpiryState::MarkedExpired { .. })
    ));
    // Accepted again: the keep-alive's kind of verification does not ask,
    // the user's does, and the session is back.
    c.set_faults(DemoFaults::default());
    let asked = c.request_count();
    let still = ask(&mut w, Query::Verify).await;
    assert!(matches!(still.state, SessionState::Expired { .. }));
    assert_eq!(c.request_count(), asked, "not asked");
    let back = ask(&mut w, Query::VerifyAgain).await;
    assert!(back.is_signed_in(), "{back:?}");
    assert_eq!(c.request_count(), asked + 1);
    assert!(env.audit_events().contains(&AuditEvent::SessionRestored));
    assert!(matches!(
        env.cookie_state(),
        Some(ExpiryState::Valid { .. })
    ));
    // A CAPTCHA: answered from the state until the user asks; once it
    // has cleared, the user's verification signs in again.
    c.set_faults(DemoFaults {
        captcha: Some(CaptchaForm::Header403),
        ..DemoFaults::default()
    });
    let held = ask(&mut w, Query::Verify).await;
    assert!(
        matches!(held.state, SessionState::Captcha { .. }),
        "{held:?}"
    );
    let asked = c.request_count();
    assert!(matches!(
        ask(&mut w, Query::Verify).await.state,
        SessionState::Captcha { .. }
    ));
    assert_eq!(
        c.request_count(),
        asked,
        "never retried behind the user's back"
    );
    let again = ask(&mut w, Query::VerifyAgain).await;
    assert!(
        matches!(again.state, SessionState::Captcha { .. }),
        "asked: still there"
    );
    assert_eq!(c.request_count(), asked + 1);
    c.set_faults(DemoFaults::default());
    let cleared = ask(&mut w, Query::VerifyAgain).await;
    assert!(cleared.is_signed_in(), "{cleared:?}");
    let restored = env
        .audit_events()
        .iter()
        .filter(|e| **e == AuditEvent::SessionRestored)
        .count();
    assert_eq!(restored, 2);
}

#[tokio::test]
async fn a_refused_paste_over_a_working_session_keeps_it_and_says_so() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let working = env.stored_session();
    let mut w = env.worker();
    assert!(ask(&mut w, Query::Verify).await.is_signed_in());
    w.commands
        .send(Command::Mutate(Mutation::ImportCookies {
            input: ImportInput::Paste(format!("{CLOUD_SESSION_COOKIE}=a-wrong-paste").into()),
        }))
        .unwrap();
    let answer = until(&mut w.events, |ev| match ev {
        Event::Mutated { result, .. } => Some(result.as_ref().err().cloned()),
        _ => None,
    })
    .await
    .expect("refused");
    assert_eq!(answer.class, ErrorClass::Auth, "{answer}");
    assert!(
        answer.message.contains("still works and was kept"),
        "{answer}"
    );
    assert_eq!(env.stored_session(), working, "the working cookies stay");
    assert!(owned(&w).is_signed_in());
    assert!(env.audit_events().contains(&AuditEvent::CookiesRefused));
    assert!(ask(&mut w, Query::VerifyAgain).await.is_signed_in());
}

#[tokio::test]
async fn clearing_the_cookies_changes_the_session_at_once() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let mut w = env.worker();
    assert!(ask(&mut w, Query::Verify).await.is_signed_in());
    w.commands
        .send(Command::Mutate(Mutation::ClearCookies))
        .unwrap();
    // The owner's change comes with the mutation's answer: no
    // verification (none runs in the background here) is waited for.
    let seen = until(&mut w.events, |ev| match ev {
        Event::Session(s) if !s.is_signed_in() => Some(s.clone()),
        _ => None,
    })
    .await;
    assert!(
        matches!(seen.state, SessionState::NoCredentials { .. }),
        "{seen:?}"
    );
    assert!(seen.user.is_none() && seen.mode.is_none());
}

#[tokio::test]
async fn a_site_that_stops_answering_is_unreachable_and_the_cookies_are_kept() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let mut w = env.worker();
    assert!(ask(&mut w, Query::Verify).await.is_signed_in());
    c.shutdown().await;
    let gone = ask(&mut w, Query::VerifyAgain).await;
    assert!(
        matches!(gone.state, SessionState::Unreachable { .. }),
        "{gone:?}"
    );
    assert_eq!(
        gone.word(time::OffsetDateTime::now_utc()).as_str(),
        "unreachable"
    );
    assert!(matches!(
        env.cookie_state(),
        Some(ExpiryState::Valid { .. })
    ));
    assert!(!env.audit_events().contains(&AuditEvent::SessionExpired));
}

#[tokio::test]
async fn the_session_says_when_the_keep_alive_checks_next() {
    let c = cloud(DemoFaults::default()).await;
    let mut env = Env::new(&c, Mode::Cookie);
    env.vars
        .insert("CONFLUENCE_KEEPALIVE_SECS".into(), "600".into());
    env.import(&c.session_cookie_header());
    let mut w = env.worker_with(true);
    let s = ask(&mut w, Query::Verify).await;
    assert!(s.is_signed_in());
    let now = time::OffsetDateTime::now_utc();
    match s.next_check {
        NextCheck::At(at) => {
            let left = (at - now).whole_seconds();
            assert!((530..=661).contains(&left), "{left} s");
        }
        other => panic!("{other:?}"),
    }
    assert!(s.verified_at.is_some_and(|t| (now - t).whole_seconds() < 5));
    // Dead: nothing to check until fresh credentials arrive.
    c.set_faults(DemoFaults {
        session_expire_after_requests: Some(0),
        ..DemoFaults::default()
    });
    let dead = ask(&mut w, Query::VerifyAgain).await;
    assert_eq!(dead.next_check, NextCheck::AfterFreshCredentials);
}

#[tokio::test]
async fn fresh_cookies_another_process_stores_are_verified_by_the_owner() {
    let c = cloud(DemoFaults::default()).await;
    let env = Env::new(&c, Mode::Cookie);
    env.import(&c.session_cookie_header());
    let mut w = env.worker_with(true);
    assert!(ask(&mut w, Query::Verify).await.is_signed_in());
    c.control().end_session();
    assert!(matches!(
        ask(&mut w, Query::VerifyAgain).await.state,
        SessionState::Expired { .. }
    ));
    // Another terminal imports a fresh session: the owner reads the vault
    // and verifies by itself; nobody asks it to.
    env.import(&c.session_cookie_header());
    let back = until(&mut w.events, |ev| match ev {
        Event::Session(s) if s.is_signed_in() => Some(s.clone()),
        _ => None,
    })
    .await;
    assert!(back.user.is_some());
}
