//! `proxy`: the authenticating loopback proxy in the foreground. It prints
//! how to use it (or, with `--json`, one line a script reads), reports
//! session changes on stderr, and ends with exit 0 on SIGINT or SIGTERM.

use std::net::SocketAddr;

use tokio::sync::broadcast::error::RecvError;

use super::CliError;
use super::output::Output;
use crate::config::Settings;
use crate::credentials::rfc3339;
use crate::exit::Exit;
use crate::proxy::{self, ProxyHandle, ProxyOptions, ProxyToken, SessionSource};
use crate::secret::ExposeSecret;
use crate::session::{FirstCheck, Session, SessionConfig, SessionOwner, Snapshot, Watch};
use crate::text::for_terminal;

/// The flags of `proxy`.
pub(super) struct ProxyArgs {
    pub listen: Option<SocketAddr>,
    pub limits: crate::proxy::Limits,
    pub allow_writes: bool,
    pub json: bool,
}

pub(super) fn run(args: ProxyArgs, settings: Settings) -> Result<Exit, CliError> {
    settings
        .require_base_url()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let rt = super::runtime()?;
    rt.block_on(serve(args, settings))
}

async fn serve(args: ProxyArgs, settings: Settings) -> Result<Exit, CliError> {
    let token = ProxyToken::generate()
        .map_err(|e| CliError::Internal(format!("cannot make a random token: {e}")))?;
    let mut opts = ProxyOptions::new(token);
    opts.listen = args.listen.unwrap_or(proxy::DEFAULT_LISTEN);
    opts.limits = args.limits;
    opts.allow_writes = args.allow_writes;
    let site = settings
        .base_url
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let owner = session_owner(settings);
    let handle = proxy::start(SessionSource::fixed(owner.session()), opts).await?;
    let mut events = Some(owner.subscribe());
    let mut last: Option<Snapshot> = None;
    {
        let mut out = Output::stdout();
        if args.json {
            print_json(&mut out, &handle)?;
        } else {
            print_guide(&mut out, &handle, &site, args.allow_writes)?;
        }
        out.flush()?;
    }
    let stop = super::watch::stop_signal()?;
    tokio::pin!(stop);
    loop {
        let event = async {
            match events.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = &mut stop => break,
            ev = event => match ev {
                Ok(seen) => {
                    let now = time::OffsetDateTime::now_utc();
                    if last.as_ref().is_none_or(|l| l.differs(&seen, now))
                        && seen.state != crate::session::SessionState::Checking
                    {
                        report(&site, &seen);
                        last = Some(seen);
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => events = None,
            },
        }
    }
    handle.shutdown().await?;
    Ok(Exit::Ok)
}

/// The one stdout line of `--json`, its fields in this order.
/// The process's session owner for a long-running proxy: the settings'
/// keep-alive (first check after an interval: requests show the rest),
/// notify command and browser.
pub(super) fn session_owner(settings: Settings) -> SessionOwner {
    let watch = Watch::from_settings(&settings, FirstCheck::AfterInterval);
    Session::start(SessionConfig {
        settings,
        machine_id: crate::vault::MachineIdSource::System,
        retry: crate::confluence::client::RetryPolicy::default(),
        login_page: None,
        watch,
    })
}

#[derive(serde::Serialize)]
struct Announcement<'a> {
    base_url: String,
    username: &'a str,
    token: &'a str,
}

/// The one stdout line of `--json`.
fn print_json(out: &mut Output, handle: &ProxyHandle) -> Result<(), CliError> {
    let line = serde_json::to_string(&Announcement {
        base_url: base_url(handle),
        username: handle.username(),
        token: handle.token().expose_secret(),
    })
    .map_err(|e| CliError::Internal(e.to_string()))?;
    out.line(line)?;
    Ok(())
}

/// How to use the proxy, for a person.
fn print_guide(
    out: &mut Output,
    handle: &ProxyHandle,
    site: &str,
    allow_writes: bool,
) -> Result<(), CliError> {
    let base = base_url(handle);
    let access = if allow_writes {
        "reads and writes"
    } else {
        "read-only: GET, HEAD, OPTIONS; --allow-writes forwards writes"
    };
    let lines = [
        format!("Proxy for {} listening on {base} ({access}).", for_terminal(site)),
        "Point your Confluence client at it with HTTP Basic authentication:".to_string(),
        String::new(),
        format!("  CONFLUENCE_BASE_URL={base}"),
        format!("  CONFLUENCE_USERNAME={}", handle.username()),
        format!("  CONFLUENCE_API_TOKEN={}", handle.token().expose_secret()),
        String::new(),
        "The token is a secret: anyone on this machine who has it can use your session while the proxy runs. It changes every run.".to_string(),
        "The proxy keeps the session alive, saves refreshed cookies and answers 401 once the session has died. Ctrl-C stops it.".to_string(),
    ];
    for line in lines {
        out.line(line)?;
    }
    Ok(())
}

/// The base URL as a client takes it (no trailing slash).
fn base_url(handle: &ProxyHandle) -> String {
    handle.base_url().as_str().trim_end_matches('/').to_string()
}

/// A session change, one line on stderr (its words may be the server's:
/// escaped).
fn report(site: &str, seen: &Snapshot) {
    use std::io::Write as _;
    let now = time::OffsetDateTime::now_utc();
    let mut line = format!("{} {site} {}", rfc3339(now), seen.word(now));
    if let Some(user) = seen.user_name() {
        line.push_str(&format!(" as {user}"));
    }
    if let Some(reason) = seen.reason() {
        line.push_str(&format!(": {reason}"));
    }
    if let Some(url) = seen.login_url() {
        line.push_str(&format!(" (sign in at {url})"));
    }
    let _ = writeln!(std::io::stderr(), "{}", for_terminal(&line));
}
