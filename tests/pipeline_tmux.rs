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
