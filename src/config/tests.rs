//! Unit tests of settings loading and validation.

use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let flags = FlagOverrides {
        data_dir: Some("/tmp/x".into()),
        ..Default::default()
    };
    Settings::from_vars(&flags, &vars(pairs))
}

#[test]
fn plain_http_is_refused_unless_loopback() {
    let err = load(&[("CONFLUENCE_BASE_URL", "http://example.com/wiki")]).unwrap_err();
    assert!(err.to_string().contains("CONFLUENCE_BASE_URL"), "{err}");
    assert!(err.to_string().contains("loopback"), "{err}");
    for ok in [
        "http://127.0.0.1:8080/wiki",
        "http://localhost:1",
        "http://[::1]:9/wiki",
        "https://x.atlassian.net/wiki/",
    ] {
        let s = load(&[("CONFLUENCE_BASE_URL", ok)]).unwrap();
        let path = s.base_url.unwrap().path().to_string();
        assert!(path == "/" || !path.ends_with('/'), "{path}");
    }
}

#[test]
fn errors_name_setting_value_and_valid_example() {
    let err = load(&[("CONFLUENCE_KDF_LOG_N", "42")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("CONFLUENCE_KDF_LOG_N") && err.contains("42") && err.contains("e.g. 17"),
        "{err}"
    );
    let err = load(&[("CONFLUENCE_AUTH", "kerberos")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("kerberos") && err.contains("basic"), "{err}");
}

#[test]
fn secret_setting_values_never_appear_in_errors() {
    let err = load(&[("CONFLUENCE_API_TOKEN", "SENTINEL TOKEN")])
        .unwrap_err()
        .to_string();
    assert!(!err.contains("SENTINEL"), "{err}");
    let err = load(&[("CONFLUENCE_BASE_URL", "ftp://user:SENTINELPW@host/")])
        .unwrap_err()
        .to_string();
    assert!(!err.contains("SENTINELPW"), "{err}");
}

#[test]
fn defaults_apply() {
    let s = load(&[]).unwrap();
    assert_eq!(s.kdf_log_n, 17);
    assert_eq!(s.cookie_ttl, time::Duration::days(14));
    assert_eq!(s.timeout, Duration::from_secs(30));
    assert_eq!(s.auth, AuthSetting::Auto);
    assert!(s.base_url.is_none());
}

#[test]
fn flags_beat_environment() {
    let flags = FlagOverrides {
        base_url: Some("https://flag.example.com".into()),
        data_dir: Some("/d".into()),
        ..Default::default()
    };
    let s = Settings::from_vars(
        &flags,
        &vars(&[
            ("CONFLUENCE_BASE_URL", "https://env.example.com"),
            ("CONFLUENCE_DATA_DIR", "/e"),
        ]),
    )
    .unwrap();
    assert_eq!(s.base_url.unwrap().host_str(), Some("flag.example.com"));
    assert_eq!(s.data_dir, PathBuf::from("/d"));
}

#[test]
fn the_kdf_cost_setting_takes_exactly_the_range_the_vault_reads() {
    let (low, high) = (*KDF_LOG_N_RANGE.start(), *KDF_LOG_N_RANGE.end());
    for ok in [low, DEFAULT_KDF_LOG_N, high] {
        let s = load(&[("CONFLUENCE_KDF_LOG_N", &ok.to_string())]).unwrap();
        assert_eq!(s.kdf_log_n, ok);
    }
    for bad in [low - 1, high + 1] {
        let err = load(&[("CONFLUENCE_KDF_LOG_N", &bad.to_string())])
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("from {low} to {high}")), "{err}");
    }
}

#[test]
fn confluence_browser_names_a_browser_and_maybe_a_profile() {
    use crate::browser::{BrowserChoice, BrowserKind};
    let s = load(&[("CONFLUENCE_BROWSER", "firefox:/home/u/ff profile")]).unwrap();
    let spec = s.browser.unwrap();
    assert_eq!(spec.choice, BrowserChoice::One(BrowserKind::Firefox));
    assert_eq!(
        spec.profile.as_deref(),
        Some(std::path::Path::new("/home/u/ff profile"))
    );
    assert!(
        load(&[("CONFLUENCE_BROWSER", "")])
            .unwrap()
            .browser
            .is_none()
    );
    let err = load(&[("CONFLUENCE_BROWSER", "lynx")]).unwrap_err();
    assert!(err.to_string().contains("CONFLUENCE_BROWSER"), "{err}");
    assert!(err.to_string().contains("firefox, chromium"), "{err}");
}
