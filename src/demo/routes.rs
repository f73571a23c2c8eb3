//! The REST endpoints: v1 (both flavors) and v2 (Cloud only), paged on the
//! fly from the generated data.

// Handlers bail out with the finished error `Response`; it is built once per
// failed request, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::DemoFlavor;
use super::login::{get_login, post_login};
use super::query::{DEFAULT_LIMIT, Query, encode_cursor, take_page};
use super::state::{Admitted, PathKind, SiteState, error_json};

/// The whole site: API routes (under `/wiki` on Cloud) plus the login page.
pub(crate) fn router(state: Arc<SiteState>) -> Router {
    let mut api = Router::new()
        .route("/rest/api/user/current", get(user_current))
        .route("/rest/api/space", get(spaces_v1))
        .route("/rest/api/space/{key}", get(space_v1))
        .route("/rest/api/space/{key}/content", get(space_content_v1))
        .route(
            "/rest/api/space/{key}/content/page",
            get(space_content_pages_v1),
        )
        .route(
            "/rest/api/content",
            get(content_v1).post(super::extras::create_content_v1),
        )
        .route("/x/{tiny}", get(super::extras::tiny_link))
        .route(
            "/download/attachments/{page_id}/{name}",
            get(super::extras::download_attachment),
        )
        .route("/rest/api/content/{id}", get(content_by_id_v1))
        .route(
            "/rest/api/content/{id}/child/attachment",
            get(page_attachments_v1),
        );
    if state.flavor == DemoFlavor::Cloud {
        api = api
            .route("/api/v2/spaces", get(spaces_v2))
            .route("/api/v2/spaces/{id}/pages", get(space_pages_v2))
            .route("/api/v2/pages/{id}", get(page_v2));
    }
    let site = match state.flavor {
        DemoFlavor::Cloud => Router::new().nest("/wiki", api),
        DemoFlavor::Server => api,
    };
    site.route("/login", get(get_login).post(post_login))
        .route("/login.action", get(get_login).post(post_login))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::hostile::rewrite,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::state::log_request,
        ))
        .with_state(state)
}

type St = State<Arc<SiteState>>;

async fn not_found(State(state): St) -> Response {
    state.count(PathKind::Other);
    error_json(StatusCode::NOT_FOUND, "No such endpoint on the demo site.")
}

/// Admits a request for one page (v1 content, v2 page) and finds the page
/// with `id` if the caller may see it: signed in, and its space not
/// forbidden. `what` names it in the 404 ("content" on v1, "page" on v2).
async fn admit_visible_page(
    s: &SiteState,
    kind: PathKind,
    headers: &HeaderMap,
    uri: &Uri,
    id: &str,
    what: &str,
) -> Result<(Admitted, crate::demo::data::PageInfo), Response> {
    let admitted = s.admit(kind, headers, uri).await?;
    let Some(page) = s.data.page_by_id(id).filter(|_| admitted.signed_in) else {
        return Err(error_json(
            StatusCode::NOT_FOUND,
            &format!("No {what} with the given id, or you are not permitted to see it."),
        ));
    };
    match s
        .data
        .space(page.space_index)
        .and_then(|sp| forbidden_space(&admitted, &sp.key))
    {
        Some(r) => Err(r),
        None => Ok((admitted, page)),
    }
}

fn forbidden_space(admitted: &Admitted, key: &str) -> Option<Response> {
    admitted
        .faults
        .forbidden_spaces
        .iter()
        .any(|k| k == key)
        .then(|| {
            error_json(
                StatusCode::FORBIDDEN,
                "You are not permitted to view the pages of this space.",
            )
        })
}

async fn user_current(State(s): St, headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let admitted = match s.admit(PathKind::UserCurrent, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = if admitted.signed_in {
        s.links.user_known()
    } else {
        s.links.user_anonymous()
    };
    admitted.finish(axum::Json(body))
}

async fn spaces_v1(State(s): St, headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let admitted = match s.admit(PathKind::SpacesV1, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = Query::of(&uri);
    let (start, limit) = match (q.start(), q.limit(admitted.faults.cap_limit)) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    // A looping site answers every page as if it were the first.
    let loops = admitted.faults.paging_loops;
    let start = if loops { 0 } else { start };
    let keys = q.list("spaceKey");
    let type_filter = q.get("type").map(str::to_string);
    let status_filter = q.get("status").map(str::to_string);
    let with_description = q.get("expand").is_some_and(|e| e.contains("description"));
    let data = &s.data;
    let total = if admitted.signed_in { data.spaces } else { 0 };
    let matching = (0..total)
        .filter_map(|i| data.space(i))
        .filter(|sp| keys.is_empty() || keys.contains(&sp.key))
        .filter(|sp| type_filter.as_deref().is_none_or(|t| t == sp.type_name()))
        .filter(|sp| status_filter.as_deref().is_none_or(|t| t == sp.status()))
        .enumerate()
        .skip(start);
    let (spaces, next) = take_page(matching, limit);
    let results: Vec<Value> = spaces
        .iter()
        .map(|sp| s.links.space_v1(data, sp, with_description))
        .collect();
    let body = v1_array(
        &s,
        &q,
        "/rest/api/space",
        results,
        start,
        limit,
        next.is_some() || loops,
    );
    admitted.finish(axum::Json(body))
}

/// v1 `SpaceArray`/`ContentArray` envelope; `next` is relative to `base`.
fn v1_array(
    s: &SiteState,
    q: &Query,
    path: &str,
    results: Vec<Value>,
    start: usize,
    limit: usize,
    more: bool,
) -> Value {
    let size = results.len();
    let mut links = json!({
        "base": s.links.base(),
        "context": s.links.context,
        "self": format!("{}{path}", s.links.base())
    });
    if more {
        links["next"] = json!(q.with(path, "start", &(start + size).to_string()));
    }
    json!({ "results": results, "start": start, "limit": limit, "size": size, "_links": links })
}

async fn space_v1(
    State(s): St,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(key): Path<String>,
) -> Response {
    let admitted = match s.admit(PathKind::SpacesV1, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let with_description = Query::of(&uri)
        .get("expand")
        .is_some_and(|e| e.contains("description"));
    match s.data.space_by_key(&key).filter(|_| admitted.signed_in) {
        Some(sp) => {
            let body = s.links.space_v1(&s.data, &sp, with_description);
            admitted.finish(axum::Json(body))
        }
        None => error_json(
            StatusCode::NOT_FOUND,
            "No space with the given key, or you are not permitted to see it.",
        ),
    }
}

/// Pages of one space as a v1 `ContentArray`, or the error to answer.
fn space_pages_v1(
    s: &SiteState,
    admitted: &Admitted,
    q: &Query,
    key: &str,
    path: &str,
) -> Result<Value, Response> {
    let space = s
        .data
        .space_by_key(key)
        .filter(|_| admitted.signed_in)
        .ok_or_else(|| {
            error_json(
                StatusCode::NOT_FOUND,
                "No space with the given key, or you are not permitted to see it.",
            )
        })?;
    if let Some(r) = forbidden_space(admitted, key) {
        return Err(r);
    }
    let start = q.start()?;
    let limit = q.limit(admitted.faults.cap_limit)?;
    let expand = q.get("expand").unwrap_or_default();
    let pages = (start..s.data.pages_per_space)
        .filter_map(|j| s.data.page(space.index, j))
        .map(|p| (p.position, p));
    let (pages, next) = take_page(pages, limit);
    let results = pages
        .iter()
        .map(|p| s.links.content_v1(&s.data, p, expand))
        .collect();
    Ok(v1_array(s, q, path, results, start, limit, next.is_some()))
}

async fn space_content_v1(
    State(s): St,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(key): Path<String>,
) -> Response {
    let admitted = match s.admit(PathKind::SpaceContentV1, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = Query::of(&uri);
    let path = format!("/rest/api/space/{key}/content");
    match space_pages_v1(&s, &admitted, &q, &key, &format!("{path}/page")) {
        Ok(pages) => {
            let blogposts = v1_array(
                &s,
                &q,
                &format!("{path}/blogpost"),
                Vec::new(),
                0,
                DEFAULT_LIMIT,
                false,
            );
            let links = json!({ "base": s.links.base(), "context": s.links.context });
            admitted.finish(axum::Json(
                json!({ "page": pages, "blogpost": blogposts, "_links": links }),
            ))
        }
        Err(r) => r,
    }
}

async fn space_content_pages_v1(
    State(s): St,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(key): Path<String>,
) -> Response {
    let admitted = match s.admit(PathKind::SpaceContentV1, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = Query::of(&uri);
    match space_pages_v1(
        &s,
        &admitted,
        &q,
        &key,
        &format!("/rest/api/space/{key}/content/page"),
    ) {
        Ok(body) => admitted.finish(axum::Json(body)),
        Err(r) => r,
    }
}

async fn content_v1(State(s): St, headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let admitted = match s.admit(PathKind::ContentV1, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = Query::of(&uri);
    let is_page = q.get("type").is_none_or(|t| t == "page");
    if let Some(key) = q.get("spaceKey") {
        if !is_page || s.data.space_by_key(key).is_none() || !admitted.signed_in {
            let (start, limit) = (
                q.start().unwrap_or(0),
                q.limit(admitted.faults.cap_limit).unwrap_or(DEFAULT_LIMIT),
            );
            return admitted.finish(axum::Json(v1_array(
                &s,
                &q,
                "/rest/api/content",
                Vec::new(),
                start,
                limit,
                false,
            )));
        }
        return match space_pages_v1(&s, &admitted, &q, key, "/rest/api/content") {
            Ok(body) => admitted.finish(axum::Json(body)),
            Err(r) => r,
        };
    }
    let (start, limit) = match (q.start(), q.limit(admitted.faults.cap_limit)) {
        (Ok(s), Ok(l)) => (s, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let data = &s.data;
    let total = if admitted.signed_in && is_page {
        data.spaces * data.pages_per_space
    } else {
        0
    };
    let pages = (start..total)
        .filter_map(|g| data.page(g / data.pages_per_space, g % data.pages_per_space))
        .map(|p| (0, p));
    let (pages, next) = take_page(pages, limit);
    let expand = q.get("expand").unwrap_or_default();
    let results = pages
        .iter()
        .map(|p| s.links.content_v1(data, p, expand))
        .collect();
    admitted.finish(axum::Json(v1_array(
        &s,
        &q,
        "/rest/api/content",
        results,
        start,
        limit,
        next.is_some(),
    )))
}

async fn content_by_id_v1(
    State(s): St,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let (admitted, page) =
        match admit_visible_page(&s, PathKind::ContentV1, &headers, &uri, &id, "content").await {
            Ok(ap) => ap,
            Err(r) => return r,
        };
    let expand = Query::of(&uri)
        .get("expand")
        .unwrap_or_default()
        .to_string();
    let body = s.links.content_v1(&s.data, &page, &expand);
    admitted.finish(axum::Json(body))
}

/// `GET …/rest/api/content/{id}/child/attachment`: the demo's pages have no
/// attachments listed (exporters ask before downloading), an empty v1 list.
async fn page_attachments_v1(
    State(s): St,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let (admitted, _page) =
        match admit_visible_page(&s, PathKind::ContentV1, &headers, &uri, &id, "content").await {
            Ok(ap) => ap,
            Err(r) => return r,
        };
    admitted.finish(axum::Json(json!({
        "results": [],
        "start": 0,
        "limit": 25,
        "size": 0,
        "_links": { "base": s.links.base() },
    })))
}

/// v2 `MultiEntityResult` envelope, with `_links.next` (from the site root,
/// so beginning with `/wiki/api/v2/`) and the matching `Link` header.
fn v2_list(
    s: &SiteState,
    q: &Query,
    path: &str,
    results: Vec<Value>,
    next: Option<usize>,
) -> Response {
    let mut links = json!({ "base": s.links.base() });
    let next_url = next.map(|i| {
        q.with(
            &format!("{}{path}", s.links.context),
            "cursor",
            &encode_cursor(i),
        )
    });
    if let Some(n) = &next_url {
        links["next"] = json!(n);
    }
    let mut response = axum::Json(json!({ "results": results, "_links": links })).into_response();
    if let Some(v) =
        next_url.and_then(|n| HeaderValue::from_str(&format!("<{n}>; rel=\"next\"")).ok())
    {
        response.headers_mut().insert(header::LINK, v);
    }
    response
}

async fn spaces_v2(State(s): St, headers: HeaderMap, OriginalUri(uri): OriginalUri) -> Response {
    let admitted = match s.admit(PathKind::SpacesV2, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let q = Query::of(&uri);
    let (from, limit) = match (q.cursor(), q.limit(None)) {
        (Ok(c), Ok(l)) => (c, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let data = &s.data;
    let keys = q.list("keys");
    let ids = q.list("ids");
    let types = q.list("type");
    let statuses = q.list("status");
    let description_format = q.get("description-format");
    let total = if admitted.signed_in { data.spaces } else { 0 };
    let matching = (from..total)
        .filter_map(|i| data.space(i))
        .filter(|sp| keys.is_empty() || keys.contains(&sp.key))
        .filter(|sp| ids.is_empty() || ids.contains(&sp.id.to_string()))
        .filter(|sp| types.is_empty() || types.iter().any(|t| t == sp.type_name()))
        .filter(|sp| statuses.is_empty() || statuses.iter().any(|t| t == sp.status()))
        .map(|sp| (sp.index, sp));
    let (spaces, next) = take_page(matching, limit);
    // A looping site always links back to the first page.
    let next = if admitted.faults.paging_loops {
        Some(0)
    } else {
        next
    };
    let results = spaces
        .iter()
        .map(|sp| s.links.space_v2(data, sp, description_format))
        .collect();
    admitted.finish(v2_list(&s, &q, "/api/v2/spaces", results, next))
}

async fn space_pages_v2(
    State(s): St,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let admitted = match s.admit(PathKind::SpacePagesV2, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(space) = s.data.space_by_id(&id).filter(|_| admitted.signed_in) else {
        return error_json(
            StatusCode::NOT_FOUND,
            "No space with the given id, or you are not permitted to see it.",
        );
    };
    if let Some(r) = forbidden_space(&admitted, &space.key) {
        return r;
    }
    let q = Query::of(&uri);
    let (from, limit) = match (q.cursor(), q.limit(None)) {
        (Ok(c), Ok(l)) => (c, l),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let end = if q.get("depth") == Some("root") {
        1.min(s.data.pages_per_space)
    } else {
        s.data.pages_per_space
    };
    let storage = q.get("body-format") == Some("storage");
    let pages = (from..end)
        .filter_map(|j| s.data.page(space.index, j))
        .map(|p| (p.position, p));
    let (pages, next) = take_page(pages, limit);
    let results = pages
        .iter()
        .map(|p| s.links.page_v2(&s.data, p, storage))
        .collect();
    admitted.finish(v2_list(
        &s,
        &q,
        &format!("/api/v2/spaces/{id}/pages"),
        results,
        next,
    ))
}

async fn page_v2(
    State(s): St,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let (admitted, page) =
        match admit_visible_page(&s, PathKind::PageV2, &headers, &uri, &id, "page").await {
            Ok(ap) => ap,
            Err(r) => return r,
        };
    let storage = Query::of(&uri).get("body-format") == Some("storage");
    let mut body = s.links.page_v2(&s.data, &page, storage);
    body["_links"]["base"] = json!(s.links.base());
    admitted.finish(axum::Json(body))
}
