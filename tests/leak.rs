//! Secrets never leak: cookie values, tokens and passphrases that are unique
//! sentinel strings must appear in no output, no log, no audit record, no
//! emptied intake file, no Debug output, and not in plain text in the vault.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::cookies::jar::{CookieSource, StoredCookies};
use confluence_tui::cookies::parse::parse_cookies;
use confluence_tui::credentials::{Credentials, ImportInput};
use confluence_tui::secret::SecretString;
use confluence_tui::vault::{
    GatewaySecret, MachineIdSource, SiteCredentials, Vault, VaultDocument, VaultOptions,
};

const SESSION: &str = "SENTINELsessionQ7w2e9r4t6y8u1i3o5p0";
const XSRF: &str = "SENTINELxsrfZ1x3c5v7b9n2m4";
const TOKEN: &str = "SENTINELtokenK8j6h4g2f0d9s7a5";
const BAD_TOKEN: &str = "SENTINELbadtoken with-space";
const PASS: &str = "SENTINELpassphraseL0k9j8";
/// A gateway's secret (service token secret, header value, stored key).
const GATEWAY_SECRET: &str = "SENTINELgatewayR4e3w2q1";
/// A client certificate's password.
const CERT_PASS: &str = "SENTINELcertpassM5n6b7";
/// A second site the vault holds credentials for.
const OTHER_SITE: &str = "https://other.example.com/confluence";
const ALL: &[&str] = &[
    SESSION,
    XSRF,
    TOKEN,
    "SENTINELbadtoken",
    PASS,
    GATEWAY_SECRET,
    CERT_PASS,
    "SENTINELgarbage",
];

fn assert_clean(what: &str, text: &str) {
    for s in ALL {
        assert!(!text.contains(s), "{what} leaks {s}:\n{text}");
    }
}

fn run(
    sb: &Sandbox,
    args: &[&str],
    stdin: Option<&str>,
    extra_env: &[(&str, &str)],
    transcript: &mut String,
) -> Option<i32> {
    run_cmd(sb.cmd(), args, stdin, extra_env, transcript)
}

/// `run` with a command set up by the caller (no site, another site).
fn run_cmd(
    mut c: assert_cmd::Command,
    args: &[&str],
    stdin: Option<&str>,
    extra_env: &[(&str, &str)],
    transcript: &mut String,
) -> Option<i32> {
    c.env("RUST_LOG", "trace")
        .args(args)
        .timeout(std::time::Duration::from_secs(30));
    for (k, v) in extra_env {
        c.env(k, v);
    }
    if let Some(s) = stdin {
        c.write_stdin(s.to_string());
    }
    let out = c.output().unwrap();
    // The arguments themselves may hold a sentinel (a URL with a password):
    // record only the command's own output.
    transcript.push_str(&format!(
        "$ {}\n{}{}\n",
        args.first().unwrap_or(&""),
        stdout(&out),
        stderr(&out)
    ));
    out.status.code()
}

fn scan_dir(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            scan_dir(&p);
        } else if p.extension().is_none_or(|e| e != "enc")
            || p.to_string_lossy().contains("damaged")
        {
            let bytes = std::fs::read(&p).unwrap();
            assert_clean(&p.display().to_string(), &String::from_utf8_lossy(&bytes));
        } else {
            // The vault itself: encrypted, so no sentinel in plain text.
            let bytes = std::fs::read(&p).unwrap();
            assert_clean("the vault file", &String::from_utf8_lossy(&bytes));
        }
    }
}

#[test]
fn no_command_leaks_a_secret_anywhere() {
    let sb = Sandbox::new();
    let header = format!("Cookie: cloud.session.token={SESSION}; atlassian.xsrf.token={XSRF}");
    let mut t = String::new();
    let pass = [("CONFLUENCE_VAULT_PASSPHRASE", PASS)];
    let with_token = [
        ("CONFLUENCE_VAULT_PASSPHRASE", PASS),
        ("CONFLUENCE_API_TOKEN", TOKEN),
    ];

    assert_eq!(
        run(
            &sb,
            &["cookies", "import", "--no-verify"],
            None,
            &pass,
            &mut t
        ),
        Some(2)
    );
    sb.write_intake(&header);
    assert_eq!(
        run(
            &sb,
            &["cookies", "import", "--no-verify"],
            None,
            &pass,
            &mut t
        ),
        Some(0)
    );
    assert_eq!(std::fs::read(sb.intake()).unwrap().len(), 0);
    assert_eq!(
        run(
            &sb,
            &["cookies", "import", "--no-verify", "-"],
            Some(&header),
            &pass,
            &mut t
        ),
        Some(0)
    );
    let f = sb.dir.path().join("paste.txt");
    std::fs::write(&f, &header).unwrap();
    assert_eq!(
        run(
            &sb,
            &[
                "cookies",
                "import",
                "--no-verify",
                "--consume",
                f.to_str().unwrap()
            ],
            None,
            &pass,
            &mut t
        ),
        Some(0)
    );
    // Failures whose input carries secrets.
    let garbage = format!("SENTINELgarbage\u{1b}[31m {SESSION}");
    assert_eq!(
        run(
            &sb,
            &["cookies", "import", "--no-verify", "-"],
            Some(&garbage),
            &pass,
            &mut t
        ),
        Some(2)
    );
    let bad_json = format!("[{{\"name\": \"cloud.session.token\", \"value\": \"{SESSION}\",]");
    assert_eq!(
        run(
            &sb,
            &["cookies", "import", "--no-verify", "-"],
            Some(&bad_json),
            &pass,
            &mut t
        ),
        Some(2)
    );
    let bad_name = format!("bad name={SESSION}; {XSRF}");
    run(
        &sb,
        &["cookies", "import", "--no-verify", "-"],
        Some(&bad_name),
        &pass,
        &mut t,
    );
    assert_eq!(
        run(
            &sb,
            &["token", "set", "--no-verify"],
            Some(TOKEN),
            &pass,
            &mut t
        ),
        Some(0)
    );
    assert_eq!(
        run(
            &sb,
            &["token", "set", "--no-verify"],
            Some(BAD_TOKEN),
            &pass,
            &mut t
        ),
        Some(2)
    );
    assert_eq!(
        run(&sb, &["cookies", "status"], None, &with_token, &mut t),
        Some(0)
    );
    assert_eq!(
        run(
            &sb,
            &["cookies", "status", "--json"],
            None,
            &with_token,
            &mut t
        ),
        Some(0)
    );
    // Wrong and missing passphrase.
    assert_eq!(
        run(
            &sb,
            &["cookies", "status"],
            None,
            &[("CONFLUENCE_VAULT_PASSPHRASE", "SENTINELpassphraseWRONG")],
            &mut t
        ),
        Some(6)
    );
    assert_eq!(run(&sb, &["cookies", "status"], None, &[], &mut t), Some(6));
    // Settings errors with secret values.
    run(
        &sb,
        &["cookies", "status"],
        None,
        &[("CONFLUENCE_API_TOKEN", BAD_TOKEN)],
        &mut t,
    );
    run(
        &sb,
        &[
            "--base-url",
            &format!("https://u:{PASS}@x.example.com/"),
            "cookies",
            "status",
        ],
        None,
        &pass,
        &mut t,
    );
    assert_eq!(run(&sb, &["audit"], None, &pass, &mut t), Some(0));
    assert_eq!(run(&sb, &["audit", "--json"], None, &pass, &mut t), Some(0));
    assert_eq!(
        run(&sb, &["audit", "--verify"], None, &pass, &mut t),
        Some(0)
    );
    assert_eq!(run(&sb, &["token", "clear"], None, &pass, &mut t), Some(0));
    // A damaged vault, then clear (kept aside) and a fresh import.
    let mut bytes = std::fs::read(sb.vault()).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 1;
    std::fs::write(sb.vault(), &bytes).unwrap();
    assert_eq!(
        run(&sb, &["cookies", "status"], None, &pass, &mut t),
        Some(6)
    );
    assert_eq!(
        run(&sb, &["cookies", "clear"], None, &pass, &mut t),
        Some(0)
    );
    assert_eq!(
        run(
            &sb,
            &["cookies", "import", "--no-verify", "-"],
            Some(&header),
            &pass,
            &mut t
        ),
        Some(0)
    );
    assert_eq!(
        run(&sb, &["cookies", "clear"], None, &pass, &mut t),
        Some(0)
    );
    run(&sb, &["--help"], None, &[], &mut t);

    assert_clean("command output", &t);
    assert!(
        t.contains("cloud.session.token"),
        "names are shown, so the transcript is real: {t}"
    );
    scan_dir(&sb.data());
    scan_dir(sb.dir.path());
    let log =
        std::fs::read_to_string(sb.data().join("logs/confluence-tui.log")).unwrap_or_default();
    assert!(!log.is_empty(), "RUST_LOG=trace wrote diagnostics");
}

#[test]
fn debug_output_of_every_credential_type_hides_values() {
    let header = format!("cloud.session.token={SESSION}; atlassian.xsrf.token={XSRF}");
    let parsed = parse_cookies(&header).unwrap();
    assert_clean("Debug of ParsedCookies", &format!("{parsed:?}"));
    let stored = StoredCookies::new(
        parsed.jar.clone(),
        CookieSource::Paste,
        time::OffsetDateTime::now_utc(),
        time::Duration::days(1),
    );
    assert_clean(
        "Debug of StoredCookies",
        &format!("{stored:?} {:?}", stored.jar.header_value()),
    );
    let mut doc = VaultDocument::default();
    doc.sites.insert(
        "https://x.atlassian.net/wiki".into(),
        SiteCredentials {
            cookies: Some(stored),
            api_token: Some(SecretString::from(TOKEN)),
            token_saved_at: None,
            username: None,
            session: None,
            gateway: vec![
                GatewaySecret::Cloudflare {
                    client_id: "id.access".into(),
                    client_secret: SecretString::from(GATEWAY_SECRET),
                    saved_at: time::OffsetDateTime::now_utc(),
                },
                GatewaySecret::Header {
                    name: "X-Gateway-Key".into(),
                    value: SecretString::from(GATEWAY_SECRET),
                    saved_at: time::OffsetDateTime::now_utc(),
                },
            ],
            client_identity: Some(SecretString::from(GATEWAY_SECRET)),
            client_cert_password: Some(SecretString::from(CERT_PASS)),
            proxy_clients: Vec::new(),
            proxy_port: None,
            proxy_tls: Some(SecretString::from(GATEWAY_SECRET)),
            proxy_tls_names: Vec::new(),
        },
    );
    assert_clean("Debug of VaultDocument", &format!("{doc:?}"));

    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<String, String> = [
        ("CONFLUENCE_API_TOKEN", TOKEN),
        ("CONFLUENCE_VAULT_PASSPHRASE", PASS),
        ("CONFLUENCE_KDF_LOG_N", "10"),
        ("CONFLUENCE_BASE_URL", "https://x.atlassian.net/wiki"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let flags = FlagOverrides {
        data_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let settings = Settings::from_vars(&flags, &vars).unwrap();
    assert_clean("Debug of Settings", &format!("{settings:?}"));
    let creds = Credentials::with_machine_id(&settings, MachineIdSource::Fixed("machine-a".into()));
    creds
        .import(
            ImportInput::Paste(header.clone().into()),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    let status = creds.status(time::OffsetDateTime::now_utc()).unwrap();
    assert_clean("Debug of CookieStatus", &format!("{status:?}"));
    let other = Credentials::with_machine_id(&settings, MachineIdSource::Fixed("machine-b".into()));
    let err = other.status(time::OffsetDateTime::now_utc()).unwrap_err();
    assert_clean("Debug and Display of an error", &format!("{err:?} {err}"));
    let err = creds
        .import(
            ImportInput::Paste(format!("\u{7}{SESSION}").into()),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap_err();
    assert_clean(
        "Debug and Display of a parse error",
        &format!("{err:?} {err}"),
    );
}

/// The cookie header every new case imports.
fn sentinel_header() -> String {
    format!("Cookie: cloud.session.token={SESSION}; atlassian.xsrf.token={XSRF}")
}

/// The command at another site (`OTHER_SITE`).
fn at_other_site(sb: &Sandbox) -> assert_cmd::Command {
    let mut c = sb.cmd();
    c.env("CONFLUENCE_BASE_URL", OTHER_SITE);
    c
}

/// Asserts the transcript and every file under the sandbox (data dir and
/// working dir) are free of sentinels, and that `expect` (text proving the
/// path under test really ran) was printed.
fn assert_nothing_leaked(sb: &Sandbox, t: &str, expect: &[&str]) {
    assert_clean("command output", t);
    for e in expect {
        assert!(
            t.contains(e),
            "the transcript lacks {e:?}, so that path did not run:\n{t}"
        );
    }
    if sb.data().exists() {
        scan_dir(&sb.data());
    }
    scan_dir(sb.dir.path());
}

#[test]
fn sites_per_site_clears_and_a_wrong_base_url_leak_nothing() {
    let sb = Sandbox::new();
    let mut t = String::new();
    let pass = [("CONFLUENCE_VAULT_PASSPHRASE", PASS)];
    let header = sentinel_header();
    for c in [sb.cmd(), at_other_site(&sb)] {
        let code = run_cmd(
            c,
            &["cookies", "import", "--no-verify", "-"],
            Some(&header),
            &pass,
            &mut t,
        );
        assert_eq!(code, Some(0), "{t}");
    }
    for c in [sb.cmd(), at_other_site(&sb)] {
        assert_eq!(
            run_cmd(
                c,
                &["token", "set", "--no-verify"],
                Some(TOKEN),
                &pass,
                &mut t
            ),
            Some(0),
            "{t}"
        );
    }
    for args in [&["sites"][..], &["sites", "--json"]] {
        assert_eq!(run(&sb, args, None, &pass, &mut t), Some(0), "{t}");
        assert_eq!(
            run_cmd(sb.cmd_without_site(), args, None, &pass, &mut t),
            Some(0),
            "{t}"
        );
    }
    // The vault was just written: --verify compares the log with its head.
    assert_eq!(
        run(&sb, &["audit", "--verify"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );

    // A mistyped --base-url: exit 3, naming the sites that have credentials.
    for args in [
        &["--base-url", "https://typo.example/wiki", "check"][..],
        &["--base-url", "https://typo.example/wiki", "check", "--json"],
        &["--base-url", "https://typo.example/wiki", "spaces"],
        &[
            "--base-url",
            "https://typo.example/wiki",
            "cookies",
            "status",
        ],
        &[
            "--base-url",
            "https://typo.example/wiki",
            "cookies",
            "status",
            "--json",
        ],
    ] {
        assert_eq!(
            run(&sb, args, None, &pass, &mut t),
            Some(3),
            "{args:?}: {t}"
        );
    }

    assert_eq!(
        run(
            &sb,
            &["cookies", "clear", "--all-sites"],
            None,
            &pass,
            &mut t
        ),
        Some(0),
        "{t}"
    );
    assert_eq!(
        run(&sb, &["audit", "--verify"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );
    assert_eq!(
        run(&sb, &["token", "clear", "--all-sites"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );
    assert_eq!(
        run(&sb, &["sites", "--json"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );
    assert_eq!(
        run(&sb, &["audit", "--verify"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );
    assert_eq!(run(&sb, &["audit"], None, &pass, &mut t), Some(0), "{t}");
    assert_eq!(
        run(&sb, &["audit", "--json"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );

    assert_nothing_leaked(
        &sb,
        &t,
        &[
            OTHER_SITE,
            "no credentials for https://typo.example/wiki",
            "the vault holds credentials for",
            "cookies_cleared",
            "token_cleared",
        ],
    );
}

#[test]
fn a_version_1_vault_bound_to_a_site_leaks_nothing() {
    let sb = Sandbox::new();
    let mut t = String::new();
    let pass = [("CONFLUENCE_VAULT_PASSPHRASE", PASS)];
    let parsed = parse_cookies(&sentinel_header()).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let v1 = SiteCredentials {
        cookies: Some(StoredCookies::new(
            parsed.jar.clone(),
            CookieSource::Paste,
            now,
            time::Duration::days(14),
        )),
        api_token: Some(SecretString::from(TOKEN)),
        token_saved_at: Some(now),
        username: None,
        session: None,
        ..Default::default()
    };
    let vault = Vault::new(
        sb.vault(),
        VaultOptions {
            machine_id: MachineIdSource::System,
            passphrase: Some(SecretString::from(PASS)),
            kdf_log_n: 10,
        },
    );
    vault.save_v1(&v1).unwrap();
    assert_eq!(vault.inspect().unwrap().unwrap().version, 1);
    let unbound = vault.load().unwrap().unwrap();
    assert!(unbound.unbound.is_some());
    assert_clean("Debug of a version 1 document", &format!("{unbound:?}"));

    // No site configured: listed as not bound, not rewritten.
    for args in [&["sites"][..], &["sites", "--json"], &["cookies", "status"]] {
        run_cmd(sb.cmd_without_site(), args, None, &pass, &mut t);
    }
    assert_eq!(vault.inspect().unwrap().unwrap().version, 1, "{t}");
    // First open with a site: bound, rewritten as version 2, audited.
    assert_eq!(
        run(&sb, &["cookies", "status", "--json"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );
    assert_eq!(vault.inspect().unwrap().unwrap().version, 2, "{t}");
    for args in [
        &["sites"][..],
        &["sites", "--json"],
        &["cookies", "status"],
        &["audit"],
        &["audit", "--json"],
        &["audit", "--verify"],
    ] {
        assert_eq!(
            run(&sb, args, None, &pass, &mut t),
            Some(0),
            "{args:?}: {t}"
        );
    }
    // Another site finds nothing of the bound one's, and is told whose it is.
    assert_eq!(
        run_cmd(at_other_site(&sb), &["check"], None, &pass, &mut t),
        Some(3),
        "{t}"
    );
    let bound = vault.load().unwrap().unwrap();
    assert_clean("Debug of the bound document", &format!("{bound:?}"));

    assert_nothing_leaked(
        &sb,
        &t,
        &[
            "a vault from before sites",
            "vault_bound_to_site",
            "cloud.session.token",
            &format!("the vault holds credentials for {SANDBOX_SITE}"),
        ],
    );
}

/// Holds the exclusive lock on `path`, like another confluence-tui in the
/// middle of a write (see `tests/file_safety.rs`).
#[cfg(unix)]
fn hold_lock(path: &Path) -> std::fs::File {
    use std::os::unix::fs::PermissionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    file.lock().unwrap();
    file
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
#[test]
fn lock_timeouts_and_refused_files_leak_nothing() {
    use std::os::unix::fs::symlink;

    let sb = Sandbox::new();
    let mut t = String::new();
    let pass = [("CONFLUENCE_VAULT_PASSPHRASE", PASS)];
    let waiting = [
        ("CONFLUENCE_VAULT_PASSPHRASE", PASS),
        ("CONFLUENCE_LOCK_TIMEOUT_SECS", "1"),
    ];
    let header = sentinel_header();
    let import = ["cookies", "import", "--no-verify", "-"];
    assert_eq!(
        run(&sb, &import, Some(&header), &pass, &mut t),
        Some(0),
        "{t}"
    );

    // Locks held by another process: given up on after the timeout (exit 1).
    for lock in [
        "cookies/secure_cookies.enc.lock",
        "logs/cookie_audit.log.lock",
    ] {
        let _held = hold_lock(&sb.data().join(lock));
        assert_eq!(
            run(&sb, &import, Some(&header), &waiting, &mut t),
            Some(1),
            "{t}"
        );
        assert_eq!(
            run(
                &sb,
                &["token", "set", "--no-verify"],
                Some(TOKEN),
                &waiting,
                &mut t
            ),
            Some(1),
            "{t}"
        );
    }

    // Files refused before they are read (exit 2). The user's own files
    // that hold the paste are removed before the scan: they are the input.
    let intake = sb.intake();
    let elsewhere = sb.dir.path().join("notes.txt");
    std::fs::write(&elsewhere, &header).unwrap();
    let _ = std::fs::remove_file(&intake);
    std::fs::hard_link(&elsewhere, &intake).unwrap();
    let from_intake = ["cookies", "import", "--no-verify"];
    assert_eq!(run(&sb, &from_intake, None, &pass, &mut t), Some(2), "{t}");
    std::fs::remove_file(&intake).unwrap();
    symlink(&elsewhere, &intake).unwrap();
    assert_eq!(run(&sb, &from_intake, None, &pass, &mut t), Some(2), "{t}");
    std::fs::remove_file(&intake).unwrap();
    std::fs::write(&intake, &header).unwrap();
    set_mode(&intake, 0o620);
    assert_eq!(run(&sb, &from_intake, None, &pass, &mut t), Some(2), "{t}");
    std::fs::remove_file(&intake).unwrap();
    let paste = sb.dir.path().join("paste.txt");
    std::fs::write(&paste, &header).unwrap();
    let other_name = sb.dir.path().join("paste-link.txt");
    std::fs::hard_link(&paste, &other_name).unwrap();
    let consume = [
        "cookies",
        "import",
        "--no-verify",
        "--consume",
        paste.to_str().unwrap(),
    ];
    assert_eq!(run(&sb, &consume, None, &pass, &mut t), Some(2), "{t}");
    for f in [&elsewhere, &paste, &other_name] {
        std::fs::remove_file(f).unwrap();
    }

    // The vault, the audit log and the data dir refused as writable by
    // others or a link.
    set_mode(&sb.vault(), 0o606);
    assert_eq!(
        run(&sb, &["cookies", "status"], None, &pass, &mut t),
        Some(2),
        "{t}"
    );
    assert_eq!(
        run(&sb, &import, Some(&header), &pass, &mut t),
        Some(2),
        "{t}"
    );
    set_mode(&sb.vault(), 0o600);
    let audit_kept = sb.dir.path().join("audit-kept.log");
    std::fs::rename(sb.audit(), &audit_kept).unwrap();
    symlink(&audit_kept, sb.audit()).unwrap();
    assert_eq!(
        run(&sb, &import, Some(&header), &pass, &mut t),
        Some(2),
        "{t}"
    );
    assert_eq!(
        run(
            &sb,
            &["token", "set", "--no-verify"],
            Some(TOKEN),
            &pass,
            &mut t
        ),
        Some(2),
        "{t}"
    );
    std::fs::remove_file(sb.audit()).unwrap();
    std::fs::rename(&audit_kept, sb.audit()).unwrap();
    set_mode(&sb.data(), 0o777);
    assert_eq!(
        run(&sb, &import, Some(&header), &pass, &mut t),
        Some(2),
        "{t}"
    );
    set_mode(&sb.data(), 0o700);
    assert_eq!(
        run(&sb, &["audit", "--verify"], None, &pass, &mut t),
        Some(0),
        "{t}"
    );

    assert_nothing_leaked(
        &sb,
        &t,
        &[
            "waiting for the lock on",
            "hard link",
            "symbolic link",
            "chmod go-w",
        ],
    );
}

#[test]
fn env_file_errors_leak_nothing() {
    let sb = Sandbox::new();
    let mut t = String::new();
    // Outside the sandbox: these files hold the secrets on purpose.
    let files = tempfile::tempdir().unwrap();
    let unparsable = [
        (
            format!("A=1\n\nCONFLUENCE_API_TOKEN={TOKEN} x\n"),
            "line 3 (CONFLUENCE_API_TOKEN)",
        ),
        (
            format!("export  CONFLUENCE_VAULT_PASSPHRASE = {PASS} x"),
            "line 1 (CONFLUENCE_VAULT_PASSPHRASE)",
        ),
        (
            format!("A='a\nb'\nCONFLUENCE_API_TOKEN=\"{TOKEN}\\q\"\n"),
            "line 3 (CONFLUENCE_API_TOKEN)",
        ),
        (
            format!("A=1\nCONFLUENCE_API_TOKEN=\"{TOKEN}\nB=2\nC=3\n"),
            "line 2 (CONFLUENCE_API_TOKEN)",
        ),
        (format!("A=1\n {SESSION} x\n"), "line 2"),
        (format!("9TOKEN={TOKEN}\n"), "line 1"),
        (format!("{}={PASS} x\n", "N".repeat(65)), "line 1"),
        (format!("{SESSION}\n"), "line 1"),
    ];
    for (i, (text, place)) in unparsable.iter().enumerate() {
        // As --env-file, then as the working directory's .env.
        let path = files.path().join(format!("bad-{i}.env"));
        std::fs::write(&path, text).unwrap();
        let flag = ["--env-file", path.to_str().unwrap(), "cookies", "status"];
        assert_eq!(run(&sb, &flag, None, &[], &mut t), Some(2), "{t}");
        assert!(t.contains(place), "names {place}: {t}");
        let dot_env = sb.dir.path().join(".env");
        std::fs::write(&dot_env, text).unwrap();
        assert_eq!(run(&sb, &["check"], None, &[], &mut t), Some(2), "{t}");
        std::fs::remove_file(&dot_env).unwrap();
    }
    // Not UTF-8, a URL with a password, a token that cannot be one.
    let mut not_utf8 = format!("CONFLUENCE_API_TOKEN={TOKEN}\n").into_bytes();
    not_utf8.extend_from_slice(&[0xff, 0xfe, b'\n']);
    let odd: [(&str, Vec<u8>); 3] = [
        ("not-utf8.env", not_utf8),
        (
            "url.env",
            format!("CONFLUENCE_BASE_URL=https://me:{PASS}@x.example.com/wiki?q=1\n").into_bytes(),
        ),
        (
            "token.env",
            format!("CONFLUENCE_API_TOKEN='{BAD_TOKEN}'\nCONFLUENCE_VAULT_PASSPHRASE={PASS}\n")
                .into_bytes(),
        ),
    ];
    for (name, bytes) in odd {
        let path = files.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let mut c = sb.cmd_without_site();
        c.args(["--env-file", path.to_str().unwrap()]);
        assert_eq!(
            run_cmd(c, &["cookies", "status"], None, &[], &mut t),
            Some(2),
            "{name}: {t}"
        );
    }

    assert_nothing_leaked(
        &sb,
        &t,
        &[
            "cannot be parsed",
            "the line is not shown",
            "CONFLUENCE_BASE_URL",
        ],
    );
}

/// `cookies export` and `exec` by design hand the values to someone (the
/// export's stdout, the child's environment). Everything else they write
/// (export's stderr, exec's own output, the audit log, the diagnostics, a
/// refusal's message) stays clean, in success and in failure.
#[test]
fn export_and_exec_leak_nothing_beyond_what_they_hand_over() {
    let sb = Sandbox::new();
    let mut t = String::new();
    let pass = [("CONFLUENCE_VAULT_PASSPHRASE", PASS)];
    // Refused before anything is stored.
    for args in [
        &["cookies", "export"][..],
        &["exec", "--", "sh", "-c", "exit 0"],
    ] {
        assert_eq!(run(&sb, args, None, &pass, &mut t), Some(3), "{t}");
    }
    assert_eq!(
        run(
            &sb,
            &["cookies", "import", "--no-verify", "-"],
            Some(&sentinel_header()),
            &pass,
            &mut t
        ),
        Some(0)
    );
    // The export's stdout is the secret itself: only its stderr is recorded.
    for format in ["header", "netscape", "json"] {
        let out = sb
            .cmd()
            .env("RUST_LOG", "trace")
            .env("CONFLUENCE_VAULT_PASSPHRASE", PASS)
            .args(["cookies", "export", "--format", format])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains(SESSION), "{format} exports the value");
        t.push_str(&format!(
            "$ cookies export --format {format}\n{}\n",
            stderr(&out)
        ));
    }
    // The child gets the values; exec itself prints none, and a token left
    // in the parent's environment is not handed over in cookie mode.
    let with_token = [
        ("CONFLUENCE_VAULT_PASSPHRASE", PASS),
        ("CONFLUENCE_API_TOKEN", TOKEN),
    ];
    let check_env = format!(
        "test \"$CONFLUENCE_COOKIE\" = 'cloud.session.token={SESSION}; atlassian.xsrf.token={XSRF}' \
         && test -z \"$CONFLUENCE_API_TOKEN\" && test -z \"$CONFLUENCE_VAULT_PASSPHRASE\" \
         && echo handed-over"
    );
    assert_eq!(
        run(
            &sb,
            &["exec", "--", "sh", "-c", &check_env],
            None,
            &with_token,
            &mut t
        ),
        Some(0),
        "{t}"
    );
    for (args, code) in [
        (&["exec", "--", "no-such-program-xyz"][..], Some(127)),
        (&["exec", "--", "sh", "-c", "exit 9"], Some(9)),
    ] {
        assert_eq!(run(&sb, args, None, &with_token, &mut t), code, "{t}");
    }
    // A wrong passphrase: refused, nothing started.
    assert_eq!(
        run(
            &sb,
            &["exec", "--", "sh", "-c", "exit 0"],
            None,
            &[("CONFLUENCE_VAULT_PASSPHRASE", "SENTINELpassphraseWRONG")],
            &mut t
        ),
        Some(6),
        "{t}"
    );
    assert_eq!(
        run(
            &sb,
            &["cookies", "export"],
            None,
            &[("CONFLUENCE_VAULT_PASSPHRASE", "SENTINELpassphraseWRONG")],
            &mut t
        ),
        Some(6),
        "{t}"
    );
    assert_eq!(run(&sb, &["audit"], None, &pass, &mut t), Some(0));
    assert_nothing_leaked(
        &sb,
        &t,
        &[
            "handed-over",
            "no-such-program-xyz: command not found",
            "cookies_exported",
            "exec_started",
            "no cookies are stored",
        ],
    );
}

/// The Pipeline screen (`--serve`, in a real terminal): the proxy token is
/// masked until Ctrl+R, never in the message line after `y`, the request
/// log, the diagnostics log (at trace level) or the audit log; the stored
/// cookies' values never reach the screen, and neither does a secret in a
/// request's query string or a wrong token a client presented.
#[cfg(unix)]
#[test]
fn the_pipeline_screen_leaks_neither_the_cookies_nor_the_proxy_token() {
    use common::site::Site;
    use common::tmux::{Tmux, env_value, have_tmux, serve_script, through_proxy};
    use std::time::Duration;

    if !have_tmux() {
        return;
    }
    let site = Site::cloud();
    let sb = Sandbox::new();
    let live = site.server.session_cookie_header();
    let live_value = live
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_string())
        .unwrap();
    // The live session plus a sentinel cookie the proxy sends on to the site.
    let header = format!("{live}; ctui.sentinel={SESSION}");
    let mut t = String::new();
    assert_eq!(
        run_cmd(
            site.cmd(&sb),
            &["cookies", "import", "--no-verify", "-"],
            Some(&header),
            &[("CONFLUENCE_VAULT_PASSPHRASE", PASS)],
            &mut t
        ),
        Some(0),
        "{t}"
    );
    let env = format!("RUST_LOG=trace CONFLUENCE_VAULT_PASSPHRASE={PASS}");
    let tm = Tmux::start("leak-pipeline", &serve_script(&sb, &site, &env), 100, 30);
    let mut screens = Vec::new();
    tm.wait_for("SIGNED IN", Duration::from_secs(30));
    tm.keys(&["4"]);
    screens.push(tm.wait_for("CONFLUENCE_API_TOKEN=••••••••", Duration::from_secs(30)));
    let base = env_value(&screens[0], "CONFLUENCE_BASE_URL").unwrap();
    tm.keys(&["C-r"]);
    let revealed = tm.wait_until("a revealed token", Duration::from_secs(10), |s| {
        env_value(s, "CONFLUENCE_API_TOKEN").is_some_and(|v| !v.contains('•'))
    });
    let token = env_value(&revealed, "CONFLUENCE_API_TOKEN").unwrap();
    tm.keys(&["C-r"]);
    tm.wait_for("CONFLUENCE_API_TOKEN=••••••••", Duration::from_secs(10));

    let space = format!("{base}/rest/api/space");
    assert_eq!(through_proxy("GET", &space, &token), 200);
    assert_eq!(
        through_proxy("GET", &format!("{space}?token=SENTINELquery"), &token),
        200
    );
    assert_eq!(through_proxy("GET", &space, "SENTINELwrongtoken"), 401);
    assert_eq!(through_proxy("POST", &space, &token), 405);
    screens.push(tm.wait_for("4 requests · 2 refused", Duration::from_secs(10)));
    // No clipboard here: the message says so without the token.
    tm.keys(&["y"]);
    screens.push(tm.wait_for("No clipboard", Duration::from_secs(10)));
    site.faults(|f| f.session_expire_after_requests = Some(0));
    assert_eq!(through_proxy("GET", &space, &token), 401);
    screens.push(tm.wait_for("Get fresh cookies", Duration::from_secs(10)));
    tm.keys(&["q"]);
    tm.wait_for("EXITED:0", Duration::from_secs(15));

    for screen in &screens {
        assert_clean("the Pipeline screen", screen);
        for secret in [&token, &live_value, "SENTINELquery", "SENTINELwrongtoken"] {
            assert!(
                !screen.contains(secret),
                "the screen shows {secret}:\n{screen}"
            );
        }
    }
    assert_clean("the revealed screen", &revealed);
    assert!(!revealed.contains(&live_value), "{revealed}");
    let log = std::fs::read_to_string(sb.data().join("logs/confluence-tui.log")).unwrap();
    assert!(
        log.contains("proxied request"),
        "the request log is written at debug level"
    );
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(audit.contains("proxy_started") && audit.contains("proxy_stopped"));
    for (what, text) in [("the diagnostics log", &log), ("the audit log", &audit)] {
        for secret in [&token, &live_value, "SENTINELquery", "SENTINELwrongtoken"] {
            assert!(!text.contains(secret), "{what} holds {secret}");
        }
    }
    scan_dir(&sb.data());
}

/// Every new kind of secret a gateway brings: a Cloudflare Access service
/// token's secret, a gateway header's value, a client certificate's key
/// and its password, a gateway's session cookie. Stored, listed, cleared,
/// refused: none shows in any output, the audit log, the trace log or a
/// plain file of the data directory.
#[test]
fn gateway_secrets_leak_nothing() {
    let sb = Sandbox::new();
    let mut t = String::new();
    let pass = [("CONFLUENCE_VAULT_PASSPHRASE", PASS)];
    let ok = |code: Option<i32>, t: &str| assert_eq!(code, Some(0), "{t}");
    let code = run(
        &sb,
        &["gateway", "set", "cloudflare", "--client-id", "id.access"],
        Some(&format!("{GATEWAY_SECRET}\n")),
        &pass,
        &mut t,
    );
    ok(code, &t);
    let code = run(
        &sb,
        &["gateway", "set", "header", "X-Edge-Key"],
        Some(GATEWAY_SECRET),
        &pass,
        &mut t,
    );
    ok(code, &t);
    // A reserved header, and a value on two lines: refused, echoing nothing.
    let code = run(
        &sb,
        &["gateway", "set", "header", "Authorization"],
        Some(GATEWAY_SECRET),
        &pass,
        &mut t,
    );
    assert_eq!(code, Some(2), "{t}");
    let code = run(
        &sb,
        &["gateway", "set", "header", "X-Other"],
        Some(&format!("{GATEWAY_SECRET}\n{GATEWAY_SECRET}")),
        &pass,
        &mut t,
    );
    assert_eq!(code, Some(2), "{t}");
    // A gateway's session cookie.
    let code = run(
        &sb,
        &["cookies", "import", "--no-verify", "-"],
        Some(&format!("MRHSession={SESSION}; cloud.session.token={XSRF}")),
        &pass,
        &mut t,
    );
    ok(code, &t);
    // A PEM client certificate with its key, kept in the vault; then the
    // password of an (unreadable) certificate file, kept too.
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["pipeline".to_string()]).unwrap();
    let pem = dir.path().join("client.pem");
    common::gateway::write_private(
        &pem,
        format!("{}{}", cert.cert.pem(), cert.signing_key.serialize_pem()).as_bytes(),
    );
    let code = run(
        &sb,
        &["gateway", "cert", "import", pem.to_str().unwrap()],
        None,
        &pass,
        &mut t,
    );
    ok(code, &t);
    let key_text = cert.signing_key.serialize_pem();
    let key_body: String = key_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let with_password = [
        ("CONFLUENCE_VAULT_PASSPHRASE", PASS),
        ("CONFLUENCE_CLIENT_CERT", pem.to_str().unwrap()),
        ("CONFLUENCE_CLIENT_CERT_PASSWORD", CERT_PASS),
    ];
    let code = run(
        &sb,
        &["gateway", "cert", "password"],
        Some(CERT_PASS),
        &with_password,
        &mut t,
    );
    ok(code, &t);
    for args in [
        &["gateway", "status"][..],
        &["gateway", "status", "--json"],
        &["cookies", "status"],
        &["cookies", "status", "--json"],
        &["sites", "--json"],
        &["audit", "--json"],
    ] {
        ok(run(&sb, args, None, &with_password, &mut t), &t);
    }
    // A site that is not there: the failure says nothing secret either.
    run(&sb, &["check", "--json"], None, &with_password, &mut t);
    // A wrong password for the certificate file.
    let enc = dir.path().join("client.p12");
    common::gateway::write_private(&enc, b"\x30\x03\x02\x01\x03");
    run(
        &sb,
        &["check"],
        None,
        &[
            ("CONFLUENCE_VAULT_PASSPHRASE", PASS),
            ("CONFLUENCE_CLIENT_CERT", enc.to_str().unwrap()),
            ("CONFLUENCE_CLIENT_CERT_PASSWORD", CERT_PASS),
        ],
        &mut t,
    );
    for name in ["X-Edge-Key", "cloudflare", "cert"] {
        ok(
            run(&sb, &["gateway", "clear", name], None, &pass, &mut t),
            &t,
        );
    }
    assert_clean("gateway commands", &t);
    assert!(!t.contains(&key_body), "the client key was printed:\n{t}");
    assert!(
        t.contains("X-Edge-Key") && t.contains("CF-Access-Client-Secret"),
        "names are shown, so the transcript is real: {t}"
    );
    scan_dir(&sb.data());
    for entry in walk_files(&sb.data()) {
        let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
        assert!(
            !text.contains(&key_body),
            "{} holds the key",
            entry.display()
        );
    }
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
