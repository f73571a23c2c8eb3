//! A gateway that wants a client certificate (mTLS) in front of the fake
//! site: the real binary signs in through it with a PEM certificate and
//! key, an encrypted PKCS#8 key, a PKCS#12 file with a password (made by
//! the openssl command, as a user's would be), or a certificate kept in
//! the vault by `gateway cert import`; `check`, `spaces` and a client
//! through the proxy get through. No certificate, or one the gateway does
//! not trust, is said as such (what was offered, which CA names the
//! gateway asked for), exit 5, never "cannot reach". The password never
//! shows anywhere.

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};

use common::gateway::{CLIENT_CA_CN, CLIENT_CN, Door, Gateway, Pki, openssl, write_private};
use common::site::Site;
use common::*;
use serde_json::Value;

/// The password of the PKCS#12 file and the encrypted key.
const CERT_PASS: &str = "SENTINELcertPassQ4w8e2";

struct Front {
    site: Site,
    gateway: Gateway,
    pki: Pki,
}

impl Front {
    /// A Server/DC fake site (a personal access token signs in) behind a
    /// TLS gateway that wants a certificate from the client CA.
    fn new() -> Front {
        let site = Site::server_dc();
        let pki = Pki::new();
        let gateway = Gateway::start(Door::Tls(pki.server_config()), site.server.addr());
        Front { site, gateway, pki }
    }

    /// The binary configured for the site through the gateway, trusting
    /// its CA, with the demo's personal access token.
    fn cmd(&self, sb: &Sandbox) -> assert_cmd::Command {
        let mut c = sb.cmd();
        c.env(
            "CONFLUENCE_BASE_URL",
            self.gateway.base_url(self.site.server.base_url().path()),
        )
        .env("CONFLUENCE_DEPLOYMENT", "server")
        .env("CONFLUENCE_CA_BUNDLE", self.pki.server_ca_file())
        .env("CONFLUENCE_API_TOKEN", confluence_tui::demo::DEMO_PAT);
        c
    }

    fn with_cert(&self, sb: &Sandbox, cert: &Path, key: Option<&Path>) -> assert_cmd::Command {
        let mut c = self.cmd(sb);
        c.env("CONFLUENCE_CLIENT_CERT", cert);
        if let Some(k) = key {
            c.env("CONFLUENCE_CLIENT_KEY", k);
        }
        c
    }

    /// A PKCS#12 file of the pipeline's certificate, protected by
    /// `CERT_PASS`, as `openssl pkcs12 -export` makes it.
    fn p12(&self) -> PathBuf {
        let (cert, key) = self.pki.client_files("p12-src", false);
        let p12 = self.pki.dir.path().join("client.p12");
        openssl(&[
            "pkcs12",
            "-export",
            "-in",
            cert.to_str().unwrap(),
            "-inkey",
            key.to_str().unwrap(),
            "-out",
            p12.to_str().unwrap(),
            "-passout",
            &format!("pass:{CERT_PASS}"),
        ]);
        std::fs::set_permissions(&p12, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        p12
    }
}

fn run(
    mut c: assert_cmd::Command,
    args: &[&str],
    transcript: &mut String,
) -> (Option<i32>, String, String) {
    let out = c.args(args).output().unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    transcript.push_str(&format!("$ {args:?}\n{o}{e}\n"));
    (out.status.code(), o, e)
}

fn check_json(c: assert_cmd::Command, t: &mut String) -> (Option<i32>, Value) {
    let (code, out, err) = run(c, &["check", "--json"], t);
    let v = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (code, v)
}

/// Signed in through the gateway: `check`, `spaces`, and a client (curl)
/// through the proxy that `exec --proxy` starts.
fn assert_gets_through(make: &dyn Fn() -> assert_cmd::Command, t: &mut String) {
    let (code, v) = check_json(make(), t);
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(v["state"], "signed_in", "{v}");
    // The gateway's certificate was verified by CONFLUENCE_CA_BUNDLE.
    assert_eq!(v["trusted_by"], "bundle", "{v}");
    let (code, out, _) = run(make(), &["spaces", "--json"], t);
    assert_eq!(code, Some(0), "{t}");
    let spaces: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(spaces.as_array().unwrap().len(), 3, "{out}");
    let script = "curl -sS --fail-with-body -u \"$CONFLUENCE_USERNAME:$CONFLUENCE_API_TOKEN\" \"${CONFLUENCE_BASE_URL%/}/rest/api/space\"";
    let (code, out, err) = run(make(), &["exec", "--proxy", "--", "sh", "-c", script], t);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let listed: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(listed["results"].as_array().unwrap().len(), 3, "{out}");
}

fn assert_no_password(sb: &Sandbox, transcript: &str) {
    assert!(
        !transcript.contains(CERT_PASS),
        "the password leaked:\n{transcript}"
    );
    // Nothing in the data dir holds it in the clear (the vault is encrypted).
    for entry in walk(&sb.data()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !bytes
                .windows(CERT_PASS.len())
                .any(|w| w == CERT_PASS.as_bytes()),
            "{} holds the password",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_pem_certificate_and_key_get_through_check_spaces_and_the_proxy() {
    let front = Front::new();
    let sb = Sandbox::new();
    let mut t = String::new();
    let (cert, key) = front.pki.client_files("client", false);
    assert_gets_through(&|| front.with_cert(&sb, &cert, Some(&key)), &mut t);
    // The site behind got the personal access token, through the gateway.
    let seen = front.site.server.requests_seen();
    assert!(
        seen.iter()
            .any(|r| r.authorization.as_deref() == Some("Bearer")),
        "{seen:?}"
    );
}

#[test]
fn an_encrypted_pem_key_opens_with_its_passphrase_which_never_shows() {
    let front = Front::new();
    let sb = Sandbox::new();
    let mut t = String::new();
    let (cert, key) = front.pki.client_files("client", false);
    let encrypted = front.pki.dir.path().join("client.enc.key");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        key.to_str().unwrap(),
        "-out",
        encrypted.to_str().unwrap(),
        "-passout",
        &format!("pass:{CERT_PASS}"),
    ]);
    std::fs::set_permissions(
        &encrypted,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    // Without the passphrase, and no terminal to ask at: said, exit 2.
    let (code, _, err) = run(
        front.with_cert(&sb, &cert, Some(&encrypted)),
        &["check"],
        &mut t,
    );
    assert_eq!(code, Some(2), "{t}");
    assert!(err.contains("CONFLUENCE_CLIENT_CERT_PASSWORD"), "{err}");
    // With it (trace logging on: the passphrase is in no log line either).
    let make = || {
        let mut c = front.with_cert(&sb, &cert, Some(&encrypted));
        c.env("CONFLUENCE_CLIENT_CERT_PASSWORD", CERT_PASS)
            .env("RUST_LOG", "trace");
        c
    };
    assert_gets_through(&make, &mut t);
    // A wrong passphrase is said as such.
    let mut c = front.with_cert(&sb, &cert, Some(&encrypted));
    c.env("CONFLUENCE_CLIENT_CERT_PASSWORD", "not-the-passphrase");
    let (code, _, err) = run(c, &["check"], &mut t);
    assert_eq!(code, Some(2), "{t}");
    assert!(err.contains("password") && err.contains("wrong"), "{err}");
    assert_no_password(&sb, &t);
}

#[test]
fn a_pkcs12_file_with_a_password_gets_through_and_import_keeps_it_in_the_vault() {
    let front = Front::new();
    let sb = Sandbox::new();
    let mut t = String::new();
    let p12 = front.p12();
    let make = || {
        let mut c = front.with_cert(&sb, &p12, None);
        c.env("CONFLUENCE_CLIENT_CERT_PASSWORD", CERT_PASS)
            .env("RUST_LOG", "debug");
        c
    };
    assert_gets_through(&make, &mut t);

    // Kept in the vault (the password read from standard input), the file
    // deleted, the environment naming no certificate: still through.
    let (code, out, err) = run(
        {
            let mut c = front.cmd(&sb);
            c.write_stdin(format!("{CERT_PASS}\n"));
            c
        },
        &["gateway", "cert", "import", p12.to_str().unwrap()],
        &mut t,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains(&format!("CN={CLIENT_CN}")), "{out}");
    std::fs::remove_file(&p12).unwrap();
    assert_gets_through(&|| front.cmd(&sb), &mut t);
    let (code, out, _) = run(front.cmd(&sb), &["gateway", "status", "--json"], &mut t);
    assert_eq!(code, Some(0), "{t}");
    let status: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        status["client_certificate_stored"]
            .as_str()
            .is_some_and(|c| c.contains(CLIENT_CN) && c.contains(CLIENT_CA_CN)),
        "{status}"
    );
    // Audited by name, never a value.
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(audit.contains("gateway_stored"), "{audit}");
    t.push_str(&audit);
    assert_no_password(&sb, &t);

    // `gateway clear cert`: gone, and the gateway refuses again.
    let (code, _, _) = run(front.cmd(&sb), &["gateway", "clear", "cert"], &mut t);
    assert_eq!(code, Some(0), "{t}");
    let (code, _, err) = run(front.cmd(&sb), &["check"], &mut t);
    assert_eq!(code, Some(5), "{err}");
}

#[test]
fn no_certificate_is_said_as_such_with_the_ca_names_asked_for_exit_5() {
    let front = Front::new();
    let sb = Sandbox::new();
    let mut t = String::new();
    let (code, v) = check_json(front.cmd(&sb), &mut t);
    assert_eq!(code, Some(5), "{t}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("wants a client certificate and none was offered"),
        "{message}"
    );
    assert!(message.contains(&format!("CN={CLIENT_CA_CN}")), "{message}");
    assert!(message.contains("CONFLUENCE_CLIENT_CERT"), "{message}");
    assert!(!message.contains("cannot reach"), "{message}");
    for args in [&["check"][..], &["spaces"]] {
        let (code, _, err) = run(front.cmd(&sb), args, &mut t);
        assert_eq!(code, Some(5), "{t}");
        assert!(err.contains("none was offered"), "{err}");
        assert!(!err.contains("cannot reach"), "{err}");
    }
    // Through the proxy: a 502 that says the same, never "unreachable".
    let body = sb.dir.path().join("answer.json");
    let script = format!(
        "curl -sS -o '{}' -w '%{{http_code}}' -u \"$CONFLUENCE_USERNAME:$CONFLUENCE_API_TOKEN\" \"${{CONFLUENCE_BASE_URL%/}}/rest/api/space\"",
        body.display()
    );
    let (_, out, err) = run(
        front.cmd(&sb),
        &["exec", "--proxy", "--", "sh", "-c", &script],
        &mut t,
    );
    assert_eq!(out.trim(), "502", "{err}");
    let answer: Value = serde_json::from_slice(&std::fs::read(&body).unwrap()).unwrap();
    assert_eq!(answer["reason"], "client_certificate_refused", "{answer}");
    let message = answer["message"].as_str().unwrap();
    assert!(message.contains("none was offered"), "{message}");
    assert!(message.contains(&format!("CN={CLIENT_CA_CN}")), "{message}");
}

#[test]
fn a_certificate_the_gateway_does_not_trust_is_named_exit_5() {
    let front = Front::new();
    let sb = Sandbox::new();
    let mut t = String::new();
    let (cert, key) = front.pki.client_files("stranger", true);
    let (code, v) = check_json(front.with_cert(&sb, &cert, Some(&key)), &mut t);
    assert_eq!(code, Some(5), "{t}");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("refused the client certificate CN={CLIENT_CN}")),
        "{message}"
    );
    assert!(message.contains("Some Other CA"), "{message}");
    assert!(message.contains(&format!("CN={CLIENT_CA_CN}")), "{message}");
    assert!(!message.contains("cannot reach"), "{message}");
}

#[test]
fn a_key_file_others_may_write_is_refused_like_the_vault() {
    let front = Front::new();
    let sb = Sandbox::new();
    let mut t = String::new();
    let (cert, key) = front.pki.client_files("client", false);
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let (code, _, err) = run(front.with_cert(&sb, &cert, Some(&key)), &["check"], &mut t);
    assert_eq!(code, Some(2), "{t}");
    assert!(err.contains(key.to_str().unwrap()), "{err}");
    // A link to the key is refused too.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let link = front.pki.dir.path().join("link.key");
    std::os::unix::fs::symlink(&key, &link).unwrap();
    let (code, _, err) = run(front.with_cert(&sb, &cert, Some(&link)), &["check"], &mut t);
    assert_eq!(code, Some(2), "{t}");
    assert!(err.contains("link"), "{err}");
    write_private(&front.pki.dir.path().join("unused"), b"");
}

#[test]
fn the_password_is_asked_once_at_the_terminal_then_the_interface_signs_in_through_the_gateway() {
    if !common::tmux::have_tmux() {
        return;
    }
    let front = Front::new();
    let sb = Sandbox::new();
    let p12 = front.p12();
    let base = front.gateway.base_url(front.site.server.base_url().path());
    let script = format!(
        "env -i PATH=\"$PATH\" TERM=xterm-256color CONFLUENCE_DATA_DIR='{}' CONFLUENCE_KDF_LOG_N=10 CONFLUENCE_BASE_URL='{base}' CONFLUENCE_DEPLOYMENT=server CONFLUENCE_CA_BUNDLE='{}' CONFLUENCE_API_TOKEN='{}' CONFLUENCE_CLIENT_CERT='{}' '{}'; echo EXITED:$?; sleep 60",
        sb.data().display(),
        front.pki.server_ca_file().display(),
        confluence_tui::demo::DEMO_PAT,
        p12.display(),
        env!("CARGO_BIN_EXE_confluence-tui"),
    );
    let tmux = common::tmux::Tmux::start("mtls-prompt", &script, 100, 30);
    let prompt = tmux.wait_for("(input hidden)", std::time::Duration::from_secs(20));
    assert!(prompt.contains("Password of"), "{prompt}");
    // A wrong one first: said, and asked again.
    tmux.keys(&["not-it", "Enter"]);
    tmux.wait_for(
        "That password does not open it.",
        std::time::Duration::from_secs(10),
    );
    tmux.keys(&[CERT_PASS, "Enter"]);
    let screen = tmux.wait_for("SIGNED IN", std::time::Duration::from_secs(30));
    assert!(!screen.contains(CERT_PASS), "{screen}");
    tmux.keys(&["q"]);
    let screen = tmux.wait_for("EXITED:0", std::time::Duration::from_secs(10));
    assert!(!screen.contains(CERT_PASS), "{screen}");
    // Kept in the vault: no terminal, no password setting, still through.
    let mut t = String::new();
    let (code, v) = check_json(front.with_cert(&sb, &p12, None), &mut t);
    assert_eq!(code, Some(0), "{t}");
    assert_eq!(v["state"], "signed_in", "{v}");
    assert_no_password(&sb, &t);
}
