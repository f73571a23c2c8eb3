//! The authenticating proxy over real HTTP against the fake site: the real
//! binary (`proxy --json`, its first stdout line read) for every door, and
//! the public API in-process. Each test says what the site received, from
//! the demo's own request log.
#![cfg(unix)]

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use common::proxy::*;
use common::*;
use confluence_tui::demo::{CLOUD_SESSION_COOKIE, CaptchaForm, DemoFaults};

const SPACES: &str = "/rest/api/space?limit=2";

#[test]
fn no_token_or_a_wrong_token_is_refused_and_the_site_is_not_asked() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    let before = site.seen();
    for key in [Key::None, Key::Basic("not-the-token")] {
        let got = send(
            &site,
            reqwest::Method::GET,
            &proxy.url(SPACES),
            key,
            &[],
            None,
        );
        assert_eq!(got.status, 401, "{}", got.text());
        assert!(!got.headers.contains_key("www-authenticate"));
        assert_eq!(got.json()["reason"], "proxy_token_required");
    }
    // A Host that is not loopback (a rebound name) is refused too.
    let rebound = send(
        &site,
        reqwest::Method::GET,
        &proxy.url(SPACES),
        Key::Basic(&proxy.token),
        &[("host", "evil.example.com")],
        None,
    );
    assert_eq!(rebound.status, 403, "{}", rebound.text());
    assert_eq!(site.seen(), before, "the site was asked");

    // With the token: forwarded with the stored cookies only, never the
    // client's own Authorization or Cookie.
    let ok = send(
        &site,
        reqwest::Method::GET,
        &proxy.url(SPACES),
        Key::Basic(&proxy.token),
        &[("cookie", "sneaky=1")],
        None,
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["results"].as_array().unwrap().len(), 2);
    let seen = site.server.requests_seen();
    assert_eq!(seen.len(), before + 1);
    let last = seen.last().unwrap();
    assert_eq!(last.authorization, None, "{last:?}");
    assert!(
        last.cookie_names
            .contains(&CLOUD_SESSION_COOKIE.to_string()),
        "{last:?}"
    );
    assert!(
        !last.cookie_names.contains(&"sneaky".to_string()),
        "{last:?}"
    );
}

#[test]
fn writes_are_refused_unless_allowed_and_then_carry_the_xsrf_opt_out() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let page = r#"{"type":"page","title":"From the pipeline","space":{"key":"AN0"}}"#;

    let read_only = Proxy::start(&sb, &site, &[], &[]);
    let before = site.seen();
    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let got = send(
            &site,
            method.clone(),
            &read_only.url("/rest/api/content"),
            Key::Basic(&read_only.token),
            &[],
            Some(page),
        );
        assert_eq!(got.status, 405, "{method}: {}", got.text());
        assert!(
            got.json()["message"]
                .as_str()
                .unwrap()
                .contains("--allow-writes"),
            "{}",
            got.text()
        );
        assert_eq!(got.headers["allow"], "GET, HEAD, OPTIONS");
    }
    assert_eq!(site.seen(), before, "a write reached the site");

    let writable = Proxy::start(
        &sb,
        &site,
        &["--allow-writes", "--listen", "127.0.0.1:0"],
        &[],
    );
    let got = send(
        &site,
        reqwest::Method::POST,
        &writable.url("/rest/api/content"),
        Key::Basic(&writable.token),
        &[],
        Some(page),
    );
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json()["title"], "From the pipeline");
    let seen = site.server.requests_seen();
    let post = seen.last().unwrap();
    assert_eq!(post.method, "POST");
    assert_eq!(
        post.atlassian_token.as_deref(),
        Some("no-check"),
        "{post:?}"
    );
    assert!(
        post.cookie_names
            .contains(&CLOUD_SESSION_COOKIE.to_string())
    );
    // Never a tunnel, even with writes allowed.
    let trace = send(
        &site,
        reqwest::Method::TRACE,
        &writable.url("/rest/api/content"),
        Key::Basic(&writable.token),
        &[],
        None,
    );
    assert_eq!(trace.status, 405, "{}", trace.text());
    assert_eq!(site.server.requests_seen().len(), seen.len());
}

#[test]
fn an_absolute_form_request_for_another_host_is_refused_and_nobody_is_asked() {
    let site = Site::cloud(DemoFaults::default());
    let elsewhere = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    let (before, before_elsewhere) = (site.seen(), elsewhere.seen());
    let other = format!(
        "{}/rest/api/space",
        elsewhere.server.base_url().as_str().trim_end_matches('/')
    );
    let raw = |target: &str| {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("confluence-tui:{}", proxy.token));
        let mut s = std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n",
            proxy.port()
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    };
    for target in [
        other.as_str(),
        "http://evil.example.com/wiki/rest/api/space",
        "https://evil.example.com/wiki/rest/api/space",
    ] {
        let answer = raw(target);
        let status: u16 = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status: {answer}"));
        assert!((400..500).contains(&status), "{target}: {answer}");
        assert!(answer.contains("not_an_open_proxy"), "{answer}");
    }
    // A path outside the site's context path is not the site either.
    let outside = get(&site, &proxy, "/../login");
    assert!((400..500).contains(&outside.status), "{}", outside.text());
    assert_eq!(site.seen(), before, "the site was asked");
    assert_eq!(elsewhere.seen(), before_elsewhere, "another host was asked");
    // Absolute-form naming the proxy itself is its own origin-form.
    let own = raw(&proxy.url(SPACES));
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
}

#[test]
fn set_cookie_never_reaches_the_client_and_the_rotated_cookie_is_saved() {
    let site = Site::cloud(DemoFaults {
        rotate_cookies: true,
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let mut proxy = Proxy::start(&sb, &site, &[], &[]);
    // Each answer rotates the session; after two rotations the imported
    // value is refused by the site.
    for _ in 0..3 {
        let got = get(&site, &proxy, SPACES);
        assert_eq!(got.status, 200, "{}", got.text());
        assert!(
            !got.headers.contains_key("set-cookie"),
            "a Set-Cookie reached the client: {:?}",
            got.headers
        );
    }
    assert_eq!(proxy.stop().code(), Some(0), "{}", proxy.stderr());
    assert!(!audited(&sb, "cookies_refreshed").is_empty());
    site.faults(|f| f.rotate_cookies = false);
    // Only the newest values are accepted now: the vault holds them.
    for _ in 0..3 {
        let (code, out, err) = run(&sb, &site, &["check"]);
        assert_eq!(code, Some(0), "{out}{err}");
    }
}

#[test]
fn links_and_locations_point_at_the_proxy() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    let site_base = site
        .server
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_string();
    assert!(proxy.base.ends_with("/wiki"), "{}", proxy.base);

    let v1 = get(&site, &proxy, SPACES);
    let body = v1.json();
    assert_eq!(body["_links"]["base"], proxy.base.as_str(), "{body}");
    assert_eq!(
        body["_links"]["self"],
        format!("{}/rest/api/space", proxy.base),
        "{body}"
    );
    assert!(!String::from_utf8_lossy(&v1.body).contains(&site_base));
    // v1 paging from _links.base + _links.next stays on the proxy.
    let next = format!(
        "{}{}",
        body["_links"]["base"].as_str().unwrap(),
        body["_links"]["next"].as_str().unwrap()
    );
    let page2 = send(
        &site,
        reqwest::Method::GET,
        &next,
        Key::Basic(&proxy.token),
        &[],
        None,
    );
    assert_eq!(page2.status, 200, "{}", page2.text());
    assert_eq!(page2.json()["start"], 2);

    let v2 = get(&site, &proxy, "/api/v2/spaces?limit=1");
    assert_eq!(v2.json()["_links"]["base"], proxy.base.as_str());

    let tiny = get(&site, &proxy, "/x/AbCd");
    assert_eq!(tiny.status, 302, "{}", tiny.text());
    let location = tiny.headers["location"].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{}/pages/viewpage.action", proxy.base)),
        "{location}"
    );
}

/// Peak resident memory of a process, from `/proc/PID/status`.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_200_mb_download_streams_through_with_a_small_peak_rss() {
    const SIZE: u64 = 200 * 1024 * 1024;
    let site = Site::cloud(DemoFaults {
        attachment_bytes: SIZE,
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    let url = proxy.url("/download/attachments/10000000/big.bin");
    let started = Instant::now();
    let (status, length, received) = site.rt.block_on(async {
        use futures::StreamExt as _;
        let r = client()
            .get(&url)
            .basic_auth("confluence-tui", Some(&proxy.token))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let length = r.content_length();
        let mut stream = r.bytes_stream();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            received += chunk.unwrap().len() as u64;
        }
        (status, length, received)
    });
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(length, Some(SIZE), "the length is passed on");
    assert_eq!(received, SIZE);
    let peak = peak_rss_kib(proxy.child.id());
    eprintln!(
        "200 MiB through the proxy in {:.2} s ({:.0} MiB/s); proxy peak RSS {} KiB",
        took.as_secs_f64(),
        200.0 / took.as_secs_f64(),
        peak
    );
    assert!(
        peak < 60 * 1024,
        "peak RSS {peak} KiB: the body was buffered"
    );
}

#[test]
fn a_dead_session_is_refused_audited_and_served_again_after_a_reimport() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let notified = sb.dir.path().join("notified.txt");
    let notify = format!(
        "env | grep -E '^CONFLUENCE_' | sort >> '{0}'; echo --- >> '{0}'",
        notified.display()
    );
    let proxy = Proxy::start(&sb, &site, &[], &[("CONFLUENCE_NOTIFY_CMD", &notify)]);
    assert_eq!(get(&site, &proxy, SPACES).status, 200);

    // Every way a site says "signed out", each followed by a fresh import
    // that the same proxy picks up.
    let kills: [fn(&mut DemoFaults); 3] = [
        |_| {},
        |f| f.html_login_page = true,
        |f| f.redirect_to_login = true,
    ];
    for (round, kill) in kills.iter().enumerate() {
        site.faults(|f| {
            *f = DemoFaults::default();
            kill(f);
            f.session_expire_after = Some(Duration::ZERO);
        });
        let dead = get(&site, &proxy, SPACES);
        assert_eq!(dead.status, 401, "round {round}: {}", dead.text());
        let body = dead.json();
        assert_eq!(body["reason"], "session_expired", "{body}");
        assert!(body["message"].as_str().unwrap().contains("cookies import"));
        assert!(
            body["login_url"].as_str().unwrap().ends_with("/login"),
            "{body}"
        );
        assert!(!dead.headers.contains_key("www-authenticate"));
        assert_eq!(audited(&sb, "cookies_expired").len(), round + 1);
        if round == 0 {
            let (code, out, _) = run(&sb, &site, &["cookies", "status", "--json"]);
            assert_eq!(code, Some(3), "{out}");
            eventually(Duration::from_secs(5), "the notify command ran", || {
                std::fs::read_to_string(&notified).is_ok_and(|n| n.contains("---"))
            });
            let n = std::fs::read_to_string(&notified).unwrap();
            assert_eq!(n.matches("---").count(), 1, "{n}");
            assert!(n.contains("CONFLUENCE_SESSION_STATE=expired"), "{n}");
        }
        // Later requests are answered at once, without the site.
        let asked = site.seen();
        let again = get(&site, &proxy, SPACES);
        assert_eq!(again.status, 401);
        assert_eq!(again.json()["reason"], "session_expired");
        assert_eq!(site.seen(), asked, "the site was asked after the death");

        // Signed in again in the browser, cookies imported: no restart.
        site.faults(|f| *f = DemoFaults::default());
        import_live(&sb, &site);
        let back = get(&site, &proxy, SPACES);
        assert_eq!(back.status, 200, "round {round}: {}", back.text());
        // Let the keep-alive see the fresh session before the next death.
        std::thread::sleep(Duration::from_millis(800));
    }
}

/// The site's live session as a browser on this machine holds it.
fn browser_holding_live_session(site: &Site) -> Vec<common::browser::FixtureCookie> {
    site.server
        .session_cookie_header()
        .split("; ")
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap();
            common::browser::FixtureCookie::session("127.0.0.1", n, v)
        })
        .collect()
}

/// A new sign-in on the site, as the browser's login does.
fn sign_in_on_site(site: &Site) {
    let login = format!("http://{}/login?demo=1", site.server.addr());
    let got = send(site, reqwest::Method::GET, &login, Key::None, &[], None);
    assert_eq!(got.status, 303, "{}", got.text());
}

#[test]
fn with_confluence_browser_the_running_proxy_picks_up_a_fresh_browser_login() {
    use common::browser::write_firefox_session_store;
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    // The browser holds the session that is about to die.
    let profile = sb.dir.path().join("firefox-profile");
    write_firefox_session_store(&profile, &browser_holding_live_session(&site));
    let browser = format!("firefox:{}", profile.display());
    let proxy = Proxy::start(&sb, &site, &[], &[("CONFLUENCE_BROWSER", &browser)]);
    assert_eq!(get(&site, &proxy, SPACES).status, 200);

    site.server.control().end_session();
    let dead = get(&site, &proxy, SPACES);
    assert_eq!(dead.status, 401, "{}", dead.text());
    // The browser's copy of the dead session is not taken for a fresh one.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(get(&site, &proxy, SPACES).status, 401);
    assert_eq!(
        audited(&sb, "cookies_saved").len(),
        1,
        "only the first import"
    );

    // The user signs in again in the browser, which saves the new session;
    // nobody runs an import and the proxy is not restarted.
    sign_in_on_site(&site);
    write_firefox_session_store(&profile, &browser_holding_live_session(&site));
    eventually(Duration::from_secs(20), "the proxy serves again", || {
        get(&site, &proxy, SPACES).status == 200
    });
    let saved = audited(&sb, "cookies_saved");
    assert_eq!(saved.len(), 2, "{saved:?}");
    let source = saved[1].to_string();
    assert!(source.contains("browser:firefox:"), "{source}");
    let (code, out, _) = run(&sb, &site, &["cookies", "export", "--format", "header"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.trim(), site.server.session_cookie_header());
}

#[test]
fn a_captcha_is_answered_403_and_the_site_is_asked_once() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    site.faults(|f| f.captcha = Some(CaptchaForm::Header403));
    let before = site.seen();
    for _ in 0..3 {
        let got = get(&site, &proxy, SPACES);
        assert_eq!(got.status, 403, "{}", got.text());
        let body = got.json();
        assert_eq!(body["reason"], "captcha", "{body}");
        assert!(
            body["login_url"].as_str().unwrap().contains("/login"),
            "{body}"
        );
    }
    assert_eq!(site.seen(), before + 1, "a CAPTCHA was retried");
    assert_eq!(audited(&sb, "captcha_challenge").len(), 1);
    // Every process knows it: `check` answers from the stored state.
    let (code, out, err) = run(&sb, &site, &["check"]);
    assert_eq!(code, Some(4), "{out}{err}");
    assert_eq!(site.seen(), before + 1);
}

#[test]
fn a_listen_address_off_loopback_is_refused_with_exit_2() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    for addr in ["0.0.0.0:0", "[::]:0", "192.0.2.1:8080"] {
        let (code, out, err) = run(&sb, &site, &["proxy", "--json", "--listen", addr]);
        assert_eq!(code, Some(2), "{addr}: {out}{err}");
        assert!(out.is_empty(), "{out}");
        assert!(err.contains("loopback"), "{err}");
    }
    assert!(audited(&sb, "proxy_started").is_empty());
}

#[test]
fn nothing_usable_refuses_to_start_with_the_exit_codes_of_check() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    let code = |cmd: &mut Command| {
        let out = cmd.args(["proxy", "--json"]).output().unwrap();
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        (out.status.code(), stderr(&out))
    };
    // No site: 2.
    let mut no_site = bin(&sb, &site);
    no_site.env_remove("CONFLUENCE_BASE_URL");
    assert_eq!(code(&mut no_site).0, Some(2));
    // No credentials: 3.
    let (c, err) = code(&mut bin(&sb, &site));
    assert_eq!(c, Some(3), "{err}");
    // Expired cookies: 3, saying how to import fresh ones.
    import_live(&sb, &site);
    site.faults(|f| f.session_expire_after = Some(Duration::ZERO));
    assert_eq!(run(&sb, &site, &["check"]).0, Some(3));
    site.faults(|f| *f = DemoFaults::default());
    let (c, err) = code(&mut bin(&sb, &site));
    assert_eq!(c, Some(3), "{err}");
    assert!(err.contains("cookies import"), "{err}");
    // A stored CAPTCHA: 4.
    import_live(&sb, &site);
    site.faults(|f| f.captcha = Some(CaptchaForm::Header403));
    assert_eq!(run(&sb, &site, &["check"]).0, Some(4));
    site.faults(|f| *f = DemoFaults::default());
    let (c, err) = code(&mut bin(&sb, &site));
    assert_eq!(c, Some(4), "{err}");
    // A vault that cannot be read: 6.
    std::fs::write(sb.vault(), b"not a vault at all").unwrap();
    let (c, err) = code(&mut bin(&sb, &site));
    assert_eq!(c, Some(6), "{err}");
    assert!(audited(&sb, "proxy_started").is_empty());
}

#[test]
fn nothing_secret_leaks_from_the_proxy() {
    let site = Site::cloud(DemoFaults {
        rotate_cookies: true,
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let mut secrets: Vec<String> = Vec::new();
    let mut remember_cookies = |site: &Site| {
        for pair in site.server.session_cookie_header().split("; ") {
            if let Some((_, v)) = pair.split_once('=') {
                secrets.push(v.to_string());
            }
        }
    };
    remember_cookies(&site);
    let mut proxy = Proxy::start(&sb, &site, &[], &[("RUST_LOG", "debug")]);
    let mut received = String::new();
    let mut keep = |g: Got| received.push_str(&g.text());
    keep(get(&site, &proxy, SPACES));
    keep(get(&site, &proxy, "/rest/api/user/current"));
    keep(get(&site, &proxy, "/x/AbCd"));
    remember_cookies(&site);
    keep(send(
        &site,
        reqwest::Method::GET,
        &proxy.url(SPACES),
        Key::Basic("wrong"),
        &[],
        None,
    ));
    keep(send(
        &site,
        reqwest::Method::POST,
        &proxy.url("/rest/api/content"),
        Key::Basic(&proxy.token),
        &[],
        Some("{}"),
    ));
    site.faults(|f| f.session_expire_after = Some(Duration::ZERO));
    keep(get(&site, &proxy, SPACES));
    keep(get(&site, &proxy, SPACES));
    assert_eq!(proxy.stop().code(), Some(0));

    let token = proxy.token.clone();
    assert!(proxy.announcement.contains(&token));
    let later: Vec<String> = proxy.more_stdout.try_iter().collect();
    assert!(later.is_empty(), "more on stdout: {later:?}");
    let diagnostics = std::fs::read_to_string(sb.data().join("logs/confluence-tui.log")).unwrap();
    assert!(
        diagnostics.contains("proxied request"),
        "debug logging was on: {diagnostics}"
    );
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(audit.contains("proxy_started") && audit.contains("proxy_stopped"));
    let places = [
        ("stderr", proxy.stderr()),
        ("the diagnostics log", diagnostics),
        ("the audit log", audit),
        ("the answers", received),
    ];
    secrets.retain(|s| s.len() >= 8);
    secrets.push(token);
    for (place, text) in &places {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{place} holds a secret");
        }
    }
}

#[test]
fn the_api_runs_inside_a_runtime_and_logs_traffic_without_queries() {
    use confluence_tui::config::{FlagOverrides, Settings};
    use confluence_tui::proxy::{self, ProxyOptions, ProxyToken};
    use confluence_tui::secret::ExposeSecret;
    use std::collections::HashMap;

    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let vars: HashMap<String, String> = [
        ("CONFLUENCE_DATA_DIR", sb.data().display().to_string()),
        ("CONFLUENCE_KDF_LOG_N", "10".to_string()),
        (
            "CONFLUENCE_BASE_URL",
            site.server.base_url().as_str().to_string(),
        ),
        ("CONFLUENCE_DEPLOYMENT", "cloud".to_string()),
        ("CONFLUENCE_KEEPALIVE_SECS", "0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = Settings::from_vars(&FlagOverrides::default(), &vars).unwrap();
    site.rt.block_on(async {
        use confluence_tui::session::{Session, SessionConfig, Watch};
        let owner = Session::start(SessionConfig {
            settings,
            machine_id: confluence_tui::vault::MachineIdSource::System,
            retry: Default::default(),
            login_page: None,
            watch: Watch::none(),
        });
        let handle = proxy::start(
            proxy::SessionSource::fixed(owner.session()),
            ProxyOptions::new(ProxyToken::generate().unwrap()),
        )
        .await
        .unwrap();
        assert!(handle.base_url().as_str().ends_with("/wiki"));
        assert!(handle.local_addr().ip().is_loopback());
        let traffic = handle.traffic();
        let mut live = traffic.subscribe();
        let url = format!("{}/rest/api/space?limit=1&secret=s3cr3t", handle.base_url());
        let r = client()
            .get(&url)
            .basic_auth(handle.username(), Some(handle.token().expose_secret()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body = r.bytes().await.unwrap();
        let record = tokio::time::timeout(Duration::from_secs(5), live.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.method, "GET");
        assert_eq!(record.path, "/wiki/rest/api/space");
        assert_eq!(record.status, 200);
        assert_eq!(record.bytes, body.len() as u64);
        assert!(record.complete);
        let refused = client().get(&url).send().await.unwrap();
        assert_eq!(refused.status(), 401);
        let _ = refused.bytes().await;
        // HEAD: the length of what GET would send, and no body.
        let download = format!("{}/download/attachments/1/a.bin", handle.base_url());
        let head = client()
            .head(&download)
            .basic_auth(handle.username(), Some(handle.token().expose_secret()))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(
            head.headers()["content-length"],
            DemoFaults::default().attachment_bytes.to_string().as_str()
        );
        assert!(head.bytes().await.unwrap().is_empty());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let totals = traffic.totals();
        assert_eq!((totals.requests, totals.refused), (3, 1));
        assert!(traffic.recent().iter().all(|r| !r.path.contains("s3cr3t")));
        handle.shutdown().await.unwrap();
    });
    assert_eq!(audited(&sb, "proxy_stopped").len(), 1);
}

/// `rounds` rounds of `clients` GETs sent at once through the proxy; every
/// status, round by round.
fn concurrent_gets(site: &Site, proxy: &Proxy, rounds: usize, clients: usize) -> Vec<Vec<u16>> {
    site.rt.block_on(async {
        let http = client();
        let mut statuses = Vec::new();
        for round in 0..rounds {
            let requests = (0..clients).map(|i| {
                let url = proxy.url(&format!(
                    "/rest/api/space?limit=1&start={}",
                    (round + i) % 3
                ));
                let r = http
                    .get(url)
                    .basic_auth("confluence-tui", Some(&proxy.token));
                async move { r.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
            });
            statuses.push(futures::future::join_all(requests).await);
        }
        statuses
    })
}

#[test]
fn many_concurrent_clients_on_a_strictly_rotating_site_all_get_200_and_the_session_lives() {
    // Every signed-in request rotates the session cookie, and the value it
    // replaced is refused at once: requests in flight together carry a
    // value the site has already superseded.
    let site = Site::cloud(DemoFaults {
        rotate_cookies: true,
        rotation_grace: 0,
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let mut proxy = Proxy::start(&sb, &site, &[], &[]);
    let rounds = concurrent_gets(&site, &proxy, 4, 32);
    for (n, statuses) in rounds.iter().enumerate() {
        assert!(
            statuses.iter().all(|s| *s == 200),
            "round {n}: {statuses:?}\n{}",
            proxy.stderr()
        );
    }
    assert_eq!(proxy.stop().code(), Some(0), "{}", proxy.stderr());
    assert!(
        audited(&sb, "session_expired").is_empty() && audited(&sb, "cookies_expired").is_empty(),
        "a live session was declared dead"
    );
    // The vault holds the newest value: the only one the site accepts.
    let (code, exported, err) = run(&sb, &site, &["cookies", "export", "--format", "header"]);
    assert_eq!(code, Some(0), "{err}");
    let live = site.server.session_cookie_header();
    let session = |h: &str| {
        h.split(';')
            .map(str::trim)
            .find(|c| c.starts_with(CLOUD_SESSION_COOKIE))
            .map(str::to_string)
    };
    assert_eq!(session(exported.trim()), session(&live));
    let (code, out, err) = run(&sb, &site, &["check"]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn sequential_clients_and_a_racing_keep_alive_on_a_strictly_rotating_site_all_get_200() {
    // The keep-alive verifies every second while a client sends one
    // request after another: both rotate the cookie, neither may take the
    // other's rotation for a death.
    let site = Site::cloud(DemoFaults {
        rotate_cookies: true,
        rotation_grace: 0,
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let mut proxy = Proxy::start(&sb, &site, &[], &[("CONFLUENCE_KEEPALIVE_SECS", "1")]);
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let got = get(&site, &proxy, SPACES);
        assert_eq!(got.status, 200, "request {sent}: {}", got.text());
        sent += 1;
    }
    assert!(sent > 10, "{sent}");
    assert_eq!(proxy.stop().code(), Some(0), "{}", proxy.stderr());
    assert!(audited(&sb, "session_expired").is_empty());
    let (code, out, err) = run(&sb, &site, &["check"]);
    assert_eq!(code, Some(0), "{out}{err}");
}
