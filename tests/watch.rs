//! `watch` through the real binary against the fake site: it keeps an
//! idle-timeout session alive, notices a death within two intervals, runs
//! the notify command once with the session's environment (and no secret),
//! resumes after an import from another process, and exits 0 on SIGTERM.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use confluence_tui::demo::{DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer};
use serde_json::Value;

struct Site {
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    fn server_dc(faults: DemoFaults) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor: DemoFlavor::Server,
            data: DemoData {
                spaces: 2,
                pages_per_space: 1,
            },
            faults,
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, _rt: rt }
    }
}

fn bin(sb: &Sandbox, site: &Site) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFLUENCE_DATA_DIR", sb.data())
        .env("CONFLUENCE_KDF_LOG_N", "10")
        .env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
        .env("CONFLUENCE_DEPLOYMENT", "server")
        .current_dir(sb.dir.path());
    c
}

fn import_live(sb: &Sandbox, site: &Site) {
    let mut c = bin(sb, site);
    c.args(["cookies", "import", "--no-verify", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(site.server.session_cookie_header().as_bytes())
            .unwrap();
    }
    assert!(child.wait().unwrap().success(), "import");
}

fn check(sb: &Sandbox, site: &Site) -> Option<i32> {
    let out = bin(sb, site)
        .arg("check")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    out.status.code()
}

/// A running `watch --json` and its lines.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(sb: &Sandbox, site: &Site, extra: &[&str]) -> Watch {
        let mut c = bin(sb, site);
        c.args(["watch", "--json", "--interval", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("a JSON line ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    /// The next line within `limit`.
    fn next(&self, limit: Duration) -> Value {
        self.lines
            .recv_timeout(limit)
            .unwrap_or_else(|e| panic!("no line from watch within {limit:?}: {e}"))
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "watch ended");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn without_keep_alive_an_idle_session_dies() {
    let site = Site::server_dc(DemoFaults {
        session_idle_timeout: Some(Duration::from_secs(2)),
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    assert_eq!(check(&sb, &site), Some(0));
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(check(&sb, &site), Some(3), "died idle");
}

#[test]
fn watch_keeps_an_idle_timeout_session_alive_and_exits_0_on_sigterm() {
    let site = Site::server_dc(DemoFaults {
        session_idle_timeout: Some(Duration::from_secs(3)),
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let watch = Watch::start(&sb, &site, &[]);
    let first = watch.next(Duration::from_secs(10));
    assert_eq!(first["state"], "signed_in", "{first}");
    assert!(first["time"].is_string() && first["site"].is_string());
    // Several idle timeouts go by.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(check(&sb, &site), Some(0), "kept alive");
    assert!(site.server.request_count() >= 5, "verified every second");
    let status = watch.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM ends watch with 0");
}

#[test]
fn watch_reports_a_death_notifies_once_and_resumes_after_an_import() {
    let site = Site::server_dc(DemoFaults {
        session_expire_after: Some(Duration::from_secs(3)),
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let env_file = sb.dir.path().join("notified.txt");
    let notify = format!(
        "env | grep -E '^CONFLUENCE_' | sort >> '{}'; echo --- >> '{}'",
        env_file.display(),
        env_file.display()
    );
    let watch = Watch::start(&sb, &site, &["--notify", &notify]);
    assert_eq!(watch.next(Duration::from_secs(10))["state"], "signed_in");
    // The session dies 3 s after sign-in: seen within two intervals.
    let died = watch.next(Duration::from_secs(3 + 2 + 2));
    assert_eq!(died["state"], "expired", "{died}");
    assert!(died["reason"].is_string(), "{died}");
    // Stays dead without asking the site, and without another notice.
    let asked = site.server.request_count();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(site.server.request_count(), asked, "no polling while dead");
    let notified = std::fs::read_to_string(&env_file).unwrap();
    assert_eq!(notified.matches("---").count(), 1, "{notified}");
    assert!(
        notified.contains("CONFLUENCE_SESSION_STATE=expired"),
        "{notified}"
    );
    assert!(
        notified.contains("CONFLUENCE_SESSION_REASON="),
        "{notified}"
    );
    assert!(notified.contains("CONFLUENCE_LOGIN_URL="), "{notified}");
    assert!(
        notified.contains(&format!(
            "CONFLUENCE_BASE_URL={}",
            site.server.base_url().as_str()
        )),
        "{notified}"
    );
    for secret_setting in [
        "CONFLUENCE_DATA_DIR",
        "CONFLUENCE_KDF_LOG_N",
        "CONFLUENCE_COOKIE",
    ] {
        assert!(!notified.contains(secret_setting), "{notified}");
    }

    // A fresh sign-in imported from another process: back without a restart.
    import_live(&sb, &site);
    let back = watch.next(Duration::from_secs(10));
    assert_eq!(back["state"], "signed_in", "{back}");
    assert_eq!(watch.terminate().code(), Some(0));

    // No cookie value in what watch printed, in what the notify command
    // saw, or in any plain file under the data dir (the vault is encrypted).
    let header = site.server.session_cookie_header();
    let values: Vec<&str> = header
        .split("; ")
        .filter_map(|p| p.split_once('=').map(|(_, v)| v))
        .filter(|v| v.len() >= 8)
        .collect();
    assert!(!values.is_empty());
    let printed = format!("{died}{back}{notified}");
    let mut files = vec![sb.data().join("logs/cookie_audit.log")];
    files.push(sb.data().join("logs/confluence-tui.log"));
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for v in &values {
            assert!(!text.contains(v), "{} holds a cookie value", f.display());
        }
    }
    for v in &values {
        assert!(!printed.contains(v), "a cookie value was printed");
    }
}

/// The TUI in a real terminal (tmux): with keep-alive on, a session that
/// dies shows EXPIRED without a key press, and an import from another
/// process brings SIGNED IN back.
#[test]
fn the_tui_sees_a_death_and_a_fresh_import_without_a_key_press() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tmux");
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let site = Site::server_dc(DemoFaults {
        session_expire_after: Some(Duration::from_secs(4)),
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let socket = format!("ctui-keepalive-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let script = format!(
        "env -i PATH=\"$PATH\" TERM=xterm-256color CONFLUENCE_DATA_DIR='{}' CONFLUENCE_KDF_LOG_N=10 CONFLUENCE_BASE_URL='{}' CONFLUENCE_DEPLOYMENT=server CONFLUENCE_KEEPALIVE_SECS=1 '{}'",
        sb.data().display(),
        site.server.base_url().as_str(),
        env!("CARGO_BIN_EXE_confluence-tui"),
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "k",
        "-x",
        "100",
        "-y",
        "30",
        &script,
    ]);
    let wait_for = |needle: &str, limit: Duration| {
        let deadline = Instant::now() + limit;
        loop {
            let s = tmux(&["capture-pane", "-p", "-t", "k"]);
            if s.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} within {limit:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("SIGNED IN", Duration::from_secs(20));
    // Dies 4 s after sign-in; keep-alive every second sees it.
    wait_for("EXPIRED", Duration::from_secs(4 + 2 + 3));
    import_live(&sb, &site);
    wait_for("SIGNED IN", Duration::from_secs(10));
    tmux(&["kill-server"]);
}
