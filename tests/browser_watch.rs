//! `watch --from-browser`: while the session is dead, a fresh login that
//! lands in the browser's profile is imported by itself, verified, and
//! `watch` reports `signed_in` again; nobody runs an import.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::browser::*;
use common::site::Site;
use common::watch::Watch;
use common::*;

#[test]
fn watch_imports_a_fresh_login_from_the_firefox_profile_and_signs_in_again() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let (profile, first) = imported_firefox_profile(&site, &sb);

    let watch = Watch::firefox(&sb, &site, &profile, &[]);
    assert_eq!(watch.next(Duration::from_secs(15))["state"], "signed_in");

    // The session dies on the site.
    site.faults(|f| f.session_expire_after = Some(Duration::ZERO));
    let died = watch.next(Duration::from_secs(10));
    assert_eq!(died["state"], "expired", "{died}");

    // The user signs in again in the browser: a new session, which the
    // browser saves to its session store.
    sign_in_again(&site);
    site.faults(|f| f.session_expire_after = None);
    let fresh = session_cookies(&site);
    assert_ne!(fresh[0].value, first, "a new session");
    write_firefox_session_store(&profile, &fresh);

    let back = watch.next(Duration::from_secs(20));
    assert_eq!(back["state"], "signed_in", "{back}");
    // The fresh session is what is stored now, audited as a browser import.
    assert_live_session_stored(&site, &sb);
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    let saved = audit
        .lines()
        .filter(|l| l.contains("\"cookies_saved\"") && l.contains("browser:firefox:"))
        .count();
    assert_eq!(saved, 2, "the first import and the watcher's: {audit}");
    assert!(
        !audit.contains(&fresh[0].value),
        "no value in the audit log"
    );
}

#[test]
fn after_a_captcha_confluence_browser_brings_in_the_chromium_login() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    site.import_live(&sb);
    let user_data = sb.dir.path().join("chromium");
    let old: Vec<(FixtureCookie, &[u8])> = session_cookies(&site)
        .into_iter()
        .map(|c| (c, b"v10".as_slice()))
        .collect();
    write_chromium_profile(&user_data, &old);
    let browser = format!("chromium:{}", user_data.display());
    let watch = Watch::start(&sb, &site, &[], &[("CONFLUENCE_BROWSER", &browser)]);
    assert_eq!(watch.next(Duration::from_secs(15))["state"], "signed_in");

    use confluence_tui::demo::CaptchaForm;
    site.faults(|f| f.captcha = Some(CaptchaForm::Header403));
    let challenged = watch.next(Duration::from_secs(10));
    assert_eq!(challenged["state"], "captcha", "{challenged}");
    // The same (now challenged) session in the profile is not re-imported.
    std::fs::remove_file(user_data.join("Default/Cookies")).unwrap();
    write_chromium_profile(&user_data, &old);
    assert!(
        watch.lines.recv_timeout(Duration::from_secs(3)).is_err(),
        "nothing new: still captcha"
    );

    // The user solves it in the browser: a fresh session (CAPTCHA
    // cleared), which Chromium writes to its database.
    sign_in_again(&site);
    let fresh: Vec<(FixtureCookie, &[u8])> = session_cookies(&site)
        .into_iter()
        .map(|c| (c, b"v10".as_slice()))
        .collect();
    std::fs::remove_file(user_data.join("Default/Cookies")).unwrap();
    write_chromium_profile(&user_data, &fresh);
    let back = watch.next(Duration::from_secs(20));
    assert_eq!(back["state"], "signed_in", "{back}");
    assert_live_session_stored(&site, &sb);
}
