//! Netscape `cookies.txt`: `domain  include-subdomains  path  secure  expiry
//! name  value`, tab-separated; `#` comments; `#HttpOnly_` marks HttpOnly.

use time::OffsetDateTime;

use super::{CookieParseError, JarBuilder, ParseWarning};
use crate::cookies::jar::Cookie;

const HTTP_ONLY_PREFIX: &str = "#HttpOnly_";

/// Whether the text is a cookies.txt rather than a Cookie header.
pub(super) fn looks_like(text: &str) -> bool {
    text.lines().map(str::trim_start).any(|line| {
        line.starts_with("# Netscape HTTP Cookie File")
            || line.starts_with("# HTTP Cookie File")
            || line.starts_with(HTTP_ONLY_PREFIX)
            || (!line.starts_with('#') && is_data_line(line))
    })
}

/// Six or more tab-separated fields whose first (the domain) has no `=`: a
/// Cookie header with tabs after its `;` also has six fields, but its first
/// one is a `name=value` pair, and no domain contains `=`.
fn is_data_line(line: &str) -> bool {
    let mut fields = line.split('\t');
    let domain_like = fields.next().is_some_and(|first| !first.contains('='));
    domain_like && fields.count() >= 5
}

pub(super) fn parse(text: &str, builder: &mut JarBuilder) -> Result<(), CookieParseError> {
    let mut skipped = 0;
    for line in text.lines() {
        // Only spaces and CR are trimmed: a trailing tab means an empty value.
        let line = line.trim_matches([' ', '\r']);
        if line.is_empty() {
            continue;
        }
        let (body, http_only) = match line.strip_prefix(HTTP_ONLY_PREFIX) {
            Some(body) => (body, true),
            None if line.starts_with('#') => continue,
            None => (line, false),
        };
        let label = builder.next_label();
        match parse_line(body, http_only) {
            Some(cookie) => builder.add(cookie, label)?,
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        builder.warn(ParseWarning::SkippedLines { count: skipped });
    }
    Ok(())
}

fn parse_line(body: &str, http_only: bool) -> Option<Cookie> {
    let fields: Vec<&str> = body.split('\t').collect();
    // Some exporters drop the separator of an empty value, leaving six fields.
    if fields.len() != 7 && fields.len() != 6 {
        return None;
    }
    let expires = parse_expiry(fields[4].trim())?;
    let mut cookie = Cookie::new(fields[5].trim(), fields.get(6).map_or("", |v| v.trim()));
    cookie.domain = domain_field(fields[0], fields[1]);
    cookie.path = Some(fields[2].trim().to_owned()).filter(|p| !p.is_empty());
    cookie.secure = fields[3].trim().eq_ignore_ascii_case("TRUE");
    cookie.http_only = http_only;
    cookie.expires = expires;
    Some(cookie)
}

/// The domain in the stored form (see `cookies::scope`): a leading dot when
/// the include-subdomains flag is `TRUE` (a domain cookie), none when it is
/// `FALSE` (host-only); as written when the flag is neither.
fn domain_field(domain: &str, include_subdomains: &str) -> Option<String> {
    let domain = domain.trim();
    let bare = domain.trim_start_matches('.');
    if bare.is_empty() {
        // No domain at all is the site's; a lone dot matches nothing.
        return Some(domain.to_owned()).filter(|d| !d.is_empty());
    }
    let flag = include_subdomains.trim();
    Some(if flag.eq_ignore_ascii_case("TRUE") {
        format!(".{bare}")
    } else if flag.eq_ignore_ascii_case("FALSE") {
        bare.to_owned()
    } else {
        domain.to_owned()
    })
}

/// Epoch seconds; 0 (or negative, as some exporters write) is a session
/// cookie. Returns `None` when the field is not a number at all.
fn parse_expiry(field: &str) -> Option<Option<OffsetDateTime>> {
    let secs = match field.parse::<i64>() {
        Ok(secs) => secs,
        Err(_) => {
            let float = field.parse::<f64>().ok().filter(|f| f.is_finite())?;
            float as i64
        }
    };
    if secs <= 0 {
        return Some(None);
    }
    // Beyond year 9999 is "never" for our purposes: no own expiry.
    Some(OffsetDateTime::from_unix_timestamp(secs).ok())
}
