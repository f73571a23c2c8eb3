//! What the rest of the code sees of Confluence: users, spaces, pages. The
//! wire shapes (v1 and v2) are read leniently and turned into these.

use serde::{Deserialize, Serialize};
use url::Url;

/// The signed-in account (or the anonymous one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct User {
    /// `known`, `anonymous`, `user`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub display_name: String,
    /// Cloud account id or Server user name / key.
    pub id: Option<String>,
    pub email: Option<String>,
}

/// A space, as `spaces --json` prints it (`{id,key,name,type,status,url}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Space {
    pub id: String,
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub url: String,
    #[serde(skip)]
    pub description: Option<String>,
    #[serde(skip)]
    pub homepage_id: Option<String>,
}

/// A page, as `pages --json` prints it (`{id,title,parent_id,version,updated_at,url}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Page {
    pub id: String,
    pub title: String,
    pub parent_id: Option<String>,
    pub version: Option<u64>,
    pub updated_at: Option<String>,
    pub url: String,
}

// ---- wire shapes -------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireLinks {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub webui: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum WireId {
    Text(String),
    Number(u64),
}

impl WireId {
    fn into_string(self) -> String {
        match self {
            WireId::Text(s) => s,
            WireId::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireUser {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub user_key: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub public_name: Option<String>,
}

impl From<WireUser> for User {
    fn from(w: WireUser) -> User {
        let id = w.account_id.or(w.username.clone()).or(w.user_key);
        User {
            kind: w.kind.unwrap_or_else(|| "known".into()),
            display_name: w
                .display_name
                .or(w.public_name)
                .or(w.username)
                .unwrap_or_else(|| "(unnamed)".into()),
            id,
            email: w.email,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireDescriptionBody {
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireDescription {
    #[serde(default)]
    pub plain: Option<WireDescriptionBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireSpace {
    pub id: WireId,
    pub key: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub homepage_id: Option<String>,
    #[serde(default)]
    pub description: Option<WireDescription>,
    #[serde(default, rename = "_links")]
    pub links: WireLinks,
}

impl WireSpace {
    /// `web_base` is the site base with its context path (`…/wiki` on Cloud).
    pub(crate) fn into_space(self, web_base: &Url) -> Space {
        let url = web_url(
            web_base,
            self.links.webui.as_deref(),
            &format!("/spaces/{}", self.key),
        );
        Space {
            id: self.id.into_string(),
            name: self.name.unwrap_or_else(|| self.key.clone()),
            key: self.key,
            kind: self.kind.unwrap_or_else(|| "global".into()),
            status: self.status.unwrap_or_else(|| "current".into()),
            url,
            description: self
                .description
                .and_then(|d| d.plain)
                .and_then(|p| p.value)
                .filter(|v| !v.is_empty()),
            homepage_id: self.homepage_id,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireVersion {
    #[serde(default)]
    pub number: Option<u64>,
    /// v2
    #[serde(default)]
    pub created_at: Option<String>,
    /// v1
    #[serde(default)]
    pub when: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireAncestor {
    pub id: WireId,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WirePage {
    pub id: WireId,
    #[serde(default)]
    pub title: Option<String>,
    /// v2
    #[serde(default)]
    pub parent_id: Option<String>,
    /// v1 (with `expand=ancestors`)
    #[serde(default)]
    pub ancestors: Option<Vec<WireAncestor>>,
    #[serde(default)]
    pub version: Option<WireVersion>,
    #[serde(default, rename = "_links")]
    pub links: WireLinks,
}

impl WirePage {
    pub(crate) fn into_page(self, web_base: &Url) -> Page {
        let id = self.id.into_string();
        let parent_id = self.parent_id.or_else(|| {
            self.ancestors
                .and_then(|a| a.into_iter().last())
                .map(|a| a.id.into_string())
        });
        let (version, updated_at) = match self.version {
            Some(v) => (v.number, v.created_at.or(v.when)),
            None => (None, None),
        };
        let url = web_url(
            web_base,
            self.links.webui.as_deref(),
            &format!("/pages/viewpage.action?pageId={id}"),
        );
        Page {
            title: self.title.unwrap_or_default(),
            id,
            parent_id,
            version,
            updated_at,
            url,
        }
    }
}

/// Joins a `_links.webui` (relative to the site base, context path included)
/// to the base; falls back to a known path when the server sent none.
fn web_url(web_base: &Url, webui: Option<&str>, fallback: &str) -> String {
    let rel = webui.unwrap_or(fallback);
    if rel.starts_with("http://") || rel.starts_with("https://") {
        return rel.to_string();
    }
    format!(
        "{}{}",
        web_base.as_str().trim_end_matches('/'),
        if rel.starts_with('/') {
            rel.to_string()
        } else {
            format!("/{rel}")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_spaces_become_the_same_shape() {
        let base = Url::parse("https://x.atlassian.net/wiki").unwrap();
        let v2: WireSpace = serde_json::from_str(
            r#"{"id":"98306","key":"ENG","name":"Engineering","type":"global","status":"current","homepageId":"5","description":{"plain":{"value":"Docs","representation":"plain"}},"_links":{"webui":"/spaces/ENG"}}"#,
        )
        .unwrap();
        let v1: WireSpace = serde_json::from_str(r#"{"id":98306,"key":"ENG","name":"Engineering","type":"global","status":"current","_links":{"webui":"/spaces/ENG","self":"x"}}"#).unwrap();
        let (a, b) = (v2.into_space(&base), v1.into_space(&base));
        assert_eq!(a.id, b.id);
        assert_eq!(a.url, "https://x.atlassian.net/wiki/spaces/ENG");
        assert_eq!(a.url, b.url);
        assert_eq!(a.description.as_deref(), Some("Docs"));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"id":"98306","key":"ENG","name":"Engineering","type":"global","status":"current","url":"https://x.atlassian.net/wiki/spaces/ENG"}"#
        );
    }

    #[test]
    fn v1_page_parent_comes_from_ancestors() {
        let base = Url::parse("https://c.example.com/confluence").unwrap();
        let p: WirePage = serde_json::from_str(
            r#"{"id":"42","type":"page","title":"T","ancestors":[{"id":"1"},{"id":"7"}],"version":{"number":3,"when":"2024-01-01T00:00:00.000Z"},"_links":{"webui":"/display/ENG/T"}}"#,
        )
        .unwrap();
        let p = p.into_page(&base);
        assert_eq!(p.parent_id.as_deref(), Some("7"));
        assert_eq!(p.version, Some(3));
        assert_eq!(p.url, "https://c.example.com/confluence/display/ENG/T");
    }
}
