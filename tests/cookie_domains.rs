//! Cookies belong to their site: a browser-wide paste keeps only the cookies
//! that domain-match and path-match the configured site (RFC 6265, public
//! suffixes refused), the rest are dropped with a warning naming their
//! domains; the site receives only its own cookies; and a `Set-Cookie` for
//! another domain or of absurd size never replaces the stored session.

mod common;

use std::collections::HashMap;

use common::*;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::cookies::CookieJar;
use confluence_tui::credentials::Credentials;
use confluence_tui::demo::{
    CLOUD_SESSION_COOKIE, DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer,
};
use confluence_tui::secret::ExposeSecret;
use serde_json::json;

const SITE: &str = "https://x.atlassian.net/wiki";
/// Far in the future (2100-01-01), so no cookie is dropped as expired.
const LATER: i64 = 4_102_444_800;

/// One browser cookie, as both export formats describe it.
struct BrowserCookie {
    domain: &'static str,
    host_only: bool,
    path: &'static str,
    secure: bool,
    name: &'static str,
    value: &'static str,
}

const fn bc(
    domain: &'static str,
    host_only: bool,
    path: &'static str,
    name: &'static str,
    value: &'static str,
) -> BrowserCookie {
    BrowserCookie {
        domain,
        host_only,
        path,
        secure: true,
        name,
        value,
    }
}

/// Everything a browser holds: the site's cookies, another tenant's, a
/// shared parent domain's, a public suffix's, and unrelated sites'.
const BROWSER: &[BrowserCookie] = &[
    bc(".google.com", false, "/", "NID", "SENTINEL-google"),
    bc(
        ".atlassian.net",
        false,
        "/",
        CLOUD_SESSION_COOKIE,
        "SENTINEL-cloud",
    ),
    bc(
        "x.atlassian.net",
        true,
        "/",
        "tenant.session.token",
        "SENTINEL-tenant",
    ),
    bc(".mybank.com", false, "/", "bank_session", "SENTINEL-bank"),
    bc(
        "x.atlassian.net",
        true,
        "/wiki",
        "atlassian.xsrf.token",
        "SENTINEL-xsrf",
    ),
    bc(
        "x.atlassian.net",
        true,
        "/jira",
        "jira.only",
        "SENTINEL-jira",
    ),
    // `net` is on the public suffix list: it domain-matches the site's
    // host, and still no site may set or receive a cookie for it.
    bc(".net", false, "/", "supercookie", "SENTINEL-suffix"),
    // Another tenant's cookie of the same name comes last: it must not
    // replace the site's own.
    bc(
        "y.atlassian.net",
        true,
        "/",
        "tenant.session.token",
        "SENTINEL-other-tenant",
    ),
];

/// The names and values the site keeps, in paste order.
const KEPT: &[(&str, &str)] = &[
    (CLOUD_SESSION_COOKIE, "SENTINEL-cloud"),
    ("tenant.session.token", "SENTINEL-tenant"),
    ("atlassian.xsrf.token", "SENTINEL-xsrf"),
];

fn netscape(cookies: &[BrowserCookie]) -> String {
    let mut text = String::from("# Netscape HTTP Cookie File\n");
    for c in cookies {
        let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{LATER}\t{}\t{}\n",
            c.domain,
            flag(!c.host_only),
            c.path,
            flag(c.secure),
            c.name,
            c.value
        ));
    }
    text
}

fn cookie_editor_json(cookies: &[BrowserCookie]) -> String {
    let entries: Vec<_> = cookies
        .iter()
        .map(|c| {
            json!({
                "domain": c.domain,
                "hostOnly": c.host_only,
                "path": c.path,
                "secure": c.secure,
                "httpOnly": true,
                "session": false,
                "expirationDate": LATER,
                "name": c.name,
                "value": c.value,
            })
        })
        .collect();
    serde_json::to_string_pretty(&entries).unwrap()
}

fn settings_for(sb: &Sandbox, site: &str) -> Settings {
    let vars = HashMap::from([("CONFLUENCE_BASE_URL".to_string(), site.to_string())]);
    let flags = FlagOverrides {
        data_dir: Some(sb.data()),
        ..Default::default()
    };
    Settings::from_vars(&flags, &vars).unwrap()
}

/// The jar stored for `site`, read through the library.
fn stored_jar(sb: &Sandbox, site: &str) -> CookieJar {
    let settings = settings_for(sb, site);
    let doc = Credentials::open(&settings).load().unwrap();
    doc.site(&settings.site().unwrap())
        .and_then(|own| own.cookies.clone())
        .expect("cookies stored for the site")
        .jar
}

fn pairs(jar: &CookieJar) -> Vec<(String, String)> {
    jar.cookies
        .iter()
        .map(|c| (c.name.clone(), c.value.expose_secret().to_string()))
        .collect()
}

fn kept() -> Vec<(String, String)> {
    KEPT.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Imports `paste` for `SITE` through the binary; returns its output.
fn import_for_site(sb: &Sandbox, paste: String) -> String {
    let out = sb
        .cmd()
        .env("CONFLUENCE_BASE_URL", SITE)
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(paste)
        .output()
        .unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "import: {o}{e}");
    format!("{o}{e}")
}

fn assert_only_the_sites_cookies_were_kept(sb: &Sandbox, output: &str) {
    assert_eq!(pairs(&stored_jar(sb, SITE)), kept());
    let lower = output.to_lowercase();
    assert!(
        lower.contains("dropped 4 cookies for other domains"),
        "says how many: {output}"
    );
    for domain in [".google.com", ".mybank.com", ".net", "y.atlassian.net"] {
        assert!(output.contains(domain), "names {domain}: {output}");
    }
    assert!(
        lower.contains("dropped 1 cookie for other paths") && output.contains("/jira"),
        "says which path: {output}"
    );
    assert!(!output.contains("SENTINEL"), "no value shown: {output}");
}

#[test]
fn a_browser_wide_netscape_file_keeps_only_the_sites_cookies() {
    let sb = Sandbox::new();
    let output = import_for_site(&sb, netscape(BROWSER));
    assert_only_the_sites_cookies_were_kept(&sb, &output);
}

#[test]
fn a_browser_wide_cookie_editor_export_keeps_only_the_sites_cookies() {
    let sb = Sandbox::new();
    let output = import_for_site(&sb, cookie_editor_json(BROWSER));
    assert_only_the_sites_cookies_were_kept(&sb, &output);
}

#[test]
fn the_import_report_lists_the_dropped_domains() {
    let sb = Sandbox::new();
    let creds = Credentials::open(&settings_for(&sb, SITE));
    let report = creds
        .import(
            confluence_tui::credentials::ImportInput::Paste(netscape(BROWSER).into()),
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
    assert_eq!(
        report.names,
        KEPT.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>()
    );
    let domains = report
        .warnings
        .iter()
        .find(|w| w.contains("other domains"))
        .unwrap_or_else(|| panic!("a warning about other domains: {:?}", report.warnings));
    assert!(
        domains.starts_with("Dropped 4 cookies for other domains: .google.com, .mybank.com, .net"),
        "{domains}"
    );
}

#[test]
fn a_bare_cookie_header_belongs_to_the_site() {
    let sb = Sandbox::new();
    let output = import_for_site(&sb, cloud_header("SENTINEL-header"));
    assert!(!output.to_lowercase().contains("dropped"), "{output}");
    assert_eq!(stored_jar(&sb, SITE).len(), 3);
}

// ------------------------------------------------------- the demo site

/// A demo site on its own runtime, alive while the test runs the binary.
struct Site {
    // Dropped first: its Drop stops the server task on the runtime below.
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    fn cloud(faults: DemoFaults) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor: DemoFlavor::Cloud,
            data: DemoData {
                spaces: 3,
                pages_per_space: 2,
            },
            faults,
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, _rt: rt }
    }

    fn base_url(&self) -> String {
        self.server.base_url().to_string()
    }

    /// The binary configured for this site.
    fn cmd(&self, sb: &Sandbox) -> assert_cmd::Command {
        let mut c = sb.cmd();
        c.env("CONFLUENCE_BASE_URL", self.base_url())
            .env("CONFLUENCE_DEPLOYMENT", "cloud");
        c
    }

    fn run(&self, sb: &Sandbox, args: &[&str], stdin: Option<String>) -> (Option<i32>, String) {
        let mut c = self.cmd(sb);
        if let Some(text) = stdin {
            c.write_stdin(text);
        }
        let out = c.args(args).output().unwrap();
        (
            out.status.code(),
            format!("{}{}", stdout(&out), stderr(&out)),
        )
    }

    fn import(&self, sb: &Sandbox, paste: String) -> String {
        let (code, output) = self.run(sb, &["cookies", "import", "--no-verify", "-"], Some(paste));
        assert_eq!(code, Some(0), "import: {output}");
        output
    }

    /// The live session value the demo issued.
    fn live_session(&self) -> String {
        let header = self.server.session_cookie_header();
        header
            .split("; ")
            .find_map(|pair| pair.strip_prefix(&format!("{CLOUD_SESSION_COOKIE}=")))
            .unwrap()
            .to_string()
    }

    /// The stored session value, described by its length and head when it
    /// differs from `expected` (a 100 KB value must not flood the output).
    fn assert_stored_session(&self, sb: &Sandbox, expected: &str, what: &str) {
        let stored = self.stored_session(sb);
        assert!(
            stored == expected,
            "{what}: stored session is {} bytes, starting {:?}",
            stored.len(),
            stored.chars().take(40).collect::<String>()
        );
    }

    fn stored_session(&self, sb: &Sandbox) -> String {
        let jar = stored_jar(sb, &self.base_url());
        jar.get(CLOUD_SESSION_COOKIE)
            .expect("session cookie stored")
            .value
            .expose_secret()
            .to_string()
    }
}

#[test]
fn the_site_receives_only_its_own_cookies() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    let session = site.live_session();
    let file = format!(
        "# Netscape HTTP Cookie File\n\
         127.0.0.1\tFALSE\t/\tTRUE\t{LATER}\t{CLOUD_SESSION_COOKIE}\t{session}\n\
         .google.com\tTRUE\t/\tTRUE\t{LATER}\tNID\tSENTINEL-google\n\
         127.0.0.1\tFALSE\t/wiki\tFALSE\t{LATER}\tatlassian.xsrf.token\tSENTINEL-xsrf\n\
         .mybank.com\tTRUE\t/\tTRUE\t{LATER}\tbank_session\tSENTINEL-bank\n\
         127.0.0.1\tFALSE\t/jira\tFALSE\t{LATER}\tjira.only\tSENTINEL-jira\n\
         127.0.0.2\tFALSE\t/\tFALSE\t{LATER}\tneighbour\tSENTINEL-neighbour\n"
    );
    site.import(&sb, file);
    let (code, output) = site.run(&sb, &["check"], None);
    assert_eq!(code, Some(0), "signed in with the site's cookies: {output}");
    let (code, output) = site.run(&sb, &["spaces", "--json"], None);
    assert_eq!(code, Some(0), "listing: {output}");
    let seen = site.server.cookie_names_seen();
    assert!(!seen.is_empty(), "the site was asked");
    for names in &seen {
        let mut names = names.clone();
        names.sort();
        assert_eq!(
            names,
            ["atlassian.xsrf.token", CLOUD_SESSION_COOKIE],
            "every request carries exactly the site's cookies: {seen:?}"
        );
    }
}

#[test]
fn set_cookie_for_another_domain_or_of_absurd_size_leaves_the_session_alone() {
    let site = Site::cloud(DemoFaults {
        hostile_set_cookies: true,
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    let session = site.live_session();
    site.import(&sb, site.server.session_cookie_header());
    site.assert_stored_session(&sb, &session, "imported");
    let (code, output) = site.run(&sb, &["check"], None);
    assert_eq!(code, Some(0), "first check: {output}");
    site.assert_stored_session(&sb, &session, "after the hostile Set-Cookies");
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(
        !audit.contains("cookies_refreshed"),
        "nothing was refreshed: {audit}"
    );
    // The next request still sends the old value (the demo refuses any
    // other), and sends it alone: no second session cookie appeared.
    let (code, output) = site.run(&sb, &["check"], None);
    assert_eq!(code, Some(0), "second check: {output}");
    let seen = site.server.cookie_names_seen();
    let last = seen.last().unwrap();
    assert_eq!(
        last.iter().filter(|n| *n == CLOUD_SESSION_COOKIE).count(),
        1,
        "{seen:?}"
    );
    site.assert_stored_session(&sb, &session, "after the second check");
    assert!(!output.contains("planted"), "{output}");
}

#[test]
fn set_cookie_from_the_site_still_refreshes_the_session() {
    let site = Site::cloud(DemoFaults {
        rotate_cookies: true,
        hostile_set_cookies: true,
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    let before = site.live_session();
    site.import(&sb, site.server.session_cookie_header());
    let (code, output) = site.run(&sb, &["check"], None);
    assert_eq!(code, Some(0), "check: {output}");
    assert_ne!(
        site.stored_session(&sb),
        before,
        "the site's own rotation was kept"
    );
    site.assert_stored_session(&sb, &site.live_session(), "the live value");
}
