//! The worker's browser jobs: listing the profiles found, and the fresh
//! login the TUI looks for while the session is dead.

use std::sync::Arc;

use time::OffsetDateTime;

use super::Ctx;
use crate::worker::{Event, MutationDone, QueryKind, WorkerError, browsers};

impl Ctx {
    /// Lists the browser profiles found, each read for the site, on the
    /// blocking pool (profiles are databases); answers `BrowserProfiles`.
    pub(super) async fn list_browser_profiles(self: Arc<Self>) {
        let Some(site) = self.settings.base_url.clone() else {
            self.send(Event::Failed {
                query: QueryKind::Browsers,
                error: WorkerError::new(
                    crate::exit::ErrorClass::Usage,
                    "no site is set: set CONFLUENCE_BASE_URL (s on the status screen) before importing from a browser",
                ),
            });
            return;
        };
        let configured = self.settings.browser.clone();
        let listed = tokio::task::spawn_blocking(move || {
            browsers::list_profiles(configured.as_ref(), &site)
        })
        .await;
        match listed {
            Ok(list) => {
                self.send(Event::BrowserProfiles(list));
            }
            Err(e) => {
                self.send(Event::Failed {
                    query: QueryKind::Browsers,
                    error: WorkerError::new(
                        crate::exit::ErrorClass::Internal,
                        format!("listing the browser profiles was interrupted: {e}"),
                    ),
                });
            }
        }
    }

    /// Imports the configured browser's session when it is a fresh login
    /// (blocking). Nothing configured, nothing new, or a profile that
    /// cannot be read now (the browser mid-write): nothing to import; the
    /// next change of its files looks again.
    pub(super) fn import_fresh_browser_session(&self, now: OffsetDateTime) -> MutationDone {
        let Some(spec) = self.settings.browser.as_ref() else {
            return MutationDone::NothingToImport;
        };
        match self.creds.import_fresh_browser_session_from(spec, now) {
            Ok(Some((profile, report))) => MutationDone::BrowserSessionImported { profile, report },
            Ok(None) => MutationDone::NothingToImport,
            Err(e) => {
                tracing::warn!(error = %e, "could not import from the browser");
                MutationDone::NothingToImport
            }
        }
    }
}
