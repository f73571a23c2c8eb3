//! A private tmux server running the real binary, read back with
//! `capture-pane`: for tests of the interface in a real terminal.

use std::process::Command;
use std::time::{Duration, Instant};

/// True when tmux can run here (CI must have it).
pub fn have_tmux() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "CI must install tmux");
    eprintln!("skipped: tmux is not installed");
    false
}

/// One tmux server with one session; killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `script` in a `width`×`height` session of a private server.
    pub fn start(name: &str, script: &str, width: u16, height: u16) -> Tmux {
        let t = Tmux {
            socket: format!("ctui-{name}-{}", std::process::id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        t.run(&["new-session", "-d", "-s", "t", "-x", &w, "-y", &h, script]);
        t
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Waits up to `limit` until the screen contains `needle`.
    pub fn wait_for(&self, needle: &str, limit: Duration) -> String {
        self.wait_until(&format!("{needle:?}"), limit, |s| s.contains(needle))
    }

    /// Waits up to `limit` until `done` holds for the screen, and returns a
    /// settled frame: a capture can land while the terminal is redrawn, so
    /// the screen must look the same a moment later.
    pub fn wait_until(&self, what: &str, limit: Duration, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.screen();
            if done(&s) {
                std::thread::sleep(Duration::from_millis(50));
                let again = self.screen();
                if again == s || (Instant::now() >= deadline && done(&again)) {
                    return again;
                }
                continue;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {limit:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// The shell line that runs `confluence-tui --serve` for `site` on the
/// sandbox's data dir with nothing else of the environment (no display,
/// so no clipboard), then prints its exit code and stays for a capture.
pub fn serve_script(sb: &super::Sandbox, site: &super::site::Site, extra_env: &str) -> String {
    format!(
        "env -i PATH=\"$PATH\" TERM=xterm-256color CONFLUENCE_DATA_DIR='{}' CONFLUENCE_KDF_LOG_N=10 CONFLUENCE_BASE_URL='{}' CONFLUENCE_DEPLOYMENT=cloud {extra_env} '{}' --serve; echo EXITED:$?; sleep 60",
        sb.data().display(),
        site.server.base_url().as_str(),
        env!("CARGO_BIN_EXE_confluence-tui"),
    )
}

/// The value of an environment line `NAME=value` shown on the screen.
pub fn env_value(screen: &str, name: &str) -> Option<String> {
    let start = screen.find(&format!("{name}="))? + name.len() + 1;
    let value: String = screen[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '│')
        .collect();
    Some(value)
}

/// A request through the proxy with HTTP Basic (`confluence-tui`, `token`):
/// the status it got.
pub fn through_proxy(method: &str, url: &str, token: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::new()
            .request(method.parse().unwrap(), url)
            .basic_auth("confluence-tui", Some(token))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}
