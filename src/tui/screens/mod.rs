//! One file per screen or dialog: its state, its key table, its key
//! handling, and its rendering (a pure function of the state).

pub mod audit;
pub mod browsers;
pub(crate) mod confirm;
pub mod help;
pub mod paste;
pub mod pipeline;
pub mod setup;
pub(crate) mod spaces;
pub(crate) mod status;
pub(crate) mod token;

use ratatui::layout::Rect;

/// A rectangle of at most `width`×`height` centred in `area`.
pub(crate) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
