//! The API-token dialog: the token (masked) and the user name it is sent
//! with; the dialog says which auth that makes. Enter has the worker check
//! the token with the site and store it encrypted only if the site accepts
//! it; Esc cancels and changes nothing.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};
use ratatui_textarea::TextArea;

use crate::secret::SecretString;
use crate::tui::app::{Ctx, FlashLevel};
use crate::tui::keys::{self, Action, Binding, Rank, special};
use crate::tui::theme::Theme;
use crate::worker::Mutation;

/// Keys of the token dialog (every other key edits the focused field).
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Enter)],
        action: Action::Save,
        label: "check and store",
        rank: Rank::Main,
        help: "check the token with the site, then store it encrypted (only if accepted)",
    },
    Binding {
        keys: &[
            special(KeyCode::Tab),
            special(KeyCode::BackTab),
            special(KeyCode::Up),
            special(KeyCode::Down),
        ],
        action: Action::NextField,
        label: "other field",
        rank: Rank::Useful,
        help: "switch between the token and the user name",
    },
    Binding {
        keys: &[special(KeyCode::Esc)],
        action: Action::Back,
        label: "cancel",
        rank: Rank::Always,
        help: "close without storing anything",
    },
];

/// Which field has the keyboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Token,
    Username,
}

/// The token being typed (masked) and the user name to send with it.
pub struct TokenState {
    token: TextArea<'static>,
    username: TextArea<'static>,
    focus: Field,
    /// `CONFLUENCE_USERNAME`: used when the field is left empty.
    settings_username: Option<String>,
    error: Option<&'static str>,
}

impl std::fmt::Debug for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenState")
            .field("chars", &self.len())
            .field("focus", &self.focus)
            .finish_non_exhaustive()
    }
}

impl Default for TokenState {
    fn default() -> Self {
        let mut token = TextArea::default();
        token.set_mask_char('•');
        token.set_placeholder_text("paste or type the token");
        let mut username = TextArea::default();
        username.set_placeholder_text("you@example.com (Cloud); empty for a PAT");
        TokenState {
            token,
            username,
            focus: Field::Token,
            settings_username: None,
            error: None,
        }
    }
}

/// How the token will be sent, as the dialog says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenAuth {
    /// A user name in the field: Cloud email + API token.
    Basic,
    /// The field empty, `CONFLUENCE_USERNAME` set: Basic with that.
    BasicFromSettings,
    /// No user name anywhere: a Server/DC personal access token.
    Bearer,
}

impl TokenAuth {
    fn sentence(self) -> &'static str {
        match self {
            TokenAuth::Basic => "email + API token → Basic (Cloud)",
            TokenAuth::BasicFromSettings => "CONFLUENCE_USERNAME + API token → Basic (Cloud)",
            TokenAuth::Bearer => "token alone → Bearer personal access token (Server/DC)",
        }
    }
}

impl TokenState {
    /// Starts the user name field with `username` (`CONFLUENCE_USERNAME`),
    /// which is also what an emptied field falls back to.
    pub(crate) fn start_with_username(&mut self, username: Option<&str>) {
        self.settings_username = username.map(str::to_string);
        if let Some(u) = username {
            self.username.insert_str(u);
        }
    }

    fn len(&self) -> usize {
        self.token.lines().iter().map(|l| l.chars().count()).sum()
    }

    fn username_text(&self) -> String {
        self.username.lines().concat().trim().to_string()
    }

    /// How the token will be sent with what is typed now.
    pub(crate) fn auth(&self) -> TokenAuth {
        match (self.username_text().is_empty(), &self.settings_username) {
            (false, _) => TokenAuth::Basic,
            (true, Some(_)) => TokenAuth::BasicFromSettings,
            (true, None) => TokenAuth::Bearer,
        }
    }

    fn field(&mut self) -> &mut TextArea<'static> {
        match self.focus {
            Field::Token => &mut self.token,
            Field::Username => &mut self.username,
        }
    }

    /// A bracketed paste: only its first line counts (never submits).
    pub(crate) fn insert_paste(&mut self, text: &str) {
        let line = text.lines().next().unwrap_or_default().trim().to_string();
        self.field().insert_str(line);
    }

    /// Returns true when the dialog should close.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> bool {
        match keys::lookup(&[KEYS], key) {
            Some(Action::Back) => {
                ctx.flash(FlashLevel::Info, "No token was stored.");
                true
            }
            Some(Action::Save) => {
                let token = self.token.lines().concat();
                let token = token.trim();
                if token.is_empty() || token.chars().any(char::is_whitespace) {
                    self.error = Some(
                        "The token is empty or has spaces; paste it exactly as Confluence showed it.",
                    );
                    self.focus = Field::Token;
                    return false;
                }
                let username = self.username_text();
                if username.chars().any(|c| c.is_control() || c == ':') {
                    self.error = Some("The user name cannot hold a colon or control characters.");
                    self.focus = Field::Username;
                    return false;
                }
                ctx.mutate(Mutation::StoreToken {
                    token: SecretString::from(token),
                    username: (!username.is_empty()).then_some(username),
                });
                ctx.flash(FlashLevel::Info, "Checking the token with the site…");
                true
            }
            Some(Action::NextField) => {
                self.focus = match self.focus {
                    Field::Token => Field::Username,
                    Field::Username => Field::Token,
                };
                false
            }
            // Ctrl+M is Enter on some terminals; it must not add a line.
            _ if key.code == KeyCode::Char('m')
                && key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                false
            }
            _ => {
                self.error = None;
                self.field().input(*key);
                false
            }
        }
    }
}

/// Rows the dialog's inside needs to show everything with framed fields.
const ROOMY_HEIGHT: u16 = 12;

/// Draws the dialog centred in `area`.
pub fn render(state: &TokenState, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = super::centered(area, 76, ROOMY_HEIGHT + 2);
    Clear.render(area, buf);
    let block = Block::bordered()
        .title(" Sign in with a token ")
        .border_style(theme.key());
    let inner = block.inner(area);
    block.render(area, buf);
    let roomy = inner.height >= ROOMY_HEIGHT;
    let field_rows = if roomy { 3 } else { 1 };
    let [help, token, username, uses, note] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(field_rows),
        Constraint::Length(field_rows),
        Constraint::Length(1),
        Constraint::Length(if roomy { 2 } else { 1 }),
    ])
    .areas(inner);
    let explanation = vec![
        Line::from(vec![
            Span::styled(" Cloud: ", theme.title()),
            Span::raw("your account email + an API token, sent as Basic auth."),
        ]),
        Line::from(vec![
            Span::styled(" Server/Data Center: ", theme.title()),
            Span::raw("a personal access token alone, sent as Bearer."),
        ]),
    ];
    Paragraph::new(Text::from(explanation))
        .wrap(Wrap { trim: false })
        .render(help, buf);
    let token_title = format!(" Token · {} characters ", state.len());
    let token_label = format!("Token ({})", state.len());
    draw_field(
        &state.token,
        (&token_title, &token_label),
        state.focus == Field::Token,
        roomy,
        token,
        buf,
        theme,
    );
    draw_field(
        &state.username,
        (" User name (Cloud email) ", "User name"),
        state.focus == Field::Username,
        roomy,
        username,
        buf,
        theme,
    );
    Paragraph::new(crate::tui::widgets::fit::fit_line(
        Line::from(vec![
            Span::styled(" Will use: ", theme.dim()),
            Span::styled(state.auth().sentence(), theme.title()),
        ]),
        usize::from(uses.width),
    ))
    .render(uses, buf);
    let mut lines = Vec::new();
    match state.error {
        Some(e) => lines.push(Line::styled(format!(" {e}"), theme.error())),
        None if roomy => lines.push(Line::styled(
            " Checked with the site first; stored encrypted only if it is accepted.",
            theme.dim(),
        )),
        None => {}
    }
    lines.push(Line::styled(format!(" {}", keys::hint(KEYS)), theme.dim()));
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .render(note, buf);
}

/// A field framed with its title (`roomy`), or on one row after its label.
fn draw_field(
    input: &TextArea<'static>,
    (title, label): (&str, &str),
    focused: bool,
    roomy: bool,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let mut ta = input.clone();
    let style = if focused { theme.key() } else { theme.dim() };
    if !focused {
        // Only the field with the keyboard shows a cursor.
        ta.set_cursor_style(ratatui::style::Style::default());
    }
    if roomy {
        ta.set_block(
            Block::bordered()
                .title(title.to_string())
                .border_style(style),
        );
        (&ta).render(area, buf);
        return;
    }
    let [label_area, field_area] =
        Layout::horizontal([Constraint::Length(13), Constraint::Min(1)]).areas(area);
    Paragraph::new(Line::styled(format!(" {label}"), style)).render(label_area, buf);
    (&ta).render(field_area, buf);
}
