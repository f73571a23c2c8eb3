//! What the worker says about the browser profiles it finds: per profile,
//! how many of the site's cookies it holds and whether a session cookie is
//! among them, or why it cannot be read. Never a value.

use time::OffsetDateTime;
use url::Url;

use crate::browser::{self, BrowserChoice, BrowserError, BrowserSpec, Profile};

/// One profile found, and what reading it for the site gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserProfileInfo {
    pub profile: Profile,
    pub read: Result<ProfileCookies, ProfileProblem>,
}

/// The site's cookies in a profile: names and expiry, no values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileCookies {
    /// Every cookie of the site, in the profile's order.
    pub names: Vec<String>,
    /// The session cookies among them.
    pub session_cookies: Vec<String>,
    /// The earliest expiry a cookie carries; `None` when none carries one.
    pub expires_at: Option<OffsetDateTime>,
}

/// Why a profile cannot be imported: a few words for the list, the full
/// sentence for the preview.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileProblem {
    pub short: String,
    pub message: String,
}

impl From<&BrowserError> for ProfileProblem {
    fn from(e: &BrowserError) -> ProfileProblem {
        let short = match e {
            BrowserError::AppBound { .. } => "v20: app-bound, paste instead".to_string(),
            BrowserError::UnsupportedEncryption { what, .. } => {
                format!("{what}: paste instead")
            }
            BrowserError::NothingForSite { .. } | BrowserError::NothingAnywhere { .. } => {
                "no cookie for this site".into()
            }
            BrowserError::Key(_) | BrowserError::Decrypt { .. } => "cannot decrypt".into(),
            BrowserError::CorruptDatabase { .. } => "database unreadable, try again".into(),
            BrowserError::SessionStore { .. } => "session store unreadable".into(),
            BrowserError::Unreadable { .. } | BrowserError::TempCopy(_) => "unreadable".into(),
            BrowserError::UnknownBrowser { .. }
            | BrowserError::NoProfile { .. }
            | BrowserError::NotAProfile { .. } => "not a profile".into(),
        };
        ProfileProblem {
            short,
            message: e.to_string(),
        }
    }
}

/// Every profile found (the one `CONFLUENCE_BROWSER` names first), each
/// read for `site`. Blocking: profiles are databases on disk.
pub(crate) fn list_profiles(
    configured: Option<&BrowserSpec>,
    site: &Url,
) -> Vec<BrowserProfileInfo> {
    let mut profiles: Vec<Profile> = Vec::new();
    let auto = BrowserSpec {
        choice: BrowserChoice::Auto,
        profile: None,
    };
    for spec in configured.into_iter().chain(std::iter::once(&auto)) {
        // No profile anywhere is an empty list, not an error.
        for p in browser::resolve_profiles(spec).unwrap_or_default() {
            if !profiles.iter().any(|q| q == &p) {
                profiles.push(p);
            }
        }
    }
    profiles
        .into_iter()
        .map(|profile| {
            let read = browser::read_profile(&profile, site)
                .map(|read| summarize(&read.cookies))
                .map_err(|e| ProfileProblem::from(&e));
            BrowserProfileInfo { profile, read }
        })
        .collect()
}

fn summarize(cookies: &[crate::cookies::jar::Cookie]) -> ProfileCookies {
    ProfileCookies {
        names: cookies.iter().map(|c| c.name.clone()).collect(),
        session_cookies: cookies
            .iter()
            .filter(|c| c.is_session_cookie())
            .map(|c| c.name.clone())
            .collect(),
        expires_at: cookies.iter().filter_map(|c| c.expires).min(),
    }
}
