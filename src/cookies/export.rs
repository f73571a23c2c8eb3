//! Writing a stored cookie set out for another program: the `Cookie:`
//! header value, a Netscape cookies.txt, or a JSON array. Each one reads
//! back through [`super::parse`] to the same cookies (the tests check it).
//!
//! The text is a secret: it is built in a zeroizing buffer and handed out
//! as a `SecretString`, never formatted into an error or a log.

use std::fmt::Write as _;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;
use zeroize::Zeroizing;

use super::jar::{Cookie, CookieJar};
use crate::secret::{ExposeSecret, SecretString};

/// The formats `cookies export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// The `Cookie:` request header value the site would be sent: `a=1; b=2`.
    Header,
    /// A Netscape cookies.txt (curl, wget, yt-dlp, `http.cookiejar`).
    Netscape,
    /// An array of `{name,value,domain,path,secure,expires}`.
    Json,
}

impl ExportFormat {
    /// The name used on the command line and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Header => "header",
            ExportFormat::Netscape => "netscape",
            ExportFormat::Json => "json",
        }
    }
}

impl std::fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of every cookies.txt we write; readers look for it.
pub const NETSCAPE_HEADER: &str = "# Netscape HTTP Cookie File";

/// `jar` written in `format` for the site at `site` (its base URL), ending
/// with a newline; `None` when the header format has no cookie that would
/// be sent to the site.
///
/// A cookie stored without a domain (pasted as a `Cookie:` header) is the
/// site's host's own (host-only), and one without a path is at `/`: the
/// rules `cookies::scope` sends them by, written out so another program
/// sends them the same way.
pub fn render(jar: &CookieJar, site: &Url, format: ExportFormat) -> Option<SecretString> {
    let text = match format {
        ExportFormat::Header => {
            let header = jar.header_value_for(site)?;
            let mut text = Zeroizing::new(String::with_capacity(header.expose_secret().len() + 1));
            text.push_str(header.expose_secret());
            text.push('\n');
            text
        }
        ExportFormat::Netscape => netscape(jar, site),
        ExportFormat::Json => json(jar, site),
    };
    Some(SecretString::from(text.as_str()))
}

/// The domain as a cookies.txt or JSON reader expects it: a leading dot
/// for a domain cookie, the bare host for a host-only one.
fn domain_of(cookie: &Cookie, site: &Url) -> String {
    match cookie.domain.as_deref().map(str::trim) {
        Some(d) if !d.is_empty() => d.to_ascii_lowercase(),
        _ => site.host_str().unwrap_or_default().to_ascii_lowercase(),
    }
}

fn path_of(cookie: &Cookie) -> &str {
    cookie
        .path
        .as_deref()
        .map(str::trim)
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/")
}

/// `domain  include-subdomains  path  secure  expiry  name  value`, one
/// cookie a line, tab-separated; expiry in epoch seconds, 0 for a session
/// cookie (as curl writes it). HttpOnly is not marked with curl's
/// `#HttpOnly_` prefix: readers that do not know it (Python's
/// `MozillaCookieJar` before 3.10 among them) would take the line for a
/// comment and lose the session cookie, and the flag means nothing outside
/// a browser.
fn netscape(jar: &CookieJar, site: &Url) -> Zeroizing<String> {
    let capacity = 128
        + jar
            .cookies
            .iter()
            .map(|c| 64 + c.name.len() + c.value.expose_secret().len())
            .sum::<usize>()
        + jar.len() * site.as_str().len();
    let mut out = Zeroizing::new(String::with_capacity(capacity));
    out.push_str(NETSCAPE_HEADER);
    out.push('\n');
    out.push_str(
        "# Written by confluence-tui cookies export: live session cookies, keep private.\n",
    );
    for cookie in &jar.cookies {
        let domain = domain_of(cookie, site);
        let subdomains = if domain.starts_with('.') {
            "TRUE"
        } else {
            "FALSE"
        };
        let secure = if cookie.secure { "TRUE" } else { "FALSE" };
        let expiry = cookie.expires.map_or(0, OffsetDateTime::unix_timestamp);
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{domain}\t{subdomains}\t{}\t{secure}\t{expiry}\t{}\t",
            path_of(cookie),
            cookie.name
        );
        out.push_str(cookie.value.expose_secret());
        out.push('\n');
    }
    out
}

/// One cookie of the JSON export.
#[derive(Serialize)]
struct JsonCookie<'a> {
    name: &'a str,
    value: &'a str,
    domain: String,
    path: &'a str,
    secure: bool,
    /// RFC 3339, `null` for a session cookie.
    expires: Option<String>,
}

fn json(jar: &CookieJar, site: &Url) -> Zeroizing<String> {
    let cookies: Vec<JsonCookie<'_>> = jar
        .cookies
        .iter()
        .map(|c| JsonCookie {
            name: &c.name,
            value: c.value.expose_secret(),
            domain: domain_of(c, site),
            path: path_of(c),
            secure: c.secure,
            expires: c.expires.and_then(|at| at.format(&Rfc3339).ok()),
        })
        .collect();
    // Sized up front (values are escaped at most twofold: no control
    // characters) so the buffer holding the values is never reallocated,
    // which would leave a copy behind that is not wiped.
    let capacity = 64
        + jar
            .cookies
            .iter()
            .map(|c| 160 + 2 * (c.name.len() + c.value.expose_secret().len()))
            .sum::<usize>()
        + jar.len() * site.as_str().len() * 2;
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    // Serialising strings and booleans into a Vec cannot fail.
    let _ = serde_json::to_writer_pretty(&mut *bytes, &cookies);
    bytes.push(b'\n');
    Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookies::parse::{PasteFormat, parse_cookies_for_site};

    fn site() -> Url {
        Url::parse("https://x.atlassian.net/wiki").unwrap()
    }

    fn jar() -> CookieJar {
        let mut jar = CookieJar::new();
        let mut session = Cookie::new("cloud.session.token", "SENTINEL-a\"b\\c");
        session.domain = Some(".atlassian.net".into());
        session.path = Some("/".into());
        session.secure = true;
        session.http_only = true;
        session.expires = Some(
            OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::days(3),
        );
        jar.insert(session);
        // As a pasted header stores it: no domain, no path.
        jar.insert(Cookie::new("atlassian.xsrf.token", "xsrf-1"));
        let mut wiki = Cookie::new("wiki.only", "w");
        wiki.domain = Some("x.atlassian.net".into());
        wiki.path = Some("/wiki".into());
        jar.insert(wiki);
        jar
    }

    #[test]
    fn every_format_reads_back_to_the_same_cookies() {
        let jar = jar();
        let now = OffsetDateTime::now_utc();
        for (format, pasted) in [
            (ExportFormat::Header, PasteFormat::CookieHeader),
            (ExportFormat::Netscape, PasteFormat::Netscape),
            (ExportFormat::Json, PasteFormat::CookieEditorJson),
        ] {
            let text = render(&jar, &site(), format).unwrap();
            let parsed = parse_cookies_for_site(text.expose_secret(), &site(), now).unwrap();
            assert_eq!(parsed.format, pasted, "{format}");
            assert!(
                parsed.warnings.is_empty(),
                "{format}: {:?}",
                parsed.warnings
            );
            assert_eq!(parsed.jar.names(), jar.names(), "{format}");
            for (back, orig) in parsed.jar.cookies.iter().zip(&jar.cookies) {
                assert_eq!(back.value.expose_secret(), orig.value.expose_secret());
                if format == ExportFormat::Header {
                    continue;
                }
                assert_eq!(back.domain, Some(domain_of(orig, &site())), "{format}");
                assert_eq!(back.path.as_deref(), Some(path_of(orig)), "{format}");
                assert_eq!(back.secure, orig.secure, "{format}");
                assert_eq!(back.expires, orig.expires, "{format}");
            }
        }
    }

    #[test]
    fn netscape_lines_carry_the_scope_and_session_cookies_expire_at_zero() {
        let text = render(&jar(), &site(), ExportFormat::Netscape).unwrap();
        let lines: Vec<&str> = text.expose_secret().lines().collect();
        assert_eq!(lines[0], NETSCAPE_HEADER);
        assert!(
            lines[2].starts_with(".atlassian.net\tTRUE\t/\tTRUE\t"),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "x.atlassian.net\tFALSE\t/\tFALSE\t0\tatlassian.xsrf.token\txsrf-1"
        );
        assert_eq!(
            lines[4],
            "x.atlassian.net\tFALSE\t/wiki\tFALSE\t0\twiki.only\tw"
        );
    }

    #[test]
    fn json_has_exactly_the_documented_fields() {
        let text = render(&jar(), &site(), ExportFormat::Json).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.expose_secret()).unwrap();
        let items = v.as_array().unwrap();
        assert_eq!(items.len(), 3);
        for item in items {
            let keys: std::collections::BTreeSet<&str> = item
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            let want = ["name", "value", "domain", "path", "secure", "expires"];
            assert_eq!(keys, want.into_iter().collect());
        }
        assert!(items[1]["expires"].is_null());
        assert!(items[0]["expires"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn the_header_holds_only_what_the_site_would_be_sent() {
        let mut jar = jar();
        let mut other = Cookie::new("jira.only", "j");
        other.path = Some("/jira".into());
        jar.insert(other);
        let text = render(&jar, &site(), ExportFormat::Header).unwrap();
        assert!(!text.expose_secret().contains("jira.only"));
        assert!(text.expose_secret().ends_with('\n'));
        assert!(render(&CookieJar::new(), &site(), ExportFormat::Header).is_none());
    }
}
