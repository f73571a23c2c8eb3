//! First-run setup's two worker steps: the live check of a site address
//! (a query: anonymous, once) and writing the site to the `.env` file the
//! settings are read from (a mutation, audited by setting names).

use std::sync::Arc;

use super::Ctx;
use crate::confluence::client::Deployment;
use crate::confluence::probe::probe_site;
use crate::exit::ErrorClass;
use crate::worker::{Event, MutationDone, WorkerError, audit_words};

impl Ctx {
    /// Checks the address `url` as typed; always answers `Event::SiteProbe`.
    pub(in crate::worker) async fn probe_site(self: &Arc<Self>, url: String) {
        let result = probe_site(
            &url,
            self.settings.timeout,
            self.settings.ca_bundle.as_deref(),
        )
        .await;
        if let Err(e) = &result {
            tracing::info!(error = %e, "the site address did not check out");
        }
        self.send(Event::SiteProbe { url, result });
    }

    /// Writes `CONFLUENCE_BASE_URL`, `CONFLUENCE_DEPLOYMENT` (and
    /// `CONFLUENCE_USERNAME`) to the `.env` file in use.
    pub(in crate::worker) async fn write_site_settings(
        self: &Arc<Self>,
        base_url: String,
        deployment: Deployment,
        username: Option<String>,
    ) -> Result<MutationDone, WorkerError> {
        // The same rules as reading it back: refused here, not after.
        crate::config::parse_base_url(&base_url)
            .map_err(|e| WorkerError::new(ErrorClass::Usage, e.to_string()))?;
        let path = self.settings.env_file_looked_for.clone();
        let mut settings = vec![
            ("CONFLUENCE_BASE_URL", base_url.clone()),
            (
                "CONFLUENCE_DEPLOYMENT",
                match deployment {
                    Deployment::Cloud => "cloud",
                    Deployment::Server => "server",
                }
                .to_string(),
            ),
        ];
        if let Some(u) = username.filter(|u| !u.trim().is_empty()) {
            settings.push(("CONFLUENCE_USERNAME", u.trim().to_string()));
        }
        let target = path.clone();
        let written = tokio::task::spawn_blocking(move || {
            crate::config::write_env_settings(&target, &settings)
        })
        .await
        .map_err(|e| {
            WorkerError::new(
                ErrorClass::Internal,
                format!("writing the settings was interrupted: {e}"),
            )
        })?
        .map_err(|e| WorkerError::new(ErrorClass::Usage, e.to_string()))?;
        let entry = audit_words::settings_written(&written.names, &path, &base_url);
        if let Err(e) = self.audit(entry).await {
            // The file is written; the record's failure is logged.
            tracing::warn!(error = %e, "could not audit the settings written");
        }
        Ok(MutationDone::SettingsWritten {
            path,
            created: written.created,
        })
    }
}
