//! First-run setup's live check of a site address against real servers:
//! the built-in fake site (Cloud and Server/DC flavors), a web server that
//! is not Confluence, a port nobody listens on, and a host that does not
//! resolve. Each answer is a sentence that says what is wrong.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use confluence_tui::confluence::client::Deployment;
use confluence_tui::confluence::probe::{ProbeError, probe_site};
use confluence_tui::demo::{DemoConfig, DemoData, DemoFlavor, DemoServer};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn fake_site(flavor: DemoFlavor) -> DemoServer {
    let config = DemoConfig {
        flavor,
        data: DemoData {
            spaces: 2,
            pages_per_space: 1,
        },
        ..Default::default()
    };
    DemoServer::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_cloud_site_is_confluence_cloud_with_or_without_wiki() {
    let site = fake_site(DemoFlavor::Cloud).await;
    let base = site.base_url().to_string();
    let probe = probe_site(&base, TIMEOUT, None).await.unwrap();
    assert_eq!(probe.deployment, Deployment::Cloud);
    assert_eq!(probe.base_url, base.trim_end_matches('/'));
    assert!(!probe.behind_sign_in);
    assert_eq!(
        probe.login_page,
        format!("http://{}/login", site.addr()),
        "the fake site's login page"
    );
    // Typed without /wiki: found under /wiki all the same.
    let root = format!("http://{}", site.addr());
    let probe = probe_site(&root, TIMEOUT, None).await.unwrap();
    assert_eq!(probe.deployment, Deployment::Cloud);
    assert_eq!(probe.base_url, format!("http://{}/wiki", site.addr()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_server_site_is_confluence_server() {
    let site = fake_site(DemoFlavor::Server).await;
    let probe = probe_site(site.base_url().as_str(), TIMEOUT, None)
        .await
        .unwrap();
    assert_eq!(probe.deployment, Deployment::Server);
    assert_eq!(
        probe.login_page,
        format!("http://{}/login.action", site.addr())
    );
}

/// A web server that answers every request 404 with an HTML page.
fn not_confluence() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<html><body><h1>404 Not Found</h1>\u{1b}[2J</body></html>";
            let _ = write!(
                s,
                "HTTP/1.1 404 Not Found\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_web_server_that_is_not_confluence_is_said_to_be_so() {
    let url = not_confluence();
    let err = probe_site(&url, TIMEOUT, None).await.unwrap_err();
    assert!(matches!(err, ProbeError::NotConfluence { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("not like a Confluence site"), "{text}");
    assert!(text.contains("HTTP 404, an HTML page"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_nobody_listens_on_is_connection_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = probe_site(&format!("http://127.0.0.1:{port}"), TIMEOUT, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProbeError::Refused {
            host: "127.0.0.1".into(),
            port
        }
    );
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_does_not_resolve_is_said_at_once() {
    let started = std::time::Instant::now();
    let err = probe_site("https://confluence.example.invalid", TIMEOUT, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProbeError::HostNotFound {
            host: "confluence.example.invalid".into()
        }
    );
    assert!(
        err.to_string()
            .starts_with("cannot find the host confluence.example.invalid"),
        "{err}"
    );
    assert!(started.elapsed() < TIMEOUT, "no retries on DNS");
}

#[tokio::test]
async fn plain_http_to_another_host_is_refused_before_any_request() {
    let err = probe_site("http://confluence.example.com", TIMEOUT, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ProbeError::Address(_)), "{err:?}");
    assert!(err.to_string().contains("plain http://"), "{err}");
}

/// The demo's (and the tests') settings are not read from a file: setup's
/// write is refused there, so it can never touch the user's `.env`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_are_not_read_from_a_file_are_never_written() {
    use confluence_tui::config::{FlagOverrides, Settings};
    use confluence_tui::confluence::client::RetryPolicy;
    use confluence_tui::vault::MachineIdSource;
    use confluence_tui::worker::{
        self, Command, Event, Mutation, MutationKind, SettingsSource, WorkerOptions,
    };
    let data = tempfile::tempdir().unwrap();
    let vars: std::collections::HashMap<String, String> = [
        ("CONFLUENCE_DATA_DIR", data.path().display().to_string()),
        ("CONFLUENCE_KDF_LOG_N", "10".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let settings = Settings::from_vars(&FlagOverrides::default(), &vars).unwrap();
    let mut w = worker::spawn(
        settings,
        WorkerOptions {
            source: SettingsSource::Demo(vars),
            machine_id: MachineIdSource::Fixed("machine-a".into()),
            retry: RetryPolicy::default(),
            login_page: None,
            keep_alive: false,
        },
    );
    w.commands
        .send(Command::Mutate(Mutation::WriteSiteSettings {
            base_url: "https://example.atlassian.net/wiki".into(),
            deployment: Deployment::Cloud,
            username: None,
        }))
        .unwrap();
    let answer = tokio::time::timeout(TIMEOUT, async {
        loop {
            match w.events.recv().await {
                Some(Event::Mutated {
                    kind: MutationKind::WriteSiteSettings,
                    result,
                }) => return result,
                Some(_) => continue,
                None => panic!("the worker stopped"),
            }
        }
    })
    .await
    .unwrap();
    let err = answer.unwrap_err();
    assert!(err.message.contains("nothing was written"), "{err}");
    w.task.abort();
}

/// `https://` to a server that does not speak TLS (here the fake site over
/// plain HTTP): the handshake fails, and the message says it was the
/// secure connection, not the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_tls_handshake_is_said_as_such() {
    let site = fake_site(DemoFlavor::Cloud).await;
    let url = format!("https://127.0.0.1:{}/wiki", site.addr().port());
    let err = probe_site(&url, TIMEOUT, None).await.unwrap_err();
    assert!(
        matches!(&err, ProbeError::Tls { host, .. } if host == "127.0.0.1"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("the secure (TLS) connection to 127.0.0.1 failed"),
        "{text}"
    );
    assert!(text.contains("CONFLUENCE_CA_BUNDLE"), "{text}");
}
