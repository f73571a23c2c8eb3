//! A site whose space names, page titles, display name and error messages
//! carry terminal control sequences (`DemoFaults::hostile_text`): no human
//! output of `check`, `spaces`, `pages` or `audit` lets one reach the
//! terminal, while the JSON outputs keep the exact text.

mod common;

use common::*;
use confluence_tui::demo::{
    DEMO_API_TOKEN, DEMO_DISPLAY_NAME, DEMO_EMAIL, DemoConfig, DemoData, DemoFaults, DemoFlavor,
    DemoServer, HOSTILE_SUFFIX,
};
use serde_json::Value;

/// A hostile fake site on its own runtime, alive while the test runs.
struct Site {
    // Dropped first: its Drop stops the server task on the runtime below.
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    fn hostile(forbidden: &[&str]) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor: DemoFlavor::Cloud,
            data: DemoData {
                spaces: 4,
                pages_per_space: 3,
            },
            faults: DemoFaults {
                hostile_text: true,
                forbidden_spaces: forbidden.iter().map(|k| k.to_string()).collect(),
                ..DemoFaults::default()
            },
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

/// The binary against `site` with the demo API token.
fn run(sb: &Sandbox, site: &Site, args: &[&str]) -> Run {
    let out = sb
        .cmd()
        .env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
        .env("CONFLUENCE_DEPLOYMENT", "cloud")
        .env("CONFLUENCE_USERNAME", DEMO_EMAIL)
        .env("CONFLUENCE_API_TOKEN", DEMO_API_TOKEN)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: stdout(&out),
        stderr: stderr(&out),
    }
}

/// A character a terminal would obey rather than show: a C0 control other
/// than the line break between our own lines, DEL, a C1 control, or a bidi
/// control.
fn obeyed(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{61c}')
}

fn assert_shown_not_obeyed(text: &str, what: &str) {
    let bad: Vec<char> = text.chars().filter(|&c| obeyed(c)).collect();
    assert!(
        bad.is_empty(),
        "{what} lets {bad:?} reach the terminal:\n{}",
        text.escape_debug()
    );
    assert!(
        !text.bytes().any(|b| b == 0x1b || b == 0x07),
        "{what} holds ESC or BEL"
    );
}

fn assert_clean(r: &Run, what: &str) {
    assert_shown_not_obeyed(&r.stdout, &format!("{what} stdout"));
    assert_shown_not_obeyed(&r.stderr, &format!("{what} stderr"));
}

#[test]
fn check_shows_a_hostile_display_name_escaped() {
    let site = Site::hostile(&[]);
    let sb = Sandbox::new();
    let r = run(&sb, &site, &["check"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert_clean(&r, "check");
    // The name is shown, its sequences visible as escapes.
    assert!(
        r.stdout
            .contains(&format!("{DEMO_DISPLAY_NAME} \\x1b[2J\\x1b]0;pwned\\x07")),
        "{}",
        r.stdout
    );
}

#[test]
fn spaces_shows_hostile_names_escaped() {
    let site = Site::hostile(&[]);
    let sb = Sandbox::new();
    let r = run(&sb, &site, &["spaces"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert_clean(&r, "spaces");
    assert!(r.stdout.contains("\\u{9b}31m\\u{202e}evil"), "{}", r.stdout);
}

#[test]
fn pages_shows_hostile_titles_escaped() {
    let site = Site::hostile(&[]);
    let sb = Sandbox::new();
    let r = run(&sb, &site, &["pages", "AN0"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert_clean(&r, "pages");
    assert!(r.stdout.contains("Home \\x1b[2J"), "{}", r.stdout);
}

#[test]
fn json_outputs_keep_the_exact_text() {
    let site = Site::hostile(&[]);
    let sb = Sandbox::new();

    let r = run(&sb, &site, &["spaces", "--json"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    let spaces: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        spaces[0]["name"].as_str(),
        Some(format!("Analytics 0000{HOSTILE_SUFFIX}").as_str())
    );
    // JSON escaping, not ours: no raw control byte on stdout either.
    assert!(!r.stdout.bytes().any(|b| b == 0x1b || b == 0x07));

    let r = run(&sb, &site, &["pages", "AN0", "--json"]);
    let pages: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        pages[0]["title"].as_str(),
        Some(format!("Home{HOSTILE_SUFFIX}").as_str())
    );

    let r = run(&sb, &site, &["check", "--json"]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(
        v["user"]["display_name"].as_str(),
        Some(format!("{DEMO_DISPLAY_NAME}{HOSTILE_SUFFIX}").as_str())
    );
}

#[test]
fn a_hostile_error_body_reaches_stderr_escaped() {
    let site = Site::hostile(&["AN0"]);
    let sb = Sandbox::new();
    let r = run(&sb, &site, &["pages", "AN0"]);
    assert_eq!(r.code, Some(2), "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("error: not allowed"), "{}", r.stderr);
    assert!(r.stderr.contains("\\u{202e}evil"), "{}", r.stderr);
    assert_clean(&r, "pages on a forbidden space");
}

#[test]
fn the_audited_display_name_is_replayed_escaped_but_kept_exact_in_json() {
    let site = Site::hostile(&[]);
    let sb = Sandbox::new();
    let r = run(&sb, &site, &["check"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);

    let r = run(&sb, &site, &["audit"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    assert_clean(&r, "audit");
    assert!(r.stdout.contains("user=Demo User \\x1b[2J"), "{}", r.stdout);

    let r = run(&sb, &site, &["audit", "--json"]);
    assert_eq!(r.code, Some(0), "{}{}", r.stdout, r.stderr);
    let exact = format!("{DEMO_DISPLAY_NAME}{HOSTILE_SUFFIX}");
    let verified: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "session_verified")
        .collect();
    assert_eq!(verified.len(), 1, "{}", r.stdout);
    assert_eq!(
        verified[0]["details"]["user"].as_str(),
        Some(exact.as_str())
    );
    assert_eq!(
        verified[0]["message"].as_str(),
        Some(format!("Signed in as {exact} (basic auth)").as_str())
    );
}
