//! The owner and the vault: reading it when it changed (another process
//! imported, refreshed, cleared or marked the credentials), and saving the
//! cookies the site refreshed. Of two copies of the same cookie set, the
//! later refresh wins, in both directions: a read never brings back an
//! older value than the owner holds, and a save never writes one over a
//! newer value another process stored.

use std::sync::Arc;

use time::OffsetDateTime;

use super::SessionError;
use super::lend::note_own_write;
use super::owner::{Held, Lent, SetId, Shared};
use super::state::{Cause, SessionState};
use crate::auth::{AuthError, choose};
use crate::confluence::client::{AuthMode, Decorations};
use crate::vault::{StoredSession, VaultDocument, VaultStamp};

impl Shared {
    /// Reads the vault when it changed since this owner last read or wrote
    /// it (or was never read), and takes in what it holds.
    pub(super) async fn ensure_fresh(self: &Arc<Self>, cause: Cause) {
        if self.site_key.is_none() {
            return;
        }
        if !self.vault_changed() {
            return;
        }
        let _io = self.io.lock().await;
        if !self.vault_changed() {
            return;
        }
        self.read_vault(cause).await;
    }

    /// Reads the vault now (the caller holds the I/O lock) and takes in
    /// what it holds.
    pub(super) async fn read_vault(self: &Arc<Self>, cause: Cause) {
        let creds = self.creds.clone();
        let settings = self.settings.clone();
        let read = tokio::task::spawn_blocking(move || {
            let vault = &creds.paths().vault_file;
            let stamp = VaultStamp::of(vault);
            let doc = if vault.exists() {
                creds.load()
            } else {
                Ok(VaultDocument::default())
            };
            // The client certificate is read with the credentials: the
            // vault may keep it, or the password of the one named.
            let identity = doc.as_ref().ok().and_then(|d| {
                let own = creds
                    .site()
                    .and_then(|s| d.site(s))
                    .cloned()
                    .unwrap_or_default();
                super::identity::client_identity(&settings, &own)
            });
            (doc, stamp, identity)
        })
        .await;
        let mut held = self.held();
        let first = !held.loaded;
        match read {
            Ok((Ok(doc), stamp, identity)) => {
                held.seen = stamp;
                held.proxy_clients = Arc::new(
                    self.creds
                        .site()
                        .and_then(|s| doc.site(s))
                        .map(|own| own.proxy_clients.clone())
                        .unwrap_or_default(),
                );
                self.adopt(&mut held, &doc);
                self.offer_identity(&mut held, identity);
            }
            Ok((Err(e), stamp, _)) => {
                held.seen = stamp;
                held.proxy_clients = Arc::new(Vec::new());
                self.replace(
                    &mut held,
                    None,
                    None,
                    SessionState::Failed {
                        class: e.class(),
                        message: e.to_string(),
                    },
                );
            }
            Err(e) => {
                // Not marked as read: the next use tries again.
                tracing::error!(error = %e, "the vault read was interrupted");
                return;
            }
        }
        held.loaded = true;
        self.publish(&mut held, if first { Cause::Start } else { cause });
    }

    /// Offers the client certificate read with the vault from now on; one
    /// that cannot be read stops every request until it is fixed (the
    /// message says how), since the gateway would refuse them anyway.
    fn offer_identity(
        &self,
        held: &mut Held,
        identity: Option<
            Result<
                crate::confluence::client::ClientIdentity,
                crate::confluence::client::IdentityError,
            >,
        >,
    ) {
        let Some(tls) = &self.tls else { return };
        match identity {
            Some(Ok(id)) => {
                tracing::info!(certificate = %id.describe(), "offering a client certificate");
                tls.set_identity(Some(Arc::new(id)));
                if std::mem::take(&mut held.identity_problem) {
                    held.state = SessionState::Checking;
                    held.verify_soon = true;
                }
            }
            Some(Err(e)) => {
                tls.set_identity(None);
                held.identity_problem = true;
                held.state = SessionState::Failed {
                    class: e.class(),
                    message: format!("the client certificate cannot be used: {e}"),
                };
                held.due = None;
            }
            None => {
                tls.set_identity(None);
                if std::mem::take(&mut held.identity_problem) {
                    held.state = SessionState::Checking;
                    held.verify_soon = true;
                }
            }
        }
    }

    /// Takes in a vault document: the same credentials (another process
    /// refreshed or marked them), or new ones (a new generation).
    fn adopt(&self, held: &mut Held, doc: &VaultDocument) {
        let now = OffsetDateTime::now_utc();
        let own = self
            .creds
            .site()
            .and_then(|s| doc.site(s))
            .cloned()
            .unwrap_or_default();
        // A state stored by whoever met it that holds every process: a
        // CAPTCHA, a gateway's sign-in.
        let captcha = match &own.session {
            Some(StoredSession::Captcha { login_url, status }) => Some(SessionState::Captcha {
                login_url: login_url.clone(),
                status: *status,
            }),
            Some(StoredSession::Gateway {
                gateway,
                host,
                login_url,
            }) => Some(SessionState::Gateway {
                gateway: crate::confluence::classify::Gateway::from_name(gateway, host.as_deref()),
                login_url: login_url.clone(),
                status: None,
            }),
            _ => None,
        };
        let stored_refresh = own.cookies.as_ref().and_then(|c| c.refreshed_at);
        held.stored = own.session.clone();
        match choose(&self.settings, &self.creds, doc, now) {
            Ok(resolved) => {
                let mode = resolved.decorations.mode();
                // The set is the token's when one is sent, else the cookies'.
                // When the gateway's headers were stored, and (next to a
                // token) its cookies.
                let headers_at = own.gateway.iter().map(|g| g.saved_at()).max();
                let set = match (mode, &own.cookies) {
                    (AuthMode::Basic | AuthMode::Bearer, cookies) => Some(SetId::Token {
                        from_env: self.settings.api_token.is_some(),
                        saved_at: own.token_saved_at,
                        gateway: cookies
                            .as_ref()
                            .filter(|_| resolved.decorations.cookie_jar().is_some())
                            .map(|c| c.saved_at)
                            .max(headers_at),
                    }),
                    (_, Some(c)) if resolved.decorations.cookie_jar().is_some() => {
                        Some(SetId::Cookies(c.saved_at, headers_at))
                    }
                    _ => None,
                };
                let lent = Lent {
                    decorations: Arc::new(resolved.decorations),
                    mode,
                    why: resolved.why,
                    expires_at: resolved.expires_at,
                };
                if held.loaded && held.set == set && set.is_some() {
                    self.same_set(held, lent, stored_refresh, captcha);
                } else {
                    let fresh = held.loaded;
                    let state = captcha.unwrap_or(SessionState::Checking);
                    self.replace(held, Some(lent), set, state);
                    held.refreshed_at = stored_refresh;
                    // Fresh credentials from elsewhere: verify them soon.
                    held.verify_soon = fresh && held.state == SessionState::Checking;
                }
            }
            Err(AuthError::CookiesExpired { reason }) => {
                // Dead cookies are still lent to a verification the user
                // asks for: the site may take them again.
                let Some(cookies) = own.cookies else {
                    return;
                };
                let headers_at = own.gateway.iter().map(|g| g.saved_at()).max();
                let set = Some(SetId::Cookies(cookies.saved_at, headers_at));
                let ours_newer = held
                    .refreshed_at
                    .is_some_and(|ours| cookies.refreshed_at.is_none_or(|t| t < ours));
                if held.loaded && held.set == set && ours_newer && !held.state.is_dead() {
                    // Marked expired by another process that sent an older
                    // value than ours: ours may well live. Ask the site.
                    held.verify_soon = true;
                    return;
                }
                let lent = Lent {
                    decorations: Arc::new(Decorations::cookies(cookies.jar)),
                    mode: AuthMode::Cookie,
                    why: "the stored cookies (found expired)".into(),
                    expires_at: Some(cookies.expires_at),
                };
                let state = captcha.unwrap_or(SessionState::Expired {
                    reason,
                    status: None,
                });
                if held.loaded && held.set == set {
                    if !held.state.is_dead() {
                        held.state = state;
                        held.user = None;
                        held.look_in_browser = true;
                    }
                    held.lent = Some(lent);
                } else {
                    self.replace(held, Some(lent), set, state);
                }
            }
            Err(AuthError::NotConfigured(message)) => {
                self.replace(held, None, None, SessionState::NoCredentials { message });
            }
            Err(AuthError::Credentials(e)) => {
                self.replace(
                    held,
                    None,
                    None,
                    SessionState::Failed {
                        class: e.class(),
                        message: e.to_string(),
                    },
                );
            }
        }
    }

    /// The vault holds the credentials this owner holds: take what another
    /// process learnt (a later refresh, a CAPTCHA, a restored session).
    fn same_set(
        &self,
        held: &mut Held,
        lent: Lent,
        stored_refresh: Option<OffsetDateTime>,
        captcha: Option<SessionState>,
    ) {
        let theirs_newer =
            stored_refresh.is_some_and(|t| held.refreshed_at.is_none_or(|ours| ours < t));
        match held.lent.as_mut() {
            Some(ours) if !theirs_newer => {
                // Our jar is as new or newer: keep it, take the rest.
                ours.expires_at = lent.expires_at;
                ours.why = lent.why;
            }
            _ => {
                held.lent = Some(lent);
                held.jar += 1;
                held.refreshed_at = stored_refresh;
                held.dirty.clear();
            }
        }
        match captcha {
            Some(c) if std::mem::discriminant(&c) != std::mem::discriminant(&held.state) => {
                held.state = c;
                held.user = None;
                held.look_in_browser = true;
            }
            Some(_) => {}
            None if held.state.is_dead() => {
                // Another process restored the session (or the stored mark
                // went): see for ourselves.
                held.state = SessionState::Checking;
                held.verify_soon = true;
            }
            None => {}
        }
    }

    /// New credentials (or none): a new generation.
    fn replace(
        &self,
        held: &mut Held,
        lent: Option<Lent>,
        set: Option<SetId>,
        state: SessionState,
    ) {
        let unchanged = held.loaded && lent.is_none() && held.lent.is_none() && held.state == state;
        if unchanged {
            return;
        }
        held.next_generation();
        held.lent = lent;
        held.set = set;
        held.refreshed_at = None;
        held.look_in_browser = state.is_dead();
        held.state = state;
        if held.loaded {
            self.reschedule(held);
        } else if held.state.waits_for_credentials() {
            // At start: the first check set by `start` stands, unless there
            // is nothing to check.
            held.due = None;
        }
    }

    /// Writes the refreshed cookies waiting to be saved, into the set they
    /// came from, unless the vault holds a later refresh.
    pub(super) async fn save_dirty(self: &Arc<Self>) {
        let _io = self.io.lock().await;
        let job = {
            let mut held = self.held();
            match (&held.lent, held.set, held.refreshed_at) {
                (Some(lent), Some(SetId::Cookies(set, _)), Some(at)) if !held.dirty.is_empty() => {
                    let jar = lent.decorations.cookie_jar().cloned();
                    let names = std::mem::take(&mut held.dirty);
                    jar.map(|jar| (jar, names, set, at))
                }
                _ => None,
            }
        };
        let Some((jar, names, set, at)) = job else {
            return;
        };
        let creds = self.creds.clone();
        let vault = creds.paths().vault_file.clone();
        let before = VaultStamp::of(&vault);
        let saved =
            tokio::task::spawn_blocking(move || creds.refresh_cookies_of(set, jar, &names, at))
                .await;
        match saved {
            Ok(Ok(true)) => note_own_write(&mut self.held(), before, &vault),
            // The vault holds a later refresh, another set, or a mark:
            // the next use reads it.
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not save refreshed cookies"),
            Err(e) => tracing::warn!(error = %e, "could not save refreshed cookies"),
        }
    }

    /// A record of the session could not be written: said to the caller.
    pub(super) fn record_failed(&self, e: SessionError) {
        tracing::error!(error = %e, "could not record the session");
        self.held().record_failure = Some(e);
    }
}

/// Saves refreshed cookies in the background, in bursts.
pub(super) async fn saver(shared: Arc<Shared>) {
    loop {
        shared.save.notified().await;
        shared.save_dirty().await;
    }
}
