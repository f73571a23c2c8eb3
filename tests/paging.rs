//! Paging through the real `Client` against the demo site: v2 cursor chains,
//! v1 start/limit (capped or not), the v2 → v1 fallback, `max`, pages of a
//! space, and streaming page by page.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use confluence_tui::confluence::classify::Outcome;
use confluence_tui::confluence::client::{
    Client, ClientError, ClientOptions, Decorations, Deployment, Fixed, PAGE_LIMIT, RetryPolicy,
};
use confluence_tui::demo::{
    DEMO_API_TOKEN, DEMO_EMAIL, DEMO_PAT, DemoConfig, DemoData, DemoFaults, DemoFlavor, DemoServer,
    PathKind,
};
use confluence_tui::exit::ErrorClass;
use confluence_tui::secret::SecretString;
use url::Url;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn site(flavor: DemoFlavor, spaces: usize, pages: usize, faults: DemoFaults) -> DemoServer {
    DemoServer::start(
        DemoConfig {
            flavor,
            data: DemoData {
                spaces,
                pages_per_space: pages,
            },
            faults,
        },
        loopback(),
    )
    .await
    .unwrap()
}

fn credential_for(flavor: DemoFlavor) -> Decorations {
    match flavor {
        DemoFlavor::Cloud => Decorations::basic(DEMO_EMAIL, SecretString::from(DEMO_API_TOKEN)),
        DemoFlavor::Server => Decorations::bearer(SecretString::from(DEMO_PAT)),
    }
}

fn client_at(base: Url, deployment: Deployment, credential: Decorations) -> Client {
    Client::new(ClientOptions {
        base_url: base,
        deployment,
        authority: Fixed::shared(credential),
        timeout: Duration::from_secs(10),
        ca_bundle: None,
        tls: None,
        // A healthy demo site never needs a retry; one attempt keeps a
        // regression from hiding behind backoff.
        retry: RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        },
    })
    .unwrap()
}

fn client_for(server: &DemoServer) -> Client {
    let deployment = match server.flavor() {
        DemoFlavor::Cloud => Deployment::Cloud,
        DemoFlavor::Server => Deployment::Server,
    };
    client_at(
        server.base_url(),
        deployment,
        credential_for(server.flavor()),
    )
}

fn expected_space_keys(spaces: usize) -> Vec<String> {
    let data = DemoData {
        spaces,
        pages_per_space: 0,
    };
    (0..spaces).map(|i| data.space(i).unwrap().key).collect()
}

/// Every space key delivered, and the size of every delivered page.
async fn all_spaces(client: &Client, max: Option<usize>) -> (Vec<String>, Vec<usize>) {
    let mut keys = Vec::new();
    let mut sizes = Vec::new();
    let n = client
        .for_each_space_page(max, |page| {
            sizes.push(page.len());
            keys.extend(page.into_iter().map(|s| s.key));
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!(
        n,
        keys.len(),
        "the returned count matches what was delivered"
    );
    (keys, sizes)
}

fn pages_needed(items: usize, page: usize) -> u64 {
    items.div_ceil(page).max(1) as u64
}

fn assert_complete_in_order(keys: &[String], spaces: usize) {
    let expected = expected_space_keys(spaces);
    assert_eq!(keys.len(), expected.len(), "every space, none twice");
    // Compared element by element so a failure names the first wrong index
    // instead of dumping 10,000 keys.
    if let Some(i) = keys.iter().zip(&expected).position(|(a, b)| a != b) {
        panic!(
            "space {i}: got {} where {} was expected",
            keys[i], expected[i]
        );
    }
}

// ---- every space, Cloud (v2 cursors) and Server (v1 start/limit) ----

async fn check_every_space(flavor: DemoFlavor, spaces: usize, cap: Option<usize>) {
    let faults = DemoFaults {
        cap_limit: cap,
        ..DemoFaults::default()
    };
    let server = site(flavor, spaces, 0, faults).await;
    let client = client_for(&server);
    let (keys, sizes) = all_spaces(&client, None).await;
    assert_complete_in_order(&keys, spaces);
    let page = cap.unwrap_or(PAGE_LIMIT).min(PAGE_LIMIT);
    assert!(sizes.iter().all(|&s| s > 0 && s <= page), "{sizes:?}");
    let kind = match flavor {
        DemoFlavor::Cloud => PathKind::SpacesV2,
        DemoFlavor::Server => PathKind::SpacesV1,
    };
    assert_eq!(
        server.request_count_for(kind),
        pages_needed(spaces, page),
        "{flavor:?} with {spaces} spaces (cap {cap:?}) asks once per page"
    );
    assert_eq!(server.request_count(), server.request_count_for(kind));
}

#[tokio::test]
async fn cloud_lists_every_space_through_the_v2_cursor_chain() {
    for spaces in [0, 1, 250, 251] {
        check_every_space(DemoFlavor::Cloud, spaces, None).await;
    }
}

#[tokio::test]
async fn server_lists_every_space_through_v1_start_and_limit() {
    for spaces in [0, 1, 250, 251] {
        check_every_space(DemoFlavor::Server, spaces, None).await;
    }
}

#[tokio::test]
async fn ten_thousand_spaces_arrive_complete_on_both_flavors() {
    check_every_space(DemoFlavor::Cloud, 10_000, None).await;
    check_every_space(DemoFlavor::Server, 10_000, None).await;
}

#[tokio::test]
async fn a_server_that_caps_limit_silently_loses_no_space() {
    for cap in [100, 37, 1] {
        check_every_space(DemoFlavor::Server, 251, Some(cap)).await;
    }
    check_every_space(DemoFlavor::Server, 1_000, Some(37)).await;
}

#[tokio::test]
async fn the_cap_applies_exactly_at_a_page_boundary() {
    // 200 spaces, cap 100: the second page is full and the last one; the
    // client must not ask a third time.
    check_every_space(DemoFlavor::Server, 200, Some(100)).await;
    check_every_space(DemoFlavor::Server, 74, Some(37)).await;
}

// ---- a Cloud site without v2 ----

/// A Cloud-shaped front (`/wiki/...`) for a Server demo site that answers
/// 404 to every v2 path: a Cloud site whose v2 API is switched off.
struct NoV2 {
    upstream: Url,
    http: reqwest::Client,
    v2_misses: AtomicU64,
}

async fn no_v2_front(upstream: &DemoServer) -> (Url, Arc<NoV2>) {
    let state = Arc::new(NoV2 {
        upstream: upstream.base_url(),
        http: reqwest::Client::new(),
        v2_misses: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (Url::parse(&format!("http://{addr}/wiki")).unwrap(), state)
}

async fn forward(State(s): State<Arc<NoV2>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/wiki/api/v2/") {
        s.v2_misses.fetch_add(1, Ordering::Relaxed);
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"statusCode":404,"message":"null for uri: /wiki/api/v2"}"#,
        )
            .into_response();
    }
    let Some(rest) = path.strip_prefix("/wiki") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut url = s.upstream.clone();
    url.set_path(rest);
    url.set_query(req.uri().query());
    let mut out = s.http.get(url);
    if let Some(a) = req.headers().get(header::AUTHORIZATION) {
        out = out.header(header::AUTHORIZATION, a);
    }
    let answer = out.send().await.unwrap();
    let status = answer.status();
    let body = answer.bytes().await.unwrap();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[tokio::test]
async fn a_cloud_site_without_v2_falls_back_to_v1_for_spaces() {
    let upstream = site(DemoFlavor::Server, 251, 0, DemoFaults::default()).await;
    let (front, state) = no_v2_front(&upstream).await;
    let client = client_at(front, Deployment::Cloud, credential_for(DemoFlavor::Server));
    let (keys, sizes) = all_spaces(&client, None).await;
    assert_complete_in_order(&keys, 251);
    assert_eq!(sizes, vec![250, 1]);
    assert_eq!(state.v2_misses.load(Ordering::Relaxed), 1, "v2 tried once");
    assert_eq!(upstream.request_count_for(PathKind::SpacesV1), 2);
}

#[tokio::test]
async fn a_cloud_site_without_v2_falls_back_to_v1_for_pages_of_a_space() {
    let upstream = site(DemoFlavor::Server, 3, 260, DemoFaults::default()).await;
    let data = DemoData {
        spaces: 3,
        pages_per_space: 260,
    };
    let (front, state) = no_v2_front(&upstream).await;
    let client = client_at(front, Deployment::Cloud, credential_for(DemoFlavor::Server));
    let key = data.space(2).unwrap().key;
    let ids = page_ids(&client, &key, None).await;
    let expected: Vec<String> = (0..260).map(|j| data.page_id(2, j).to_string()).collect();
    assert_eq!(ids, expected);
    // The key → id lookup is the one v2 request; its 404 means "no v2".
    assert_eq!(state.v2_misses.load(Ordering::Relaxed), 1);
    assert_eq!(upstream.request_count_for(PathKind::ContentV1), 2);
}

#[tokio::test]
async fn a_server_site_told_it_is_cloud_reports_the_missing_wiki_path() {
    // Deployment Cloud puts a bare site under /wiki, as real Cloud sites
    // are; a Server site at the root then has neither API there. The client
    // tries v2, falls back to v1 once, and names the path that was missing.
    let server = site(DemoFlavor::Server, 5, 0, DemoFaults::default()).await;
    let client = client_at(
        server.base_url(),
        Deployment::Cloud,
        credential_for(DemoFlavor::Server),
    );
    let err = client
        .for_each_space_page(None, |_| ControlFlow::Continue(()))
        .await
        .unwrap_err();
    match &err {
        ClientError::Refused {
            outcome: Outcome::NotFound { .. },
            path,
        } => assert_eq!(path, "/wiki/rest/api/space"),
        other => panic!("expected a 404 on the v1 path, got {other:?}"),
    }
    assert_eq!(server.request_count_for(PathKind::Other), 2);
}

// ---- max (`spaces --limit N`) ----

#[tokio::test]
async fn max_delivers_exactly_n_and_asks_no_more_than_needed() {
    let cases: &[(DemoFlavor, Option<usize>, usize)] = &[
        (DemoFlavor::Cloud, None, 1),
        (DemoFlavor::Cloud, None, 10),
        (DemoFlavor::Cloud, None, 250),
        (DemoFlavor::Cloud, None, 251),
        (DemoFlavor::Cloud, None, 600),
        (DemoFlavor::Cloud, None, 1_000),
        (DemoFlavor::Server, None, 10),
        (DemoFlavor::Server, None, 251),
        (DemoFlavor::Server, Some(100), 250),
        (DemoFlavor::Server, Some(37), 100),
    ];
    for &(flavor, cap, max) in cases {
        let faults = DemoFaults {
            cap_limit: cap,
            ..DemoFaults::default()
        };
        let server = site(flavor, 1_000, 0, faults).await;
        let client = client_for(&server);
        let (keys, sizes) = all_spaces(&client, Some(max)).await;
        let expected = &expected_space_keys(1_000)[..max];
        assert_eq!(keys, expected, "{flavor:?} cap {cap:?} max {max}");
        let page = cap.unwrap_or(PAGE_LIMIT).min(PAGE_LIMIT).min(max);
        assert!(sizes.iter().all(|&s| s <= page), "{sizes:?}");
        assert_eq!(
            server.request_count(),
            pages_needed(max, page),
            "{flavor:?} cap {cap:?} max {max}: one request per page, none after the last"
        );
    }
}

#[tokio::test]
async fn max_larger_than_the_site_delivers_everything() {
    let server = site(DemoFlavor::Cloud, 300, 0, DemoFaults::default()).await;
    let (keys, _) = all_spaces(&client_for(&server), Some(5_000)).await;
    assert_complete_in_order(&keys, 300);
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn max_zero_delivers_nothing_and_asks_nothing() {
    let server = site(DemoFlavor::Cloud, 300, 0, DemoFaults::default()).await;
    let (keys, sizes) = all_spaces(&client_for(&server), Some(0)).await;
    assert!(keys.is_empty() && sizes.is_empty());
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn breaking_out_of_the_callback_stops_the_requests() {
    let server = site(DemoFlavor::Cloud, 1_000, 0, DemoFaults::default()).await;
    let client = client_for(&server);
    let mut calls = 0;
    let n = client
        .for_each_space_page(None, |_| {
            calls += 1;
            ControlFlow::Break(())
        })
        .await
        .unwrap();
    assert_eq!((calls, n), (1, 250));
    assert_eq!(server.request_count(), 1);
}

// ---- pages of a space ----

async fn page_ids(client: &Client, key: &str, id: Option<&str>) -> Vec<String> {
    let mut ids = Vec::new();
    client
        .for_each_page_of_space(key, id, |page| {
            assert!(page.len() <= PAGE_LIMIT);
            ids.extend(page.into_iter().map(|p| p.id));
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    ids
}

#[tokio::test]
async fn pages_of_a_space_arrive_complete_by_id_by_key_and_over_v1() {
    let data = DemoData {
        spaces: 4,
        pages_per_space: 600,
    };
    let cloud = site(DemoFlavor::Cloud, 4, 600, DemoFaults::default()).await;
    let server = site(DemoFlavor::Server, 4, 600, DemoFaults::default()).await;
    let space = data.space(3).unwrap();
    let expected: Vec<String> = (0..600).map(|j| data.page_id(3, j).to_string()).collect();

    let c = client_for(&cloud);
    let by_id = page_ids(&c, &space.key, Some(&space.id.to_string())).await;
    assert_eq!(by_id, expected, "v2 by id");
    assert_eq!(cloud.request_count_for(PathKind::SpacePagesV2), 3);
    assert_eq!(cloud.request_count_for(PathKind::SpacesV2), 0);

    let by_key = page_ids(&c, &space.key, None).await;
    assert_eq!(by_key, expected, "v2 after looking the id up by key");
    assert_eq!(cloud.request_count_for(PathKind::SpacesV2), 1, "one lookup");
    assert_eq!(cloud.request_count_for(PathKind::SpacePagesV2), 6);

    let s = client_for(&server);
    let over_v1 = page_ids(&s, &space.key, None).await;
    assert_eq!(over_v1, expected, "v1 content");
    assert_eq!(
        server.request_count_for(PathKind::SpacesV1),
        1,
        "one lookup"
    );
    assert_eq!(server.request_count_for(PathKind::ContentV1), 3);
}

#[tokio::test]
async fn v1_and_v2_pages_carry_the_same_parent_version_and_title() {
    let data = DemoData {
        spaces: 2,
        pages_per_space: 30,
    };
    let cloud = site(DemoFlavor::Cloud, 2, 30, DemoFaults::default()).await;
    let server = site(DemoFlavor::Server, 2, 30, DemoFaults::default()).await;
    let key = data.space(1).unwrap().key;
    for client in [client_for(&cloud), client_for(&server)] {
        let mut pages = Vec::new();
        client
            .for_each_page_of_space(&key, None, |p| {
                pages.extend(p);
                ControlFlow::Continue(())
            })
            .await
            .unwrap();
        assert_eq!(pages.len(), 30);
        for (j, page) in pages.iter().enumerate() {
            let want = data.page(1, j).unwrap();
            assert_eq!(page.title, want.title, "{:?}", client.deployment());
            assert_eq!(page.parent_id, want.parent_id.map(|p| p.to_string()));
            assert_eq!(page.version, Some(u64::from(want.version)));
            assert!(page.updated_at.is_some());
        }
    }
}

#[tokio::test]
async fn a_space_without_pages_gives_an_empty_list_in_one_request() {
    let cloud = site(DemoFlavor::Cloud, 2, 0, DemoFaults::default()).await;
    let server = site(DemoFlavor::Server, 2, 0, DemoFaults::default()).await;
    let data = DemoData {
        spaces: 2,
        pages_per_space: 0,
    };
    let space = data.space(0).unwrap();
    let mut calls = 0;
    let n = client_for(&cloud)
        .for_each_page_of_space(&space.key, Some(&space.id.to_string()), |_| {
            calls += 1;
            ControlFlow::Continue(())
        })
        .await
        .unwrap();
    assert_eq!((n, calls), (0, 0), "an empty page is not delivered");
    assert_eq!(cloud.request_count(), 1);
    assert!(
        page_ids(&client_for(&server), &space.key, None)
            .await
            .is_empty()
    );
    // Without an id the space is looked up first: an empty space is not an
    // unknown one.
    assert_eq!(server.request_count(), 2);
    assert!(
        page_ids(
            &client_for(&server),
            &space.key,
            Some(&space.id.to_string())
        )
        .await
        .is_empty()
    );
    assert_eq!(server.request_count(), 3, "with the id, one request");
}

async fn unknown_space_error(client: &Client, key: &str) -> ClientError {
    client
        .for_each_page_of_space(key, None, |_| {
            panic!("nothing may be delivered for an unknown space")
        })
        .await
        .unwrap_err()
}

#[tokio::test]
async fn an_unknown_space_key_is_a_usage_error_naming_it_on_both_deployments() {
    let cloud = site(DemoFlavor::Cloud, 2, 5, DemoFaults::default()).await;
    let server = site(DemoFlavor::Server, 2, 5, DemoFaults::default()).await;
    let upstream = site(DemoFlavor::Server, 2, 5, DemoFaults::default()).await;
    let (front, state) = no_v2_front(&upstream).await;
    let cloud_without_v2 = client_at(front, Deployment::Cloud, credential_for(DemoFlavor::Server));
    for (what, client) in [
        ("cloud", client_for(&cloud)),
        ("server", client_for(&server)),
        ("cloud without v2", cloud_without_v2),
    ] {
        let err = unknown_space_error(&client, "NOPE").await;
        assert!(
            matches!(&err, ClientError::UnknownSpace { key } if key == "NOPE"),
            "{what}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "no space with key NOPE is visible to this account",
            "{what}"
        );
        assert_eq!(err.class(), ErrorClass::Usage, "{what}");
    }
    // Nothing was listed: the lookup alone decided.
    assert_eq!(cloud.request_count_for(PathKind::SpacesV2), 1);
    assert_eq!(cloud.request_count_for(PathKind::SpacePagesV2), 0);
    assert_eq!(server.request_count_for(PathKind::SpacesV1), 1);
    assert_eq!(server.request_count_for(PathKind::ContentV1), 0);
    assert_eq!(state.v2_misses.load(Ordering::Relaxed), 1);
    assert_eq!(upstream.request_count_for(PathKind::ContentV1), 0);
}

#[tokio::test]
async fn a_space_key_that_must_be_escaped_stays_one_path_segment() {
    let server = site(DemoFlavor::Server, 2, 5, DemoFaults::default()).await;
    let err = unknown_space_error(&client_for(&server), "../content?x=1").await;
    assert!(matches!(err, ClientError::UnknownSpace { .. }), "{err:?}");
    assert_eq!(server.request_count_for(PathKind::SpacesV1), 1);
    // Keys that would name another resource are refused without asking.
    for key in ["", ".", ".."] {
        let err = unknown_space_error(&client_for(&server), key).await;
        assert!(
            matches!(err, ClientError::UnknownSpace { .. }),
            "{key:?}: {err:?}"
        );
    }
    assert_eq!(server.request_count(), 1);
}

// ---- streaming ----

#[tokio::test]
async fn the_first_page_is_delivered_before_the_last_is_requested() {
    let faults = DemoFaults {
        latency: Duration::from_millis(50),
        ..DemoFaults::default()
    };
    for flavor in [DemoFlavor::Cloud, DemoFlavor::Server] {
        let server = site(flavor, 1_000, 0, faults.clone()).await;
        let client = client_for(&server);
        let mut seen_at = Vec::new();
        let n = client
            .for_each_space_page(None, |page| {
                assert!(page.len() <= PAGE_LIMIT, "one page per callback");
                seen_at.push(server.request_count());
                ControlFlow::Continue(())
            })
            .await
            .unwrap();
        assert_eq!(n, 1_000);
        // Four pages: the callback for page k runs right after request k.
        assert_eq!(seen_at, vec![1, 2, 3, 4], "{flavor:?}");
        assert_eq!(server.request_count(), 4);
    }
}

// ---- paging that goes round in circles ----

/// A v2 site whose cursors go a → b → a → …, counting the requests.
async fn circular_site() -> (Url, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new()
        .fallback(
            |State(hits): State<Arc<AtomicU64>>, req: Request| async move {
                hits.fetch_add(1, Ordering::Relaxed);
                let next = if req.uri().query().unwrap_or_default().contains("cursor=a") {
                    "/wiki/api/v2/spaces?cursor=b"
                } else {
                    "/wiki/api/v2/spaces?cursor=a"
                };
                axum::Json(serde_json::json!({
                    "results": [{"id": "1", "key": "LOOP", "name": "Loop"}],
                    "_links": {"next": next}
                }))
            },
        )
        .with_state(hits.clone());
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (Url::parse(&format!("http://{addr}/wiki")).unwrap(), hits)
}

#[tokio::test]
async fn a_cursor_that_comes_round_again_stops_the_listing_as_a_looping_site() {
    let (base, hits) = circular_site().await;
    let client = client_at(base, Deployment::Cloud, credential_for(DemoFlavor::Cloud));
    let mut delivered = 0;
    let err = client
        .for_each_space_page(None, |page| {
            delivered += page.len();
            ControlFlow::Continue(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("paging loops"), "{err}");
    assert_eq!(err.class(), ErrorClass::Network, "exit 5");
    // first page, cursor a, cursor b; cursor a again is never requested.
    assert_eq!(hits.load(Ordering::Relaxed), 3);
    assert_eq!(delivered, 3);
}
