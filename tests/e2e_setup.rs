//! End to end: first-run setup in a real terminal (tmux) with the real
//! binary, started with no site in an empty working directory (fresh HOME,
//! data dir in a temp dir). `s`, the fake site's address, Enter, the token
//! path, the demo token: SIGNED IN; then the working directory's `.env`
//! holds the site (and the email) and the vault holds the token.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::site::Site;
use confluence_tui::demo::{DEMO_API_TOKEN, DEMO_EMAIL, DEMO_PAT};

struct Tmux {
    socket: String,
}

impl Tmux {
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
    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.keys(&["-l", text]);
    }
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
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
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

/// A clean environment: no settings but the data dir and a fast vault.
fn clean_env(home: &Path, data: &Path) -> Vec<(String, String)> {
    vec![
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ("HOME".into(), home.display().to_string()),
        ("TERM".into(), "xterm-256color".into()),
        ("CONFLUENCE_DATA_DIR".into(), data.display().to_string()),
        ("CONFLUENCE_KDF_LOG_N".into(), "10".into()),
    ]
}

/// Runs setup in the TUI against `site`; `sign_in` drives step 2.
fn set_up(name: &str, site: &Site, sign_in: impl FnOnce(&Tmux)) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let (home, work, data) = (
        dir.path().join("home"),
        dir.path().join("work"),
        dir.path().join("data"),
    );
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let env: Vec<String> = clean_env(&home, &data)
        .into_iter()
        .map(|(k, v)| format!("{k}='{v}'"))
        .collect();
    let bin = env!("CARGO_BIN_EXE_confluence-tui");
    let script = format!(
        "cd '{}' && env -i {} {bin}; echo EXITED:$?; sleep 30",
        work.display(),
        env.join(" ")
    );
    let t = Tmux::start(name, &script);
    t.wait_for("NOT CONFIGURED");
    t.wait_for("s setup");
    t.keys(&["s"]);
    t.wait_for("Set up a site");
    let url = site.server.base_url().to_string();
    t.type_text(&url);
    t.keys(&["Enter"]);
    t.wait_for("How will you sign in?");
    sign_in(&t);
    let screen = t.wait_for("SIGNED IN");
    t.keys(&["q"]);
    t.wait_for("EXITED:0");
    (dir, screen)
}

/// What the vault holds for the site configured in `work` (`cookies status`).
fn token_stored(dir: &Path) -> bool {
    let mut c = Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
    c.env_clear().current_dir(dir.join("work"));
    for (k, v) in clean_env(&dir.join("home"), &dir.join("data")) {
        c.env(k, v);
    }
    let out = c.args(["cookies", "status", "--json"]).output().unwrap();
    // No cookies stored: exit 3, with the JSON all the same.
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&out.stderr)));
    v["token"]["stored_in_vault"].as_bool() == Some(true)
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn setup_with_a_personal_access_token_on_server() {
    if !have_tmux() {
        return;
    }
    let site = Site::server_dc();
    let (dir, _) = set_up("setup-pat", &site, |t| {
        let s = t.wait_for("Confluence Server/Data Center");
        assert!(s.contains("› 3 Personal access token"), "{s}");
        t.keys(&["Enter"]);
        let s = t.wait_for("Sign in with a token");
        assert!(s.contains("token alone → Bearer"), "{s}");
        t.type_text(DEMO_PAT);
        t.keys(&["Enter"]);
    });
    let env_file = dir.path().join("work/.env");
    let text = std::fs::read_to_string(&env_file).unwrap();
    let base = site.server.base_url().to_string();
    assert!(
        text.contains(&format!(
            "CONFLUENCE_BASE_URL={}\n",
            base.trim_end_matches('/')
        )),
        "{text}"
    );
    assert!(text.contains("CONFLUENCE_DEPLOYMENT=server\n"), "{text}");
    assert!(!text.contains("CONFLUENCE_USERNAME"), "{text}");
    assert!(!text.contains(DEMO_PAT), "the token never goes to .env");
    #[cfg(unix)]
    assert_eq!(mode(&env_file), 0o600);
    assert!(token_stored(dir.path()), "the vault holds the token");
    let audit = std::fs::read_to_string(dir.path().join("data/logs/cookie_audit.log")).unwrap();
    assert!(audit.contains("\"settings_written\""), "{audit}");
    assert!(!audit.contains(DEMO_PAT));
}

#[test]
fn setup_with_cloud_email_and_api_token() {
    if !have_tmux() {
        return;
    }
    let site = Site::cloud();
    let (dir, _) = set_up("setup-cloud", &site, |t| {
        let s = t.wait_for("Confluence Cloud");
        assert!(s.contains("› 2 Cloud: email + API token"), "{s}");
        t.keys(&["Enter"]);
        t.wait_for("the email of your Atlassian account");
        t.type_text(DEMO_EMAIL);
        t.keys(&["Enter"]);
        let s = t.wait_for("Sign in with a token");
        assert!(s.contains("email + API token → Basic (Cloud)"), "{s}");
        assert!(s.contains(DEMO_EMAIL), "{s}");
        t.type_text(DEMO_API_TOKEN);
        t.keys(&["Enter"]);
    });
    let text = std::fs::read_to_string(dir.path().join("work/.env")).unwrap();
    assert!(
        text.contains("CONFLUENCE_BASE_URL=http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("/wiki\n"), "{text}");
    assert!(text.contains("CONFLUENCE_DEPLOYMENT=cloud\n"), "{text}");
    assert!(
        text.contains(&format!("CONFLUENCE_USERNAME={DEMO_EMAIL}\n")),
        "{text}"
    );
    assert!(
        !text.contains(DEMO_API_TOKEN),
        "the token never goes to .env"
    );
    assert!(token_stored(dir.path()), "the vault holds the token");
}
