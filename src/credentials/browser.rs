//! Importing the site's cookies from a browser profile: read (a failure is
//! audited like any failed import), then the same import as a paste.

use time::OffsetDateTime;

use crate::browser::{self, BrowserCookies, BrowserSpec};
use crate::cookies::jar::CookieSource;
use crate::secret::ExposeSecret;

use super::{CredentialError, Credentials, ImportInput, ImportReport};

impl Credentials {
    /// Reads the site's cookies from the browser profile `spec` names and
    /// imports them (audited with source `browser:<name>:<profile>`).
    pub fn import_from_browser(
        &self,
        spec: &BrowserSpec,
        now: OffsetDateTime,
    ) -> Result<ImportReport, CredentialError> {
        let read = self.read_from_browser(spec)?;
        self.import(ImportInput::Browser(read), now)
    }

    /// Reads the site's cookies from the browser profile `spec` names,
    /// audited like any failed import when it cannot be read.
    pub fn read_from_browser(&self, spec: &BrowserSpec) -> Result<BrowserCookies, CredentialError> {
        self.read_browser(spec).map_err(|e| {
            let source = spec_source(spec);
            self.fail("read the browser's cookies", Some(&source), e)
        })
    }

    /// For a watcher: the browser's cookies for the site when they carry a
    /// session cookie whose value differs from the stored one (a fresh
    /// login); `Ok(None)`: nothing new. A failed read is not audited (the
    /// watcher tries again on every change of the browser's files).
    pub fn read_fresh_browser_session(
        &self,
        spec: &BrowserSpec,
    ) -> Result<Option<BrowserCookies>, CredentialError> {
        let read = self.read_browser(spec)?;
        let stored = self.stored_session_values()?;
        let fresh = read.cookies.iter().any(|c| {
            c.is_session_cookie()
                && !c.value.expose_secret().is_empty()
                && !stored.iter().any(|(name, value)| {
                    name == &c.name && value.expose_secret() == c.value.expose_secret()
                })
        });
        Ok(fresh.then_some(read))
    }

    fn read_browser(&self, spec: &BrowserSpec) -> Result<BrowserCookies, CredentialError> {
        let site = self.require_site("import the cookies again")?;
        let url = site.url().ok_or(CredentialError::NoSite {
            action: "import the cookies again",
        })?;
        Ok(browser::read_site_cookies(spec, &url)?)
    }

    /// The stored session cookies of the site (name, value).
    fn stored_session_values(
        &self,
    ) -> Result<Vec<(String, crate::secret::SecretString)>, CredentialError> {
        let doc = self.load()?;
        Ok(self
            .own(&doc)
            .cookies
            .map(|stored| {
                stored
                    .jar
                    .cookies
                    .into_iter()
                    .filter(|c| c.is_session_cookie())
                    .map(|c| (c.name, c.value))
                    .collect()
            })
            .unwrap_or_default())
    }
}

fn spec_source(spec: &BrowserSpec) -> CookieSource {
    CookieSource::Browser {
        browser: spec.choice.name().to_string(),
        profile: spec
            .profile
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "default".into()),
    }
}
