//! Exit codes come from one mapping, and standard output that goes away
//! (`| head -1`) or fails (`> /dev/full`) never makes a command panic.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use confluence_tui::audit::{
    AuditDetails, AuditEntry, AuditError, AuditEvent, AuditLog, AuditOutcome,
};
use confluence_tui::cli::output::OutputError;
use confluence_tui::cli::{CliError, exit_for};
use confluence_tui::config::ConfigError;
use confluence_tui::cookies::CookieParseError;
use confluence_tui::cookies::intake::IntakeError;
use confluence_tui::credentials::CredentialError;
use confluence_tui::exit::{ErrorClass, Exit, exit_for_class};
use confluence_tui::vault::VaultError;

// ---------------------------------------------------------------------------
// One mapping from error class to exit code

/// Every class, with the code DESIGN.md's contract gives it (and the
/// shell's 126 and 127 for a program `exec` cannot start).
const CLASSES: [(ErrorClass, u8); 8] = [
    (ErrorClass::Internal, 1),
    (ErrorClass::Usage, 2),
    (ErrorClass::Auth, 3),
    (ErrorClass::Captcha, 4),
    (ErrorClass::Network, 5),
    (ErrorClass::Vault, 6),
    (ErrorClass::ProgramNotExecutable, 126),
    (ErrorClass::ProgramNotFound, 127),
];

#[test]
fn every_error_class_maps_to_its_contract_exit_code() {
    assert_eq!(Exit::Ok.as_u8(), 0);
    for (class, code) in CLASSES {
        assert_eq!(exit_for_class(class).as_u8(), code, "{class:?}");
    }
    // `exec` passes its program's code through unchanged.
    for code in [0, 7, 42, 130, 255] {
        assert_eq!(Exit::Program(code).as_u8(), code);
    }
}

fn io_error() -> std::io::Error {
    std::io::Error::other("disk on fire")
}

#[test]
fn concrete_errors_map_through_their_class() {
    let path = PathBuf::from("/tmp/x");
    let cases: Vec<(&str, CliError, u8)> = vec![
        ("config: no data dir", ConfigError::NoDataDir.into(), 2),
        (
            "config: missing base URL",
            ConfigError::MissingBaseUrl {
                env_file: ".env".into(),
            }
            .into(),
            2,
        ),
        (
            "config: invalid setting",
            ConfigError::Invalid {
                name: "CONFLUENCE_KDF_LOG_N",
                shown: "\"5\"".into(),
                why: "too small".into(),
                expected: "10-20",
            }
            .into(),
            2,
        ),
        (
            "vault: other machine",
            CredentialError::Vault(VaultError::OtherMachine).into(),
            6,
        ),
        (
            "vault: passphrase missing",
            CredentialError::Vault(VaultError::PassphraseMissing).into(),
            6,
        ),
        (
            "vault: wrong passphrase",
            CredentialError::Vault(VaultError::WrongPassphrase).into(),
            6,
        ),
        (
            "vault: corrupt",
            CredentialError::Vault(VaultError::Corrupt {
                reason: "truncated".into(),
            })
            .into(),
            6,
        ),
        (
            "vault: I/O",
            CredentialError::Vault(VaultError::Io {
                path: path.clone(),
                source: io_error(),
            })
            .into(),
            1,
        ),
        (
            "paste: empty",
            CredentialError::Parse(CookieParseError::Empty).into(),
            2,
        ),
        (
            "intake: not found",
            CredentialError::Intake(IntakeError::NotFound { path: path.clone() }).into(),
            2,
        ),
        (
            "intake: empty",
            CredentialError::IntakeEmpty {
                path: path.clone(),
                created: true,
            }
            .into(),
            2,
        ),
        ("token: bad", CredentialError::BadToken.into(), 2),
        (
            "audit write",
            CredentialError::Audit(AuditError::Io {
                path: path.clone(),
                source: io_error(),
            })
            .into(),
            1,
        ),
        (
            "interrupted",
            CredentialError::Interrupted("cancelled".into()).into(),
            1,
        ),
        ("usage", CliError::Usage("bad flag".into()), 2),
        ("auth needed", CliError::AuthNeeded("sign in".into()), 3),
        ("internal", CliError::Internal("bug".into()), 1),
        (
            "stdout write failed",
            OutputError::Write(io_error()).into(),
            1,
        ),
    ];
    for (what, err, code) in &cases {
        assert_eq!(exit_for(err).as_u8(), *code, "{what}: {err}");
        assert_eq!(exit_for(err), exit_for_class(err.class()), "{what}");
    }
    for (class, code) in CLASSES {
        let remote = CliError::Remote {
            message: "failed".into(),
            class,
            printed: false,
        };
        assert_eq!(remote.class(), class);
        assert_eq!(exit_for(&remote).as_u8(), code, "remote {class:?}");
    }
}

// ---------------------------------------------------------------------------
// Standard output closed early or failing

/// The real binary, as `Sandbox::cmd` sets it up, but as a std `Command` so
/// its stdout can be any file or pipe.
fn bin(sb: &Sandbox) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFLUENCE_DATA_DIR", sb.data())
        .env("CONFLUENCE_KDF_LOG_N", "10")
        .env("CONFLUENCE_BASE_URL", SANDBOX_SITE)
        .current_dir(sb.dir.path())
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// An audit log whose text form is far larger than a pipe's buffer (64 KiB).
fn big_audit_log(sb: &Sandbox) {
    let log = AuditLog::new(sb.audit());
    let filler = "x".repeat(600);
    for i in 0..400 {
        log.append(
            AuditEntry::new(
                AuditEvent::CookiesSaved,
                AuditOutcome::Success,
                format!("Saved {i} cookies to the vault. {filler}"),
            )
            .details(AuditDetails {
                count: Some(i),
                ..AuditDetails::default()
            }),
        )
        .unwrap();
    }
    assert!(std::fs::metadata(sb.audit()).unwrap().len() > 200 * 1024);
}

/// Stores cookies through the binary, so `cookies status` has something to show.
fn stored_cookies(sb: &Sandbox) {
    sb.cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(cloud_header("tok-output"))
        .assert()
        .code(0);
}

fn assert_quiet_success(what: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(out.status.code(), Some(0), "{what}: {err}");
    assert!(
        err.trim().is_empty(),
        "{what}: a closed stdout is not reported: {err}"
    );
}

/// Reads the first line the command prints, then goes away like `head -1`.
fn read_one_line_then_close(sb: &Sandbox, args: &[&str]) -> (String, std::process::Output) {
    let mut child = bin(sb).args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    drop(reader);
    (first, child.wait_with_output().unwrap())
}

/// Runs the command with a stdout pipe whose reading end is already closed,
/// so its very first write fails (small outputs never fill a pipe).
fn run_with_stdout_closed(
    sb: &Sandbox,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = bin(sb);
    cmd.args(args).stdout(Stdio::from(writer));
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn run_into_dev_full(sb: &Sandbox, args: &[&str]) -> std::process::Output {
    let full = File::options().write(true).open("/dev/full").unwrap();
    bin(sb)
        .args(args)
        .stdout(Stdio::from(full))
        .output()
        .unwrap()
}

fn assert_write_failure(what: &str, out: &std::process::Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(out.status.code(), Some(1), "{what}: {err}");
    assert!(
        err.contains("error: cannot write to standard output"),
        "{what}: says what failed: {err}"
    );
}

#[test]
fn audit_piped_into_head_ends_quietly() {
    let sb = Sandbox::new();
    big_audit_log(&sb);
    for args in [&["audit"][..], &["audit", "--json"]] {
        let (first, out) = read_one_line_then_close(&sb, args);
        assert!(first.contains("Saved 0 cookies"), "{args:?}: {first}");
        assert_quiet_success(&format!("{args:?}"), &out);
    }
}

#[test]
fn commands_with_stdout_closed_before_they_print_end_quietly() {
    let sb = Sandbox::new();
    stored_cookies(&sb);
    for args in [
        &["cookies", "status"][..],
        &["cookies", "status", "--json"],
        &["audit"],
        &["audit", "--json"],
        &["audit", "--verify"],
        &["cookies", "export"],
        &["cookies", "export", "--format", "netscape"],
        &["cookies", "export", "--format", "json"],
    ] {
        let out = run_with_stdout_closed(&sb, args, None);
        assert_quiet_success(&format!("{args:?}"), &out);
    }
    let out = run_with_stdout_closed(
        &sb,
        &["token", "set", "--no-verify"],
        Some("a-token-value\n"),
    );
    assert_quiet_success("token set", &out);
    // The command itself ran: only its confirmation was lost.
    sb.cmd()
        .args(["cookies", "status"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("API token: stored in the vault"));
}

#[test]
fn a_failed_write_to_stdout_is_exit_1_with_a_message() {
    let sb = Sandbox::new();
    stored_cookies(&sb);
    for args in [
        &["audit"][..],
        &["audit", "--json"],
        &["audit", "--verify"],
        &["cookies", "status"],
        &["cookies", "status", "--json"],
        &["cookies", "export"],
        &["cookies", "export", "--format", "json"],
    ] {
        let out = run_into_dev_full(&sb, args);
        assert_write_failure(&format!("{args:?}"), &out);
    }
    // Large output too (the failure comes from a write, not the final flush).
    big_audit_log(&sb);
    let out = run_into_dev_full(&sb, &["audit"]);
    assert_write_failure("large audit", &out);
}
