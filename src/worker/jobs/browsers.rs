//! The worker's browser job: listing the profiles found.

use std::sync::Arc;

use super::Ctx;
use crate::worker::{Event, QueryKind, WorkerError, browsers};

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
}
