//! The headless commands: argument parsing, dispatch, printing text or JSON,
//! and the one place where errors become exit codes.

mod audit;
mod cookies;
mod exec;
mod gateway;
pub mod output;
mod proxy;
mod remote;
mod sites;
mod token;
mod watch;

use std::ffi::OsString;
use std::io::Write as _;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::audit::AuditError;
use crate::config::{ConfigError, FlagOverrides, Settings};
use crate::credentials::CredentialError;
use crate::exit::{ErrorClass, Exit, exit_for_class};
use output::{Output, OutputError};

/// Keeps a Confluence data pipeline signed in: API token, personal access
/// token or browser cookies kept encrypted, session checks, a space browser
/// and an audit log. Without a command it starts the full-screen interface.
#[derive(Debug, Parser)]
#[command(name = "confluence-tui", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Read settings from this file instead of ./.env
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Where cookies/ and logs/ live (overrides CONFLUENCE_DATA_DIR)
    #[arg(long, global = true, value_name = "PATH")]
    pub data_dir: Option<PathBuf>,
    /// The Confluence site (overrides CONFLUENCE_BASE_URL)
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,
    /// Start the interface against the built-in demo site (no account needed)
    #[arg(long)]
    pub demo: bool,
    /// Start the interface with the authenticating proxy running (its Pipeline screen, 4, shows the address, the environment lines and the traffic)
    #[arg(long)]
    pub serve: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

const EXIT_CODES_HELP: &str = "Exit codes: 0 ok · 1 internal error · 2 usage or configuration error · \
3 authentication needed · 4 CAPTCHA: sign in through the browser first · 5 network or server failure · \
6 vault unreadable · exec: the program's own code (126 cannot be started, 127 not found)";

/// The commands of the public contract.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify the credentials now: who is signed in, or why not
    Check {
        /// One JSON object: ok, reason, message, user, login_url
        #[arg(long)]
        json: bool,
        /// Ask the site again even after a CAPTCHA (otherwise the stored CAPTCHA is the answer)
        #[arg(long)]
        retry: bool,
    },
    /// List every space the account can read
    Spaces {
        /// A JSON array of {id,key,name,type,status,url}
        #[arg(long)]
        json: bool,
        /// Stop after this many spaces
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// List the pages of a space
    Pages {
        /// The space key, e.g. ENG
        space_key: String,
        /// A JSON array of {id,title,parent_id,version,updated_at,url}
        #[arg(long)]
        json: bool,
    },
    /// Import, inspect, delete or export the configured site's stored browser cookies
    #[command(subcommand)]
    Cookies(CookiesCommand),
    /// List the sites that have credentials in the vault, with their state (never values)
    Sites {
        /// A JSON array of the sites and their state (never values)
        #[arg(long)]
        json: bool,
    },
    /// Store or remove the configured site's API token in the vault
    #[command(subcommand)]
    Token(TokenCommand),
    /// What a gateway in front of the site wants on every request: a Cloudflare Access service token, a header, a client certificate (mTLS); kept per site in the vault, sent by every command and by the proxy
    #[command(subcommand)]
    Gateway(gateway::GatewayCommand),
    /// Print the audit log of credential operations
    Audit {
        /// One JSON record per line
        #[arg(long)]
        json: bool,
        /// Check the hash chain and the head stored in the vault: exit 0 when intact, 1 at the first broken record or when records are cut off the end
        #[arg(long)]
        verify: bool,
    },
    /// Keep the session alive in the foreground: verify every interval, print a line at every state change
    Watch {
        /// Seconds between verifications (default CONFLUENCE_KEEPALIVE_SECS, 600), ±10 % jitter
        #[arg(long, value_name = "SECS")]
        interval: Option<u64>,
        /// Run this through `sh -c` when the user must act (default CONFLUENCE_NOTIFY_CMD)
        #[arg(long, value_name = "CMD")]
        notify: Option<String>,
        /// One JSON object per line: {time,site,state,reason,user,expires_at,login_url}
        #[arg(long)]
        json: bool,
        /// While the session is dead, watch this browser's cookie store and import a fresh login by itself: firefox, chromium, chrome, brave, edge or auto (default CONFLUENCE_BROWSER)
        #[arg(long, value_name = "NAME")]
        from_browser: Option<String>,
        /// The browser profile to watch (default: the browser's own default profile)
        #[arg(long, value_name = "PATH", requires = "from_browser")]
        profile: Option<PathBuf>,
    },
    /// Run a program with the configured site's credentials in its environment; exit with its exit code
    ///
    /// The program's environment gains CONFLUENCE_BASE_URL, CONFLUENCE_AUTH (cookie, basic or bearer, chosen as CONFLUENCE_AUTH says, auto: unexpired stored cookies, else user name + token, else a token) and that mode's secret: CONFLUENCE_COOKIE (the Cookie header value), or CONFLUENCE_USERNAME + CONFLUENCE_API_TOKEN, or CONFLUENCE_API_TOKEN. The other CONFLUENCE_* variables of that list, CONFLUENCE_VAULT_PASSPHRASE and CONFLUENCE_CLIENT_CERT_PASSWORD are removed from it. The site is not asked first: without usable stored credentials the program is not started (exit 2 no site, 3 no or expired credentials, 4 stored CAPTCHA, 6 vault unreadable). SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to it. Exit code: the program's, 128 + N when signal N ended it, 127 when it was not found, 126 when it could not be started. Audited as exec_started (the program's name, never its arguments). With --proxy the program gets instead CONFLUENCE_BASE_URL=http://127.0.0.1:PORT/<context> of a loopback proxy started for its lifetime, CONFLUENCE_AUTH=basic, CONFLUENCE_USERNAME=confluence-tui and CONFLUENCE_API_TOKEN=<a random per-run token>: the real cookies or token never leave this process (see `proxy --help`). A gateway in front of the site: without --proxy the program gets its cookies (CF_Authorization, MRHSession…) in CONFLUENCE_COOKIE next to a token, but not the gateway headers (`gateway set`) nor the client certificate (CONFLUENCE_CLIENT_CERT): those need --proxy, which sends them on every request.
    Exec {
        /// Start the loopback proxy for the program's lifetime and give it only the proxy's URL and a random per-run token (CONFLUENCE_AUTH=basic, CONFLUENCE_USERNAME=confluence-tui, CONFLUENCE_API_TOKEN=<proxy token>), never the real cookies or token
        #[arg(long)]
        proxy: bool,
        /// With --proxy: forward writes (POST, PUT, PATCH, DELETE) too
        #[arg(long, requires = "proxy")]
        allow_writes: bool,
        /// The program and its arguments, after `--`
        #[arg(last = true, required = true, value_name = "CMD [ARGS]")]
        command: Vec<OsString>,
    },
    /// Run the authenticating loopback proxy in the foreground: clients use the site through it with a throw-away token, never the stored cookies or token
    #[command(args_conflicts_with_subcommands = true)]
    Proxy {
        #[command(subcommand)]
        command: Option<proxy::ProxyCommand>,
        /// Where to listen: a loopback address (port 0: any free port), another address with --tls and --allow-from, or unix:PATH (a socket, mode 0600). Default: 127.0.0.1 on the port this site's proxy had last time (chosen once, remembered in the data dir)
        #[arg(long, value_name = "ADDR", value_parser = proxy::parse_listen)]
        listen: Option<proxy::ListenArg>,
        /// With --listen unix:PATH: the group (name or id) that may connect too (mode 0660)
        #[arg(long, value_name = "GROUP")]
        socket_group: Option<String>,
        /// Forward writes (POST, PUT, PATCH, DELETE) sent with the per-run token too (a named client writes only if added with --allow-writes); cookie sessions then send X-Atlassian-Token: no-check
        #[arg(long)]
        allow_writes: bool,
        /// Print one JSON line {base_url,username,token} on stdout, then nothing else there
        #[arg(long)]
        json: bool,
        /// Open connections at most; at the cap the oldest idle one is closed to make room
        #[arg(long, value_name = "N", default_value_t = crate::proxy::MAX_CONNECTIONS as u32, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        max_connections: u32,
        /// Seconds a client may take to send a request's headers, and a kept-alive connection may stay idle
        #[arg(long, value_name = "SECS", default_value_t = crate::proxy::HEADER_READ_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout: u64,
        /// Requests in flight to the site at most; the rest wait in arrival order
        #[arg(long, value_name = "N", default_value_t = crate::proxy::MAX_CONCURRENCY as u32, value_parser = clap::value_parser!(u32).range(1..=1024))]
        max_concurrency: u32,
        /// Serve HTTPS (required to listen off loopback): with a certificate made once for this site (key kept in the vault; `proxy cert` prints it), or the one --tls-cert/--tls-key name
        #[arg(long)]
        tls: bool,
        /// With --tls: a PEM certificate chain to serve instead of the made one
        #[arg(long, value_name = "PATH", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// With --tls-cert: its PEM private key (a file that is yours and not writable by others)
        #[arg(long, value_name = "PATH", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// With --tls: another name or address the made certificate holds (e.g. host.docker.internal); repeatable
        #[arg(long, value_name = "NAME")]
        tls_name: Vec<String>,
        /// Only peers in this network may connect (CIDR like 10.0.0.0/8, or one address); repeatable; required off loopback
        #[arg(long, value_name = "CIDR", value_parser = parse_cidr)]
        allow_from: Vec<ipnet::IpNet>,
        /// Seconds a request may wait for its turn (a pause the site asked for included) before the proxy answers 429 with Retry-After
        #[arg(long, value_name = "SECS", default_value_t = crate::proxy::MAX_WAIT.as_secs(), value_parser = clap::value_parser!(u64).range(0..=3600))]
        max_wait: u64,
    },
    /// Run the built-in fake Confluence site alone (loopback only)
    DemoServer(crate::demo::DemoServerArgs),
}

/// `cookies …`
#[derive(Debug, Subcommand)]
pub enum CookiesCommand {
    /// Import cookies for the configured site (default: the intake file cookies/confluence_cookies.txt), encrypt, store, empty the plain file, then verify them
    Import {
        /// A file to read, or - for standard input (default: the intake file)
        #[arg(value_name = "FILE|-")]
        file: Option<String>,
        /// Also empty FILE after a successful import (the intake file is always emptied)
        #[arg(long)]
        consume: bool,
        /// Do not verify the cookies against the site after storing them
        #[arg(long)]
        no_verify: bool,
        /// Read the site's cookies straight from a browser profile (read-only): firefox, chromium, chrome, brave, edge, or auto (every profile found; the newest session wins)
        #[arg(long, value_name = "NAME", conflicts_with_all = ["file", "consume"])]
        from_browser: Option<String>,
        /// With --from-browser: the profile directory (Firefox: the one holding cookies.sqlite; Chromium family: the user data directory or a profile in it)
        #[arg(long, value_name = "PATH", requires = "from_browser")]
        profile: Option<PathBuf>,
    },
    /// Show what is stored for the configured site: count, names, session cookie, saved and expiry times (never values)
    Status {
        /// One JSON object (never values)
        #[arg(long)]
        json: bool,
    },
    /// Delete the configured site's stored cookies (an unreadable vault is kept aside, not deleted)
    Clear {
        /// Delete the stored cookies of every site in the vault
        #[arg(long)]
        all_sites: bool,
    },
    /// Print the configured site's stored cookies for another program (their values: a secret)
    ///
    /// Audited as cookies_exported (names, never values). Refused with exit 3 when no cookies are stored or they have expired, and 4 in the stored CAPTCHA state (with the login URL); the site is not asked.
    Export {
        /// header: the Cookie header value the site is sent; netscape: a cookies.txt; json: an array of {name,value,domain,path,secure,expires}
        #[arg(long, value_enum, default_value_t = ExportFormatArg::Header)]
        format: ExportFormatArg,
    },
}

/// `cookies export --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormatArg {
    /// The Cookie request header value: a=1; b=2
    Header,
    /// A Netscape cookies.txt (curl, wget, http.cookiejar)
    Netscape,
    /// A JSON array of {name,value,domain,path,secure,expires}
    Json,
}

impl From<ExportFormatArg> for crate::cookies::export::ExportFormat {
    fn from(arg: ExportFormatArg) -> Self {
        use crate::cookies::export::ExportFormat;
        match arg {
            ExportFormatArg::Header => ExportFormat::Header,
            ExportFormatArg::Netscape => ExportFormat::Netscape,
            ExportFormatArg::Json => ExportFormat::Json,
        }
    }
}

/// `token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Read an API token (hidden) from the terminal, or from standard input, check it with the configured site, and store it in the vault only when the site accepts it
    Set {
        /// The user name to store and send with the token (the Cloud account email; Basic auth); default CONFLUENCE_USERNAME, which is then not stored. Without either, the token is a personal access token (Bearer)
        #[arg(long, value_name = "NAME")]
        username: Option<String>,
        /// Store the token without asking the site first
        #[arg(long)]
        no_verify: bool,
    },
    /// Remove the configured site's API token from the vault
    Clear {
        /// Remove the stored token of every site in the vault
        #[arg(long)]
        all_sites: bool,
    },
}

/// A headless command's failure. Its `class()` decides the exit code, in
/// `exit_for`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Settings: always a usage error.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// `exec` did not start its program, or lost track of it.
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    /// The audit log could not be read.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Standard output failed; `OutputError::Closed` is not reported and
    /// ends the command with 0 (see `run`).
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("{0}")]
    Usage(String),
    /// The data directory is not the user's or others may write to it.
    #[error(transparent)]
    UnsafeDataDir(#[from] crate::fsutil::UnsafePath),
    /// The proxy could not start or stop.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    #[error("{0}")]
    AuthNeeded(String),
    #[error("{0}")]
    Internal(String),
    /// A remote command failed; `printed` when the JSON answer already said so.
    #[error("{message}")]
    Remote {
        message: String,
        class: ErrorClass,
        printed: bool,
    },
    /// The command ran to the end and printed its answer on stdout, and the
    /// answer is a failure a script must see in the exit code: `audit
    /// --verify` finding a broken chain (class Internal: exit 1, by
    /// contract) or `cookies status` with no usable cookies (class Auth: 3).
    /// Nothing more is printed for it.
    #[error("{message}")]
    Answered { message: String, class: ErrorClass },
}

impl CliError {
    /// What kind of failure this is.
    pub fn class(&self) -> ErrorClass {
        match self {
            CliError::Config(_) | CliError::Usage(_) | CliError::UnsafeDataDir(_) => {
                ErrorClass::Usage
            }
            CliError::Credentials(c) => c.class(),
            CliError::Exec(e) => e.class(),
            CliError::Audit(a) => a.class(),
            CliError::Proxy(p) => p.class(),
            CliError::Output(_) | CliError::Internal(_) => ErrorClass::Internal,
            CliError::AuthNeeded(_) => ErrorClass::Auth,
            CliError::Remote { class, .. } | CliError::Answered { class, .. } => *class,
        }
    }

    /// A closed standard output (`| head -1`): not a failure, the command
    /// just ends, quietly and with 0.
    pub(crate) fn is_closed_stdout(&self) -> bool {
        matches!(self, CliError::Output(OutputError::Closed))
    }
}

/// The exit code of a failed command: its class's, through the crate's one
/// mapping (`exit::exit_for_class`). `run` never asks for a closed stdout
/// (`CliError::is_closed_stdout`), which ends a command with 0.
pub fn exit_for(err: &CliError) -> Exit {
    exit_for_class(err.class())
}

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Exit {
    if let Some(Command::DemoServer(args)) = cli.command {
        // The fake site needs no settings: a broken .env must not stop it.
        return finish(run_demo_server(args));
    }
    if cli.serve && cli.command.is_some() {
        return finish(Err(CliError::Usage(
            "--serve starts the interface with the proxy running; for the proxy alone run `confluence-tui proxy`".into(),
        )));
    }
    if cli.demo && cli.command.is_none() {
        // The demo reads nothing of the user's: no .env, no data dir.
        return finish(
            crate::tui::run_demo(cli.serve)
                .map(|()| Exit::Ok)
                .map_err(|e| CliError::Internal(e.to_string())),
        );
    }
    let flags = FlagOverrides {
        env_file: cli.env_file.clone(),
        data_dir: cli.data_dir.clone(),
        base_url: cli.base_url.clone(),
    };
    let result = Settings::load(&flags)
        .map_err(CliError::from)
        .and_then(|settings| {
            check_data_dir(&settings)?;
            crate::logging::init(&settings.paths().diagnostics_log);
            dispatch(cli, settings, flags.clone())
        });
    finish(result)
}

/// The data directory, when it exists, must be the user's and not writable
/// by group or others (`cookies/` and `logs/` and their files are checked
/// where they are opened). Exit 2: the user's setup, fixed with the command
/// the message gives.
fn check_data_dir(settings: &Settings) -> Result<(), CliError> {
    use crate::fsutil::FileFailure;
    let root = settings.paths().root;
    match crate::fsutil::check_private_dir_if_present(&root) {
        Ok(()) => Ok(()),
        Err(FileFailure::Unsafe(e)) => Err(CliError::UnsafeDataDir(e)),
        Err(FileFailure::Io(e)) => Err(CliError::Usage(format!(
            "cannot use the data directory {}: {e}; set CONFLUENCE_DATA_DIR (or --data-dir) to a directory of yours",
            root.display()
        ))),
        Err(FileFailure::TimedOut(e)) => Err(CliError::Internal(e.to_string())),
    }
}

/// Where every command's result becomes the exit code: success, a closed
/// stdout (quiet, 0), an answer already printed, or an error reported on
/// stderr (which itself may be closed: never a panic).
fn finish(result: Result<Exit, CliError>) -> Exit {
    match result {
        Ok(exit) => exit,
        Err(err) if err.is_closed_stdout() => {
            tracing::debug!("standard output was closed; stopping quietly");
            Exit::Ok
        }
        Err(err) => {
            tracing::warn!(error = %err, "command failed");
            if !matches!(err, CliError::Answered { .. }) {
                let _ = writeln!(
                    std::io::stderr(),
                    "error: {}",
                    terminal_lines(&err.to_string())
                );
            }
            exit_for(&err)
        }
    }
}

/// A message for stderr: each of its own lines escaped by
/// `text::for_terminal` (an error may carry server text; our multi-line
/// messages, like the intake help, keep their line breaks).
fn terminal_lines(message: &str) -> String {
    message
        .split('\n')
        .map(crate::text::for_terminal)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs a command that prints through an `Output` on stdout, then flushes
/// it. What was printed before a failure still reaches the reader; a failed
/// flush is reported unless the command failed for another reason (that
/// error says more). A printed failing answer (`CliError::Answered`) that
/// could not be written is an output failure.
fn with_stdout(
    command: impl FnOnce(&mut Output) -> Result<Exit, CliError>,
) -> Result<Exit, CliError> {
    let mut out = Output::stdout();
    let result = command(&mut out);
    let flushed = out.flush();
    match (result, flushed) {
        (Err(e), _) if !matches!(e, CliError::Answered { .. }) => Err(e),
        (_, Err(e)) => Err(e.into()),
        (result, Ok(())) => result,
    }
}

fn dispatch(cli: Cli, settings: Settings, flags: FlagOverrides) -> Result<Exit, CliError> {
    use remote::Remote;
    let talks_to_site = matches!(
        cli.command,
        // The interface too: its terminal is free until it starts.
        None | Some(
            Command::Check { .. }
                | Command::Spaces { .. }
                | Command::Pages { .. }
                | Command::Watch { .. }
                | Command::Proxy { command: None, .. }
                | Command::Exec { proxy: true, .. }
                | Command::Cookies(CookiesCommand::Import { .. })
                | Command::Token(TokenCommand::Set { .. })
        )
    );
    if talks_to_site {
        gateway::ask_certificate_password(&settings)?;
    }
    match cli.command {
        None => crate::tui::run(settings, flags, cli.serve)
            .map(|()| Exit::Ok)
            .map_err(|e| CliError::Internal(e.to_string())),
        Some(Command::Check { json, retry }) => {
            remote::run(Remote::Check { json, retry }, settings, flags)
        }
        Some(Command::Spaces { json, limit }) => {
            remote::run(Remote::Spaces { json, limit }, settings, flags)
        }
        Some(Command::Pages { space_key, json }) => {
            remote::run(Remote::Pages { space_key, json }, settings, flags)
        }
        Some(Command::Watch {
            interval,
            notify,
            json,
            from_browser,
            profile,
        }) => watch::run(
            watch::WatchArgs {
                interval,
                notify,
                json,
                browser: browser_spec(from_browser, profile)?,
            },
            settings,
            flags,
        ),
        Some(Command::Proxy {
            command: Some(cmd), ..
        }) => with_stdout(|out| proxy::run_command(out, cmd, &settings)),
        Some(Command::Proxy {
            command: None,
            listen,
            allow_writes,
            json,
            max_connections,
            header_timeout,
            max_concurrency,
            max_wait,
            tls,
            tls_cert,
            tls_key,
            tls_name,
            allow_from,
            socket_group,
        }) => proxy::run(
            proxy::ProxyArgs {
                listen,
                limits: crate::proxy::Limits {
                    max_connections: max_connections as usize,
                    header_read_timeout: std::time::Duration::from_secs(header_timeout),
                },
                max_concurrency: max_concurrency as usize,
                max_wait: std::time::Duration::from_secs(max_wait),
                tls: (tls || tls_cert.is_some()).then_some(proxy::TlsArgs {
                    cert: tls_cert.zip(tls_key),
                    names: tls_name,
                }),
                allow_from,
                socket_group,
                allow_writes,
                json,
            },
            settings,
        ),
        Some(Command::DemoServer(_)) => unreachable_demo(),
        Some(Command::Exec {
            proxy,
            allow_writes,
            command,
        }) => exec::run(
            exec::ExecArgs {
                argv: command,
                proxy,
                allow_writes,
            },
            settings,
        ),
        Some(Command::Cookies(c)) => with_stdout(|out| cookies::run(out, c, settings, flags)),
        Some(Command::Token(t)) => with_stdout(|out| token::run(out, t, &settings)),
        Some(Command::Gateway(g)) => with_stdout(|out| gateway::run(out, g, &settings)),
        Some(Command::Sites { json }) => with_stdout(|out| sites::run(out, &settings, json)),
        Some(Command::Audit { json, verify }) => {
            with_stdout(|out| audit::run(out, &settings, json, verify))
        }
    }
}

/// `--from-browser NAME [--profile PATH]` as a spec (a usage error for an
/// unknown name).
pub(crate) fn browser_spec(
    name: Option<String>,
    profile: Option<PathBuf>,
) -> Result<Option<crate::browser::BrowserSpec>, CliError> {
    let Some(name) = name else { return Ok(None) };
    let choice = name
        .parse::<crate::browser::BrowserChoice>()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Some(crate::browser::BrowserSpec { choice, profile }))
}

/// The async runtime of the commands that talk to a site or serve: two
/// worker threads (the machines this runs on are small; the work is I/O).
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Internal(format!("cannot start the async runtime: {e}")))
}

fn run_demo_server(args: crate::demo::DemoServerArgs) -> Result<Exit, CliError> {
    let rt = runtime()?;
    rt.block_on(crate::demo::run_demo_server(args))
        .map(|()| Exit::Ok)
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// `demo-server` is dispatched before settings are read.
fn unreachable_demo() -> Result<Exit, CliError> {
    Err(CliError::Internal(
        "demo-server is handled before settings are read".into(),
    ))
}

/// `10.0.0.0/8`, `fd00::/8`, or one address (`10.1.2.3`: that address only).
fn parse_cidr(text: &str) -> Result<ipnet::IpNet, String> {
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| format!("{text} is not a network (CIDR like 10.0.0.0/8) or an address"))
}
