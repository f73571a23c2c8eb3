//! Drawing the Pipeline screen: a pure function of its state; only the
//! visible rows of the request log are built. A request's path is the
//! client's text (and may echo the site's links): drawn through
//! `text::for_terminal`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Padding, Paragraph, Row, Table, Widget, Wrap};
use time::OffsetDateTime;

use super::{PipelineState, ProxyInfo, Serving, env_lines};
use crate::proxy::RequestRecord;
use crate::text::for_terminal;
use crate::tui::theme::Theme;

/// The status column: `200`, or `200 cut` for an answer cut off.
const STATUS_WIDTH: u16 = 7;

/// Lines inside the proxy panel while it runs: address, four environment
/// lines, totals.
const PANEL_LINES: u16 = 6;

/// Where the parts of the screen go.
pub(super) struct Areas {
    panel: Rect,
    log: Option<Rect>,
    notice: Option<Rect>,
    header: Rect,
    pub(super) rows: Rect,
}

pub(super) fn layout(state: &PipelineState, area: Rect) -> Areas {
    let panel_height = match state.info() {
        Some(_) => PANEL_LINES + 2,
        None => area.height,
    };
    let [panel, log] =
        Layout::vertical([Constraint::Length(panel_height), Constraint::Min(0)]).areas(area);
    if state.info().is_none() {
        return Areas {
            panel,
            log: None,
            notice: None,
            header: Rect::default(),
            rows: Rect::default(),
        };
    }
    let inner = Block::bordered().inner(log);
    let filter = state.log.filter();
    let has_notice = filter.is_focused() || filter.is_active();
    let [notice, header, rows] = Layout::vertical([
        Constraint::Length(u16::from(has_notice)),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    Areas {
        panel,
        log: Some(log),
        notice: has_notice.then_some(notice),
        header,
        rows,
    }
}

/// Draws the Pipeline screen at `now`.
pub fn render(
    state: &PipelineState,
    now: OffsetDateTime,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let a = layout(state, area);
    match state.info() {
        Some(info) => {
            panel(state, info, now, a.panel, buf, theme);
            if let Some(log) = a.log {
                request_log(state, &a, log, buf, theme);
            }
        }
        None => idle(state, a.panel, buf, theme),
    }
}

/// Not serving: what the proxy is, and how to start it.
fn idle(state: &PipelineState, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let mut lines = Vec::new();
    let (title, status) = match state.serving() {
        Serving::Starting => (" Pipeline · starting ", "Starting the proxy…"),
        _ => (" Pipeline · not serving ", "The proxy is not running."),
    };
    lines.push(Line::styled(status, theme.title()));
    if let Some(e) = &state.error {
        lines.push(Line::raw(""));
        lines.push(Line::styled(for_terminal(e).into_owned(), theme.error()));
    }
    lines.push(Line::raw(""));
    for text in [
        "The authenticating proxy lets a pipeline, or any Confluence client that speaks API tokens, use this site through a local address (http://127.0.0.1:PORT) with a throw-away token.",
        "The proxy adds the stored session to every request, so the client never holds your cookies or token; it keeps the session alive, saves refreshed cookies, and is read-only.",
        "Every request it forwards is listed here: time, method, path, status, duration, bytes.",
    ] {
        lines.push(Line::raw(text));
        lines.push(Line::raw(""));
    }
    lines.push(Line::from(vec![
        Span::styled("s", theme.key()),
        Span::raw(" starts it here; "),
        Span::styled("confluence-tui --serve", theme.key()),
        Span::raw(" starts the app with it running."),
    ]));
    Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .padding(Padding::horizontal(1))
                .title(Line::styled(title, theme.title())),
        )
        .render(area, buf);
}

/// Serving: the address, the environment lines and the totals.
fn panel(
    state: &PipelineState,
    info: &ProxyInfo,
    now: OffsetDateTime,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    let label = |l: &'static str| Span::styled(format!(" {l:<8}"), theme.dim());
    let stopping = matches!(state.serving(), Serving::Stopping(_));
    let mut lines = vec![Line::from(vec![
        label("URL"),
        Span::raw(info.base_url.clone()),
        Span::styled(
            if stopping {
                "  stopping…"
            } else {
                "  read-only · s stops"
            },
            theme.dim(),
        ),
    ])];
    let env = env_lines(info, state.revealed());
    for (i, l) in env.into_iter().enumerate() {
        let mut spans = vec![label(if i == 0 { "Env" } else { "" })];
        spans.push(Span::styled(l, theme.key()));
        if i == 3 {
            let hint = if state.revealed() {
                "  Ctrl+R hides · y copies"
            } else {
                "  Ctrl+R shows · y copies"
            };
            spans.push(Span::styled(hint, theme.dim()));
        }
        lines.push(Line::from(spans));
    }
    let t = state.totals();
    let mut totals = vec![
        label("Totals"),
        Span::raw(format!(
            "{} requests · {} refused · {} failed · {} sent · {}/min",
            t.requests,
            t.refused,
            t.failed,
            bytes(t.bytes),
            state.recent_rate(now)
        )),
    ];
    if t.queued > 0 {
        totals.push(Span::styled(
            format!(" · {} waiting", t.queued),
            theme.warn(),
        ));
    }
    if let Some(until) = t.paused_until.filter(|u| *u > now) {
        let at = until.to_offset(state.offset);
        totals.push(Span::styled(
            format!(
                " · paused by the site until {:02}:{:02}:{:02}",
                at.hour(),
                at.minute(),
                at.second()
            ),
            theme.warn(),
        ));
    }
    lines.push(Line::from(totals));
    // A line wider than the panel ends with `…`, never mid-word unmarked.
    let inner = usize::from(area.width.saturating_sub(2));
    let lines: Vec<Line> = lines
        .into_iter()
        .map(|l| crate::tui::widgets::fit::fit_line(l, inner))
        .collect();
    Paragraph::new(Text::from(lines))
        .block(Block::bordered().title(Line::styled(" Pipeline · serving ", theme.title())))
        .render(area, buf);
}

fn request_log(state: &PipelineState, a: &Areas, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let list = &state.log;
    let filtered = list.filter().is_active();
    let count = if filtered {
        format!("{} of {}", list.visible_len(), list.items().len())
    } else {
        list.items().len().to_string()
    };
    Block::bordered()
        .title(Line::from(vec![
            Span::styled(" Requests ", theme.title()),
            Span::raw(format!("· {count} ")),
        ]))
        .title(
            Line::styled(
                format!(
                    " newest first · times {} ",
                    crate::tui::widgets::zone::zone_name(state.offset)
                ),
                theme.dim(),
            )
            .right_aligned(),
        )
        .render(area, buf);
    if let Some(n) = a.notice {
        let f = list.filter();
        let mut spans = vec![
            Span::styled(" / ", theme.key()),
            Span::raw(f.text().to_string()),
        ];
        if f.is_focused() {
            spans.push(Span::styled("▏", theme.key()));
            spans.push(Span::styled("  Enter keeps · Esc clears", theme.dim()));
        } else {
            spans.push(Span::styled("  (/ edits · Esc clears)", theme.dim()));
        }
        Line::from(spans).render(n, buf);
    }
    let widths = [
        Constraint::Length(1),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Min(10),
        Constraint::Length(STATUS_WIDTH),
        Constraint::Length(8),
        Constraint::Length(10),
    ];
    // What is left for the path, between the fixed columns and their gaps.
    let path_width = usize::from(
        a.rows
            .width
            .saturating_sub(1 + 8 + 7 + STATUS_WIDTH + 8 + 10 + 6),
    );
    if list.visible_len() == 0 {
        let text = if filtered {
            format!(
                "No request matches \u{201c}{}\u{201d}. Esc clears the filter.",
                list.filter().text()
            )
        } else {
            "No requests yet: point a client at the URL above.".to_string()
        };
        Paragraph::new(Line::styled(text, theme.dim()))
            .wrap(Wrap { trim: false })
            .render(inset(a.header.union(a.rows)), buf);
        return;
    }
    Table::new(
        [Row::new(vec![
            Line::raw(""),
            Line::raw("Time"),
            Line::raw("Method"),
            Line::raw("Path"),
            Line::raw("Status"),
            Line::raw("Duration").right_aligned(),
            Line::raw("Bytes").right_aligned(),
        ])
        .style(theme.title())],
        widths,
    )
    .render(a.header, buf);
    let height = a.rows.height as usize;
    let start = list.window_start(height);
    let rows = (start..(start + height).min(list.visible_len())).filter_map(|pos| {
        let row = list.row(pos)?;
        let selected = pos == list.cursor();
        Some(record_row(&row.record, selected, path_width, state, theme))
    });
    Table::new(rows, widths).render(a.rows, buf);
}

fn record_row<'a>(
    r: &RequestRecord,
    selected: bool,
    path_width: usize,
    state: &PipelineState,
    theme: &Theme,
) -> Row<'a> {
    let (mark, style) = if selected {
        ("▶", theme.selected())
    } else {
        ("", Style::new())
    };
    let status_style = match r.status {
        200..=299 => theme.ok(),
        300..=399 => theme.dim(),
        400..=499 => theme.warn(),
        _ => theme.error(),
    };
    let t = r.at.to_offset(state.offset);
    let status = if r.complete {
        r.status.to_string()
    } else {
        // Cut off: the client went away or the site failed mid-body.
        format!("{} cut", r.status)
    };
    Row::new(vec![
        Line::raw(mark),
        Line::raw(format!(
            "{:02}:{:02}:{:02}",
            t.hour(),
            t.minute(),
            t.second()
        )),
        Line::raw(for_terminal(&r.method).into_owned()),
        Line::raw(fit(
            &match &r.client {
                // Which named client sent it (`proxy clients add`).
                Some(client) => format!("{} {}", for_terminal(client), for_terminal(&r.path)),
                None => for_terminal(&r.path).into_owned(),
            },
            path_width,
        )),
        Line::styled(status, if selected { style } else { status_style }),
        Line::raw(duration(r.duration)).right_aligned(),
        Line::raw(bytes(r.bytes)).right_aligned(),
    ])
    .style(style)
}

/// `text` cut to `width` characters, ending with `…` when it was cut.
pub(crate) fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `850 µs`, `12 ms`, `1.2 s`, `2 min`.
pub(crate) fn duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1 {
        format!("{} µs", d.as_micros())
    } else if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min", d.as_secs() / 60)
    }
}

/// `512 B`, `1.5 KiB`, `3.0 MiB`, `1.2 GiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

fn inset(area: Rect) -> Rect {
    Rect {
        x: area.x + 1,
        width: area.width.saturating_sub(2),
        ..area
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_like_a_person_wrote_them() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024 * 1024), "5120.0 GiB");
        let ms = std::time::Duration::from_millis;
        assert_eq!(duration(std::time::Duration::from_micros(850)), "850 µs");
        assert_eq!(duration(ms(12)), "12 ms");
        assert_eq!(duration(ms(1234)), "1.2 s");
        assert_eq!(duration(ms(125_000)), "2 min");
        assert_eq!(fit("/wiki/rest/api/space", 30), "/wiki/rest/api/space");
        assert_eq!(fit("/wiki/rest/api/space", 10), "/wiki/res…");
    }
}
