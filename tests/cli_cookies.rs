//! The headless cookie, token and audit commands on real files in a temp
//! data dir, through the real binary.

mod common;

use common::*;
use predicates::prelude::*;

#[test]
fn import_without_intake_file_creates_it_and_says_what_to_paste() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["cookies", "import", "--no-verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&sb.intake().display().to_string()), "{err}");
    assert!(err.contains("Cookie"), "says what to paste: {err}");
    assert_eq!(std::fs::metadata(sb.intake()).unwrap().len(), 0);
    #[cfg(unix)]
    {
        assert_eq!(mode(&sb.intake()), 0o600);
        assert_eq!(mode(&sb.data().join("cookies")), 0o700);
    }
}

#[test]
fn intake_import_encrypts_stores_and_empties_the_file() {
    let sb = Sandbox::new();
    sb.write_intake(&format!("Cookie: {}\n", cloud_header("tok-one")));
    sb.cmd()
        .args(["cookies", "import", "--no-verify"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Imported 3 cookies"))
        .stdout(predicate::str::contains("cloud.session.token"));
    assert_eq!(
        std::fs::metadata(sb.intake()).unwrap().len(),
        0,
        "intake emptied"
    );
    assert!(sb.vault().exists());
    #[cfg(unix)]
    {
        assert_eq!(mode(&sb.vault()), 0o600);
        assert_eq!(mode(&sb.audit()), 0o600);
        assert_eq!(mode(&sb.data().join("logs")), 0o700);
        assert_eq!(mode(&sb.intake()), 0o600);
    }
    let out = sb
        .cmd()
        .args(["cookies", "status", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cookies"]["count"], 3);
    assert_eq!(v["cookies"]["session_cookie"], true);
    assert_eq!(v["cookies"]["state"], "valid");
    assert_eq!(v["cookies"]["source"], "intake file");
    let left = v["cookies"]["expires_in_secs"].as_i64().unwrap();
    assert!(
        left > 13 * 86400 && left <= 14 * 86400,
        "default TTL 14 days: {left}"
    );
    let events: Vec<String> = audit_events(&sb);
    assert_eq!(
        events,
        ["cookies_loaded", "cookies_saved", "cookie_file_emptied"]
    );
}

fn audit_events(sb: &Sandbox) -> Vec<String> {
    std::fs::read_to_string(sb.audit())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn stdin_and_path_imports_leave_foreign_files_unless_consumed() {
    let sb = Sandbox::new();
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("from-stdin"))
        .assert()
        .code(0);
    let foreign = sb.dir.path().join("mine.txt");
    std::fs::write(&foreign, "JSESSIONID=abc; seraph.confluence=def").unwrap();
    sb.cmd()
        .args(["cookies", "import", "--no-verify"])
        .arg(&foreign)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("JSESSIONID"));
    assert!(
        std::fs::metadata(&foreign).unwrap().len() > 0,
        "not emptied without --consume"
    );
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "--consume"])
        .arg(&foreign)
        .assert()
        .code(0);
    assert_eq!(
        std::fs::metadata(&foreign).unwrap().len(),
        0,
        "emptied with --consume"
    );
}

#[test]
fn bad_paste_is_explained_and_nothing_stored_is_lost() {
    let sb = Sandbox::new();
    sb.write_intake(&cloud_header("keep-me"));
    sb.cmd()
        .args(["cookies", "import", "--no-verify"])
        .assert()
        .code(0);
    sb.write_intake("this is not a cookie at all");
    let out = sb
        .cmd()
        .args(["cookies", "import", "--no-verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("e.g."),
        "shows a valid example: {}",
        stderr(&out)
    );
    assert!(
        std::fs::metadata(sb.intake()).unwrap().len() > 0,
        "a bad paste is not emptied"
    );
    let out = sb
        .cmd()
        .args(["cookies", "status", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["cookies"]["names"][0], "cloud.session.token",
        "old cookies kept"
    );
    assert!(audit_events(&sb).contains(&"cookie_operation_failed".to_string()));
}

#[test]
fn paste_without_session_cookie_warns() {
    let sb = Sandbox::new();
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin("foo=bar; baz=qux")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("no session cookie"));
}

#[test]
fn status_without_cookies_is_auth_needed_and_clear_deletes() {
    let sb = Sandbox::new();
    sb.cmd()
        .args(["cookies", "status"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("none stored"));
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("x"))
        .assert()
        .code(0);
    sb.cmd()
        .args(["cookies", "clear"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Deleted 3"));
    sb.cmd().args(["cookies", "status"]).assert().code(3);
    assert!(audit_events(&sb).contains(&"cookies_cleared".to_string()));
}

#[test]
fn damaged_vault_is_exit_6_and_clear_keeps_it_aside() {
    let sb = Sandbox::new();
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("x"))
        .assert()
        .code(0);
    let mut bytes = std::fs::read(sb.vault()).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(sb.vault(), &bytes).unwrap();
    let out = sb.cmd().args(["cookies", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(
        stderr(&out).contains("cookies clear"),
        "names the recovery step: {}",
        stderr(&out)
    );
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("y"))
        .assert()
        .code(6);
    sb.cmd()
        .args(["cookies", "clear"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("kept aside"));
    let aside: Vec<_> = std::fs::read_dir(sb.data().join("cookies"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("damaged"))
        .collect();
    assert_eq!(aside.len(), 1, "damaged file kept, not deleted");
    assert_eq!(std::fs::read(aside[0].path()).unwrap(), bytes);
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("z"))
        .assert()
        .code(0);
    let events = audit_events(&sb);
    assert!(events.contains(&"vault_unreadable".to_string()));
    assert!(events.contains(&"vault_kept_aside".to_string()));
}

#[test]
fn wrong_passphrase_is_exit_6() {
    let sb = Sandbox::new();
    sb.cmd()
        .env("CONFLUENCE_VAULT_PASSPHRASE", "right one")
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("x"))
        .assert()
        .code(0);
    sb.cmd()
        .env("CONFLUENCE_VAULT_PASSPHRASE", "right one")
        .args(["cookies", "status"])
        .assert()
        .code(0);
    let out = sb
        .cmd()
        .env("CONFLUENCE_VAULT_PASSPHRASE", "wrong one")
        .args(["cookies", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(
        stderr(&out).to_lowercase().contains("passphrase"),
        "{}",
        stderr(&out)
    );
    let out = sb.cmd().args(["cookies", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(
        stderr(&out).contains("CONFLUENCE_VAULT_PASSPHRASE"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn token_set_and_clear_through_stdin() {
    let sb = Sandbox::new();
    sb.cmd()
        .args(["token", "set", "--no-verify"])
        .write_stdin("tok-abc-123\n")
        .assert()
        .code(0);
    sb.cmd()
        .args(["cookies", "status"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("API token: stored in the vault"));
    sb.cmd()
        .args(["token", "set", "--no-verify"])
        .write_stdin("has space inside\n")
        .assert()
        .code(2);
    sb.cmd()
        .args(["token", "clear"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Removed"));
    sb.cmd()
        .args(["cookies", "status"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("API token: none"));
    let events = audit_events(&sb);
    assert!(
        events.contains(&"token_stored".to_string())
            && events.contains(&"token_cleared".to_string())
    );
}

#[test]
fn audit_prints_json_and_verify_finds_the_first_broken_record() {
    let sb = Sandbox::new();
    for i in 0..3 {
        sb.cmd()
            .args(["cookies", "import", "--no-verify", "-"])
            .write_stdin(cloud_header(&format!("v{i}")))
            .assert()
            .code(0);
    }
    sb.cmd()
        .args(["audit", "--verify"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("intact: 6 records"));
    let out = sb.cmd().args(["audit", "--json"]).output().unwrap();
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[3]["seq"], 4);
    sb.cmd()
        .arg("audit")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("cookies_saved"));
    let text = std::fs::read_to_string(sb.audit()).unwrap();
    let tampered = text.replacen(
        "Loaded 3 cookies from standard input",
        "Loaded 4 cookies from standard input",
        2,
    );
    let tampered = tampered.replacen(
        "Loaded 4 cookies from standard input",
        "Loaded 3 cookies from standard input",
        1,
    );
    std::fs::write(sb.audit(), tampered).unwrap();
    sb.cmd()
        .args(["audit", "--verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("chain broken at record 3"));
}

#[test]
fn two_processes_importing_at_once_leave_a_valid_vault_and_intact_chain() {
    let sb = Sandbox::new();
    let bin = assert_cmd::cargo::cargo_bin("confluence-tui");
    let mut children = Vec::new();
    for i in 0..4 {
        let f = sb.dir.path().join(format!("c{i}.txt"));
        std::fs::write(&f, format!("JSESSIONID=p{i}; only{i}=1")).unwrap();
        let child = std::process::Command::new(&bin)
            .args(["cookies", "import", "--no-verify"])
            .arg(&f)
            .env_clear()
            .env("CONFLUENCE_DATA_DIR", sb.data())
            .env("CONFLUENCE_KDF_LOG_N", "10")
            .env("CONFLUENCE_BASE_URL", SANDBOX_SITE)
            .current_dir(sb.dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        children.push(child);
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let out = sb
        .cmd()
        .args(["cookies", "status", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = v["cookies"]["names"].as_array().unwrap();
    assert_eq!(names.len(), 2, "one whole set, not a mix: {names:?}");
    let n = names[1]
        .as_str()
        .unwrap()
        .trim_start_matches("only")
        .to_string();
    assert!(
        v["cookies"]["source"]
            .as_str()
            .unwrap()
            .contains(&format!("c{n}.txt"))
    );
    sb.cmd()
        .args(["audit", "--verify"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("intact: 8 records"));
}

#[test]
fn settings_errors_are_exit_2_and_name_the_setting() {
    let sb = Sandbox::new();
    sb.cmd()
        .env("CONFLUENCE_KDF_LOG_N", "5")
        .args(["cookies", "status"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("CONFLUENCE_KDF_LOG_N=\"5\""));
    sb.cmd()
        .args([
            "--base-url",
            "http://confluence.example.com",
            "cookies",
            "status",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("loopback"));
    sb.cmd()
        .args(["--env-file", "/nonexistent/.env", "audit"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/.env"));
}

#[test]
fn env_file_is_read_and_the_environment_wins() {
    let sb = Sandbox::new();
    let other = sb.dir.path().join("other-data");
    std::fs::write(
        sb.dir.path().join(".env"),
        format!(
            "CONFLUENCE_DATA_DIR={}\nCONFLUENCE_COOKIE_TTL_DAYS=2\n",
            other.display()
        ),
    )
    .unwrap();
    // The process environment (set by cmd()) beats .env for the data dir...
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("x"))
        .assert()
        .code(0);
    assert!(sb.vault().exists() && !other.exists());
    // ...while .env still supplies what the environment does not set.
    let out = sb
        .cmd()
        .args(["cookies", "status", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["cookies"]["expires_in_secs"].as_i64().unwrap() <= 2 * 86400);
}
