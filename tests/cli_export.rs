//! `cookies export` through the real binary: every format reads back
//! through the paste parser to the stored cookies, the export is audited
//! with names and never values, and it is refused (and audited) when there
//! is nothing usable to export: none stored (3), expired (3), a CAPTCHA (4),
//! no site (2).

mod common;

use std::collections::HashMap;

use common::site::Site;
use common::*;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::cookies::jar::Cookie;
use confluence_tui::cookies::parse::{PasteFormat, parse_cookies_for_site};
use confluence_tui::credentials::{Credentials, ImportInput};
use confluence_tui::secret::ExposeSecret;
use serde_json::Value;
use time::{Duration, OffsetDateTime};
use url::Url;

const SESSION: &str = "SENTINELexportSessionR4t7u1";

/// A browser's cookies.txt for the sandbox site: a domain cookie (secure,
/// with an expiry), a host-only one under the context path, a session one.
fn cookies_txt() -> String {
    let in_a_week = (OffsetDateTime::now_utc() + Duration::days(7)).unix_timestamp();
    format!(
        "# Netscape HTTP Cookie File\n\
         .atlassian.net\tTRUE\t/\tTRUE\t{in_a_week}\tcloud.session.token\t{SESSION}\n\
         example.atlassian.net\tFALSE\t/wiki\tFALSE\t0\tatlassian.xsrf.token\txsrf-value\n\
         example.atlassian.net\tFALSE\t/\tTRUE\t0\tJSESSIONID\tjs-value\n"
    )
}

fn import(sb: &Sandbox, text: &str) {
    let out = sb
        .cmd()
        .args(["cookies", "import", "--no-verify", "-"])
        .write_stdin(text.to_string())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn export(sb: &Sandbox, format: &str) -> std::process::Output {
    sb.cmd()
        .env("RUST_LOG", "trace")
        .args(["cookies", "export", "--format", format])
        .output()
        .unwrap()
}

/// What the vault holds for the sandbox site, read through the library.
fn stored(sb: &Sandbox) -> Vec<Cookie> {
    let settings = settings(sb);
    let doc = Credentials::open(&settings).load().unwrap();
    let own = doc.site(&settings.site().unwrap()).unwrap();
    own.cookies.clone().unwrap().jar.cookies
}

fn settings(sb: &Sandbox) -> Settings {
    let vars = HashMap::from([
        ("CONFLUENCE_BASE_URL".to_string(), SANDBOX_SITE.to_string()),
        ("CONFLUENCE_KDF_LOG_N".to_string(), "10".to_string()),
    ]);
    let flags = FlagOverrides {
        data_dir: Some(sb.data()),
        ..Default::default()
    };
    Settings::from_vars(&flags, &vars).unwrap()
}

fn audit_records(sb: &Sandbox) -> Vec<Value> {
    std::fs::read_to_string(sb.audit())
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn last_record(sb: &Sandbox) -> Value {
    audit_records(sb).pop().expect("an audit record")
}

#[test]
fn every_format_reads_back_through_the_paste_parser() {
    let sb = Sandbox::new();
    import(&sb, &cookies_txt());
    let stored = stored(&sb);
    assert_eq!(stored.len(), 3);
    let site = Url::parse(SANDBOX_SITE).unwrap();
    let now = OffsetDateTime::now_utc();
    for (format, pasted) in [
        ("header", PasteFormat::CookieHeader),
        ("netscape", PasteFormat::Netscape),
        ("json", PasteFormat::CookieEditorJson),
    ] {
        let out = export(&sb, format);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        let text = stdout(&out);
        let parsed = parse_cookies_for_site(&text, &site, now)
            .unwrap_or_else(|e| panic!("{format} does not parse: {e}"));
        assert_eq!(parsed.format, pasted, "{format}");
        assert!(
            parsed.warnings.is_empty(),
            "{format}: {:?}",
            parsed.warnings
        );
        let names: Vec<&str> = parsed.jar.cookies.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["cloud.session.token", "atlassian.xsrf.token", "JSESSIONID"],
            "{format}"
        );
        for (back, orig) in parsed.jar.cookies.iter().zip(&stored) {
            assert_eq!(
                back.value.expose_secret(),
                orig.value.expose_secret(),
                "{format}: {}",
                orig.name
            );
            if format == "header" {
                continue; // a header carries names and values only
            }
            assert_eq!(back.domain, orig.domain, "{format}: {}", orig.name);
            assert_eq!(back.path, orig.path, "{format}: {}", orig.name);
            assert_eq!(back.secure, orig.secure, "{format}: {}", orig.name);
            assert_eq!(back.expires, orig.expires, "{format}: {}", orig.name);
        }
    }
    // The default is the header, exactly as the site would be sent it.
    let out = sb.cmd().args(["cookies", "export"]).output().unwrap();
    assert_eq!(
        stdout(&out),
        format!(
            "cloud.session.token={SESSION}; atlassian.xsrf.token=xsrf-value; JSESSIONID=js-value\n"
        )
    );
    // And what was exported imports again as the same set.
    let json = stdout(&export(&sb, "json"));
    import(&sb, &json);
    let again = stored_names_and_values(&sb);
    assert_eq!(
        again,
        stored
            .iter()
            .map(|c| (c.name.clone(), c.value.expose_secret().to_string()))
            .collect::<Vec<_>>()
    );
}

fn stored_names_and_values(sb: &Sandbox) -> Vec<(String, String)> {
    stored(sb)
        .iter()
        .map(|c| (c.name.clone(), c.value.expose_secret().to_string()))
        .collect()
}

#[test]
fn a_pasted_header_exports_as_the_site_hosts_own_cookies() {
    let sb = Sandbox::new();
    import(&sb, &cloud_header(SESSION));
    let out = export(&sb, "netscape");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# Netscape HTTP Cookie File");
    assert_eq!(
        lines[2],
        format!("example.atlassian.net\tFALSE\t/\tFALSE\t0\tcloud.session.token\t{SESSION}")
    );
    let out = export(&sb, "json");
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v[0]["name"], "cloud.session.token");
    assert_eq!(v[0]["value"], SESSION);
    assert_eq!(v[0]["domain"], "example.atlassian.net");
    assert_eq!(v[0]["path"], "/");
    assert_eq!(v[0]["secure"], false);
    assert!(v[0]["expires"].is_null());
}

#[test]
fn an_export_is_audited_with_names_and_never_values() {
    let sb = Sandbox::new();
    import(&sb, &cookies_txt());
    for format in ["header", "netscape", "json"] {
        let out = export(&sb, format);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stdout(&out).contains(SESSION), "the value is the output");
        assert!(
            !stderr(&out).contains(SESSION),
            "{format}: {}",
            stderr(&out)
        );
        let r = last_record(&sb);
        assert_eq!(r["event"], "cookies_exported");
        assert_eq!(r["outcome"], "success");
        let d = &r["details"];
        assert_eq!(d["count"], 3);
        assert_eq!(
            d["names"],
            serde_json::json!(["cloud.session.token", "atlassian.xsrf.token", "JSESSIONID"])
        );
        assert_eq!(d["format"], format);
        assert_eq!(d["site"], SANDBOX_SITE);
    }
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(!audit.contains(SESSION), "a value reached the audit log");
    let log = std::fs::read_to_string(sb.data().join("logs/confluence-tui.log")).unwrap();
    assert!(!log.is_empty(), "RUST_LOG=trace wrote diagnostics");
    assert!(!log.contains(SESSION), "a value reached the diagnostics");
    // Not a terminal: no warning on stderr either.
    assert!(stderr(&export(&sb, "header")).is_empty());
}

/// A refusal: the exit code, nothing on stdout, the words on stderr, and a
/// failure record with the reason code.
fn assert_refused(out: &std::process::Output, code: i32, says: &str, reason: &str, sb: &Sandbox) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(out.stdout.is_empty(), "nothing exported: {}", stdout(out));
    assert!(err.contains(says), "says {says:?}: {err}");
    let r = last_record(sb);
    assert_eq!(r["event"], "cookie_operation_failed", "{r}");
    assert_eq!(r["outcome"], "failure");
    assert_eq!(r["details"]["reason"], reason, "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .starts_with("Could not export cookies")
    );
}

#[test]
fn nothing_stored_is_refused_with_exit_3_and_how_to_import() {
    let sb = Sandbox::new();
    for format in ["header", "netscape", "json"] {
        let out = export(&sb, format);
        assert_refused(&out, 3, "confluence-tui cookies import", "no_cookies", &sb);
        assert_eq!(last_record(&sb)["details"]["format"], format);
    }
    // A token alone is no cookie to export.
    let out = sb
        .cmd()
        .args(["token", "set", "--no-verify"])
        .write_stdin("a-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_refused(
        &export(&sb, "header"),
        3,
        "no cookies are stored",
        "no_cookies",
        &sb,
    );
}

#[test]
fn no_site_is_refused_with_exit_2() {
    let sb = Sandbox::new();
    let out = sb
        .cmd_without_site()
        .args(["cookies", "export"])
        .output()
        .unwrap();
    assert_refused(&out, 2, "CONFLUENCE_BASE_URL", "no_site", &sb);
}

#[test]
fn cookies_past_their_age_are_refused_with_exit_3_and_marked_once() {
    let sb = Sandbox::new();
    let creds = Credentials::open(&settings(&sb));
    let then = OffsetDateTime::now_utc() - Duration::days(15);
    creds
        .import(ImportInput::Paste(cloud_header(SESSION).into()), then)
        .unwrap();
    for _ in 0..2 {
        let out = export(&sb, "netscape");
        assert_refused(
            &out,
            3,
            "older than CONFLUENCE_COOKIE_TTL_DAYS",
            "cookies_expired",
            &sb,
        );
    }
    let expired = audit_records(&sb)
        .iter()
        .filter(|r| r["event"] == "cookies_expired")
        .count();
    assert_eq!(expired, 1, "marked expired once");
}

#[test]
fn cookies_the_site_refused_are_refused_with_exit_3_without_asking_it() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.store_expired_cookies(&sb);
    let asked = site.count();
    let out = site.cmd(&sb).args(["cookies", "export"]).output().unwrap();
    assert_refused(&out, 3, "have expired", "cookies_expired", &sb);
    assert_eq!(site.count(), asked, "the site was not asked");
}

#[test]
fn the_captcha_state_is_refused_with_exit_4_and_the_login_url() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let login = site.store_a_captcha(&sb);
    let asked = site.count();
    for format in ["header", "netscape", "json"] {
        let out = site
            .cmd(&sb)
            .args(["cookies", "export", "--format", format])
            .output()
            .unwrap();
        assert_refused(&out, 4, &login, "captcha", &sb);
        assert!(stderr(&out).contains("CAPTCHA"), "{}", stderr(&out));
    }
    assert_eq!(site.count(), asked, "the site was not asked");
    // Fresh cookies end the CAPTCHA state: the export works again.
    site.faults(|f| f.captcha = None);
    site.import_live(&sb);
    let out = site.cmd(&sb).args(["cookies", "export"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), site.server.session_cookie_header());
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let sb = Sandbox::new();
    let out = sb
        .cmd()
        .args(["cookies", "export", "--format", "yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("header"),
        "names the formats: {}",
        stderr(&out)
    );
}
