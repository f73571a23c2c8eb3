//! Diagnostics through `tracing`, to `logs/confluence-tui.log` in the data
//! directory and never to the terminal (it would corrupt the TUI). Level from
//! `RUST_LOG` (default `info`).

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Installs the file logger once; later calls and failures are ignored, since
/// a missing diagnostics log must never stop a credential operation.
pub fn init(log_file: &Path) {
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
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .try_init();
}
