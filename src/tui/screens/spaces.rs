//! The space browser. (Skeleton: the full screen is being built.)

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::confluence::model::Space;
use crate::tui::app::{Ctx, Handled};
use crate::tui::keys::Binding;
use crate::tui::theme::Theme;
use crate::worker::Event;

/// Keys of the space list.
pub const KEYS: &[Binding] = &[];

/// The space browser's state.
#[derive(Debug, Default)]
pub struct SpacesState {
    pub spaces: Vec<Space>,
    pub loading: bool,
    pub loaded_once: bool,
}

impl SpacesState {
    pub fn keys(&self) -> &'static [Binding] {
        KEYS
    }
    pub fn text_focus(&self) -> bool {
        false
    }
    pub fn scroll(&mut self, _delta: i32) {}
    pub fn needs_load(&self) -> bool {
        !self.loading && !self.loaded_once
    }
    pub fn mark_loading(&mut self) {
        self.loading = true;
    }
    pub fn reset(&mut self) {
        *self = SpacesState::default();
    }
    pub fn handle_key(&mut self, _key: &KeyEvent, _ctx: &mut Ctx) -> Handled {
        Handled::No
    }
    pub fn on_worker_event(&mut self, ev: &Event) {
        match ev {
            Event::SpacesPage { spaces, .. } => self.spaces.extend(spaces.iter().cloned()),
            Event::SpacesDone { .. } => {
                self.loading = false;
                self.loaded_once = true;
            }
            _ => {}
        }
    }
}

pub fn render(state: &SpacesState, area: Rect, buf: &mut Buffer, _theme: &Theme) {
    Paragraph::new(format!("{} spaces", state.spaces.len()))
        .block(Block::bordered().title(" Spaces "))
        .render(area, buf);
}
