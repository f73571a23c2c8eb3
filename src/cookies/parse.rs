//! Turns a paste (Cookie header, cURL command, Netscape cookies.txt,
//! cookie-editor JSON) into a [`CookieJar`], detecting the format.
//!
//! Nothing here ever puts a cookie value into an error or a warning: a value
//! may only leave through `Cookie::value`, which is a `SecretString`.

mod curl;
mod json;
mod netscape;

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;
use thiserror::Error;
use time::OffsetDateTime;
use url::Url;

use super::jar::{Cookie, CookieJar, SESSION_COOKIE_NAMES};
use super::scope::{self, Belonging};
use crate::secret::ExposeSecret;

/// Pastes larger than this are refused before any parsing.
pub const MAX_PASTE_BYTES: usize = 1024 * 1024;

/// What a valid paste looks like; ends every error message.
const VALID_PASTE_EXAMPLE: &str = "Paste the Cookie request header from the browser's developer \
tools (Network tab), e.g. `cloud.session.token=eyJ…; atlassian.xsrf.token=…`, or a \"Copy as \
cURL\" command, a Netscape cookies.txt, or a cookie-editor JSON export.";

/// Parses a paste in any accepted format, judging expiry against the clock.
pub fn parse_cookies(input: &str) -> Result<ParsedCookies, CookieParseError> {
    parse_cookies_at(input, OffsetDateTime::now_utc())
}

/// Parses a paste in any accepted format; cookies whose own expiry is at or
/// before `now` are dropped with a warning. Every cookie is kept whatever
/// its domain: see [`parse_cookies_for_site`] for what may be stored.
pub fn parse_cookies_at(
    input: &str,
    now: OffsetDateTime,
) -> Result<ParsedCookies, CookieParseError> {
    parse_with(input, now, None)
}

/// Parses a paste for the site at `site` (its configured base URL): only
/// cookies that domain-match and path-match it (RFC 6265; a public suffix
/// never matches) are kept, the rest are dropped with a warning naming
/// their domains or paths. A cookie without a domain (a `Cookie:` header, a
/// cURL command) belongs to the site.
pub fn parse_cookies_for_site(
    input: &str,
    site: &Url,
    now: OffsetDateTime,
) -> Result<ParsedCookies, CookieParseError> {
    parse_with(input, now, Some(site))
}

/// Takes cookies read from a browser profile through the same checks as a
/// paste for the site at `site`: names and values, expiry, duplicates
/// (the later one wins), domain and path.
pub fn parse_browser_cookies_for_site(
    cookies: Vec<Cookie>,
    site: &Url,
    now: OffsetDateTime,
) -> Result<ParsedCookies, CookieParseError> {
    let mut builder = JarBuilder::new(now, Some(site.clone()));
    for cookie in cookies {
        let label = builder.next_label();
        builder.add(cookie, label)?;
    }
    builder.finish(PasteFormat::BrowserProfile)
}

fn parse_with(
    input: &str,
    now: OffsetDateTime,
    site: Option<&Url>,
) -> Result<ParsedCookies, CookieParseError> {
    if input.len() > MAX_PASTE_BYTES {
        return Err(CookieParseError::TooLarge { bytes: input.len() });
    }
    check_control_characters(input)?;
    let text = input.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err(CookieParseError::Empty);
    }
    let format = detect_format(text);
    let mut builder = JarBuilder::new(now, site.cloned());
    match format {
        PasteFormat::CookieEditorJson => json::parse(text, &mut builder)?,
        PasteFormat::CurlBash => curl::parse(&curl::bash_words(text), &mut builder)?,
        PasteFormat::CurlCmd => curl::parse(&curl::cmd_words(text), &mut builder)?,
        PasteFormat::Netscape => netscape::parse(text, &mut builder)?,
        // `detect_format` never says `BrowserProfile`: that is not text.
        PasteFormat::CookieHeader | PasteFormat::BrowserProfile => {
            parse_header_paste(text, &mut builder)?
        }
    }
    builder.finish(format)
}

/// The result of a successful parse: the cookies, how they were pasted, and
/// anything the user should know before storing them.
#[derive(Clone, Debug)]
pub struct ParsedCookies {
    pub jar: CookieJar,
    pub format: PasteFormat,
    pub warnings: Vec<ParseWarning>,
}

/// The paste formats that are recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PasteFormat {
    /// `name=value; name2=value2`, with or without `Cookie:`.
    CookieHeader,
    /// Netscape / curl `cookies.txt`, seven tab-separated fields a line.
    Netscape,
    /// The JSON array cookie-editor browser extensions export.
    CookieEditorJson,
    /// "Copy as cURL (bash)".
    CurlBash,
    /// "Copy as cURL (cmd)", Windows `^` escaping.
    CurlCmd,
    /// Read from a browser profile's cookie store.
    BrowserProfile,
}

impl fmt::Display for PasteFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PasteFormat::CookieHeader => "Cookie header",
            PasteFormat::Netscape => "Netscape cookies.txt",
            PasteFormat::CookieEditorJson => "cookie-editor JSON",
            PasteFormat::CurlBash => "cURL command (bash)",
            PasteFormat::CurlCmd => "cURL command (cmd)",
            PasteFormat::BrowserProfile => "browser profile",
        })
    }
}

/// Things worth telling the user about a paste that still parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseWarning {
    /// None of [`SESSION_COOKIE_NAMES`] is in the paste.
    NoSessionCookie,
    /// The name appeared more than once; the last one was kept.
    DuplicateName { name: String },
    /// Netscape lines that were neither cookies nor comments.
    SkippedLines { count: usize },
    /// The cookie's own expiry had passed; it was dropped.
    AlreadyExpired { name: String },
    /// Cookies for other domains (or a public suffix) were dropped.
    OtherDomains { count: usize, domains: Vec<String> },
    /// Cookies of the site's domain but for paths outside the site were dropped.
    OtherPaths { count: usize, paths: Vec<String> },
}

/// At most this many domains or paths are named in a warning.
const NAMED_IN_WARNING: usize = 10;

/// `a, b, c` (and "and N more" past [`NAMED_IN_WARNING`]).
fn list(items: &[String]) -> String {
    let shown = items
        .iter()
        .take(NAMED_IN_WARNING)
        .cloned()
        .collect::<Vec<_>>();
    let more = items.len().saturating_sub(NAMED_IN_WARNING);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn cookies(count: usize) -> &'static str {
    if count == 1 { "cookie" } else { "cookies" }
}

impl fmt::Display for ParseWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseWarning::NoSessionCookie => write!(
                f,
                "No session cookie found (expected one of {}); the site will likely not accept \
                 these cookies. Copy them from a request to the Confluence site made while signed in.",
                SESSION_COOKIE_NAMES.join(", ")
            ),
            ParseWarning::DuplicateName { name } => write!(
                f,
                "Cookie `{name}` appears more than once; the last one was kept."
            ),
            ParseWarning::SkippedLines { count } => write!(
                f,
                "{count} line(s) were not cookies.txt entries (7 tab-separated fields) and were skipped."
            ),
            ParseWarning::AlreadyExpired { name } => write!(
                f,
                "Cookie `{name}` had already expired and was dropped; sign in again in the browser \
                 if the site rejects the rest."
            ),
            ParseWarning::OtherDomains { count, domains } => write!(
                f,
                "Dropped {count} {} for other domains: {}; only the site's own cookies are kept \
                 and sent.",
                cookies(*count),
                list(domains)
            ),
            ParseWarning::OtherPaths { count, paths } => write!(
                f,
                "Dropped {count} {} for other paths: {}; only cookies whose path covers the \
                 site's are kept and sent.",
                cookies(*count),
                list(paths)
            ),
        }
    }
}

/// Why a paste was refused. Messages name the problem and show a valid paste;
/// they never contain a cookie value.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CookieParseError {
    #[error("The paste is empty. {}", VALID_PASTE_EXAMPLE)]
    Empty,
    #[error(
        "The paste is {bytes} bytes, over the 1 MiB limit; cookies are a few KiB, so this is \
         probably the wrong text. {}",
        VALID_PASTE_EXAMPLE
    )]
    TooLarge { bytes: usize },
    #[error(
        "The paste contains a control character at line {line}, column {column} (only tabs and \
         line breaks are allowed); copy it again as plain text. {}",
        VALID_PASTE_EXAMPLE
    )]
    ControlCharacters { line: usize, column: usize },
    #[error(
        "No cookie found: the paste has no `name=value` pair. {}",
        VALID_PASTE_EXAMPLE
    )]
    NoNameValue,
    #[error(
        "The paste looks like JSON but {reason}. Export the cookies again from the cookie-editor \
         extension (Export → JSON), e.g. `[{{\"name\": \"cloud.session.token\", \"value\": \"eyJ…\", \
         \"domain\": \".atlassian.net\"}}]`, or paste the Cookie request header instead."
    )]
    InvalidJson { reason: String },
    #[error(
        "The cURL command has no Cookie header and no -b/--cookie option, so it carries no \
         session. Use \"Copy as cURL\" on a request to the Confluence site made while signed in, \
         e.g. `curl 'https://example.atlassian.net/wiki/…' -H 'Cookie: cloud.session.token=eyJ…'`, \
         or paste the Cookie header value itself."
    )]
    CurlWithoutCookies,
    #[error("Cookie {name_or_index} is not valid: {why}. {}", VALID_PASTE_EXAMPLE)]
    InvalidCookie { name_or_index: String, why: String },
    #[error(
        "All {count} cookie(s) in the paste have already expired; sign in to Confluence in the \
         browser again and copy fresh cookies. {}",
        VALID_PASTE_EXAMPLE
    )]
    AllExpired { count: usize },
    #[error(
        "None of the {count} cookie(s) in the paste is for {host}: they are for {domains}. \
         Copy the cookies of a request to the configured site (or check CONFLUENCE_BASE_URL). {}",
        VALID_PASTE_EXAMPLE
    )]
    NoneForSite {
        count: usize,
        host: String,
        domains: String,
    },
}

fn check_control_characters(input: &str) -> Result<(), CookieParseError> {
    for (index, line) in input.split('\n').enumerate() {
        for (col, c) in line.chars().enumerate() {
            if c.is_control() && !matches!(c, '\t' | '\r') {
                return Err(CookieParseError::ControlCharacters {
                    line: index + 1,
                    column: col + 1,
                });
            }
        }
    }
    Ok(())
}

fn detect_format(text: &str) -> PasteFormat {
    if text.starts_with('[') || text.starts_with('{') {
        return PasteFormat::CookieEditorJson;
    }
    if let Some(rest) = curl::strip_curl_word(text) {
        let rest = rest.trim_start();
        let cmd = rest.starts_with("^\"") || text.contains("^\n") || text.contains("^\r\n");
        return if cmd {
            PasteFormat::CurlCmd
        } else {
            PasteFormat::CurlBash
        };
    }
    if netscape::looks_like(text) {
        return PasteFormat::Netscape;
    }
    PasteFormat::CookieHeader
}

/// A Cookie header paste: one or more lines of `name=value; …`, each maybe
/// prefixed `Cookie:`. When the paste is a block of raw request headers
/// (`Host: …`, `Cookie: …`), only the Cookie lines are read.
fn parse_header_paste(text: &str, builder: &mut JarBuilder) -> Result<(), CookieParseError> {
    if !text.contains('=') {
        return Err(CookieParseError::NoNameValue);
    }
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let raw_headers = lines
        .iter()
        .any(|l| header_line_name(l).is_some_and(|n| !n.eq_ignore_ascii_case("cookie")));
    let mut any = false;
    for line in lines {
        let value = match strip_cookie_prefix(line) {
            Some(value) => value,
            None if raw_headers => continue,
            None => line,
        };
        any = true;
        parse_header_value(value, builder)?;
    }
    if !any {
        return Err(CookieParseError::NoNameValue);
    }
    Ok(())
}

/// The header name of a `Name: value` line (a `:` before any `=`).
fn header_line_name(line: &str) -> Option<&str> {
    let (name, _) = line.split_once(':')?;
    let is_token = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    is_token.then_some(name)
}

fn strip_cookie_prefix(line: &str) -> Option<&str> {
    let name = header_line_name(line)?;
    name.eq_ignore_ascii_case("cookie")
        .then(|| line[name.len() + 1..].trim())
}

/// Parses one `name=value; name2=value2` header value into the builder.
pub(crate) fn parse_header_value(
    value: &str,
    builder: &mut JarBuilder,
) -> Result<(), CookieParseError> {
    for item in cookie::Cookie::split_parse(value) {
        let label = builder.next_label();
        match item {
            Ok(parsed) => builder.add(Cookie::new(parsed.name(), parsed.value()), label)?,
            Err(cookie::ParseError::EmptyName) => {
                return Err(CookieParseError::InvalidCookie {
                    name_or_index: label,
                    why: "its name is empty".into(),
                });
            }
            Err(_) => {
                return Err(CookieParseError::InvalidCookie {
                    name_or_index: label,
                    why: "it has no `=` between name and value (if the paste was wrapped across \
                          lines, join it into one line)"
                        .into(),
                });
            }
        }
    }
    Ok(())
}

/// Collects cookies from any format: validates them, drops expired ones,
/// replaces duplicates, and records warnings.
pub(crate) struct JarBuilder {
    jar: CookieJar,
    /// Name → position in the jar; a 1 MiB paste can hold ~100k cookies, so
    /// the jar's linear `insert` would be quadratic here.
    positions: HashMap<String, usize>,
    duplicates_warned: HashSet<String>,
    warnings: Vec<ParseWarning>,
    now: OffsetDateTime,
    seen: usize,
    expired: usize,
    /// When set, only this site's cookies are kept.
    site: Option<Url>,
    other_domains: Dropped,
    other_paths: Dropped,
}

/// Cookies dropped for one reason: how many, and the distinct domains or
/// paths they were for, in paste order.
#[derive(Default)]
struct Dropped {
    count: usize,
    labels: Vec<String>,
    seen: HashSet<String>,
}

impl Dropped {
    fn note(&mut self, label: String) {
        self.count += 1;
        if self.seen.insert(label.clone()) {
            self.labels.push(label);
        }
    }
}

impl JarBuilder {
    fn new(now: OffsetDateTime, site: Option<Url>) -> JarBuilder {
        JarBuilder {
            jar: CookieJar::new(),
            positions: HashMap::new(),
            duplicates_warned: HashSet::new(),
            warnings: Vec::new(),
            now,
            seen: 0,
            expired: 0,
            site,
            other_domains: Dropped::default(),
            other_paths: Dropped::default(),
        }
    }

    /// Whether the cookie belongs to the site (always, with no site); a
    /// cookie that does not is counted for the warning.
    fn keep_for_site(&mut self, cookie: &Cookie) -> bool {
        let Some(site) = &self.site else {
            return true;
        };
        match scope::belonging(cookie, site) {
            Belonging::Site => true,
            Belonging::OtherPath => {
                let path = cookie.path.as_deref().unwrap_or("/").trim().to_string();
                self.other_paths.note(path);
                false
            }
            Belonging::OtherDomain => {
                self.other_domains.note(scope::domain_label(cookie));
                false
            }
            Belonging::PublicSuffix => {
                let label = format!("{} (a public suffix)", scope::domain_label(cookie));
                self.other_domains.note(label);
                false
            }
        }
    }

    /// A label for the next cookie that names it by position, for errors
    /// raised before its name is known to be a real name.
    pub(crate) fn next_label(&self) -> String {
        format!("#{}", self.seen + 1)
    }

    /// Adds one cookie. `label` identifies it by position when its name is
    /// not valid (a broken name may really be part of a value).
    pub(crate) fn add(&mut self, cookie: Cookie, label: String) -> Result<(), CookieParseError> {
        self.seen += 1;
        // Another site's cookie is dropped before it is judged: its name or
        // value is none of this site's business.
        if !self.keep_for_site(&cookie) {
            return Ok(());
        }
        if let Some(why) = name_problem(&cookie.name) {
            return Err(CookieParseError::InvalidCookie {
                name_or_index: label,
                why: why.into(),
            });
        }
        if let Some(why) = value_problem(cookie.value.expose_secret()) {
            return Err(CookieParseError::InvalidCookie {
                name_or_index: format!("`{}`", cookie.name),
                why: why.into(),
            });
        }
        if cookie.expires.is_some_and(|at| at <= self.now) {
            self.expired += 1;
            self.warnings
                .push(ParseWarning::AlreadyExpired { name: cookie.name });
            return Ok(());
        }
        match self.positions.get(&cookie.name) {
            Some(&position) => {
                if self.duplicates_warned.insert(cookie.name.clone()) {
                    self.warnings.push(ParseWarning::DuplicateName {
                        name: cookie.name.clone(),
                    });
                }
                self.jar.cookies[position] = cookie;
            }
            None => {
                self.positions
                    .insert(cookie.name.clone(), self.jar.cookies.len());
                self.jar.cookies.push(cookie);
            }
        }
        Ok(())
    }

    pub(crate) fn warn(&mut self, warning: ParseWarning) {
        self.warnings.push(warning);
    }

    fn finish(mut self, format: PasteFormat) -> Result<ParsedCookies, CookieParseError> {
        let foreign = self.other_domains.count + self.other_paths.count;
        if self.jar.is_empty() && self.expired == 0 && foreign > 0 {
            let mut places = self.other_domains.labels.clone();
            places.extend(self.other_paths.labels.iter().map(|p| format!("path {p}")));
            return Err(CookieParseError::NoneForSite {
                count: foreign,
                host: self
                    .site
                    .as_ref()
                    .and_then(Url::host_str)
                    .unwrap_or_default()
                    .to_string(),
                domains: list(&places),
            });
        }
        if self.other_domains.count > 0 {
            self.warnings.push(ParseWarning::OtherDomains {
                count: self.other_domains.count,
                domains: std::mem::take(&mut self.other_domains.labels),
            });
        }
        if self.other_paths.count > 0 {
            self.warnings.push(ParseWarning::OtherPaths {
                count: self.other_paths.count,
                paths: std::mem::take(&mut self.other_paths.labels),
            });
        }
        if self.jar.is_empty() {
            return Err(if self.expired > 0 {
                CookieParseError::AllExpired {
                    count: self.expired,
                }
            } else {
                CookieParseError::NoNameValue
            });
        }
        if !self.jar.has_session_cookie() {
            self.warnings.push(ParseWarning::NoSessionCookie);
        }
        Ok(ParsedCookies {
            jar: self.jar,
            format,
            warnings: self.warnings,
        })
    }
}

/// Browsers accept more than RFC 6265 tokens in names, so only what would
/// break the Cookie header (or hide a paste mistake) is refused.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("its name is empty")
    } else if name.chars().any(char::is_whitespace) {
        Some("its name contains a space or line break")
    } else if name.contains([';', '=', ',', '"', '\\']) {
        Some("its name contains one of ; = , \" \\")
    } else if !name.chars().all(|c| c.is_ascii_graphic()) {
        Some("its name contains a character outside printable ASCII")
    } else {
        None
    }
}

fn value_problem(value: &str) -> Option<&'static str> {
    if value.contains(';') {
        Some("its value contains `;`, which would split it in the Cookie header")
    } else if value.chars().any(char::is_control) {
        Some("its value contains a control character or line break")
    } else {
        None
    }
}
