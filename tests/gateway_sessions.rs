//! Gateways that want their own credential on every request, in front of
//! a fake Server/DC site that wants a personal access token: Cloudflare
//! Access (a service token, or a `CF_Authorization` session cookie) and an
//! F5 BIG-IP APM (`MRHSession`). The real binary, the proxy, and a real
//! third-party client (atlassian-python-api through `exec --proxy`) get
//! through; a gateway whose session ended is its own state (`gateway`,
//! exit 3) that leaves Confluence's credentials unmarked, and a fresh
//! gateway cookie brings a running proxy back. Secrets never show.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::gateway::{CF_TEAM, Door, Gateway};
use common::site::Site;
use common::*;
use confluence_tui::demo::DEMO_PAT;
use serde_json::Value;

const CF_ID: &str = "4a7e.access";
const CF_SECRET: &str = "SENTINELcfSecretT5r3e1";
/// Gateway session cookie values (the test's gateway makes them valid).
const CF_JWT: &str = "SENTINELcfJwtA1.b2.c3";
const CF_JWT_FRESH: &str = "SENTINELcfJwtFreshD4.e5.f6";
const MRH: &str = "SENTINELmrhSessionZ9y8x7";
const SECRETS: &[&str] = &[CF_SECRET, CF_JWT, CF_JWT_FRESH, MRH, DEMO_PAT];

struct Front {
    site: Site,
    gateway: Gateway,
}

impl Front {
    fn new(door: Door) -> Front {
        let site = Site::server_dc();
        let gateway = Gateway::start(door, site.server.addr());
        Front { site, gateway }
    }

    fn cloudflare() -> Front {
        Front::new(Door::Cloudflare {
            client_id: CF_ID.into(),
            secret: CF_SECRET.into(),
        })
    }

    /// The binary configured for the site through the gateway (no token:
    /// `with_pat` adds the personal access token in the environment).
    fn cmd(&self, sb: &Sandbox) -> assert_cmd::Command {
        let mut c = sb.cmd();
        c.env(
            "CONFLUENCE_BASE_URL",
            self.gateway.base_url(self.site.server.base_url().path()),
        )
        .env("CONFLUENCE_DEPLOYMENT", "server");
        c
    }

    /// The binary with the personal access token, as a plain process (for
    /// a proxy that runs while the test goes on), keep-alive as given.
    fn proxy_cmd(&self, sb: &Sandbox, keepalive: &str) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_confluence-tui"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CONFLUENCE_DATA_DIR", sb.data())
            .env("CONFLUENCE_KDF_LOG_N", "10")
            .env(
                "CONFLUENCE_BASE_URL",
                self.gateway.base_url(self.site.server.base_url().path()),
            )
            .env("CONFLUENCE_DEPLOYMENT", "server")
            .env("CONFLUENCE_API_TOKEN", DEMO_PAT)
            .env("CONFLUENCE_KEEPALIVE_SECS", keepalive)
            .current_dir(sb.dir.path());
        c
    }

    fn with_pat(&self, sb: &Sandbox) -> assert_cmd::Command {
        let mut c = self.cmd(sb);
        c.env("CONFLUENCE_API_TOKEN", DEMO_PAT);
        c
    }
}

struct Transcript(String);

impl Transcript {
    fn run(
        &mut self,
        mut c: assert_cmd::Command,
        args: &[&str],
        stdin: Option<&str>,
    ) -> (Option<i32>, String, String) {
        if let Some(s) = stdin {
            c.write_stdin(s.to_string());
        }
        let out = c.args(args).output().unwrap();
        let (o, e) = (stdout(&out), stderr(&out));
        self.0.push_str(&format!("$ {args:?}\n{o}{e}\n"));
        (out.status.code(), o, e)
    }

    fn json(&mut self, c: assert_cmd::Command, args: &[&str]) -> (Option<i32>, Value) {
        let (code, out, err) = self.run(c, args, None);
        let v = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
        (code, v)
    }

    /// No secret in anything printed, nor in the audit log.
    fn assert_clean(&self, sb: &Sandbox) {
        let audit = std::fs::read_to_string(sb.audit()).unwrap_or_default();
        for s in SECRETS {
            assert!(!self.0.contains(s), "{s} was printed:\n{}", self.0);
            assert!(!audit.contains(s), "{s} is in the audit log:\n{audit}");
        }
    }
}

fn audited(sb: &Sandbox, event: &str) -> Vec<Value> {
    std::fs::read_to_string(sb.audit())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == event)
        .collect()
}

/// A running `confluence-tui proxy --json`.
struct Proxy {
    child: Child,
    base: String,
    token: String,
    rt: tokio::runtime::Runtime,
}

impl Proxy {
    fn start(mut std_cmd: std::process::Command) -> Proxy {
        std_cmd
            .args(["proxy", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = std_cmd.spawn().unwrap();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = err.read_to_end(&mut sink);
        });
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the proxy's first line");
        let v: Value = serde_json::from_str(&first).unwrap();
        Proxy {
            child,
            base: v["base_url"]
                .as_str()
                .unwrap()
                .trim_end_matches('/')
                .to_string(),
            token: v["token"].as_str().unwrap().to_string(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        }
    }

    /// GET `path` through the proxy: (status, JSON body).
    fn get(&self, path: &str) -> (u16, Value) {
        self.rt.block_on(async {
            let r = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .get(format!("{}{path}", self.base))
                .basic_auth("confluence-tui", Some(&self.token))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
        })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn eventually(limit: Duration, what: &str, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < limit, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_cloudflare_service_token_carries_atlassian_python_api_through_exec_proxy() {
    let Some(python) = common::python::python_with_client() else {
        return;
    };
    let front = Front::cloudflare();
    let sb = Sandbox::new();
    let mut t = Transcript(String::new());
    // Without it, the gateway sends everyone to its sign-in: state gateway.
    let (code, v) = t.json(front.with_pat(&sb), &["check", "--json"]);
    assert_eq!(code, Some(3), "{}", t.0);
    assert_eq!(v["state"], "gateway", "{v}");

    let (code, out, err) = t.run(
        front.cmd(&sb),
        &["gateway", "set", "cloudflare", "--client-id", CF_ID],
        Some(&format!("{CF_SECRET}\n")),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // What is stored is listed by name, never by value.
    let (code, out, _) = t.run(front.cmd(&sb), &["gateway", "status"], None);
    assert_eq!(code, Some(0), "{}", t.0);
    assert!(
        out.contains("cloudflare") && out.contains("CF-Access-Client-Secret"),
        "{out}"
    );
    let (code, status) = t.json(front.cmd(&sb), &["gateway", "status", "--json"]);
    assert_eq!(code, Some(0), "{}", t.0);
    assert_eq!(status["entries"][0]["name"], "cloudflare", "{status}");

    let spaces = t.json(front.with_pat(&sb), &["spaces", "--json"]).1;
    let key = spaces[1]["key"].as_str().unwrap().to_string();
    let (code, out, err) = t.run(
        {
            let mut c = front.with_pat(&sb);
            c.args(["exec", "--proxy", "--"])
                .arg(&python)
                .arg(common::python::scripts().join("walk.py"));
            c
        },
        &[&key],
        None,
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    let walked: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(walked["spaces"].as_array().unwrap().len(), 3, "{walked}");
    assert_eq!(walked["space"], key.as_str());
    assert!(!walked["pages"].as_array().unwrap().is_empty(), "{walked}");
    // Every request the gateway let in carried the service token; the
    // client itself was never given it (nor the personal access token).
    let seen = front.gateway.seen();
    let admitted: Vec<_> = seen.iter().filter(|s| s.admitted).collect();
    assert!(admitted.len() >= 4, "{seen:?}");
    assert!(
        admitted
            .iter()
            .all(|s| s.cf_client_id.as_deref() == Some(CF_ID)),
        "{seen:?}"
    );
    let handed = walked["handed"].to_string();
    assert!(!handed.contains("CF_"), "{handed}");
    // The audit log names what was stored, never its value.
    let stored = audited(&sb, "gateway_stored");
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert!(stored[0].to_string().contains("cloudflare"), "{stored:?}");
    t.assert_clean(&sb);

    // Cleared: the gateway refuses again, said as the gateway's.
    let (code, _, _) = t.run(front.cmd(&sb), &["gateway", "clear", "cloudflare"], None);
    assert_eq!(code, Some(0), "{}", t.0);
    assert_eq!(audited(&sb, "gateway_cleared").len(), 1);
    let (code, v) = t.json(front.with_pat(&sb), &["check", "--json"]);
    assert_eq!(code, Some(3), "{}", t.0);
    assert_eq!(v["state"], "gateway", "{v}");
    t.assert_clean(&sb);
}

#[test]
fn a_cf_authorization_cookie_next_to_a_pat_signs_in_dies_as_the_gateways_and_comes_back() {
    let front = Front::cloudflare();
    let sb = Sandbox::new();
    let mut t = Transcript(String::new());
    front.gateway.open_session(CF_JWT);
    let (code, out, err) = t.run(
        front.with_pat(&sb),
        &["cookies", "import", "-"],
        Some(&format!("CF_Authorization={CF_JWT}")),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Gateway cookie: CF_Authorization"), "{out}");
    let (code, v) = t.json(front.with_pat(&sb), &["check", "--json"]);
    assert_eq!(code, Some(0), "{}", t.0);
    assert_eq!(v["state"], "signed_in", "{v}");
    assert_eq!(v["mode"], "bearer", "{v}");
    // The gateway saw its cookie; the site behind saw the token.
    let last = front.gateway.seen().pop().unwrap();
    assert!(
        last.admitted && last.cookie_names == ["CF_Authorization"],
        "{last:?}"
    );
    assert_eq!(
        last.authorization.as_deref(),
        Some(format!("Bearer {DEMO_PAT}").as_str())
    );
    assert!(
        front
            .site
            .server
            .requests_seen()
            .iter()
            .any(|r| r.path.ends_with("/user/current")
                && r.authorization.as_deref() == Some("Bearer")),
        "the site saw no personal access token"
    );
    // `cookies status` says which cookie is the gateway's.
    let (_, status) = t.json(front.with_pat(&sb), &["cookies", "status", "--json"]);
    assert_eq!(
        status["cookies"]["gateway_cookies"][0], "CF_Authorization",
        "{status}"
    );

    let proxy = Proxy::start(front.proxy_cmd(&sb, "0"));
    assert_eq!(proxy.get("/rest/api/space").0, 200);

    // The gateway's session ends: its own state, Confluence's credentials
    // unmarked, the running proxy answers with the gateway's sign-in.
    front.gateway.end_session();
    let (status, body) = proxy.get("/rest/api/space");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["reason"], "gateway_sign_in", "{body}");
    let (code, v) = t.json(front.with_pat(&sb), &["check", "--json"]);
    assert_eq!(code, Some(3), "{}", t.0);
    assert_eq!(v["state"], "gateway", "{v}");
    assert_eq!(v["gateway"], "cloudflare_access", "{v}");
    let login = v["login_url"].as_str().unwrap();
    assert!(
        login.starts_with(&format!(
            "https://{CF_TEAM}.cloudflareaccess.com/cdn-cgi/access/login/"
        )),
        "{login}"
    );
    let (code, out, err) = t.run(front.with_pat(&sb), &["check"], None);
    assert_eq!(code, Some(3));
    assert!(
        err.contains("Cloudflare Access") && !err.contains("expired"),
        "{out}{err}"
    );
    let (_, status) = t.json(front.with_pat(&sb), &["cookies", "status", "--json"]);
    assert_eq!(status["cookies"]["state"], "valid", "{status}");
    assert!(audited(&sb, "cookies_expired").is_empty(), "{}", t.0);
    assert!(!audited(&sb, "gateway_sign_in").is_empty(), "{}", t.0);

    // A fresh gateway cookie, imported by another process: the running
    // proxy takes it in, no restart.
    front.gateway.open_session(CF_JWT_FRESH);
    let (code, out, err) = t.run(
        front.with_pat(&sb),
        &["cookies", "import", "-"],
        Some(&format!("CF_Authorization={CF_JWT_FRESH}")),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    eventually(Duration::from_secs(20), "the proxy signed in again", || {
        proxy.get("/rest/api/space").0 == 200
    });
    t.assert_clean(&sb);
}

#[test]
fn an_f5_session_cookie_and_token_set_sign_in_and_its_end_is_the_gateways() {
    let front = Front::new(Door::F5);
    let sb = Sandbox::new();
    let mut t = Transcript(String::new());
    front.gateway.open_session(MRH);
    // A token checked before the gateway's cookie is there: the gateway
    // answered, not Confluence; nothing stored, no token refusal audited.
    let (code, _, err) = t.run(
        front.cmd(&sb),
        &["token", "set"],
        Some(&format!("{DEMO_PAT}\n")),
    );
    assert_eq!(code, Some(3), "{}", t.0);
    assert!(
        err.contains("F5 BIG-IP") && err.contains("not stored"),
        "{err}"
    );
    assert!(audited(&sb, "credentials_rejected").is_empty(), "{}", t.0);
    assert_eq!(audited(&sb, "gateway_sign_in").len(), 1, "{}", t.0);
    // The gateway's cookies alone: stored, and said what else is needed.
    let (code, out, err) = t.run(
        front.cmd(&sb),
        &["cookies", "import", "-"],
        Some(&format!(
            "MRHSession={MRH}; LastMRH_Session=0b1c2d3e; F5_ST=1z1z1z1717171717z3600"
        )),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("Gateway cookie: MRHSession, LastMRH_Session, F5_ST"),
        "{out}"
    );
    assert!(out.contains("token set"), "{out}");
    let (code, v) = t.json(front.cmd(&sb), &["check", "--json"]);
    assert_eq!(code, Some(3), "{}", t.0);
    assert_eq!(v["state"], "no_credentials", "{v}");
    // `token set` verifies the token through the gateway, with its cookie.
    let (code, out, err) = t.run(
        front.cmd(&sb),
        &["token", "set"],
        Some(&format!("{DEMO_PAT}\n")),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let (code, v) = t.json(front.cmd(&sb), &["check", "--json"]);
    assert_eq!(code, Some(0), "{}", t.0);
    assert_eq!(v["state"], "signed_in", "{v}");
    let last = front.gateway.seen().pop().unwrap();
    assert!(
        last.admitted && last.cookie_names.contains(&"MRHSession".to_string()),
        "{last:?}"
    );
    assert_eq!(
        last.authorization.as_deref(),
        Some(format!("Bearer {DEMO_PAT}").as_str())
    );

    // MRHSession expires: state gateway, its sign-in on the site's host.
    front.gateway.end_session();
    let (code, v) = t.json(front.cmd(&sb), &["check", "--json"]);
    assert_eq!(code, Some(3), "{}", t.0);
    assert_eq!(v["state"], "gateway", "{v}");
    assert_eq!(v["gateway"], "f5", "{v}");
    assert_eq!(
        v["login_url"],
        format!("http://{}/my.policy", front.gateway.addr).as_str(),
        "{v}"
    );
    let (_, sites) = t.json(front.cmd(&sb), &["sites", "--json"]);
    assert_eq!(sites[0]["session"]["state"], "gateway", "{sites}");
    let (_, status) = t.json(front.cmd(&sb), &["cookies", "status", "--json"]);
    assert_eq!(status["cookies"]["state"], "valid", "{status}");
    assert_eq!(status["token"]["stored_in_vault"], true, "{status}");
    assert!(audited(&sb, "cookies_expired").is_empty(), "{}", t.0);
    t.assert_clean(&sb);
}

#[test]
fn the_keep_alive_keeps_an_idle_f5_session_alive() {
    let front = Front::new(Door::F5);
    let sb = Sandbox::new();
    let mut t = Transcript(String::new());
    front.gateway.open_session(MRH);
    let (code, _, _) = t.run(
        front.with_pat(&sb),
        &["cookies", "import", "-"],
        Some(&format!("MRHSession={MRH}")),
    );
    assert_eq!(code, Some(0), "{}", t.0);
    // The gateway ends a session no request used for 3 s; the proxy's
    // keep-alive asks every second, nothing else does.
    let run_idle = |keepalive: &str| {
        let proxy = Proxy::start(front.proxy_cmd(&sb, keepalive));
        assert_eq!(proxy.get("/rest/api/space").0, 200);
        front
            .gateway
            .end_session_when_idle_for(Duration::from_secs(3));
        std::thread::sleep(Duration::from_secs(7));
        proxy.get("/rest/api/space")
    };
    let (status, body) = run_idle("1");
    assert_eq!(
        status, 200,
        "the keep-alive kept the gateway session: {body}"
    );
    // Without the keep-alive the same wait ends it: the test can fail.
    let (status, body) = run_idle("0");
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["reason"], "gateway_sign_in", "{body}");
    t.assert_clean(&sb);
}

#[test]
fn exec_without_the_proxy_hands_over_the_gateways_cookies_next_to_the_token() {
    // No site is asked: `exec` hands over what is stored.
    let sb = Sandbox::new();
    let mut t = Transcript(String::new());
    let gateway = [("CONFLUENCE_GATEWAY_COOKIES", "EdgeAuth")];
    let cmd = |extra: &[(&str, &str)]| {
        let mut c = sb.cmd();
        for (k, v) in gateway.iter().chain(extra) {
            c.env(k, v);
        }
        c
    };
    let (code, out, err) = t.run(
        cmd(&[]),
        &["cookies", "import", "-"],
        Some(&format!("MRHSession={MRH}; EdgeAuth=edge-1; theme=dark")),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // A gateway's cookies beside one that is not: not the gateway's only,
    // so this set is Confluence's (cookie mode); the gateway's are named.
    assert!(
        out.contains("Gateway cookie: MRHSession, EdgeAuth"),
        "{out}"
    );
    let (code, _, _) = t.run(cmd(&[]), &["cookies", "clear"], None);
    assert_eq!(code, Some(0));
    let (code, out, err) = t.run(
        cmd(&[]),
        &["cookies", "import", "-"],
        Some(&format!("MRHSession={MRH}; EdgeAuth=edge-1")),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let (_, status) = t.json(cmd(&[]), &["cookies", "status", "--json"]);
    assert_eq!(
        status["cookies"]["gateway_cookies"],
        serde_json::json!(["MRHSession", "EdgeAuth"])
    );
    let (code, out, err) = t.run(
        cmd(&[
            ("CONFLUENCE_API_TOKEN", DEMO_PAT),
            ("CONFLUENCE_CLIENT_CERT_PASSWORD", "SENTINELwithheld"),
        ]),
        &["exec", "--", "env"],
        None,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let vars: std::collections::BTreeMap<&str, &str> = out
        .lines()
        .filter(|l| l.starts_with("CONFLUENCE_"))
        .filter_map(|l| l.split_once('='))
        .collect();
    assert_eq!(vars.get("CONFLUENCE_AUTH"), Some(&"bearer"), "{vars:?}");
    assert_eq!(
        vars.get("CONFLUENCE_API_TOKEN"),
        Some(&DEMO_PAT),
        "{vars:?}"
    );
    assert_eq!(
        vars.get("CONFLUENCE_COOKIE").copied(),
        Some(format!("MRHSession={MRH}; EdgeAuth=edge-1").as_str()),
        "{vars:?}"
    );
    assert!(!out.contains("SENTINELwithheld"), "{out}");
    assert!(
        !vars.contains_key("CONFLUENCE_CLIENT_CERT_PASSWORD"),
        "{vars:?}"
    );
}
