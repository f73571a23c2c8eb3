//! The proxy serving pipelines where they run: its door (encoded traversal,
//! cross-site browser requests, no Basic challenge), the health endpoint,
//! and links people click. The real binary over real HTTP against the fake
//! site; each test says what the site (or the front end before it) got.
#![cfg(unix)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::gateway::{Door, Gateway};
use common::proxy::*;
use common::*;
use confluence_tui::demo::DemoFaults;

const SPACES: &str = "/rest/api/space?limit=2";

/// The proxy's address with `path` from its root (not under `/wiki`).
fn at(proxy: &Proxy, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", proxy.port())
}

/// Sends `GET path` byte for byte (no client library normalises it) with
/// the proxy's token; (status, body).
fn raw_get(proxy: &Proxy, path: &str) -> (u16, String) {
    use base64::Engine as _;
    use std::io::{Read as _, Write as _};
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("confluence-tui:{}", proxy.token));
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", proxy.port())).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {basic}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        proxy.port()
    )
    .unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Imports the site's live session for `base_url` (a front end's address).
fn import_for(sb: &Sandbox, site: &Site, base_url: &str) {
    use std::io::Write as _;
    let mut c = bin(sb, site);
    c.env("CONFLUENCE_BASE_URL", base_url)
        .args(["cookies", "import", "--no-verify", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(site.server.session_cookie_header().as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "import");
}

#[test]
fn encoded_traversal_reaches_nothing_outside_the_context_with_credentials() {
    let site = Site::cloud(DemoFaults::default());
    let front = Gateway::start(Door::Decoding, site.server.addr());
    let base = front.base_url("/wiki");
    let sb = Sandbox::new();
    import_for(&sb, &site, &base);
    let proxy = Proxy::start(&sb, &site, &[], &[("CONFLUENCE_BASE_URL", &base)]);

    // The control: an ordinary request reaches the site with the cookie.
    let (status, body) = raw_get(&proxy, "/wiki/rest/api/space?limit=1");
    assert_eq!(status, 200, "{body}");
    let carried =
        |s: &common::gateway::Seen| !s.cookie_names.is_empty() || s.authorization.is_some();
    assert!(
        front
            .seen()
            .iter()
            .any(|s| s.path.starts_with("/wiki/rest/api/space") && carried(s)),
        "the front end saw no credentials at all: {:?}",
        front.seen()
    );

    for (path, status, reason) in [
        ("/wiki/..%2fadmin", 400, "encoded_separator"),
        ("/wiki/..%2Fadmin/x", 400, "encoded_separator"),
        ("/wiki/%2e%2e%2fadmin", 400, "encoded_separator"),
        ("/rest/..%2f..%2fadmin", 400, "encoded_separator"),
        ("/wiki/..%5cadmin", 400, "encoded_separator"),
        ("/wiki/..;/admin", 400, "path_parameter"),
        ("/wiki/%2e%2e/admin", 404, "outside_site"),
        ("/wiki/rest/%2e%2e/%2e%2e/admin", 404, "outside_site"),
    ] {
        let (got, body) = raw_get(&proxy, path);
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body.contains(&format!("\"reason\":\"{reason}\"")),
            "{path}: {body}"
        );
    }
    // A dot segment that stays inside the context is resolved and the
    // resolved form is what goes out.
    let (status, body) = raw_get(&proxy, "/wiki/x/%2e%2e/rest/api/space?limit=1");
    assert_eq!(status, 200, "{body}");

    let outside: Vec<_> = front
        .seen()
        .into_iter()
        .filter(|s| !(s.path == "/wiki" || s.path.starts_with("/wiki/")))
        .collect();
    assert!(
        outside.is_empty(),
        "served outside the context path: {outside:?}"
    );
}

#[test]
fn a_cross_site_browser_request_is_refused_even_with_a_valid_token() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &["--allow-writes"], &[]);
    let before = site.seen();
    for extra in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-mode", "no-cors"),
        ],
    ] {
        let got = send(
            &site,
            reqwest::Method::POST,
            &at(&proxy, "/wiki/rest/api/content"),
            Key::Basic(&proxy.token),
            &extra,
            Some(r#"{"type":"page","title":"x","space":{"key":"SP00001"}}"#),
        );
        assert_eq!(got.status, 403, "{extra:?}: {}", got.text());
        assert_eq!(got.json()["reason"], "cross_site_request");
    }
    assert_eq!(site.seen(), before, "the site was asked");

    // No challenge a browser would answer with a prompt and then cache.
    let got = send(
        &site,
        reqwest::Method::GET,
        &proxy.url(SPACES),
        Key::None,
        &[],
        None,
    );
    assert_eq!(got.status, 401);
    assert!(
        !got.headers.contains_key("www-authenticate"),
        "{:?}",
        got.headers
    );
    assert_eq!(got.json()["reason"], "proxy_token_required");
}

#[test]
fn a_person_following_a_stored_link_is_sent_to_the_real_site() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    let before = site.seen();
    let html = [(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )];
    let page = "/wiki/spaces/SP00001/pages/100007000/Some+Title";
    let got = send(
        &site,
        reqwest::Method::GET,
        &at(&proxy, page),
        Key::None,
        &html,
        None,
    );
    assert_eq!(got.status, 302, "{}", got.text());
    let real = format!(
        "{}/spaces/SP00001/pages/100007000/Some+Title",
        site.server.base_url().as_str().trim_end_matches('/')
    );
    assert_eq!(got.headers["location"], real.as_str());

    // The REST API is never served without a token, HTML or not.
    let rest = send(
        &site,
        reqwest::Method::GET,
        &proxy.url(SPACES),
        Key::None,
        &html,
        None,
    );
    assert_eq!(rest.status, 401, "{}", rest.text());
    // Nor is a page asked for by a program (no HTML accepted).
    let program = send(
        &site,
        reqwest::Method::GET,
        &at(&proxy, page),
        Key::None,
        &[("accept", "application/json")],
        None,
    );
    assert_eq!(program.status, 401, "{}", program.text());
    assert_eq!(site.seen(), before, "the site was asked");
}

/// `GET /.confluence-tui/health` without a token: (status, body).
fn health(site: &Site, proxy: &Proxy) -> (u16, serde_json::Value) {
    let got = send(
        site,
        reqwest::Method::GET,
        &at(proxy, "/.confluence-tui/health"),
        Key::None,
        &[],
        None,
    );
    (got.status, got.json())
}

#[test]
fn health_says_signed_in_expired_or_unreachable_and_nothing_else() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    // Imported unverified: health asks the site before it answers.
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    let (status, body) = health(&site, &proxy);
    assert_eq!(
        (status, body.to_string()),
        (200, r#"{"state":"signed_in"}"#.into())
    );

    site.server.control().end_session();
    let dead = get(&site, &proxy, SPACES);
    assert_eq!(dead.status, 401, "{}", dead.text());
    let (status, body) = health(&site, &proxy);
    assert_eq!(
        (status, body.to_string()),
        (503, r#"{"state":"expired"}"#.into())
    );

    // Another site, checked every second, goes away.
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &[], &[("CONFLUENCE_KEEPALIVE_SECS", "1")]);
    assert_eq!(health(&site, &proxy).0, 200);
    let Site { server, rt } = site;
    rt.block_on(server.shutdown());
    let site_rt = Site::cloud(DemoFaults::default());
    eventually(Duration::from_secs(20), "health says unreachable", || {
        health(&site_rt, &proxy) == (503, serde_json::json!({"state": "unreachable"}))
    });
    drop(rt);
}

/// Raises this process's descriptor limit to hold `n` more sockets.
fn allow_descriptors(n: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let want = n + 1024;
    if now.current.is_some_and(|c| c >= want) {
        return;
    }
    let hard = now.maximum.map_or(want, |m| m.max(want));
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(want),
            maximum: Some(hard),
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "cannot raise the descriptor limit to {want} ({e}): run as root or raise `ulimit -n`"
        )
    });
}

#[test]
fn a_flood_of_idle_and_slow_connections_does_not_keep_a_real_client_out() {
    use std::io::{Read as _, Write as _};
    const FLOOD: u64 = 10_000;
    allow_descriptors(FLOOD);
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    // The proxy may hold 4096 descriptors, as a service often may (1024 is
    // a common default): fewer than the flood. The header timeout is long,
    // so only the cap on connections can make room.
    let proxy = Proxy::start_with(&sb, &site, &["--header-timeout", "3600"], &[], |c| {
        use std::os::unix::process::CommandExt as _;
        // SAFETY: only setrlimit, async-signal-safe, runs in the child.
        unsafe {
            c.pre_exec(|| {
                rustix::process::setrlimit(
                    rustix::process::Resource::Nofile,
                    rustix::process::Rlimit {
                        current: Some(4096),
                        maximum: Some(4096),
                    },
                )
                .map_err(std::io::Error::from)
            });
        }
    });
    let addr = ("127.0.0.1", proxy.port());

    // A client that sends one header line a second and never ends its head.
    let mut slow = std::net::TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /wiki/rest/api/space HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let slow_cut = std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            if slow.write_all(b"X-Slow: 1\r\n").is_err() {
                return true;
            }
            slow.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
            let mut buf = [0u8; 512];
            match slow.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => return false,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    });

    // Ten thousand connections that never say a word.
    let t0 = std::time::Instant::now();
    // Opened from 20 threads: a dropped SYN here and there costs its
    // opener a second, not the whole flood.
    let port = proxy.port();
    let openers: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                (0..FLOOD / 20)
                    .map(|i| {
                        std::net::TcpStream::connect(("127.0.0.1", port))
                            .unwrap_or_else(|e| panic!("connection {i} of the flood: {e}"))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let flood: Vec<_> = openers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(flood.len() as u64, FLOOD);

    eprintln!("flood opened in {:?}", t0.elapsed());
    // A real client is answered while they stay open.
    let started = std::time::Instant::now();
    let got = site.rt.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
            .get(proxy.url(SPACES))
            .basic_auth("confluence-tui", Some(&proxy.token))
            .send()
            .await
    });
    let took = started.elapsed();
    let got = got.unwrap_or_else(|e| panic!("the real client was kept out: {e}"));
    assert_eq!(got.status(), 200);
    eprintln!("answered during the flood in {took:?}");
    assert!(
        slow_cut.join().unwrap(),
        "the slow-header client was never cut"
    );
    drop(flood);
}

#[test]
fn a_slow_request_head_and_an_idle_kept_alive_connection_are_cut() {
    use std::io::{Read as _, Write as _};
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let proxy = Proxy::start(&sb, &site, &["--header-timeout", "2"], &[]);
    let addr = ("127.0.0.1", proxy.port());
    let cut_within = |mut s: std::net::TcpStream, drip: bool| {
        let start = std::time::Instant::now();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut seen = Vec::new();
        while start.elapsed() < Duration::from_secs(30) {
            if drip && s.write_all(b"X-Slow: 1\r\n").is_err() {
                return Some(start.elapsed());
            }
            let mut buf = [0u8; 4096];
            match s.read(&mut buf) {
                Ok(0) => return Some(start.elapsed()),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return Some(start.elapsed()),
            }
        }
        None
    };
    // One header line every 300 ms, never the end of the head.
    let mut slow = std::net::TcpStream::connect(addr).unwrap();
    slow.write_all(b"GET /wiki/rest/api/space HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let took = cut_within(slow, true).expect("a dripping request head was never cut");
    eprintln!("slow head cut after {took:?}");

    // A kept-alive connection after a full answer, then silence.
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("confluence-tui:{}", proxy.token));
    let mut idle = std::net::TcpStream::connect(addr).unwrap();
    write!(
        idle,
        "GET /wiki/rest/api/space?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {basic}\r\n\r\n"
    )
    .unwrap();
    let took = cut_within(idle, false).expect("an idle kept-alive connection was never closed");
    eprintln!("idle connection closed after {took:?}");
}

/// Everything under the sandbox's data dir, as text (logs, the vault).
fn data_text(sb: &Sandbox) -> String {
    let mut all = String::new();
    let mut dirs = vec![sb.data()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                all.push_str(&String::from_utf8_lossy(
                    &std::fs::read(&path).unwrap_or_default(),
                ));
            }
        }
    }
    all
}

#[test]
fn named_client_tokens_outlive_restarts_end_on_revoke_and_are_shown_once() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let (code, out, err) = run(&sb, &site, &["proxy", "clients", "add", "onyx", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let added: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(added["name"], "onyx");
    assert_eq!(added["username"], "confluence-tui");
    let token = added["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 43);
    let (code, writer_out, err) = run(
        &sb,
        &site,
        &[
            "proxy",
            "clients",
            "add",
            "writer",
            "--allow-writes",
            "--expires",
            "30",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let writer = writer_out.trim().to_string();
    assert_eq!(writer.len(), 43, "the token alone on stdout: {writer_out}");
    assert!(err.contains("shown this once"), "{err}");
    let (code, _, err) = run(&sb, &site, &["proxy", "clients", "add", "onyx"]);
    assert_eq!(code, Some(2), "a name is taken once: {err}");

    let with = |proxy: &Proxy, tok: &str, method: reqwest::Method| {
        send(
            &site,
            method.clone(),
            &proxy.url("/rest/api/content"),
            Key::Basic(tok),
            &[],
            (method == reqwest::Method::POST)
                .then_some(r#"{"type":"page","title":"x","space":{"key":"SP00001"}}"#),
        )
    };
    let mut proxy = Proxy::start(&sb, &site, &[], &[]);
    let first_base = proxy.base.clone();
    assert_eq!(with(&proxy, &token, reqwest::Method::GET).status, 200);
    // Writes are the client's to have: onyx reads only, writer writes
    // (the proxy itself was started read-only).
    let refused = with(&proxy, &token, reqwest::Method::POST);
    assert_eq!(refused.status, 405, "{}", refused.text());
    assert_eq!(refused.json()["reason"], "read_only_client");
    let wrote = with(&proxy, &writer, reqwest::Method::POST);
    assert_ne!(wrote.status, 405, "{}", wrote.text());
    assert_eq!(proxy.stop().code(), Some(0));

    // Started again without --listen: the same address, the same token.
    let proxy = Proxy::start(&sb, &site, &[], &[]);
    assert_eq!(proxy.base, first_base, "a new address after a restart");
    assert_eq!(with(&proxy, &token, reqwest::Method::GET).status, 200);
    // Another proxy's per-run token opens nothing here.
    let other = Proxy::start(&sb, &site, &["--listen", "127.0.0.1:0"], &[]);
    assert_ne!(other.base, proxy.base);
    assert_eq!(with(&proxy, &other.token, reqwest::Method::GET).status, 401);
    drop(other);

    // Revoked while running: refused from the next request on.
    let (code, _, err) = run(&sb, &site, &["proxy", "clients", "revoke", "onyx"]);
    assert_eq!(code, Some(0), "{err}");
    let gone = with(&proxy, &token, reqwest::Method::GET);
    assert_eq!(gone.status, 401, "{}", gone.text());
    assert_eq!(with(&proxy, &writer, reqwest::Method::GET).status, 200);
    let (code, _, _) = run(&sb, &site, &["proxy", "clients", "revoke", "onyx"]);
    assert_eq!(code, Some(2), "revoking twice says there is none");

    let (code, list, _) = run(&sb, &site, &["proxy", "clients", "list", "--json"]);
    assert_eq!(code, Some(0));
    let listed: serde_json::Value = serde_json::from_str(list.trim()).unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "writer");
    assert_eq!(listed[0]["allow_writes"], true);
    assert!(listed[0]["last_used"].is_string(), "{list}");
    assert!(listed[0]["expires"].is_string(), "{list}");
    let (_, human, _) = run(&sb, &site, &["proxy", "clients", "list"]);

    // Audited by name: added, first use, revoked.
    for event in [
        "proxy_client_added",
        "proxy_client_used",
        "proxy_client_revoked",
    ] {
        let records = audited(&sb, event);
        assert!(
            records.iter().any(|r| r["details"]["names"][0] == "onyx"),
            "{event}: {records:?}"
        );
    }
    // The tokens were printed once each and are nowhere else.
    let hash = confluence_tui::credentials::token_hash(&token);
    let everywhere = format!("{}{list}{human}{}", data_text(&sb), proxy.stderr());
    for secret in [token.as_str(), writer.as_str(), hash.as_str()] {
        assert!(!everywhere.contains(secret), "a client token leaked");
    }
}

#[test]
fn thirty_two_workers_share_one_pace_and_a_429_pauses_them_all() {
    let site = Site::cloud(DemoFaults {
        latency: Duration::from_millis(40),
        ..DemoFaults::default()
    });
    let front = Gateway::start(
        Door::RateLimited {
            burst: 20,
            retry_after: 2,
        },
        site.server.addr(),
    );
    let base = front.base_url("/wiki");
    let sb = Sandbox::new();
    import_for(&sb, &site, &base);
    let proxy = Proxy::start(
        &sb,
        &site,
        &["--max-concurrency", "4"],
        &[("CONFLUENCE_BASE_URL", &base)],
    );
    let url = proxy.url(SPACES);
    let token = proxy.token.clone();
    let answers: Vec<(u16, Option<String>)> = site.rt.block_on(async {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let workers = (0..32).map(|_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let mut got = Vec::new();
                for _ in 0..3 {
                    let r = http
                        .get(&url)
                        .basic_auth("confluence-tui", Some(&token))
                        .send()
                        .await
                        .unwrap();
                    let retry = r
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_string());
                    got.push((r.status().as_u16(), retry));
                }
                got
            }
        });
        futures::future::join_all(workers)
            .await
            .into_iter()
            .flatten()
            .collect()
    });
    assert_eq!(answers.len(), 96);
    for (status, retry) in &answers {
        assert!(
            *status == 200 || (*status == 429 && retry.is_some()),
            "{status} {retry:?}"
        );
    }
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert!(ok >= 94, "only {ok} of 96 got 200");
    let most = front.most_in_flight();
    assert!(most <= 4, "the site saw {most} requests at once");
    assert!(
        most >= 2,
        "no concurrency at all ({most}): the test proves nothing"
    );
    let (arrivals, limited) = front.arrivals();
    let limited = limited.expect("the site never rate-limited");
    // Requests already sent when the 429 left may still arrive at once;
    // none may arrive later within the pause the site asked for.
    let during: Vec<_> = arrivals
        .iter()
        .filter(|a| {
            **a > limited + Duration::from_millis(300) && **a < limited + Duration::from_secs(2)
        })
        .collect();
    assert!(
        during.is_empty(),
        "{} requests reached the site during its pause",
        during.len()
    );
}

#[test]
fn a_pause_longer_than_max_wait_is_answered_429_with_the_time_left() {
    let site = Site::cloud(DemoFaults::default());
    let front = Gateway::start(
        Door::RateLimited {
            burst: 1,
            retry_after: 30,
        },
        site.server.addr(),
    );
    let base = front.base_url("/wiki");
    let sb = Sandbox::new();
    import_for(&sb, &site, &base);
    let proxy = Proxy::start(
        &sb,
        &site,
        &["--max-wait", "1"],
        &[("CONFLUENCE_BASE_URL", &base)],
    );
    assert_eq!(get(&site, &proxy, SPACES).status, 200);
    let limited = get(&site, &proxy, SPACES);
    assert_eq!(
        limited.status,
        429,
        "the site's own 429 passes: {}",
        limited.text()
    );
    let seen = front.arrivals().0.len();
    let queued = get(&site, &proxy, SPACES);
    assert_eq!(queued.status, 429, "{}", queued.text());
    let retry: u64 = queued.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((25..=30).contains(&retry), "Retry-After {retry}");
    assert_eq!(queued.json()["statusCode"], 429);
    assert_eq!(front.arrivals().0.len(), seen, "sent into the pause");
}

/// A network namespace with a veth pair: this side `10.77.N.1`, the
/// namespace's side `10.77.N.2`. Removed on drop. Needs root (CI is).
struct Netns {
    name: String,
    host: String,
    peer: String,
}

impl Netns {
    fn new() -> Netns {
        let n = std::process::id() % 200 + 20;
        let name = format!("ctui{}", std::process::id());
        let (host, peer) = (format!("10.77.{n}.1"), format!("10.77.{n}.2"));
        let (a, b) = (format!("ct{n}a"), format!("ct{n}b"));
        let ip =
            |args: &[&str]| {
                let out = std::process::Command::new("ip").args(args).output().unwrap_or_else(|e| {
                panic!("the `ip` command ({e}): the network-namespace tests need iproute2 and root")
            });
                assert!(
                    out.status.success(),
                    "ip {args:?}: {} (these tests need root)",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &name])
            .output();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &a])
            .output();
        ip(&["netns", "add", &name]);
        let ns = Netns {
            name: name.clone(),
            host: host.clone(),
            peer: peer.clone(),
        };
        ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
        ip(&["link", "set", &b, "netns", &name]);
        ip(&["addr", "add", &format!("{host}/24"), "dev", &a]);
        ip(&["link", "set", &a, "up"]);
        ip(&[
            "netns",
            "exec",
            &name,
            "ip",
            "addr",
            "add",
            &format!("{peer}/24"),
            "dev",
            &b,
        ]);
        ip(&["netns", "exec", &name, "ip", "link", "set", &b, "up"]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        ns
    }

    /// `cmd` run inside the namespace.
    fn exec(&self, cmd: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(cmd);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end of the pair, and the pair.
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// `curl` inside the namespace: (HTTP status or 0, curl's exit code).
fn curl_in(ns: &Netns, args: &[&str]) -> (u16, i32) {
    let out = ns
        .exec(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(args)
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (code, out.status.code().unwrap_or(-1))
}

#[test]
fn off_loopback_only_with_tls_and_allow_from_and_a_named_token_from_another_host() {
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let ns = Netns::new();
    let listen = format!("{}:0", ns.host);
    let allow = format!("{}/32", ns.peer);

    // Plain HTTP off loopback, or TLS without --allow-from: exit 2 at start.
    let (code, _, err) = run(&sb, &site, &["proxy", "--listen", &listen]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--tls") && err.contains("--allow-from"),
        "{err}"
    );
    let (code, _, err) = run(&sb, &site, &["proxy", "--listen", &listen, "--tls"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--allow-from"), "{err}");

    let (code, out, err) = run(
        &sb,
        &site,
        &["proxy", "clients", "add", "indexer", "--json"],
    );
    assert_eq!(code, Some(0), "{err}");
    let token = serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let proxy = Proxy::start(
        &sb,
        &site,
        &["--listen", &listen, "--tls", "--allow-from", &allow],
        &[],
    );
    let announced: serde_json::Value = serde_json::from_str(&proxy.announcement).unwrap();
    let sha = announced["tls_sha256"]
        .as_str()
        .expect("tls_sha256")
        .to_string();
    assert_eq!(sha.len(), 64);
    assert!(
        proxy.base.starts_with(&format!("https://{}:", ns.host)),
        "{}",
        proxy.base
    );
    let (code, pem, err) = run(&sb, &site, &["proxy", "cert"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&sha), "{err}");
    assert!(!pem.contains("PRIVATE KEY"));
    let ca = sb.dir.path().join("proxy.pem");
    std::fs::write(&ca, &pem).unwrap();
    let url = proxy.url(SPACES);
    let user = format!("confluence-tui:{token}");

    // Trusted through the certificate `proxy cert` printed.
    let ca_arg = ca.to_str().unwrap();
    assert_eq!(
        curl_in(&ns, &["--cacert", ca_arg, "-u", &user, &url]).0,
        200
    );
    // Pinned: the certificate the server shows has the announced SHA-256.
    let pin = r#"
import hashlib, socket, ssl, sys, base64
host, port, want, token, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection((host, port), timeout=10) as raw, ctx.wrap_socket(raw) as tls:
    got = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
    if got != want: sys.exit("pinned certificate differs")
    auth = base64.b64encode(f"confluence-tui:{token}".encode()).decode()
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n".encode())
    print(tls.recv(64).decode().split(" ")[1])
"#;
    let port = url::Url::parse(&proxy.base)
        .unwrap()
        .port()
        .unwrap()
        .to_string();
    let path = format!("/wiki{SPACES}");
    let out = ns
        .exec(&["python3", "-c", pin, &ns.host, &port, &sha, &token, &path])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "200",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Unknown certificate: curl refuses it (exit 60).
    assert_eq!(curl_in(&ns, &["-u", &user, &url]).1, 60);
    // Another proxy's per-run token opens nothing here.
    let other = Proxy::start(&sb, &site, &["--listen", "127.0.0.1:0"], &[]);
    let other_user = format!("confluence-tui:{}", other.token);
    assert_eq!(
        curl_in(&ns, &["--cacert", ca_arg, "-u", &other_user, &url]).0,
        401
    );
    drop(other);
    // From this side of the pair (10.77.N.1, outside --allow-from): closed.
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
            "--cacert",
            ca_arg,
            "-u",
            &user,
            &url,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "000",
        "answered outside --allow-from"
    );
    assert_ne!(out.status.code(), Some(0));

    // atlassian-python-api, a real client, lists the spaces from the other host.
    if let Some(python) = common::python::python_with_client() {
        let (_, spaces, _) = run(&sb, &site, &["spaces", "--json"]);
        let spaces: serde_json::Value = serde_json::from_str(spaces.trim()).unwrap();
        let key = spaces[0]["key"].as_str().unwrap().to_string();
        let out = ns
            .exec(&["env"])
            .arg(format!("CONFLUENCE_BASE_URL={}", proxy.base))
            .arg("CONFLUENCE_USERNAME=confluence-tui")
            .arg(format!("CONFLUENCE_API_TOKEN={token}"))
            .arg(format!("REQUESTS_CA_BUNDLE={ca_arg}"))
            .arg("WALK_CLOUD=1")
            .arg(&python)
            .arg(common::python::scripts().join("walk.py"))
            .arg(&key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let walked: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(walked["spaces"].as_array().unwrap().len(), 3, "{walked}");
    }
}

#[test]
fn a_unix_socket_is_private_or_its_groups_and_serves_the_token_holder() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let site = Site::cloud(DemoFaults::default());
    let sb = Sandbox::new();
    import_live(&sb, &site);
    let socket = sb.dir.path().join("proxy.sock");
    let listen = format!("unix:{}", socket.display());
    let curl = |token: Option<&str>| {
        let mut c = std::process::Command::new("curl");
        c.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .arg("--unix-socket")
        .arg(&socket);
        if let Some(t) = token {
            c.args(["-u", &format!("confluence-tui:{t}")]);
        }
        let out = c
            .arg(format!("http://localhost/wiki{SPACES}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };

    let mut proxy = Proxy::start(&sb, &site, &["--listen", &listen], &[]);
    let announced: serde_json::Value = serde_json::from_str(&proxy.announcement).unwrap();
    assert_eq!(announced["socket"], socket.to_str().unwrap());
    assert_eq!(announced["base_url"], "http://localhost/wiki");
    assert_eq!(
        std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(curl(Some(&proxy.token)), "200");
    assert_eq!(curl(None), "401");
    assert_eq!(proxy.stop().code(), Some(0));
    assert!(!socket.exists(), "the socket outlived the proxy");

    // For a group: 0660, owned by it.
    let gid = rustix::process::getgid().as_raw();
    let proxy = Proxy::start(
        &sb,
        &site,
        &["--listen", &listen, "--socket-group", &gid.to_string()],
        &[],
    );
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid);
    assert_eq!(curl(Some(&proxy.token)), "200");
    // Killed: its socket stays behind, and the next start replaces it.
    drop(proxy);
    assert!(socket.exists());
    let mut proxy = Proxy::start(&sb, &site, &["--listen", &listen], &[]);
    assert_eq!(curl(Some(&proxy.token)), "200");
    assert_eq!(proxy.stop().code(), Some(0));

    // Something that is not a socket at the path is left alone.
    std::fs::write(&socket, "not a socket").unwrap();
    let (code, _, err) = run(&sb, &site, &["proxy", "--listen", &listen]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "not a socket");
}
