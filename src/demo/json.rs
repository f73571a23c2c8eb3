//! JSON bodies shaped like the official Confluence specs (v2 `SpaceBulk`,
//! `PageBulk`/`PageSingle`; v1 `Space`, `Content`, `User`), built on demand.

use serde_json::{Value, json};

use super::DemoFlavor;
use super::data::{DEMO_ACCOUNT_ID, DEMO_DISPLAY_NAME, DemoData, PageInfo, SpaceInfo};
use super::session::DEMO_EMAIL;

/// The demo user's Server/DC user name.
pub(crate) const DEMO_SERVER_USERNAME: &str = "demo";
/// The demo user's Server/DC user key.
pub(crate) const DEMO_SERVER_USER_KEY: &str = "ff8080817b0d0a6d017b0d0c2c510000";

/// Where the site lives, for `_links`: origin plus context path.
#[derive(Debug, Clone)]
pub(crate) struct SiteLinks {
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// `/wiki` on Cloud, empty on Server/DC.
    pub context: &'static str,
    pub flavor: DemoFlavor,
}

impl SiteLinks {
    /// The site base URL (`_links.base`).
    pub fn base(&self) -> String {
        format!("{}{}", self.origin, self.context)
    }

    fn profile_picture(&self) -> Value {
        json!({
            "path": format!("{}/images/icons/profilepics/default.svg", self.context),
            "width": 48,
            "height": 48,
            "isDefault": true
        })
    }

    /// v1 `User` for the signed-in demo user.
    pub(crate) fn user_known(&self) -> Value {
        let mut user = json!({
            "type": "known",
            "displayName": DEMO_DISPLAY_NAME,
            "email": DEMO_EMAIL,
            "profilePicture": self.profile_picture(),
            "isExternalCollaborator": false,
            "_expandable": { "operations": "", "personalSpace": "" },
            "_links": {
                "self": format!("{}/rest/api/user/current", self.base()),
                "base": self.base(),
                "context": self.context
            }
        });
        match self.flavor {
            DemoFlavor::Cloud => {
                user["accountId"] = json!(DEMO_ACCOUNT_ID);
                user["accountType"] = json!("atlassian");
                user["publicName"] = json!(DEMO_DISPLAY_NAME);
            }
            DemoFlavor::Server => {
                user["username"] = json!(DEMO_SERVER_USERNAME);
                user["userKey"] = json!(DEMO_SERVER_USER_KEY);
            }
        }
        user
    }

    /// v1 `User` for a request that is not signed in.
    pub(crate) fn user_anonymous(&self) -> Value {
        json!({
            "type": "anonymous",
            "displayName": "Anonymous",
            "profilePicture": self.profile_picture(),
            "isExternalCollaborator": false,
            "_links": {
                "self": format!("{}/rest/api/user/anonymous", self.base()),
                "base": self.base(),
                "context": self.context
            }
        })
    }

    /// v1 `User` as embedded in a version's `by`.
    fn author(&self) -> Value {
        let mut user = self.user_known();
        if let Some(obj) = user.as_object_mut() {
            obj.remove("_expandable");
        }
        user
    }

    /// v2 `SpaceBulk`.
    pub(crate) fn space_v2(
        &self,
        data: &DemoData,
        s: &SpaceInfo,
        description_format: Option<&str>,
    ) -> Value {
        let mut icon = json!({
            "path": format!("{}/aa-avatar/space/{}.png", self.context, s.key)
        });
        if !s.personal {
            icon["apiDownloadLink"] =
                json!(format!("{}/download/space-icon/{}", self.context, s.id));
        }
        let description = match description_format {
            Some(fmt @ ("plain" | "view")) => {
                let value = if fmt == "view" {
                    format!("<p>{}</p>", s.description())
                } else {
                    s.description()
                };
                json!({ fmt: { "representation": fmt, "value": value } })
            }
            // Real Cloud answers null unless a description format is asked for.
            _ => Value::Null,
        };
        let mut space = json!({
            "id": s.id.to_string(),
            "key": s.key,
            "name": s.name,
            "type": s.type_name(),
            "status": s.status(),
            "authorId": DEMO_ACCOUNT_ID,
            "createdAt": s.created_at(),
            "description": description,
            "icon": icon,
            "_links": { "webui": format!("/spaces/{}", s.key) }
        });
        if data.pages_per_space > 0 {
            space["homepageId"] = json!(data.page_id(s.index, 0).to_string());
        }
        space
    }

    /// v2 `PageBulk`/`PageSingle`; `storage_body` adds the storage body.
    pub(crate) fn page_v2(&self, data: &DemoData, p: &PageInfo, storage_body: bool) -> Value {
        let space = data.space(p.space_index);
        let key = space.as_ref().map(|s| s.key.as_str()).unwrap_or_default();
        let space_id = space.as_ref().map(|s| s.id.to_string()).unwrap_or_default();
        let body = if storage_body {
            json!({ "storage": { "representation": "storage", "value": p.storage_body() } })
        } else {
            json!({})
        };
        json!({
            "id": p.id.to_string(),
            "status": "current",
            "title": p.title,
            "spaceId": space_id,
            // Root pages have no parent; real Cloud sends null for both.
            "parentId": p.parent_id.map(|id| id.to_string()),
            "parentType": p.parent_id.map(|_| "page"),
            "position": p.position,
            "authorId": DEMO_ACCOUNT_ID,
            "ownerId": DEMO_ACCOUNT_ID,
            "lastOwnerId": Value::Null,
            "createdAt": p.created_at(),
            "version": {
                "number": p.version,
                "createdAt": p.updated_at(),
                "message": "",
                "minorEdit": false,
                "authorId": DEMO_ACCOUNT_ID
            },
            "body": body,
            "_links": {
                "webui": format!("/spaces/{key}/pages/{}/{}", p.id, p.title.replace(' ', "+")),
                "editui": format!("/pages/resumedraft.action?draftId={}", p.id),
                "tinyui": format!("/x/{:x}", p.id)
            }
        })
    }

    /// v1 `Space`; `with_description` expands `description.plain`.
    pub(crate) fn space_v1(&self, data: &DemoData, s: &SpaceInfo, with_description: bool) -> Value {
        let api = format!("{}/rest/api/space/{}", self.context, s.key);
        let mut expandable = json!({
            "settings": format!("{api}/settings"),
            "metadata": "",
            "operations": "",
            "lookAndFeel": format!("{api}/settings/lookandfeel"),
            "identifiers": "",
            "permissions": "",
            "icon": "",
            "theme": format!("{api}/theme"),
            "history": ""
        });
        if data.pages_per_space > 0 {
            expandable["homepage"] = json!(format!(
                "{}/rest/api/content/{}",
                self.context,
                data.page_id(s.index, 0)
            ));
        }
        let mut space = json!({
            "id": s.id,
            "key": s.key,
            "name": s.name,
            "type": s.type_name(),
            "status": s.status(),
            "_links": {
                "webui": format!("/spaces/{}", s.key),
                "self": format!("{}/rest/api/space/{}", self.base(), s.key)
            }
        });
        if with_description {
            space["description"] = json!({
                "plain": {
                    "value": s.description(),
                    "representation": "plain",
                    "embeddedContent": []
                },
                "_expandable": { "view": "" }
            });
        } else {
            expandable["description"] = json!("");
        }
        space["_expandable"] = expandable;
        space
    }

    /// v1 `Content` of type page; `expand` is the request's `expand` list.
    pub(crate) fn content_v1(&self, data: &DemoData, p: &PageInfo, expand: &str) -> Value {
        let wants = |what: &str| {
            expand
                .split(',')
                .any(|e| e.trim() == what || e.trim().starts_with(&format!("{what}.")))
        };
        let space = data.space(p.space_index);
        let key = space.as_ref().map(|s| s.key.as_str()).unwrap_or_default();
        let mut content = json!({
            "id": p.id.to_string(),
            "type": "page",
            "status": "current",
            "title": p.title,
            // Served unasked: the client needs it for `updated_at`.
            "version": {
                "by": self.author(),
                "when": p.updated_at(),
                "friendlyWhen": p.updated_at(),
                "message": "",
                "number": p.version,
                "minorEdit": false,
                "contentTypeModified": false
            },
            "extensions": { "position": p.position },
            "_links": {
                "webui": format!("/spaces/{key}/pages/{}/{}", p.id, p.title.replace(' ', "+")),
                "edit": format!("/pages/resumedraft.action?draftId={}", p.id),
                "tinyui": format!("/x/{:x}", p.id),
                "self": format!("{}/rest/api/content/{}", self.base(), p.id)
            }
        });
        let mut expandable = serde_json::Map::new();
        for lazy in [
            "childTypes",
            "container",
            "metadata",
            "operations",
            "children",
            "restrictions",
            "history",
            "descendants",
        ] {
            expandable.insert(lazy.to_string(), json!(""));
        }
        if wants("ancestors") {
            let chain: Vec<Value> = data
                .ancestors(p)
                .iter()
                .map(|a| json!({ "id": a.id.to_string(), "type": "page", "status": "current", "title": a.title }))
                .collect();
            content["ancestors"] = Value::Array(chain);
        } else {
            expandable.insert("ancestors".into(), json!(""));
        }
        match (&space, wants("space")) {
            (Some(s), true) => content["space"] = self.space_v1(data, s, false),
            (Some(s), false) => {
                expandable.insert(
                    "space".into(),
                    json!(format!("{}/rest/api/space/{}", self.context, s.key)),
                );
            }
            (None, _) => {}
        }
        if wants("body") {
            content["body"] = json!({
                "storage": { "value": p.storage_body(), "representation": "storage", "embeddedContent": [] },
                "_expandable": { "view": "", "export_view": "", "styled_view": "", "editor": "", "anonymous_export_view": "" }
            });
        } else {
            expandable.insert("body".into(), json!(""));
        }
        content["_expandable"] = Value::Object(expandable);
        content
    }
}
