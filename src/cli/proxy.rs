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

/// `proxy clients …`
#[derive(Debug, clap::Subcommand)]
pub enum ProxyCommand {
    /// Named client tokens: one per pipeline, kept (as a hash) across restarts, revocable while the proxy runs
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Print the certificate `proxy --tls` made for this site (PEM), for clients to trust, and its SHA-256 on stderr
    Cert,
}

/// `proxy clients add | list | revoke`
#[derive(Debug, clap::Subcommand)]
pub enum ClientsCommand {
    /// Make a token for a pipeline and print it once on stdout (only its hash is kept, in the vault, for this site)
    Add {
        /// A name for the client: letters, digits, '-', '_', '.' (e.g. onyx-indexer)
        name: String,
        /// Forward this client's writes (POST, PUT, PATCH, DELETE)
        #[arg(long)]
        allow_writes: bool,
        /// Days until the token stops working (default: never)
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
        expires: Option<u32>,
        /// Print one JSON object {name,token,username}
        #[arg(long)]
        json: bool,
    },
    /// The site's clients: name, created, last used, expiry, writes (never a token)
    List {
        /// One JSON array
        #[arg(long)]
        json: bool,
    },
    /// Remove a client; a running proxy refuses its token from the next request on
    Revoke {
        /// The client's name
        name: String,
    },
}

/// Runs `proxy clients …`.
pub(super) fn run_command(
    out: &mut Output,
    cmd: ProxyCommand,
    settings: &Settings,
) -> Result<Exit, CliError> {
    let creds = crate::credentials::Credentials::open(settings);
    let site = creds.site().map(ToString::to_string).ok_or_else(|| {
        CliError::Usage(
            "no site is configured: set CONFLUENCE_BASE_URL (or pass --base-url); proxy clients are kept per site".into(),
        )
    })?;
    let cmd = match cmd {
        ProxyCommand::Clients(cmd) => cmd,
        ProxyCommand::Cert => {
            let Some((pem, _)) = creds.proxy_tls()? else {
                return Err(CliError::Usage(format!(
                    "no certificate was made for {}'s proxy yet: start it once with --tls",
                    for_terminal(&site)
                )));
            };
            let cert = proxy::ServerCertificate::from_stored(&pem)
                .map_err(|e| CliError::Internal(format!("the stored certificate: {e}")))?;
            out.line(cert.chain_pem().trim_end())?;
            eprintln!("SHA-256 {}", cert.sha256());
            return Ok(Exit::Ok);
        }
    };
    match cmd {
        ClientsCommand::Add {
            name,
            allow_writes,
            expires,
            json,
        } => {
            crate::credentials::check_client_name(&name).map_err(CliError::Usage)?;
            let token = ProxyToken::generate()
                .map_err(|e| CliError::Internal(format!("cannot make a random token: {e}")))?;
            creds.add_proxy_client(&name, token.expose_secret(), allow_writes, expires)?;
            if json {
                let line = serde_json::to_string(&serde_json::json!({
                    "name": name,
                    "token": token.expose_secret(),
                    "username": proxy::PROXY_USERNAME,
                }))
                .map_err(|e| CliError::Internal(e.to_string()))?;
                out.line(line)?;
            } else {
                out.line(token.expose_secret())?;
                eprintln!(
                    "Added the proxy client {name} for {}{}. The token above is shown this once: give it to the pipeline as its API token (user name: {}). `confluence-tui proxy clients revoke {name}` ends it.",
                    for_terminal(&site),
                    if allow_writes {
                        " (writes allowed)"
                    } else {
                        " (reads only)"
                    },
                    proxy::PROXY_USERNAME,
                );
            }
        }
        ClientsCommand::List { json } => {
            let clients = creds.list_proxy_clients()?;
            if json {
                let line = serde_json::to_string(&clients)
                    .map_err(|e| CliError::Internal(e.to_string()))?;
                out.line(line)?;
            } else if clients.is_empty() {
                out.line(format_args!(
                    "No proxy clients for {}. Add one with `confluence-tui proxy clients add NAME`.",
                    for_terminal(&site)
                ))?;
            } else {
                out.line(format_args!("Proxy clients of {}:", for_terminal(&site)))?;
                let when =
                    |t: Option<time::OffsetDateTime>| t.map_or_else(|| "-".to_string(), rfc3339);
                for c in clients {
                    out.line(format_args!(
                        "  {:<20} created {}  last used {}  expires {}{}  {}",
                        c.name,
                        rfc3339(c.created),
                        when(c.last_used),
                        when(c.expires),
                        if c.expired { " (expired)" } else { "" },
                        if c.allow_writes {
                            "reads and writes"
                        } else {
                            "reads only"
                        },
                    ))?;
                }
            }
        }
        ClientsCommand::Revoke { name } => {
            if creds.revoke_proxy_client(&name)? {
                out.line(format_args!(
                    "Revoked the proxy client {} of {}: its token no longer opens the proxy.",
                    for_terminal(&name),
                    for_terminal(&site)
                ))?;
            } else {
                return Err(CliError::Usage(format!(
                    "no proxy client named {} for {}; `confluence-tui proxy clients list` shows them",
                    for_terminal(&name),
                    for_terminal(&site)
                )));
            }
        }
    }
    Ok(Exit::Ok)
}

/// How `proxy --tls` gets its certificate.
pub(super) struct TlsArgs {
    /// `--tls-cert`, `--tls-key`; none: the one made for the site.
    pub cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// `--tls-name`: more names for the made certificate.
    pub names: Vec<String>,
}

/// The flags of `proxy`.
/// `--listen`: an address, or `unix:PATH`.
#[derive(Clone, Debug)]
pub enum ListenArg {
    Tcp(SocketAddr),
    Unix(std::path::PathBuf),
}

/// Parses `--listen`.
pub(super) fn parse_listen(text: &str) -> Result<ListenArg, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            return Err("unix: needs a path, e.g. unix:/run/user/1000/confluence.sock".into());
        }
        return Ok(ListenArg::Unix(path.into()));
    }
    text.parse().map(ListenArg::Tcp).map_err(|_| {
        format!(
            "{text} is neither an address with a port (127.0.0.1:8080, [::1]:8080) nor unix:PATH"
        )
    })
}

/// A group given by name (from /etc/group) or number.
fn group_id(group: &str) -> Result<u32, CliError> {
    if let Ok(gid) = group.parse() {
        return Ok(gid);
    }
    let groups = std::fs::read_to_string("/etc/group").unwrap_or_default();
    groups
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            Some((f.next()?, f.nth(1)?))
        })
        .find(|(name, _)| *name == group)
        .and_then(|(_, gid)| gid.parse().ok())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "no group named {} (give its name or id)",
                for_terminal(group)
            ))
        })
}

pub(super) struct ProxyArgs {
    pub socket_group: Option<String>,
    pub tls: Option<TlsArgs>,
    pub allow_from: Vec<ipnet::IpNet>,
    pub listen: Option<ListenArg>,
    pub limits: crate::proxy::Limits,
    pub max_concurrency: usize,
    pub max_wait: std::time::Duration,
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
    match &args.listen {
        Some(ListenArg::Tcp(addr)) => opts.listen = *addr,
        Some(ListenArg::Unix(path)) => {
            opts.unix = Some(proxy::UnixSocket {
                path: path.clone(),
                group: args.socket_group.as_deref().map(group_id).transpose()?,
            });
        }
        None => {}
    }
    if args.socket_group.is_some() && opts.unix.is_none() {
        return Err(CliError::Usage(
            "--socket-group goes with --listen unix:PATH".into(),
        ));
    }
    opts.limits = args.limits;
    opts.max_concurrency = args.max_concurrency;
    opts.max_wait = args.max_wait;
    opts.allow_from = args.allow_from.clone();
    opts.allow_writes = args.allow_writes;
    let site = settings
        .base_url
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let owner = session_owner(settings);
    let creds = owner.session().credentials().clone();
    let remembered = if args.listen.is_none() {
        let c = creds.clone();
        let port = tokio::task::spawn_blocking(move || c.proxy_port())
            .await
            .map_err(|e| CliError::Internal(e.to_string()))?;
        // An unreadable vault is said by the start below, as `check` would.
        let port = port.ok().flatten();
        if let Some(port) = port {
            opts.listen.set_port(port);
        }
        port
    } else {
        None
    };
    if let Some(tls) = &args.tls {
        opts.tls = Some(server_certificate(&creds, tls, opts.listen).await?);
    }
    let handle = match proxy::start(SessionSource::fixed(owner.session()), opts).await {
        Err(proxy::ProxyError::Bind { addr, source }) if remembered.is_some() => {
            return Err(CliError::Usage(format!(
                "cannot listen on {addr}, where this site's proxy listened last time ({source}): is another proxy for this site running? Stop it, or pass --listen 127.0.0.1:PORT (0: any free port; clients then need the new address)"
            )));
        }
        started => started?,
    };
    if args.listen.is_none() && remembered != Some(handle.local_addr().port()) {
        let port = handle.local_addr().port();
        let c = creds.clone();
        match tokio::task::spawn_blocking(move || c.remember_proxy_port(port)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot remember the proxy's port"),
            Err(e) => tracing::warn!(error = %e, "cannot remember the proxy's port"),
        }
    }
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
    /// With --tls: the certificate's SHA-256, for clients that pin it.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_sha256: Option<String>,
    /// With --listen unix:PATH: the socket's path.
    #[serde(skip_serializing_if = "Option::is_none")]
    socket: Option<String>,
}

/// The certificate to serve: the files named, or the one made for the site
/// (made now, or again with more names, keeping its key), whose chain is
/// also written to the data dir for clients to trust.
async fn server_certificate(
    creds: &std::sync::Arc<crate::credentials::Credentials>,
    tls: &TlsArgs,
    listen: SocketAddr,
) -> Result<proxy::ServerCertificate, CliError> {
    if let Some((cert, key)) = &tls.cert {
        return proxy::ServerCertificate::from_files(cert, key)
            .map_err(|e| CliError::Usage(e.to_string()));
    }
    let mut wanted: Vec<String> = vec!["localhost".into(), "127.0.0.1".into()];
    if !listen.ip().is_unspecified() {
        wanted.push(listen.ip().to_string());
    }
    for name in &tls.names {
        if !wanted.contains(name) {
            wanted.push(name.clone());
        }
    }
    let c = creds.clone();
    tokio::task::spawn_blocking(move || -> Result<proxy::ServerCertificate, CliError> {
        let stored = c.proxy_tls()?;
        if let Some((pem, names)) = &stored
            && wanted.iter().all(|w| names.contains(w))
            && let Ok(cert) = proxy::ServerCertificate::from_stored(pem)
        {
            write_certificate_file(&c, &cert);
            return Ok(cert);
        }
        let mut names = stored.as_ref().map(|(_, n)| n.clone()).unwrap_or_default();
        for w in wanted {
            if !names.contains(&w) {
                names.push(w);
            }
        }
        let key = stored
            .as_ref()
            .and_then(|(pem, _)| proxy::ServerCertificate::key_pem(pem));
        let (cert, pem) = proxy::ServerCertificate::generate(&names, key.as_ref())
            .map_err(|e| CliError::Internal(format!("cannot make a certificate: {e}")))?;
        c.store_proxy_tls(pem, names)?;
        write_certificate_file(&c, &cert);
        Ok(cert)
    })
    .await
    .map_err(|e| CliError::Internal(e.to_string()))?
}

/// `proxy/<site>.pem` in the data dir: the chain (no key), for clients.
fn write_certificate_file(
    creds: &crate::credentials::Credentials,
    cert: &proxy::ServerCertificate,
) {
    let Some(site) = creds.site() else { return };
    let dir = creds.paths().root.join("proxy");
    let name: String = site
        .as_str()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path = dir.join(format!("{name}.pem"));
    let written = crate::fsutil::ensure_private_dir(&dir)
        .map_err(|e| format!("{e:?}"))
        .and_then(|()| std::fs::write(&path, cert.chain_pem()).map_err(|e| e.to_string()));
    if let Err(e) = written {
        tracing::warn!(error = %e, path = %path.display(), "cannot write the proxy's certificate file");
    }
}

/// The one stdout line of `--json`.
fn print_json(out: &mut Output, handle: &ProxyHandle) -> Result<(), CliError> {
    let line = serde_json::to_string(&Announcement {
        base_url: base_url(handle),
        username: handle.username(),
        token: handle.token().expose_secret(),
        tls_sha256: handle.tls_sha256().map(str::to_string),
        socket: handle.listening().strip_prefix("unix:").map(str::to_string),
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
    if let Some(path) = handle.listening().strip_prefix("unix:") {
        out.line(format_args!(
            "It listens on the Unix socket {} (e.g. curl --unix-socket {} -u confluence-tui:TOKEN {base}/rest/api/space).",
            for_terminal(path),
            for_terminal(path)
        ))?;
    }
    if let Some(sha) = handle.tls_sha256() {
        out.line(format_args!(
            "TLS certificate SHA-256 {sha}: clients trust it with `confluence-tui proxy cert > proxy.pem` (e.g. REQUESTS_CA_BUNDLE=proxy.pem), or pin this fingerprint."
        ))?;
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
