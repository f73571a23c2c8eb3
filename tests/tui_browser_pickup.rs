//! The interface in a real terminal (tmux) with `CONFLUENCE_BROWSER` set:
//! the session dies, the user signs in again in the browser (a fresh
//! session lands in the Firefox profile's session store), and the app
//! imports it, verifies it and shows SIGNED IN without a key press.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::browser::*;
use common::site::Site;
use common::tmux::{Tmux, have_tmux};
use common::*;

/// The app in the sandbox (its `.env` is read from there) for `site`, the
/// keep-alive every second, with `extra_env` (`NAME='value'` words).
fn tui_script(sb: &Sandbox, site: &Site, extra_env: &str) -> String {
    format!(
        "cd '{}' && env -i PATH=\"$PATH\" TERM=xterm-256color CONFLUENCE_DATA_DIR='{}' CONFLUENCE_KDF_LOG_N=10 CONFLUENCE_BASE_URL='{}' CONFLUENCE_DEPLOYMENT=server CONFLUENCE_KEEPALIVE_SECS=1 {extra_env} '{}'",
        sb.dir.path().display(),
        sb.data().display(),
        site.server.base_url().as_str(),
        env!("CARGO_BIN_EXE_confluence-tui"),
    )
}

#[test]
fn the_tui_picks_up_a_fresh_browser_login_without_a_key_press() {
    if !have_tmux() {
        return;
    }
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let (profile, first) = imported_firefox_profile(&site, &sb);

    let browser = format!("CONFLUENCE_BROWSER='firefox:{}'", profile.display());
    let script = tui_script(&sb, &site, &browser);
    let t = Tmux::start("browser-pickup", &script, 120, 30);
    t.wait_for("SIGNED IN", Duration::from_secs(20));

    // The session dies on the site; the keep-alive sees it.
    site.faults(|f| f.session_expire_after = Some(Duration::ZERO));
    t.wait_for("EXPIRED", Duration::from_secs(10));

    // The user signs in again in the browser.
    sign_in_again(&site);
    site.faults(|f| f.session_expire_after = None);
    let fresh = session_cookies(&site);
    assert_ne!(fresh[0].value, first, "a new session");
    write_firefox_session_store(&profile, &fresh);

    let screen = t.wait_for("SIGNED IN", Duration::from_secs(20));
    assert!(
        screen.contains("Imported a fresh session from firefox"),
        "{screen}"
    );
    assert_live_session_stored(&site, &sb);
}

/// A browser named only after the app started (`CONFLUENCE_BROWSER` added
/// to `.env`, then `r`): the reload starts the watch, and since the session
/// is already dead it looks in the browser at once.
#[test]
fn a_browser_named_by_a_reload_is_watched_and_looked_in_at_once() {
    if !have_tmux() {
        return;
    }
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let (profile, first) = imported_firefox_profile(&site, &sb);

    let script = tui_script(&sb, &site, "");
    let t = Tmux::start("browser-reload", &script, 120, 30);
    t.wait_for("SIGNED IN", Duration::from_secs(20));
    site.server.control().end_session();
    t.wait_for("EXPIRED", Duration::from_secs(10));

    // Signed in again in the browser, but no browser is named yet.
    sign_in_again(&site);
    let fresh = session_cookies(&site);
    assert_ne!(fresh[0].value, first, "a new session");
    write_firefox_session_store(&profile, &fresh);
    std::thread::sleep(Duration::from_secs(2));
    let screen = t.screen();
    assert!(
        screen.contains("EXPIRED"),
        "nothing named, nothing read: {screen}"
    );

    std::fs::write(
        sb.dir.path().join(".env"),
        format!("CONFLUENCE_BROWSER='firefox:{}'\n", profile.display()),
    )
    .unwrap();
    t.keys(&["r"]);
    let screen = t.wait_for("SIGNED IN", Duration::from_secs(20));
    assert!(
        screen.contains("Imported a fresh session from firefox"),
        "{screen}"
    );
    assert_live_session_stored(&site, &sb);
}
