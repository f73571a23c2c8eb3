//! The mouse: the wheel scrolls the list (or the help), a left click on a
//! header tab switches screens and one on a list row (or a browser profile
//! in its dialog) selects it. Where a click lands follows from the
//! terminal's size and the same layout the view draws with, so `update`
//! stays pure.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use super::{App, Dialog, Effect, Screen};
use crate::tui::view;

/// Rows one turn of the wheel moves.
const WHEEL_ROWS: i32 = 3;

impl App {
    pub(super) fn on_mouse(&mut self, m: MouseEvent, effects: &mut Vec<Effect>) {
        let wheel = match m.kind {
            MouseEventKind::ScrollDown => WHEEL_ROWS,
            MouseEventKind::ScrollUp => -WHEEL_ROWS,
            _ => 0,
        };
        if wheel != 0 {
            self.on_wheel(wheel);
            return;
        }
        if m.kind != MouseEventKind::Down(MouseButton::Left) {
            return;
        }
        let [header, body, _, _] = view::frame_areas(self.frame());
        let at = Position::new(m.column, m.row);
        match &mut self.dialog {
            // The browser profiles are a list: a click selects one.
            Some(Dialog::Browsers(b)) => return b.click(body, at),
            // Other dialogs take keys, not clicks.
            Some(_) => return,
            None => {}
        }
        if header.contains(at) {
            if let Some(screen) = view::tab_at(header.width, m.column - header.x) {
                self.show(screen, effects);
            }
        } else if body.contains(at) {
            match self.screen {
                Screen::Spaces => self.spaces.click(body, at),
                Screen::Audit => self.audit.click(body, at),
                Screen::Pipeline => self.pipeline.click(body, at),
                Screen::Status => {}
            }
        }
    }

    fn on_wheel(&mut self, delta: i32) {
        match &self.dialog {
            Some(Dialog::Help(_)) => {
                let size = self.help_size();
                if let Some(Dialog::Help(h)) = &mut self.dialog {
                    h.scroll_by(delta.into(), size);
                }
            }
            Some(_) => {}
            None => match self.screen {
                Screen::Spaces => self.spaces.scroll(delta),
                Screen::Audit => self.audit.scroll(delta),
                Screen::Pipeline => self.pipeline.scroll(delta),
                Screen::Status => {}
            },
        }
    }
}
