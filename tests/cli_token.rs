//! `token set` asks the site before it stores: a token the fake site
//! refuses is not stored (exit as `check` would: 3), one it accepts is
//! stored (with its user name, so `check` then signs in with nothing in
//! the environment), and `--no-verify` stores without asking.

mod common;

use std::time::{Duration, Instant};

use common::*;
use confluence_tui::demo::{
    DEMO_API_TOKEN, DEMO_DISPLAY_NAME, DEMO_EMAIL, DEMO_PAT, DemoConfig, DemoData, DemoFaults,
    DemoFlavor, DemoServer,
};
use serde_json::Value;

/// A fake site on its own runtime, alive while the test runs the binary.
struct Site {
    // Dropped first: its Drop stops the server task on the runtime below.
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    fn start(flavor: DemoFlavor) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor,
            data: DemoData {
                spaces: 3,
                pages_per_space: 2,
            },
            faults: DemoFaults::default(),
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, _rt: rt }
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// The binary pointed at `site`, nothing else set.
fn at(sb: &Sandbox, site: &Site) -> assert_cmd::Command {
    let mut c = sb.cmd();
    let deployment = match site.server.flavor() {
        DemoFlavor::Cloud => "cloud",
        DemoFlavor::Server => "server",
    };
    c.env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
        .env("CONFLUENCE_DEPLOYMENT", deployment);
    c
}

fn run(mut c: assert_cmd::Command, args: &[&str], stdin: Option<&str>) -> Run {
    if let Some(s) = stdin {
        c.write_stdin(s.to_string());
    }
    let out = c.args(args).output().unwrap();
    Run {
        code: out.status.code(),
        stdout: stdout(&out),
        stderr: stderr(&out),
    }
}

fn assert_exit(r: &Run, code: i32, what: &str) {
    assert_eq!(
        r.code,
        Some(code),
        "{what}\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
}

/// Whether the vault holds a token for the site (`sites --json`).
fn token_stored(sb: &Sandbox, site: &Site) -> bool {
    let r = run(at(sb, site), &["sites", "--json"], None);
    assert_exit(&r, 0, "sites --json");
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .any(|s| s["token_stored"].as_bool() == Some(true))
}

fn audit_events(sb: &Sandbox) -> Vec<String> {
    let text = std::fs::read_to_string(sb.audit()).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_token_the_site_refuses_is_not_stored_and_exits_3() {
    let site = Site::start(DemoFlavor::Cloud);
    let sb = Sandbox::new();
    let mut c = at(&sb, &site);
    c.env("CONFLUENCE_USERNAME", DEMO_EMAIL);
    let r = run(c, &["token", "set"], Some("SENTINEL-wrong-token\n"));
    assert_exit(&r, 3, "a refused token");
    assert!(r.stderr.contains("not stored"), "{}", r.stderr);
    assert!(!r.stderr.contains("SENTINEL") && !r.stdout.contains("SENTINEL"));
    assert!(!token_stored(&sb, &site), "nothing stored");
    assert!(
        audit_events(&sb).contains(&"credentials_rejected".to_string()),
        "{:?}",
        audit_events(&sb)
    );
}

#[test]
fn a_pat_the_site_runs_as_anonymous_is_not_stored_either() {
    let site = Site::start(DemoFlavor::Server);
    let sb = Sandbox::new();
    let r = run(at(&sb, &site), &["token", "set"], Some("not-the-pat\n"));
    assert_exit(&r, 3, "an unknown PAT runs as anonymous");
    assert!(!token_stored(&sb, &site));
    let r = run(at(&sb, &site), &["token", "set"], Some(DEMO_PAT));
    assert_exit(&r, 0, "the demo PAT");
    assert!(r.stdout.contains("bearer"), "{}", r.stdout);
    let r = run(at(&sb, &site), &["check"], None);
    assert_exit(&r, 0, "check with the stored PAT");
}

#[test]
fn an_accepted_token_is_stored_with_its_user_name_and_check_signs_in() {
    let site = Site::start(DemoFlavor::Cloud);
    let sb = Sandbox::new();
    let r = run(
        at(&sb, &site),
        &["token", "set", "--username", DEMO_EMAIL],
        Some(&format!("{DEMO_API_TOKEN}\n")),
    );
    assert_exit(&r, 0, "the demo API token");
    assert!(r.stdout.contains("accepted"), "{}", r.stdout);
    assert!(r.stdout.contains(DEMO_DISPLAY_NAME), "{}", r.stdout);
    assert!(r.stdout.contains("basic"), "{}", r.stdout);
    assert!(!r.stdout.contains(DEMO_API_TOKEN), "{}", r.stdout);
    assert!(token_stored(&sb, &site));
    // Nothing in the environment: the stored user name makes it Basic.
    let r = run(at(&sb, &site), &["check", "--json"], None);
    assert_exit(&r, 0, "check with the stored token");
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["mode"], "basic", "{v}");
    assert_eq!(v["user"]["display_name"], DEMO_DISPLAY_NAME, "{v}");
    // Clearing the token clears its user name with it.
    let r = run(at(&sb, &site), &["token", "clear"], None);
    assert_exit(&r, 0, "token clear");
    let r = run(at(&sb, &site), &["check"], None);
    assert_exit(&r, 3, "nothing stored any more");
}

#[test]
fn no_verify_stores_even_a_wrong_token_without_asking() {
    let site = Site::start(DemoFlavor::Cloud);
    let sb = Sandbox::new();
    let before = site.server.request_count();
    let r = run(
        at(&sb, &site),
        &["token", "set", "--no-verify"],
        Some("SENTINEL-wrong-token\n"),
    );
    assert_exit(&r, 0, "--no-verify");
    assert!(r.stdout.contains("--no-verify"), "{}", r.stdout);
    assert_eq!(
        site.server.request_count(),
        before,
        "the site was not asked"
    );
    assert!(token_stored(&sb, &site));
}

#[test]
fn a_token_for_a_host_that_does_not_resolve_is_not_stored_and_exits_5() {
    // `.invalid` never resolves (RFC 6761).
    const HOST: &str = "confluence.example.invalid";
    let sb = Sandbox::new();
    let mut c = sb.cmd();
    c.env("CONFLUENCE_BASE_URL", format!("https://{HOST}/wiki"))
        .env("CONFLUENCE_USERNAME", DEMO_EMAIL);
    let started = Instant::now();
    let r = run(c, &["token", "set"], Some("some-token\n"));
    assert_exit(&r, 5, "a host that does not resolve");
    assert!(r.stderr.contains(HOST), "{}", r.stderr);
    assert!(r.stderr.contains("--no-verify"), "{}", r.stderr);
    assert!(!r.stderr.contains("before attempt"), "{}", r.stderr);
    assert!(started.elapsed() < Duration::from_secs(5));
    let r = run(sb.cmd(), &["cookies", "status"], None);
    assert!(r.stdout.contains("API token: none"), "{}", r.stdout);
}
