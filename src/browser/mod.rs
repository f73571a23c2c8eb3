//! Reading the configured site's cookies straight from a browser profile:
//! Firefox (`cookies.sqlite` and the session store) and the Chromium family
//! (`Cookies`, decrypted as each platform keeps its key).
//!
//! ```text
//! BrowserSpec::parse("firefox:/path") → read_site_cookies(&spec, &site)
//!   → BrowserCookies { cookies, profile, newest_session }
//! store_files(&profile) → the files a watcher watches
//! ```
//!
//! A profile is never written: databases are read from a private copy.
//! Only cookies whose host domain-matches the site are selected, and only
//! those are decrypted. Everything read from a profile is hostile text: it
//! goes through the same checks as a paste (`cookies::parse`) before it is
//! stored, and no value ever reaches an error, a log or the audit log.

mod chromium;
mod copy;
pub mod crypto;
mod firefox;
mod keys;
pub mod mozlz4;
mod profiles;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use time::OffsetDateTime;
use url::Url;

use crate::cookies::jar::Cookie;
use crate::cookies::scope::{self, Belonging};
use crate::exit::ErrorClass;

/// A browser whose profiles can be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserKind {
    Firefox,
    Chromium,
    Chrome,
    Brave,
    Edge,
}

impl BrowserKind {
    /// Every browser, in the order `auto` looks.
    pub const ALL: [BrowserKind; 5] = [
        BrowserKind::Firefox,
        BrowserKind::Chromium,
        BrowserKind::Chrome,
        BrowserKind::Brave,
        BrowserKind::Edge,
    ];

    /// The name on the command line and in audit records.
    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Firefox => "firefox",
            BrowserKind::Chromium => "chromium",
            BrowserKind::Chrome => "chrome",
            BrowserKind::Brave => "brave",
            BrowserKind::Edge => "edge",
        }
    }
}

/// Which browser to read: one, or every profile found (`auto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrowserChoice {
    One(BrowserKind),
    /// Every profile found; the one with the newest session cookie wins.
    Auto,
}

impl BrowserChoice {
    /// The name as given.
    pub fn name(self) -> &'static str {
        match self {
            BrowserChoice::One(kind) => kind.name(),
            BrowserChoice::Auto => "auto",
        }
    }
}

impl FromStr for BrowserChoice {
    type Err = BrowserError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if s == "auto" {
            return Ok(BrowserChoice::Auto);
        }
        let alias = match s.as_str() {
            "google-chrome" => "chrome",
            "msedge" | "microsoft-edge" => "edge",
            "firefox-esr" => "firefox",
            other => other,
        };
        BrowserKind::ALL
            .into_iter()
            .find(|k| k.name() == alias)
            .map(BrowserChoice::One)
            .ok_or(BrowserError::UnknownBrowser {
                name: crate::text::for_terminal(&s).into_owned(),
            })
    }
}

/// A browser and, optionally, the profile to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserSpec {
    pub choice: BrowserChoice,
    pub profile: Option<PathBuf>,
}

impl BrowserSpec {
    /// `NAME` or `NAME:PROFILE_PATH` (`CONFLUENCE_BROWSER`).
    pub fn parse(text: &str) -> Result<BrowserSpec, BrowserError> {
        let (name, profile) = match text.split_once(':') {
            Some((name, path)) if !path.trim().is_empty() => {
                (name, Some(PathBuf::from(path.trim())))
            }
            Some((name, _)) => (name, None),
            None => (text, None),
        };
        Ok(BrowserSpec {
            choice: name.parse()?,
            profile,
        })
    }

    /// What an audit record says the cookies came from before a profile is
    /// known: `browser:<name>:<profile or "default">`.
    pub fn label(&self) -> String {
        let profile = self
            .profile
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "default".into());
        format!("browser:{}:{profile}", self.choice.name())
    }
}

/// One profile directory of one browser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub kind: BrowserKind,
    pub dir: PathBuf,
}

/// The site's cookies as one profile holds them (values secret).
#[derive(Debug)]
pub struct BrowserCookies {
    pub cookies: Vec<Cookie>,
    pub profile: Profile,
    /// When the newest of the site's session cookies was set, as far as
    /// the profile tells (`auto` picks the newest).
    pub newest_session: Option<OffsetDateTime>,
}

/// Why a profile could not be read. Never carries a cookie value.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error(
        "unknown browser \"{name}\": use one of firefox, chromium, chrome, brave, edge, or auto"
    )]
    UnknownBrowser { name: String },
    #[error(
        "no {browser} profile found (looked in {}); start the browser once and sign in to the site, or name the profile with --profile PATH",
        list_paths(looked_in)
    )]
    NoProfile {
        browser: &'static str,
        looked_in: Vec<PathBuf>,
    },
    #[error("{} is not a {browser} profile (no cookie database found there)", path.display())]
    NotAProfile {
        browser: &'static str,
        path: PathBuf,
    },
    #[error("cannot read {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "{} is not a readable cookie database ({reason}); the profile may be damaged, or the browser was mid-write: try again, or paste the Cookie header instead (`confluence-tui cookies import -`)",
        path.display()
    )]
    CorruptDatabase { path: PathBuf, reason: String },
    #[error("the session store {} cannot be read: {reason}", path.display())]
    SessionStore { path: PathBuf, reason: String },
    #[error(
        "the cookie `{name}` for {host} in {} uses Windows app-bound encryption (v20), which only the browser itself can decrypt: copy the Cookie header from the browser's developer tools and paste it instead (`confluence-tui cookies import -`, or `p` in the interface)",
        path.display()
    )]
    AppBound {
        name: String,
        host: String,
        path: PathBuf,
    },
    #[error(
        "the cookie `{name}` for {host} in {} is encrypted in a way this tool does not read ({what}): paste the Cookie header instead (`confluence-tui cookies import -`)",
        path.display()
    )]
    UnsupportedEncryption {
        name: String,
        host: String,
        path: PathBuf,
        what: &'static str,
    },
    #[error("the cookie `{name}` for {host} cannot be decrypted: {why}")]
    Decrypt {
        name: String,
        host: String,
        why: crypto::DecryptError,
    },
    #[error("the browser's cookie key is not available: {0}")]
    Key(#[from] keys::KeyUnavailable),
    #[error(
        "{browser} holds no cookie for {host} in {}: sign in to the site in that browser first",
        profile.display()
    )]
    NothingForSite {
        browser: &'static str,
        host: String,
        profile: PathBuf,
    },
    #[error("no browser profile holds a cookie for {host} (looked in {looked})")]
    NothingAnywhere { host: String, looked: String },
    #[error("cannot make a private copy of the cookie database: {0}")]
    TempCopy(String),
}

impl BrowserError {
    /// What kind of failure this is (decides the exit code).
    pub fn class(&self) -> ErrorClass {
        match self {
            BrowserError::NothingForSite { .. } | BrowserError::NothingAnywhere { .. } => {
                ErrorClass::Auth
            }
            BrowserError::TempCopy(_) => ErrorClass::Internal,
            _ => ErrorClass::Usage,
        }
    }

    /// A short word for audit records.
    pub fn reason_code(&self) -> &'static str {
        match self {
            BrowserError::UnknownBrowser { .. } => "unknown_browser",
            BrowserError::NoProfile { .. } | BrowserError::NotAProfile { .. } => "no_profile",
            BrowserError::Unreadable { .. } => "profile_unreadable",
            BrowserError::CorruptDatabase { .. } => "corrupt_database",
            BrowserError::SessionStore { .. } => "session_store_unreadable",
            BrowserError::AppBound { .. } => "app_bound_encryption",
            BrowserError::UnsupportedEncryption { .. } => "unsupported_encryption",
            BrowserError::Decrypt { .. } => "decrypt_failed",
            BrowserError::Key(_) => "key_unavailable",
            BrowserError::NothingForSite { .. } | BrowserError::NothingAnywhere { .. } => {
                "no_cookies_for_site"
            }
            BrowserError::TempCopy(_) => "temp_copy_failed",
        }
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The profiles a spec names: the given one, the browser's default, or
/// (`auto`) every profile found.
pub fn resolve_profiles(spec: &BrowserSpec) -> Result<Vec<Profile>, BrowserError> {
    match (spec.choice, spec.profile.as_deref()) {
        (BrowserChoice::One(kind), Some(path)) => Ok(vec![profiles::given(kind, path)?]),
        (BrowserChoice::One(kind), None) => Ok(vec![profiles::default_profile(kind)?]),
        (BrowserChoice::Auto, Some(path)) => {
            let kind = profiles::kind_of(path).ok_or_else(|| BrowserError::NotAProfile {
                browser: "browser",
                path: path.to_path_buf(),
            })?;
            Ok(vec![profiles::given(kind, path)?])
        }
        (BrowserChoice::Auto, None) => {
            let all: Vec<Profile> = BrowserKind::ALL
                .into_iter()
                .flat_map(profiles::find)
                .collect();
            if all.is_empty() {
                return Err(BrowserError::NoProfile {
                    browser: "browser",
                    looked_in: BrowserKind::ALL
                        .into_iter()
                        .flat_map(profiles::base_dirs)
                        .collect(),
                });
            }
            Ok(all)
        }
    }
}

/// Reads the site's cookies from the profile the spec names. With `auto`,
/// every profile found is read and the one whose newest session cookie is
/// the newest wins (profiles that cannot be read are skipped).
pub fn read_site_cookies(spec: &BrowserSpec, site: &Url) -> Result<BrowserCookies, BrowserError> {
    let profiles = resolve_profiles(spec)?;
    if spec.choice != BrowserChoice::Auto {
        let profile = profiles.into_iter().next().ok_or(BrowserError::NoProfile {
            browser: spec.choice.name(),
            looked_in: Vec::new(),
        })?;
        return read_profile(&profile, site);
    }
    let mut best: Option<BrowserCookies> = None;
    let mut first_error = None;
    let mut looked = Vec::new();
    for profile in profiles {
        looked.push(profile.dir.display().to_string());
        match read_profile(&profile, site) {
            Ok(read) if read.cookies.is_empty() => {}
            Ok(read) => {
                let better = best.as_ref().is_none_or(|b| {
                    (read.newest_session.is_some(), read.newest_session)
                        > (b.newest_session.is_some(), b.newest_session)
                });
                if better {
                    best = Some(read);
                }
            }
            Err(e) => {
                tracing::warn!(profile = %profile.dir.display(), error = %e, "skipping a browser profile");
                first_error.get_or_insert(e);
            }
        }
    }
    match (best, first_error) {
        (Some(best), _) => Ok(best),
        (None, Some(e)) => Err(e),
        (None, None) => Err(BrowserError::NothingAnywhere {
            host: site.host_str().unwrap_or_default().to_string(),
            looked: looked.join(", "),
        }),
    }
}

/// Reads one profile; an empty result is `NothingForSite`.
pub fn read_profile(profile: &Profile, site: &Url) -> Result<BrowserCookies, BrowserError> {
    let read = match profile.kind {
        BrowserKind::Firefox => firefox::read(profile, site)?,
        _ => chromium::read(profile, site)?,
    };
    if read.cookies.is_empty() {
        return Err(BrowserError::NothingForSite {
            browser: profile.kind.name(),
            host: site.host_str().unwrap_or_default().to_string(),
            profile: profile.dir.clone(),
        });
    }
    Ok(read)
}

/// The files whose change means the profile's cookies may have changed
/// (`watch` waits on them), in the directories that hold them.
pub fn store_files(profile: &Profile) -> Vec<PathBuf> {
    let d = &profile.dir;
    match profile.kind {
        BrowserKind::Firefox => vec![
            d.join("cookies.sqlite"),
            d.join("cookies.sqlite-wal"),
            d.join("sessionstore-backups").join("recovery.jsonlz4"),
            d.join("sessionstore.jsonlz4"),
        ],
        _ => {
            let db = chromium::database(d).unwrap_or_else(|| d.join("Network").join("Cookies"));
            let mut wal = db.as_os_str().to_os_string();
            wal.push("-journal");
            vec![db.clone(), PathBuf::from(wal)]
        }
    }
}

/// The host names a cookie of the site may be stored under: the host
/// itself (host-only) and, for a domain name, each of its parent domains
/// with a leading dot. The database is asked for these rows only.
pub(crate) fn candidate_hosts(site: &Url) -> Vec<String> {
    let Some(host) = site.host_str() else {
        return Vec::new();
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let mut out = vec![host.clone()];
    if matches!(site.host(), Some(url::Host::Domain(_))) {
        let mut rest = host.as_str();
        loop {
            out.push(format!(".{rest}"));
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => break,
            }
        }
    }
    out
}

/// Whether a cookie stored under `host` with `path` belongs to the site
/// (RFC 6265, the same judgement as a paste's), before its value is read.
pub(crate) fn belongs(host: &str, path: &str, site: &Url) -> bool {
    let mut probe = Cookie::new("probe", "");
    probe.domain = Some(host.to_string());
    probe.path = Some(path.to_string());
    scope::belonging(&probe, site) == Belonging::Site
}

/// A placeholder `?` list of `n` SQL parameters.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn browser_names_and_specs_parse() {
        assert_eq!(
            BrowserSpec::parse("firefox").unwrap(),
            BrowserSpec {
                choice: BrowserChoice::One(BrowserKind::Firefox),
                profile: None
            }
        );
        let spec = BrowserSpec::parse("Chromium:/tmp/p q").unwrap();
        assert_eq!(spec.choice, BrowserChoice::One(BrowserKind::Chromium));
        assert_eq!(spec.profile.as_deref(), Some(Path::new("/tmp/p q")));
        assert_eq!(
            BrowserSpec::parse("auto").unwrap().choice,
            BrowserChoice::Auto
        );
        assert_eq!(spec.label(), "browser:chromium:/tmp/p q");
        let err = BrowserSpec::parse("netscape\u{1b}[2J").unwrap_err();
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
        assert_eq!(err.class(), ErrorClass::Usage);
    }

    #[test]
    fn candidate_hosts_cover_the_host_and_its_parents() {
        let site = Url::parse("https://x.atlassian.net/wiki").unwrap();
        assert_eq!(
            candidate_hosts(&site),
            [
                "x.atlassian.net",
                ".x.atlassian.net",
                ".atlassian.net",
                ".net"
            ]
        );
        let ip = Url::parse("http://127.0.0.1:8090/").unwrap();
        assert_eq!(candidate_hosts(&ip), ["127.0.0.1"]);
        assert!(belongs(".atlassian.net", "/", &site));
        assert!(!belongs(".net", "/", &site));
        assert!(!belongs("y.atlassian.net", "/", &site));
        assert!(!belongs("x.atlassian.net", "/jira", &site));
    }
}
