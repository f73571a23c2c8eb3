//! The API-token dialog: one masked line; Enter stores it encrypted in the
//! vault (through the worker), Esc cancels and changes nothing.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use ratatui_textarea::TextArea;

use crate::secret::SecretString;
use crate::tui::app::{Ctx, FlashLevel};
use crate::tui::theme::Theme;
use crate::worker::Mutation;

/// The token being typed, masked.
pub struct TokenState {
    input: TextArea<'static>,
    error: Option<&'static str>,
}

impl std::fmt::Debug for TokenState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenState")
            .field("chars", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for TokenState {
    fn default() -> Self {
        let mut input = TextArea::default();
        input.set_mask_char('•');
        input.set_placeholder_text("paste or type the token");
        TokenState { input, error: None }
    }
}

impl TokenState {
    fn len(&self) -> usize {
        self.input.lines().iter().map(|l| l.chars().count()).sum()
    }

    /// A bracketed paste: only its first line counts (never submits).
    pub(crate) fn insert_paste(&mut self, text: &str) {
        self.input
            .insert_str(text.lines().next().unwrap_or_default().trim());
    }

    /// Returns true when the dialog should close.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> bool {
        match key.code {
            KeyCode::Esc => {
                ctx.flash(FlashLevel::Info, "No token was stored.");
                true
            }
            KeyCode::Enter => {
                let token = self.input.lines().concat();
                let token = token.trim();
                if token.is_empty() || token.chars().any(char::is_whitespace) {
                    self.error = Some(
                        "The token is empty or has spaces; paste it exactly as Confluence showed it.",
                    );
                    return false;
                }
                ctx.mutate(Mutation::StoreToken {
                    token: SecretString::from(token),
                    username: None,
                });
                true
            }
            KeyCode::Char('m') if key.modifiers.contains(KeyModifiers::CONTROL) => false,
            _ => {
                self.error = None;
                self.input.input(*key);
                false
            }
        }
    }
}

/// Draws the dialog centred in `area`.
pub fn render(state: &TokenState, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = super::centered(area, 70, 9);
    Clear.render(area, buf);
    let block = Block::bordered()
        .title(" Enter an API token ")
        .border_style(theme.key());
    let inner = block.inner(area);
    block.render(area, buf);
    let [help, input, note] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(3),
        Constraint::Min(1),
    ])
    .areas(inner);
    Paragraph::new(vec![
        Line::raw(
            " Cloud: an API token (with CONFLUENCE_USERNAME). Server/DC: a personal access token.",
        ),
        Line::styled(
            " Stored encrypted in the vault; never shown again.",
            theme.dim(),
        ),
    ])
    .render(help, buf);
    let mut ta = state.input.clone();
    ta.set_block(Block::bordered().title(format!(" {} characters ", state.len())));
    (&ta).render(input, buf);
    let note_line = match state.error {
        Some(e) => Line::styled(format!(" {e}"), theme.error()),
        None => Line::styled(" Enter stores · Esc cancels", theme.dim()),
    };
    Paragraph::new(note_line).render(note, buf);
}
