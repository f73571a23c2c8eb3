//! Gateways the tests put in front of the fake site, all on loopback, each
//! the way its real counterpart behaves towards a client:
//!
//! - `Door::Tls`: a TLS front that wants a client certificate issued by the
//!   test's client CA (mTLS), with certificates the test makes (`Pki`);
//! - `Door::Cloudflare`: Cloudflare Access: admits a request with the right
//!   service-token headers or a valid `CF_Authorization` cookie, else
//!   redirects to `https://<team>.cloudflareaccess.com/cdn-cgi/access/login/…`;
//! - `Door::F5`: an F5 BIG-IP APM: admits a request with a valid
//!   `MRHSession` cookie, else redirects to `/my.policy`;
//! - `Door::Decoding`: no lock at all, but a front end that reads paths the
//!   way nginx (and Apache with `AllowEncodedSlashes`) and Tomcat do: it
//!   percent-decodes the whole path (`%2F` included), drops `;` path
//!   parameters, then resolves dot segments, and asks the site for what
//!   remains (the recorded path is that resolved one).
//!
//! Admitted requests go on to the site as they came (the gateway's own
//! headers and cookies included, as real gateways pass them); the answers
//! come back with the site's address rewritten to the gateway's. Every
//! request is recorded: admitted or not, its cookie names, and the
//! `Authorization` header the site behind was sent.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use tokio_rustls::rustls;

/// The Cloudflare Access team domain the gateway redirects to.
pub const CF_TEAM: &str = "acme";

/// What the gateway checks.
pub enum Door {
    /// mTLS: the server configuration (with its client verifier).
    Tls(Arc<rustls::ServerConfig>),
    /// Cloudflare Access with this service token (id, secret).
    Cloudflare { client_id: String, secret: String },
    /// An F5 BIG-IP APM.
    F5,
    /// A front end that decodes before it resolves dot segments.
    Decoding,
    /// A rate limiter: after `burst` requests it answers one `429` with
    /// `Retry-After: retry_after` (seconds), then lets everything through.
    RateLimited { burst: usize, retry_after: u64 },
}

/// One request the gateway saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub admitted: bool,
    pub cookie_names: Vec<String>,
    /// The `Authorization` header as sent (the test knows the value).
    pub authorization: Option<String>,
    pub cf_client_id: Option<String>,
}

struct State {
    backend: SocketAddr,
    door: DoorKind,
    /// The gateway session cookie value that admits (`CF_Authorization`,
    /// `MRHSession`); none: every session cookie is refused.
    session: Mutex<Option<String>>,
    /// An F5-style inactivity timeout: a session no request used for this
    /// long ends (traffic, the keep-alive's too, resets it).
    idle: Mutex<Option<(std::time::Duration, std::time::Instant)>>,
    seen: Mutex<Vec<Seen>>,
    /// Requests being answered now, and the most ever at once.
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
    /// When each request arrived, and when the 429 went out.
    arrivals: Mutex<Vec<std::time::Instant>>,
    limited_at: Mutex<Option<std::time::Instant>>,
    http: reqwest::Client,
    origin: Mutex<String>,
}

enum DoorKind {
    Tls,
    Cloudflare { client_id: String, secret: String },
    F5,
    Decoding,
    RateLimited { burst: usize, retry_after: u64 },
}

/// A gateway, alive while the test runs.
pub struct Gateway {
    pub addr: SocketAddr,
    state: Arc<State>,
    tls: bool,
    _rt: tokio::runtime::Runtime,
}

impl Gateway {
    /// Starts a gateway in front of the site at `backend`.
    pub fn start(door: Door, backend: SocketAddr) -> Gateway {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (kind, acceptor) = match door {
            Door::Tls(config) => (DoorKind::Tls, Some(tokio_rustls::TlsAcceptor::from(config))),
            Door::Cloudflare { client_id, secret } => {
                (DoorKind::Cloudflare { client_id, secret }, None)
            }
            Door::F5 => (DoorKind::F5, None),
            Door::Decoding => (DoorKind::Decoding, None),
            Door::RateLimited { burst, retry_after } => {
                (DoorKind::RateLimited { burst, retry_after }, None)
            }
        };
        let tls = acceptor.is_some();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            backend,
            door: kind,
            session: Mutex::new(None),
            idle: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            most_in_flight: std::sync::atomic::AtomicUsize::new(0),
            arrivals: Mutex::new(Vec::new()),
            limited_at: Mutex::new(None),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap(),
            origin: Mutex::new(format!("{}://{}", if tls { "https" } else { "http" }, addr)),
        });
        let serving = state.clone();
        rt.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let state = serving.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&state, req).await) }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        // A refused handshake ends here: the client hears
                        // the alert the TLS library sends.
                        Some(a) => {
                            if let Ok(stream) = a.accept(tcp).await {
                                let _ = http
                                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                        None => {
                            let _ = http
                                .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                                .await;
                        }
                    }
                });
            }
        });
        Gateway {
            addr,
            state,
            tls,
            _rt: rt,
        }
    }

    /// The site's address through the gateway (`https://localhost:PORT/…`
    /// for the TLS one, whose certificate names `localhost`).
    pub fn base_url(&self, site_path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{site_path}", self.addr.port())
        } else {
            format!("http://{}{site_path}", self.addr)
        }
    }

    /// From now on, `value` is the gateway session cookie that admits.
    pub fn open_session(&self, value: &str) {
        *self.state.session.lock().unwrap() = Some(value.to_string());
    }

    /// The gateway session ends: its cookie no longer admits.
    pub fn end_session(&self) {
        *self.state.session.lock().unwrap() = None;
    }

    /// From now on, the session ends once no request used it for `idle`.
    pub fn end_session_when_idle_for(&self, idle: std::time::Duration) {
        *self.state.idle.lock().unwrap() = Some((idle, std::time::Instant::now()));
    }

    /// The most requests it was answering at once.
    pub fn most_in_flight(&self) -> usize {
        self.state
            .most_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// When each request arrived, and when the `429` went out (if it did).
    pub fn arrivals(&self) -> (Vec<std::time::Instant>, Option<std::time::Instant>) {
        (
            self.state.arrivals.lock().unwrap().clone(),
            *self.state.limited_at.lock().unwrap(),
        )
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

fn cookies(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|p| p.split_once('='))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    use std::sync::atomic::Ordering;
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let answer = admit_and_forward(state, req).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    answer
}

async fn admit_and_forward(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if let DoorKind::RateLimited { burst, retry_after } = state.door {
        let arrived = {
            let mut arrivals = state.arrivals.lock().unwrap();
            arrivals.push(std::time::Instant::now());
            arrivals.len()
        };
        let refuse = {
            let mut limited = state.limited_at.lock().unwrap();
            let first = arrived > burst && limited.is_none();
            if first {
                *limited = Some(std::time::Instant::now());
            }
            first
        };
        if refuse {
            return Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header(hyper::header::RETRY_AFTER, retry_after.to_string())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from_static(
                    br#"{"statusCode":429,"message":"Rate limit exceeded"}"#,
                )))
                .unwrap();
        }
    }
    let jar = cookies(&req);
    {
        // An idle session ends before this request could use it.
        let mut idle = state.idle.lock().unwrap();
        if let Some((limit, last)) = *idle
            && last.elapsed() > limit
        {
            *state.session.lock().unwrap() = None;
            *idle = None;
        }
    }
    let session = state.session.lock().unwrap().clone();
    let has_session = |name: &str| {
        session
            .as_deref()
            .is_some_and(|s| jar.iter().any(|(n, v)| n == name && v == s))
    };
    let mut path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    if matches!(state.door, DoorKind::Decoding) {
        path = decode_like_nginx(req.uri().path());
        if let Some(q) = req.uri().query() {
            path = format!("{path}?{q}");
        }
    }
    let refusal = match &state.door {
        DoorKind::Tls | DoorKind::Decoding | DoorKind::RateLimited { .. } => None,
        DoorKind::Cloudflare { client_id, secret } => {
            let token = header(&req, "cf-access-client-id").as_deref() == Some(client_id)
                && header(&req, "cf-access-client-secret").as_deref() == Some(secret);
            (!token && !has_session("CF_Authorization")).then(|| {
                format!(
                    "https://{CF_TEAM}.cloudflareaccess.com/cdn-cgi/access/login/127.0.0.1?kid=4f1e&redirect_url={}",
                    req.uri().path()
                )
            })
        }
        DoorKind::F5 => (!has_session("MRHSession")).then(|| "/my.policy".to_string()),
    };
    if refusal.is_none() {
        // Traffic on the session keeps it from going idle.
        let mut idle = state.idle.lock().unwrap();
        if let Some((limit, _)) = *idle {
            *idle = Some((limit, std::time::Instant::now()));
        }
    }
    state.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        admitted: refusal.is_none(),
        cookie_names: jar.iter().map(|(n, _)| n.clone()).collect(),
        authorization: header(&req, "authorization"),
        cf_client_id: header(&req, "cf-access-client-id"),
    });
    if let Some(location) = refusal {
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(hyper::header::LOCATION, location)
            .header(hyper::header::CONTENT_TYPE, "text/html")
            .body(Full::new(Bytes::from_static(b"<html>Sign in</html>")))
            .unwrap();
    }
    forward(state, req, &path).await
}

/// The path a decoding front end serves: every `%XX` decoded (`%2F` and
/// `%5C` become separators, `\\` too), `;` parameters dropped from each
/// segment, then `.` and `..` resolved. What is left is re-encoded only
/// where a URL cannot hold the byte (the site behind then sees the same
/// segments the front end did).
pub fn decode_like_nginx(raw: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    let decoded = decoded.replace('\\', "/");
    let mut out: Vec<String> = Vec::new();
    for segment in decoded.split('/').skip(1) {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(
                percent_encoding::utf8_percent_encode(s, percent_encoding::CONTROLS)
                    .to_string()
                    .replace(' ', "%20")
                    .replace('?', "%3F")
                    .replace('#', "%23"),
            ),
        }
    }
    format!("/{}", out.join("/"))
}

async fn forward(state: &State, req: Request<Incoming>, path: &str) -> Response<Full<Bytes>> {
    let backend = format!("http://{}", state.backend);
    let origin = state.origin.lock().unwrap().clone();
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST {
            headers.append(name.clone(), value.clone());
        }
    }
    let sent = state
        .http
        .request(parts.method, format!("{backend}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let Ok(resp) = sent else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Full::new(Bytes::from_static(b"the site is down")))
            .unwrap();
    };
    let mut out = Response::builder().status(resp.status());
    for (name, value) in resp.headers() {
        if name == hyper::header::CONTENT_LENGTH || name == hyper::header::TRANSFER_ENCODING {
            continue;
        }
        if name == hyper::header::LOCATION {
            let moved = value
                .to_str()
                .unwrap_or_default()
                .replace(&backend, &origin);
            out = out.header(name, moved);
        } else {
            out = out.header(name, value);
        }
    }
    let body = resp.bytes().await.unwrap_or_default();
    let body = String::from_utf8(body.to_vec())
        .map(|text| Bytes::from(text.replace(&backend, &origin)))
        .unwrap_or(body);
    out.body(Full::new(body)).unwrap()
}

/// The certificates of an mTLS test, made fresh: a CA that issues the
/// gateway's server certificate (for `localhost`), a client CA that issues
/// the pipeline's certificate, and a stranger's certificate from another CA.
pub struct Pki {
    pub dir: tempfile::TempDir,
    server_ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    client_ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    server_key: Vec<u8>,
}

/// The subject of the pipeline's client certificate.
pub const CLIENT_CN: &str = "pipeline-bot";
/// The subject of the client CA (the name the gateway asks for).
pub const CLIENT_CA_CN: &str = "Acme Gateway Client CA";

impl Pki {
    pub fn new() -> Pki {
        let ca = |cn: &str| {
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            p.key_usages = vec![
                rcgen::KeyUsagePurpose::KeyCertSign,
                rcgen::KeyUsagePurpose::CrlSign,
                rcgen::KeyUsagePurpose::DigitalSignature,
            ];
            rcgen::CertifiedIssuer::self_signed(p, rcgen::KeyPair::generate().unwrap()).unwrap()
        };
        let server_ca = ca("Acme Test Server CA");
        let client_ca = ca(CLIENT_CA_CN);
        let mut p =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .unwrap();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &server_ca).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki {
            dir,
            server_chain: vec![cert.der().clone()],
            server_key: key.serialize_der(),
            server_ca,
            client_ca,
        };
        write_private(&pki.server_ca_file(), pki.server_ca.pem().as_bytes());
        pki
    }

    /// The PEM file that verifies the gateway (`CONFLUENCE_CA_BUNDLE`).
    pub fn server_ca_file(&self) -> PathBuf {
        self.dir.path().join("server-ca.pem")
    }

    /// A client certificate issued by the client CA (or, `stranger`, by a
    /// CA the gateway does not know): (certificate chain PEM, key PEM).
    pub fn client(&self, cn: &str, stranger: bool) -> (String, String) {
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(rcgen::DnType::CommonName, cn);
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = if stranger {
            let mut other = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            other
                .distinguished_name
                .push(rcgen::DnType::CommonName, "Some Other CA");
            other.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let other =
                rcgen::CertifiedIssuer::self_signed(other, rcgen::KeyPair::generate().unwrap())
                    .unwrap();
            p.signed_by(&key, &other).unwrap()
        } else {
            p.signed_by(&key, &self.client_ca).unwrap()
        };
        (cert.pem(), key.serialize_pem())
    }

    /// Writes the pipeline's certificate and key (0600) as PEM files:
    /// (certificate file, key file).
    pub fn client_files(&self, name: &str, stranger: bool) -> (PathBuf, PathBuf) {
        let (cert, key) = self.client(CLIENT_CN, stranger);
        let cert_file = self.dir.path().join(format!("{name}.crt"));
        let key_file = self.dir.path().join(format!("{name}.key"));
        write_private(&cert_file, cert.as_bytes());
        write_private(&key_file, key.as_bytes());
        (cert_file, key_file)
    }

    /// The gateway's TLS configuration: its certificate, and a client
    /// verifier that wants one issued by the client CA.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.client_ca.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(self.server_key.clone().into());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.server_chain.clone(), key)
            .unwrap();
        Arc::new(config)
    }
}

/// Writes `data` to a new file readable by its owner only.
pub fn write_private(path: &Path, data: &[u8]) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(data).unwrap();
}

/// `openssl` with `args`, which must succeed (it makes the PKCS#12 file
/// and the encrypted key a user would have).
pub fn openssl(args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
