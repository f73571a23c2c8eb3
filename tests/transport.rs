//! Transport safety of the Confluence client over real sockets: credentials
//! never leave the site's origin, plain http only on loopback, the tool names
//! itself, timeouts and CA bundles apply, absurd Retry-After is clamped.

mod common;

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confluence_tui::config::parse_base_url;
use confluence_tui::confluence::classify::{MAX_RETRY_AFTER, Outcome};
use confluence_tui::confluence::client::{
    Client, ClientError, ClientNotice, ClientOptions, Decorations, Deployment, Fixed, RetryPolicy,
    WaitReason,
};
use confluence_tui::cookies::jar::{Cookie, CookieJar};
use confluence_tui::demo::{
    DEMO_API_TOKEN, DEMO_EMAIL, DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer,
};
use confluence_tui::secret::SecretString;
use url::Url;

const SENTINEL_TOKEN: &str = "SENTINEL-token-7f3a";
const SENTINEL_COOKIE: &str = "SENTINEL-cookie-91c2";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// What a tiny test server answers.
#[derive(Clone)]
enum Answer {
    /// 200 with an empty v2 list and, if given, `_links.next`.
    List { next: Option<String> },
    /// 302 to this URL.
    Redirect(String),
}

/// One request as a test server saw it.
#[derive(Clone, Debug)]
struct Seen {
    path: String,
    query: String,
    headers: HeaderMap,
}

#[derive(Clone)]
struct Recorder {
    answer: Answer,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recorder {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A server on its own 127.0.0.1 port that records every request's headers.
async fn recording_server(answer: Answer) -> (Url, Recorder) {
    let rec = Recorder {
        answer,
        seen: Arc::default(),
    };
    let app = axum::Router::new()
        .fallback(record_and_answer)
        .with_state(rec.clone());
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (Url::parse(&format!("http://{addr}/wiki")).unwrap(), rec)
}

async fn record_and_answer(State(rec): State<Recorder>, req: Request) -> Response {
    let req_query = req.uri().query().unwrap_or_default().to_string();
    rec.seen.lock().unwrap().push(Seen {
        path: req.uri().path().to_string(),
        query: req_query.clone(),
        headers: req.headers().clone(),
    });
    match &rec.answer {
        Answer::List { next } => {
            // Only the first page links on, so every chain ends.
            let first = !req_query.contains("cursor=");
            let links = match next.as_ref().filter(|_| first) {
                Some(n) => serde_json::json!({ "next": n }),
                None => serde_json::json!({}),
            };
            axum::Json(serde_json::json!({ "results": [], "_links": links })).into_response()
        }
        Answer::Redirect(to) => {
            (StatusCode::FOUND, [(header::LOCATION, to.clone())]).into_response()
        }
    }
}

fn options(base: Url, credential: Decorations) -> ClientOptions {
    ClientOptions {
        base_url: base,
        deployment: Deployment::Cloud,
        authority: Fixed::shared(credential),
        timeout: Duration::from_secs(5),
        ca_bundle: None,
        tls: None,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(10),
        },
    }
}

fn credentials() -> Vec<Decorations> {
    let mut jar = CookieJar::new();
    jar.insert(Cookie::new("cloud.session.token", SENTINEL_COOKIE));
    vec![
        Decorations::basic(DEMO_EMAIL, SecretString::from(SENTINEL_TOKEN)),
        Decorations::bearer(SecretString::from(SENTINEL_TOKEN)),
        Decorations::cookies(jar),
    ]
}

fn carries_credentials(h: &HeaderMap) -> bool {
    h.contains_key(header::AUTHORIZATION) || h.contains_key(header::COOKIE)
}

fn assert_no_secret(text: &str) {
    assert!(
        !text.contains("SENTINEL"),
        "a secret leaked into an error: {text}"
    );
}

// ---- credentials stay on the site's origin ----

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_and_gets_no_credentials() {
    let (elsewhere, other) = recording_server(Answer::List { next: None }).await;
    let target = format!("{}/api/v2/spaces?stolen=1", elsewhere.as_str());
    let (site, origin) = recording_server(Answer::Redirect(target.clone())).await;
    for credential in credentials() {
        let mode = credential.mode();
        let client = Client::new(options(site.clone(), credential)).unwrap();
        let err = client
            .for_each_space_page(None, |_| std::ops::ControlFlow::Continue(()))
            .await
            .unwrap_err();
        match err.outcome() {
            // Same host, another port: a redirect, not a gateway's sign-in
            // (that takes another host; see tests/gateway_*.rs).
            Some(Outcome::Redirect { status, location }) => {
                assert_eq!(*status, 302, "{mode}");
                assert_eq!(location, &target, "{mode}");
            }
            other => panic!("{mode}: expected the redirect reported as such, got {other:?}"),
        }
        assert_no_secret(&err.to_string());
        assert_no_secret(&format!("{err:?}"));
    }
    assert!(
        other.seen().is_empty(),
        "the other host was contacted: {:?}",
        other.seen()
    );
    // The site itself did get the credentials, once per mode, never retried:
    // so the recorder above would have seen them had they been forwarded.
    let at_site = origin.seen();
    assert_eq!(at_site.len(), 3);
    assert!(at_site.iter().all(|s| carries_credentials(&s.headers)));
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused_before_any_request() {
    let (elsewhere, other) = recording_server(Answer::List { next: None }).await;
    let port = elsewhere.port().unwrap();
    let links = [
        format!("http://127.0.0.1:{port}/wiki/api/v2/spaces?cursor=abc"),
        format!("//127.0.0.1:{port}/wiki/api/v2/spaces?cursor=abc"),
        format!("http://localhost:{port}/wiki/api/v2/spaces?cursor=abc"),
    ];
    for link in links {
        let (site, origin) = recording_server(Answer::List {
            next: Some(link.clone()),
        })
        .await;
        for credential in credentials() {
            let client = Client::new(options(site.clone(), credential)).unwrap();
            let err = client
                .for_each_space_page(None, |_| std::ops::ControlFlow::Continue(()))
                .await
                .unwrap_err();
            assert!(matches!(err, ClientError::Decode { .. }), "{link}: {err:?}");
            assert!(err.to_string().contains("not a URL on this site"), "{err}");
            assert_no_secret(&format!("{err} {err:?}"));
        }
        assert_eq!(origin.seen().len(), 3);
    }
    assert!(other.seen().is_empty(), "{:?}", other.seen());
}

#[tokio::test]
async fn same_origin_next_links_are_followed_with_credentials() {
    // The counterpart of the refusal above: a next link on the site itself
    // is followed, with the credential, to the path the server gave.
    let (site, rec) = recording_server(Answer::List {
        next: Some("/wiki/api/v2/spaces?cursor=zz".into()),
    })
    .await;
    let client = Client::new(options(site, credentials().remove(0))).unwrap();
    let n = client
        .for_each_space_page(None, |_| std::ops::ControlFlow::Continue(()))
        .await
        .unwrap();
    assert_eq!(n, 0);
    let seen = rec.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].path, "/wiki/api/v2/spaces");
    assert_eq!(seen[1].query, "cursor=zz");
    assert!(carries_credentials(&seen[1].headers));
}

// ---- plain http ----

#[test]
fn plain_http_to_a_remote_host_is_refused_before_any_request() {
    for raw in [
        "http://confluence.example.com",
        "http://confluence.example.com/wiki",
        "http://10.0.0.5:8090",
    ] {
        let url = Url::parse(raw).unwrap();
        for credential in credentials() {
            let err = Client::new(options(url.clone(), credential)).unwrap_err();
            match &err {
                ClientError::InsecureUrl { host } => {
                    assert_eq!(Some(host.as_str()), url.host_str())
                }
                other => panic!("{raw}: expected InsecureUrl, got {other:?}"),
            }
            assert!(err.to_string().contains("https://"), "{err}");
        }
        let cfg = parse_base_url(raw).unwrap_err().to_string();
        assert!(cfg.contains("loopback"), "{cfg}");
    }
    for ok in [
        "http://127.0.0.1:8090/wiki",
        "http://localhost:1",
        "http://[::1]:2",
    ] {
        let url = Url::parse(ok).unwrap();
        assert!(
            Client::new(options(url, Decorations::none())).is_ok(),
            "{ok}"
        );
        assert!(parse_base_url(ok).is_ok(), "{ok}");
    }
}

#[test]
fn the_binary_refuses_a_plain_http_base_url_with_exit_2_and_no_network() {
    // Every proxy variable points at a listener we watch: a request for
    // confluence.example.com would have to connect to it.
    let proxy = StdListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let sandbox = common::Sandbox::new();
    let out = sandbox
        .cmd()
        .args(["--base-url", "http://confluence.example.com", "check"])
        .env("CONFLUENCE_USERNAME", DEMO_EMAIL)
        .env("CONFLUENCE_API_TOKEN", SENTINEL_TOKEN)
        .env("HTTPS_PROXY", &proxy_url)
        .env("HTTP_PROXY", &proxy_url)
        .env("ALL_PROXY", &proxy_url)
        .timeout(Duration::from_secs(20))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout {stdout} stderr {stderr}"
    );
    assert!(stderr.contains("http://"), "{stderr}");
    assert_no_secret(&format!("{stdout}{stderr}"));
    assert!(
        proxy.accept().is_err(),
        "the binary connected to the network"
    );
}

// ---- what goes on the wire ----

#[tokio::test]
async fn the_user_agent_names_the_tool_and_its_version() {
    let (site, rec) = recording_server(Answer::List { next: None }).await;
    let client = Client::new(options(site, Decorations::none())).unwrap();
    client
        .for_each_space_page(None, |_| std::ops::ControlFlow::Continue(()))
        .await
        .unwrap();
    let seen = rec.seen();
    assert_eq!(seen.len(), 1);
    let ua = seen[0].headers.get(header::USER_AGENT).unwrap();
    assert_eq!(
        ua.to_str().unwrap(),
        concat!("confluence-tui/", env!("CARGO_PKG_VERSION"))
    );
    assert!(
        !carries_credentials(&seen[0].headers),
        "mode none sends none"
    );
}

#[tokio::test]
async fn the_request_timeout_applies_and_ends_in_a_network_error_after_retries() {
    let server = DemoServer::start(
        DemoConfig {
            flavor: DemoFlavor::Cloud,
            data: DemoData::default(),
            faults: DemoFaults {
                latency: Duration::from_millis(2_500),
                ..DemoFaults::default()
            },
        },
        loopback(),
    )
    .await
    .unwrap();
    let mut opts = options(
        server.base_url(),
        Decorations::basic(DEMO_EMAIL, SecretString::from(DEMO_API_TOKEN)),
    );
    opts.timeout = Duration::from_secs(1);
    opts.retry.max_attempts = 2;
    let client = Client::new(opts).unwrap();
    let started = Instant::now();
    let err = client.current_user().await.unwrap_err();
    let took = started.elapsed();
    match &err {
        ClientError::Network { message, .. } => assert!(message.contains("timed out"), "{message}"),
        other => panic!("expected a network timeout, got {other:?}"),
    }
    assert_eq!(server.request_count(), 2, "both attempts reached the site");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(4_000),
        "two 1 s timeouts took {took:?}"
    );
}

#[test]
fn a_ca_bundle_without_pem_certificates_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("corporate-ca.pem");
    std::fs::write(&garbage, b"this is not a certificate\n\x00\x01\x02").unwrap();
    let missing = dir.path().join("no-such-bundle.pem");
    for path in [garbage, missing] {
        let mut opts = options(
            Url::parse("https://x.atlassian.net/wiki").unwrap(),
            Decorations::none(),
        );
        opts.ca_bundle = Some(path.clone());
        let err = Client::new(opts).unwrap_err();
        assert!(
            matches!(&err, ClientError::CaBundle { path: p, .. } if *p == path),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("CONFLUENCE_CA_BUNDLE"), "{msg}");
    }
}

#[tokio::test]
async fn an_absurd_retry_after_is_clamped_in_the_waiting_notice() {
    let server = DemoServer::start(
        DemoConfig {
            flavor: DemoFlavor::Cloud,
            data: DemoData::default(),
            faults: DemoFaults {
                rate_limit_every: Some(1),
                retry_after_secs: 9_223_372_036_854_775_807,
                ..DemoFaults::default()
            },
        },
        loopback(),
    )
    .await
    .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let client = Client::new(options(
        server.base_url(),
        Decorations::basic(DEMO_EMAIL, SecretString::from(DEMO_API_TOKEN)),
    ))
    .unwrap()
    .with_notices(Arc::new(move |n: ClientNotice| {
        let _ = tx.send(n);
    }));
    let mut request = Box::pin(client.current_user());
    let notice = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            r = &mut request => panic!("the request ended instead of waiting: {r:?}"),
            n = rx.recv() => n.unwrap(),
        }
    })
    .await
    .expect("a Waiting notice within 10 s");
    // Dropping the request cancels the 60 s wait.
    drop(request);
    let ClientNotice::Waiting {
        wait,
        next_attempt,
        reason,
    } = notice;
    assert!(wait <= Duration::from_secs(60), "{wait:?}");
    assert_eq!(wait, MAX_RETRY_AFTER);
    assert_eq!(next_attempt, 2);
    assert_eq!(reason, WaitReason::RateLimited { status: 429 });
    assert_eq!(server.request_count(), 1);
}

// ---- network failures are waited out as such ----

/// The notices of one `current_user` call against `base`, and its error.
async fn network_failure_notices(base: Url) -> (ClientError, Vec<(u32, WaitReason)>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = seen.clone();
        Arc::new(move |n: ClientNotice| {
            let ClientNotice::Waiting {
                next_attempt,
                reason,
                ..
            } = n;
            seen.lock().unwrap().push((next_attempt, reason));
        })
    };
    let client = Client::new(options(base, credentials().remove(0)))
        .unwrap()
        .with_notices(sink);
    let err = client.current_user().await.unwrap_err();
    let seen = seen.lock().unwrap().clone();
    (err, seen)
}

#[tokio::test]
async fn a_refused_connection_is_backed_off_as_a_network_error_not_a_rate_limit() {
    // A port that was just free: nothing listens there.
    let addr = StdListener::bind(loopback()).unwrap().local_addr().unwrap();
    let (err, seen) =
        network_failure_notices(Url::parse(&format!("http://{addr}/wiki")).unwrap()).await;
    assert!(matches!(err, ClientError::Network { .. }), "{err:?}");
    assert_eq!(
        seen,
        vec![(2, WaitReason::Network), (3, WaitReason::Network)]
    );
    assert_eq!(WaitReason::Network.to_string(), "network error");
    assert_no_secret(&format!("{err} {err:?}"));
}

#[tokio::test]
async fn an_answer_cut_off_mid_body_is_backed_off_as_a_network_error() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            // Promises 1000 bytes, sends 10, hangs up.
            let _ = socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"type\":\"k",
                )
                .await;
        }
    });
    let (err, seen) =
        network_failure_notices(Url::parse(&format!("http://{addr}/wiki")).unwrap()).await;
    assert!(matches!(err, ClientError::Network { .. }), "{err:?}");
    assert_eq!(
        seen,
        vec![(2, WaitReason::Network), (3, WaitReason::Network)]
    );
}
