//! A real third-party Confluence client through `exec --proxy`: the
//! atlassian-python-api library from PyPI (a virtualenv built from
//! tests/pyclient/requirements.txt) walks a fake site on which API tokens are
//! disabled, as on an SSO site. It lists every space, the pages of one space
//! and one page's body with nothing but the proxy's URL and per-run token,
//! while the site sees only the session cookie, never a Basic header.
#![cfg(unix)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::python::{python_with_client, scripts};
use common::*;
use confluence_tui::demo::{
    CLOUD_SESSION_COOKIE, DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer,
};
use serde_json::Value;

const SPACES: usize = 130; // more than one page of 100 for the client
const PAGES_PER_SPACE: usize = 60; // more than one page of 50 for the client

struct Site {
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

fn sso_site() -> Site {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = DemoConfig {
        flavor: DemoFlavor::Cloud,
        data: DemoData {
            spaces: SPACES,
            pages_per_space: PAGES_PER_SPACE,
        },
        faults: DemoFaults {
            tokens_disabled: true,
            ..DemoFaults::default()
        },
    };
    let server = rt
        .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    Site { server, _rt: rt }
}

fn bin(sb: &Sandbox, site: &Site) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFLUENCE_DATA_DIR", sb.data())
        .env("CONFLUENCE_KDF_LOG_N", "10")
        .env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
        .env("CONFLUENCE_DEPLOYMENT", "cloud")
        .env("CONFLUENCE_KEEPALIVE_SECS", "0")
        .current_dir(sb.dir.path());
    c
}

fn json_of(c: &mut Command) -> Value {
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

#[test]
fn atlassian_python_api_walks_an_sso_site_through_exec_proxy() {
    let Some(python) = python_with_client() else {
        return;
    };
    let site = sso_site();
    let sb = Sandbox::new();

    // The site really refuses API tokens: the demo's own valid token fails.
    let out = bin(&sb, &site)
        .args(["check"])
        .env("CONFLUENCE_USERNAME", confluence_tui::demo::DEMO_EMAIL)
        .env("CONFLUENCE_API_TOKEN", confluence_tui::demo::DEMO_API_TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // Browser cookies, as a paste would bring them.
    let cookie = site.server.session_cookie_header();
    let out = bin(&sb, &site)
        .args(["cookies", "import", "--no-verify", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write as _;
            child.stdin.take().unwrap().write_all(cookie.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // What the tool itself lists directly, to compare with.
    let spaces = json_of(bin(&sb, &site).args(["spaces", "--json"]));
    let want_keys: BTreeSet<String> = spaces
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(want_keys.len(), SPACES);
    let key = spaces[7]["key"].as_str().unwrap().to_string();
    let pages = json_of(bin(&sb, &site).args(["pages", &key, "--json"]));
    let want_pages: BTreeSet<String> = pages
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(want_pages.len(), PAGES_PER_SPACE);
    let before = site.server.requests_seen().len();

    let out = bin(&sb, &site)
        .env("WALK_CLOUD", "1")
        .args(["exec", "--proxy", "--"])
        .arg(&python)
        .arg(scripts().join("walk.py"))
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let walked: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));

    // Every space, every page of the space, one page's body.
    let got_keys: BTreeSet<String> = walked["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(got_keys, want_keys);
    assert_eq!(
        walked["spaces"].as_array().unwrap().len(),
        SPACES,
        "no space twice"
    );
    let got_pages: BTreeSet<String> = walked["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    assert_eq!(got_pages, want_pages);
    let page_id = walked["page"].as_str().unwrap();
    let listed = pages
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == page_id)
        .expect("the page read is one of the space's");
    assert_eq!(walked["title"], listed["title"]);
    assert!(
        !walked["body"].as_str().unwrap().trim().is_empty(),
        "a storage body: {walked}"
    );

    // The client had the proxy's URL and token only, never the cookie.
    let handed: Vec<&str> = walked["handed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for name in [
        "CONFLUENCE_API_TOKEN",
        "CONFLUENCE_AUTH",
        "CONFLUENCE_BASE_URL",
        "CONFLUENCE_USERNAME",
    ] {
        assert!(handed.contains(&name), "{name} not handed: {handed:?}");
    }
    assert!(!handed.contains(&"CONFLUENCE_COOKIE"), "{handed:?}");
    assert!(
        walked["base_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    let cookie_value = cookie.split_once('=').unwrap().1;
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(cookie_value), "the cookie value leaked");

    // The site saw the walk with the session cookie only: no Basic header,
    // no Authorization of any kind.
    let seen = site.server.requests_seen();
    let walk = &seen[before..];
    // Two pages of spaces, two of pages, one page.
    let least = 5;
    assert!(walk.len() >= least, "{} requests", walk.len());
    for r in walk {
        assert_eq!(
            r.authorization, None,
            "{} {} carried Authorization",
            r.method, r.path
        );
        assert!(
            r.cookie_names.iter().any(|n| n == CLOUD_SESSION_COOKIE),
            "{} {} without the session cookie",
            r.method,
            r.path
        );
    }
    assert!(walk.iter().any(|r| r.path.ends_with("/rest/api/space")));
    assert!(walk.iter().any(|r| r.path.ends_with("/rest/api/content")));
    assert!(
        walk.iter()
            .any(|r| r.path.ends_with(&format!("/rest/api/content/{page_id}")))
    );
}
