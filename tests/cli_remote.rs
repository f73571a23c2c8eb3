//! `check`, `spaces` and `pages` through the real binary against the fake
//! site over real HTTP: every session outcome in every auth mode it applies
//! to, with the exit code, the words shown, the audit record written and the
//! vault's cookies marked expired or refreshed. Also: no secret anywhere.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use confluence_tui::config::{FlagOverrides, Settings};
use confluence_tui::credentials::Credentials;
use confluence_tui::demo::{
    CLOUD_SESSION_COOKIE, CaptchaForm, DEMO_API_TOKEN, DEMO_DISPLAY_NAME, DEMO_EMAIL, DEMO_PAT,
    DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer, SERVER_SESSION_COOKIE,
};
use confluence_tui::secret::ExposeSecret;
use serde_json::Value;

/// A fake site on its own runtime, alive while the test runs the binary.
struct Site {
    // Dropped first: its Drop stops the server task on the runtime below.
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    fn start(flavor: DemoFlavor, faults: DemoFaults) -> Site {
        Site::with_data(
            flavor,
            faults,
            DemoData {
                spaces: 12,
                pages_per_space: 5,
            },
        )
    }
    fn with_data(flavor: DemoFlavor, faults: DemoFaults, data: DemoData) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor,
            data,
            faults,
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, _rt: rt }
    }
    fn cloud() -> Site {
        Site::start(DemoFlavor::Cloud, DemoFaults::default())
    }
    fn server_dc() -> Site {
        Site::start(DemoFlavor::Server, DemoFaults::default())
    }
    fn faults(&self, f: impl FnOnce(&mut DemoFaults)) {
        let mut faults = self.server.faults();
        f(&mut faults);
        self.server.set_faults(faults);
    }
    fn count(&self) -> u64 {
        self.server.request_count()
    }
    fn deployment(&self) -> &'static str {
        match self.server.flavor() {
            DemoFlavor::Cloud => "cloud",
            DemoFlavor::Server => "server",
        }
    }
}

/// How the binary signs in.
#[derive(Clone, Copy)]
enum Auth<'a> {
    Basic(&'a str),
    Bearer(&'a str),
    /// Whatever the vault holds (cookies imported earlier).
    Stored,
}

/// The binary pointed at `site` with `auth`.
fn cmd(sb: &Sandbox, site: &Site, auth: Auth) -> assert_cmd::Command {
    let mut c = sb.cmd();
    c.env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
        .env("CONFLUENCE_DEPLOYMENT", site.deployment());
    match auth {
        Auth::Basic(token) => {
            c.env("CONFLUENCE_USERNAME", DEMO_EMAIL)
                .env("CONFLUENCE_API_TOKEN", token);
        }
        Auth::Bearer(token) => {
            c.env("CONFLUENCE_API_TOKEN", token);
        }
        Auth::Stored => {}
    }
    c
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(mut c: assert_cmd::Command, args: &[&str]) -> Run {
    let out = c.args(args).output().unwrap();
    Run {
        code: out.status.code(),
        stdout: stdout(&out),
        stderr: stderr(&out),
    }
}

fn check(sb: &Sandbox, site: &Site, auth: Auth) -> Run {
    run(cmd(sb, site, auth), &["check"])
}

fn check_json(sb: &Sandbox, site: &Site, auth: Auth) -> (Run, Value) {
    let r = run(cmd(sb, site, auth), &["check", "--json"]);
    let v: Value = serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("check --json is one JSON object ({e}): {}", r.stdout));
    (r, v)
}

/// Imports `header` into the vault through the binary (without the
/// verification that follows an import, which the tests do themselves).
fn import(sb: &Sandbox, site: &Site, header: &str) {
    let r = run(
        {
            let mut c = cmd(sb, site, Auth::Stored);
            c.write_stdin(header.to_string());
            c
        },
        &["cookies", "import", "--no-verify", "-"],
    );
    assert_eq!(r.code, Some(0), "import: {}{}", r.stdout, r.stderr);
}

/// Imports the site's live demo session cookie.
fn import_live(sb: &Sandbox, site: &Site) {
    import(sb, site, &site.server.session_cookie_header());
}

/// A session cookie the site never issued.
fn import_dead(sb: &Sandbox, site: &Site) {
    let name = match site.server.flavor() {
        DemoFlavor::Cloud => CLOUD_SESSION_COOKIE,
        DemoFlavor::Server => SERVER_SESSION_COOKIE,
    };
    import(
        sb,
        site,
        &format!("{name}=never-issued-session-value; other=1"),
    );
}

fn audit_events(sb: &Sandbox) -> Vec<String> {
    let text = std::fs::read_to_string(sb.audit()).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["event"].as_str().unwrap().to_string()
        })
        .collect()
}

fn cookie_state(sb: &Sandbox, site: &Site) -> String {
    let r = run(
        cmd(sb, site, Auth::Stored),
        &["cookies", "status", "--json"],
    );
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    v["cookies"]["state"].as_str().unwrap_or("none").to_string()
}

/// The stored value of one cookie, read through the library as the binary
/// wrote it (same data dir, same machine).
fn stored_cookie(sb: &Sandbox, site: &Site, name: &str) -> String {
    let vars: HashMap<String, String> = HashMap::from([(
        "CONFLUENCE_BASE_URL".to_string(),
        site.server.base_url().to_string(),
    )]);
    let flags = FlagOverrides {
        data_dir: Some(sb.data()),
        ..Default::default()
    };
    let settings = Settings::from_vars(&flags, &vars).unwrap();
    let doc = Credentials::open(&settings).load().unwrap();
    let own = doc.site(&settings.site().unwrap()).expect("site stored");
    let jar = own.cookies.clone().expect("cookies stored").jar;
    jar.get(name)
        .expect("cookie stored")
        .value
        .expose_secret()
        .to_string()
}

fn assert_exit(r: &Run, code: i32, what: &str) {
    assert_eq!(
        r.code,
        Some(code),
        "{what}\nstdout: {}\nstderr: {}",
        r.stdout,
        r.stderr
    );
}

// ---------------------------------------------------------------- ok

#[test]
fn import_verifies_the_cookies_before_it_stores_them() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    let import = |paste: String, extra: &[&str]| {
        let mut c = cmd(&sb, &site, Auth::Stored);
        c.write_stdin(paste);
        let mut args = vec!["cookies", "import"];
        args.extend_from_slice(extra);
        args.push("-");
        run(c, &args)
    };
    let dead = || format!("{CLOUD_SESSION_COOKIE}=never-issued; other=1");
    // Nothing stored yet: refused cookies are not stored either.
    let refused = import(dead(), &[]);
    assert_exit(&refused, 3, "the site refuses them");
    assert!(
        refused.stderr.contains("nothing was stored"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("Imported"), "{}", refused.stdout);
    assert_eq!(cookie_state(&sb, &site), "none");
    // A live session: asked about, then stored, signed in.
    let live = import(site.server.session_cookie_header(), &[]);
    assert_exit(&live, 0, "import of a live session");
    assert!(
        live.stdout.contains("Imported 2 cookies") && live.stdout.contains("Signed in"),
        "{}",
        live.stdout
    );
    assert!(audit_events(&sb).contains(&"session_verified".to_string()));
    let kept = stored_cookie(&sb, &site, CLOUD_SESSION_COOKIE);
    // A wrong paste over the working session: refused, and the working
    // session is kept (and said so).
    let wrong = import(dead(), &[]);
    assert_exit(&wrong, 3, "the site refuses them");
    assert!(
        wrong
            .stderr
            .contains("the stored session still works and was kept"),
        "{}",
        wrong.stderr
    );
    assert_eq!(stored_cookie(&sb, &site, CLOUD_SESSION_COOKIE), kept);
    assert_eq!(cookie_state(&sb, &site), "valid");
    assert!(audit_events(&sb).contains(&"cookies_refused".to_string()));
    assert_exit(
        &check(&sb, &site, Auth::Stored),
        0,
        "the kept session works",
    );
    // --no-verify stores what it is given, as it always did.
    let unverified = import(dead(), &["--no-verify"]);
    assert_exit(&unverified, 0, "stored without asking");
    assert_eq!(
        stored_cookie(&sb, &site, CLOUD_SESSION_COOKIE),
        "never-issued"
    );
}

#[test]
fn basic_ok_names_the_user_and_mode_and_is_audited() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    let r = check(&sb, &site, Auth::Basic(DEMO_API_TOKEN));
    assert_exit(&r, 0, "basic ok");
    assert!(r.stdout.contains(DEMO_DISPLAY_NAME), "{}", r.stdout);
    assert!(r.stdout.contains("basic auth"), "{}", r.stdout);
    assert!(r.stdout.contains("Cloud"), "{}", r.stdout);
    let (r, v) = check_json(&sb, &site, Auth::Basic(DEMO_API_TOKEN));
    assert_exit(&r, 0, "basic ok json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["mode"], "basic");
    assert_eq!(v["deployment"], "Cloud");
    assert_eq!(v["user"]["display_name"], DEMO_DISPLAY_NAME);
    assert_eq!(v["site"], site.server.base_url().as_str());
    assert!(v["why"].as_str().unwrap().contains("API token"), "{v}");
    assert_eq!(audit_events(&sb), ["session_verified", "session_verified"]);
}

#[test]
fn bearer_ok_on_server() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let (r, v) = check_json(&sb, &site, Auth::Bearer(DEMO_PAT));
    assert_exit(&r, 0, "bearer ok");
    assert_eq!(v["mode"], "bearer");
    assert_eq!(v["deployment"], "Server/Data Center");
    assert_eq!(v["user"]["display_name"], DEMO_DISPLAY_NAME);
    assert_eq!(audit_events(&sb), ["session_verified"]);
}

#[test]
fn cookie_ok_on_cloud_and_server() {
    for site in [Site::cloud(), Site::server_dc()] {
        let sb = Sandbox::new();
        import_live(&sb, &site);
        let r = check(&sb, &site, Auth::Stored);
        assert_exit(&r, 0, "cookie ok");
        assert!(r.stdout.contains(DEMO_DISPLAY_NAME), "{}", r.stdout);
        assert!(r.stdout.contains("cookie auth"), "{}", r.stdout);
        assert_eq!(
            audit_events(&sb).last().map(String::as_str),
            Some("session_verified")
        );
        assert_eq!(cookie_state(&sb, &site), "valid");
    }
}

// ------------------------------------------------------ expired sessions

/// A cookie check that must end as an expired session: exit 3, the reason
/// and the next step shown, audited, the vault's cookies marked expired.
fn assert_cookie_session_expired(sb: &Sandbox, site: &Site, reason_words: &str) {
    let before = site.count();
    let r = check(sb, site, Auth::Stored);
    assert_exit(&r, 3, reason_words);
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
    assert!(r.stderr.contains(reason_words), "{}", r.stderr);
    assert!(
        r.stderr.contains("cookies import"),
        "next step: {}",
        r.stderr
    );
    assert_eq!(site.count() - before, 1, "a dead session is not retried");
    let events = audit_events(sb);
    assert!(events.contains(&"session_expired".into()), "{events:?}");
    assert!(events.contains(&"cookies_expired".into()), "{events:?}");
    assert_eq!(cookie_state(sb, site), "expired");
    // Marked cookies are never sent again: the next check asks for fresh ones
    // without a request.
    let before = site.count();
    let r = check(sb, site, Auth::Stored);
    assert_exit(&r, 3, "after expiry");
    assert_eq!(site.count(), before, "expired cookies are not sent");
}

#[test]
fn cookie_401_is_an_expired_session() {
    for site in [Site::cloud(), Site::server_dc()] {
        let sb = Sandbox::new();
        import_dead(&sb, &site);
        assert_cookie_session_expired(&sb, &site, "401");
    }
}

#[test]
fn cookie_403_not_permitted_is_an_expired_session() {
    let site = Site::cloud();
    site.faults(|f| f.expired_403 = true);
    let sb = Sandbox::new();
    import_dead(&sb, &site);
    assert_cookie_session_expired(&sb, &site, "not permitted");
}

#[test]
fn cookie_redirect_to_login_is_an_expired_session() {
    let site = Site::server_dc();
    site.faults(|f| f.redirect_to_login = true);
    let sb = Sandbox::new();
    import_dead(&sb, &site);
    assert_cookie_session_expired(&sb, &site, "login page");
}

#[test]
fn cookie_html_login_page_is_an_expired_session() {
    let site = Site::cloud();
    site.faults(|f| f.html_login_page = true);
    let sb = Sandbox::new();
    import_dead(&sb, &site);
    assert_cookie_session_expired(&sb, &site, "HTML login page");
}

#[test]
fn cookie_session_lifetime_ends_in_an_expired_session() {
    let site = Site::cloud();
    site.faults(|f| f.session_expire_after_requests = Some(1));
    let sb = Sandbox::new();
    import_live(&sb, &site);
    assert_exit(&check(&sb, &site, Auth::Stored), 0, "first use");
    assert_cookie_session_expired(&sb, &site, "401");
}

#[test]
fn token_modes_get_rejected_not_expired_on_the_same_answers() {
    // The same 403 / redirect / HTML answers mean "token refused" in basic
    // mode: exit 3, credentials_rejected, and nothing marked in the vault.
    for knob in 0..3 {
        let site = Site::cloud();
        site.faults(|f| match knob {
            0 => f.expired_403 = true,
            1 => f.redirect_to_login = true,
            _ => f.html_login_page = true,
        });
        let sb = Sandbox::new();
        let r = check(&sb, &site, Auth::Basic("wrong-token"));
        assert_exit(&r, 3, "rejected");
        assert_eq!(audit_events(&sb), ["credentials_rejected"], "knob {knob}");
        assert_eq!(site.count(), 1, "knob {knob}: not retried");
    }
}

// ------------------------------------------------------------- CAPTCHA

#[test]
fn captcha_header_form_shows_the_login_url_and_is_never_retried() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    import_live(&sb, &site);
    site.faults(|f| f.captcha = Some(CaptchaForm::Header403));
    let login = format!("http://{}/login.action", site.server.addr());
    let r = check(&sb, &site, Auth::Stored);
    assert_exit(&r, 4, "captcha");
    assert_eq!(site.count(), 1, "a CAPTCHA is never retried");
    assert!(r.stderr.contains(&login), "login URL shown: {}", r.stderr);
    assert!(r.stderr.contains("browser"), "{}", r.stderr);
    assert!(r.stderr.contains("cookies import"), "{}", r.stderr);
    let events = audit_events(&sb);
    assert!(events.contains(&"captcha_challenge".into()), "{events:?}");
    // The cookies are kept: the CAPTCHA, not the session, blocks sign-in.
    assert_eq!(cookie_state(&sb, &site), "valid");

    // Token mode: same exit, JSON names the login URL.
    let sb = Sandbox::new();
    let before = site.count();
    let (r, v) = check_json(&sb, &site, Auth::Bearer(DEMO_PAT));
    assert_exit(&r, 4, "captcha json");
    assert_eq!(site.count() - before, 1);
    assert_eq!(v["ok"], false);
    assert_eq!(v["reason"], "captcha");
    assert_eq!(v["login_url"], login.as_str());
    assert!(v["message"].as_str().unwrap().contains("browser"), "{v}");
    assert_eq!(audit_events(&sb), ["captcha_challenge"]);
}

#[test]
fn a_captcha_stays_a_captcha_without_asking_the_site_until_retry() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    import_live(&sb, &site);
    site.faults(|f| f.captcha = Some(CaptchaForm::Header403));
    let login = format!("http://{}/login.action", site.server.addr());
    for _ in 0..2 {
        let r = check(&sb, &site, Auth::Stored);
        assert_exit(&r, 4, "captcha, stored");
        assert!(r.stderr.contains(&login), "login URL shown: {}", r.stderr);
    }
    assert_eq!(site.count(), 1, "the second check answered from the vault");
    let (r, v) = check_json(&sb, &site, Auth::Stored);
    assert_exit(&r, 4, "captcha json, stored");
    assert_eq!(v["state"], "captcha");
    assert_eq!(v["login_url"], login.as_str());
    assert_eq!(site.count(), 1, "still not asked");
    // `sites` and `cookies status` say so too, from the vault.
    let r = run(cmd(&sb, &site, Auth::Stored), &["sites", "--json"]);
    assert_exit(&r, 0, "sites");
    let sites: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sites[0]["session"]["state"], "captcha", "{sites}");
    assert_eq!(sites[0]["session"]["login_url"], login.as_str());
    let r = run(cmd(&sb, &site, Auth::Stored), &["sites"]);
    assert!(r.stdout.contains("session: CAPTCHA"), "{}", r.stdout);
    let r = run(
        cmd(&sb, &site, Auth::Stored),
        &["cookies", "status", "--json"],
    );
    let status: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(status["session"]["state"], "captcha", "{status}");
    let r = run(cmd(&sb, &site, Auth::Stored), &["cookies", "status"]);
    assert!(r.stdout.contains(&login), "{}", r.stdout);
    assert_eq!(site.count(), 1, "still not asked");

    // --retry asks again; the CAPTCHA is still there.
    let r = run(cmd(&sb, &site, Auth::Stored), &["check", "--retry"]);
    assert_exit(&r, 4, "captcha, retried");
    assert_eq!(site.count(), 2, "--retry asked the site");

    // Solved in the browser: a plain check still answers from the vault,
    // a retry that succeeds ends the CAPTCHA state.
    site.faults(|f| f.captcha = None);
    assert_exit(&check(&sb, &site, Auth::Stored), 4, "still stored");
    assert_eq!(site.count(), 2);
    let r = run(cmd(&sb, &site, Auth::Stored), &["check", "--retry"]);
    assert_exit(&r, 0, "retry succeeds");
    assert!(audit_events(&sb).contains(&"session_restored".to_string()));
    let (r, v) = check_json(&sb, &site, Auth::Stored);
    assert_exit(&r, 0, "signed in again");
    assert_eq!(v["state"], "signed_in");
    let r = run(cmd(&sb, &site, Auth::Stored), &["sites", "--json"]);
    let sites: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sites[0]["session"]["state"], "signed_in", "{sites}");
}

#[test]
fn retry_asks_the_site_about_a_session_marked_expired_and_brings_it_back() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    import_live(&sb, &site);
    // The site refuses the session for a while (a node restart, an outage
    // of its login service): the cookies are marked expired.
    site.faults(|f| f.session_expire_after_requests = Some(0));
    assert_exit(&check(&sb, &site, Auth::Stored), 3, "refused");
    assert_eq!(cookie_state(&sb, &site), "expired");
    // It takes the same session again: a plain check still answers from
    // the vault, `--retry` asks and finds it signed in.
    site.faults(|f| f.session_expire_after_requests = None);
    let asked = site.count();
    assert_exit(&check(&sb, &site, Auth::Stored), 3, "from the vault");
    assert_eq!(site.count(), asked, "a plain check does not ask");
    let r = run(cmd(&sb, &site, Auth::Stored), &["check", "--retry"]);
    assert_exit(&r, 0, "the site accepts the session again");
    assert!(r.stdout.contains("Signed in"), "{}", r.stdout);
    assert!(audit_events(&sb).contains(&"session_restored".to_string()));
    assert_eq!(cookie_state(&sb, &site), "valid");
    assert_exit(
        &check(&sb, &site, Auth::Stored),
        0,
        "live again for everyone",
    );
    // Still refused: `--retry` asks, and says so.
    site.faults(|f| f.session_expire_after_requests = Some(0));
    assert_exit(&check(&sb, &site, Auth::Stored), 3, "refused again");
    let asked = site.count();
    let r = run(cmd(&sb, &site, Auth::Stored), &["check", "--retry"]);
    assert_exit(&r, 3, "still refused");
    assert_eq!(site.count(), asked + 1, "--retry asked the site");
}

#[test]
fn a_captcha_stays_a_captcha_in_token_modes_too() {
    // A token from the environment is not stored, but the CAPTCHA state is
    // kept with the site's credentials all the same and answers the next
    // check without asking the site, whether the mode was chosen by `auto`
    // or named by CONFLUENCE_AUTH.
    for (auth, setting) in [
        (Auth::Bearer(DEMO_PAT), "auto"),
        (Auth::Bearer(DEMO_PAT), "bearer"),
        (Auth::Basic("any-token"), "basic"),
    ] {
        let site = Site::server_dc();
        site.faults(|f| f.captcha = Some(CaptchaForm::Header403));
        let login = format!("http://{}/login.action", site.server.addr());
        let sb = Sandbox::new();
        let with_setting = || {
            let mut c = cmd(&sb, &site, auth);
            c.env("CONFLUENCE_AUTH", setting);
            c
        };
        for _ in 0..2 {
            let r = run(with_setting(), &["check", "--json"]);
            assert_exit(&r, 4, setting);
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["state"], "captcha", "{setting}: {v}");
            assert_eq!(v["login_url"], login.as_str());
        }
        assert_eq!(
            site.count(),
            1,
            "{setting}: the second check answered from the vault"
        );
        site.faults(|f| f.captcha = None);
        let r = run(with_setting(), &["check", "--retry"]);
        assert_eq!(site.count(), 2, "{setting}: --retry asked the site");
        if matches!(auth, Auth::Bearer(_)) {
            assert_exit(&r, 0, "retry succeeds");
            let r = run(with_setting(), &["check", "--json"]);
            assert_exit(&r, 0, "signed in again");
            assert_eq!(site.count(), 3, "no longer held by the CAPTCHA");
        }
    }
}

#[test]
fn fresh_cookies_end_the_captcha_state() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    import_live(&sb, &site);
    site.faults(|f| f.captcha = Some(CaptchaForm::Header403));
    assert_exit(&check(&sb, &site, Auth::Stored), 4, "captcha");
    site.faults(|f| f.captcha = None);
    import_live(&sb, &site);
    let before = site.count();
    assert_exit(&check(&sb, &site, Auth::Stored), 0, "fresh cookies");
    assert_eq!(site.count() - before, 1);
}

#[test]
fn check_json_gives_the_state_and_the_expiry() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let (r, v) = check_json(&sb, &site, Auth::Stored);
    assert_exit(&r, 0, "signed in");
    assert_eq!(v["state"], "signed_in", "{v}");
    let at = v["expires_at"].as_str().expect("expires_at");
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap();
    let secs = v["expires_in_secs"].as_i64().expect("expires_in_secs");
    assert!(secs > 86_400, "{v}");

    // Token mode: no expiry known.
    let sb = Sandbox::new();
    let (r, v) = check_json(&sb, &site, Auth::Basic(DEMO_API_TOKEN));
    assert_exit(&r, 0, "basic");
    assert_eq!(v["state"], "signed_in");
    assert!(
        v["expires_at"].is_null() && v["expires_in_secs"].is_null(),
        "{v}"
    );

    // A dead session.
    let sb = Sandbox::new();
    import_dead(&sb, &site);
    let (r, v) = check_json(&sb, &site, Auth::Stored);
    assert_exit(&r, 3, "dead");
    assert_eq!(v["state"], "expired", "{v}");
    let r = run(
        cmd(&sb, &site, Auth::Stored),
        &["cookies", "status", "--json"],
    );
    let status: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(status["session"]["state"], "expired", "{status}");
    assert!(status["session"]["reason"].is_string(), "{status}");
    let r = run(cmd(&sb, &site, Auth::Stored), &["sites"]);
    assert!(r.stdout.contains("session: EXPIRED"), "{}", r.stdout);
}

#[test]
fn captcha_seraph_form_is_exit_4_in_every_mode() {
    let site = Site::server_dc();
    let sb_cookie = Sandbox::new();
    import_live(&sb_cookie, &site);
    site.faults(|f| f.captcha = Some(CaptchaForm::Seraph401));
    for (sb, auth) in [
        (&sb_cookie, Auth::Stored),
        (&Sandbox::new(), Auth::Bearer(DEMO_PAT)),
    ] {
        let before = site.count();
        let (r, v) = check_json(sb, &site, auth);
        assert_exit(&r, 4, "seraph captcha");
        assert_eq!(site.count() - before, 1, "never retried");
        assert_eq!(v["reason"], "captcha");
        assert!(audit_events(sb).contains(&"captcha_challenge".into()));
    }
    let cloud = Site::cloud();
    cloud.faults(|f| f.captcha = Some(CaptchaForm::Seraph401));
    let sb = Sandbox::new();
    assert_exit(
        &check(&sb, &cloud, Auth::Basic(DEMO_API_TOKEN)),
        4,
        "basic seraph",
    );
    assert_eq!(cloud.count(), 1);
}

// ------------------------------------------- rejected and anonymous

#[test]
fn wrong_basic_token_is_rejected_once() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    let (r, v) = check_json(&sb, &site, Auth::Basic("wrong-token"));
    assert_exit(&r, 3, "rejected");
    assert_eq!(site.count(), 1, "auth failures are never retried");
    assert_eq!(v["ok"], false);
    assert_eq!(v["reason"], "auth_failed");
    assert!(v["message"].as_str().unwrap().contains("rejected"), "{v}");
    assert_eq!(audit_events(&sb), ["credentials_rejected"]);
}

#[test]
fn invalid_pat_on_server_runs_as_anonymous() {
    let site = Site::server_dc();
    let sb = Sandbox::new();
    let r = check(&sb, &site, Auth::Bearer("not-a-real-pat"));
    assert_exit(&r, 3, "anonymous");
    assert!(r.stderr.contains("anonymous"), "{}", r.stderr);
    assert_eq!(site.count(), 1);
    assert_eq!(audit_events(&sb), ["credentials_rejected"]);
}

#[test]
fn anonymous_knob_is_exit_3_even_with_good_credentials() {
    let site = Site::cloud();
    site.faults(|f| f.anonymous = true);
    let sb = Sandbox::new();
    let (r, v) = check_json(&sb, &site, Auth::Basic(DEMO_API_TOKEN));
    assert_exit(&r, 3, "anonymous knob");
    assert!(v["message"].as_str().unwrap().contains("anonymous"), "{v}");
    assert_eq!(audit_events(&sb), ["credentials_rejected"]);
}

// --------------------------------------------- rate limits, 5xx, network

#[test]
fn rate_limit_is_waited_out_and_shown() {
    let site = Site::cloud();
    site.faults(|f| {
        f.rate_limit_every = Some(2);
        f.retry_after_secs = 1;
    });
    // Request 1 goes by; `check`'s first request is number 2 and limited.
    let sb = Sandbox::new();
    assert_exit(
        &check(&sb, &site, Auth::Basic(DEMO_API_TOKEN)),
        0,
        "request 1",
    );
    let started = std::time::Instant::now();
    let r = check(&sb, &site, Auth::Basic(DEMO_API_TOKEN));
    assert_exit(&r, 0, "limited then ok");
    assert!(
        r.stderr.contains("waiting 1.0 s before attempt 2"),
        "{}",
        r.stderr
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(site.count(), 3);
}

#[test]
fn server_errors_after_retries_are_exit_5() {
    let site = Site::cloud();
    site.faults(|f| f.error_rate = 1.0);
    let sb = Sandbox::new();
    // The binary's default policy: 5 attempts, backoff from 0.5 s doubling
    // with jitter, so well under 10 s.
    let (r, v) = check_json(&sb, &site, Auth::Basic(DEMO_API_TOKEN));
    assert_exit(&r, 5, "5xx");
    assert_eq!(site.count(), 5, "five attempts in all");
    assert_eq!(v["reason"], "network");
    assert_eq!(r.stderr.matches("waiting").count(), 4, "{}", r.stderr);
    assert!(audit_events(&sb).is_empty(), "no credential event");
}

#[test]
fn closed_port_is_exit_5() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let sb = Sandbox::new();
    let r = run(
        {
            let mut c = sb.cmd();
            c.env("CONFLUENCE_BASE_URL", format!("http://127.0.0.1:{port}"))
                .env("CONFLUENCE_DEPLOYMENT", "server")
                .env("CONFLUENCE_API_TOKEN", DEMO_PAT);
            c
        },
        &["check"],
    );
    assert_exit(&r, 5, "closed port");
    assert!(r.stderr.contains("could not connect"), "{}", r.stderr);
}

// ---------------------------------------------------- not configured

#[test]
fn no_base_url_is_exit_2_naming_the_setting() {
    let sb = Sandbox::new();
    for args in [
        &["check"][..],
        &["check", "--json"],
        &["spaces"],
        &["spaces", "--json"],
    ] {
        let r = run(
            {
                let mut c = sb.cmd_without_site();
                c.env("CONFLUENCE_API_TOKEN", DEMO_PAT);
                c
            },
            args,
        );
        assert_exit(&r, 2, "no base url");
        if args == ["check", "--json"] {
            let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
            assert_eq!(v["ok"], false);
            assert_eq!(v["reason"], "configuration");
        } else if args == ["spaces", "--json"] {
            assert_eq!(r.stdout.trim(), "[]", "a listing's stdout stays an array");
        } else {
            assert!(r.stdout.is_empty(), "{}", r.stdout);
        }
        assert!(
            format!("{}{}", r.stdout, r.stderr).contains("CONFLUENCE_BASE_URL"),
            "{}{}",
            r.stdout,
            r.stderr
        );
    }
}

#[test]
fn base_url_without_credentials_is_exit_3() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    let r = check(&sb, &site, Auth::Stored);
    assert_exit(&r, 3, "no credentials");
    assert!(r.stderr.contains("CONFLUENCE_API_TOKEN"), "{}", r.stderr);
    assert!(r.stderr.contains("cookies import"), "{}", r.stderr);
    assert_eq!(site.count(), 0, "nothing to send, nothing sent");
    let (r, v) = check_json(&sb, &site, Auth::Stored);
    assert_exit(&r, 3, "no credentials json");
    assert_eq!(v["reason"], "not_configured");
}

#[test]
fn unreadable_vault_is_exit_6() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let mut bytes = std::fs::read(sb.vault()).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(sb.vault(), &bytes).unwrap();
    let (r, v) = check_json(&sb, &site, Auth::Stored);
    assert_exit(&r, 6, "tampered vault");
    assert_eq!(v["reason"], "vault_unreadable");
    assert_eq!(site.count(), 0);
}

// ------------------------------------------------------- refresh

#[test]
fn rotated_session_cookie_is_saved_back_to_the_vault() {
    let site = Site::cloud();
    site.faults(|f| f.rotate_cookies = true);
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let before = stored_cookie(&sb, &site, CLOUD_SESSION_COOKIE);
    assert_exit(&check(&sb, &site, Auth::Stored), 0, "rotating check");
    let after = stored_cookie(&sb, &site, CLOUD_SESSION_COOKIE);
    assert_ne!(before, after, "the fresh value was saved");
    let events = audit_events(&sb);
    assert!(events.contains(&"cookies_refreshed".into()), "{events:?}");
    // The saved value is the live one: it keeps working after the old
    // value's grace has run out.
    for _ in 0..4 {
        assert_exit(&check(&sb, &site, Auth::Stored), 0, "still signed in");
    }
    assert_eq!(cookie_state(&sb, &site), "valid");
}

// ------------------------------------------------------- listings

#[test]
fn spaces_and_pages_list_as_json_in_every_mode() {
    let cloud = Site::cloud();
    let server = Site::server_dc();
    let cookie_sb = Sandbox::new();
    import_live(&cookie_sb, &cloud);
    let plain = Sandbox::new();
    let cases: [(&Sandbox, &Site, Auth); 3] = [
        (&plain, &cloud, Auth::Basic(DEMO_API_TOKEN)),
        (&plain, &server, Auth::Bearer(DEMO_PAT)),
        (&cookie_sb, &cloud, Auth::Stored),
    ];
    let key = DemoData::default().space(0).unwrap().key;
    for (sb, site, auth) in cases {
        let mode = match &auth {
            Auth::Basic(_) => "basic",
            Auth::Bearer(_) => "bearer",
            Auth::Stored => "cookie",
        };
        let r = run(cmd(sb, site, auth), &["spaces", "--json"]);
        assert_exit(&r, 0, mode);
        let spaces: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(spaces.len(), 12, "{mode}");
        for field in ["id", "key", "name", "type", "status", "url"] {
            assert!(spaces[0].get(field).is_some(), "{mode}: {field}");
        }
        assert_eq!(spaces[0]["key"], key.as_str());
        let auth = match mode {
            "basic" => Auth::Basic(DEMO_API_TOKEN),
            "bearer" => Auth::Bearer(DEMO_PAT),
            _ => Auth::Stored,
        };
        let r = run(cmd(sb, site, auth), &["pages", &key, "--json"]);
        assert_exit(&r, 0, mode);
        let pages: Vec<Value> = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(pages.len(), 5, "{mode}");
        for field in ["id", "title", "parent_id", "version", "updated_at", "url"] {
            assert!(pages[0].get(field).is_some(), "{mode}: {field}");
        }
    }
}

#[test]
fn listing_with_a_dead_session_is_exit_3_and_valid_json() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    import_dead(&sb, &site);
    let r = run(cmd(&sb, &site, Auth::Stored), &["spaces", "--json"]);
    assert_exit(&r, 3, "dead session listing");
    let items: Vec<Value> = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("stdout stays a JSON array of items ({e}): {}", r.stdout));
    assert!(
        items.is_empty(),
        "no error object inside the array: {}",
        r.stdout
    );
    assert!(r.stderr.contains("expired"), "{}", r.stderr);
    assert!(audit_events(&sb).contains(&"session_expired".into()));
    assert_eq!(cookie_state(&sb, &site), "expired");
}

#[cfg(unix)]
#[test]
fn an_audit_log_that_cannot_be_written_fails_the_check_yet_dead_cookies_are_marked() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    import_live(&sb, &site);
    // The audit log replaced by a link to another file: refused, not followed.
    let elsewhere = sb.dir.path().join("elsewhere.log");
    std::fs::rename(sb.audit(), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, sb.audit()).unwrap();
    let before = std::fs::read(&elsewhere).unwrap();
    let r = check(&sb, &site, Auth::Stored);
    assert_ne!(
        r.code,
        Some(0),
        "a verification that cannot be audited fails"
    );
    assert!(
        r.stderr.contains("cookie_audit.log"),
        "names the file: {}",
        r.stderr
    );
    // The session dies meanwhile: the dead cookies are marked expired even
    // though the record of it cannot be written.
    site.faults(|f| f.session_expire_after_requests = Some(0));
    let r = check(&sb, &site, Auth::Stored);
    assert_ne!(r.code, Some(0));
    assert_eq!(
        std::fs::read(&elsewhere).unwrap(),
        before,
        "the link was not followed"
    );
    std::fs::remove_file(sb.audit()).unwrap();
    std::fs::rename(&elsewhere, sb.audit()).unwrap();
    let requests = site.count();
    assert_eq!(cookie_state(&sb, &site), "expired");
    assert_eq!(
        site.count(),
        requests,
        "the dead cookies are not sent again"
    );
}

#[test]
fn anonymous_listings_are_exit_3_not_an_empty_success() {
    let cloud = Site::cloud();
    cloud.faults(|f| f.anonymous = true);
    let server = Site::server_dc();
    let key = DemoData::default().space(0).unwrap().key;
    let cases: [(&Site, Auth); 2] = [
        (&cloud, Auth::Basic(DEMO_API_TOKEN)),
        // An invalid PAT on Server/DC runs as anonymous.
        (&server, Auth::Bearer("not-a-real-pat")),
    ];
    for (site, auth) in cases {
        let sb = Sandbox::new();
        let token = match auth {
            Auth::Basic(t) => t,
            Auth::Bearer(t) => t,
            Auth::Stored => unreachable!(),
        };
        let again = || match site.server.flavor() {
            DemoFlavor::Cloud => Auth::Basic(token),
            DemoFlavor::Server => Auth::Bearer(token),
        };
        let r = run(cmd(&sb, site, auth), &["spaces"]);
        assert_exit(&r, 3, "anonymous spaces");
        assert!(r.stderr.contains("anonymous"), "{}", r.stderr);
        assert!(!r.stderr.contains("listed"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        let r = run(cmd(&sb, site, again()), &["pages", &key, "--json"]);
        assert_exit(&r, 3, "anonymous pages");
        assert!(r.stderr.contains("anonymous"), "{}", r.stderr);
    }
}

#[test]
fn an_account_that_can_read_nothing_still_lists_successfully() {
    let site = Site::with_data(
        DemoFlavor::Cloud,
        DemoFaults::default(),
        DemoData {
            spaces: 0,
            pages_per_space: 0,
        },
    );
    let sb = Sandbox::new();
    let r = run(
        cmd(&sb, &site, Auth::Basic(DEMO_API_TOKEN)),
        &["spaces", "--json"],
    );
    assert_exit(&r, 0, "nothing readable");
    assert_eq!(r.stdout.trim(), "[]");
}

#[test]
fn unknown_space_key_is_exit_2_naming_the_key() {
    for (site, auth) in [
        (Site::cloud(), Auth::Basic(DEMO_API_TOKEN)),
        (Site::server_dc(), Auth::Bearer(DEMO_PAT)),
    ] {
        let sb = Sandbox::new();
        let r = run(cmd(&sb, &site, auth), &["pages", "NOPE"]);
        assert_exit(&r, 2, "unknown space key");
        assert!(r.stderr.contains("NOPE"), "{}", r.stderr);
        assert!(r.stdout.is_empty(), "{}", r.stdout);
    }
}

/// The binary with Basic auth on `site`, as a `std::process::Command` (whose
/// stdout can be redirected).
fn std_cmd(sb: &Sandbox, site: &Site) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
    c.env_clear()
        .env("CONFLUENCE_DATA_DIR", sb.data())
        .env("CONFLUENCE_KDF_LOG_N", "10")
        .env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
        .env("CONFLUENCE_DEPLOYMENT", site.deployment())
        .env("CONFLUENCE_USERNAME", DEMO_EMAIL)
        .env("CONFLUENCE_API_TOKEN", DEMO_API_TOKEN)
        .current_dir(sb.dir.path());
    c
}

#[cfg(target_os = "linux")]
#[test]
fn a_listing_that_cannot_be_written_fails() {
    let site = Site::cloud();
    let sb = Sandbox::new();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std_cmd(&sb, &site)
        .args(["spaces", "--json"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("standard output"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn a_listing_whose_reader_goes_away_ends_quietly() {
    use std::io::Read;
    let site = Site::with_data(
        DemoFlavor::Cloud,
        DemoFaults::default(),
        DemoData {
            spaces: 3000,
            pages_per_space: 1,
        },
    );
    let sb = Sandbox::new();
    let mut child = std_cmd(&sb, &site)
        .arg("spaces")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    let mut stdout = child.stdout.take().unwrap();
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("error"), "quietly: {err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

// ------------------------------------------------------- no leaks

const TOKEN_SENTINEL: &str = "SENTINELnetTokenW3e5r7t9y";
const PAT_SENTINEL: &str = "SENTINELnetPatQ2w4e6r8t0";
const COOKIE_SENTINEL: &str = "SENTINELnetCookieZ1x3c5v7";
const XSRF_SENTINEL: &str = "SENTINELnetXsrfM9n7b5v3";

fn scan_dir(dir: &Path, secrets: &[String]) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let p = entry.unwrap().path();
        if p.is_dir() {
            scan_dir(&p, secrets);
            continue;
        }
        // The vault included: encrypted, so no secret in plain text.
        let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
        for s in secrets {
            assert!(!text.contains(s.as_str()), "{} leaks a secret", p.display());
        }
    }
}

#[test]
fn network_commands_leak_no_secret_anywhere() {
    let cloud = Site::cloud();
    let server = Site::server_dc();
    let live_cloud = cloud.server.session_cookie_header();
    let live_server = server.server.session_cookie_header();
    let value_of = |header: &str| {
        header
            .split("; ")
            .filter_map(|p| p.split_once('='))
            .map(|(_, v)| v.to_string())
            .collect::<Vec<_>>()
    };
    let mut secrets: Vec<String> = [TOKEN_SENTINEL, PAT_SENTINEL, COOKIE_SENTINEL, XSRF_SENTINEL]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // The live demo values are unique per server: sentinels too.
    secrets.extend(value_of(&live_cloud));
    secrets.extend(value_of(&live_server));
    // The demo token and PAT are public constants; their Basic form is what
    // would leak from a header dump.
    use base64::Engine as _;
    secrets.push(
        base64::engine::general_purpose::STANDARD.encode(format!("{DEMO_EMAIL}:{DEMO_API_TOKEN}")),
    );
    secrets.push(DEMO_PAT.to_string());
    secrets.push(DEMO_API_TOKEN.to_string());
    let sentinel_cookie =
        format!("{CLOUD_SESSION_COOKIE}={COOKIE_SENTINEL}; atlassian.xsrf.token={XSRF_SENTINEL}");

    let sb = Sandbox::new();
    let mut transcript = String::new();
    let key = DemoData::default().space(0).unwrap().key;
    let listing: [&[&str]; 4] = [
        &["check"],
        &["check", "--json"],
        &["spaces", "--json"],
        &["pages", &key, "--json"],
    ];
    {
        let mut go = |site: &Site, auth: Auth, args: &[&str]| {
            let mut c = cmd(&sb, site, auth);
            c.env("RUST_LOG", "trace");
            let r = run(c, args);
            transcript.push_str(&format!(
                "$ {args:?} -> {:?}\n{}{}\n",
                r.code, r.stdout, r.stderr
            ));
            r.code
        };
        let mut codes = Vec::new();
        // Success: real demo credentials in each mode.
        for args in listing {
            codes.push(go(&cloud, Auth::Basic(DEMO_API_TOKEN), args));
            codes.push(go(&server, Auth::Bearer(DEMO_PAT), args));
        }
        // Failure: sentinel credentials the site refuses (rejected, anonymous).
        for args in listing {
            codes.push(go(&cloud, Auth::Basic(TOKEN_SENTINEL), args));
            codes.push(go(&server, Auth::Bearer(PAT_SENTINEL), args));
        }
        assert!(
            codes.contains(&Some(0)) && codes.contains(&Some(3)),
            "{codes:?}"
        );
    }

    // Cookie mode: live cookies (success, with rotation), then sentinel
    // cookies (expired), then CAPTCHA and 5xx.
    let cookie_sb = Sandbox::new();
    {
        let mut go = |site: &Site, args: &[&str], stdin: Option<&str>| {
            let mut c = cmd(&cookie_sb, site, Auth::Stored);
            c.env("RUST_LOG", "trace");
            if let Some(s) = stdin {
                c.write_stdin(s.to_string());
            }
            let r = run(c, args);
            transcript.push_str(&format!(
                "$ {args:?} -> {:?}\n{}{}\n",
                r.code, r.stdout, r.stderr
            ));
            r.code
        };
        cloud.faults(|f| f.rotate_cookies = true);
        assert_eq!(
            go(&cloud, &["cookies", "import", "-"], Some(&live_cloud)),
            Some(0)
        );
        for args in listing {
            assert_eq!(go(&cloud, args, None), Some(0), "{args:?}\n{transcript}");
        }
        // Rotated values are secrets too.
        secrets.push(stored_cookie(&cookie_sb, &cloud, CLOUD_SESSION_COOKIE));
        cloud.faults(|f| f.rotate_cookies = false);
        go(&cloud, &["cookies", "import", "-"], Some(&sentinel_cookie));
        for args in listing {
            go(&cloud, args, None);
            go(
                &cloud,
                &["cookies", "import", "--no-verify", "-"],
                Some(&sentinel_cookie),
            );
        }
        cloud.faults(|f| f.captcha = Some(CaptchaForm::Header403));
        for args in listing {
            assert_eq!(go(&cloud, args, None), Some(4), "{transcript}");
            go(
                &cloud,
                &["cookies", "import", "--no-verify", "-"],
                Some(&sentinel_cookie),
            );
        }
        cloud.faults(|f| {
            f.captcha = None;
            f.error_rate = 1.0;
        });
        assert_eq!(go(&cloud, &["check"], None), Some(5), "{transcript}");
    }

    for s in &secrets {
        assert!(
            !transcript.contains(s.as_str()),
            "output leaks a secret:\n{transcript}"
        );
    }
    for dir in [sb.data(), cookie_sb.data()] {
        let log = dir.join("logs/confluence-tui.log");
        assert!(
            std::fs::metadata(&log).is_ok_and(|m| m.len() > 0),
            "trace log written"
        );
        let text = std::fs::read_to_string(&log).unwrap();
        for noisy in [
            "TRACE hyper",
            "DEBUG hyper",
            "TRACE reqwest",
            "DEBUG reqwest",
        ] {
            assert!(
                !text.contains(noisy),
                "HTTP crates are capped at info:\n{text}"
            );
        }
        scan_dir(&dir, &secrets);
    }
}
