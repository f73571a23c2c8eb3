//! The audit log viewer. (Skeleton: the full screen is being built.)

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::audit::{AuditRecord, ChainReport};
use crate::tui::app::{Ctx, Handled};
use crate::tui::keys::Binding;
use crate::tui::theme::Theme;

/// Keys of the audit viewer.
pub const KEYS: &[Binding] = &[];

/// What the background load of the audit log produced.
#[derive(Debug)]
pub struct AuditSnapshot {
    /// Newest last.
    pub records: Vec<AuditRecord>,
    pub chain: ChainReport,
}

/// The viewer's state.
#[derive(Debug, Default)]
pub struct AuditState {
    pub records: Vec<AuditRecord>,
    pub chain: Option<ChainReport>,
}

/// Reads the audit log and checks its chain (on the blocking pool).
pub fn load_snapshot(path: &std::path::Path) -> AuditSnapshot {
    let log = crate::audit::AuditLog::new(path);
    let records = log.read_all().unwrap_or_default();
    let chain = log.verify().unwrap_or(ChainReport::Empty);
    AuditSnapshot { records, chain }
}

impl AuditState {
    pub fn following(&self) -> bool {
        false
    }
    pub fn text_focus(&self) -> bool {
        false
    }
    pub fn scroll(&mut self, _delta: i32) {}
    pub fn handle_key(&mut self, _key: &KeyEvent, _ctx: &mut Ctx) -> Handled {
        Handled::No
    }
    pub fn on_loaded(&mut self, snapshot: AuditSnapshot) {
        self.records = snapshot.records;
        self.chain = Some(snapshot.chain);
    }
}

pub fn render(state: &AuditState, area: Rect, buf: &mut Buffer, _theme: &Theme) {
    Paragraph::new(format!("{} records", state.records.len()))
        .block(Block::bordered().title(" Audit log "))
        .render(area, buf);
}
