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
    /// A private tmux server running `script` in a 100×30 session.
    fn start(name: &str, script: &str) -> Tmux {
        let t = Tmux {
            socket: format!("ctui-{name}-{}", std::process::id()),
        };
        t.run(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            "100",
            "-y",
            "30",
            script,
        ]);
        t
    }
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

/// Checks the terminal is back to normal after the app ended: canonical
/// mode, main screen, no mouse reporting, no bracketed paste.
fn assert_restored(t: &Tmux) {
    t.wait_for("EXITED:");
    // The shell prints the tty mode a moment after the exit code.
    let s = t.wait_for("icanon");
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

fn have_tmux() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must install tmux (.ci/run does)"
    );
    eprintln!("skipped: tmux is not installed");
    false
}

/// The shell line: the app, then its exit code and tty mode, then `cat -v`
/// echoing pastes so a leftover bracketed-paste mode would show.
fn script(env: &str) -> String {
    let bin = env!("CARGO_BIN_EXE_confluence-tui");
    format!(
        "env -u DISPLAY -u WAYLAND_DISPLAY {env} {bin} --demo; echo EXITED:$?; stty -a | tr ' ' '\\n' | grep -x -- '-\\?icanon'; cat -v"
    )
}

#[test]
fn a_panic_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let t = Tmux::start(
        "e2e-panic",
        &script("RUST_BACKTRACE=0 CONFLUENCE_TUI_PANIC_TEST=1"),
    );
    let s = t.wait_for("EXITED:");
    assert!(
        s.contains("panic requested by CONFLUENCE_TUI_PANIC_TEST"),
        "the panic message is printed on the main screen:\n{s}"
    );
    assert!(!s.contains("EXITED:0"), "{s}");
    assert_restored(&t);
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
    if !have_tmux() {
        return;
    }
    // The app, then its exit code and tty mode, then `cat -v` echoing
    // pastes so a leftover bracketed-paste mode would show.
    let t = Tmux::start("e2e", &script(""));

    let s = t.wait_for("Sign in to the demo");
    assert!(
        s.contains("Press o") && !s.contains("no credentials"),
        "the demo's own guidance on first run:\n{s}"
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
    let s = t.wait_for("Signed in as Demo User");
    // A demo session lives five minutes, and the screen says so.
    assert!(s.contains("EXPIRES SOON"), "{s}");
    assert!(
        s.contains("expires in 4 min") || s.contains("expires in 5 min"),
        "{s}"
    );

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

    // Cookies dropped into the intake file while the app runs are imported
    // and the file emptied.
    t.keys(&["1"]);
    let s = t.wait_for("secure_cookies.enc");
    let vault = s
        .split_whitespace()
        .find(|w| w.ends_with("cookies/secure_cookies.enc"))
        .expect("vault path on screen")
        .to_string();
    let intake = std::path::Path::new(&vault).with_file_name("confluence_cookies.txt");
    std::fs::write(&intake, demo_cookie(&port)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&intake).map(|m| m.len()).unwrap_or(1) > 0 {
        assert!(
            Instant::now() < deadline,
            "intake file not imported:\n{}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.wait_for("Signed in as Demo User");

    t.keys(&["q"]);
    t.wait_for("EXITED:0");
    assert_restored(&t);
}

/// Signs in to the demo running in `t` with a paste of its cookie.
fn sign_in(t: &Tmux, port: &str) {
    t.keys(&["p"]);
    t.wait_for("Paste cookies");
    t.run(&["set-buffer", "-b", "ck", &demo_cookie(port)]);
    t.run(&["paste-buffer", "-p", "-b", "ck", "-t", "e2e"]);
    t.wait_for("cloud.session.token");
    t.keys(&["Enter"]);
    t.wait_for("Signed in as Demo User");
}

#[test]
fn demo_keys_demand_a_captcha_and_end_the_session() {
    if !have_tmux() {
        return;
    }
    let t = Tmux::start("e2e-knobs", &script(""));
    let s = t.wait_for("Sign in to the demo");
    let port = s
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .expect("site port")
        .to_string();
    sign_in(&t, &port);

    // X: the demo site demands a CAPTCHA, and the app shows it at once.
    t.keys(&["X"]);
    let s = t.wait_for("Sign in on the demo login page");
    assert!(s.contains("The demo site demands a CAPTCHA"), "{s}");
    // X again: no more CAPTCHA; the same cookies sign in again.
    t.keys(&["X"]);
    t.wait_for("Signed in as Demo User");

    // x: the session ends on the site; the app finds it dead at once.
    t.keys(&["x"]);
    let s = t.wait_for("Get a fresh demo session");
    assert!(s.contains("EXPIRED"), "{s}");

    t.keys(&["q"]);
    t.wait_for("EXITED:0");
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            found.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn demo_reload_stays_in_the_demo_sandbox() {
    if !have_tmux() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    // A settings file in the working directory that the demo must not read,
    // neither at start nor on `r`.
    std::fs::write(
        work.path().join(".env"),
        "CONFLUENCE_BASE_URL=https://not-the-demo.example.com/wiki\n",
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_confluence-tui");
    let script = format!(
        "cd {} && env -u DISPLAY -u WAYLAND_DISPLAY -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u XDG_STATE_HOME -u CONFLUENCE_DATA_DIR -u CONFLUENCE_BASE_URL HOME={} {bin} --demo; echo EXITED:$?; sleep 30",
        work.path().display(),
        home.path().display()
    );
    let t = Tmux::start("e2e-reload", &script);
    let s = t.wait_for("127.0.0.1:");
    assert!(!s.contains("not-the-demo"), "{s}");
    t.keys(&["r"]);
    // The reload's own message is soon replaced by the verification's
    // answer; give both time to arrive, then look.
    std::thread::sleep(Duration::from_secs(3));
    let s = t.screen();
    assert!(s.contains("127.0.0.1:"), "still the demo site:\n{s}");
    assert!(!s.contains("not-the-demo"), "the real .env was read:\n{s}");
    t.keys(&["q"]);
    t.wait_for("EXITED:0");
    assert_eq!(
        files_under(home.path()),
        Vec::<String>::new(),
        "HOME touched"
    );
    assert_eq!(files_under(work.path()), [".env"], "working dir touched");
}

/// Starts the demo in a 100×30 session and reads the demo site's port.
fn demo(name: &str) -> (Tmux, String) {
    let t = Tmux::start(name, &script(""));
    let s = t.wait_for("Sign in to the demo");
    let port = s
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .expect("site port")
        .to_string();
    (t, port)
}

/// A left click at column `x`, row `y` (1-based, as the terminal counts),
/// as an SGR mouse press and release: what a terminal sends with mouse
/// reporting on.
fn click(t: &Tmux, x: u16, y: u16) {
    let seq = format!("\x1b[<0;{x};{y}M\x1b[<0;{x};{y}m");
    let hex: Vec<String> = seq.bytes().map(|b| format!("{b:02x}")).collect();
    let mut args = vec!["send-keys", "-t", "e2e", "-H"];
    args.extend(hex.iter().map(String::as_str));
    t.run(&args);
}

/// Waits until `done` holds for the screen (the app answers asynchronously).
fn wait_until(t: &Tmux, what: &str, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = t.screen();
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ctrl_c_quits_from_a_dialog_and_restores_the_terminal() {
    if !have_tmux() {
        return;
    }
    let (t, _) = demo("e2e-ctrl-c");
    // A text field has the keyboard: q would type, Ctrl+C still quits.
    t.keys(&["p"]);
    t.wait_for("Paste cookies");
    t.keys(&["q"]);
    t.keys(&["C-c"]);
    t.wait_for("EXITED:0");
    assert_restored(&t);
}

#[test]
fn shift_tab_goes_back_a_screen_and_a_click_on_a_tab_switches() {
    if !have_tmux() {
        return;
    }
    let (t, _) = demo("e2e-backtab");
    t.keys(&["BTab"]);
    t.wait_for("Pipeline · not serving");
    t.keys(&["BTab"]);
    t.wait_for("Audit log · chain");
    // " confluence-tui 1 Status 2 Spaces …": "2 Spaces" starts at column 26.
    click(&t, 27, 1);
    t.wait_for("No spaces yet");
    click(&t, 18, 1);
    t.wait_for("Sign in to the demo");
    t.keys(&["q"]);
    t.wait_for("EXITED:0");
}

#[test]
fn back_keys_leave_the_pages_list_and_a_click_selects_a_row() {
    if !have_tmux() {
        return;
    }
    let (t, port) = demo("e2e-back");
    sign_in(&t, &port);
    t.keys(&["2"]);
    let s = wait_until(&t, "the spaces listed", |s| s.contains("Spaces · 1,200"));
    // Header, border, column heads: the fourth space is on line 7 (1-based).
    let row = s.lines().nth(6).expect("a fourth row").to_string();
    let key = row
        .trim_start_matches(['│', ' '])
        .split_whitespace()
        .next()
        .expect("a key")
        .to_string();
    click(&t, 20, 7);
    wait_until(&t, &format!("{key} selected"), |s| {
        s.lines()
            .nth(6)
            .is_some_and(|l| l.contains('▶') && l.contains(&key))
    });
    for back in ["h", "Left", "BSpace", "q"] {
        t.keys(&["Enter"]);
        t.wait_for(&format!("{key} › pages"));
        t.wait_for("q back");
        t.keys(&[back]);
        let s = wait_until(&t, &format!("{back} back to the spaces"), |s| {
            s.contains("Spaces · 1,200") && !s.contains("› pages")
        });
        assert!(!s.contains("EXITED"), "{back} quit the app:\n{s}");
    }
    // Out of the nested list, q quits.
    t.keys(&["q"]);
    t.wait_for("EXITED:0");
}
