//! The site's trust boundaries through the real binary against the demo site:
//! a loopback site is reached directly even with a proxy configured, a
//! CAPTCHA's off-site login URL is never offered, and a site whose paging
//! loops is given up on (exit 5).

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use confluence_tui::demo::{
    CaptchaForm, DEMO_API_TOKEN, DEMO_EMAIL, DemoConfig, DemoData, DemoFaults, DemoFlavor,
    DemoServer,
};
use serde_json::Value;

/// A fake site on its own runtime, alive while the test runs the binary.
struct Site {
    // Dropped first: its Drop stops the server task on the runtime below.
    server: DemoServer,
    _rt: tokio::runtime::Runtime,
}

impl Site {
    fn start(flavor: DemoFlavor, faults: DemoFaults) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor,
            data: DemoData {
                spaces: 12,
                pages_per_space: 2,
            },
            faults,
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, _rt: rt }
    }

    /// The binary pointed at this site.
    fn cmd(&self, sb: &Sandbox) -> assert_cmd::Command {
        let mut c = sb.cmd();
        c.env("CONFLUENCE_BASE_URL", self.server.base_url().as_str())
            .env("CONFLUENCE_DEPLOYMENT", self.server.flavor().name())
            .env("CONFLUENCE_TIMEOUT_SECS", "5");
        c
    }

    /// Imports the site's live session cookie (no request made).
    fn import_live(&self, sb: &Sandbox) {
        let mut c = self.cmd(sb);
        c.write_stdin(self.server.session_cookie_header()).args([
            "cookies",
            "import",
            "--no-verify",
            "-",
        ]);
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "import: {}", stderr(&out));
    }
}

/// A TCP listener posing as a proxy: it records every byte sent to it and
/// then hangs up.
struct FakeProxy {
    url: String,
    seen: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeProxy {
    fn start() -> FakeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, connections, stop) = (seen.clone(), connections.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((mut conn, _)) => {
                            *connections.lock().unwrap() += 1;
                            conn.set_nonblocking(false).unwrap();
                            conn.set_read_timeout(Some(Duration::from_millis(500)))
                                .unwrap();
                            let mut buf = [0u8; 4096];
                            if let Ok(n) = conn.read(&mut buf) {
                                seen.lock().unwrap().extend_from_slice(&buf[..n]);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        FakeProxy {
            url,
            seen,
            connections,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_loopback_site_is_reached_directly_even_with_a_proxy_set() {
    let proxy = FakeProxy::start();
    for flavor in [DemoFlavor::Cloud, DemoFlavor::Server] {
        let site = Site::start(flavor, DemoFaults::default());
        // Cookie mode: the cookie would travel in clear text to the proxy.
        let sb = Sandbox::new();
        site.import_live(&sb);
        let mut c = site.cmd(&sb);
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            c.env(var, &proxy.url);
        }
        let before = site.server.request_count();
        let out = c.arg("check").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{flavor:?}: check succeeds directly\nstdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        );
        assert!(site.server.request_count() > before, "the site was asked");
        // Token mode too.
        let sb = Sandbox::new();
        let mut c = site.cmd(&sb);
        c.env("CONFLUENCE_USERNAME", DEMO_EMAIL)
            .env("CONFLUENCE_API_TOKEN", DEMO_API_TOKEN)
            .env("CONFLUENCE_AUTH", "basic")
            .env("HTTP_PROXY", &proxy.url)
            .env("ALL_PROXY", &proxy.url);
        if flavor == DemoFlavor::Cloud {
            let out = c.arg("check").output().unwrap();
            assert_eq!(out.status.code(), Some(0), "basic: {}", stderr(&out));
        }
    }
    assert_eq!(
        *proxy.connections.lock().unwrap(),
        0,
        "the proxy was contacted and received: {:?}",
        String::from_utf8_lossy(&proxy.seen.lock().unwrap())
    );
}

/// The site's own login page, as the demo serves it for Server/DC.
fn own_login_page(site: &Site) -> String {
    format!("http://{}/login.action", site.server.addr())
}

#[test]
fn an_off_site_captcha_login_url_is_never_offered() {
    const EVIL: &str = "evil.example.com";
    let faults = DemoFaults {
        captcha: Some(CaptchaForm::Header403),
        captcha_login_url: Some(format!("https://{EVIL}/login.action?next=x")),
        ..DemoFaults::default()
    };
    let site = Site::start(DemoFlavor::Server, faults);
    let login = own_login_page(&site);

    // Cookie mode, human output.
    let sb = Sandbox::new();
    site.import_live(&sb);
    let out = site.cmd(&sb).arg("check").output().unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(4), "captcha\n{o}\n{e}");
    assert!(!o.contains(EVIL) && !e.contains(EVIL), "offered: {o}{e}");
    assert!(e.contains(&login), "the site's own login page: {e}");
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(!audit.contains(EVIL), "audited: {audit}");
    let record: Value = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["event"] == "captcha_challenge")
        .expect("the CAPTCHA is audited");
    assert_eq!(record["details"]["login_url"], login.as_str(), "{record}");
    assert!(
        record.to_string().contains("off-site login URL ignored"),
        "the ignored URL is recorded: {record}"
    );

    // Token mode, JSON output.
    let sb = Sandbox::new();
    let mut c = site.cmd(&sb);
    c.env("CONFLUENCE_API_TOKEN", confluence_tui::demo::DEMO_PAT);
    let out = c.args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(!o.contains(EVIL) && !e.contains(EVIL), "offered: {o}{e}");
    let v: Value = serde_json::from_str(o.trim()).unwrap();
    assert_eq!(v["reason"], "captcha");
    assert_eq!(v["login_url"], login.as_str(), "{v}");
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(!audit.contains(EVIL), "audited: {audit}");
    let log =
        std::fs::read_to_string(sb.data().join("logs/confluence-tui.log")).unwrap_or_default();
    assert!(!log.contains(EVIL), "logged: {log}");
}

#[test]
fn an_on_site_captcha_login_url_is_offered_as_given() {
    let site = Site::start(DemoFlavor::Server, DemoFaults::default());
    let on_site = format!(
        "http://{}/login.action?os_destination=x",
        site.server.addr()
    );
    site.server.set_faults(DemoFaults {
        captcha: Some(CaptchaForm::Header403),
        captcha_login_url: Some(on_site.clone()),
        ..DemoFaults::default()
    });
    let sb = Sandbox::new();
    let mut c = site.cmd(&sb);
    c.env("CONFLUENCE_API_TOKEN", confluence_tui::demo::DEMO_PAT);
    let out = c.args(["check", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let v: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["login_url"], on_site.as_str(), "{v}");
    let audit = std::fs::read_to_string(sb.audit()).unwrap();
    assert!(!audit.contains("off-site"), "{audit}");
}

#[test]
fn a_site_whose_paging_loops_is_given_up_on_with_exit_5() {
    for flavor in [DemoFlavor::Cloud, DemoFlavor::Server] {
        let faults = DemoFaults {
            paging_loops: true,
            ..DemoFaults::default()
        };
        let site = Site::start(flavor, faults);
        let sb = Sandbox::new();
        site.import_live(&sb);
        for args in [&["spaces"][..], &["spaces", "--json"][..]] {
            let started = Instant::now();
            let out = site.cmd(&sb).args(args).output().unwrap();
            let (o, e) = (stdout(&out), stderr(&out));
            assert_eq!(out.status.code(), Some(5), "{flavor:?} {args:?}\n{o}\n{e}");
            assert!(
                format!("{o}{e}").contains("paging loops"),
                "{flavor:?} {args:?}\n{o}\n{e}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "gave up in bounded time: {:?}",
                started.elapsed()
            );
        }
        assert!(
            site.server.request_count() < 20,
            "{flavor:?}: {} requests",
            site.server.request_count()
        );
    }
}
