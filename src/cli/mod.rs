//! The headless commands: argument parsing, dispatch, printing text or JSON,
//! and the one place where errors become exit codes.

mod audit;
mod cookies;
mod remote;
mod token;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, FlagOverrides, Settings};
use crate::credentials::CredentialError;
use crate::exit::Exit;
use crate::vault::VaultError;

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
    #[command(subcommand)]
    pub command: Option<Command>,
}

const EXIT_CODES_HELP: &str = "Exit codes: 0 ok · 1 internal error · 2 usage or configuration error · \
3 authentication needed · 4 CAPTCHA: sign in through the browser first · 5 network or server failure · \
6 vault unreadable";

/// The commands of the public contract.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Verify the credentials now: who is signed in, or why not
    Check {
        #[arg(long)]
        json: bool,
    },
    /// List every space the account can read
    Spaces {
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
        #[arg(long)]
        json: bool,
    },
    /// Import, inspect or delete the stored browser cookies
    #[command(subcommand)]
    Cookies(CookiesCommand),
    /// Store or remove an API token in the vault
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the audit log of credential operations
    Audit {
        /// One JSON record per line
        #[arg(long)]
        json: bool,
        /// Check the hash chain: exit 0 when intact, 1 at the first broken record
        #[arg(long)]
        verify: bool,
    },
    /// Run the built-in fake Confluence site alone (loopback only)
    DemoServer(crate::demo::DemoServerArgs),
}

/// `cookies …`
#[derive(Debug, Subcommand)]
pub enum CookiesCommand {
    /// Import cookies (default: the intake file cookies/confluence_cookies.txt), encrypt, store, empty the plain file, then verify them when a site is set
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
    },
    /// Show what is stored: count, names, session cookie, saved and expiry times (never values)
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Delete the stored cookies (an unreadable vault is kept aside, not deleted)
    Clear,
}

/// `token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Read an API token (hidden) from the terminal, or from standard input, into the vault
    Set,
    /// Remove the API token from the vault
    Clear,
}

/// A headless command's failure, mapped to an exit code in `exit_for`.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    AuthNeeded(String),
    #[error("{0}")]
    Internal(String),
    /// A remote command failed; `printed` when the JSON answer already said so.
    #[error("{message}")]
    Remote {
        message: String,
        exit: Exit,
        printed: bool,
    },
}

/// The one place where errors become exit codes.
pub fn exit_for(err: &CliError) -> Exit {
    match err {
        CliError::Config(_) | CliError::Usage(_) => Exit::Usage,
        CliError::AuthNeeded(_) => Exit::AuthNeeded,
        CliError::Internal(_) => Exit::Internal,
        CliError::Remote { exit, .. } => *exit,
        CliError::Credentials(c) => match c {
            CredentialError::Vault(VaultError::Io { .. }) => Exit::Internal,
            CredentialError::Vault(_) => Exit::Vault,
            CredentialError::Parse(_)
            | CredentialError::Intake(_)
            | CredentialError::IntakeEmpty { .. }
            | CredentialError::BadToken => Exit::Usage,
            CredentialError::Audit(_) | CredentialError::Interrupted(_) => Exit::Internal,
        },
    }
}

/// Runs the parsed command line and returns the exit code.
pub fn run(cli: Cli) -> Exit {
    if let Some(Command::DemoServer(args)) = cli.command {
        // The fake site needs no settings: a broken .env must not stop it.
        return run_demo_server(args);
    }
    let flags = FlagOverrides {
        env_file: cli.env_file.clone(),
        data_dir: cli.data_dir.clone(),
        base_url: cli.base_url.clone(),
    };
    let result = Settings::load(&flags)
        .map_err(CliError::from)
        .and_then(|settings| {
            crate::logging::init(&settings.paths().diagnostics_log);
            dispatch(cli, settings, flags.clone())
        });
    match result {
        Ok(exit) => exit,
        Err(err) => {
            tracing::warn!(error = %err, "command failed");
            eprintln!("error: {err}");
            exit_for(&err)
        }
    }
}

fn dispatch(cli: Cli, settings: Settings, flags: FlagOverrides) -> Result<Exit, CliError> {
    use remote::Remote;
    match cli.command {
        None => crate::tui::run(settings, flags, cli.demo)
            .map(|()| Exit::Ok)
            .map_err(|e| CliError::Internal(e.to_string())),
        Some(Command::Check { json }) => remote::run(Remote::Check { json }, settings, flags),
        Some(Command::Spaces { json, limit }) => {
            remote::run(Remote::Spaces { json, limit }, settings, flags)
        }
        Some(Command::Pages { space_key, json }) => {
            remote::run(Remote::Pages { space_key, json }, settings, flags)
        }
        Some(Command::DemoServer(_)) => unreachable_demo(),
        Some(Command::Cookies(c)) => cookies::run(c, settings, flags),
        Some(Command::Token(t)) => token::run(t, &settings),
        Some(Command::Audit { json, verify }) => audit::run(&settings, json, verify),
    }
}

fn run_demo_server(args: crate::demo::DemoServerArgs) -> Exit {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Internal;
        }
    };
    match rt.block_on(crate::demo::run_demo_server(args)) {
        Ok(()) => Exit::Ok,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
    }
}

/// `demo-server` is dispatched before settings are read.
fn unreachable_demo() -> Result<Exit, CliError> {
    Err(CliError::Internal(
        "demo-server is handled before settings are read".into(),
    ))
}
