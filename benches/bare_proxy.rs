//! The least a proxy in this stack can do, as an anchor for
//! `benches/proxy.sh`: a loopback HTTP/1.1 server (hyper) that forwards
//! every request's path to one upstream with one added header and streams
//! the answer back — no token check, no judging, no rewriting, no log. Two
//! upstream clients: `hyper` (hyper-util's pooled client, plain HTTP only)
//! and `reqwest` (the client the real proxy uses, for TLS, `*_PROXY` and
//! its CA bundle). What `confluence-tui proxy` adds beyond these is its own
//! work; what these add beyond nginx is the stack's.
//!
//! ```text
//! bare_proxy hyper|reqwest LISTEN UPSTREAM_ORIGIN HEADER_NAME HEADER_VALUE
//! ```
//!
//! Prints `listening` once it accepts connections. Without arguments (as
//! `cargo bench` runs every bench target) it says what it needs and exits 0.

use std::convert::Infallible;
use std::sync::Arc;

use futures::TryStreamExt as _;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Empty, StreamBody};
use hyper::body::Bytes;
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

enum Upstream {
    Hyper(Box<Client<HttpConnector, Empty<Bytes>>>),
    Reqwest(reqwest::Client),
}

struct Bare {
    upstream: Upstream,
    origin: String,
    header: (HeaderName, HeaderValue),
}

impl Bare {
    async fn forward(&self, req: Request<Incoming>) -> Response<Body> {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{path}", self.origin);
        let (name, value) = (&self.header.0, &self.header.1);
        match &self.upstream {
            Upstream::Hyper(client) => {
                let out = Request::get(url)
                    .header(name, value)
                    .body(Empty::new())
                    .expect("request");
                match client.request(out).await {
                    Ok(resp) => resp.map(|b| b.map_err(|e| e.into()).boxed()),
                    Err(_) => bad_gateway(),
                }
            }
            Upstream::Reqwest(client) => match client.get(url).header(name, value).send().await {
                Ok(resp) => {
                    let mut head = Response::new(());
                    *head.status_mut() = resp.status();
                    *head.headers_mut() = resp.headers().clone();
                    let stream = resp
                        .bytes_stream()
                        .map_ok(Frame::data)
                        .map_err(|e| e.into());
                    let (parts, ()) = head.into_parts();
                    Response::from_parts(parts, StreamBody::new(stream).boxed())
                }
                Err(_) => bad_gateway(),
            },
        }
    }
}

fn bad_gateway() -> Response<Body> {
    let mut r = Response::new(Empty::new().map_err(|e| match e {}).boxed());
    *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
    r
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 5 {
        eprintln!(
            "bare_proxy hyper|reqwest LISTEN UPSTREAM_ORIGIN HEADER_NAME HEADER_VALUE (run by benches/proxy.sh)"
        );
        return;
    }
    let upstream = match args[0].as_str() {
        "hyper" => Upstream::Hyper(Box::new(Client::builder(TokioExecutor::new()).build_http())),
        "reqwest" => Upstream::Reqwest(
            reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        ),
        other => panic!("unknown client {other}"),
    };
    let bare = Arc::new(Bare {
        upstream,
        origin: args[2].trim_end_matches('/').to_string(),
        header: (
            HeaderName::from_bytes(args[3].as_bytes()).expect("header name"),
            HeaderValue::from_str(&args[4]).expect("header value"),
        ),
    });
    // Like the real proxy's command: tokio's multi-thread runtime, 2 workers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args[1]).await.expect("bind");
        println!("listening");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let bare = bare.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let bare = bare.clone();
                    async move { Ok::<_, Infallible>(bare.forward(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}
