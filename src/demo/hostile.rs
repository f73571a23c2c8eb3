//! The `hostile_text` knob: a site whose names carry terminal control
//! sequences, to prove that no human output lets them reach a terminal.
//!
//! When the knob is on, every JSON answer is rewritten on its way out: each
//! string under a `name`, `title`, `displayName`, `publicName` or `message`
//! key (space names, page titles and ancestors, the user's display name,
//! error bodies) gets [`HOSTILE_SUFFIX`] appended. Keys, ids and links are
//! left alone, so the site still works.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::state::SiteState;

/// What `hostile_text` appends: clear screen, set the window title (OSC
/// ended by BEL), a bare BEL, an 8-bit CSI (U+009B) and a right-to-left
/// override (U+202E).
pub const HOSTILE_SUFFIX: &str = " \x1b[2J\x1b]0;pwned\x07\x07\u{9b}31m\u{202e}evil";

/// Keys whose string values are text a person reads.
const TEXT_KEYS: &[&str] = &["name", "title", "displayName", "publicName", "message"];

/// Larger answers are passed through untouched (the demo's are far smaller).
const MAX_REWRITTEN_BODY: usize = 8 * 1024 * 1024;

/// Middleware: rewrites JSON answers while the knob is on.
pub(crate) async fn rewrite(
    State(state): State<Arc<SiteState>>,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    if !state.faults().hostile_text {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_REWRITTEN_BODY).await else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    poison(&mut value);
    let text = value.to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

/// Appends the suffix to every text value under [`TEXT_KEYS`], at any depth.
fn poison(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                match child {
                    Value::String(s) if TEXT_KEYS.contains(&k.as_str()) => {
                        s.push_str(HOSTILE_SUFFIX)
                    }
                    _ => poison(child),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(poison),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_text_keys_are_poisoned() {
        let mut v = serde_json::json!({
            "results": [{"key": "AN0", "name": "Analytics", "_links": {"webui": "/x"}}],
            "displayName": "Demo User",
            "message": "No space",
            "size": 1
        });
        poison(&mut v);
        assert_eq!(v["results"][0]["key"], "AN0");
        assert_eq!(v["results"][0]["_links"]["webui"], "/x");
        assert_eq!(
            v["results"][0]["name"],
            format!("Analytics{HOSTILE_SUFFIX}")
        );
        assert_eq!(v["displayName"], format!("Demo User{HOSTILE_SUFFIX}"));
        assert_eq!(v["message"], format!("No space{HOSTILE_SUFFIX}"));
        assert_eq!(v["size"], 1);
    }
}
