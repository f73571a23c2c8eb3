//! The two ways Confluence pages through lists: v2 cursors (`_links.next`,
//! absent on the last page, already starting with the context path) and v1
//! `start`/`limit` (servers may cap `limit` silently, so the next `start` is
//! computed from what actually came back); and the loop that follows them,
//! page by page, refusing a site whose paging goes round in circles.

use std::collections::HashSet;
use std::ops::ControlFlow;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::classify::Outcome;
use super::client::Client;
use super::error::ClientError;
use super::model::WireLinks;

/// Most pages one listing follows; a site handing out more is looping.
pub(crate) const MAX_PAGES: usize = 100_000;

/// One page of a list, decoded.
#[derive(Debug)]
pub(crate) struct ListPage<T> {
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
    /// A `next` link or cursor that was already followed, or more than
    /// `MAX_PAGES` pages.
    #[error("the site's paging loops ({0})")]
    Loops(&'static str),
}

/// Decodes a v2 page; `next` is joined to the site's origin and must stay on
/// the same host.
pub(crate) fn decode_v2<T: DeserializeOwned>(
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
pub(crate) fn decode_v1<T: DeserializeOwned>(
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

impl Client {
    /// Follows v2 cursors from `v2_first` (falling back to v1 when the site
    /// has no v2), or v1 start/limit from `v1_first`, handing each page's
    /// items to `on_page` as it arrives; stops after `max` items or when
    /// `on_page` breaks. Returns how many items were delivered.
    pub(super) async fn stream<W: DeserializeOwned, T>(
        &self,
        v2_first: Option<Url>,
        v1_first: Url,
        max: Option<usize>,
        convert: impl Fn(W) -> T,
        on_page: &mut impl FnMut(Vec<T>) -> ControlFlow<()>,
    ) -> Result<usize, ClientError> {
        // `--limit 0` wants nothing; asking the site for one item would be waste.
        if max == Some(0) {
            return Ok(0);
        }
        let (mut next, mut v2) = match v2_first {
            Some(u) => (Some(u), true),
            None => (Some(v1_first.clone()), false),
        };
        let mut delivered = 0usize;
        let mut followed: HashSet<Url> = HashSet::new();
        while let Some(url) = next.take() {
            // A site that hands back a link it already gave would loop forever.
            if !followed.insert(url.clone()) {
                return Err(loops(&url, "a page came round again"));
            }
            if followed.len() > MAX_PAGES {
                return Err(loops(&url, "more than 100,000 pages"));
            }
            let body = match self.get(&url, false).await {
                Ok(b) => b,
                Err(ClientError::Refused {
                    outcome: Outcome::NotFound { .. },
                    ..
                }) if v2 && delivered == 0 => {
                    tracing::info!("no v2 API on this site; using v1");
                    v2 = false;
                    next = Some(v1_first.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            let page: ListPage<W> = if v2 {
                decode_v2(&body, &url)
            } else {
                decode_v1(&body, &url)
            }
            .map_err(|e| decode_error(&url, e))?;
            drop(body);
            let mut items: Vec<T> = page.results.into_iter().map(&convert).collect();
            if let Some(m) = max {
                items.truncate(m.saturating_sub(delivered));
            }
            delivered += items.len();
            let done = max.is_some_and(|m| delivered >= m);
            if !items.is_empty() && on_page(items).is_break() {
                break;
            }
            if done {
                break;
            }
            next = page.next;
        }
        Ok(delivered)
    }
}

/// A list page that could not be read, naming where it came from.
pub(super) fn decode_error(url: &Url, source: PagingError) -> ClientError {
    ClientError::Decode {
        path: url.path().to_string(),
        source,
    }
}

fn loops(url: &Url, why: &'static str) -> ClientError {
    decode_error(url, PagingError::Loops(why))
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
