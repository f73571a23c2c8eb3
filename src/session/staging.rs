//! Changing the credentials through the owner, so every part sees the
//! change at once: imports (stage, verify, then commit), clearing cookies,
//! storing or clearing a token, and the fresh browser login the keep-alive
//! picks up by itself.
//!
//! Stage, then commit: cookies from a paste, a file or a browser are asked
//! about before they replace what is stored. If the site refuses them and
//! the stored session still works, the stored one is kept and the caller
//! told so. Refused cookies are not stored at all, except from the intake
//! file when nothing was stored before (the file is emptied as always).
//! A site that does not answer cannot judge: the cookies are stored only
//! when nothing usable is stored. Without verification (`--no-verify`)
//! they are stored as they are.

use std::sync::Arc;

use time::OffsetDateTime;

use super::SessionError;
use super::audit_words;
use super::owner::{Session, SetId, Shared};
use super::state::{Cause, SessionState, Snapshot};
use super::verify::Ask;
use crate::browser::{BrowserSpec, Profile};
use crate::confluence::client::{ClientError, Decorations, NoticeSink};
use crate::confluence::model::User;
use crate::credentials::{
    ClearReport, CredentialError, Credentials, ImportInput, ImportReport, SiteScope, Staged,
};
use crate::exit::ErrorClass;
use crate::secret::SecretString;

/// Whether new credentials are asked about before they are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Ask the site first (the default everywhere).
    First,
    /// Store as they are (`--no-verify`).
    No,
}

/// What an import did.
#[derive(Debug)]
pub struct Imported {
    pub report: ImportReport,
    /// Who the site said the cookies sign in as (verified imports).
    pub user: Option<User>,
    /// The session after the import.
    pub snapshot: Snapshot,
}

/// Runs a credential operation on the blocking pool.
async fn blocking<T: Send + 'static>(
    creds: &Arc<Credentials>,
    f: impl FnOnce(&Credentials) -> Result<T, CredentialError> + Send + 'static,
) -> Result<T, SessionError> {
    let creds = creds.clone();
    match tokio::task::spawn_blocking(move || f(&creds)).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SessionError::new(e.class(), e.to_string())),
        Err(e) => Err(SessionError::new(
            ErrorClass::Internal,
            format!("the credential operation was interrupted: {e}"),
        )),
    }
}

impl Session {
    /// Imports cookies: staged, verified (unless `verify` says not to),
    /// then stored in place of what the site held.
    pub async fn import(
        &self,
        input: ImportInput,
        verify: Verify,
        notices: Option<NoticeSink>,
    ) -> Result<Imported, SessionError> {
        self.shared.import(input, verify, notices, None).await
    }

    /// Reads the site's cookies from a browser profile and imports them
    /// like a paste.
    pub async fn import_from_browser(
        &self,
        spec: BrowserSpec,
        verify: Verify,
        notices: Option<NoticeSink>,
    ) -> Result<Imported, SessionError> {
        let read = blocking(&self.shared.creds, move |c| c.read_from_browser(&spec)).await?;
        self.shared
            .import(ImportInput::Browser(read), verify, notices, None)
            .await
    }

    /// Deletes the site's stored cookies; the session changes at once.
    pub async fn clear_cookies(&self) -> Result<ClearReport, SessionError> {
        let s = &self.shared;
        let _io = s.io.lock().await;
        let report = blocking(&s.creds, |c| c.clear_cookies(SiteScope::Configured)).await;
        s.read_vault(Cause::Cleared).await;
        report
    }

    /// Checks a token with the site (unless `verify` says not to), then
    /// stores it with the user name it is sent with.
    pub async fn store_token(
        &self,
        token: SecretString,
        username: Option<String>,
        verify: Verify,
        notices: Option<NoticeSink>,
    ) -> Result<Snapshot, SessionError> {
        let s = &self.shared;
        let accepted = match verify {
            Verify::No => None,
            Verify::First if s.site_key.is_none() => None,
            Verify::First => {
                let own = s.own_credentials().await?;
                let checked = super::trial::check_token(
                    &s.settings,
                    s.retry.clone(),
                    s.tls.clone(),
                    Some(&own),
                    username.as_deref(),
                    &token,
                    notices,
                )
                .await;
                match checked {
                    Ok(a) => Some(a.user),
                    Err(refused) => {
                        if let Some(record) = refused.record
                            && let Err(audit) = blocking(&s.creds, |c| c.record(record)).await
                        {
                            tracing::warn!(error = %audit, "could not audit the refused token");
                        }
                        return Err(refused.error);
                    }
                }
            }
        };
        let _io = s.io.lock().await;
        let now = OffsetDateTime::now_utc();
        let stored = blocking(&s.creds, move |c| c.store_token(token, username, now)).await;
        s.read_vault(Cause::Token).await;
        drop(_io);
        stored?;
        match accepted {
            Some(user) => s.accept(user, Cause::Token).await,
            None => Ok(self.snapshot()),
        }
    }

    /// Removes the site's stored token; true when one was stored.
    pub async fn clear_token(&self) -> Result<bool, SessionError> {
        let s = &self.shared;
        let _io = s.io.lock().await;
        let cleared = blocking(&s.creds, |c| c.clear_token(SiteScope::Configured)).await;
        s.read_vault(Cause::Token).await;
        cleared.map(|n| n > 0)
    }
}

impl Shared {
    pub(super) async fn import(
        self: &Arc<Self>,
        input: ImportInput,
        verify: Verify,
        notices: Option<NoticeSink>,
        pickup: Option<&Profile>,
    ) -> Result<Imported, SessionError> {
        let now = OffsetDateTime::now_utc();
        let staged = blocking(&self.creds, move |c| c.stage(input, now)).await?;
        if verify == Verify::No {
            return self.commit(staged, None, pickup).await;
        }
        let Some(decorations) = self.staged_decorations(&staged).await? else {
            // A gateway's cookies with nothing that signs in to Confluence
            // yet: nothing to ask the site; stored, and the session says
            // what is missing (a token).
            return self.commit(staged, None, pickup).await;
        };
        let tried = super::trial::trial(
            &self.settings,
            self.retry.clone(),
            self.tls.clone(),
            decorations,
            notices,
        )
        .await;
        match tried {
            Ok((user, _)) => self.commit(staged, Some(user), pickup).await,
            Err(e) => self.refused(staged, e, pickup).await,
        }
    }

    /// The site did not take the staged cookies (or did not answer).
    async fn refused(
        self: &Arc<Self>,
        staged: Staged,
        e: ClientError,
        pickup: Option<&Profile>,
    ) -> Result<Imported, SessionError> {
        self.ensure_fresh(Cause::Vault).await;
        let cookies_before = matches!(self.held().set, Some(SetId::Cookies(..)));
        let class = e.class();
        if !matches!(class, ErrorClass::Auth | ErrorClass::Captcha) {
            // Nobody can judge the cookies now: keep a usable stored
            // session, else store them unverified.
            if class == ErrorClass::Network && !self.usable_stored() {
                return self.commit(staged, None, pickup).await;
            }
            return Err(SessionError::new(
                class,
                format!(
                    "could not verify the cookies: {e}; they were not stored{} (`cookies import --no-verify` stores them without asking the site)",
                    if self.usable_stored() {
                        ", and the stored session stays"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let kept = self.stored_works().await;
        if !kept && !cookies_before && staged.from_intake() {
            // The intake file with nothing stored before: stored as it
            // always was, and found dead by the verification that follows.
            let imported = self.commit(staged, None, pickup).await?;
            let snapshot = self.verify(Ask::IfUseful, None).await?;
            return Ok(Imported {
                snapshot,
                ..imported
            });
        }
        let names = staged.cookies.jar.names();
        let source = staged.source().to_string();
        let status = e.outcome().and_then(refusal_status);
        let reason = e.to_string();
        let record = audit_words::cookies_refused(names, &source, &reason, status, kept);
        if let Err(audit) = blocking(&self.creds, |c| c.record(record)).await {
            tracing::warn!(error = %audit, "could not audit the refused cookies");
        }
        let message = if kept {
            format!(
                "the site refused the new cookies ({reason}); they were not stored, and the stored session still works and was kept"
            )
        } else {
            format!(
                "the site refused the new cookies ({reason}); nothing was stored: sign in to the site in the browser again and copy fresh cookies"
            )
        };
        Err(SessionError::new(class, message))
    }

    /// The site's stored credentials (one vault read, nothing changed).
    pub(super) async fn own_credentials(
        self: &Arc<Self>,
    ) -> Result<crate::vault::SiteCredentials, SessionError> {
        blocking(&self.creds, |c| {
            if !c.paths().vault_file.exists() {
                return Ok(Default::default());
            }
            let doc = c.load()?;
            Ok(c.site()
                .and_then(|s| doc.site(s))
                .cloned()
                .unwrap_or_default())
        })
        .await
    }

    /// What requests would carry once `staged` is stored: the credential
    /// chosen as it will be then (a gateway's cookies alone go next to a
    /// token), with the gateway's headers. None: the staged cookies are a
    /// gateway's only and nothing else signs in to Confluence.
    async fn staged_decorations(
        self: &Arc<Self>,
        staged: &Staged,
    ) -> Result<Option<Decorations>, SessionError> {
        let cookies = staged.cookies.clone();
        let settings = self.settings.clone();
        blocking(&self.creds, move |c| {
            let mut doc = if c.paths().vault_file.exists() {
                c.load()?
            } else {
                Default::default()
            };
            let now = OffsetDateTime::now_utc();
            if let Some(site) = c.site() {
                let own = doc.site_mut(site);
                own.cookies = Some(cookies.clone());
                own.session = None;
            }
            let gateway_only = cookies.jar.only_gateway_cookies(&settings.gateway_cookies);
            Ok(match crate::auth::choose(&settings, c, &doc, now) {
                Ok(r) => Some(r.decorations),
                Err(_) if gateway_only => None,
                Err(_) => Some(Decorations::cookies(cookies.jar)),
            })
        })
        .await
    }

    /// Stores staged cookies, takes them in as the new credentials, and
    /// when the site accepted them, the session is signed in.
    async fn commit(
        self: &Arc<Self>,
        staged: Staged,
        user: Option<User>,
        pickup: Option<&Profile>,
    ) -> Result<Imported, SessionError> {
        let source = staged.source().to_string();
        let cause = match pickup {
            Some(p) => Cause::BrowserPickup {
                browser: p.kind.name().to_string(),
                profile: p.dir.display().to_string(),
            },
            None => Cause::Imported { source },
        };
        let report = {
            let _io = self.io.lock().await;
            let report = blocking(&self.creds, move |c| c.commit(staged)).await;
            self.read_vault(cause.clone()).await;
            report?
        };
        let snapshot = match user.clone() {
            Some(u) => self.accept(u, cause).await?,
            None => {
                let mut held = self.held();
                self.publish(&mut held, cause)
            }
        };
        Ok(Imported {
            report,
            user,
            snapshot,
        })
    }

    /// New credentials that a trial just saw accepted as `user`: signed in,
    /// as a verification would have recorded it.
    pub(super) async fn accept(
        self: &Arc<Self>,
        user: User,
        cause: Cause,
    ) -> Result<Snapshot, SessionError> {
        let (generation, was) = {
            let mut held = self.held();
            held.verify_soon = false;
            (held.generation, held.state.clone())
        };
        self.verified(user, generation, &was, cause).await
    }

    /// Whether usable credentials are stored (not found dead).
    fn usable_stored(&self) -> bool {
        let held = self.held();
        held.lent.is_some() && !held.state.is_dead() && !held.state.waits_for_credentials()
    }

    /// Whether the stored session still works: signed in, or the site says
    /// so when asked now.
    async fn stored_works(self: &Arc<Self>) -> bool {
        match self.held().state {
            SessionState::SignedIn => return true,
            SessionState::Checking | SessionState::Unreachable { .. } => {}
            _ => return false,
        }
        matches!(
            self.verify(Ask::IfUseful, None).await,
            Ok(s) if s.is_signed_in()
        )
    }

    /// The keep-alive's look in the browser while the session is dead: a
    /// fresh login there (a session cookie unlike the stored one) is
    /// imported, once the site has accepted it.
    pub(super) async fn pick_up_from_browser(self: &Arc<Self>) {
        let Some(spec) = self.watch.browser.clone() else {
            return;
        };
        if !self.held().state.is_dead() {
            return;
        }
        let read = blocking(&self.creds, move |c| c.read_fresh_browser_session(&spec)).await;
        let read = match read {
            Ok(Some(read)) => read,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "the browser's cookie store could not be read");
                return;
            }
        };
        let profile = read.profile.clone();
        match self
            .import(
                ImportInput::Browser(read),
                Verify::First,
                None,
                Some(&profile),
            )
            .await
        {
            Ok(done) => tracing::info!(
                count = done.report.names.len(),
                browser = profile.kind.name(),
                "imported a fresh session from the browser"
            ),
            Err(e) => tracing::info!(error = %e, "the browser's session was not taken"),
        }
    }
}

/// The HTTP status of a refusal, when it names one.
fn refusal_status(outcome: &crate::confluence::classify::Outcome) -> Option<u16> {
    use crate::confluence::classify::Outcome;
    match outcome {
        Outcome::SessionExpired { status, .. }
        | Outcome::CredentialsRejected { status, .. }
        | Outcome::Captcha { status, .. } => Some(*status),
        Outcome::Anonymous => Some(200),
        _ => None,
    }
}
