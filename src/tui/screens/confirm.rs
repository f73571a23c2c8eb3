//! The question before the stored cookies are deleted: `y` deletes, any
//! other key keeps them. Its text wraps between words to the room it has.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::tui::app::{Ctx, FlashLevel};
use crate::tui::keys::{self, Action, Binding, Rank, k, special};
use crate::tui::theme::Theme;
use crate::tui::widgets::wrap::hanging;
use crate::worker::Mutation;

/// Keys of the confirmation (any key not listed keeps the cookies too).
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[k('y'), k('Y')],
        action: Action::Confirm,
        label: "delete",
        rank: Rank::Main,
        help: "delete the stored cookies (the audit log keeps a record)",
    },
    Binding {
        keys: &[special(KeyCode::Esc), k('n')],
        action: Action::Back,
        label: "keep them",
        rank: Rank::Always,
        help: "keep the cookies (so does any other key)",
    },
];

const QUESTION: &str = "Delete the stored cookies? The audit log keeps a record.";
/// The widest the box gets.
const WIDTH: u16 = 60;

/// Answers the question; the dialog always closes.
pub(crate) fn handle_key(key: &KeyEvent, ctx: &mut Ctx) {
    match keys::lookup(&[KEYS], key) {
        Some(Action::Confirm) => ctx.mutate(Mutation::ClearCookies),
        _ => ctx.flash(FlashLevel::Info, "Nothing was cleared."),
    }
}

/// Draws the question centred in `area`, wrapped to the box's width.
pub(crate) fn render(area: Rect, buf: &mut Buffer, theme: &Theme) {
    let inner = usize::from(WIDTH.min(area.width).saturating_sub(2));
    let mut lines: Vec<Line> = hanging(&format!(" {QUESTION}"), inner, 1)
        .into_iter()
        .map(Line::raw)
        .collect();
    let answer = format!(" {} (or any other key)", keys::hint(KEYS));
    lines.extend(
        hanging(&answer, inner, 1)
            .into_iter()
            .map(|l| Line::styled(l, theme.key())),
    );
    let height = u16::try_from(lines.len() + 2).unwrap_or(u16::MAX);
    let area = super::centered(area, WIDTH, height);
    Clear.render(area, buf);
    Paragraph::new(lines)
        .block(
            Block::bordered()
                .title(" Clear cookies ")
                .border_style(theme.warn()),
        )
        .render(area, buf);
}
