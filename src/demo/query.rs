//! The query parameters of the demo's list endpoints, read the way
//! Confluence reads them (limits clamped silently, `start` for v1, opaque
//! cursors for v2), and cutting one page out of a list.

// Readers bail out with the finished error `Response`; it is built once per
// failed request, so boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::state::error_json;

/// Default page size of both APIs.
pub(super) const DEFAULT_LIMIT: usize = 25;
/// Largest page size either API hands out.
const MAX_LIMIT: usize = 250;
/// Mixed into cursors so clients treat them as opaque, not as indexes.
const CURSOR_MASK: u64 = 0x5DEE_CE66_D1CE;

/// Query parameters in order; repeated names kept.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn of(uri: &Uri) -> Query {
        Query(
            url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a list parameter, repeated or comma separated.
    pub(super) fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// `path?query` with `name` set to `value`, for `_links.next`.
    pub(super) fn with(&self, path: &str, name: &str, value: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.0.iter().filter(|(k, _)| k != name) {
            s.append_pair(k, v);
        }
        s.append_pair(name, value);
        format!("{path}?{}", s.finish())
    }

    pub(super) fn limit(&self, cap: Option<usize>) -> Result<usize, Response> {
        let asked = match self.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad_request("limit must be a positive whole number"))?,
        };
        // Both APIs clamp silently rather than refusing; Server/DC clamps lower.
        Ok(asked.min(MAX_LIMIT).min(cap.unwrap_or(usize::MAX)))
    }

    pub(super) fn start(&self) -> Result<usize, Response> {
        self.get("start")
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| bad_request("start must be a whole number"))
            })
            .transpose()
            .map(|s| s.unwrap_or(0))
    }

    pub(super) fn cursor(&self) -> Result<usize, Response> {
        match self.get("cursor") {
            None => Ok(0),
            Some(c) => u64::from_str_radix(c, 16)
                .ok()
                .and_then(|n| usize::try_from(n ^ CURSOR_MASK).ok())
                .ok_or_else(|| bad_request("cursor is not one this site handed out")),
        }
    }
}

pub(super) fn encode_cursor(index: usize) -> String {
    format!("{:x}", index as u64 ^ CURSOR_MASK)
}

fn bad_request(message: &str) -> Response {
    error_json(StatusCode::BAD_REQUEST, message)
}

/// Up to `limit` items from `items`, and the index of the next one if any.
pub(super) fn take_page<T>(
    mut items: impl Iterator<Item = (usize, T)>,
    limit: usize,
) -> (Vec<T>, Option<usize>) {
    let taken: Vec<T> = items.by_ref().take(limit).map(|(_, t)| t).collect();
    (taken, items.next().map(|(i, _)| i))
}
