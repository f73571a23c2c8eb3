//! The files under the data directory are trusted only when they are ours:
//! logs, locks and the vault are never reached through a symbolic link; the
//! intake file is left alone when it is a link of either kind; anything owned
//! by someone else or writable by group or others is refused (like ssh's
//! StrictModes); a lock held by another process is waited for with a message,
//! then given up on; a bad intake file is audited once, not once per event.
#![cfg(unix)]

mod common;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::credentials::{Credentials, ImportInput};
use confluence_tui::vault::MachineIdSource;
use time::OffsetDateTime;

/// uid of `nobody`: a user other than the one running the tests.
const OTHER_UID: u32 = 65534;

/// A data dir whose `cookies/` and `logs/` exist, private, with a stored vault
/// and an audit log (one successful import).
fn sandbox_with_vault() -> Sandbox {
    let sb = Sandbox::new();
    sb.write_intake(&cloud_header("tok-one"));
    let out = sb
        .cmd()
        .args(["cookies", "import", "--no-verify"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "setup: {}", stderr(&out));
    sb
}

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn is_root() -> bool {
    // `id -u` keeps libc out of the tests' dependencies.
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn chown_to_other(path: &Path) -> bool {
    if !is_root() {
        eprintln!(
            "skipped: changing a file's owner to another user needs root; run the tests as root to cover it"
        );
        return false;
    }
    std::os::unix::fs::chown(path, Some(OTHER_UID), None).unwrap();
    true
}

fn run(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    sb.cmd()
        .args(args)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap()
}

fn assert_refused(out: &std::process::Output, code: i32, path: &Path, fix: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "names {}: {err}",
        path.display()
    );
    assert!(err.contains(fix), "says how to fix it ({fix}): {err}");
}

// --- symbolic links -------------------------------------------------------

#[test]
fn symlinked_audit_log_is_not_followed() {
    let sb = sandbox_with_vault();
    let victim = sb.dir.path().join("victim.txt");
    fs::write(&victim, "precious\n").unwrap();
    fs::remove_file(sb.audit()).unwrap();
    symlink(&victim, sb.audit()).unwrap();
    sb.write_intake(&cloud_header("tok-two"));
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &sb.audit(), "symbolic link");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn symlinked_lock_files_are_not_followed() {
    for lock in [
        "cookies/secure_cookies.enc.lock",
        "logs/cookie_audit.log.lock",
    ] {
        let sb = sandbox_with_vault();
        let lock = sb.data().join(lock);
        let _ = fs::remove_file(&lock);
        // A dangling link: following it would create the victim.
        let victim = sb.dir.path().join("created-through-the-link");
        symlink(&victim, &lock).unwrap();
        sb.write_intake(&cloud_header("tok-two"));
        let out = run(&sb, &["cookies", "import", "--no-verify"]);
        assert_refused(&out, 2, &lock, "symbolic link");
        assert!(!victim.exists(), "{} was followed", lock.display());
    }
}

#[test]
fn symlinked_vault_is_not_followed() {
    let elsewhere = sandbox_with_vault();
    let sb = sandbox_with_vault();
    fs::remove_file(sb.vault()).unwrap();
    symlink(elsewhere.vault(), sb.vault()).unwrap();
    let out = run(&sb, &["cookies", "status"]);
    assert_refused(&out, 2, &sb.vault(), "symbolic link");
    // Nor is a write: the link is not replaced or written through.
    let before = fs::read(elsewhere.vault()).unwrap();
    sb.write_intake(&cloud_header("tok-two"));
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &sb.vault(), "symbolic link");
    assert!(fs::symlink_metadata(sb.vault()).unwrap().is_symlink());
    assert_eq!(fs::read(elsewhere.vault()).unwrap(), before);
}

#[test]
fn symlinked_diagnostics_log_is_not_followed() {
    let sb = sandbox_with_vault();
    let log = sb.data().join("logs/confluence-tui.log");
    let _ = fs::remove_file(&log);
    let victim = sb.dir.path().join("created-through-the-link");
    symlink(&victim, &log).unwrap();
    // A failing command logs a warning ("command failed").
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!victim.exists(), "the diagnostics log's link was followed");
}

// --- the intake file -------------------------------------------------------

#[test]
fn consumed_file_with_other_hard_links_is_refused_before_reading() {
    let sb = Sandbox::new();
    let paste = sb.dir.path().join("paste.txt");
    let other = sb.dir.path().join("other-name.txt");
    let text = cloud_header("tok-one");
    fs::write(&paste, &text).unwrap();
    fs::hard_link(&paste, &other).unwrap();
    let arg = paste.display().to_string();
    let out = run(
        &sb,
        &["cookies", "import", &arg, "--consume", "--no-verify"],
    );
    assert_refused(&out, 2, &paste, "hard link");
    assert_eq!(fs::read_to_string(&other).unwrap(), text, "not emptied");
    assert!(!sb.vault().exists(), "nothing imported");
}

#[test]
fn hard_linked_intake_file_is_refused_and_left_alone() {
    let sb = Sandbox::new();
    sb.write_intake("");
    let other = sb.dir.path().join("notes.txt");
    let text = cloud_header("tok-one");
    fs::write(&other, &text).unwrap();
    set_mode(&other, 0o644);
    fs::remove_file(sb.intake()).unwrap();
    fs::hard_link(&other, sb.intake()).unwrap();
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &sb.intake(), "hard link");
    assert_eq!(fs::read_to_string(&other).unwrap(), text, "not emptied");
    assert_eq!(mode(&other), 0o644, "not chmodded");
    assert!(!sb.vault().exists(), "nothing imported");
}

#[test]
fn symlinked_intake_file_is_refused_and_its_target_left_alone() {
    let sb = Sandbox::new();
    sb.write_intake("");
    let other = sb.dir.path().join("notes.txt");
    let text = cloud_header("tok-one");
    fs::write(&other, &text).unwrap();
    set_mode(&other, 0o644);
    fs::remove_file(sb.intake()).unwrap();
    symlink(&other, sb.intake()).unwrap();
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &sb.intake(), "symbolic link");
    assert_eq!(fs::read_to_string(&other).unwrap(), text);
    assert_eq!(mode(&other), 0o644);
}

#[test]
fn intake_file_owned_by_another_user_is_refused_and_left_alone() {
    let sb = Sandbox::new();
    sb.write_intake(&cloud_header("tok-one"));
    set_mode(&sb.intake(), 0o644);
    if !chown_to_other(&sb.intake()) {
        return;
    }
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &sb.intake(), "chown");
    assert_eq!(
        fs::read_to_string(sb.intake()).unwrap(),
        cloud_header("tok-one")
    );
    assert_eq!(mode(&sb.intake()), 0o644);
    assert!(!sb.vault().exists());
}

#[test]
fn group_writable_intake_file_is_refused() {
    let sb = Sandbox::new();
    sb.write_intake(&cloud_header("tok-one"));
    set_mode(&sb.intake(), 0o620);
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &sb.intake(), "chmod go-w");
    assert!(!sb.vault().exists());
}

// --- owners and modes ------------------------------------------------------

#[test]
fn world_writable_data_dir_is_refused() {
    let sb = sandbox_with_vault();
    set_mode(&sb.data(), 0o777);
    let out = run(&sb, &["cookies", "status"]);
    assert_refused(&out, 2, &sb.data(), "chmod go-w");
}

#[test]
fn group_writable_cookies_dir_is_refused() {
    let sb = sandbox_with_vault();
    let dir = sb.data().join("cookies");
    set_mode(&dir, 0o770);
    let out = run(&sb, &["cookies", "status"]);
    assert_refused(&out, 2, &dir, "chmod go-w");
}

#[test]
fn other_writable_vault_is_refused() {
    let sb = sandbox_with_vault();
    set_mode(&sb.vault(), 0o602);
    let out = run(&sb, &["cookies", "status"]);
    assert_refused(&out, 2, &sb.vault(), "chmod go-w");
}

#[test]
fn group_writable_audit_log_is_refused() {
    let sb = sandbox_with_vault();
    set_mode(&sb.audit(), 0o620);
    sb.write_intake(&cloud_header("tok-two"));
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &sb.audit(), "chmod go-w");
    let out = run(&sb, &["audit"]);
    assert_refused(&out, 2, &sb.audit(), "chmod go-w");
}

#[test]
fn vault_owned_by_another_user_is_refused() {
    let sb = sandbox_with_vault();
    if !chown_to_other(&sb.vault()) {
        return;
    }
    let out = run(&sb, &["cookies", "status"]);
    assert_refused(&out, 2, &sb.vault(), "chown");
}

#[test]
fn logs_dir_owned_by_another_user_is_refused() {
    let sb = sandbox_with_vault();
    let logs = sb.data().join("logs");
    if !chown_to_other(&logs) {
        return;
    }
    sb.write_intake(&cloud_header("tok-two"));
    let out = run(&sb, &["cookies", "import", "--no-verify"]);
    assert_refused(&out, 2, &logs, "chown");
}

#[test]
fn data_dir_owned_by_another_user_is_refused() {
    let sb = sandbox_with_vault();
    if !chown_to_other(&sb.data()) {
        return;
    }
    let out = run(&sb, &["cookies", "status"]);
    assert_refused(&out, 2, &sb.data(), "chown");
}

// --- locks -----------------------------------------------------------------

/// Holds the exclusive lock on `path` on a descriptor of its own, like
/// another confluence-tui in the middle of a write.
fn hold_lock(path: &Path) -> fs::File {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    set_mode(path, 0o600);
    file.lock().unwrap();
    file
}

fn lock_wait_gives_up(lock: PathBuf, sb: &Sandbox) {
    let _held = hold_lock(&lock);
    sb.write_intake(&cloud_header("tok-two"));
    let started = Instant::now();
    let out = sb
        .cmd()
        .env("CONFLUENCE_LOCK_TIMEOUT_SECS", "1")
        .args(["cookies", "import", "--no-verify"])
        .timeout(Duration::from_secs(15))
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = stderr(&out);
    assert!(
        took < Duration::from_secs(10),
        "still waiting after {took:?}: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("waiting for the lock on {}", lock.display())),
        "says what it waits for: {err}"
    );
    assert!(
        err.contains("CONFLUENCE_LOCK_TIMEOUT_SECS"),
        "says how long it waited and how to change it: {err}"
    );
    assert_eq!(
        fs::read_to_string(sb.intake()).unwrap(),
        cloud_header("tok-two"),
        "nothing consumed"
    );
}

#[test]
fn vault_lock_held_by_another_process_is_waited_for_then_given_up() {
    let sb = sandbox_with_vault();
    lock_wait_gives_up(sb.data().join("cookies/secure_cookies.enc.lock"), &sb);
}

#[test]
fn audit_lock_held_by_another_process_is_waited_for_then_given_up() {
    let sb = sandbox_with_vault();
    lock_wait_gives_up(sb.data().join("logs/cookie_audit.log.lock"), &sb);
}

#[test]
fn lock_released_while_waiting_lets_the_command_finish() {
    let sb = sandbox_with_vault();
    let lock = sb.data().join("cookies/secure_cookies.enc.lock");
    let held = hold_lock(&lock);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(held);
    });
    sb.write_intake(&cloud_header("tok-two"));
    let out = sb
        .cmd()
        .env("CONFLUENCE_LOCK_TIMEOUT_SECS", "20")
        .args(["cookies", "import", "--no-verify"])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    releaser.join().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("waiting for the lock on"), "{err}");
}

#[test]
fn lock_timeout_setting_is_validated() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .env("CONFLUENCE_LOCK_TIMEOUT_SECS", "soon")
        .args(["cookies", "status"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("CONFLUENCE_LOCK_TIMEOUT_SECS"), "{err}");
}

// --- a bad intake file is audited once -------------------------------------

fn credentials(sb: &Sandbox) -> Credentials {
    let vars: HashMap<String, String> = [
        ("CONFLUENCE_KDF_LOG_N", "10"),
        ("CONFLUENCE_BASE_URL", "https://example.atlassian.net/wiki"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let settings = Settings::from_vars(
        &FlagOverrides {
            data_dir: Some(sb.data()),
            ..Default::default()
        },
        &vars,
    )
    .unwrap();
    Credentials::with_machine_id(&settings, MachineIdSource::Fixed("machine-a".into()))
}

fn failure_records(sb: &Sandbox) -> usize {
    fs::read_to_string(sb.audit())
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"cookie_operation_failed\""))
        .count()
}

#[test]
fn the_same_bad_intake_file_is_audited_once_per_distinct_failure() {
    let sb = Sandbox::new();
    let creds = credentials(&sb);
    let import = || creds.import(ImportInput::IntakeFile, OffsetDateTime::now_utc());
    let bad = "this is not a cookie\n";
    sb.write_intake(bad);
    assert!(import().is_err());
    assert_eq!(failure_records(&sb), 1);
    // Saved again with the same content, touched, looked at again: the
    // file watcher fires each time, and nothing new happened.
    sb.write_intake(bad);
    assert!(import().is_err());
    let f = fs::OpenOptions::new()
        .append(true)
        .open(sb.intake())
        .unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    drop(f);
    assert!(import().is_err());
    assert_eq!(failure_records(&sb), 1, "no record for the same failure");
    // Another bad content is another failure.
    sb.write_intake("still not a cookie\n");
    assert!(import().is_err());
    assert_eq!(failure_records(&sb), 2);
    // A refusal (hard link) is another failure, once.
    let other = sb.dir.path().join("linked.txt");
    fs::write(&other, bad).unwrap();
    fs::remove_file(sb.intake()).unwrap();
    fs::hard_link(&other, sb.intake()).unwrap();
    assert!(import().is_err());
    assert!(import().is_err());
    assert_eq!(failure_records(&sb), 3);
    // After a good import the first bad content counts again.
    fs::remove_file(sb.intake()).unwrap();
    sb.write_intake(&cloud_header("tok-one"));
    import().unwrap();
    sb.write_intake(bad);
    assert!(import().is_err());
    assert_eq!(failure_records(&sb), 4);
}
