//! The `?` help: every key in force, once, from the same tables as the key
//! handling and the footer; the mouse too. It wraps with a hanging indent
//! and scrolls (`j`/`k`, `PgDn`/`PgUp`, `End`/`G`, the wheel); the bottom
//! border says which lines are shown and whether more follow.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::tui::keys::{self, Action, Binding, Rank, k, special};
use crate::tui::theme::Theme;
use crate::tui::widgets::wrap::wrap;

/// Keys of the help (any key not listed closes it too).
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Down), k('j')],
        action: Action::Down,
        label: "scroll",
        rank: Rank::Main,
        help: "scroll down",
    },
    Binding {
        keys: &[special(KeyCode::Up), k('k')],
        action: Action::Up,
        label: "",
        rank: Rank::More,
        help: "scroll up",
    },
    Binding {
        keys: &[special(KeyCode::PageDown), k(' ')],
        action: Action::PageDown,
        label: "page",
        rank: Rank::Useful,
        help: "a page down",
    },
    Binding {
        keys: &[special(KeyCode::PageUp)],
        action: Action::PageUp,
        label: "",
        rank: Rank::More,
        help: "a page up",
    },
    Binding {
        keys: &[special(KeyCode::Home), k('g')],
        action: Action::Top,
        label: "",
        rank: Rank::More,
        help: "to the top",
    },
    Binding {
        keys: &[special(KeyCode::End), k('G')],
        action: Action::Bottom,
        label: "end",
        rank: Rank::Useful,
        help: "to the end",
    },
    Binding {
        keys: &[special(KeyCode::Esc), k('q'), k('?')],
        action: Action::Back,
        label: "close",
        rank: Rank::Always,
        help: "close the help (so does any other key)",
    },
];

/// The widest the help gets.
const WIDTH: u16 = 72;
/// The key column never takes more than this, so the text keeps its room.
const MAX_KEY_COLUMN: usize = 20;

/// How far the help is scrolled.
#[derive(Debug, Default)]
pub struct HelpState {
    scroll: usize,
}

/// How many lines the help has and how many it shows at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Size {
    pub lines: usize,
    pub rows: usize,
}

impl Size {
    fn max_scroll(self) -> usize {
        self.lines.saturating_sub(self.rows)
    }
}

impl HelpState {
    /// The first line shown.
    pub fn scroll(&self) -> usize {
        self.scroll
    }

    /// A key; true when the help should close.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, size: Size) -> bool {
        let page = size.rows.max(1) as i64;
        let delta = match keys::lookup(&[KEYS], key) {
            Some(Action::Down) => 1,
            Some(Action::Up) => -1,
            Some(Action::PageDown) => page,
            Some(Action::PageUp) => -page,
            Some(Action::Top) => i64::MIN / 2,
            Some(Action::Bottom) => i64::MAX / 2,
            _ => return true,
        };
        self.scroll_by(delta, size);
        false
    }

    /// Moves by `delta` lines, kept within the text.
    pub(crate) fn scroll_by(&mut self, delta: i64, size: Size) {
        let target = (self.scroll as i64).saturating_add(delta);
        self.scroll = target.clamp(0, size.max_scroll() as i64) as usize;
    }
}

/// Where the help goes in the screen's `body`, for `lines` lines of text.
fn frame(body: Rect, lines: usize) -> Rect {
    let height = u16::try_from(lines + 2).unwrap_or(u16::MAX);
    super::centered(body, WIDTH, height)
}

/// Columns of text inside the help in `body`.
fn inner_width(body: Rect) -> usize {
    usize::from(WIDTH.min(body.width).saturating_sub(2))
}

/// How many lines the help for `entries` has in `body`, and how many show.
pub(crate) fn size(entries: &[(String, &str)], body: Rect) -> Size {
    let lines = lines(entries, inner_width(body), &Theme::plain()).len();
    Size {
        lines,
        rows: usize::from(frame(body, lines).height.saturating_sub(2)),
    }
}

/// `entries` as lines of `width` columns: the keys, then the sentence,
/// whose later lines hang under its first.
fn lines(entries: &[(String, &str)], width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let column = entries
        .iter()
        .map(|(k, _)| crate::tui::widgets::fit::width(k))
        .max()
        .unwrap_or(0)
        .min(MAX_KEY_COLUMN);
    let indent = column + 2;
    let mut out = Vec::new();
    for (keys, help) in entries {
        let key_width = crate::tui::widgets::fit::width(keys);
        if key_width > column {
            // Keys wider than the column get a line of their own.
            out.push(Line::styled(format!(" {keys}"), theme.key()));
        }
        let text_width = width.saturating_sub(indent).max(1);
        for (i, part) in wrap(help, text_width).into_iter().enumerate() {
            let head = if i == 0 && key_width <= column {
                Span::styled(
                    format!(" {keys}{} ", " ".repeat(column - key_width)),
                    theme.key(),
                )
            } else {
                Span::raw(" ".repeat(indent))
            };
            out.push(Line::from(vec![head, Span::raw(part)]));
        }
    }
    out
}

/// Draws the help for `entries` over `body`, scrolled as `state` says.
pub(crate) fn render(
    state: &HelpState,
    entries: &[(String, &str)],
    body: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let all = lines(entries, inner_width(body), theme);
    let area = frame(body, all.len());
    let rows = usize::from(area.height.saturating_sub(2));
    let first = state.scroll.min(all.len().saturating_sub(rows));
    let last = (first + rows).min(all.len());
    let more = if last < all.len() { " ↓ more" } else { "" };
    let position = format!(" {}–{last} of {}{more} ", first + 1, all.len());
    Clear.render(area, buf);
    Paragraph::new(all.into_iter().skip(first).take(rows).collect::<Vec<_>>())
        .block(
            Block::bordered()
                .title(" Keys ")
                .title_bottom(Line::styled(position, theme.dim()).right_aligned()),
        )
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_stays_within_the_text() {
        let size = Size {
            lines: 30,
            rows: 10,
        };
        let mut h = HelpState::default();
        let key = |c| KeyEvent::from(KeyCode::Char(c));
        assert!(!h.handle_key(&key('G'), size));
        assert_eq!(h.scroll(), 20);
        assert!(!h.handle_key(&key('j'), size));
        assert_eq!(h.scroll(), 20, "no scrolling past the end");
        assert!(!h.handle_key(&KeyEvent::from(KeyCode::PageUp), size));
        assert_eq!(h.scroll(), 10);
        assert!(!h.handle_key(&key('g'), size));
        assert_eq!(h.scroll(), 0);
        assert!(h.handle_key(&key('x'), size), "another key closes");
    }

    #[test]
    fn long_help_hangs_under_its_first_line() {
        let entries = [(
            "o".to_string(),
            "open in the browser (the site's login page on the status screen)",
        )];
        let l = lines(&entries, 30, &Theme::plain());
        let text: Vec<String> = l.iter().map(|l| l.to_string()).collect();
        assert_eq!(text[0], " o open in the browser (the");
        assert!(
            text[1..]
                .iter()
                .all(|t| t.starts_with("   ") && !t.starts_with("    ")),
            "{text:?}"
        );
    }
}
