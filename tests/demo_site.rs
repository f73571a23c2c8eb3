//! The demo Confluence site over real HTTP: sign-in modes, paging, every
//! fault knob, session expiry and rotation, the login page, determinism.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use confluence_tui::demo::{
    CLOUD_SESSION_COOKIE, CaptchaForm, DEMO_API_TOKEN, DEMO_EMAIL, DEMO_PAT, DemoConfig, DemoData,
    DemoError, DemoFaults, DemoFlavor, DemoServer, PathKind, SERVER_SESSION_COOKIE,
};
use reqwest::{Client, RequestBuilder, StatusCode, redirect};
use serde_json::Value;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start_with(flavor: DemoFlavor, data: DemoData, faults: DemoFaults) -> DemoServer {
    DemoServer::start(
        DemoConfig {
            flavor,
            data,
            faults,
        },
        loopback(),
    )
    .await
    .unwrap()
}

async fn cloud() -> DemoServer {
    start_with(
        DemoFlavor::Cloud,
        DemoData::default(),
        DemoFaults::default(),
    )
    .await
}

async fn server_dc() -> DemoServer {
    start_with(
        DemoFlavor::Server,
        DemoData::default(),
        DemoFaults::default(),
    )
    .await
}

fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

/// `base_url` + `path` (path starts with `/`).
fn api(server: &DemoServer, path: &str) -> String {
    format!("{}{path}", server.base_url().as_str().trim_end_matches('/'))
}

fn origin(server: &DemoServer) -> String {
    format!("http://{}", server.addr())
}

fn as_demo_user(server: &DemoServer, rb: RequestBuilder) -> RequestBuilder {
    match server.flavor() {
        DemoFlavor::Cloud => rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN)),
        DemoFlavor::Server => rb.bearer_auth(DEMO_PAT),
    }
}

async fn get_json(server: &DemoServer, url: &str) -> Value {
    let response = as_demo_user(server, client().get(url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

async fn user_current_with(
    server: &DemoServer,
    f: impl FnOnce(RequestBuilder) -> RequestBuilder,
) -> reqwest::Response {
    f(client().get(api(server, "/rest/api/user/current")))
        .send()
        .await
        .unwrap()
}

fn expected_keys(data: DemoData) -> Vec<String> {
    (0..data.spaces)
        .map(|i| data.space(i).unwrap().key)
        .collect()
}

// ---- sign-in modes ----

#[tokio::test]
async fn cloud_accepts_email_and_api_token_and_refuses_wrong_ones() {
    let server = cloud().await;
    let ok = user_current_with(&server, |rb| {
        rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN))
    })
    .await;
    assert_eq!(ok.status(), 200);
    let user: Value = ok.json().await.unwrap();
    assert_eq!(user["type"], "known");
    assert!(user["accountId"].as_str().unwrap().starts_with("557058:"));

    let wrong = user_current_with(&server, |rb| {
        rb.basic_auth(DEMO_EMAIL, Some("SENTINEL-wrong-token"))
    })
    .await;
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.unwrap();
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["statusCode"], 401);
    assert!(json["message"].is_string());
    assert!(!body.contains("SENTINEL"));

    // A Cloud API token sent as Bearer is refused, as real Cloud does.
    let bearer = user_current_with(&server, |rb| rb.bearer_auth(DEMO_API_TOKEN)).await;
    assert_eq!(bearer.status(), 401);
    let none = user_current_with(&server, |rb| rb).await;
    assert_eq!(none.status(), 401);
    let spaces = client()
        .get(api(&server, "/api/v2/spaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(spaces.status(), 401);
}

#[tokio::test]
async fn server_accepts_the_pat_and_runs_an_invalid_one_as_anonymous() {
    let server = server_dc().await;
    let user: Value = user_current_with(&server, |rb| rb.bearer_auth(DEMO_PAT))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["type"], "known");
    assert_eq!(user["username"], "demo");
    assert!(user["userKey"].is_string());

    for anonymous in [
        user_current_with(&server, |rb| rb.bearer_auth("SENTINEL-invalid-pat")).await,
        user_current_with(&server, |rb| rb).await,
    ] {
        assert_eq!(anonymous.status(), 200);
        let body: Value = anonymous.json().await.unwrap();
        assert_eq!(body["type"], "anonymous");
    }
    let spaces: Value = client()
        .get(api(&server, "/rest/api/space"))
        .bearer_auth("SENTINEL-invalid-pat")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spaces["size"], 0);
    assert_eq!(spaces["results"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn login_page_shows_the_live_cookie_and_it_signs_in() {
    for (flavor, name) in [
        (DemoFlavor::Cloud, CLOUD_SESSION_COOKIE),
        (DemoFlavor::Server, SERVER_SESSION_COOKIE),
    ] {
        let server = start_with(flavor, DemoData::default(), DemoFaults::default()).await;
        let page = client().get(server.login_url()).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = page.text().await.unwrap();
        let cookie = html
            .split("<pre id=\"demo-cookie\">")
            .nth(1)
            .unwrap()
            .split("</pre>")
            .next()
            .unwrap();
        assert_eq!(cookie, server.session_cookie_header());
        assert!(
            cookie.starts_with(&format!("{name}=demo-session-")),
            "{cookie}"
        );
        assert!(cookie.contains("; atlassian.xsrf.token="));
        assert!(html.contains("<form") && html.contains("Sign in"));

        let user: Value = user_current_with(&server, |rb| rb.header("Cookie", cookie))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(user["type"], "known", "{flavor:?}");
    }
}

#[tokio::test]
async fn dead_or_unknown_session_cookie_is_refused_on_both_flavors() {
    for flavor in [DemoFlavor::Cloud, DemoFlavor::Server] {
        let server = start_with(flavor, DemoData::default(), DemoFaults::default()).await;
        let name = if flavor == DemoFlavor::Cloud {
            CLOUD_SESSION_COOKIE
        } else {
            SERVER_SESSION_COOKIE
        };
        let response = user_current_with(&server, |rb| {
            rb.header("Cookie", format!("{name}=SENTINEL-stale"))
        })
        .await;
        assert_eq!(response.status(), 401, "{flavor:?}");
        assert!(!response.text().await.unwrap().contains("SENTINEL"));
    }
}

#[tokio::test]
async fn sign_in_form_sets_a_fresh_cookie_and_clears_a_captcha() {
    let server = cloud().await;
    let old = server.session_cookie_header();
    server.set_faults(DemoFaults {
        captcha: Some(CaptchaForm::Header403),
        ..DemoFaults::default()
    });
    let response = client()
        .post(server.login_url())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("os_username=demo%40example.com&os_password=x&os_destination=%2Fwiki%2Fspaces")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/wiki/spaces");
    let set: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = set
        .iter()
        .find(|c| c.starts_with("cloud.session.token="))
        .unwrap();
    assert!(session.ends_with("; Path=/; HttpOnly; Secure"));
    assert!(server.faults().captcha.is_none());
    let fresh = server.session_cookie_header();
    assert_ne!(fresh, old);
    assert!(fresh.starts_with(session.split(';').next().unwrap()));
    let old_status = user_current_with(&server, |rb| rb.header("Cookie", &old))
        .await
        .status();
    assert_eq!(old_status, 401);
    let new_status = user_current_with(&server, |rb| rb.header("Cookie", &fresh))
        .await
        .status();
    assert_eq!(new_status, 200);
}

// ---- paging ----

/// Follows v2 `_links.next` from `/wiki/api/v2/spaces?limit=…` to the end.
async fn walk_v2_spaces(server: &DemoServer, limit: usize) -> (Vec<String>, usize) {
    let mut url = api(server, &format!("/api/v2/spaces?limit={limit}"));
    let mut keys = Vec::new();
    let mut requests = 0;
    loop {
        let body = get_json(server, &url).await;
        requests += 1;
        let results = body["results"].as_array().unwrap();
        assert!(results.len() <= limit.min(250));
        assert_eq!(body["_links"]["base"], api(server, ""));
        keys.extend(
            results
                .iter()
                .map(|s| s["key"].as_str().unwrap().to_string()),
        );
        match body["_links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/wiki/api/v2/spaces?"), "{next}");
                assert!(!results.is_empty());
                url = format!("{}{next}", origin(server));
            }
            None => return (keys, requests),
        }
    }
}

#[tokio::test]
async fn v2_cursor_chain_lists_every_space_once_in_order() {
    for spaces in [0, 1, 250, 251, 1000] {
        let data = DemoData {
            spaces,
            pages_per_space: 2,
        };
        let server = start_with(DemoFlavor::Cloud, data, DemoFaults::default()).await;
        let (keys, requests) = walk_v2_spaces(&server, 250).await;
        assert_eq!(keys, expected_keys(data), "{spaces} spaces");
        assert_eq!(requests, spaces.div_ceil(250).max(1), "{spaces} spaces");
    }
}

#[tokio::test]
async fn v2_limit_defaults_to_25_and_is_clamped_to_250() {
    let data = DemoData {
        spaces: 300,
        pages_per_space: 1,
    };
    let server = start_with(DemoFlavor::Cloud, data, DemoFaults::default()).await;
    let default = get_json(&server, &api(&server, "/api/v2/spaces")).await;
    assert_eq!(default["results"].as_array().unwrap().len(), 25);
    let big = get_json(&server, &api(&server, "/api/v2/spaces?limit=1000")).await;
    assert_eq!(big["results"].as_array().unwrap().len(), 250);
    let bad = as_demo_user(
        &server,
        client().get(api(&server, "/api/v2/spaces?cursor=zz!")),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn v2_pages_of_a_space_and_a_single_page_with_storage_body() {
    let server = cloud().await;
    let spaces = get_json(&server, &api(&server, "/api/v2/spaces?keys=BI1")).await;
    assert_eq!(spaces["results"].as_array().unwrap().len(), 1);
    let space = &spaces["results"][0];
    let id = space["id"].as_str().unwrap();
    let mut url = api(&server, &format!("/api/v2/spaces/{id}/pages?limit=7"));
    let mut titles = Vec::new();
    loop {
        let body = get_json(&server, &url).await;
        for p in body["results"].as_array().unwrap() {
            assert_eq!(p["spaceId"], id);
            titles.push(p["title"].as_str().unwrap().to_string());
        }
        match body["_links"]["next"].as_str() {
            Some(next) => url = format!("{}{next}", origin(&server)),
            None => break,
        }
    }
    assert_eq!(titles.len(), 30);
    assert_eq!(titles[0], "Home");
    let home = space["homepageId"].as_str().unwrap();
    let page = get_json(
        &server,
        &api(
            &server,
            &format!("/api/v2/pages/{home}?body-format=storage"),
        ),
    )
    .await;
    assert!(
        page["body"]["storage"]["value"]
            .as_str()
            .unwrap()
            .contains("<h1>Home</h1>")
    );
    assert_eq!(page["version"]["number"], 1);
    assert!(page["_links"]["webui"].is_string() && page["_links"]["tinyui"].is_string());
}

/// Follows v1 `_links.next` (relative to `_links.base`) and returns the keys
/// and every `size` seen.
async fn walk_v1_spaces(server: &DemoServer, limit: usize) -> (Vec<String>, Vec<u64>) {
    let mut url = api(server, &format!("/rest/api/space?limit={limit}"));
    let (mut keys, mut sizes) = (Vec::new(), Vec::new());
    loop {
        let body = get_json(server, &url).await;
        sizes.push(body["size"].as_u64().unwrap());
        keys.extend(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["key"].as_str().unwrap().to_string()),
        );
        match body["_links"]["next"].as_str() {
            Some(next) => url = format!("{}{next}", body["_links"]["base"].as_str().unwrap()),
            None => return (keys, sizes),
        }
    }
}

#[tokio::test]
async fn v1_start_and_limit_walk_every_space() {
    let server = cloud().await;
    let (keys, sizes) = walk_v1_spaces(&server, 25).await;
    assert_eq!(keys, expected_keys(DemoData::default()));
    assert_eq!(sizes, vec![25, 25, 10]);
    let second = get_json(&server, &api(&server, "/rest/api/space?start=25&limit=25")).await;
    assert_eq!(second["start"], 25);
    assert_eq!(second["results"][0]["key"], keys[25]);
}

#[tokio::test]
async fn server_caps_limit_silently_and_next_follows_what_came_back() {
    let data = DemoData {
        spaces: 260,
        pages_per_space: 1,
    };
    let faults = DemoFaults {
        cap_limit: Some(100),
        ..DemoFaults::default()
    };
    let server = start_with(DemoFlavor::Server, data, faults).await;
    let first = get_json(&server, &api(&server, "/rest/api/space?limit=250")).await;
    assert_eq!(first["limit"], 100);
    assert_eq!(first["size"], 100);
    assert!(
        first["_links"]["next"]
            .as_str()
            .unwrap()
            .contains("start=100")
    );
    let (keys, sizes) = walk_v1_spaces(&server, 250).await;
    assert_eq!(keys, expected_keys(data));
    assert_eq!(sizes, vec![100, 100, 60]);
}

#[tokio::test]
async fn server_has_no_v2_and_serves_v1_at_the_root() {
    let server = server_dc().await;
    assert_eq!(
        server.base_url().as_str().trim_end_matches('/'),
        origin(&server)
    );
    for path in [
        "/api/v2/spaces",
        "/wiki/api/v2/spaces",
        "/wiki/rest/api/space",
    ] {
        let status = as_demo_user(&server, client().get(format!("{}{path}", origin(&server))))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404, "{path}");
    }
    let content = get_json(
        &server,
        &api(
            &server,
            "/rest/api/content?spaceKey=AN0&type=page&limit=10&expand=ancestors",
        ),
    )
    .await;
    assert_eq!(content["size"], 10);
    assert_eq!(content["results"][1]["ancestors"][0]["title"], "Home");
}

#[tokio::test]
async fn one_space_by_key_is_answered_like_confluence_on_both_flavors() {
    for server in [cloud().await, server_dc().await] {
        let flavor = server.flavor();
        let key = DemoData::default().space(1).unwrap().key;
        let space = get_json(&server, &api(&server, &format!("/rest/api/space/{key}"))).await;
        assert_eq!(space["key"], key.as_str(), "{flavor:?}");
        assert!(space["name"].is_string(), "{flavor:?}: {space}");
        assert!(space["_links"]["webui"].is_string(), "{flavor:?}: {space}");
        let missing = as_demo_user(&server, client().get(api(&server, "/rest/api/space/NOPE")))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404, "{flavor:?}");
        let body: Value = missing.json().await.unwrap();
        assert_eq!(body["statusCode"], 404, "{flavor:?}");
        assert!(body["message"].is_string(), "{flavor:?}");
        assert_eq!(
            server.request_count_for(PathKind::SpacesV1),
            2,
            "{flavor:?}"
        );
    }
}

// ---- fault knobs ----

#[tokio::test]
async fn captcha_forms_send_their_exact_status_and_header() {
    let server = server_dc().await;
    server.set_faults(DemoFaults {
        captcha: Some(CaptchaForm::Header403),
        ..DemoFaults::default()
    });
    let r = user_current_with(&server, |rb| rb.bearer_auth(DEMO_PAT)).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.headers()["x-authentication-denied-reason"],
        format!(
            "CAPTCHA_CHALLENGE; login-url=http://{}/login.action",
            server.addr()
        )
        .as_str()
    );
    server.set_faults(DemoFaults {
        captcha: Some(CaptchaForm::Seraph401),
        ..DemoFaults::default()
    });
    let r = user_current_with(&server, |rb| rb.bearer_auth(DEMO_PAT)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["x-seraph-loginreason"], "AUTHENTICATION_DENIED");
}

#[tokio::test]
async fn every_nth_request_is_rate_limited_with_the_configured_retry_after() {
    let server = cloud().await;
    server.set_faults(DemoFaults {
        rate_limit_every: Some(3),
        retry_after_secs: 9_223_372_036_854_775_807,
        ..DemoFaults::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = user_current_with(&server, |rb| {
            rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN))
        })
        .await;
        if r.status() == 429 {
            assert_eq!(r.headers()["retry-after"], "9223372036854775807");
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429, 200, 200, 429]);
}

#[tokio::test]
async fn error_rate_answers_gateway_errors_deterministically() {
    let faults = DemoFaults {
        error_rate: 0.5,
        seed: 7,
        ..DemoFaults::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = start_with(DemoFlavor::Cloud, DemoData::default(), faults.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let r = user_current_with(&server, |rb| {
                rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN))
            })
            .await;
            statuses.push(r.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().all(|s| [200, 502, 503, 504].contains(s)));
    assert!(runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 502));
    let server = start_with(
        DemoFlavor::Cloud,
        DemoData::default(),
        DemoFaults {
            error_rate: 1.0,
            ..faults
        },
    )
    .await;
    let status = user_current_with(&server, |rb| {
        rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN))
    })
    .await
    .status();
    assert!([502, 503, 504].contains(&status.as_u16()));
}

#[tokio::test]
async fn signed_out_requests_get_the_configured_expiry_form() {
    let server = cloud().await;
    server.set_faults(DemoFaults {
        redirect_to_login: true,
        ..DemoFaults::default()
    });
    let r = client()
        .get(api(&server, "/rest/api/user/current"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        r.headers()["location"],
        format!(
            "http://{}/login.action?os_destination=%2Fwiki%2Frest%2Fapi%2Fuser%2Fcurrent",
            server.addr()
        )
        .as_str()
    );
    // Signed-in requests are unaffected: the knob shapes only signed-out answers.
    let ok = user_current_with(&server, |rb| {
        rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN))
    })
    .await;
    assert_eq!(ok.status(), 200);

    server.set_faults(DemoFaults {
        html_login_page: true,
        ..DemoFaults::default()
    });
    let r = client()
        .get(api(&server, "/api/v2/spaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<form id=\"login-form\""));

    server.set_faults(DemoFaults {
        expired_403: true,
        ..DemoFaults::default()
    });
    let r = client()
        .get(api(&server, "/api/v2/spaces"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"message": "Current user not permitted to use Confluence", "statusCode": 403})
    );
}

#[tokio::test]
async fn anonymous_knob_makes_user_current_anonymous_even_when_signed_in() {
    let server = cloud().await;
    server.set_faults(DemoFaults {
        anonymous: true,
        ..DemoFaults::default()
    });
    let r = user_current_with(&server, |rb| {
        rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN))
    })
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["type"], "anonymous");
}

#[tokio::test]
async fn forbidden_space_pages_answer_403_while_others_work() {
    let server = cloud().await;
    server.set_faults(DemoFaults {
        forbidden_spaces: vec!["BI1".into()],
        ..DemoFaults::default()
    });
    let data = DemoData::default();
    let (bi, an) = (data.space(1).unwrap(), data.space(0).unwrap());
    let get = |url: String| as_demo_user(&server, client().get(url)).send();
    assert_eq!(
        get(api(&server, &format!("/api/v2/spaces/{}/pages", bi.id)))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get(api(&server, "/rest/api/content?spaceKey=BI1&type=page"))
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        get(api(&server, &format!("/api/v2/spaces/{}/pages", an.id)))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        get(api(&server, "/rest/api/space?spaceKey=BI1"))
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn latency_delays_every_api_request() {
    let server = cloud().await;
    server.set_faults(DemoFaults {
        latency: Duration::from_millis(300),
        ..DemoFaults::default()
    });
    let began = Instant::now();
    let status = user_current_with(&server, |rb| {
        rb.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN))
    })
    .await
    .status();
    assert_eq!(status, 200);
    assert!(began.elapsed() >= Duration::from_millis(300));
}

// ---- session lifetime ----

#[tokio::test]
async fn session_dies_after_n_requests_until_a_new_login() {
    let server = cloud().await;
    server.set_faults(DemoFaults {
        session_expire_after_requests: Some(3),
        ..DemoFaults::default()
    });
    let cookie = server.session_cookie_header();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            user_current_with(&server, |rb| rb.header("Cookie", &cookie))
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, vec![200, 200, 200, 401]);
    let fresh = server.session_cookie_header();
    assert_ne!(fresh, cookie);
    assert_eq!(
        user_current_with(&server, |rb| rb.header("Cookie", &fresh))
            .await
            .status(),
        200
    );
    // The dead value stays dead.
    assert_eq!(
        user_current_with(&server, |rb| rb.header("Cookie", &cookie))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn session_dies_after_its_lifetime() {
    let server = server_dc().await;
    server.set_faults(DemoFaults {
        session_expire_after: Some(Duration::from_millis(200)),
        expired_403: true,
        ..DemoFaults::default()
    });
    let cookie = server.session_cookie_header();
    assert_eq!(
        user_current_with(&server, |rb| rb.header("Cookie", &cookie))
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        user_current_with(&server, |rb| rb.header("Cookie", &cookie))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn rotated_cookie_is_sent_back_and_the_old_one_has_a_short_grace() {
    let server = cloud().await;
    server.set_faults(DemoFaults {
        rotate_cookies: true,
        ..DemoFaults::default()
    });
    let old = server.session_cookie_header();
    let r = user_current_with(&server, |rb| rb.header("Cookie", &old)).await;
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let (pair, attributes) = set.split_once(';').unwrap();
    assert_eq!(attributes, " Path=/; HttpOnly; Secure");
    assert!(pair.starts_with("cloud.session.token=demo-session-"));
    assert!(!old.contains(pair));
    // The old value still works for the grace requests, then it is dead.
    for _ in 0..2 {
        let r = user_current_with(&server, |rb| rb.header("Cookie", &old)).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["set-cookie"].to_str().unwrap(), set);
    }
    assert_eq!(
        user_current_with(&server, |rb| rb.header("Cookie", &old))
            .await
            .status(),
        401
    );
    let r = user_current_with(&server, |rb| rb.header("Cookie", pair)).await;
    assert_eq!(r.status(), 200);
    assert_ne!(r.headers()["set-cookie"].to_str().unwrap(), set);
}

// ---- the site as a whole ----

#[tokio::test]
async fn same_config_gives_identical_bodies() {
    let data = DemoData {
        spaces: 80,
        pages_per_space: 12,
    };
    let paths = [
        "/api/v2/spaces?limit=30",
        "/api/v2/spaces?limit=30&description-format=plain",
        "/rest/api/space?limit=40&expand=description.plain",
        "/rest/api/content?spaceKey=CA2&type=page&expand=ancestors",
        "/rest/api/user/current",
    ];
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let server = start_with(DemoFlavor::Cloud, data, DemoFaults::default()).await;
        let mut texts = Vec::new();
        for path in paths {
            let text = as_demo_user(&server, client().get(api(&server, path)))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            // Only the port differs between two servers.
            texts.push(text.replace(&server.addr().to_string(), "HOST"));
        }
        bodies.push(texts);
    }
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn counters_count_every_request_by_kind() {
    let server = cloud().await;
    let _ = get_json(&server, &api(&server, "/api/v2/spaces")).await;
    let _ = get_json(&server, &api(&server, "/api/v2/spaces")).await;
    let _ = get_json(&server, &api(&server, "/rest/api/user/current")).await;
    let _ = client().get(server.login_url()).send().await.unwrap();
    let _ = client().get(api(&server, "/nope")).send().await.unwrap();
    assert_eq!(server.request_count(), 5);
    assert_eq!(server.request_count_for(PathKind::SpacesV2), 2);
    assert_eq!(server.request_count_for(PathKind::UserCurrent), 1);
    assert_eq!(server.request_count_for(PathKind::Login), 1);
    assert_eq!(server.request_count_for(PathKind::Other), 1);
}

#[tokio::test]
async fn ten_thousand_spaces_are_served_quickly() {
    let data = DemoData {
        spaces: 10_000,
        pages_per_space: 30,
    };
    let server = start_with(DemoFlavor::Cloud, data, DemoFaults::default()).await;
    let began = Instant::now();
    let (keys, requests) = walk_v2_spaces(&server, 250).await;
    let took = began.elapsed();
    assert_eq!(keys.len(), 10_000);
    assert_eq!(requests, 40);
    // Generous for an unoptimised build on a shared two-core machine.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[tokio::test]
async fn refuses_a_non_loopback_address() {
    let err = DemoServer::start(DemoConfig::default(), "0.0.0.0:0".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, DemoError::NotLoopback { .. }));
    assert!(err.to_string().contains("loopback"));
}

#[tokio::test]
async fn debug_output_never_shows_the_session_value() {
    let server = cloud().await;
    let cookie = server.session_cookie_header();
    let value = cookie.split(';').next().unwrap().split('=').nth(1).unwrap();
    assert!(!format!("{server:?}").contains(value));
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = cloud().await;
    let url = api(&server, "/rest/api/user/current");
    server.shutdown().await;
    assert!(Client::new().get(url).send().await.is_err());
}
