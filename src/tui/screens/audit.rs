//! The audit log viewer: records newest first, filtered by text and by event
//! kind, a detail pane for the selected record, follow mode, and the state of
//! the hash chain in the title.
//!
//! The log can hold 100,000+ records: it is read and verified on the blocking
//! pool ([`load_snapshot`]), the filter keeps a `Vec` of matching indices, and
//! only the visible rows are ever drawn.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use time::{OffsetDateTime, UtcOffset};

use crate::audit::{AuditDetails, AuditEvent, AuditOutcome, AuditRecord, ChainReport};
use crate::text::for_terminal;
use crate::tui::app::{Ctx, FlashLevel, Handled};
use crate::tui::keys::{self, Action, Binding, Rank, k, special};
use crate::tui::theme::Theme;
use crate::tui::widgets::zone::zone_name;

/// Keys of the audit viewer (the list keys and `/` come from `keys::LIST`).
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[k('e')],
        action: Action::CycleEventFilter,
        label: "event",
        rank: Rank::Useful,
        help: "show one event kind (press again for the next kind, then all)",
    },
    Binding {
        keys: &[k('f')],
        action: Action::ToggleFollow,
        label: "follow",
        rank: Rank::Useful,
        help: "follow: keep the newest record selected as records arrive",
    },
    Binding {
        keys: &[special(KeyCode::Esc)],
        action: Action::Back,
        label: "",
        rank: Rank::More,
        help: "clear the text and event filters",
    },
];

/// Rows `PgUp`/`PgDn` move: the viewport height is only known while drawing.
const PAGE_ROWS: usize = 10;
/// Lines of the detail pane before the record's own fields.
const DETAIL_FIXED_LINES: usize = 4;
/// Hex digits of a hash shown in the detail pane.
const HASH_PREFIX: usize = 16;
/// The event column is never narrower than its heading.
const MIN_EVENT_WIDTH: usize = 5;
const OUTCOME_WIDTH: usize = 7;

/// What the background load of the audit log produced.
#[derive(Debug)]
pub struct AuditSnapshot {
    /// Newest last.
    pub records: Vec<AuditRecord>,
    pub chain: ChainReport,
    /// Why the log could not be read (the records are then empty).
    pub error: Option<String>,
    /// Lowercased event, message and details of each record, for the filter.
    haystacks: Vec<String>,
}

impl AuditSnapshot {
    /// A snapshot of `records` (newest last), preparing the filter's text.
    pub fn new(records: Vec<AuditRecord>, chain: ChainReport) -> AuditSnapshot {
        let haystacks = records.iter().map(haystack).collect();
        AuditSnapshot {
            records,
            chain,
            error: None,
            haystacks,
        }
    }
}

/// Reads the audit log and checks its chain (on the blocking pool).
pub fn load_snapshot(path: &std::path::Path) -> AuditSnapshot {
    match crate::audit::index::read_verified(path) {
        Ok((records, chain)) => AuditSnapshot::new(records, chain),
        Err(e) => AuditSnapshot {
            error: Some(e.to_string()),
            ..AuditSnapshot::new(Vec::new(), ChainReport::Empty)
        },
    }
}

/// The viewer's state.
#[derive(Debug)]
pub struct AuditState {
    /// Newest last, as loaded.
    records: Vec<AuditRecord>,
    haystacks: Vec<String>,
    /// `None` until the first load answers.
    chain: Option<ChainReport>,
    load_error: Option<String>,
    /// Event kinds present in the log, in `AuditEvent::ALL` order.
    kinds: Vec<AuditEvent>,
    /// Times are shown in this zone (the local one, found once at startup).
    offset: UtcOffset,
    filter: String,
    filter_focus: bool,
    event: Option<AuditEvent>,
    /// Indices into `records` that pass both filters, newest first.
    matches: Vec<usize>,
    /// Position in `matches`.
    selected: usize,
    follow: bool,
}

impl Default for AuditState {
    fn default() -> AuditState {
        AuditState {
            records: Vec::new(),
            haystacks: Vec::new(),
            chain: None,
            load_error: None,
            kinds: Vec::new(),
            offset: UtcOffset::UTC,
            filter: String::new(),
            filter_focus: false,
            event: None,
            matches: Vec::new(),
            selected: 0,
            follow: false,
        }
    }
}

impl AuditState {
    /// True while follow mode is on (the driver then re-reads a growing log).
    pub fn following(&self) -> bool {
        self.follow
    }

    /// True while the filter input has the keyboard.
    pub fn text_focus(&self) -> bool {
        self.filter_focus
    }

    /// Shows times in `offset` (call once at startup with the local offset).
    pub(crate) fn set_time_offset(&mut self, offset: UtcOffset) {
        self.offset = offset;
    }

    /// The record under the cursor.
    pub fn selected_record(&self) -> Option<&AuditRecord> {
        self.matches
            .get(self.selected)
            .and_then(|&i| self.records.get(i))
    }

    /// How many records pass the filters.
    pub fn shown(&self) -> usize {
        self.matches.len()
    }

    /// How many records were loaded.
    pub fn total(&self) -> usize {
        self.records.len()
    }

    /// The event kind filtered on, if any.
    pub fn event_filter(&self) -> Option<AuditEvent> {
        self.event
    }

    /// The text filter as typed.
    pub fn filter_text(&self) -> &str {
        &self.filter
    }

    /// The chain report of the last load.
    pub fn chain(&self) -> Option<&ChainReport> {
        self.chain.as_ref()
    }

    /// Mouse wheel: moves the selection.
    pub(crate) fn scroll(&mut self, delta: i32) {
        self.move_by(delta as isize);
    }

    /// A left click at `at` in the screen's `body`: the record on that row
    /// is selected.
    pub(crate) fn click(&mut self, body: Rect, at: ratatui::layout::Position) {
        let [list_area, _] = split(self, body);
        let [_, _, rows] = list_parts(list_area);
        if !rows.contains(at) {
            return;
        }
        let pos = first_shown(self.selected, rows.height.into()) + usize::from(at.y - rows.y);
        if pos < self.matches.len() {
            self.move_by(pos as isize - self.selected as isize);
        }
    }

    /// Keys of the screen; while the filter has focus, every key is taken.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if self.filter_focus {
            self.filter_key(key);
            return Handled::Yes;
        }
        match keys::lookup(&[KEYS, keys::LIST], key) {
            Some(Action::Up) => self.move_by(-1),
            Some(Action::Down) => self.move_by(1),
            Some(Action::PageUp) => self.move_by(-(PAGE_ROWS as isize)),
            Some(Action::PageDown) => self.move_by(PAGE_ROWS as isize),
            Some(Action::Top) => self.move_by(isize::MIN / 2),
            Some(Action::Bottom) => self.move_by(isize::MAX / 2),
            Some(Action::Filter) => self.filter_focus = true,
            Some(Action::CycleEventFilter) => {
                self.event = next_kind(&self.kinds, self.event);
                self.refilter(false);
            }
            Some(Action::ToggleFollow) => {
                self.follow = !self.follow;
                if self.follow {
                    self.selected = 0;
                    ctx.flash(
                        FlashLevel::Info,
                        "Follow on: the newest record stays selected as records arrive",
                    );
                } else {
                    ctx.flash(FlashLevel::Info, "Follow off");
                }
            }
            Some(Action::Back) if !self.filter.is_empty() || self.event.is_some() => {
                self.filter.clear();
                self.event = None;
                self.refilter(false);
            }
            _ => return Handled::No,
        }
        Handled::Yes
    }

    /// Takes a freshly read log, keeping the selection on the same record
    /// (or on the newest one in follow mode).
    pub(crate) fn on_loaded(&mut self, snapshot: AuditSnapshot) {
        let keep = self.selected_record().map(|r| r.hash.clone());
        let AuditSnapshot {
            records,
            chain,
            error,
            haystacks,
        } = snapshot;
        self.records = records;
        self.haystacks = haystacks;
        self.chain = Some(chain);
        self.load_error = error;
        self.kinds = AuditEvent::ALL
            .iter()
            .copied()
            .filter(|e| self.records.iter().any(|r| r.event == *e))
            .collect();
        self.refilter(false);
        // The kept record is usually among the newest: search from the end.
        let index = keep.and_then(|h| self.records.iter().rposition(|r| r.hash == h));
        self.reselect(index);
    }

    fn filter_key(&mut self, key: &KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.filter_focus = false;
                self.filter.clear();
                self.refilter(false);
            }
            KeyCode::Enter => self.filter_focus = false,
            KeyCode::Backspace => {
                self.filter.pop();
                self.refilter(false);
            }
            KeyCode::Up => self.move_by(-1),
            KeyCode::Down => self.move_by(1),
            KeyCode::PageUp => self.move_by(-(PAGE_ROWS as isize)),
            KeyCode::PageDown => self.move_by(PAGE_ROWS as isize),
            KeyCode::Char('u') if ctrl => {
                self.filter.clear();
                self.refilter(false);
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                self.filter.push(c);
                // A longer needle only ever removes matches.
                self.refilter(true);
            }
            _ => {}
        }
    }

    /// Moves the selection; leaving the newest record ends follow mode.
    fn move_by(&mut self, delta: isize) {
        let last = self.matches.len().saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
        if self.selected != 0 {
            self.follow = false;
        }
    }

    /// Recomputes `matches`; `narrowing` searches only the current matches.
    fn refilter(&mut self, narrowing: bool) {
        let keep = self.matches.get(self.selected).copied();
        let needle = self.filter.to_lowercase();
        let event = self.event;
        let passes = |i: usize| {
            event.is_none_or(|e| self.records.get(i).is_some_and(|r| r.event == e))
                && (needle.is_empty() || self.haystacks.get(i).is_some_and(|h| h.contains(&needle)))
        };
        self.matches = if narrowing {
            self.matches
                .iter()
                .copied()
                .filter(|&i| passes(i))
                .collect()
        } else {
            (0..self.records.len())
                .rev()
                .filter(|&i| passes(i))
                .collect()
        };
        self.reselect(keep);
    }

    /// Selects record `index` if it is shown, else the newest match.
    fn reselect(&mut self, index: Option<usize>) {
        self.selected = if self.follow {
            0
        } else {
            // `matches` is sorted newest (highest index) first.
            index
                .and_then(|i| self.matches.binary_search_by(|m| i.cmp(m)).ok())
                .unwrap_or(0)
        };
    }
}

/// The next event kind after `current` (None = all, after the last kind).
fn next_kind(kinds: &[AuditEvent], current: Option<AuditEvent>) -> Option<AuditEvent> {
    match current {
        None => kinds.first().copied(),
        Some(e) => match kinds.iter().position(|k| *k == e) {
            Some(p) => kinds.get(p + 1).copied(),
            None => None,
        },
    }
}

/// The set detail fields, as `(label, value)`.
fn detail_fields(d: &AuditDetails) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut put = |label, value: Option<String>| {
        if let Some(v) = value {
            out.push((label, v));
        }
    };
    put("count", d.count.map(|c| c.to_string()));
    put("names", d.names.as_ref().map(|n| n.join(", ")));
    put("source", d.source.clone());
    put("format", d.format.clone());
    put("http", d.http_status.map(|s| s.to_string()));
    put("reason", d.reason.clone());
    put("path", d.path.clone());
    put("mode", d.mode.clone());
    put("user", d.user.clone());
    put("expires", d.expires_at.clone());
    put("login", d.login_url.clone());
    put("kept at", d.kept_at.clone());
    put("site", d.site.clone());
    put("program", d.program.clone());
    out
}

/// What the text filter searches in one record, lowercased.
fn haystack(r: &AuditRecord) -> String {
    let mut s = format!("{} {}", r.event.as_str(), r.message);
    for (label, value) in detail_fields(&r.details) {
        s.push(' ');
        s.push_str(label);
        s.push(' ');
        s.push_str(&value);
    }
    s.to_lowercase()
}

fn outcome_style(o: AuditOutcome, theme: &Theme) -> Style {
    match o {
        AuditOutcome::Success => theme.ok(),
        AuditOutcome::Warning => theme.warn(),
        AuditOutcome::Failure => theme.error(),
        AuditOutcome::Info => Style::new(),
    }
}

fn format_time(t: OffsetDateTime, offset: UtcOffset, with_year: bool) -> String {
    let t = t.to_offset(offset);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s) = (t.hour(), t.minute(), t.second());
    if with_year {
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    } else {
        format!("{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
    }
}

/// The title: the chain's state, which is the first thing a reviewer wants.
fn title(state: &AuditState, theme: &Theme) -> Line<'static> {
    let (text, style) = match (&state.load_error, &state.chain) {
        (Some(_), _) => ("unreadable".to_string(), theme.error()),
        (None, None) => ("reading…".to_string(), theme.dim()),
        (None, Some(ChainReport::Empty)) => ("empty".to_string(), theme.dim()),
        (None, Some(ChainReport::Intact { records })) => {
            (format!("intact ({records} records)"), theme.ok())
        }
        (
            None,
            Some(ChainReport::Broken {
                seq,
                line,
                file,
                reason,
            }),
        ) => {
            let at = match seq {
                Some(seq) => format!("record {seq}"),
                None => {
                    let name = file
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    format!("line {line} of {name}")
                }
            };
            // The reason may quote the tampered line: escaped.
            (
                for_terminal(&format!("BROKEN at {at}: {reason}")).into_owned(),
                theme.error(),
            )
        }
    };
    Line::from(vec![
        Span::styled(" Audit log · chain ", theme.title()),
        Span::styled(text, style),
        Span::raw(" "),
    ])
}

/// The line above the columns: filters, follow mode and counts.
fn status_line(state: &AuditState, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(" /", theme.key())];
    if state.filter_focus {
        spans.push(Span::styled(format!("{}▏", state.filter), theme.selected()));
    } else if state.filter.is_empty() {
        spans.push(Span::styled(" filter", theme.dim()));
    } else {
        spans.push(Span::raw(format!(" \"{}\"", state.filter)));
    }
    spans.push(Span::styled("  e", theme.key()));
    let event = state.event.map_or("all", AuditEvent::as_str);
    spans.push(Span::raw(format!(" {event}")));
    spans.push(Span::styled("  f", theme.key()));
    if state.follow {
        spans.push(Span::styled(" following", theme.ok()));
    } else {
        spans.push(Span::styled(" follow off", theme.dim()));
    }
    let count = if state.matches.len() == state.records.len() {
        format!("  {} records", state.records.len())
    } else {
        format!(
            "  {} of {} records",
            state.matches.len(),
            state.records.len()
        )
    };
    spans.push(Span::styled(count, theme.dim()));
    Line::from(spans)
}

fn pad(s: &str, width: usize) -> String {
    format!("{s:<width$}")
}

/// The list (with its border) above the selected record's details.
fn split(state: &AuditState, area: Rect) -> [Rect; 2] {
    let detail_height = state.selected_record().map_or(0, |r| {
        let lines =
            u16::try_from(DETAIL_FIXED_LINES + detail_fields(&r.details).len()).unwrap_or(u16::MAX);
        lines.saturating_add(2).min(area.height / 2)
    });
    Layout::vertical([Constraint::Min(3), Constraint::Length(detail_height)]).areas(area)
}

/// The status bar, the column heads and the rows inside the list's border.
fn list_parts(list_area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(Block::bordered().inner(list_area))
}

/// The first match shown in a list `height` rows high: the selection is
/// kept in view without storing an offset.
fn first_shown(selected: usize, height: usize) -> usize {
    selected.saturating_sub(height.saturating_sub(1))
}

/// Draws the audit viewer.
pub(crate) fn render(state: &AuditState, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let detail = state
        .selected_record()
        .map(|r| detail_lines(state, r, theme));
    let [list_area, detail_area] = split(state, area);
    let border = match &state.chain {
        Some(ChainReport::Broken { .. }) => theme.error(),
        _ if state.load_error.is_some() => theme.error(),
        _ => Style::new(),
    };
    let block = Block::bordered()
        .title(title(state, theme))
        .border_style(border);
    block.render(list_area, buf);
    render_list(state, list_parts(list_area), buf, theme);
    if let Some(lines) = detail {
        let seq = state.selected_record().map_or(0, |r| r.seq);
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(format!(" Record {seq} ")))
            .render(detail_area, buf);
    }
}

fn render_list(
    state: &AuditState,
    [bar, header, rows]: [Rect; 3],
    buf: &mut Buffer,
    theme: &Theme,
) {
    if bar.height == 0 {
        return;
    }
    Paragraph::new(status_line(state, theme)).render(bar, buf);
    let wide = bar.width >= 100;
    let time_width = if wide { 19 } else { 14 };
    let time_label = format!("time ({})", zone_name(state.offset));
    // As wide as the longest kind present, leaving the message more room.
    let event_width = state
        .kinds
        .iter()
        .map(|k| k.as_str().len())
        .max()
        .unwrap_or(0)
        .max(MIN_EVENT_WIDTH);
    Paragraph::new(Line::styled(
        format!(
            "  {} {} {} message",
            pad(&time_label, time_width),
            pad("event", event_width),
            pad("outcome", OUTCOME_WIDTH)
        ),
        theme.title(),
    ))
    .render(header, buf);

    let empty = match (&state.load_error, &state.chain) {
        (Some(e), _) => Some((format!(" {}", for_terminal(e)), theme.error())),
        (None, None) => Some((" Reading the audit log…".to_string(), theme.dim())),
        _ if state.records.is_empty() => Some((
            " No records yet. Saving, clearing or verifying credentials is logged here.".into(),
            theme.dim(),
        )),
        _ if state.matches.is_empty() => Some((
            " No record matches the filters. Esc clears them.".into(),
            theme.dim(),
        )),
        _ => None,
    };
    if let Some((text, style)) = empty {
        Paragraph::new(Line::styled(text, style))
            .wrap(Wrap { trim: false })
            .render(rows, buf);
        return;
    }

    let height = rows.height as usize;
    let offset = first_shown(state.selected, height);
    let visible = state.matches.iter().skip(offset).take(height);
    for (row, &index) in visible.enumerate() {
        let Some(r) = state.records.get(index) else {
            continue;
        };
        let selected = offset + row == state.selected;
        let outcome = outcome_style(r.outcome, theme);
        let line = Line::from(vec![
            Span::raw(if selected { "▸ " } else { "  " }),
            Span::raw(pad(&format_time(r.time, state.offset, wide), time_width)),
            Span::raw(" "),
            Span::styled(pad(r.event.as_str(), event_width), outcome),
            Span::raw(" "),
            Span::styled(pad(r.outcome.as_str(), OUTCOME_WIDTH), outcome),
            Span::raw(" "),
            // Messages carry server text (display names) or whatever a
            // tampered log holds: shown escaped.
            Span::raw(for_terminal(&r.message).into_owned()),
        ]);
        let line_area = Rect {
            y: rows.y + row as u16,
            height: 1,
            ..rows
        };
        let line = if selected {
            line.style(theme.selected())
        } else {
            line
        };
        Paragraph::new(line).render(line_area, buf);
    }
}

fn detail_lines(state: &AuditState, r: &AuditRecord, theme: &Theme) -> Vec<Line<'static>> {
    let label = |l: &str| Span::styled(format!(" {l:<9}"), theme.dim());
    // A tampered line may hold anything as its hash: cut on characters,
    // escaped like every text read back from the log.
    let short = |h: &str| {
        let prefix: String = h.chars().take(HASH_PREFIX).collect();
        format!("{}…", for_terminal(&prefix))
    };
    let mut lines = vec![
        Line::from(vec![
            label("seq"),
            Span::raw(format!("{:<8}", r.seq)),
            Span::styled("hash ", theme.dim()),
            Span::raw(short(&r.hash)),
            Span::styled("  prev ", theme.dim()),
            Span::raw(short(&r.prev)),
        ]),
        Line::from(vec![
            label("time"),
            Span::raw(format!(
                "{} {}",
                format_time(r.time, state.offset, true),
                zone_name(state.offset)
            )),
        ]),
        Line::from(vec![
            label("event"),
            Span::styled(r.event.as_str(), outcome_style(r.outcome, theme)),
            Span::raw(" · "),
            Span::styled(r.outcome.as_str(), outcome_style(r.outcome, theme)),
        ]),
        Line::from(vec![
            label("message"),
            Span::raw(for_terminal(&r.message).into_owned()),
        ]),
    ];
    for (name, value) in detail_fields(&r.details) {
        lines.push(Line::from(vec![
            label(name),
            Span::raw(for_terminal(&value).into_owned()),
        ]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_cycle_goes_through_present_kinds_then_all() {
        let kinds = [AuditEvent::CookiesSaved, AuditEvent::SessionExpired];
        let mut e = None;
        let mut seen = Vec::new();
        for _ in 0..3 {
            e = next_kind(&kinds, e);
            seen.push(e);
        }
        assert_eq!(
            seen,
            vec![
                Some(AuditEvent::CookiesSaved),
                Some(AuditEvent::SessionExpired),
                None
            ]
        );
        assert_eq!(next_kind(&kinds, Some(AuditEvent::LogRotated)), None);
        assert_eq!(next_kind(&[], None), None);
    }
}
