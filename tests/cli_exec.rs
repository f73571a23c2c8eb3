//! `exec -- CMD` through the real binary: the child's environment in each
//! auth mode (exactly which `CONFLUENCE_*` variables it sees), its exit code
//! and signals passed through, forwarded signals, and the refusals before
//! the child starts (2, 3, 4, 6, 126, 127), which never start it; and with
//! `--proxy`, the proxy's URL and a per-run token instead of the credentials.

#![cfg(unix)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::site::Site;
use common::*;
use serde_json::Value;

const SESSION: &str = "SENTINELexecSessionK2m8p4";
const TOKEN: &str = "SENTINELexecTokenB5n1v9";
const STALE: &str = "SENTINELstaleParentValue";

/// Every `CONFLUENCE_*` variable the child saw, printed by the child itself.
fn child_env(mut c: assert_cmd::Command) -> (Option<i32>, BTreeMap<String, String>, String) {
    let out = c.args(["exec", "--", "env"]).output().unwrap();
    let vars = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("CONFLUENCE_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (out.status.code(), vars, stderr(&out))
}

/// The sandbox's own settings, which the child inherits like any variable.
fn sandbox_vars(sb: &Sandbox) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "CONFLUENCE_DATA_DIR".to_string(),
            sb.data().display().to_string(),
        ),
        ("CONFLUENCE_KDF_LOG_N".to_string(), "10".to_string()),
    ])
}

fn expect(sb: &Sandbox, handed: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut want = sandbox_vars(sb);
    for (k, v) in handed {
        want.insert(k.to_string(), v.to_string());
    }
    want
}

fn import(sb: &Sandbox, header: &str) {
    let out = sb
        .cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(header.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn audit_records(sb: &Sandbox) -> Vec<Value> {
    std::fs::read_to_string(sb.audit())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn cookie_mode_hands_over_the_cookie_header_and_nothing_else() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let mut c = sb.cmd();
    // Left in the parent's environment: none of it may reach the child.
    c.env("CONFLUENCE_USERNAME", "someone@example.com")
        .env("CONFLUENCE_API_TOKEN", STALE)
        .env("CONFLUENCE_COOKIE", STALE)
        .env("CONFLUENCE_AUTH", "auto");
    let (code, vars, err) = child_env(c);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        vars,
        expect(
            &sb,
            &[
                ("CONFLUENCE_BASE_URL", SANDBOX_SITE),
                ("CONFLUENCE_AUTH", "cookie"),
                ("CONFLUENCE_COOKIE", &cloud_header(SESSION)),
            ]
        )
    );
}

#[test]
fn basic_mode_hands_over_the_user_name_and_token_and_drops_the_rest() {
    let sb = Sandbox::new();
    let mut c = sb.cmd();
    c.env("CONFLUENCE_USERNAME", "analyst@example.com")
        .env("CONFLUENCE_API_TOKEN", TOKEN)
        .env("CONFLUENCE_COOKIE", STALE)
        .env("CONFLUENCE_VAULT_PASSPHRASE", STALE);
    let (code, vars, err) = child_env(c);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        vars,
        expect(
            &sb,
            &[
                ("CONFLUENCE_BASE_URL", SANDBOX_SITE),
                ("CONFLUENCE_AUTH", "basic"),
                ("CONFLUENCE_USERNAME", "analyst@example.com"),
                ("CONFLUENCE_API_TOKEN", TOKEN),
            ]
        )
    );
}

#[test]
fn bearer_mode_hands_over_the_token_alone() {
    // A token stored in the vault, CONFLUENCE_AUTH=bearer with a user name
    // set: the child gets the token and no user name.
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["token", "set", "--no-verify"])
        .write_stdin(TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut c = sb.cmd();
    c.env("CONFLUENCE_AUTH", "bearer")
        .env("CONFLUENCE_USERNAME", "analyst@example.com")
        .env("CONFLUENCE_COOKIE", STALE);
    let (code, vars, err) = child_env(c);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        vars,
        expect(
            &sb,
            &[
                ("CONFLUENCE_BASE_URL", SANDBOX_SITE),
                ("CONFLUENCE_AUTH", "bearer"),
                ("CONFLUENCE_API_TOKEN", TOKEN),
            ]
        )
    );
}

#[test]
fn the_childs_exit_code_and_output_are_its_own() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let out = sb
        .cmd()
        .args(["exec", "--", "sh", "-c", "echo out; echo err >&2; exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "out\n", "exec prints nothing of its own");
    assert_eq!(stderr(&out), "err\n", "exec prints nothing of its own");
    let out = sb.cmd().args(["exec", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // Killed by a signal: 128 + its number, as a shell reports it.
    let out = sb
        .cmd()
        .args(["exec", "--", "sh", "-c", "kill -KILL $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128 + 9), "{}", stderr(&out));
}

#[test]
fn exec_started_is_audited_with_the_program_and_never_its_arguments() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let out = sb
        .cmd()
        .args(["exec", "--", "sh", "-c", &format!(": {TOKEN}")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = audit_records(&sb).pop().unwrap();
    assert_eq!(r["event"], "exec_started");
    assert_eq!(r["outcome"], "success");
    assert_eq!(r["details"]["program"], "sh");
    assert_eq!(r["details"]["mode"], "cookie");
    assert_eq!(r["details"]["site"], SANDBOX_SITE);
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(!audit.contains(TOKEN), "an argument reached the audit log");
    assert!(!audit.contains(SESSION), "a value reached the audit log");
}

/// Starts `exec` with a child that traps `signal`, waits until it is ready,
/// sends `signal` to confluence-tui (not to the child), and returns the
/// child's output and our exit code.
fn forward(sb: &Sandbox, signal: &str) -> (String, Option<i32>) {
    forward_with(sb, signal, &[])
}

/// As `forward`, with more flags to `exec` (`--proxy`).
fn forward_with(sb: &Sandbox, signal: &str, flags: &[&str]) -> (String, Option<i32>) {
    let script = format!(
        "trap 'echo got-{signal}; exit 42' {signal}; echo ready; while :; do sleep 0.05; done"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_confluence-tui"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFLUENCE_DATA_DIR", sb.data())
        .env("CONFLUENCE_KDF_LOG_N", "10")
        .env("CONFLUENCE_BASE_URL", SANDBOX_SITE)
        .env("CONFLUENCE_KEEPALIVE_SECS", "0")
        .current_dir(sb.dir.path())
        .arg("exec")
        .args(flags)
        .args(["--", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("{signal} was not forwarded: the child still runs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    (rest.join("\n"), code)
}

#[test]
fn sigterm_sent_to_exec_reaches_the_child_and_its_code_comes_back() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let (printed, code) = forward(&sb, "TERM");
    assert_eq!(printed, "got-TERM");
    assert_eq!(code, Some(42));
}

#[test]
fn sigint_sighup_and_sigquit_are_forwarded_too() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    for signal in ["INT", "HUP", "QUIT"] {
        let (printed, code) = forward(&sb, signal);
        assert_eq!(printed, format!("got-{signal}"));
        assert_eq!(code, Some(42), "{signal}");
    }
}

/// Runs `exec` with a child that would create a marker file, and asserts it
/// was refused with `code` before the child started.
fn assert_not_started(mut c: assert_cmd::Command, sb: &Sandbox, code: i32, says: &str) -> String {
    let marker = sb.dir.path().join("child-ran");
    let out = c
        .args(["exec", "--", "sh", "-c", "touch \"$0\""])
        .arg(&marker)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(!marker.exists(), "the child ran: {err}");
    assert!(err.contains(says), "says {says:?}: {err}");
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert!(
        !audit_records(sb)
            .iter()
            .any(|r| r["event"] == "exec_started"),
        "no exec_started record for a child that never ran"
    );
    err
}

#[test]
fn nothing_stored_is_exit_3_before_the_child_starts() {
    let sb = Sandbox::new();
    assert_not_started(sb.cmd(), &sb, 3, "cookies import");
    let mut c = sb.cmd();
    c.env("CONFLUENCE_AUTH", "cookie")
        .env("CONFLUENCE_API_TOKEN", TOKEN);
    assert_not_started(c, &sb, 3, "no cookies are stored");
    let mut c = sb.cmd();
    c.env("CONFLUENCE_AUTH", "basic")
        .env("CONFLUENCE_API_TOKEN", TOKEN);
    assert_not_started(c, &sb, 3, "CONFLUENCE_USERNAME");
}

#[test]
fn expired_cookies_are_exit_3_before_the_child_starts() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.store_expired_cookies(&sb);
    let asked = site.count();
    assert_not_started(site.cmd(&sb), &sb, 3, "have expired");
    assert_eq!(site.count(), asked, "the site was not asked");
}

#[test]
fn no_site_is_exit_2_before_the_child_starts() {
    let sb = Sandbox::new();
    assert_not_started(sb.cmd_without_site(), &sb, 2, "CONFLUENCE_BASE_URL");
}

#[test]
fn an_unreadable_vault_is_exit_6_before_the_child_starts() {
    let sb = Sandbox::new();
    let mut c = sb.cmd();
    c.env("CONFLUENCE_VAULT_PASSPHRASE", "right")
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header(SESSION));
    assert_eq!(c.output().unwrap().status.code(), Some(0));
    let mut c = sb.cmd();
    c.env("CONFLUENCE_VAULT_PASSPHRASE", "wrong");
    assert_not_started(c, &sb, 6, "passphrase");
}

#[test]
fn the_captcha_state_is_exit_4_with_the_login_url_before_the_child_starts() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let login = site.store_a_captcha(&sb);
    let asked = site.count();
    let err = assert_not_started(site.cmd(&sb), &sb, 4, &login);
    assert!(err.contains("CAPTCHA"), "{err}");
    assert_eq!(site.count(), asked, "the site was not asked");
}

#[test]
fn live_cookies_start_the_child_without_asking_the_site() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.import_live(&sb);
    let asked = site.count();
    let out = site
        .cmd(&sb)
        .args(["exec", "--", "sh", "-c", "test -n \"$CONFLUENCE_COOKIE\""])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(site.count(), asked, "the site was not asked");
}

#[test]
fn a_missing_program_is_127_and_one_that_cannot_run_126() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let out = sb
        .cmd()
        .args(["exec", "--", "no-such-program-xyz", "--flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    let err = stderr(&out);
    assert!(
        err.contains("no-such-program-xyz: command not found"),
        "{err}"
    );
    let script = sb.dir.path().join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
    let out = sb.cmd().args(["exec", "--"]).arg(&script).output().unwrap();
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot be started"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("ran"));
}

#[test]
fn the_program_must_follow_a_double_dash() {
    let sb = Sandbox::new();
    for args in [&["exec"][..], &["exec", "sh"], &["exec", "--"]] {
        let out = sb.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = sb.cmd().args(["exec", "--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for word in [
        "CONFLUENCE_COOKIE",
        "CONFLUENCE_API_TOKEN",
        "CONFLUENCE_VAULT_PASSPHRASE",
        "127",
        "exec_started",
    ] {
        assert!(help.contains(word), "--help mentions {word}: {help}");
    }
}

/// Ctrl+C in a real terminal (tmux) goes to the whole foreground process
/// group: the child gets it from the terminal, and exec does not die of it
/// but waits for the child and returns the child's code. Skipped without
/// tmux.
#[test]
fn ctrl_c_in_a_terminal_reaches_the_child_and_exec_waits_for_it() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tmux");
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let socket = format!("ctui-exec-{}", std::process::id());
    let tmux = |args: &[&str]| {
        let out = Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let line = format!(
        "env -i PATH=\"$PATH\" CONFLUENCE_DATA_DIR='{}' CONFLUENCE_KDF_LOG_N=10 CONFLUENCE_BASE_URL={SANDBOX_SITE} {} exec -- sh -c 'trap \"echo got-int; exit 42\" INT; echo child-ready; while :; do sleep 0.05; done'; echo EXITED:$?; sleep 30",
        sb.data().display(),
        env!("CARGO_BIN_EXE_confluence-tui"),
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        "exec",
        "-x",
        "120",
        "-y",
        "20",
        &line,
    ]);
    struct Kill<'a>(&'a str);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["-L", self.0, "kill-server"])
                .output();
        }
    }
    let _kill = Kill(&socket);
    let wait_for = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = tmux(&["capture-pane", "-p", "-t", "exec"]);
            if screen.contains(needle) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {needle:?}:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    wait_for("child-ready");
    tmux(&["send-keys", "-t", "exec", "C-c"]);
    let screen = wait_for("EXITED:");
    // Exec outlived the signal and passed on the child's own answer to it.
    assert!(screen.contains("EXITED:42"), "{screen}");
    assert_eq!(screen.matches("got-int").count(), 1, "{screen}");
}

// ------------------------------------------------------------ --proxy

/// `exec --proxy -- sh -c SCRIPT` against a live fake site.
fn via_proxy(site: &Site, sb: &Sandbox, extra: &[&str], script: &str) -> std::process::Output {
    let mut c = site.cmd(sb);
    c.env("CONFLUENCE_KEEPALIVE_SECS", "0")
        .arg("exec")
        .arg("--proxy")
        .args(extra)
        .args(["--", "sh", "-c", script]);
    c.output().unwrap()
}

#[test]
fn with_the_proxy_the_child_gets_its_url_and_a_per_run_token_never_the_cookies() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.import_live(&sb);
    let cookie = site.server.session_cookie_header();
    let mut c = site.cmd(&sb);
    // Left in the parent's environment: none of it may reach the child.
    c.env("CONFLUENCE_COOKIE", STALE)
        .env("CONFLUENCE_KEEPALIVE_SECS", "0")
        .args(["exec", "--proxy", "--", "env"]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let vars: BTreeMap<String, String> = stdout(&out)
        .lines()
        .filter(|l| l.starts_with("CONFLUENCE_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(vars["CONFLUENCE_AUTH"], "basic");
    assert_eq!(vars["CONFLUENCE_USERNAME"], "confluence-tui");
    let base = &vars["CONFLUENCE_BASE_URL"];
    assert!(
        base.starts_with("http://127.0.0.1:") && base.ends_with("/wiki"),
        "{base}"
    );
    let token = &vars["CONFLUENCE_API_TOKEN"];
    assert!(token.len() >= 32, "a random token: {token}");
    assert!(!vars.contains_key("CONFLUENCE_COOKIE"), "{vars:?}");
    let all = format!("{}{}", stdout(&out), stderr(&out));
    let value = cookie.split_once('=').unwrap().1;
    assert!(!all.contains(value), "the cookie reached the child");

    // Another run, another token.
    let again = via_proxy(&site, &sb, &[], "printf %s \"$CONFLUENCE_API_TOKEN\"");
    assert_ne!(stdout(&again), *token);
    let started: Vec<Value> = audit_records(&sb)
        .into_iter()
        .filter(|r| r["event"] == "exec_started")
        .collect();
    assert_eq!(started.len(), 2);
    assert_eq!(started[0]["details"]["mode"], "proxy");
    assert!(
        !serde_json::to_string(&started)
            .unwrap()
            .contains(token.as_str())
    );
}

#[test]
fn with_the_proxy_the_child_reaches_the_site_and_its_exit_code_comes_back() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.import_live(&sb);
    // The child signs in to the proxy with what it was given, reads the
    // current user and a POST is refused (read-only), then exits 7.
    let script = r#"
        u="$CONFLUENCE_USERNAME:$CONFLUENCE_API_TOKEN"
        curl -sf -u "$u" "$CONFLUENCE_BASE_URL/rest/api/user/current" >/dev/null || exit 11
        code=$(curl -s -o /dev/null -w '%{http_code}' -u "$u" -X POST -H 'Content-Type: application/json' \
            -d '{}' "$CONFLUENCE_BASE_URL/rest/api/content")
        echo "post=$code"
        code=$(curl -s -o /dev/null -w '%{http_code}' "$CONFLUENCE_BASE_URL/rest/api/user/current")
        echo "anonymous=$code"
        exit 7
    "#;
    let out = via_proxy(&site, &sb, &[], script);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.contains("post=405"), "{printed}");
    assert!(printed.contains("anonymous=401"), "{printed}");
    // --allow-writes forwards the POST.
    let out = via_proxy(&site, &sb, &["--allow-writes"], script);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    assert!(!stdout(&out).contains("post=405"), "{}", stdout(&out));
}

#[test]
fn with_the_proxy_sigterm_reaches_the_child_and_its_code_comes_back() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let (printed, code) = forward_with(&sb, "TERM", &["--proxy"]);
    assert_eq!(printed, "got-TERM");
    assert_eq!(code, Some(42));
}

#[test]
fn with_the_proxy_nothing_stored_is_exit_3_before_the_child_starts() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    let marker = sb.dir.path().join("child-ran");
    let mut c = site.cmd(&sb);
    c.args(["exec", "--proxy", "--", "sh", "-c", "touch \"$0\""])
        .arg(&marker);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!marker.exists(), "the child ran");
    assert_eq!(site.count(), 0, "the site was not asked");
}
