//! The paste-cookie dialog. (Skeleton: the full dialog is being built.)

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::credentials::ImportInput;
use crate::tui::app::{ClipboardText, Ctx};
use crate::tui::theme::Theme;
use crate::worker::Command;

/// The dialog's state.
#[derive(Debug, Default)]
pub struct PasteState {
    text: Zeroizing<String>,
}

impl PasteState {
    pub fn new(_now: OffsetDateTime, _ttl: time::Duration) -> PasteState {
        PasteState::default()
    }
    pub fn insert_paste(&mut self, text: &str, _now: OffsetDateTime, _ttl: time::Duration) {
        self.text.push_str(text);
    }
    pub fn on_clipboard(&mut self, c: ClipboardText, now: OffsetDateTime, ttl: time::Duration) {
        if let ClipboardText::Text(t) = c {
            self.text = Zeroizing::new(String::new());
            self.insert_paste(&t, now, ttl);
        }
    }
    /// Returns true when the dialog should close.
    pub fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx, _ttl: time::Duration) -> bool {
        match key.code {
            KeyCode::Esc => true,
            KeyCode::Enter => {
                ctx.command(Command::ImportCookies {
                    input: ImportInput::Paste(self.text.clone()),
                });
                true
            }
            _ => false,
        }
    }
}

/// Footer keys while the dialog is open.
pub fn footer() -> Vec<(String, &'static str)> {
    vec![("Enter".into(), "save"), ("Esc".into(), "cancel")]
}

pub fn render(state: &PasteState, area: Rect, buf: &mut Buffer, _theme: &Theme) {
    Clear.render(area, buf);
    Paragraph::new(format!("{} characters", state.text.chars().count()))
        .block(Block::bordered().title(" Paste cookies "))
        .render(area, buf);
}
