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
use confluence_tui::vault::{MachineIdSource, SiteCredentials, VaultDocument};

const SESSION: &str = "SENTINELsessionQ7w2e9r4t6y8u1i3o5p0";
const XSRF: &str = "SENTINELxsrfZ1x3c5v7b9n2m4";
const TOKEN: &str = "SENTINELtokenK8j6h4g2f0d9s7a5";
const BAD_TOKEN: &str = "SENTINELbadtoken with-space";
const PASS: &str = "SENTINELpassphraseL0k9j8";
const ALL: &[&str] = &[
    SESSION,
    XSRF,
    TOKEN,
    "SENTINELbadtoken",
    PASS,
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
    let mut c = sb.cmd();
    c.env("RUST_LOG", "trace").args(args);
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
        run(&sb, &["token", "set"], Some(TOKEN), &pass, &mut t),
        Some(0)
    );
    assert_eq!(
        run(&sb, &["token", "set"], Some(BAD_TOKEN), &pass, &mut t),
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
