//! Picking up a fresh browser login by itself: with `CONFLUENCE_BROWSER`
//! set, while the session is expired or blocked by a CAPTCHA, each change
//! of that browser's cookie store (a file event the driver sends) and the
//! moment the session dies ask the worker to import the browser's session
//! when it differs from the dead one; the worker then verifies. Part of
//! `update`; no I/O.

use super::{App, Effect, Flash, FlashLevel};
use crate::text::for_terminal;
use crate::tui::session::SessionState;
use crate::worker::{Command, Mutation, MutationDone};

/// The pickup's state.
#[derive(Debug, Default)]
pub struct BrowserPickup {
    /// A browser is named (`CONFLUENCE_BROWSER`) and its store watched.
    pub enabled: bool,
    /// An import was asked for and not yet answered.
    pending: bool,
    /// The store changed again while one was pending: look once more.
    again: bool,
    /// What the next "Signed in" message says first: where the session
    /// came from.
    imported_from: Option<String>,
}

impl App {
    /// The session is dead (or a browser file changed): ask for the
    /// browser's session when it may bring the session back.
    pub(super) fn look_in_browser(&mut self, effects: &mut Vec<Effect>) {
        let dead = matches!(
            self.session.state,
            SessionState::Expired { .. } | SessionState::Captcha { .. }
        );
        let pickup = &mut self.browser_pickup;
        if !pickup.enabled || !dead {
            return;
        }
        if pickup.pending {
            pickup.again = true;
            return;
        }
        pickup.pending = true;
        effects.push(Effect::Worker(Command::Mutate(
            Mutation::ImportFreshBrowserSession,
        )));
    }

    /// A cookie import was answered: when it was the pickup's, say what
    /// came of it and look again if the store changed meanwhile.
    pub(super) fn on_pickup_answer(
        &mut self,
        done: Option<&MutationDone>,
        effects: &mut Vec<Effect>,
    ) {
        if !self.browser_pickup.pending {
            return;
        }
        let ours = matches!(
            done,
            Some(MutationDone::NothingToImport | MutationDone::BrowserSessionImported { .. })
        );
        if !ours {
            return;
        }
        self.browser_pickup.pending = false;
        if let Some(MutationDone::BrowserSessionImported { profile, .. }) = done {
            let text = format!(
                "Imported a fresh session from {} {}",
                profile.kind.name(),
                for_terminal(&profile.dir.display().to_string())
            );
            self.flash = Some(Flash::new(FlashLevel::Info, format!("{text}; verifying…")));
            self.browser_pickup.imported_from = Some(text);
            self.browser_pickup.again = false;
            return;
        }
        if std::mem::take(&mut self.browser_pickup.again) {
            self.look_in_browser(effects);
        }
    }

    /// The "Signed in" message after a pickup names where it came from.
    pub(super) fn signed_in_text(&mut self, signed_in: String) -> String {
        match self.browser_pickup.imported_from.take() {
            Some(from) => format!("{from}. {signed_in}"),
            None => signed_in,
        }
    }
}
