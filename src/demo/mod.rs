//! The built-in fake Confluence site: deterministic generated spaces and
//! pages served over the real v1/v2 REST shapes on 127.0.0.1, demo
//! credentials, a login page that hands out a session cookie, and fault knobs
//! that reproduce every way a real site says "signed out" or "slow down".
//!
//! ```text
//! DemoServer::start(DemoConfig, 127.0.0.1:0) → base_url(), login_url(),
//! session_cookie_header(), set_faults(), control(), request_count(),
//! requests_seen(), shutdown()
//! ```

mod cli;
mod data;
mod extras;
mod faults;
mod hostile;
mod json;
mod login;
mod query;
mod routes;
mod server;
mod session;
mod state;

pub(crate) use cli::{DemoServerArgs, run_demo_server};
pub use data::{DEMO_DISPLAY_NAME, DemoData};
pub(crate) use faults::DEFAULT_RETRY_AFTER_SECS;
pub use faults::{CaptchaForm, DemoFaults, HOSTILE_SET_COOKIE_VALUE_BYTES};
pub use hostile::HOSTILE_SUFFIX;
pub use server::{DemoControl, DemoServer};
pub use session::{
    CLOUD_SESSION_COOKIE, DEMO_API_TOKEN, DEMO_EMAIL, DEMO_PAT, SERVER_SESSION_COOKIE,
};
pub use state::{PathKind, SeenRequest};

use std::net::SocketAddr;
use std::time::Duration;

/// How long a session of the demo the TUI runs (`--demo`) lives, so a
/// newcomer sees expiry and refresh; its stored cookies are given the same
/// lifetime, so the status screen shows the time the session really has.
pub const DEMO_SESSION_LIFETIME: Duration = Duration::from_secs(300);

/// Which kind of Confluence the demo site imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DemoFlavor {
    /// Cloud: everything under `/wiki`, v1 and v2, Basic email + API token.
    #[default]
    Cloud,
    /// Server/Data Center: v1 only at the root, Bearer personal access token.
    Server,
}

impl DemoFlavor {
    /// Lower-case name for messages.
    pub fn name(self) -> &'static str {
        match self {
            DemoFlavor::Cloud => "cloud",
            DemoFlavor::Server => "server",
        }
    }
}

/// Everything the demo site needs to start.
#[derive(Debug, Clone, Default)]
pub struct DemoConfig {
    pub flavor: DemoFlavor,
    pub data: DemoData,
    pub faults: DemoFaults,
}

/// Why the demo site could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo site serves fake data without real security: loopback only.
    #[error(
        "the demo site only listens on loopback, not {addr}; use --addr 127.0.0.1:PORT (or [::1]:PORT)"
    )]
    NotLoopback { addr: SocketAddr },
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}; pick a free port with --addr 127.0.0.1:PORT")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The listening address does not form a URL (should not happen on loopback).
    #[error("cannot build the demo site's URL for {addr}; report this as a bug")]
    Url { addr: SocketAddr },
    /// Writing the start-up line or waiting for Ctrl-C failed.
    #[error("demo site I/O failed: {0}; check that stdout is writable")]
    Io(#[from] std::io::Error),
    /// A command-line value was out of range.
    #[error("invalid demo-server option: {0}")]
    InvalidOption(String),
}
