//! The notify command (`--notify`, `CONFLUENCE_NOTIFY_CMD`): run through
//! `sh -c` when the session enters a state that needs the user, with the
//! state in its environment and never a secret.

use time::OffsetDateTime;

use super::Snapshot;

/// Runs the user's notify command, if one is set, for one site.
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    cmd: Option<String>,
    site: String,
}

impl Notifier {
    /// A notifier running `cmd` (none: nothing runs) for the site at `site`.
    pub fn new(cmd: Option<String>, site: impl Into<String>) -> Notifier {
        Notifier {
            cmd,
            site: site.into(),
        }
    }

    /// Runs the command for `snapshot` without waiting for it. Its
    /// environment loses every `CONFLUENCE_*` variable of ours (tokens,
    /// passphrases) and gains only the session's state:
    /// `CONFLUENCE_SESSION_STATE`, `CONFLUENCE_SESSION_REASON`,
    /// `CONFLUENCE_LOGIN_URL`, `CONFLUENCE_BASE_URL`. Needs a tokio runtime.
    pub fn notify(&self, snapshot: &Snapshot, now: OffsetDateTime) {
        let Some(cmd) = &self.cmd else { return };
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(cmd).stdin(std::process::Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CONFLUENCE_") {
                c.env_remove(name);
            }
        }
        c.env("CONFLUENCE_SESSION_STATE", snapshot.word(now).as_str())
            .env(
                "CONFLUENCE_SESSION_REASON",
                snapshot.reason().unwrap_or_default(),
            )
            .env("CONFLUENCE_LOGIN_URL", snapshot.login_url().unwrap_or(""))
            .env("CONFLUENCE_BASE_URL", &self.site);
        match c.spawn() {
            Ok(mut child) => {
                tokio::spawn(async move {
                    match child.wait().await {
                        Ok(status) if !status.success() => {
                            tracing::warn!(%status, "the notify command failed");
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "the notify command failed"),
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot run the notify command"),
        }
    }
}
