//! Endpoints beyond the listings: an attachment download of any size,
//! generated on the fly (never held in memory); a page creation that
//! applies Confluence's XSRF check to cookie sessions; and a tiny link that
//! redirects to the page with an absolute URL on the site.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::state::{PathKind, SiteState, error_json};

/// What a download streams, chunk after chunk.
static CHUNK: [u8; 64 * 1024] = [b'c'; 64 * 1024];

/// The id the demo gives every page it "creates".
pub(crate) const CREATED_PAGE_ID: &str = "90000001";

/// `GET …/download/attachments/{page_id}/{name}`: `attachment_bytes`
/// bytes of `c`, streamed.
pub(crate) async fn download_attachment(
    State(s): State<Arc<SiteState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path((_page_id, _name)): Path<(String, String)>,
) -> Response {
    let admitted = match s.admit(PathKind::Download, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !admitted.signed_in {
        return error_json(
            StatusCode::NOT_FOUND,
            "No such attachment, or you are not permitted to see it.",
        );
    }
    let size = admitted.faults.attachment_bytes;
    let chunks = futures::stream::unfold(size, |left| async move {
        if left == 0 {
            return None;
        }
        let n = usize::try_from(left)
            .unwrap_or(CHUNK.len())
            .min(CHUNK.len());
        Some((
            Ok::<_, Infallible>(Bytes::from_static(&CHUNK[..n])),
            left - n as u64,
        ))
    });
    let mut response = Body::from_stream(chunks).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    admitted.finish(response)
}

/// `POST …/rest/api/content`: "creates" a page and echoes its title. A
/// cookie session must send `X-Atlassian-Token: no-check`, as on a real
/// site, or the write is refused with 403 "XSRF check failed".
pub(crate) async fn create_content_v1(
    State(s): State<Arc<SiteState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let admitted = match s.admit(PathKind::ContentV1, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !admitted.signed_in {
        return error_json(
            StatusCode::FORBIDDEN,
            "Anonymous users cannot create content.",
        );
    }
    let by_cookie = !headers.contains_key(header::AUTHORIZATION);
    let opted_out = headers
        .get("x-atlassian-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("no-check") || v.eq_ignore_ascii_case("nocheck"));
    if by_cookie && !opted_out {
        return error_json(StatusCode::FORBIDDEN, "XSRF check failed");
    }
    let title = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("title").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "Untitled".to_string());
    let base = s.links.base();
    admitted.finish(axum::Json(json!({
        "id": CREATED_PAGE_ID,
        "type": "page",
        "status": "current",
        "title": title,
        "_links": {
            "base": base,
            "context": s.links.context,
            "self": format!("{base}/rest/api/content/{CREATED_PAGE_ID}")
        }
    })))
}

/// `GET …/x/{tiny}`: a tiny link, answered 302 with an absolute `Location`
/// on the site (the first page of the first space).
pub(crate) async fn tiny_link(
    State(s): State<Arc<SiteState>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    Path(_tiny): Path<String>,
) -> Response {
    let admitted = match s.admit(PathKind::Other, &headers, &uri).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(page) = s.data.page(0, 0).filter(|_| admitted.signed_in) else {
        return error_json(
            StatusCode::NOT_FOUND,
            "No such page, or you are not permitted to see it.",
        );
    };
    let location = format!(
        "{}/pages/viewpage.action?pageId={}",
        s.links.base(),
        page.id
    );
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    admitted.finish(response)
}
