//! Diagnostics through `tracing`, to `logs/confluence-tui.log` in the data
//! directory and never to the terminal (it would corrupt the TUI). Level from
//! `RUST_LOG` (default `info`).

use std::fs::OpenOptions;
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
/// a missing diagnostics log must never stop a credential operation.
pub(crate) fn init(log_file: &Path) {
    let Some(dir) = log_file.parent() else { return };
    if crate::fsutil::create_private_dir(dir).is_err() {
        return;
    }
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let Ok(file) = opts.open(log_file) else {
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
