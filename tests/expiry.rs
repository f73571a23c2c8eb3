//! Cookie expiry: the earliest of now + TTL and the session cookies' own
//! expiry; expired sets are reported (exit 3), audited once, never used.

mod common;

use std::collections::HashMap;

use common::*;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::cookies::jar::ExpiryState;
use confluence_tui::credentials::{Credentials, ImportInput};
use time::{Duration, OffsetDateTime};

fn settings(sb: &Sandbox, ttl_days: &str) -> Settings {
    let vars: HashMap<String, String> = [
        ("CONFLUENCE_KDF_LOG_N", "10"),
        ("CONFLUENCE_COOKIE_TTL_DAYS", ttl_days),
        ("CONFLUENCE_BASE_URL", SANDBOX_SITE),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Settings::from_vars(
        &FlagOverrides {
            data_dir: Some(sb.data()),
            ..Default::default()
        },
        &vars,
    )
    .unwrap()
}

fn expired_records(sb: &Sandbox) -> usize {
    std::fs::read_to_string(sb.audit())
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"cookies_expired\""))
        .count()
}

#[test]
fn ttl_expiry_is_reported_audited_once_and_never_used() {
    let sb = Sandbox::new();
    let creds = Credentials::open(&settings(&sb, "14"));
    let then = OffsetDateTime::now_utc() - Duration::days(15);
    creds
        .import(ImportInput::Paste(cloud_header("old").into()), then)
        .unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(
        creds
            .usable_cookies(then + Duration::days(1))
            .unwrap()
            .is_some()
    );
    // `status` marks the set expired in the vault and reports the stored
    // mark, so the age shows up as the mark's reason.
    let by_age = ExpiryState::MarkedExpired {
        reason: "older than CONFLUENCE_COOKIE_TTL_DAYS".into(),
    };
    let st = creds.status(now).unwrap();
    assert_eq!(st.cookies.unwrap().state, by_age);
    assert_eq!(expired_records(&sb), 1);
    let st = creds.status(now).unwrap();
    assert_eq!(st.cookies.unwrap().state, by_age, "the mark is kept");
    assert_eq!(expired_records(&sb), 1, "audited once");
    assert!(creds.usable_cookies(now).unwrap().is_none(), "never used");
    // The real binary reports it as expired with exit 3, and audits nothing new.
    sb.cmd()
        .args(["cookies", "status"])
        .assert()
        .code(3)
        .stdout(predicates::str::contains("EXPIRED"));
    assert_eq!(expired_records(&sb), 1);
}

#[test]
fn the_session_cookies_own_expiry_wins_when_earlier() {
    let sb = Sandbox::new();
    let creds = Credentials::open(&settings(&sb, "14"));
    let now = OffsetDateTime::now_utc();
    let soon = now + Duration::hours(3);
    let json = format!(
        r#"[{{"name":"cloud.session.token","value":"v1","domain":".atlassian.net","path":"/","expirationDate":{}.5,"secure":true,"httpOnly":true}},
            {{"name":"other","value":"v2","domain":".atlassian.net","path":"/","expirationDate":{}}}]"#,
        soon.unix_timestamp(),
        (now + Duration::days(300)).unix_timestamp()
    );
    let report = creds.import(ImportInput::Paste(json.into()), now).unwrap();
    assert!(
        (report.expires_at - soon).whole_seconds().abs() <= 1,
        "{:?}",
        report.expires_at
    );
    let st = creds.status(now + Duration::hours(4)).unwrap();
    assert_eq!(
        st.cookies.unwrap().state,
        ExpiryState::MarkedExpired {
            reason: "the session cookie's own expiry has passed".into()
        }
    );
}

#[test]
fn ttl_setting_shortens_lifetime() {
    let sb = Sandbox::new();
    let creds = Credentials::open(&settings(&sb, "1"));
    let now = OffsetDateTime::now_utc();
    let report = creds
        .import(ImportInput::Paste(cloud_header("x").into()), now)
        .unwrap();
    assert_eq!(report.expires_at, now + Duration::days(1));
    let st = creds.status(now + Duration::hours(20)).unwrap();
    assert_eq!(
        st.cookies.unwrap().state,
        ExpiryState::ExpiresSoon {
            left: Duration::hours(4)
        }
    );
}
