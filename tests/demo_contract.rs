//! The demo site's JSON checked against the official Confluence OpenAPI
//! specs: required properties present, every property declared (unless the
//! schema allows extras), and JSON types and enums as the schema says.

use std::net::SocketAddr;

use confluence_tui::demo::{
    DEMO_API_TOKEN, DEMO_EMAIL, DEMO_PAT, DemoConfig, DemoFlavor, DemoServer,
};
use serde_json::{Map, Value, json};

const V2_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/specs/openapi-v2.v3.json"
);
const V1_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/specs/swagger-v1.v3.json"
);

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The 200 `application/json` schema of `GET path` in `spec`.
fn response_schema(spec: &Value, path: &str) -> Value {
    let schema =
        &spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no 200 JSON schema for GET {path}");
    schema.clone()
}

/// A schema with `$ref`s followed and `allOf` merged into one object schema.
fn flatten(spec: &Value, schema: &Value) -> Value {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = spec
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling $ref {r}"));
        return flatten(spec, target);
    }
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
        return schema.clone();
    };
    let mut merged = Map::new();
    let mut properties = Map::new();
    let mut required = Vec::new();
    merged.insert("type".into(), json!("object"));
    for part in parts {
        let part = flatten(spec, part);
        if let Some(p) = part.get("properties").and_then(Value::as_object) {
            for (k, v) in p {
                // A property both branches declare must satisfy both.
                let merged_prop = match properties.remove(k) {
                    Some(earlier) => json!({ "allOf": [earlier, v] }),
                    None => v.clone(),
                };
                properties.insert(k.clone(), merged_prop);
            }
        }
        if let Some(r) = part.get("required").and_then(Value::as_array) {
            required.extend(r.iter().cloned());
        }
        if let Some(a) = part.get("additionalProperties") {
            merged.insert("additionalProperties".into(), a.clone());
        }
    }
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert("required".into(), Value::Array(required));
    Value::Object(merged)
}

/// Every way `value` breaks `schema`, as `path: problem` lines.
fn check(spec: &Value, schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let schema = flatten(spec, schema);
    let mut errors = Vec::new();
    if value.is_null() {
        if schema.get("nullable") != Some(&json!(true)) {
            errors.push(format!("{path}: null where the schema is not nullable"));
        }
        return errors;
    }
    // oneOf/anyOf leniently: any one branch that fits is enough.
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            if !branches
                .iter()
                .any(|b| check(spec, b, value, path).is_empty())
            {
                errors.push(format!("{path}: matches no branch of {key}"));
            }
            return errors;
        }
    }
    let ty = schema
        .get("type")
        .and_then(Value::as_str)
        .or(schema.get("properties").map(|_| "object"));
    let type_ok = match ty {
        None => true,
        Some("object") => value.is_object(),
        Some("array") => value.is_array(),
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some(other) => panic!("{path}: unknown schema type {other}"),
    };
    if !type_ok {
        errors.push(format!(
            "{path}: expected {}, got {value}",
            ty.unwrap_or("?")
        ));
        return errors;
    }
    if let (Some(allowed), Some(s)) = (schema.get("enum").and_then(Value::as_array), value.as_str())
        && !allowed.iter().any(|a| a == s)
    {
        errors.push(format!("{path}: {s:?} is not one of {allowed:?}"));
    }
    if let Some(items) = value.as_array() {
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                errors.extend(check(spec, item_schema, item, &format!("{path}[{i}]")));
            }
        }
        return errors;
    }
    let Some(object) = value.as_object() else {
        return errors;
    };
    let required = schema
        .get("required")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for name in required.iter().filter_map(Value::as_str) {
        match object.get(name) {
            None => errors.push(format!("{path}: required property {name:?} missing")),
            Some(Value::Null) => errors.extend(check(
                spec,
                &schema["properties"][name],
                &Value::Null,
                &format!("{path}.{name}"),
            )),
            Some(_) => {}
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    for (name, v) in object {
        let declared = properties.and_then(|p| p.get(name));
        match (declared, additional) {
            // Atlassian's prose calls many optional fields nullable that the
            // schema does not mark; null is fine for a property not required.
            (Some(_), _) if v.is_null() && !required.iter().any(|r| r == name) => {}
            (Some(s), _) => errors.extend(check(spec, s, v, &format!("{path}.{name}"))),
            (None, Some(a)) if a.is_object() => {
                errors.extend(check(spec, a, v, &format!("{path}.{name}")))
            }
            (None, Some(Value::Bool(true))) => {}
            // An object schema that declares properties and not extras: a
            // property it does not know is most likely a renamed one.
            (None, _) if properties.is_some_and(|p| !p.is_empty()) => {
                errors.push(format!("{path}: property {name:?} is not in the schema"))
            }
            (None, _) => {}
        }
    }
    errors
}

fn assert_fits(spec: &Value, spec_path: &str, body: &Value, what: &str) {
    let errors = check(spec, &response_schema(spec, spec_path), body, "$");
    assert!(
        errors.is_empty(),
        "{what} does not fit GET {spec_path}:\n{}",
        errors.join("\n")
    );
}

async fn start(flavor: DemoFlavor) -> DemoServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    DemoServer::start(
        DemoConfig {
            flavor,
            ..DemoConfig::default()
        },
        addr,
    )
    .await
    .unwrap()
}

async fn get(server: &DemoServer, path_and_query: &str) -> Value {
    let url = format!(
        "{}{path_and_query}",
        server.base_url().as_str().trim_end_matches('/')
    );
    let request = reqwest::Client::new().get(&url);
    let request = match server.flavor() {
        DemoFlavor::Cloud => request.basic_auth(DEMO_EMAIL, Some(DEMO_API_TOKEN)),
        DemoFlavor::Server => request.bearer_auth(DEMO_PAT),
    };
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn cloud_v2_bodies_fit_the_official_spec() {
    let spec = load(V2_SPEC);
    let server = start(DemoFlavor::Cloud).await;
    for query in [
        "",
        "?limit=250",
        "?description-format=plain",
        "?description-format=view&limit=3",
    ] {
        let body = get(&server, &format!("/api/v2/spaces{query}")).await;
        assert!(!body["results"].as_array().unwrap().is_empty());
        assert_fits(&spec, "/spaces", &body, &format!("spaces{query}"));
    }
    let spaces = get(&server, "/api/v2/spaces?limit=1").await;
    let space_id = spaces["results"][0]["id"].as_str().unwrap().to_string();
    for query in ["", "?body-format=storage&limit=30"] {
        let pages = get(&server, &format!("/api/v2/spaces/{space_id}/pages{query}")).await;
        assert_fits(&spec, "/spaces/{id}/pages", &pages, "space pages");
    }
    let pages = get(&server, &format!("/api/v2/spaces/{space_id}/pages")).await;
    for page in pages["results"].as_array().unwrap().iter().take(3) {
        let id = page["id"].as_str().unwrap();
        for query in ["", "?body-format=storage"] {
            let body = get(&server, &format!("/api/v2/pages/{id}{query}")).await;
            assert_fits(&spec, "/pages/{id}", &body, "page");
        }
    }
}

#[tokio::test]
async fn v1_bodies_of_both_flavors_fit_the_official_spec() {
    let spec = load(V1_SPEC);
    for flavor in [DemoFlavor::Cloud, DemoFlavor::Server] {
        let server = start(flavor).await;
        let user = get(&server, "/rest/api/user/current").await;
        assert_fits(&spec, "/wiki/rest/api/user/current", &user, "user/current");
        for query in ["", "?limit=250", "?expand=description.plain"] {
            let body = get(&server, &format!("/rest/api/space{query}")).await;
            assert_fits(&spec, "/wiki/rest/api/space", &body, "space list");
        }
        for query in [
            "?spaceKey=AN0&type=page",
            "?spaceKey=AN0&type=page&expand=ancestors,space,body.storage",
            "?type=page&limit=100",
        ] {
            let body = get(&server, &format!("/rest/api/content{query}")).await;
            assert!(!body["results"].as_array().unwrap().is_empty(), "{query}");
            assert_fits(&spec, "/wiki/rest/api/content", &body, "content list");
        }
        let body = get(&server, "/rest/api/space/AN0/content").await;
        assert_fits(
            &spec,
            "/wiki/rest/api/space/{spaceKey}/content",
            &body,
            "space content",
        );
    }
}

#[tokio::test]
async fn anonymous_user_fits_the_spec() {
    let spec = load(V1_SPEC);
    let server = start(DemoFlavor::Server).await;
    let url = format!(
        "{}/rest/api/user/current",
        server.base_url().as_str().trim_end_matches('/')
    );
    let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(body["type"], "anonymous");
    assert_fits(
        &spec,
        "/wiki/rest/api/user/current",
        &body,
        "anonymous user",
    );
}

// The checker itself must fail on broken documents, or the tests above prove nothing.

fn v1_space_list() -> Value {
    json!({
        "results": [{
            "id": 131072, "key": "AN0", "name": "Analytics 0000", "type": "global", "status": "current",
            "_links": { "webui": "/spaces/AN0" }, "_expandable": { "homepage": "/rest/api/content/1" }
        }],
        "start": 0, "limit": 25, "size": 1, "_links": { "base": "http://x/wiki" }
    })
}

#[test]
fn checker_accepts_a_correct_v1_document() {
    let spec = load(V1_SPEC);
    let errors = check(
        &spec,
        &response_schema(&spec, "/wiki/rest/api/space"),
        &v1_space_list(),
        "$",
    );
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn checker_catches_a_renamed_required_field() {
    let spec = load(V1_SPEC);
    let mut doc = v1_space_list();
    let space = doc["results"][0].as_object_mut().unwrap();
    let key = space.remove("key").unwrap();
    space.insert("spaceKey".into(), key);
    let errors = check(
        &spec,
        &response_schema(&spec, "/wiki/rest/api/space"),
        &doc,
        "$",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("required property \"key\" missing")),
        "{errors:?}"
    );
}

#[test]
fn checker_catches_wrong_types_and_missing_envelope_fields() {
    let spec = load(V1_SPEC);
    let mut doc = v1_space_list();
    doc["results"][0]["id"] = json!("131072");
    doc.as_object_mut().unwrap().remove("size");
    let errors = check(
        &spec,
        &response_schema(&spec, "/wiki/rest/api/space"),
        &doc,
        "$",
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("$.results[0].id: expected integer")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("\"size\" missing")),
        "{errors:?}"
    );
}

#[test]
fn checker_catches_renamed_v2_fields_bad_enums_and_types() {
    let spec = load(V2_SPEC);
    let schema = response_schema(&spec, "/spaces");
    let good = json!({ "results": [{ "id": "1", "key": "AN0", "type": "global", "status": "current" }], "_links": {} });
    assert!(check(&spec, &schema, &good, "$").is_empty());
    let renamed = json!({ "results": [{ "id": "1", "spaceKey": "AN0" }], "_links": {} });
    assert!(!check(&spec, &schema, &renamed, "$").is_empty());
    let bad_enum = json!({ "results": [{ "id": "1", "type": "Global" }], "_links": {} });
    assert!(!check(&spec, &schema, &bad_enum, "$").is_empty());
    let numeric_id = json!({ "results": [{ "id": 1 }], "_links": {} });
    assert!(!check(&spec, &schema, &numeric_id, "$").is_empty());
    let page_schema = response_schema(&spec, "/pages/{id}");
    let page = json!({ "id": "5", "version": { "number": "2" }, "_links": { "base": "http://x/wiki", "webui": "/x" } });
    let errors = check(&spec, &page_schema, &page, "$");
    assert_eq!(
        errors,
        vec!["$.version.number: expected integer, got \"2\"".to_string()]
    );
}
