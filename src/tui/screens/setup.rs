//! First-run setup (`s` on the status screen while no site is set): the
//! site's address, checked live by the worker (reachable? Confluence? Cloud
//! or Server/DC?), then the sign-in choice: browser cookies (the login page,
//! then the paste dialog), Cloud email + API token, or a personal access
//! token (both through the token dialog, which checks the token and keeps
//! it in the vault).
//!
//! Nothing is written until the sign-in choice is confirmed: then the site
//! (its deployment, and the Cloud email) goes to the `.env` file in use,
//! the settings are reloaded, and the chosen sign-in step opens. Esc cancels
//! at every step before that.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};
use ratatui_textarea::TextArea;

use crate::confluence::client::Deployment;
use crate::confluence::probe::{ProbeError, SiteProbe, normalise_site_address};
use crate::text::for_terminal;
use crate::tui::app::{Ctx, FlashLevel};
use crate::tui::theme::Theme;
use crate::worker::{Command, Mutation, Query, QueryKind};

/// How the user will sign in, chosen in step 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// The site's login page in the browser, then the paste dialog.
    BrowserCookies,
    /// Cloud: the account email (written to `.env`) + an API token.
    CloudToken,
    /// Server/Data Center: a personal access token alone.
    PersonalToken,
}

impl SignIn {
    const ALL: [SignIn; 3] = [
        SignIn::BrowserCookies,
        SignIn::CloudToken,
        SignIn::PersonalToken,
    ];

    fn title(self) -> &'static str {
        match self {
            SignIn::BrowserCookies => "Browser cookies",
            SignIn::CloudToken => "Cloud: email + API token",
            SignIn::PersonalToken => "Personal access token (Server/Data Center)",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            SignIn::BrowserCookies => {
                "SSO: sign in in the browser, copy the Cookie header, paste it here"
            }
            SignIn::CloudToken => "your account email + a token from id.atlassian.com",
            SignIn::PersonalToken => "a token from your Confluence profile, sent as Bearer",
        }
    }
}

/// Where the dialog is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupStep {
    /// Step 1: typing the site's address.
    Address,
    /// The worker is checking the address (as typed).
    Checking { typed: String, url: String },
    /// Step 2: the site answered; choosing how to sign in.
    Choose { site: SiteProbe, choice: SignIn },
    /// Cloud email + API token: the email first.
    Email { site: SiteProbe },
    /// The settings are being written and reloaded; then `next` opens.
    Saving { site: SiteProbe, next: SignIn },
}

/// What the app opens once the site is written and in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetupNext {
    /// Open `login_page` in the browser and the paste dialog.
    BrowserCookies { login_page: String },
    /// The token dialog, with the user name (Cloud) or without (PAT).
    Token { username: Option<String> },
}

/// The setup dialog's state.
pub struct SetupState {
    step: SetupStep,
    address: TextArea<'static>,
    email: TextArea<'static>,
    /// The settings file that will be written (`--env-file` or `./.env`).
    env_file: String,
    error: Option<String>,
}

impl std::fmt::Debug for SetupState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetupState")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl SetupState {
    /// A fresh dialog that will write to `env_file`.
    pub fn new(env_file: &str) -> SetupState {
        let mut address = TextArea::default();
        address.set_placeholder_text("https://your-site.atlassian.net/wiki");
        let mut email = TextArea::default();
        email.set_placeholder_text("you@example.com");
        SetupState {
            step: SetupStep::Address,
            address,
            email,
            env_file: env_file.to_string(),
            error: None,
        }
    }

    /// The step shown.
    pub fn step(&self) -> &SetupStep {
        &self.step
    }

    /// The message shown under the field, if any (a failed check).
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The address as typed.
    pub fn address_text(&self) -> String {
        self.address.lines().concat()
    }

    /// True while a text field has the keyboard.
    pub(crate) fn text_focus(&self) -> bool {
        matches!(self.step, SetupStep::Address | SetupStep::Email { .. })
    }

    /// A bracketed paste: its first line goes into the field in use.
    pub(crate) fn insert_paste(&mut self, text: &str) {
        let line = text.lines().next().unwrap_or_default().trim().to_string();
        match self.step {
            SetupStep::Address => {
                self.error = None;
                self.address.insert_str(line);
            }
            SetupStep::Email { .. } => {
                self.error = None;
                self.email.insert_str(line);
            }
            _ => {}
        }
    }

    /// Returns true when the dialog should close.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> bool {
        if key.code == KeyCode::Esc {
            return self.cancel(ctx);
        }
        match self.step.clone() {
            SetupStep::Address => self.address_key(key, ctx),
            SetupStep::Checking { .. } | SetupStep::Saving { .. } => {}
            SetupStep::Choose { site, choice } => self.choose_key(key, site, choice, ctx),
            SetupStep::Email { site } => self.email_key(key, site, ctx),
        }
        false
    }

    fn cancel(&mut self, ctx: &mut Ctx) -> bool {
        match &self.step {
            SetupStep::Saving { .. } => {
                // A write under way is never cancelled halfway.
                ctx.flash(
                    FlashLevel::Info,
                    "Setup closed; the site is being saved to the settings file.",
                );
            }
            SetupStep::Checking { .. } => {
                ctx.command(Command::Cancel(QueryKind::Probe));
                ctx.flash(FlashLevel::Info, "Setup cancelled; nothing was written.");
            }
            _ => ctx.flash(FlashLevel::Info, "Setup cancelled; nothing was written."),
        }
        true
    }

    fn address_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) {
        match key.code {
            KeyCode::Enter => {
                let typed = self.address_text().trim().to_string();
                match normalise_site_address(&typed) {
                    Ok(url) => {
                        self.error = None;
                        let url = crate::site::SiteKey::from_url(&url).to_string();
                        ctx.query(Query::ProbeSite { url: typed.clone() });
                        self.step = SetupStep::Checking { typed, url };
                    }
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            KeyCode::Char('m') if key.modifiers.contains(KeyModifiers::CONTROL) => {}
            _ => {
                self.error = None;
                self.address.input(*key);
            }
        }
    }

    fn choose_key(&mut self, key: &KeyEvent, site: SiteProbe, choice: SignIn, ctx: &mut Ctx) {
        let at = SignIn::ALL.iter().position(|c| *c == choice).unwrap_or(0);
        let pick = match key.code {
            KeyCode::Up | KeyCode::Char('k') => {
                let choice = SignIn::ALL[(at + SignIn::ALL.len() - 1) % SignIn::ALL.len()];
                self.step = SetupStep::Choose { site, choice };
                return;
            }
            KeyCode::Down | KeyCode::Char('j') | KeyCode::Tab => {
                let choice = SignIn::ALL[(at + 1) % SignIn::ALL.len()];
                self.step = SetupStep::Choose { site, choice };
                return;
            }
            KeyCode::Char('1') => SignIn::BrowserCookies,
            KeyCode::Char('2') => SignIn::CloudToken,
            KeyCode::Char('3') => SignIn::PersonalToken,
            KeyCode::Enter => choice,
            // Back to the address (it is kept).
            KeyCode::Backspace | KeyCode::Left => {
                self.step = SetupStep::Address;
                return;
            }
            _ => return,
        };
        if pick == SignIn::CloudToken {
            self.step = SetupStep::Email { site };
            return;
        }
        self.save(site, pick, None, ctx);
    }

    fn email_key(&mut self, key: &KeyEvent, site: SiteProbe, ctx: &mut Ctx) {
        match key.code {
            KeyCode::Enter => {
                let email = self.email.lines().concat().trim().to_string();
                if email.is_empty() || email.chars().any(|c| c.is_control() || c == ':') {
                    self.error = Some(
                        "Type the email of your Atlassian account (no colon), e.g. you@example.com."
                            .into(),
                    );
                    return;
                }
                self.save(site, SignIn::CloudToken, Some(email), ctx);
            }
            KeyCode::Char('m') if key.modifiers.contains(KeyModifiers::CONTROL) => {}
            _ => {
                self.error = None;
                self.email.input(*key);
            }
        }
    }

    /// The choice is final: write the site (and the email) to `.env`.
    fn save(&mut self, site: SiteProbe, next: SignIn, username: Option<String>, ctx: &mut Ctx) {
        self.error = None;
        ctx.mutate(Mutation::WriteSiteSettings {
            base_url: site.base_url.clone(),
            deployment: site.deployment,
            username,
        });
        self.step = SetupStep::Saving { site, next };
    }

    /// The worker's answer to the check of `typed`; answers for an address
    /// no longer being checked are ignored.
    pub(crate) fn on_probe(&mut self, typed: &str, result: &Result<SiteProbe, ProbeError>) {
        let SetupStep::Checking { typed: asked, .. } = &self.step else {
            return;
        };
        if asked != typed {
            return;
        }
        match result {
            Ok(site) => {
                let choice = match (site.behind_sign_in, site.deployment) {
                    (true, _) => SignIn::BrowserCookies,
                    (false, Deployment::Cloud) => SignIn::CloudToken,
                    (false, Deployment::Server) => SignIn::PersonalToken,
                };
                self.step = SetupStep::Choose {
                    site: site.clone(),
                    choice,
                };
            }
            Err(e) => {
                // The address stays, to be corrected.
                self.error = Some(e.to_string());
                self.step = SetupStep::Address;
            }
        }
    }

    /// Writing (or reloading) failed: back to the choice, saying why.
    pub(crate) fn on_save_failed(&mut self, message: &str) {
        if let SetupStep::Saving { site, next } = &self.step {
            self.error = Some(message.to_string());
            self.step = SetupStep::Choose {
                site: site.clone(),
                choice: *next,
            };
        }
    }

    /// True while the settings are being written and reloaded.
    pub(crate) fn saving(&self) -> bool {
        matches!(self.step, SetupStep::Saving { .. })
    }

    /// The settings are written and reloaded: what opens next.
    pub(crate) fn next(&self) -> Option<SetupNext> {
        let SetupStep::Saving { site, next } = &self.step else {
            return None;
        };
        Some(match next {
            SignIn::BrowserCookies => SetupNext::BrowserCookies {
                login_page: site.login_page.clone(),
            },
            SignIn::CloudToken => SetupNext::Token {
                username: Some(self.email.lines().concat().trim().to_string()),
            },
            SignIn::PersonalToken => SetupNext::Token { username: None },
        })
    }
}

/// Rows the dialog's inside needs to show every step in full; with fewer,
/// the sign-in choice drops its one-line explanations.
const ROOMY_HEIGHT: u16 = 12;

/// Draws the dialog centred in `area`.
pub fn render(state: &SetupState, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = super::centered(area, 78, ROOMY_HEIGHT + 2);
    Clear.render(area, buf);
    let step = match state.step {
        SetupStep::Address | SetupStep::Checking { .. } => "1 of 2",
        _ => "2 of 2",
    };
    let block = Block::bordered()
        .title(format!(" Set up a site · step {step} "))
        .border_style(theme.key());
    let inner = block.inner(area);
    block.render(area, buf);
    match &state.step {
        SetupStep::Address | SetupStep::Checking { .. } => address(state, inner, buf, theme),
        SetupStep::Choose { site, choice } => choose(state, site, *choice, inner, buf, theme),
        SetupStep::Email { site } => email(state, site, inner, buf, theme),
        SetupStep::Saving { .. } => {
            let lines = vec![Line::styled(
                format!(
                    " Writing the site to {} and reloading the settings…",
                    state.env_file
                ),
                theme.dim(),
            )];
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .render(inner, buf);
        }
    }
}

fn address(state: &SetupState, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let [top, field, bottom] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let intro = vec![
        Line::styled(" The address of your Confluence site:", theme.title()),
        Line::from(vec![
            Span::styled(" Cloud ", theme.dim()),
            Span::raw("https://your-site.atlassian.net/wiki"),
        ]),
        Line::from(vec![
            Span::styled(" Server/Data Center ", theme.dim()),
            Span::raw("the address you open it at"),
        ]),
    ];
    Paragraph::new(Text::from(intro))
        .wrap(Wrap { trim: false })
        .render(top, buf);
    let checking = matches!(state.step, SetupStep::Checking { .. });
    draw_field(&state.address, "Site URL", !checking, field, buf, theme);
    let mut lines = Vec::new();
    match (&state.step, &state.error) {
        (SetupStep::Checking { url, .. }, _) => {
            lines.push(Line::styled(format!(" Checking {url} …"), theme.warn()));
        }
        (_, Some(e)) => lines.push(Line::styled(format!(" {}", for_terminal(e)), theme.error())),
        (_, None) => lines.push(Line::styled(
            " Enter checks it live (reachable, Confluence, Cloud or Server/DC).",
            theme.dim(),
        )),
    }
    lines.push(Line::styled(
        format!(
            " Nothing is written until you choose how to sign in; then {} gets the site.",
            state.env_file
        ),
        theme.dim(),
    ));
    lines.push(Line::styled(" Enter check · Esc cancel", theme.dim()));
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .render(bottom, buf);
}

fn site_line<'a>(site: &SiteProbe, theme: &Theme) -> Line<'a> {
    let what = if site.behind_sign_in {
        format!("{} (behind a sign-in page)", site.deployment)
    } else {
        format!("Confluence {}", site.deployment)
    };
    Line::from(vec![
        Span::styled(" ✓ ", theme.ok()),
        Span::raw(site.base_url.clone()),
        Span::styled(format!(" · {what}"), theme.ok()),
    ])
}

fn choose(
    state: &SetupState,
    site: &SiteProbe,
    choice: SignIn,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let mut lines = vec![
        site_line(site, theme),
        Line::styled(" How will you sign in?", theme.title()),
    ];
    for (i, option) in SignIn::ALL.iter().enumerate() {
        let selected = *option == choice;
        let marker = if selected { " › " } else { "   " };
        let style = if selected {
            theme.selected()
        } else {
            ratatui::style::Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(marker, theme.key()),
            Span::styled(format!("{} {}", i + 1, option.title()), style),
        ]));
        if area.height >= ROOMY_HEIGHT {
            lines.push(Line::styled(
                format!("     {}", option.detail()),
                theme.dim(),
            ));
        }
    }
    if let Some(e) = &state.error {
        lines.push(Line::styled(format!(" {}", for_terminal(e)), theme.error()));
    }
    let names = match choice {
        SignIn::CloudToken => "the site and your email",
        _ => "the site",
    };
    lines.push(Line::styled(
        format!(
            " Enter writes {names} to {}; tokens go to the encrypted vault only.",
            state.env_file
        ),
        theme.dim(),
    ));
    lines.push(Line::styled(
        " ↑↓ choose · Enter continue · Bksp back · Esc cancel (nothing written)",
        theme.dim(),
    ));
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .render(area, buf);
}

fn email(state: &SetupState, site: &SiteProbe, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let [top, field, bottom] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    Paragraph::new(Text::from(vec![
        site_line(site, theme),
        Line::styled(" Cloud: the email of your Atlassian account", theme.title()),
        Line::styled(
            format!(
                " It is written to {} as CONFLUENCE_USERNAME.",
                state.env_file
            ),
            theme.dim(),
        ),
    ]))
    .wrap(Wrap { trim: false })
    .render(top, buf);
    draw_field(&state.email, "Email", true, field, buf, theme);
    let mut lines = Vec::new();
    if let Some(e) = &state.error {
        lines.push(Line::styled(format!(" {}", for_terminal(e)), theme.error()));
    }
    lines.push(Line::styled(
        " Next: the token dialog (the token is checked, then kept in the vault).",
        theme.dim(),
    ));
    lines.push(Line::styled(
        " Enter save and continue · Esc cancel (nothing written)",
        theme.dim(),
    ));
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .render(bottom, buf);
}

/// A one-row field after its label.
fn draw_field(
    input: &TextArea<'static>,
    label: &str,
    focused: bool,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let mut ta = input.clone();
    let style = if focused { theme.key() } else { theme.dim() };
    if !focused {
        ta.set_cursor_style(ratatui::style::Style::default());
    }
    let [label_area, field_area] =
        Layout::horizontal([Constraint::Length(11), Constraint::Min(1)]).areas(area);
    Paragraph::new(Line::styled(format!(" {label}"), style)).render(label_area, buf);
    (&ta).render(field_area, buf);
}
