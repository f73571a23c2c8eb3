//! How the app follows the worker and the watched files: session changes,
//! mutation answers, listings, waits. Part of `update`; no I/O.

use time::OffsetDateTime;

use super::{App, Effect, Flash, FlashLevel, Screen, Waiting, WatchedFile};
use crate::tui::screens::pipeline::{ProxyMsg, death_seen_by_proxy};
use crate::tui::session::SessionState;
use crate::worker::{
    Command, Event, Mutation, MutationDone, MutationKind, Query, QueryKind, SessionInfo,
    WorkerError,
};

impl App {
    pub(super) fn on_file_changed(&mut self, file: WatchedFile, effects: &mut Vec<Effect>) {
        match file {
            WatchedFile::Intake if !self.intake_pending => {
                self.intake_pending = true;
                effects.push(Effect::Worker(Command::Mutate(Mutation::ImportIntake)));
            }
            WatchedFile::Intake => {}
            WatchedFile::Vault => effects.push(query(Query::Describe)),
            WatchedFile::Browser => self.look_in_browser(effects),
            WatchedFile::AuditLog => {
                if self.screen == Screen::Audit && self.audit.following() {
                    effects.push(Effect::LoadAudit);
                }
            }
        }
    }

    /// What the driver says about the proxy it runs. A death the proxy
    /// saw takes the same path as one the worker saw.
    pub(super) fn on_proxy(&mut self, msg: ProxyMsg, effects: &mut Vec<Effect>) {
        if let ProxyMsg::Session(view) = &msg {
            if let Some(info) = death_seen_by_proxy(view) {
                self.on_worker(Event::Session(info), effects);
            }
            return;
        }
        let stopped = matches!(msg, ProxyMsg::Stopped(_));
        if let Some((level, text)) = self.pipeline.on_proxy(msg) {
            self.flash = Some(Flash::new(level, text));
        }
        // Stopped for a change of site: started again once signed in there
        // (now, if the new site's session was verified meanwhile).
        if stopped && self.session.is_signed_in() {
            effects.extend(self.pipeline.on_signed_in());
        }
    }

    pub(super) fn on_worker(&mut self, ev: Event, effects: &mut Vec<Effect>) {
        let was_signed_in = self.session.is_signed_in();
        let was = std::mem::discriminant(&self.session.state);
        let saved_before = self.stored_saved_at();
        let site_before = self.session.site.clone();
        self.session.on_event(&ev, self.now);
        match &ev {
            Event::Site(site) => {
                // Another site: nothing listed or said so far belongs to it.
                self.settled = None;
                self.spaces.reset();
                self.waiting = None;
                self.flash = None;
                if site_before.is_some()
                    && site.site != site_before
                    && let Some(stop) = self.pipeline.on_site_changed()
                {
                    effects.push(stop);
                    self.flash = Some(Flash::new(
                        FlashLevel::Info,
                        "The site changed: the proxy stops, and starts again for the new site once signed in",
                    ));
                }
            }
            Event::Session(info) => {
                self.waiting = None;
                // A keep-alive answer that repeats the state (still
                // expired, still a CAPTCHA) is news to nobody.
                let now_state = std::mem::discriminant(&self.session.state);
                let news = now_state != was;
                // The bell is for a change the user did not watch happen:
                // not for the first answer after start or a reload.
                let bell = self.settled.is_some_and(|s| s != now_state);
                if self.session.state != crate::tui::session::SessionState::Checking {
                    self.settled = Some(now_state);
                }
                self.on_session(info, was_signed_in, news, bell, effects);
                if news {
                    // Dead now: the fresh login may already be in the browser.
                    self.look_in_browser(effects);
                }
            }
            Event::Stored(_) => {
                // Fresh cookies stored by another process (an import in
                // another terminal, the intake file): check them when not
                // signed in. The first answer is the one asked at start,
                // whose verification is already on its way.
                let first = !std::mem::replace(&mut self.described, true);
                let saved_now = self.stored_saved_at();
                if !first
                    && saved_now.is_some()
                    && saved_now != saved_before
                    && !self.session.is_signed_in()
                    && self.session.state != SessionState::Checking
                {
                    // What was said of the old cookies no longer holds.
                    self.session.state = SessionState::Checking;
                    effects.push(query(Query::Verify));
                }
            }
            Event::Mutated { kind, result } => self.on_mutated(*kind, result, effects),
            Event::BrowserProfiles(list) => {
                if let Some(super::Dialog::Browsers(b)) = &mut self.dialog {
                    b.on_profiles(list.clone());
                }
            }
            Event::Failed {
                query: QueryKind::Browsers,
                error,
            } => {
                // Nothing to list: the dialog waiting for it goes.
                if matches!(self.dialog, Some(super::Dialog::Browsers(_))) {
                    self.dialog = None;
                }
                self.flash = Some(Flash::new(FlashLevel::Error, error.message.clone()));
            }
            // First-run setup's answers: `on_setup_event` below.
            Event::SiteProbe { .. } => {}
            Event::Failed { error, .. } => {
                self.waiting = None;
                self.flash = Some(Flash::new(FlashLevel::Error, error.message.clone()));
            }
            Event::Waiting(w) => {
                self.waiting = Some(Waiting {
                    query: w.query,
                    reason: w.reason.clone(),
                    until: self.now + w.wait,
                });
            }
            Event::Spaces(_) | Event::Pages(_) => {
                if self
                    .waiting
                    .as_ref()
                    .is_some_and(|w| matches!(w.query, QueryKind::Spaces | QueryKind::Pages))
                {
                    self.waiting = None;
                }
            }
        }
        if let Some(message) = self.spaces.on_worker_event(&ev, self.now) {
            self.flash = Some(Flash::new(FlashLevel::Error, message));
        }
        self.on_setup_event(&ev, effects);
        self.drop_stale_flash();
    }

    /// A message about a session state goes when the session leaves it
    /// ("Session expired: …" once signed in again).
    pub(super) fn drop_stale_flash(&mut self) {
        let state = std::mem::discriminant(&self.session.state);
        if self
            .flash
            .as_ref()
            .and_then(|f| f.while_in)
            .is_some_and(|d| d != state)
        {
            self.flash = None;
        }
    }

    fn stored_saved_at(&self) -> Option<OffsetDateTime> {
        self.session
            .stored
            .as_ref()
            .and_then(|s| s.cookies.as_ref())
            .map(|c| c.saved_at)
    }

    fn on_session(
        &mut self,
        info: &SessionInfo,
        was_signed_in: bool,
        news: bool,
        bell: bool,
        effects: &mut Vec<Effect>,
    ) {
        let must_act = matches!(
            info,
            SessionInfo::Expired { .. } | SessionInfo::Captcha { .. }
        );
        if must_act && !news {
            return;
        }
        if must_act && bell {
            // Once per death: the user must act.
            effects.push(Effect::Bell);
        }
        let state = self.session.state.clone();
        let flash = match info {
            SessionInfo::Expired { reason, .. } => {
                self.screen = Screen::Status;
                effects.push(query(Query::Describe));
                Flash::new(FlashLevel::Error, format!("Session expired: {reason}"))
            }
            SessionInfo::Captcha { .. } => {
                self.screen = Screen::Status;
                effects.push(query(Query::Describe));
                Flash::new(
                    FlashLevel::Error,
                    "CAPTCHA: sign in through the browser (o), then paste fresh cookies (p)",
                )
            }
            SessionInfo::SignedIn { user, .. } => {
                if !was_signed_in && self.spaces.needs_load() {
                    effects.push(query(self.spaces.start_listing()));
                }
                // `--serve` waits for a usable session (the demo's paste).
                effects.extend(self.pipeline.on_signed_in());
                effects.push(Effect::LoadAudit);
                let text = self.signed_in_text(format!("Signed in as {}", user.display_name));
                Flash::new(FlashLevel::Success, text)
            }
            SessionInfo::Failed { error } => Flash::new(FlashLevel::Error, error.message.clone()),
            // The demo has no settings to set: it says how to sign in to it.
            SessionInfo::NotConfigured { .. } if self.demo => Flash::new(
                FlashLevel::Info,
                "Demo: press o to open the demo login page, copy its cookie line, then press p",
            ),
            SessionInfo::NotConfigured { message } => {
                Flash::new(FlashLevel::Warning, message.clone())
            }
        };
        self.flash = Some(match info {
            SessionInfo::SignedIn { .. } => flash,
            _ => flash.while_in(&state),
        });
    }

    fn on_mutated(
        &mut self,
        kind: MutationKind,
        result: &Result<MutationDone, WorkerError>,
        effects: &mut Vec<Effect>,
    ) {
        if kind == MutationKind::ImportCookies {
            self.intake_pending = false;
            self.on_pickup_answer(result.as_ref().ok(), effects);
        }
        let (text, level) = match result {
            // A file event for an intake file already emptied: nothing new.
            Ok(MutationDone::NothingToImport) => return,
            // Said by `on_pickup_answer`.
            Ok(MutationDone::BrowserSessionImported { .. }) => {
                self.spaces.reset();
                return;
            }
            Err(e) => (e.message.clone(), FlashLevel::Error),
            Ok(MutationDone::CookiesImported(report)) => {
                self.spaces.reset();
                (
                    format!("Saved {} cookies encrypted; verifying…", report.names.len()),
                    FlashLevel::Info,
                )
            }
            Ok(MutationDone::CookiesCleared(report)) => {
                effects.push(Effect::LoadAudit);
                (
                    format!("Cleared {} stored cookies", report.removed),
                    FlashLevel::Success,
                )
            }
            Ok(MutationDone::TokenStored) => (
                "Token stored encrypted; verifying…".into(),
                FlashLevel::Info,
            ),
            Ok(MutationDone::TokenCleared(removed)) => (
                if *removed {
                    "Token removed from the vault".into()
                } else {
                    "No token was stored".into()
                },
                FlashLevel::Success,
            ),
            Ok(MutationDone::SettingsWritten { path, .. }) => (
                format!("Saved the site to {}", path.display()),
                FlashLevel::Success,
            ),
            Ok(MutationDone::SettingsReloaded) => {
                // The worker sent the new site first; check it.
                effects.push(query(Query::Describe));
                effects.push(query(Query::Verify));
                ("Settings reloaded".into(), FlashLevel::Success)
            }
        };
        self.flash = Some(Flash::new(level, text));
    }
}

/// The effect of sending a query to the worker.
pub(super) fn query(q: Query) -> Effect {
    Effect::Worker(Command::Query(q))
}
