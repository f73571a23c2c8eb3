//! Diagnostics through `tracing`, to `logs/confluence-tui.log` in the data
//! directory and never to the terminal (it would corrupt the TUI). Level from
//! `RUST_LOG` (default `info`).

use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Crates capped at `info`: below that they may log raw headers.
const NOISY_HTTP_CRATES: &[&str] = &[
    "hyper",
    "hyper_util",
    "reqwest",
    "h2",
    "rustls",
    "rustls_platform_verifier",
];

/// Installs the file logger once; later calls and failures are ignored, since
/// a missing diagnostics log must never stop a credential operation. The
/// file is never reached through a symbolic link, and a log (or logs
/// directory) that is not the user's or that others may write is not used;
/// the credential commands then refuse with the reason (the audit log lives
/// in the same directory).
pub(crate) fn init(log_file: &Path) {
    use crate::fsutil::{Access, ensure_private_dir, open_private_file};
    let Some(dir) = log_file.parent() else { return };
    if ensure_private_dir(dir).is_err() {
        return;
    }
    let Ok(file) = open_private_file(log_file, Access::AppendCreate) else {
        return;
    };
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // The HTTP and TLS stacks may dump request headers (Authorization,
    // Cookie) at debug/trace in some versions or feature sets; a user turning
    // on RUST_LOG=trace to debug must not write a token into this file, so
    // those crates stay at info whatever RUST_LOG says.
    for target in NOISY_HTTP_CRATES {
        if let Ok(d) = format!("{target}=info").parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
}
