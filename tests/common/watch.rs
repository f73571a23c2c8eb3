//! `watch --json --interval 1` run as a child, its JSON lines read as they
//! come.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::Sandbox;
use super::site::Site;

/// A running `watch --json`; killed when dropped.
pub struct Watch {
    child: Child,
    pub lines: mpsc::Receiver<Value>,
}

impl Watch {
    /// `watch --json --interval 1` for the site, with `args` and `env`.
    pub fn start(sb: &Sandbox, site: &Site, args: &[&str], env: &[(&str, &str)]) -> Watch {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CONFLUENCE_DATA_DIR", sb.data())
            .env("CONFLUENCE_KDF_LOG_N", "10")
            .env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
            .env("CONFLUENCE_DEPLOYMENT", "server")
            .envs(env.iter().copied())
            .current_dir(sb.dir.path())
            .args(["watch", "--json", "--interval", "1"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let pipe = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).unwrap();
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    /// `watch --from-browser firefox --profile PROFILE` for the site.
    pub fn firefox(
        sb: &Sandbox,
        site: &Site,
        profile: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Watch {
        let profile = profile.to_str().expect("a UTF-8 temp path");
        let args = ["--from-browser", "firefox", "--profile", profile];
        Watch::start(sb, site, &args, env)
    }

    /// The next JSON line within `limit`.
    pub fn next(&self, limit: Duration) -> Value {
        self.lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("no line from watch within {limit:?}: {e}"))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
