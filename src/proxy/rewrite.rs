//! Links in the site's answers pointed back at the proxy, so a client that
//! follows them (a redirect, v1 paging from `_links.base` + `_links.next`)
//! stays on the proxy and keeps its credentials out of the picture.
//!
//! The proxy maps paths one to one (`/wiki/rest/api/space` on the proxy is
//! `/wiki/rest/api/space` on the site), so rewriting a URL swaps its origin:
//! an absolute URL on the site's origin and under its context path gets the
//! proxy's origin; relative URLs, other origins and paths outside the
//! context are left as they are.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use url::{Position, Url};

/// Largest JSON body read into memory to rewrite; a larger one is streamed
/// unmodified.
pub(super) const MAX_REWRITTEN_JSON: usize = 32 * 1024 * 1024;

/// How the site's URLs become the proxy's.
#[derive(Clone, Debug)]
pub(super) struct Rebase {
    site: Url,
    /// The site's context path without a trailing slash (`/wiki`, or empty).
    context: String,
    /// `http://127.0.0.1:PORT`.
    proxy_origin: String,
}

impl Rebase {
    /// Rebases URLs of the site at `site` (its API base) onto `proxy_base`.
    pub(super) fn new(site: &Url, proxy_base: &Url) -> Rebase {
        Rebase {
            site: site.clone(),
            context: site.path().trim_end_matches('/').to_string(),
            proxy_origin: proxy_base.origin().ascii_serialization(),
        }
    }

    /// `text` rebased onto the proxy when it is an absolute URL of the site
    /// (its origin, under its context path); `None` otherwise.
    pub(super) fn url(&self, text: &str) -> Option<String> {
        let trimmed = text.trim();
        if !trimmed.get(..4)?.eq_ignore_ascii_case("http") {
            return None;
        }
        let u = Url::parse(trimmed).ok()?;
        if !crate::site::same_origin(&u, &self.site) || !self.under_context(u.path()) {
            return None;
        }
        Some(format!(
            "{}{}",
            self.proxy_origin,
            &u[Position::BeforePath..]
        ))
    }

    fn under_context(&self, path: &str) -> bool {
        self.context.is_empty()
            || path == self.context
            || path
                .strip_prefix(self.context.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// A `Link` header with every `<URL>` of the site rebased; `None` when
    /// nothing changed.
    pub(super) fn link_header(&self, value: &str) -> Option<String> {
        let mut out = String::with_capacity(value.len());
        let mut rest = value;
        let mut changed = false;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>').map(|c| open + c) else {
                break;
            };
            out.push_str(&rest[..=open]);
            let inner = &rest[open + 1..close];
            match self.url(inner) {
                Some(new) => {
                    out.push_str(&new);
                    changed = true;
                }
                None => out.push_str(inner),
            }
            rest = &rest[close..];
        }
        out.push_str(rest);
        changed.then_some(out)
    }

    /// A JSON body with the site's absolute URLs under every `_links`
    /// object rebased (`base`, `self`, `next`, …); `None` when the body is
    /// not JSON or holds nothing to rebase (send it as it came). Only those
    /// strings change: every other byte (order, spacing, escapes) is kept.
    pub(super) fn json(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut links = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(body);
        Walk { links: &mut links }.deserialize(&mut de).ok()?;
        de.end().ok()?;
        let start = body.as_ptr() as usize;
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        for raw in links {
            let Ok(text) = serde_json::from_str::<String>(raw.get()) else {
                continue;
            };
            let Some(new) = self.url(&text) else { continue };
            let Ok(new) = serde_json::to_vec(&new) else {
                continue;
            };
            // The token borrows from `body`: its place in it.
            let at = raw.get().as_ptr() as usize - start;
            let out = out.get_or_insert_with(|| Vec::with_capacity(body.len() + 64));
            out.extend_from_slice(&body[copied..at]);
            out.extend_from_slice(&new);
            copied = at + raw.get().len();
        }
        let mut out = out?;
        out.extend_from_slice(&body[copied..]);
        Some(out)
    }
}

/// Walks a JSON document without building it, collecting the string tokens
/// directly under every `_links` object, in document order.
struct Walk<'de, 'a> {
    links: &'a mut Vec<&'de RawValue>,
}

impl<'de> DeserializeSeed<'de> for Walk<'de, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Walk {
                links: &mut *self.links,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(is_links) = map.next_key_seed(IsLinks)? {
            if !is_links {
                map.next_value_seed(Walk {
                    links: &mut *self.links,
                })?;
                continue;
            }
            let value: &'de RawValue = map.next_value()?;
            collect_links(value, self.links).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// The value of a `_links` key: its string members are links; everything
/// in it is walked too (a `_links` may hold objects with their own).
fn collect_links<'de>(
    value: &'de RawValue,
    links: &mut Vec<&'de RawValue>,
) -> Result<(), serde_json::Error> {
    let Ok(ObjectMembers(members)) = serde_json::from_str::<ObjectMembers<'de>>(value.get()) else {
        // Not an object: walked like any other value.
        let mut de = serde_json::Deserializer::from_str(value.get());
        return Walk { links }.deserialize(&mut de);
    };
    for (_, member) in members {
        if member.get().starts_with('"') {
            links.push(member);
        } else {
            let mut de = serde_json::Deserializer::from_str(member.get());
            Walk { links: &mut *links }.deserialize(&mut de)?;
        }
    }
    Ok(())
}

/// An object's members in order, each value unparsed.
struct ObjectMembers<'de>(Vec<(IgnoredAny, &'de RawValue)>);

impl<'de> Deserialize<'de> for ObjectMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = ObjectMembers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<IgnoredAny>()? {
                    out.push((k, map.next_value::<&'de RawValue>()?));
                }
                Ok(ObjectMembers(out))
            }
        }
        d.deserialize_map(Members)
    }
}

/// Reads an object key: whether it is `_links` (after unescaping).
struct IsLinks;

impl<'de> DeserializeSeed<'de> for IsLinks {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for IsLinks {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, key: &str) -> Result<bool, E> {
        Ok(key == "_links")
    }
}

/// Whether a `Content-Type` is JSON (`application/json`, `…+json`).
pub(super) fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rebase() -> Rebase {
        Rebase::new(
            &Url::parse("https://x.atlassian.net/wiki").unwrap(),
            &Url::parse("http://127.0.0.1:4321/wiki").unwrap(),
        )
    }

    #[test]
    fn site_urls_under_the_context_get_the_proxy_origin() {
        let r = rebase();
        assert_eq!(
            r.url("https://x.atlassian.net/wiki").as_deref(),
            Some("http://127.0.0.1:4321/wiki")
        );
        assert_eq!(
            r.url("https://X.Atlassian.NET:443/wiki/rest/api/space?start=25&limit=25#x")
                .as_deref(),
            Some("http://127.0.0.1:4321/wiki/rest/api/space?start=25&limit=25#x")
        );
    }

    #[test]
    fn other_origins_relative_urls_and_other_paths_are_left_alone() {
        let r = rebase();
        for keep in [
            "/wiki/rest/api/space?start=25",
            "rest/api/space",
            "https://evil.example.com/wiki/rest/api/space",
            "http://x.atlassian.net/wiki/rest/api/space",
            "https://x.atlassian.net:8443/wiki",
            "https://x.atlassian.net/wikipedia",
            "https://x.atlassian.net/login",
            "https://api.media.atlassian.com/file/1/binary?token=t",
            "",
            "h",
            "not a url",
        ] {
            assert_eq!(r.url(keep), None, "{keep}");
        }
    }

    #[test]
    fn a_site_at_the_root_rebases_every_path() {
        let r = Rebase::new(
            &Url::parse("https://c.example.com").unwrap(),
            &Url::parse("http://127.0.0.1:9").unwrap(),
        );
        assert_eq!(
            r.url("https://c.example.com/rest/api/space").as_deref(),
            Some("http://127.0.0.1:9/rest/api/space")
        );
    }

    #[test]
    fn links_in_json_bodies_are_rebased_at_any_depth_and_nothing_else() {
        let r = rebase();
        let body = json!({
            "results": [{
                "id": "1",
                "body": {"storage": {"value": "https://x.atlassian.net/wiki/spaces/A"}},
                "_links": {"webui": "/spaces/A", "self": "https://x.atlassian.net/wiki/rest/api/content/1"}
            }],
            "_links": {
                "base": "https://x.atlassian.net/wiki",
                "context": "/wiki",
                "next": "/rest/api/space?start=25",
                "self": "https://x.atlassian.net/wiki/rest/api/space",
                "size": 3
            }
        });
        let out = r.json(body.to_string().as_bytes()).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["_links"]["base"], "http://127.0.0.1:4321/wiki");
        assert_eq!(
            v["_links"]["self"],
            "http://127.0.0.1:4321/wiki/rest/api/space"
        );
        assert_eq!(v["_links"]["next"], "/rest/api/space?start=25");
        assert_eq!(v["_links"]["context"], "/wiki");
        assert_eq!(v["_links"]["size"], 3);
        assert_eq!(
            v["results"][0]["_links"]["self"],
            "http://127.0.0.1:4321/wiki/rest/api/content/1"
        );
        assert_eq!(v["results"][0]["_links"]["webui"], "/spaces/A");
        assert_eq!(
            v["results"][0]["body"]["storage"]["value"], "https://x.atlassian.net/wiki/spaces/A",
            "page content is not a link to rewrite"
        );
    }

    #[test]
    fn only_the_links_change_every_other_byte_is_kept() {
        let r = rebase();
        let body = concat!(
            "{ \"zeta\": \"caf\\u00e9\",\n  \"alpha\": [1, 2.50, true, null],\n",
            "  \"_l\\u0069nks\": {\"self\": \"https:\\/\\/x.atlassian.net\\/wiki\\/rest\\/api\\/space\"},\n",
            "  \"_links\": {\"base\": \"https://x.atlassian.net/wiki\", \"nested\": {\"_links\": ",
            "{\"self\": \"https://x.atlassian.net/wiki/x\"}}} }"
        );
        let out = String::from_utf8(r.json(body.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            out,
            concat!(
                "{ \"zeta\": \"caf\\u00e9\",\n  \"alpha\": [1, 2.50, true, null],\n",
                "  \"_l\\u0069nks\": {\"self\": \"http://127.0.0.1:4321/wiki/rest/api/space\"},\n",
                "  \"_links\": {\"base\": \"http://127.0.0.1:4321/wiki\", \"nested\": {\"_links\": ",
                "{\"self\": \"http://127.0.0.1:4321/wiki/x\"}}} }"
            )
        );
    }

    #[test]
    fn malformed_json_is_sent_as_it_came() {
        let r = rebase();
        for bad in [
            &br#"{"_links":{"base":"https://x.atlassian.net/wiki"}} trailing"#[..],
            br#"{"_links":{"base":"https://x.atlassian.net/wiki"}"#,
            br#"{"_links":{"base":"https://x.atlassian.net/wiki",}}"#,
        ] {
            assert_eq!(r.json(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn bodies_with_nothing_to_rebase_or_not_json_are_sent_as_they_came() {
        let r = rebase();
        assert_eq!(r.json(br#"{"results":[],"_links":{"next":"/x"}}"#), None);
        assert_eq!(r.json(b"<html>"), None);
        assert_eq!(r.json(b""), None);
    }

    #[test]
    fn link_headers_are_rebased() {
        let r = rebase();
        assert_eq!(
            r.link_header(r#"<https://x.atlassian.net/wiki/api/v2/spaces?cursor=a>; rel="next""#)
                .as_deref(),
            Some(r#"<http://127.0.0.1:4321/wiki/api/v2/spaces?cursor=a>; rel="next""#)
        );
        assert_eq!(
            r.link_header(r#"</wiki/api/v2/spaces?cursor=a>; rel="next""#),
            None
        );
        assert_eq!(r.link_header("<unclosed"), None);
    }

    #[test]
    fn json_content_types_are_recognised() {
        for ct in [
            "application/json",
            "application/json;charset=UTF-8",
            "Application/JSON",
            "application/vnd.api+json",
        ] {
            assert!(is_json(ct), "{ct}");
        }
        for ct in ["text/html", "application/octet-stream", "text/json-ish", ""] {
            assert!(!is_json(ct), "{ct}");
        }
    }
}
