//! How the app drives first-run setup: `s` opens it (status screen, no site
//! set, not the demo); the worker's answers move it on; once the site is
//! written and the settings reloaded, the chosen sign-in step opens. Part
//! of `update`; no I/O.

use crossterm::event::KeyEvent;

use super::{App, Dialog, Effect, Flash, FlashLevel, Screen};
use crate::tui::keys::{self, Action};
use crate::tui::screens::setup::{SetupNext, SetupState};
use crate::tui::screens::status::SETUP_KEYS;
use crate::tui::screens::token::TokenState;
use crate::worker::{Command, Event, Mutation, MutationKind};

impl App {
    /// Setup is offered while no site is set, outside the demo (whose
    /// settings are its own sandbox's).
    pub(crate) fn can_set_up(&self) -> bool {
        self.session.site.is_none() && !self.demo
    }

    /// `s` on the status screen while setup is offered.
    pub(super) fn wants_setup(&self, key: &KeyEvent) -> bool {
        self.screen == Screen::Status
            && self.can_set_up()
            && keys::lookup(&[SETUP_KEYS], key) == Some(Action::SetUp)
    }

    pub(super) fn open_setup(&mut self) {
        self.dialog = Some(Dialog::Setup(Box::new(SetupState::new(
            &self.session.env_file,
        ))));
    }

    /// The worker's answers that move setup on (only while it is open).
    pub(super) fn on_setup_event(&mut self, ev: &Event, effects: &mut Vec<Effect>) {
        let Some(Dialog::Setup(setup)) = &mut self.dialog else {
            return;
        };
        match ev {
            Event::SiteProbe { url, result } => setup.on_probe(url, result),
            Event::Mutated {
                kind: MutationKind::WriteSiteSettings,
                result,
            } if setup.saving() => match result {
                // The new site is in force once the settings are read again.
                Ok(_) => effects.push(Effect::Worker(Command::Mutate(Mutation::ReloadSettings))),
                Err(e) => setup.on_save_failed(&e.message),
            },
            Event::Mutated {
                kind: MutationKind::ReloadSettings,
                result,
            } if setup.saving() => match (result, self.session.site.is_some()) {
                (Ok(_), true) => {
                    if let Some(next) = setup.next() {
                        self.open_sign_in(next, effects);
                    }
                }
                (Ok(_), false) => setup.on_save_failed(
                    "The site was written, but the settings still have none: is CONFLUENCE_BASE_URL set empty in the environment?",
                ),
                (Err(e), _) => setup.on_save_failed(&e.message),
            },
            _ => {}
        }
    }

    /// The sign-in step chosen in setup, now that the site is in force.
    fn open_sign_in(&mut self, next: SetupNext, effects: &mut Vec<Effect>) {
        match next {
            SetupNext::BrowserCookies { login_page } => {
                effects.push(Effect::OpenUrl(login_page));
                self.open_paste(effects);
                self.flash = Some(Flash::new(
                    FlashLevel::Info,
                    "Sign in in the browser, copy the Cookie: request header, then Ctrl+V here",
                ));
            }
            SetupNext::Token { username } => {
                let mut token = TokenState::default();
                token.start_with_username(username.as_deref());
                if username.is_some() {
                    self.username_hint = username;
                }
                self.dialog = Some(Dialog::Token(Box::new(token)));
                self.flash = Some(Flash::new(
                    FlashLevel::Info,
                    "Site saved; enter the token (it is checked, then kept in the vault)",
                ));
            }
        }
    }
}
