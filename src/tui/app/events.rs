//! How the app follows the worker and the watched files: session changes,
//! mutation answers, listings, waits. Part of `update`; no I/O.

use super::{App, Effect, Flash, FlashLevel, Screen, Waiting, WatchedFile};
use crate::session::{Cause, Snapshot};
use crate::text::for_terminal;
use crate::tui::screens::pipeline::ProxyMsg;
use crate::tui::session::SessionState;
use crate::worker::{
    Command, Event, Mutation, MutationDone, MutationKind, Query, QueryKind, WorkerError,
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
            WatchedFile::AuditLog => {
                if self.screen == Screen::Audit && self.audit.following() {
                    effects.push(Effect::LoadAudit);
                }
            }
        }
    }

    /// What the driver says about the proxy it runs. (A death the proxy
    /// sees is the session owner's, which the worker reports like any.)
    pub(super) fn on_proxy(&mut self, msg: ProxyMsg, effects: &mut Vec<Effect>) {
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
        let site_before = self.session.site.clone();
        self.session.on_event(&ev);
        match &ev {
            Event::Site(site) => {
                // Another site: nothing listed or said so far belongs to it.
                self.settled = None;
                self.spaces.reset();
                self.waiting = None;
                self.flash = None;
                self.verify_asked = false;
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
            Event::Session(snapshot) => {
                self.on_snapshot(snapshot, was, was_signed_in, false, effects);
            }
            Event::Verified { snapshot, problem } => {
                self.waiting = None;
                let answer = std::mem::take(&mut self.verify_asked);
                self.on_snapshot(snapshot, was, was_signed_in, answer, effects);
                if let Some(p) = problem {
                    // Whatever the site said, its record cannot be kept.
                    self.flash = Some(Flash::new(FlashLevel::Error, p.message.clone()));
                }
            }
            Event::Stored(_) => {
                self.described = true;
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

    /// The session owner's snapshot arrived (a change, or the answer to a
    /// verification): every row already follows it; here, what it means
    /// for the user. `answer`: it answers the user's `v`, which is always
    /// answered in words, whatever it found.
    fn on_snapshot(
        &mut self,
        snapshot: &Snapshot,
        was: std::mem::Discriminant<SessionState>,
        was_signed_in: bool,
        answer: bool,
        effects: &mut Vec<Effect>,
    ) {
        let now_state = std::mem::discriminant(&self.session.state);
        // A keep-alive answer that repeats the state (still expired, still
        // a CAPTCHA) is news to nobody.
        let news = now_state != was;
        // The bell is for a change the user did not watch happen: not for
        // the first answer after start or a reload.
        let bell = self.settled.is_some_and(|s| s != now_state);
        if self.session.state != SessionState::Checking {
            self.settled = Some(now_state);
        }
        if news || answer {
            self.on_session(snapshot, was_signed_in, news, bell, answer, effects);
        }
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

    fn on_session(
        &mut self,
        snapshot: &Snapshot,
        was_signed_in: bool,
        news: bool,
        bell: bool,
        answer: bool,
        effects: &mut Vec<Effect>,
    ) {
        let state = self.session.state.clone();
        let must_act = state.is_dead();
        if must_act && bell && news {
            // Once per death: the user must act.
            effects.push(Effect::Bell);
        }
        // Asked again and found as it was: said as such.
        let still = if answer && !news { "Still " } else { "" };
        let flash = match &state {
            SessionState::Checking => return,
            SessionState::Expired { reason, .. } => {
                if news {
                    self.screen = Screen::Status;
                    effects.push(query(Query::Describe));
                }
                let text = if still.is_empty() {
                    format!("Session expired: {reason}")
                } else {
                    format!("Still expired: the site refuses the session ({reason})")
                };
                Flash::new(FlashLevel::Error, text)
            }
            SessionState::Captcha { .. } => {
                if news {
                    self.screen = Screen::Status;
                    effects.push(query(Query::Describe));
                }
                Flash::new(
                    FlashLevel::Error,
                    format!(
                        "{}CAPTCHA: sign in through the browser (o), then paste fresh cookies (p)",
                        if still.is_empty() { "" } else { "Still a " }
                    ),
                )
            }
            SessionState::SignedIn => {
                if !was_signed_in && self.spaces.needs_load() {
                    effects.push(query(self.spaces.start_listing()));
                }
                // `--serve` waits for a usable session (the demo's paste).
                effects.extend(self.pipeline.on_signed_in());
                if news {
                    effects.push(Effect::LoadAudit);
                }
                let user = self.session.user.clone().unwrap_or_default();
                let mut text = format!("Signed in as {user}");
                if let Cause::BrowserPickup { browser, profile } = &snapshot.cause {
                    text = format!(
                        "Imported a fresh session from {browser} {}. {text}",
                        for_terminal(profile)
                    );
                } else if !still.is_empty() {
                    text = format!("{text}: the site accepts the session");
                }
                Flash::new(FlashLevel::Success, text)
            }
            SessionState::Gateway { gateway, .. } => {
                if news {
                    self.screen = Screen::Status;
                    effects.push(query(Query::Describe));
                }
                Flash::new(
                    FlashLevel::Error,
                    format!(
                        "{}{gateway} wants you to sign in: o opens it; then paste its cookie (p)",
                        if still.is_empty() { "" } else { "Still: " }
                    ),
                )
            }
            SessionState::Rejected { reason, .. } => Flash::new(
                FlashLevel::Error,
                format!("{still}{reason}").trim().to_string(),
            ),
            SessionState::Unreachable { reason } => Flash::new(
                FlashLevel::Warning,
                format!(
                    "The site does not answer ({reason}); the credentials are kept and it is asked again at the next check"
                ),
            ),
            SessionState::Failed { message, .. } => Flash::new(FlashLevel::Error, message.clone()),
            // The demo has no settings to set: it says how to sign in to it.
            SessionState::NoCredentials { .. } if self.demo => Flash::new(
                FlashLevel::Info,
                "Demo: press o to open the demo login page, copy its cookie line, then press p",
            ),
            SessionState::NoCredentials { message } => {
                Flash::new(FlashLevel::Warning, message.clone())
            }
        };
        self.flash = Some(match state {
            SessionState::SignedIn => flash,
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
        }
        let (text, level) = match result {
            // A file event for an intake file already emptied: nothing new.
            Ok(MutationDone::NothingToImport) => return,
            Err(e) => (e.message.clone(), FlashLevel::Error),
            Ok(MutationDone::CookiesImported(report)) => {
                self.spaces.reset();
                // Asked about before they were stored: the session's state
                // says what the site made of them.
                let verdict = match &self.session.state {
                    SessionState::SignedIn => format!(
                        "; signed in as {}",
                        self.session.user.as_deref().unwrap_or("you")
                    ),
                    _ => String::new(),
                };
                (
                    format!("Saved {} cookies encrypted{verdict}", report.names.len()),
                    FlashLevel::Success,
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
                "Token stored encrypted: the site accepted it".into(),
                FlashLevel::Success,
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
