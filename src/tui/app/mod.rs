//! The application state and `update`: messages in, effects out, no I/O.
//! A driver (`tui::run`) performs the effects; tests call `update` directly.

mod events;
mod mouse;
mod setup;

use crossterm::event::{KeyEvent, KeyEventKind, MouseEvent};
use time::OffsetDateTime;

use self::events::query;
use super::clipboard::ClipboardProblem;
use super::keys::{self, Action};
use super::messages;
use super::screens::pipeline::{PipelineState, ProxyMsg};
use super::screens::{
    audit::AuditState, browsers::BrowsersState, help::HelpState, paste::PasteState,
    setup::SetupState, spaces::SpacesState, status::StatusState, token::TokenState,
};
use super::session::{SessionState, SessionView};
use crate::confluence::client::WaitReason;
use crate::worker::{Command, Event, Mutation, Query, QueryKind};

/// Which screen is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Status,
    Spaces,
    Audit,
    /// The proxy's address, environment lines and traffic.
    Pipeline,
}

impl Screen {
    /// `Tab` order.
    pub fn next(self) -> Screen {
        match self {
            Screen::Status => Screen::Spaces,
            Screen::Spaces => Screen::Audit,
            Screen::Audit => Screen::Pipeline,
            Screen::Pipeline => Screen::Status,
        }
    }

    /// `Shift+Tab` order.
    pub fn prev(self) -> Screen {
        match self {
            Screen::Status => Screen::Pipeline,
            Screen::Spaces => Screen::Status,
            Screen::Audit => Screen::Spaces,
            Screen::Pipeline => Screen::Audit,
        }
    }
}

/// What the driver should do; `update` never does I/O itself.
#[derive(Debug)]
pub enum Effect {
    /// Send a command to the worker.
    Worker(Command),
    /// Open a URL in the system browser.
    OpenUrl(String),
    /// Put text on the system clipboard; the answer comes back as `Msg::Copied`.
    CopyToClipboard(Clip),
    /// Read the system clipboard; the answer comes back as `Msg::Clipboard`.
    ReadClipboard,
    /// Read the audit log (again) in the background; answers `Msg::AuditLoaded`.
    LoadAudit,
    /// Ring the terminal bell (the user must act).
    Bell,
    /// Turn a knob of the demo site (`--demo` only); answers `Msg::Demo`.
    Demo(DemoKnob),
    /// Start the proxy (the driver owns it); answers come back as `Msg::Proxy`.
    StartProxy,
    /// Stop the running proxy gracefully; answers `Msg::Proxy(Stopped)`.
    StopProxy,
    /// Leave the application.
    Quit,
}

/// What the demo's keys ask of the demo site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoKnob {
    /// End the demo session now, as a site does when it drops a session.
    EndSession,
    /// Make the demo site demand a CAPTCHA, or stop demanding it.
    ToggleCaptcha,
}

/// What a demo knob did to the demo site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoChange {
    SessionEnded,
    /// The site demands a CAPTCHA now (`true`) or no longer does.
    Captcha(bool),
}

/// Text for the clipboard.
pub enum Clip {
    /// Plain text (a URL): the message line shows what was copied.
    Text(String),
    /// A secret: never in `Debug`, never in the message line, which names
    /// it by `what` instead.
    Secret {
        text: crate::secret::SecretString,
        what: &'static str,
    },
}

impl Clip {
    /// What the message line says was copied.
    pub fn shown(&self) -> String {
        match self {
            Clip::Text(t) => t.clone(),
            Clip::Secret { what, .. } => (*what).to_string(),
        }
    }

    /// True for a secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, Clip::Secret { .. })
    }
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clip::Text(t) => f.debug_tuple("Text").field(t).finish(),
            Clip::Secret { what, .. } => f
                .debug_struct("Secret")
                .field("what", what)
                .finish_non_exhaustive(),
        }
    }
}

/// The clipboard's answer.
#[derive(Debug)]
pub enum ClipboardText {
    Text(zeroize::Zeroizing<String>),
    /// No clipboard reachable (SSH, no display) or it holds no text: why.
    Unavailable(String),
}

/// Everything that can happen to the app.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// A bracketed paste from the terminal.
    Paste(String),
    Mouse(MouseEvent),
    Worker(Event),
    Clipboard(ClipboardText),
    AuditLoaded(super::screens::audit::AuditSnapshot),
    /// Time moved on (a visible countdown); also carries the clock.
    Tick(OffsetDateTime),
    Resize,
    /// A watched file changed (another process, or the user dropping cookies).
    FileChanged(WatchedFile),
    /// The clipboard took (or refused) the text of `CopyToClipboard`:
    /// `shown` is what the message line may say (a secret's name, never
    /// its text).
    Copied {
        shown: String,
        secret: bool,
        result: Result<(), ClipboardProblem>,
    },
    /// The proxy the driver runs for the Pipeline screen.
    Proxy(ProxyMsg),
    /// The browser was started (or not) for `OpenUrl`; why not is the
    /// launcher's business and goes to the diagnostics log.
    Opened {
        url: String,
        opened: bool,
    },
    /// The demo site's knob was turned (`Effect::Demo`).
    Demo(DemoChange),
}

/// The files the driver watches for the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchedFile {
    /// The intake file holds cookies to import (it is not empty).
    Intake,
    /// The vault was written (by us or another process).
    Vault,
    /// The audit log grew or rotated.
    AuditLog,
}

/// A wait before the worker tries again: the message line counts down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    pub query: QueryKind,
    pub reason: WaitReason,
    pub until: OffsetDateTime,
}

/// A one-line message under the screen: results and errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub level: FlashLevel,
    /// The session state the message describes ("Session expired: …"): it
    /// goes as soon as the session leaves that state.
    pub while_in: Option<std::mem::Discriminant<SessionState>>,
}

impl Flash {
    /// A message that stays until another replaces it.
    pub fn new(level: FlashLevel, text: impl Into<String>) -> Flash {
        Flash {
            text: text.into(),
            level,
            while_in: None,
        }
    }

    /// The same message, shown only while the session is in `state`.
    pub(crate) fn while_in(mut self, state: &SessionState) -> Flash {
        self.while_in = Some(std::mem::discriminant(state));
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlashLevel {
    Info,
    Success,
    Warning,
    Error,
}

/// A modal on top of the screen.
#[derive(Debug)]
pub enum Dialog {
    Paste(Box<PasteState>),
    Token(Box<TokenState>),
    /// First-run setup: the site's address, then how to sign in.
    Setup(Box<SetupState>),
    /// The browser profiles found, to import from (`b`).
    Browsers(Box<BrowsersState>),
    ConfirmClear,
    Help(HelpState),
}

/// What a screen or dialog's key handling needs besides its own state.
pub(crate) struct Ctx<'a> {
    pub effects: &'a mut Vec<Effect>,
    pub flash: &'a mut Option<Flash>,
    pub now: OffsetDateTime,
    /// A dialog a screen asks the app to open.
    pub open_dialog: Option<Dialog>,
}

impl Ctx<'_> {
    pub(crate) fn effect(&mut self, e: Effect) {
        self.effects.push(e);
    }
    pub(crate) fn command(&mut self, c: Command) {
        self.effects.push(Effect::Worker(c));
    }
    pub fn query(&mut self, q: Query) {
        self.command(Command::Query(q));
    }
    pub(crate) fn mutate(&mut self, m: Mutation) {
        self.command(Command::Mutate(m));
    }
    pub fn flash(&mut self, level: FlashLevel, text: impl Into<String>) {
        *self.flash = Some(Flash::new(level, text));
    }
    pub(crate) fn request_dialog(&mut self, d: Dialog) {
        self.open_dialog = Some(d);
    }
}

/// How a screen answered a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Handled {
    Yes,
    No,
}

/// The whole application state.
#[derive(Debug)]
pub struct App {
    pub screen: Screen,
    pub session: SessionView,
    pub status: StatusState,
    pub spaces: SpacesState,
    pub audit: AuditState,
    pub pipeline: PipelineState,
    pub dialog: Option<Dialog>,
    pub flash: Option<Flash>,
    pub now: OffsetDateTime,
    pub quit: bool,
    /// Cookie TTL that applies to a paste (for the preview).
    pub cookie_ttl: time::Duration,
    /// The worker is waiting before another attempt.
    pub waiting: Option<Waiting>,
    /// Running against the built-in demo site (`--demo`): its guidance and
    /// its keys (`x`, `X`).
    pub demo: bool,
    /// The user name the settings give (`CONFLUENCE_USERNAME`): the token
    /// dialog starts with it.
    pub username_hint: Option<String>,
    /// Cookie names a gateway owns beyond the known ones
    /// (`CONFLUENCE_GATEWAY_COOKIES`): the paste preview marks them.
    pub gateway_cookies: Vec<String>,
    /// The terminal's size (columns, rows): where a click lands and how
    /// far the help scrolls follow from it and the view's layout.
    pub terminal: (u16, u16),
    /// The user asked for a verification (`v`) that is not answered yet:
    /// its answer is said, whatever it is.
    verify_asked: bool,
    /// An import of the intake file was asked for and not yet answered.
    intake_pending: bool,
    /// The vault was described at least once (the answer asked at start).
    described: bool,
    /// The last session state a verification settled on in this run (not
    /// `Checking`): the bell rings when a state the user must act on
    /// follows another one, not when the app starts on a dead session
    /// that the user is already looking at.
    settled: Option<std::mem::Discriminant<SessionState>>,
}

impl App {
    /// A fresh app for a site (or none configured).
    pub fn new(session: SessionView, now: OffsetDateTime, cookie_ttl: time::Duration) -> App {
        App {
            screen: Screen::Status,
            session,
            status: StatusState,
            spaces: SpacesState::default(),
            audit: AuditState::default(),
            pipeline: PipelineState::default(),
            dialog: None,
            flash: None,
            now,
            quit: false,
            cookie_ttl,
            waiting: None,
            demo: false,
            username_hint: None,
            gateway_cookies: Vec::new(),
            terminal: (80, 24),
            verify_asked: false,
            intake_pending: false,
            described: false,
            settled: None,
        }
    }

    /// The commands to send when the app starts: what is stored, then verify.
    pub fn startup(&self) -> Vec<Effect> {
        vec![
            query(Query::Describe),
            query(Query::Verify),
            Effect::LoadAudit,
        ]
    }

    /// `--serve`: start the proxy now (and again whenever the session is
    /// signed in while it is off).
    pub fn serve(&mut self) -> Vec<Effect> {
        self.pipeline.serve().into_iter().collect()
    }

    /// True when a text field has the keyboard (global keys then type text).
    pub fn text_focus(&self) -> bool {
        match &self.dialog {
            Some(Dialog::Paste(_)) | Some(Dialog::Token(_)) => true,
            Some(Dialog::Setup(s)) => s.text_focus(),
            Some(Dialog::ConfirmClear) | Some(Dialog::Help(_)) | Some(Dialog::Browsers(_)) => false,
            None => match self.screen {
                Screen::Spaces => self.spaces.text_focus(),
                Screen::Audit => self.audit.text_focus(),
                Screen::Pipeline => self.pipeline.text_focus(),
                Screen::Status => false,
            },
        }
    }

    /// The terminal's size: the lists page by what they show, a click is
    /// placed by the same layout the view draws.
    pub fn set_terminal_size(&mut self, width: u16, height: u16) {
        self.terminal = (width, height);
        self.spaces.set_terminal_size(width, height);
        self.pipeline.set_terminal_size(width, height);
        if let Some(Dialog::Help(_)) = &self.dialog {
            let size = self.help_size();
            if let Some(Dialog::Help(h)) = &mut self.dialog {
                h.scroll_by(0, size);
            }
        }
    }

    /// The whole terminal, as the view draws into it.
    pub(crate) fn frame(&self) -> ratatui::layout::Rect {
        ratatui::layout::Rect::new(0, 0, self.terminal.0, self.terminal.1)
    }

    /// What the `?` help lists: every key in force once, the screen's first,
    /// then the mouse, then the keys of every screen (`q quit` last).
    pub(crate) fn help_entries(&self) -> Vec<(String, &'static str)> {
        let mut seen = keys::Seen::default();
        let mut out = Vec::new();
        for table in self.screen_tables() {
            out.extend(keys::help_entries(table, &mut seen));
        }
        out.push((keys::MOUSE_HELP.0.to_string(), keys::MOUSE_HELP.1));
        for table in [keys::ALWAYS, keys::GLOBAL] {
            out.extend(keys::help_entries(table, &mut seen));
        }
        out
    }

    /// The help's length and rows at the terminal's size.
    fn help_size(&self) -> super::screens::help::Size {
        let [_, body, _, _] = super::view::frame_areas(self.frame());
        super::screens::help::size(&self.help_entries(), body)
    }

    /// The key tables in force (for the footer and key lookup).
    pub(crate) fn key_tables(&self) -> Vec<&'static [keys::Binding]> {
        let mut t = self.screen_tables();
        t.push(keys::ALWAYS);
        t.push(keys::GLOBAL);
        t
    }

    /// The current screen's own tables (and the demo's), before the global ones.
    fn screen_tables(&self) -> Vec<&'static [keys::Binding]> {
        let screen: &'static [keys::Binding] = match self.screen {
            Screen::Status => super::screens::status::KEYS,
            Screen::Spaces => self.spaces.keys(),
            Screen::Audit => super::screens::audit::KEYS,
            Screen::Pipeline => self.pipeline.keys(),
        };
        let mut t = vec![screen];
        if self.screen == Screen::Status && self.can_set_up() {
            t.insert(0, super::screens::status::SETUP_KEYS);
        }
        let list = match self.screen {
            Screen::Status => false,
            Screen::Pipeline => self.pipeline.info().is_some(),
            Screen::Spaces | Screen::Audit => true,
        };
        if list {
            t.push(keys::LIST);
        }
        if self.screen == Screen::Status {
            t.push(super::screens::status::BROWSER_KEYS);
        }
        if self.demo {
            t.push(keys::DEMO);
        }
        t
    }

    /// Applies one message; returns what the driver must do.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let mut effects = Vec::new();
        match msg {
            Msg::Tick(now) => self.now = now,
            Msg::Resize => {}
            Msg::Key(key) => {
                // Windows also reports releases; act on presses only.
                if key.kind != KeyEventKind::Release {
                    self.on_key(key, &mut effects);
                }
            }
            Msg::Paste(text) => {
                let text = zeroize::Zeroizing::new(text);
                let focus = self.text_focus();
                match &mut self.dialog {
                    Some(Dialog::Paste(p)) => p.insert_paste(&text, self.now, self.cookie_ttl),
                    Some(Dialog::Token(t)) => t.insert_paste(&text),
                    Some(Dialog::Setup(s)) => s.insert_paste(&text),
                    _ if !focus => {
                        // A paste anywhere else opens the dialog with it.
                        let mut p = PasteState::new(self.now, self.cookie_ttl)
                            .for_site(self.paste_site())
                            .with_gateway_cookies(self.gateway_cookies.clone());
                        p.insert_paste(&text, self.now, self.cookie_ttl);
                        self.dialog = Some(Dialog::Paste(Box::new(p)));
                    }
                    _ => {}
                }
            }
            Msg::Mouse(m) => self.on_mouse(m, &mut effects),
            Msg::Clipboard(c) => {
                if let Some(Dialog::Paste(p)) = &mut self.dialog {
                    p.on_clipboard(c, self.now, self.cookie_ttl);
                }
            }
            Msg::AuditLoaded(snapshot) => self.audit.on_loaded(snapshot),
            Msg::Worker(ev) => self.on_worker(ev, &mut effects),
            Msg::Demo(change) => self.on_demo(change, &mut effects),
            Msg::FileChanged(file) => self.on_file_changed(file, &mut effects),
            Msg::Copied {
                shown,
                secret,
                result,
            } => {
                self.flash = Some(match (result, secret) {
                    (Ok(()), false) => Flash::new(FlashLevel::Success, messages::copied(&shown)),
                    (Ok(()), true) => Flash::new(
                        FlashLevel::Success,
                        format!("Copied {shown} (the token is a secret)"),
                    ),
                    (Err(problem), false) => {
                        Flash::new(FlashLevel::Warning, messages::copy_failed(&problem, &shown))
                    }
                    (Err(problem), true) => Flash::new(
                        FlashLevel::Warning,
                        format!(
                            "{}; Ctrl+R shows the token to copy by hand",
                            messages::copy_failed(&problem, &format!("{shown} not copied"))
                        ),
                    ),
                })
            }
            Msg::Proxy(m) => self.on_proxy(m, &mut effects),
            Msg::Opened { url, opened } => {
                self.flash = Some(if opened {
                    Flash::new(FlashLevel::Info, messages::browser_opened(&url))
                } else {
                    Flash::new(FlashLevel::Warning, messages::browser_failed(&url))
                })
            }
        }
        effects
    }

    fn on_key(&mut self, key: KeyEvent, effects: &mut Vec<Effect>) {
        // Ctrl+C quits from anywhere: before any dialog or text field.
        if keys::lookup(&[keys::ALWAYS], &key) == Some(Action::Quit) {
            self.quit = true;
            effects.push(Effect::Quit);
            return;
        }
        let now = self.now;
        let ttl = self.cookie_ttl;
        let help_size = matches!(self.dialog, Some(Dialog::Help(_))).then(|| self.help_size());
        // Dialogs first: they own the keyboard.
        if let Some(dialog) = &mut self.dialog {
            let mut ctx = Ctx {
                effects,
                flash: &mut self.flash,
                now,
                open_dialog: None,
            };
            let close = match dialog {
                Dialog::Paste(p) => p.handle_key(&key, &mut ctx, ttl),
                Dialog::Token(t) => t.handle_key(&key, &mut ctx),
                Dialog::Setup(s) => s.handle_key(&key, &mut ctx),
                Dialog::Browsers(b) => b.handle_key(&key, &mut ctx),
                Dialog::ConfirmClear => {
                    super::screens::confirm::handle_key(&key, &mut ctx);
                    true
                }
                Dialog::Help(h) => help_size.is_none_or(|size| h.handle_key(&key, size)),
            };
            if close {
                // A dialog may hand over to another (paste → browsers).
                self.dialog = ctx.open_dialog.take();
            }
            return;
        }
        if self.wants_setup(&key) {
            self.open_setup();
            return;
        }
        // Then the screen, which may have a text field focused.
        let (handled, requested) = {
            let mut ctx = Ctx {
                effects,
                flash: &mut self.flash,
                now,
                open_dialog: None,
            };
            let h = match self.screen {
                Screen::Status => self.status.handle_key(&key, &mut ctx),
                Screen::Spaces => self.spaces.handle_key(&key, &mut ctx),
                Screen::Audit => self.audit.handle_key(&key, &mut ctx),
                Screen::Pipeline => self.pipeline.handle_key(&key, &mut ctx),
            };
            (h, ctx.open_dialog)
        };
        if let Some(mut d) = requested {
            if let Dialog::Token(t) = &mut d {
                t.start_with_username(self.username_hint.as_deref());
            }
            self.dialog = Some(d);
        }
        if handled == Handled::Yes || self.text_focus() {
            return;
        }
        let demo: &[keys::Binding] = if self.demo { keys::DEMO } else { &[] };
        match keys::lookup(&[keys::GLOBAL, demo], &key) {
            Some(Action::Quit) => {
                self.quit = true;
                effects.push(Effect::Quit);
            }
            Some(Action::ShowStatus) => self.show(Screen::Status, effects),
            Some(Action::ShowSpaces) => self.show(Screen::Spaces, effects),
            Some(Action::ShowAudit) => self.show(Screen::Audit, effects),
            Some(Action::ShowPipeline) => self.show(Screen::Pipeline, effects),
            Some(Action::NextScreen) => self.show(self.screen.next(), effects),
            Some(Action::PrevScreen) => self.show(self.screen.prev(), effects),
            Some(Action::PasteCookies) => self.open_paste(effects),
            Some(Action::Verify) => {
                // Asked for by the user: the site is asked in every state,
                // expired and CAPTCHA too (the keep-alive never does that).
                effects.push(query(Query::VerifyAgain));
                self.verify_asked = true;
                self.flash = Some(Flash::new(FlashLevel::Info, "Verifying…"));
            }
            Some(Action::OpenInBrowser) => {
                if let Some(url) = self.session.login_url() {
                    effects.push(Effect::OpenUrl(url));
                }
            }
            Some(Action::Help) => self.dialog = Some(Dialog::Help(HelpState::default())),
            Some(Action::DemoEndSession) => effects.push(Effect::Demo(DemoKnob::EndSession)),
            Some(Action::DemoToggleCaptcha) => effects.push(Effect::Demo(DemoKnob::ToggleCaptcha)),
            _ => {}
        }
    }

    /// The demo site did what a demo key asked: say so, and ask the site
    /// at once, so the state it leads to shows without waiting for the
    /// keep-alive (`VerifyAgain`: a CAPTCHA does not stop this one).
    fn on_demo(&mut self, change: DemoChange, effects: &mut Vec<Effect>) {
        let token_mode = matches!(
            self.session.mode,
            Some(
                crate::confluence::client::AuthMode::Basic
                    | crate::confluence::client::AuthMode::Bearer
            )
        ) && self.session.is_signed_in();
        if change == DemoChange::SessionEnded && token_mode {
            // Nothing to check: a token does not live in a session.
            self.flash = Some(Flash::new(
                FlashLevel::Info,
                "Demo: the browser session ended; the token you signed in with still works",
            ));
            return;
        }
        let text = match change {
            DemoChange::SessionEnded => "Demo: the demo site ended the session; checking…",
            DemoChange::Captcha(true) => {
                "Demo: the demo site now demands a CAPTCHA (X again stops it); checking…"
            }
            DemoChange::Captcha(false) => {
                "Demo: the demo site no longer demands a CAPTCHA; checking…"
            }
        };
        self.flash = Some(Flash::new(FlashLevel::Info, text));
        effects.push(query(Query::VerifyAgain));
        self.verify_asked = true;
    }

    /// The configured site a paste is for (its cookies only are kept).
    fn paste_site(&self) -> Option<url::Url> {
        self.session
            .site
            .as_deref()
            .and_then(|s| url::Url::parse(s).ok())
    }

    /// Opens the paste dialog and asks for the clipboard's text.
    pub(crate) fn open_paste(&mut self, effects: &mut Vec<Effect>) {
        self.dialog = Some(Dialog::Paste(Box::new(
            PasteState::new(self.now, self.cookie_ttl)
                .for_site(self.paste_site())
                .with_gateway_cookies(self.gateway_cookies.clone()),
        )));
        effects.push(Effect::ReadClipboard);
    }

    pub(super) fn show(&mut self, screen: Screen, effects: &mut Vec<Effect>) {
        self.screen = screen;
        match screen {
            Screen::Spaces if self.spaces.needs_load() && self.session.can_list() => {
                effects.push(query(self.spaces.start_listing()));
            }
            Screen::Audit => effects.push(Effect::LoadAudit),
            // The status view is the last `Describe` answer, kept current by
            // the vault watcher: switching to it reads nothing.
            _ => {}
        }
    }
}
