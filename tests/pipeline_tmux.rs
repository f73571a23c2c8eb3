//! End to end: `confluence-tui --serve` in a real terminal (tmux) against
//! the fake site. The Pipeline screen (`4`) shows the proxy's URL and,
//! after Ctrl+R, its token; a request made with them appears in the log;
//! a session death the proxy sees switches the app to the status screen.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::site::Site;
use common::tmux::{Tmux, env_value, have_tmux, serve_script, through_proxy};
use common::*;

#[test]
fn serve_shows_the_proxy_its_traffic_and_a_death_it_sees() {
    if !have_tmux() {
        return;
    }
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.import_live(&sb);
    let t = Tmux::start("pipeline", &serve_script(&sb, &site, ""), 100, 30);
    t.wait_for("SIGNED IN", Duration::from_secs(30));

    t.keys(&["4"]);
    // The whole frame: a capture can land while the terminal is redrawn.
    let s = t.wait_until("the Pipeline screen", Duration::from_secs(30), |s| {
        s.contains("CONFLUENCE_BASE_URL=http://127.0.0.1:") && s.contains("No requests yet")
    });
    assert!(s.contains("CONFLUENCE_API_TOKEN=••••••••"), "masked:\n{s}");
    let base = env_value(&s, "CONFLUENCE_BASE_URL").unwrap();
    assert!(base.ends_with("/wiki"), "{base}");

    t.keys(&["C-r"]);
    let s = t.wait_until("a revealed token", Duration::from_secs(10), |s| {
        env_value(s, "CONFLUENCE_API_TOKEN").is_some_and(|v| !v.contains('•'))
    });
    let token = env_value(&s, "CONFLUENCE_API_TOKEN").unwrap();
    assert_eq!(token.len(), 43, "{s}");
    t.keys(&["C-r"]);
    let s = t.wait_for("CONFLUENCE_API_TOKEN=••••••••", Duration::from_secs(10));
    assert!(!s.contains(&token), "hidden again:\n{s}");

    assert_eq!(
        through_proxy("GET", &format!("{base}/rest/api/space"), &token),
        200
    );
    let s = t.wait_for("/wiki/rest/api/space", Duration::from_secs(10));
    let row = s
        .lines()
        .find(|l| l.contains("/wiki/rest/api/space"))
        .unwrap();
    assert!(row.contains("GET") && row.contains("200"), "{row}");
    assert!(s.contains("1 requests · 0 refused"), "{s}");
    // A wrong token is refused by the proxy and counted as such.
    assert_eq!(
        through_proxy("GET", &format!("{base}/rest/api/space"), "wrong"),
        401
    );
    t.wait_for("2 requests · 1 refused", Duration::from_secs(10));

    // The session dies on the site; the proxy's next request sees it.
    site.faults(|f| f.session_expire_after_requests = Some(0));
    assert_eq!(
        through_proxy("GET", &format!("{base}/rest/api/space"), &token),
        401
    );
    let s = t.wait_for("Get fresh cookies", Duration::from_secs(10));
    assert!(s.contains("EXPIRED"), "{s}");
    assert!(s.contains("Credentials"), "the status screen:\n{s}");

    t.keys(&["q"]);
    t.wait_for("EXITED:0", Duration::from_secs(15));
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(
        audit.contains("proxy_started") && audit.contains("proxy_stopped"),
        "{audit}"
    );
    assert!(!audit.contains(&token));
}

/// A reload that names another site while serving: the proxy stops and
/// starts again for the new site (its own credentials, a new token), and
/// requests go there; the old site is asked nothing more.
#[test]
fn a_reload_to_another_site_serves_that_site() {
    if !have_tmux() {
        return;
    }
    let (a, b) = (Site::cloud(), Site::cloud());
    let sb = Sandbox::new();
    a.import_live(&sb);
    b.import_live(&sb);
    let env_file = sb.dir.path().join(".env");
    let settings = |site: &Site| {
        format!(
            "CONFLUENCE_BASE_URL={}\nCONFLUENCE_DEPLOYMENT=cloud\n",
            site.server.base_url()
        )
    };
    std::fs::write(&env_file, settings(&a)).unwrap();
    let script = format!(
        "cd '{}' && env -i PATH=\"$PATH\" TERM=xterm-256color CONFLUENCE_DATA_DIR='{}' CONFLUENCE_KDF_LOG_N=10 '{}' --serve; echo EXITED:$?; sleep 60",
        sb.dir.path().display(),
        sb.data().display(),
        env!("CARGO_BIN_EXE_confluence-tui"),
    );
    let t = Tmux::start("pipeline-reload", &script, 100, 30);
    t.wait_for("SIGNED IN", Duration::from_secs(30));

    // Serving site A; the token is read from the screen (Ctrl+R).
    let serving = |t: &Tmux| {
        t.keys(&["4"]);
        let s = t.wait_until("the proxy's URL", Duration::from_secs(30), |s| {
            s.contains("CONFLUENCE_BASE_URL=http://127.0.0.1:") && s.contains("No requests yet")
        });
        let base = env_value(&s, "CONFLUENCE_BASE_URL").unwrap();
        t.keys(&["C-r"]);
        let s = t.wait_until("a revealed token", Duration::from_secs(10), |s| {
            env_value(s, "CONFLUENCE_API_TOKEN").is_some_and(|v| !v.contains('•'))
        });
        let token = env_value(&s, "CONFLUENCE_API_TOKEN").unwrap();
        t.keys(&["C-r"]);
        (base, token)
    };
    let (base_a, token_a) = serving(&t);
    let asked_a = a.server.requests_seen().len();
    assert_eq!(
        through_proxy("GET", &format!("{base_a}/rest/api/space"), &token_a),
        200
    );
    assert!(a.server.requests_seen().len() > asked_a, "site A served it");

    // The settings now name site B: reload on the status screen.
    std::fs::write(&env_file, settings(&b)).unwrap();
    t.keys(&["1"]);
    t.keys(&["r"]);
    let host_b = b.server.base_url().host_str().unwrap().to_string();
    let port_b = b.server.addr().port().to_string();
    t.wait_until("site B signed in", Duration::from_secs(30), |s| {
        s.contains("SIGNED IN") && s.contains(&format!("{host_b}:{port_b}"))
    });
    let (base_b, token_b) = serving(&t);
    assert_ne!(token_b, token_a, "a new proxy, a new token");
    let (asked_a, asked_b) = (
        a.server.requests_seen().len(),
        b.server.requests_seen().len(),
    );
    assert_eq!(
        through_proxy("GET", &format!("{base_b}/rest/api/space"), &token_b),
        200
    );
    assert!(b.server.requests_seen().len() > asked_b, "site B served it");
    assert_eq!(
        a.server.requests_seen().len(),
        asked_a,
        "site A is asked nothing"
    );
    // The old proxy is gone.
    if base_b == base_a {
        assert_eq!(
            through_proxy("GET", &format!("{base_b}/rest/api/space"), &token_a),
            401
        );
    } else {
        let port_a = url::Url::parse(&base_a).unwrap().port().unwrap();
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port_a)).is_err(),
            "the old proxy no longer listens"
        );
    }
    t.keys(&["q"]);
    t.wait_for("EXITED:0", Duration::from_secs(15));
}

/// `--serve` runs one session owner: the app and its proxy share one
/// keep-alive loop, so the site gets one verification per interval.
#[test]
fn serve_sends_one_keep_alive_request_per_interval_not_two() {
    use confluence_tui::demo::PathKind;
    if !have_tmux() {
        return;
    }
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.import_live(&sb);
    let script = serve_script(&sb, &site, "CONFLUENCE_KEEPALIVE_SECS=2");
    let t = Tmux::start("serve-keepalive", &script, 100, 30);
    t.wait_for("SIGNED IN", Duration::from_secs(30));
    // The proxy serves (it starts once signed in).
    t.keys(&["4"]);
    t.wait_until("the proxy's address", Duration::from_secs(30), |s| {
        s.contains("CONFLUENCE_BASE_URL=http://127.0.0.1:")
    });
    let window = Duration::from_secs(12);
    let before = site.server.request_count_for(PathKind::UserCurrent);
    std::thread::sleep(window);
    let asked = site.server.request_count_for(PathKind::UserCurrent) - before;
    // Every 2 s ±10 %: about 6 in 12 s from one loop (more than 10 from two).
    assert!(
        (3..=8).contains(&asked),
        "{asked} verifications in {window:?} with a 2 s keep-alive"
    );
    t.keys(&["q"]);
    t.wait_for("EXITED:0", Duration::from_secs(15));
}

/// `v` asks the site in every state: a session marked expired that the
/// site accepts again is signed in once more, and a refusal is said, never
/// "Verifying…" for ever.
#[test]
fn v_brings_back_a_session_the_site_accepts_again() {
    if !have_tmux() {
        return;
    }
    let site = Site::cloud();
    let sb = Sandbox::new();
    site.import_live(&sb);
    let script = serve_script(&sb, &site, "CONFLUENCE_KEEPALIVE_SECS=0");
    let t = Tmux::start("verify-again", &script, 100, 30);
    t.wait_for("SIGNED IN", Duration::from_secs(30));
    // The site refuses the session for a while: `v` finds it expired.
    site.faults(|f| f.session_expire_after_requests = Some(0));
    t.keys(&["v"]);
    t.wait_for("EXPIRED", Duration::from_secs(15));
    // Still refused: asked again, and said so.
    t.keys(&["v"]);
    t.wait_for("Still expired", Duration::from_secs(15));
    // The site takes the same session again.
    site.faults(|f| f.session_expire_after_requests = None);
    t.keys(&["v"]);
    let s = t.wait_for("SIGNED IN", Duration::from_secs(15));
    assert!(s.contains("Signed in as"), "{s}");
    t.keys(&["q"]);
    t.wait_for("EXITED:0", Duration::from_secs(15));
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(audit.contains("session_restored"), "{audit}");
}
