//! The proxy's test harness: a fake Cloud site on its own runtime, the real
//! binary's `proxy --json` (its first stdout line read), and a client that
//! says what it got back.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use confluence_tui::demo::{DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer};
use serde_json::Value;

use super::{Sandbox, stderr, stdout};

/// A fake Cloud site (context path `/wiki`) on its own runtime; the tests'
/// HTTP client runs on the same runtime.
pub struct Site {
    pub server: DemoServer,
    pub rt: tokio::runtime::Runtime,
}

impl Site {
    pub fn cloud(faults: DemoFaults) -> Site {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = DemoConfig {
            flavor: DemoFlavor::Cloud,
            data: DemoData {
                spaces: 3,
                pages_per_space: 2,
            },
            faults,
        };
        let server = rt
            .block_on(DemoServer::start(config, "127.0.0.1:0".parse().unwrap()))
            .unwrap();
        Site { server, rt }
    }

    pub fn faults(&self, f: impl FnOnce(&mut DemoFaults)) {
        let mut faults = self.server.faults();
        f(&mut faults);
        self.server.set_faults(faults);
    }

    /// Requests the site has received so far (every path).
    pub fn seen(&self) -> usize {
        self.server.requests_seen().len()
    }
}

/// The binary for `site`, keep-alive off (the tests count the site's
/// requests), nothing from the real environment.
pub fn bin(sb: &Sandbox, site: &Site) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFLUENCE_DATA_DIR", sb.data())
        .env("CONFLUENCE_KDF_LOG_N", "10")
        .env("CONFLUENCE_BASE_URL", site.server.base_url().as_str())
        .env("CONFLUENCE_DEPLOYMENT", "cloud")
        .env("CONFLUENCE_KEEPALIVE_SECS", "0")
        .current_dir(sb.dir.path());
    c
}

/// Imports the site's live session cookies (as a paste would), unverified.
pub fn import_live(sb: &Sandbox, site: &Site) {
    let mut c = bin(sb, site);
    c.args(["cookies", "import", "--no-verify", "-"])
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

/// Runs a command of the binary to its end: (exit code, stdout, stderr).
pub fn run(sb: &Sandbox, site: &Site, args: &[&str]) -> (Option<i32>, String, String) {
    let out = bin(sb, site).args(args).output().unwrap();
    (out.status.code(), stdout(&out), stderr(&out))
}

/// A running `confluence-tui proxy --json`.
pub struct Proxy {
    pub child: Child,
    pub base: String,
    pub token: String,
    pub announcement: String,
    /// Every later stdout line (there must be none).
    pub more_stdout: mpsc::Receiver<String>,
    pub stderr: Arc<Mutex<String>>,
}

impl Proxy {
    pub fn start(sb: &Sandbox, site: &Site, args: &[&str], env: &[(&str, &str)]) -> Proxy {
        Proxy::start_with(sb, site, args, env, |_| {})
    }

    /// As [`Proxy::start`], with the command adjusted by `adjust` first.
    pub fn start_with(
        sb: &Sandbox,
        site: &Site,
        args: &[&str],
        env: &[(&str, &str)],
        adjust: impl FnOnce(&mut Command),
    ) -> Proxy {
        let mut c = bin(sb, site);
        c.args(["proxy", "--json"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        adjust(&mut c);
        let mut child = c.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let announcement = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| {
                panic!(
                    "no first line from the proxy ({e}); stderr: {}",
                    stderr.lock().unwrap()
                )
            });
        let v: Value = serde_json::from_str(&announcement).unwrap();
        assert_eq!(v["username"], "confluence-tui", "{announcement}");
        Proxy {
            child,
            base: v["base_url"].as_str().unwrap().to_string(),
            token: v["token"].as_str().unwrap().to_string(),
            announcement,
            more_stdout: lines,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn port(&self) -> u16 {
        url::Url::parse(&self.base).unwrap().port().unwrap()
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < Duration::from_secs(15), "proxy ended");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer as the client got it.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    /// Everything the client received, for leak checks.
    pub fn text(&self) -> String {
        format!("{:?} {}", self.headers, String::from_utf8_lossy(&self.body))
    }
}

/// How a test request authenticates to the proxy.
pub enum Key<'a> {
    None,
    Basic(&'a str),
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn send(
    site: &Site,
    method: reqwest::Method,
    url: &str,
    key: Key<'_>,
    extra: &[(&str, &str)],
    body: Option<&str>,
) -> Got {
    site.rt.block_on(async {
        let mut rb = client().request(method, url);
        if let Key::Basic(token) = key {
            rb = rb.basic_auth("confluence-tui", Some(token));
        }
        for (k, v) in extra {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.bytes().await.unwrap().to_vec();
        Got {
            status,
            headers,
            body,
        }
    })
}

pub fn get(site: &Site, proxy: &Proxy, path: &str) -> Got {
    send(
        site,
        reqwest::Method::GET,
        &proxy.url(path),
        Key::Basic(&proxy.token),
        &[],
        None,
    )
}

/// Audit records of `event` so far.
pub fn audited(sb: &Sandbox, event: &str) -> Vec<Value> {
    std::fs::read_to_string(sb.audit())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["event"] == event)
        .collect()
}

/// Waits until `probe` holds, up to `limit`.
pub fn eventually(limit: Duration, what: &str, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
