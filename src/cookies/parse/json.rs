//! The JSON that cookie-editor extensions (Cookie-Editor, EditThisCookie)
//! export: an array of cookie objects, or an object with a `cookies` array
//! (Playwright's storage state has that shape).

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroize;

use super::{CookieParseError, JarBuilder};
use crate::cookies::jar::Cookie;

pub(super) fn parse(text: &str, builder: &mut JarBuilder) -> Result<(), CookieParseError> {
    let mut document: Value =
        serde_json::from_str(text).map_err(|e| CookieParseError::InvalidJson {
            reason: describe_json_error(&e),
        })?;
    let result = parse_document(&document, builder);
    // serde_json's strings do not zeroize themselves; the values are secrets.
    wipe(&mut document);
    result
}

fn parse_document(document: &Value, builder: &mut JarBuilder) -> Result<(), CookieParseError> {
    let entries = match document {
        Value::Array(entries) => entries,
        Value::Object(object) => match object.get("cookies") {
            Some(Value::Array(entries)) => entries,
            _ => {
                return Err(CookieParseError::InvalidJson {
                    reason: "it is an object without a \"cookies\" array".into(),
                });
            }
        },
        _ => {
            return Err(CookieParseError::InvalidJson {
                reason: "it is not an array of cookies".into(),
            });
        }
    };
    for entry in entries {
        let label = builder.next_label();
        let Value::Object(fields) = entry else {
            return Err(invalid(label, "it is not a JSON object"));
        };
        let cookie = parse_entry(fields, &label)?;
        builder.add(cookie, label)?;
    }
    Ok(())
}

fn parse_entry(fields: &Map<String, Value>, label: &str) -> Result<Cookie, CookieParseError> {
    let Some(Value::String(name)) = fields.get("name") else {
        return Err(invalid(label.to_owned(), "it has no \"name\" string"));
    };
    let value = match fields.get("value") {
        Some(Value::String(value)) => value.as_str(),
        None | Some(Value::Null) => "",
        Some(_) => return Err(invalid(label.to_owned(), "its \"value\" is not a string")),
    };
    let mut cookie = Cookie::new(name.trim(), value);
    cookie.domain = domain_field(fields);
    cookie.path = string_field(fields, "path");
    cookie.secure = bool_field(fields, "secure");
    cookie.http_only = bool_field(fields, "httpOnly");
    if !bool_field(fields, "session") {
        // Cookie-Editor writes `expirationDate`, Playwright `expires` (-1 =
        // session), our own export `expires` in RFC 3339 (null = session).
        cookie.expires = match fields
            .get("expirationDate")
            .or_else(|| fields.get("expires"))
        {
            Some(Value::String(at)) => OffsetDateTime::parse(at.trim(), &Rfc3339).ok(),
            Some(seconds) => seconds
                .as_f64()
                .filter(|s| s.is_finite() && *s > 0.0)
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s as i64).ok()),
            None => None,
        };
    }
    Ok(cookie)
}

/// The domain in the stored form (see `cookies::scope`): `hostOnly: true`
/// drops a leading dot, `false` adds one; without `hostOnly` (Playwright)
/// the leading dot already says which it is.
fn domain_field(fields: &Map<String, Value>) -> Option<String> {
    let domain = string_field(fields, "domain")?;
    let bare = domain.trim_start_matches('.');
    if bare.is_empty() {
        // A lone dot matches nothing (no domain at all is the site's).
        return Some(domain);
    }
    Some(match fields.get("hostOnly").and_then(Value::as_bool) {
        Some(true) => bare.to_owned(),
        Some(false) => format!(".{bare}"),
        None => domain,
    })
}

fn string_field(fields: &Map<String, Value>, key: &str) -> Option<String> {
    fields
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn bool_field(fields: &Map<String, Value>, key: &str) -> bool {
    fields.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn invalid(label: String, why: &str) -> CookieParseError {
    CookieParseError::InvalidCookie {
        name_or_index: label,
        why: why.into(),
    }
}

/// serde_json's own messages may quote the input ("invalid type: string
/// \"…\""), so only the error's category and position are reported.
fn describe_json_error(error: &serde_json::Error) -> String {
    let (line, column) = (error.line(), error.column());
    match error.classify() {
        serde_json::error::Category::Eof => {
            format!(
                "it ends too early (line {line}, column {column}); the copy was probably cut off"
            )
        }
        _ => format!("it is not valid JSON (line {line}, column {column})"),
    }
}

fn wipe(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.values_mut().for_each(wipe),
        _ => {}
    }
}
