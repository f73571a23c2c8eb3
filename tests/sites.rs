//! Credentials per site: a site's cookies and token are never sent to
//! another base URL; a vault from before sites is bound to the configured
//! site on first open and audited; `sites`; per-site clears; the audit head
//! stored in the vault catches records cut off the end of the log.

mod common;

use common::*;
use confluence_tui::config::parse_base_url;
use confluence_tui::cookies::jar::{CookieJar, CookieSource, StoredCookies};
use confluence_tui::cookies::parse::parse_cookies;
use confluence_tui::demo::{DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer};
use confluence_tui::secret::SecretString;
use confluence_tui::site::SiteKey;
use confluence_tui::vault::{MachineIdSource, SiteCredentials, Vault, VaultOptions};
use serde_json::Value;

const OTHER_SITE: &str = "https://other.example.com/confluence";
const TOKEN_SENTINEL: &str = "SENTINEL-site-token-41c2";
const COOKIE_SENTINEL: &str = "SENTINEL-site-cookie-93d0";

/// A demo site on its own runtime, alive while the test runs.
struct Site {
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    fn cloud() -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor: DemoFlavor::Cloud,
            data: DemoData {
                spaces: 2,
                pages_per_space: 1,
            },
            faults: DemoFaults::default(),
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, _rt: rt }
    }
    fn url(&self) -> String {
        self.server.base_url().to_string()
    }
    fn key(&self) -> String {
        SiteKey::from_url(&parse_base_url(&self.url()).unwrap()).to_string()
    }
}

fn run(mut c: assert_cmd::Command, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    if let Some(s) = stdin {
        c.write_stdin(s.to_string());
    }
    c.args(args).output().unwrap()
}

fn at(sb: &Sandbox, base_url: &str) -> assert_cmd::Command {
    let mut c = sb.cmd();
    c.env("CONFLUENCE_BASE_URL", base_url)
        .env("CONFLUENCE_DEPLOYMENT", "cloud");
    c
}

fn sites_json(c: assert_cmd::Command) -> Vec<Value> {
    let out = run(c, &["sites", "--json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    v.as_array().unwrap().clone()
}

fn entry<'a>(sites: &'a [Value], site: &str) -> &'a Value {
    sites
        .iter()
        .find(|s| s["site"] == site)
        .unwrap_or_else(|| panic!("{site} not listed in {sites:?}"))
}

fn audit_lines(sb: &Sandbox) -> Vec<Value> {
    std::fs::read_to_string(sb.audit())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn another_base_url_gets_no_credentials_and_is_told_which_sites_have_some() {
    let a = Site::cloud();
    let b = Site::cloud();
    let sb = Sandbox::new();
    let out = run(
        at(&sb, &a.url()),
        &["cookies", "import", "--no-verify", "-"],
        Some(&a.server.session_cookie_header()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        at(&sb, &a.url()),
        &["token", "set", "--no-verify"],
        Some(TOKEN_SENTINEL),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A one-off --base-url (or another directory's .env) points elsewhere.
    let out = run(at(&sb, &a.url()), &["--base-url", &b.url(), "check"], None);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("no credentials for {}", b.key())),
        "{err}"
    );
    assert!(
        err.contains(&format!("the vault holds credentials for {}", a.key())),
        "{err}"
    );
    assert_eq!(
        b.server.request_count(),
        0,
        "site B received a request, hence possibly A's cookies or token"
    );

    // Site A still works, and B's refusal marked nothing dead.
    let out = run(at(&sb, &a.url()), &["check"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sites = sites_json(at(&sb, &a.url()));
    assert_eq!(sites.len(), 1);
    assert_eq!(entry(&sites, &a.key())["cookies"]["expired"], false);
}

#[test]
fn import_without_a_site_is_refused_and_names_the_setting() {
    let sb = Sandbox::new();
    let out = run(
        sb.cmd_without_site(),
        &["cookies", "import", "--no-verify", "-"],
        Some(&cloud_header(COOKIE_SENTINEL)),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("CONFLUENCE_BASE_URL"),
        "{}",
        stderr(&out)
    );
    assert!(!sb.vault().exists());
}

fn write_v1_vault(sb: &Sandbox) {
    let parsed = parse_cookies(&cloud_header(COOKIE_SENTINEL)).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let v1 = SiteCredentials {
        cookies: Some(StoredCookies::new(
            CookieJar {
                cookies: parsed.jar.cookies.clone(),
            },
            CookieSource::Paste,
            now,
            time::Duration::days(14),
        )),
        api_token: Some(SecretString::from(TOKEN_SENTINEL)),
        token_saved_at: Some(now),
        username: None,
        session: None,
        ..Default::default()
    };
    let vault = Vault::new(
        sb.vault(),
        VaultOptions {
            machine_id: MachineIdSource::System,
            passphrase: None,
            kdf_log_n: 10,
        },
    );
    vault.save_v1(&v1).unwrap();
    assert_eq!(vault.inspect().unwrap().unwrap().version, 1);
}

fn version_byte(sb: &Sandbox) -> u8 {
    std::fs::read(sb.vault()).unwrap()[4]
}

#[test]
fn a_version_1_vault_is_bound_to_the_configured_site_on_first_open_and_audited() {
    let sb = Sandbox::new();
    write_v1_vault(&sb);

    // No site configured: read, listed as not bound, not rewritten.
    let sites = sites_json(sb.cmd_without_site());
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0]["site"], Value::Null);
    assert_eq!(sites[0]["token_stored"], true);
    assert_eq!(version_byte(&sb), 1);

    // First open with a site: bound, rewritten as v2, audited once.
    let sites = sites_json(sb.cmd());
    assert_eq!(sites.len(), 1);
    let own = entry(&sites, SANDBOX_SITE);
    assert_eq!(own["configured"], true);
    assert_eq!(own["token_stored"], true);
    assert_eq!(own["cookies"]["count"], 3);
    assert_eq!(version_byte(&sb), 2);
    let bound: Vec<Value> = audit_lines(&sb)
        .into_iter()
        .filter(|r| r["event"] == "vault_bound_to_site")
        .collect();
    assert_eq!(bound.len(), 1, "{bound:?}");
    assert_eq!(bound[0]["details"]["site"], SANDBOX_SITE);

    // Another site configured later finds nothing of the first one's.
    let out = run(at(&sb, OTHER_SITE), &["cookies", "status", "--json"], None);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["cookies"], Value::Null);
    assert_eq!(v["other_sites"][0], SANDBOX_SITE);
    let sites = sites_json(at(&sb, OTHER_SITE));
    assert_eq!(sites.len(), 1, "binding happens once");
    assert_eq!(
        audit_lines(&sb)
            .iter()
            .filter(|r| r["event"] == "vault_bound_to_site")
            .count(),
        1
    );
}

#[test]
fn sites_json_lists_every_site_with_its_state_and_no_values() {
    let sb = Sandbox::new();
    assert!(sites_json(sb.cmd()).is_empty());
    let out = run(
        sb.cmd(),
        &["cookies", "import", "--no-verify", "-"],
        Some(&cloud_header(COOKIE_SENTINEL)),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        at(&sb, OTHER_SITE),
        &["token", "set", "--no-verify"],
        Some(TOKEN_SENTINEL),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run(sb.cmd(), &["sites", "--json"], None);
    let text = stdout(&out);
    assert!(!text.contains("SENTINEL"), "a value was printed: {text}");
    let sites: Vec<Value> = serde_json::from_str::<Value>(text.trim())
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(sites.len(), 2);
    let own = entry(&sites, SANDBOX_SITE);
    assert_eq!(own["configured"], true);
    assert_eq!(own["token_stored"], false);
    assert_eq!(own["cookies"]["count"], 3);
    assert_eq!(own["cookies"]["session_cookie"], true);
    assert_eq!(own["cookies"]["expired"], false);
    assert!(own["cookies"]["expires_at"].is_string());
    let other = entry(&sites, OTHER_SITE);
    assert_eq!(other["configured"], false);
    assert_eq!(other["token_stored"], true);
    assert_eq!(other["cookies"], Value::Null);

    let out = run(sb.cmd(), &["sites"], None);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{SANDBOX_SITE} (configured)")),
        "{text}"
    );
    assert!(text.contains(OTHER_SITE), "{text}");
    assert!(!text.contains("SENTINEL"), "{text}");
}

#[test]
fn cookies_clear_clears_only_the_configured_site_unless_all_sites() {
    let sb = Sandbox::new();
    for c in [sb.cmd(), at(&sb, OTHER_SITE)] {
        let out = run(
            c,
            &["cookies", "import", "--no-verify", "-"],
            Some(&cloud_header(COOKIE_SENTINEL)),
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let out = run(
        at(&sb, OTHER_SITE),
        &["token", "set", "--no-verify"],
        Some(TOKEN_SENTINEL),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let out = run(sb.cmd(), &["cookies", "clear"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(SANDBOX_SITE), "{}", stdout(&out));
    let sites = sites_json(sb.cmd());
    assert_eq!(sites.len(), 1, "the cleared site holds nothing: {sites:?}");
    assert_eq!(entry(&sites, OTHER_SITE)["cookies"]["count"], 3);

    let out = run(sb.cmd(), &["cookies", "clear", "--all-sites"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let sites = sites_json(sb.cmd());
    assert_eq!(sites.len(), 1, "the token stays: {sites:?}");
    assert_eq!(entry(&sites, OTHER_SITE)["cookies"], Value::Null);
    assert_eq!(entry(&sites, OTHER_SITE)["token_stored"], true);

    let out = run(sb.cmd(), &["token", "clear"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(sites_json(sb.cmd()).len(), 1, "another site's token stays");
    let out = run(sb.cmd(), &["token", "clear", "--all-sites"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(sites_json(sb.cmd()).is_empty());
}

#[test]
fn records_cut_off_the_end_of_the_audit_log_are_noticed() {
    let sb = Sandbox::new();
    let out = run(
        sb.cmd(),
        &["cookies", "import", "--no-verify", "-"],
        Some(&cloud_header(COOKIE_SENTINEL)),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        sb.cmd(),
        &["token", "set", "--no-verify"],
        Some(TOKEN_SENTINEL),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(sb.cmd(), &["audit", "--verify"], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );

    // Keep only the first record: the chain of what is left is intact.
    let text = std::fs::read_to_string(sb.audit()).unwrap();
    let first = text.lines().next().unwrap();
    std::fs::write(sb.audit(), format!("{first}\n")).unwrap();
    let out = run(sb.cmd(), &["audit", "--verify"], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("records after seq 1 are missing"),
        "{}",
        stdout(&out)
    );
}
