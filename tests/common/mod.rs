//! Shared helpers for the integration tests: a throw-away data dir and the
//! real binary run with a clean environment.
#![allow(dead_code)]

pub mod browser;
pub mod gateway;
pub mod proxy;
pub mod python;
pub mod site;
pub mod tmux;
pub mod watch;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The site the sandbox's commands are configured for (no server answers
/// there: commands that would reach it run with `--no-verify` or against
/// a demo site given with `--base-url`/`CONFLUENCE_BASE_URL`).
pub const SANDBOX_SITE: &str = "https://example.atlassian.net/wiki";

/// A temp data dir plus a temp working dir (so no stray `.env` is read).
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    pub fn intake(&self) -> PathBuf {
        self.data().join("cookies/confluence_cookies.txt")
    }
    pub fn vault(&self) -> PathBuf {
        self.data().join("cookies/secure_cookies.enc")
    }
    pub fn audit(&self) -> PathBuf {
        self.data().join("logs/cookie_audit.log")
    }
    /// The binary with only the settings a test gives it, configured for
    /// `SANDBOX_SITE`.
    pub fn cmd(&self) -> Command {
        let mut c = self.cmd_without_site();
        c.env("CONFLUENCE_BASE_URL", SANDBOX_SITE);
        c
    }
    /// The binary with no site configured.
    pub fn cmd_without_site(&self) -> Command {
        let mut c = Command::cargo_bin("confluence-tui").expect("binary");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CONFLUENCE_DATA_DIR", self.data())
            .env("CONFLUENCE_KDF_LOG_N", "10")
            .current_dir(self.dir.path());
        c
    }
    pub fn write_intake(&self, text: &str) {
        std::fs::create_dir_all(self.intake().parent().unwrap()).unwrap();
        std::fs::write(self.intake(), text).unwrap();
    }
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A realistic Cloud Cookie header with a session cookie.
pub fn cloud_header(session_value: &str) -> String {
    format!(
        "cloud.session.token={session_value}; atlassian.xsrf.token=abc123_lin; ajs_anonymous_id=%22x%22"
    )
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}
pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
