//! The two ways Confluence pages through lists: v2 cursors (`_links.next`,
//! absent on the last page, already starting with the context path) and v1
//! `start`/`limit` (servers may cap `limit` silently, so the next `start` is
//! computed from what actually came back).

use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::model::WireLinks;

/// One page of a list, decoded.
#[derive(Debug)]
pub struct ListPage<T> {
    pub results: Vec<T>,
    /// Where the next page is, or `None` on the last page.
    pub next: Option<Url>,
}

#[derive(Deserialize)]
struct V2Body<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    #[serde(default, rename = "_links")]
    links: WireLinks,
}

#[derive(Deserialize)]
struct V1Body<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    #[serde(default)]
    start: Option<u64>,
    #[serde(default, rename = "_links")]
    links: WireLinks,
}

/// Why a list page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PagingError {
    #[error("the list page is not the JSON Confluence sends: {0}")]
    Body(#[from] serde_json::Error),
    #[error("the next-page link {0:?} is not a URL on this site")]
    BadNext(String),
}

/// Decodes a v2 page; `next` is joined to the site's origin and must stay on
/// the same host.
pub fn decode_v2<T: DeserializeOwned>(
    body: &[u8],
    request_url: &Url,
) -> Result<ListPage<T>, PagingError> {
    let b: V2Body<T> = serde_json::from_slice(body)?;
    let next = match b.links.next {
        None => None,
        Some(n) if n.is_empty() => None,
        Some(n) => Some(join_same_origin(request_url, &n)?),
    };
    Ok(ListPage {
        results: b.results,
        next,
    })
}

/// Decodes a v1 page. The next request asks for `start + results.len()`;
/// the list ends when the server gives no `next` link or no results.
pub fn decode_v1<T: DeserializeOwned>(
    body: &[u8],
    request_url: &Url,
) -> Result<ListPage<T>, PagingError> {
    let b: V1Body<T> = serde_json::from_slice(body)?;
    let asked_start = request_url
        .query_pairs()
        .find(|(k, _)| k == "start")
        .and_then(|(_, v)| v.parse::<u64>().ok())
        .unwrap_or(0);
    let start = b.start.unwrap_or(asked_start);
    let next = if b.results.is_empty() || b.links.next.is_none() {
        None
    } else {
        let mut u = request_url.clone();
        let kept: Vec<(String, String)> = request_url
            .query_pairs()
            .filter(|(k, _)| k != "start")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        {
            let mut q = u.query_pairs_mut();
            q.clear();
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            q.append_pair("start", &(start + b.results.len() as u64).to_string());
        }
        Some(u)
    };
    Ok(ListPage {
        results: b.results,
        next,
    })
}

/// Joins a server-given relative link to the request's origin, refusing
/// anything that would leave the site.
fn join_same_origin(request_url: &Url, link: &str) -> Result<Url, PagingError> {
    let joined = if link.starts_with('/') {
        let mut origin = request_url.clone();
        origin.set_query(None);
        origin.set_path("");
        origin.join(link)
    } else {
        request_url.join(link)
    }
    .map_err(|_| PagingError::BadNext(link.to_string()))?;
    if joined.origin() != request_url.origin() {
        return Err(PagingError::BadNext(link.to_string()));
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn v2_next_joins_to_the_origin_and_ends_when_absent() {
        let req = Url::parse("https://x.atlassian.net/wiki/api/v2/spaces?limit=250").unwrap();
        let p: ListPage<Value> = decode_v2(br#"{"results":[{}],"_links":{"next":"/wiki/api/v2/spaces?cursor=abc&limit=250","base":"https://x.atlassian.net/wiki"}}"#, &req).unwrap();
        assert_eq!(
            p.next.unwrap().as_str(),
            "https://x.atlassian.net/wiki/api/v2/spaces?cursor=abc&limit=250"
        );
        let last: ListPage<Value> = decode_v2(br#"{"results":[],"_links":{}}"#, &req).unwrap();
        assert!(last.next.is_none());
    }

    #[test]
    fn v2_next_to_another_host_is_refused() {
        let req = Url::parse("https://x.atlassian.net/wiki/api/v2/spaces").unwrap();
        let r: Result<ListPage<Value>, _> = decode_v2(
            br#"{"results":[],"_links":{"next":"https://evil.example.com/wiki/api/v2/spaces"}}"#,
            &req,
        );
        assert!(matches!(r, Err(PagingError::BadNext(_))));
    }

    #[test]
    fn v1_next_start_counts_what_came_back_when_the_server_caps_limit() {
        let req = Url::parse("https://c.example.com/rest/api/space?limit=250&start=0").unwrap();
        let body = serde_json::json!({"results": vec![serde_json::json!({}); 100], "start": 0, "limit": 100, "size": 100, "_links": {"next": "/rest/api/space?limit=100&start=100"}});
        let p: ListPage<Value> = decode_v1(body.to_string().as_bytes(), &req).unwrap();
        assert_eq!(
            p.next.unwrap().as_str(),
            "https://c.example.com/rest/api/space?limit=250&start=100"
        );
        let body = serde_json::json!({"results": vec![serde_json::json!({}); 3], "start": 100, "_links": {}});
        let p: ListPage<Value> = decode_v1(body.to_string().as_bytes(), &req).unwrap();
        assert!(p.next.is_none());
    }
}
