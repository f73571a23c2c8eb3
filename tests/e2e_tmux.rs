//! End to end: the real binary with `--demo` in a real terminal (tmux),
//! driven by keys and a bracketed paste, read back with `capture-pane`.
//! Walks status → paste dialog → saved and verified → spaces → filter →
//! pages → audit log → quit, then checks the terminal was restored.

use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "e2e"])
    }
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        self.run(&args);
    }
    /// Waits until the screen contains `needle` (the app works asynchronously).
    fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    fn flag(&self, name: &str) -> String {
        self.run(&["display", "-p", "-t", "e2e", &format!("#{{{name}}}")])
            .trim()
            .to_string()
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

/// The demo site's login page shows the demo cookie to copy.
fn demo_cookie(port: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let page = rt.block_on(async {
        reqwest::get(format!("http://127.0.0.1:{port}/login"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    let start = page
        .find("cloud.session.token=")
        .expect("cookie on the login page");
    let rest = &page[start..];
    let end = rest.find(['<', '"']).unwrap_or(rest.len());
    rest[..end].replace("&amp;", "&").trim().to_string()
}

#[test]
fn demo_walkthrough_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install tmux (.ci/run does)"
        );
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_confluence-tui");
    let t = Tmux {
        socket: format!("ctui-e2e-{}", std::process::id()),
    };
    // After the app: report the exit code and the tty mode, then echo pastes
    // through `cat -v` so leftover bracketed-paste mode would show.
    let script = format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY {bin} --demo; echo EXITED:$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; cat -v"
    );
    t.run(&[
        "new-session",
        "-d",
        "-s",
        "e2e",
        "-x",
        "100",
        "-y",
        "30",
        &script,
    ]);

    let s = t.wait_for("NOT CONFIGURED");
    assert!(
        s.contains("Get fresh cookies"),
        "guidance on first run:\n{s}"
    );
    let port = s
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .expect("site port")
        .to_string();
    assert_eq!(t.flag("alternate_on"), "1");
    assert_eq!(t.flag("mouse_any_flag"), "1", "mouse enabled while running");

    // Paste dialog: no clipboard here, so the terminal's own paste is used.
    t.keys(&["p"]);
    t.wait_for("Paste cookies");
    let cookie = demo_cookie(&port);
    t.run(&["set-buffer", "-b", "ck", &format!("{cookie}\n")]);
    t.run(&["paste-buffer", "-p", "-b", "ck", "-t", "e2e"]);
    let s = t.wait_for("cloud.session.token");
    assert!(
        s.contains("Paste cookies"),
        "a pasted newline must not submit:\n{s}"
    );
    let secret = cookie.split(['=', ';']).nth(1).unwrap().to_string();
    assert!(!s.contains(&secret), "the paste is masked:\n{s}");
    t.keys(&["Enter"]);
    let s = t.wait_for("SIGNED IN");
    assert!(s.contains("Demo User"), "{s}");

    // Spaces stream in; filter; open a space's pages.
    t.keys(&["2"]);
    t.wait_for("AN");
    t.keys(&["/"]);
    t.keys(&["-l", "catalog 0002"]);
    let s = t.wait_for("· 1 match ");
    assert!(s.contains("CA2") && s.contains("Catalog 0002"), "{s}");
    t.keys(&["Enter"]);
    t.keys(&["Enter"]);
    let pages = t.wait_for("Runbook 001");
    assert!(
        pages.contains("CA2 › pages") && pages.contains("Version"),
        "{pages}"
    );

    // The audit log shows the session's records and an intact chain.
    t.keys(&["Escape"]);
    t.keys(&["3"]);
    let s = t.wait_for("intact");
    assert!(
        s.contains("cookies_saved") || s.contains("session_verified"),
        "{s}"
    );

    t.keys(&["q"]);
    let s = t.wait_for("EXITED:0");
    assert!(
        s.contains("\nicanon") || s.contains("icanon\n"),
        "terminal back in canonical mode:\n{s}"
    );
    assert!(!s.contains("-icanon"), "{s}");
    assert_eq!(t.flag("alternate_on"), "0", "alternate screen left");
    assert_eq!(t.flag("mouse_any_flag"), "0", "mouse reporting off");
    t.run(&["set-buffer", "-b", "probe", "PROBE"]);
    t.run(&["paste-buffer", "-p", "-b", "probe", "-t", "e2e"]);
    t.keys(&["Enter"]);
    let s = t.wait_for("PROBE");
    assert!(
        !s.contains("^[[200~"),
        "bracketed paste was switched off:\n{s}"
    );
}
