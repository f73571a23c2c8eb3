//! Drawing the space browser: a pure function of its state; only the
//! visible rows are built. Every space and page field and every error is
//! the server's text: drawn through `text::for_terminal`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Paragraph, Row, Table, Widget, Wrap};
use time::OffsetDateTime;

use super::{PageSort, PagesView, Progress, SpaceSort, SpacesState};
use crate::confluence::model::{Page, Space};
use crate::text::for_terminal;
use crate::tui::theme::Theme;
use crate::tui::widgets::filter::FilterInput;

/// From this width the details sit beside the list, always shown.
pub(crate) const WIDE_COLUMNS: u16 = 110;
const SIDE_PANE_WIDTH: u16 = 44;
const BOTTOM_PANE_HEIGHT: u16 = 10;
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/// Where the parts of the screen go.
pub(super) struct Areas {
    block: Rect,
    /// The filter or error line under the title, when there is one.
    notice: Option<Rect>,
    header: Rect,
    pub(super) rows: Rect,
    details: Option<Rect>,
}

pub(super) fn layout(state: &SpacesState, area: Rect) -> Areas {
    let wide = area.width >= WIDE_COLUMNS;
    let (block, details) = if wide {
        let [l, r] = Layout::horizontal([Constraint::Min(30), Constraint::Length(SIDE_PANE_WIDTH)])
            .areas(area);
        (l, Some(r))
    } else if state.details {
        let [t, b] = Layout::vertical([Constraint::Min(4), Constraint::Length(BOTTOM_PANE_HEIGHT)])
            .areas(area);
        (t, Some(b))
    } else {
        (area, None)
    };
    let inner = Block::bordered().inner(block);
    let (filter, progress, empty) = match &state.pages {
        Some(p) => (p.list.filter(), &p.progress, p.list.items().is_empty()),
        None => (
            state.list.filter(),
            &state.progress,
            state.list.items().is_empty(),
        ),
    };
    // An error with nothing loaded fills the list area instead.
    let has_notice =
        filter.is_focused() || filter.is_active() || (progress.error.is_some() && !empty);
    let [notice, header, rows] = Layout::vertical([
        Constraint::Length(u16::from(has_notice)),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    Areas {
        block,
        notice: has_notice.then_some(notice),
        header,
        rows,
        details,
    }
}

/// Draws the space browser (or a space's pages) at `now`.
pub fn render(
    state: &SpacesState,
    now: OffsetDateTime,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let areas = layout(state, area);
    match &state.pages {
        Some(p) => render_pages(p, now, &areas, buf, theme),
        None => render_spaces(state, now, &areas, buf, theme),
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "loading 250…", "1,200 spaces", "12 of 1,200 match", plus a countdown.
fn progress_text(p: &Progress, shown: usize, filtered: bool, now: OffsetDateTime) -> String {
    let mut parts = Vec::new();
    if p.loading {
        let spin = SPINNER[p.chunks % SPINNER.len()];
        parts.push(format!("{spin} loaded {}…", thousands(p.loaded)));
    } else if p.done || p.loaded > 0 {
        parts.push(thousands(p.loaded));
    }
    if filtered {
        parts.push(format!("{} match", thousands(shown)));
    }
    if let Some(until) = p.wait_until {
        let secs = (until - now).as_seconds_f64().ceil();
        if secs >= 1.0 {
            let why = p
                .wait_reason
                .as_ref()
                .map_or_else(|| "waiting".to_string(), ToString::to_string);
            parts.push(format!("{why}: retrying in {secs} s"));
        }
    }
    if p.error.is_some() {
        parts.push("failed".into());
    }
    parts.join(" · ")
}

fn block<'a>(title: String, status: String, sort: String, theme: &Theme) -> Block<'a> {
    let mut head = vec![Span::styled(format!(" {title} "), theme.title())];
    if !status.is_empty() {
        head.push(Span::raw(format!("· {status} ")));
    }
    Block::bordered()
        .title(Line::from(head))
        .title(Line::styled(format!(" {sort} "), theme.dim()).right_aligned())
}

fn notice_line<'a>(filter: &FilterInput, error: Option<&str>, theme: &Theme) -> Line<'a> {
    if filter.is_focused() || filter.is_active() {
        let mut spans = vec![
            Span::styled(" / ", theme.key()),
            Span::raw(filter.text().to_string()),
        ];
        if filter.is_focused() {
            spans.push(Span::styled("▏", theme.key()));
            spans.push(Span::styled("  Enter keeps · Esc clears", theme.dim()));
        } else {
            spans.push(Span::styled("  (/ edits · Esc clears)", theme.dim()));
        }
        Line::from(spans)
    } else {
        Line::styled(
            format!(" {}", for_terminal(error.unwrap_or_default())),
            theme.error(),
        )
    }
}

fn arrow(descending: bool) -> &'static str {
    if descending { "↓" } else { "↑" }
}

fn render_spaces(
    state: &SpacesState,
    now: OffsetDateTime,
    a: &Areas,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let list = &state.list;
    let p = &state.progress;
    let filtered = list.filter().is_active();
    let sort = match state.sort {
        SpaceSort::Key => "by key",
        SpaceSort::Name => "by name",
    };
    let status = progress_text(p, list.visible_len(), filtered, now);
    block(
        "Spaces".into(),
        status,
        format!("{sort} {}", arrow(state.descending)),
        theme,
    )
    .render(a.block, buf);
    if let Some(n) = a.notice {
        notice_line(list.filter(), p.error.as_deref(), theme).render(n, buf);
    }
    let widths = [
        Constraint::Length(1),
        Constraint::Length(12),
        Constraint::Min(10),
        Constraint::Length(13),
        Constraint::Length(8),
    ];
    if list.visible_len() == 0 {
        let msg = if let Some(e) = p.error.as_deref().filter(|_| list.items().is_empty()) {
            vec![
                Line::styled("Could not list the spaces:", theme.error()),
                Line::raw(for_terminal(e).into_owned()),
                Line::raw(""),
                Line::styled("r tries again · 1 shows the credential status", theme.dim()),
            ]
        } else if filtered {
            vec![Line::raw(format!(
                "No space matches \u{201c}{}\u{201d}. Esc clears the filter.",
                list.filter().text()
            ))]
        } else if p.loading {
            vec![Line::raw("Loading spaces…")]
        } else if state.loaded_once {
            vec![
                Line::raw("No spaces: this account can read none on this site."),
                Line::styled(
                    "Ask a Confluence admin for access, or sign in as another user (p). r reloads.",
                    theme.dim(),
                ),
            ]
        } else {
            vec![
                Line::raw("No spaces yet: they load here once you are signed in."),
                Line::styled("1 shows the credential status · r lists now", theme.dim()),
            ]
        };
        let area = a.header.union(a.rows);
        Paragraph::new(Text::from(msg))
            .wrap(Wrap { trim: false })
            .render(inset(area), buf);
    } else {
        Table::new(
            [Row::new(["", "Key", "Name", "Type", "Status"]).style(theme.title())],
            widths,
        )
        .render(a.header, buf);
        let height = a.rows.height as usize;
        let start = list.window_start(height);
        let rows = (start..(start + height).min(list.visible_len())).filter_map(|pos| {
            let s = list.row(pos)?;
            let (mark, style) = row_look(pos == list.cursor(), theme);
            Some(
                Row::new([
                    mark.into(),
                    for_terminal(&s.key),
                    for_terminal(&s.name),
                    for_terminal(&s.kind),
                    for_terminal(&s.status),
                ])
                .style(style),
            )
        });
        Table::new(rows, widths).render(a.rows, buf);
    }
    if let Some(d) = a.details {
        space_details(list.selected(), d, buf, theme);
    }
}

fn render_pages(view: &PagesView, now: OffsetDateTime, a: &Areas, buf: &mut Buffer, theme: &Theme) {
    let list = &view.list;
    let p = &view.progress;
    let filtered = list.filter().is_active();
    let sort = match view.sort {
        PageSort::Listed => "as listed".to_string(),
        PageSort::Title => format!("by title {}", arrow(view.descending)),
        PageSort::Updated => format!("by date {}", arrow(view.descending)),
    };
    let title = format!("{} › pages", for_terminal(&view.space.key));
    let status = progress_text(p, list.visible_len(), filtered, now);
    block(title, status, sort, theme).render(a.block, buf);
    if let Some(n) = a.notice {
        notice_line(list.filter(), p.error.as_deref(), theme).render(n, buf);
    }
    let widths = [
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(16),
        Constraint::Length(7),
    ];
    if list.visible_len() == 0 {
        let msg = if let Some(e) = p.error.as_deref().filter(|_| list.items().is_empty()) {
            vec![
                Line::styled(
                    format!(
                        "Could not list the pages of {}:",
                        for_terminal(&view.space.key)
                    ),
                    theme.error(),
                ),
                Line::raw(for_terminal(e).into_owned()),
                Line::raw(""),
                Line::styled("r tries again · Esc goes back to the spaces", theme.dim()),
            ]
        } else if filtered {
            vec![Line::raw(format!(
                "No page matches \u{201c}{}\u{201d}. Esc clears the filter.",
                list.filter().text()
            ))]
        } else if p.loading {
            vec![Line::raw(format!(
                "Loading the pages of {}…",
                for_terminal(&view.space.name)
            ))]
        } else {
            vec![Line::raw(format!(
                "No pages in {} that this account can read. Esc goes back.",
                for_terminal(&view.space.name)
            ))]
        };
        Paragraph::new(Text::from(msg))
            .wrap(Wrap { trim: false })
            .render(inset(a.header.union(a.rows)), buf);
    } else {
        Table::new(
            [Row::new(["", "Title", "Last updated", "Version"]).style(theme.title())],
            widths,
        )
        .render(a.header, buf);
        let height = a.rows.height as usize;
        let start = list.window_start(height);
        let rows = (start..(start + height).min(list.visible_len())).filter_map(|pos| {
            let pg = list.row(pos)?;
            let (mark, style) = row_look(pos == list.cursor(), theme);
            Some(
                Row::new([
                    mark.to_string(),
                    for_terminal(&pg.title).into_owned(),
                    for_terminal(&short_time(pg.updated_at.as_deref())).into_owned(),
                    pg.version.map(|v| format!("v{v}")).unwrap_or_default(),
                ])
                .style(style),
            )
        });
        Table::new(rows, widths).render(a.rows, buf);
    }
    if let Some(d) = a.details {
        page_details(&view.space, list.selected(), d, buf, theme);
    }
}

/// `2026-11-20T14:03:00.000Z` → `2026-11-20 14:03`.
fn short_time(iso: Option<&str>) -> String {
    match iso {
        Some(t) => match (t.get(..10), t.get(11..16)) {
            (Some(d), Some(hm)) => format!("{d} {hm}"),
            _ => t.to_string(),
        },
        None => String::new(),
    }
}

/// The selected row is marked as well as highlighted, so it shows without colour.
fn row_look(selected: bool, theme: &Theme) -> (&'static str, Style) {
    if selected {
        ("▶", theme.selected())
    } else {
        ("", Style::new())
    }
}

fn inset(area: Rect) -> Rect {
    Rect {
        x: area.x + 1,
        width: area.width.saturating_sub(2),
        ..area
    }
}

/// A labelled detail; the value is the server's, so it is escaped.
fn field<'a>(label: &'a str, value: String, theme: &Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!(" {label:<11}"), theme.dim()),
        Span::raw(for_terminal(&value).into_owned()),
    ])
}

fn space_details(space: Option<&Space>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let lines = match space {
        Some(s) => {
            let mut lines = vec![
                field("Key", s.key.clone(), theme),
                field("Name", s.name.clone(), theme),
                field("Type", format!("{} · {}", s.kind, s.status), theme),
                field("Space id", s.id.clone(), theme),
                field(
                    "Home page",
                    s.homepage_id.clone().unwrap_or_else(|| "none".into()),
                    theme,
                ),
                field("URL", String::new(), theme),
                Line::raw(format!(" {}", for_terminal(&s.url))),
            ];
            lines.push(Line::raw(format!(
                " {}",
                for_terminal(s.description.as_deref().unwrap_or("(no description)"))
            )));
            lines
        }
        None => vec![Line::styled(" Nothing selected", theme.dim())],
    };
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Details "))
        .render(area, buf);
}

fn page_details(space: &Space, page: Option<&Page>, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let mut lines = vec![field(
        "Space",
        format!("{} · {}", space.key, space.name),
        theme,
    )];
    match page {
        Some(p) => {
            lines.push(field("Title", p.title.clone(), theme));
            lines.push(field("Page id", p.id.clone(), theme));
            lines.push(field(
                "Parent",
                p.parent_id
                    .clone()
                    .unwrap_or_else(|| "none (top level)".into()),
                theme,
            ));
            lines.push(field("Updated", short_time(p.updated_at.as_deref()), theme));
            lines.push(field(
                "Version",
                p.version.map(|v| v.to_string()).unwrap_or_default(),
                theme,
            ));
            lines.push(field("URL", String::new(), theme));
            lines.push(Line::raw(format!(" {}", for_terminal(&p.url))));
        }
        None => lines.push(Line::styled(" Nothing selected", theme.dim())),
    }
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Details "))
        .render(area, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1200), "1,200");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(
            short_time(Some("2026-11-20T14:03:00.000Z")),
            "2026-11-20 14:03"
        );
        assert_eq!(short_time(Some("yesterday")), "yesterday");
        assert_eq!(short_time(None), "");
    }

    #[test]
    fn details_sit_beside_the_list_only_when_wide() {
        let mut s = SpacesState::default();
        let narrow = Rect::new(0, 1, 80, 21);
        assert!(layout(&s, narrow).details.is_none());
        s.details = true;
        assert!(layout(&s, narrow).details.is_some_and(|d| d.y > narrow.y));
        let wide = Rect::new(0, 1, 120, 37);
        s.details = false;
        assert!(layout(&s, wide).details.is_some_and(|d| d.x > 0));
    }

    #[test]
    fn progress_shows_loaded_count_countdown_and_failure() {
        let now = time::macros::datetime!(2026-11-21 12:00 UTC);
        let mut p = Progress {
            loading: true,
            loaded: 750,
            chunks: 3,
            wait_until: Some(now + time::Duration::milliseconds(4200)),
            wait_reason: Some(crate::confluence::client::WaitReason::RateLimited { status: 429 }),
            ..Progress::default()
        };
        assert_eq!(
            progress_text(&p, 750, false, now),
            "⠸ loaded 750… · rate limited (HTTP 429): retrying in 5 s"
        );
        p.wait_reason = Some(crate::confluence::client::WaitReason::Network);
        assert_eq!(
            progress_text(&p, 750, false, now),
            "⠸ loaded 750… · network error: retrying in 5 s",
            "a network backoff is not a rate limit"
        );
        p.wait_until = Some(now);
        assert_eq!(progress_text(&p, 12, true, now), "⠸ loaded 750… · 12 match");
        p.fail("boom".into());
        assert_eq!(progress_text(&p, 750, false, now), "750 · failed");
    }
}
