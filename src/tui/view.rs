//! Drawing the frame: header, the screen, the message line, the footer
//! generated from the key tables, and any dialog. A pure function of `App`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::app::{App, Dialog, FlashLevel, Screen};
use super::keys;
use super::screens;
use super::session::Badge;
use super::theme::Theme;
use super::widgets::fit::{self, fit_line};
use crate::text::for_terminal;

/// Draws the whole app into `buf`.
pub fn draw(app: &App, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let [header, body, message, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(app, header, buf, theme);
    match app.screen {
        Screen::Status => {
            screens::status::render(&app.session, app.demo, app.now, body, buf, theme)
        }
        Screen::Spaces => screens::spaces::render(&app.spaces, app.now, body, buf, theme),
        Screen::Audit => screens::audit::render(&app.audit, body, buf, theme),
        Screen::Pipeline => screens::pipeline::render(&app.pipeline, app.now, body, buf, theme),
    }
    let waiting = app.waiting.as_ref().filter(|w| w.until > app.now);
    if let Some(w) = waiting {
        let secs = (w.until - app.now).whole_seconds().max(1);
        let text = format!(
            " {}: trying again in {secs} s…",
            capitalise(&w.reason.to_string())
        );
        let line = fit_line(Line::styled(text, theme.warn()), message.width.into());
        Paragraph::new(line).render(message, buf);
    } else if let Some(f) = &app.flash {
        let style = match f.level {
            FlashLevel::Info => theme.dim(),
            FlashLevel::Success => theme.ok(),
            FlashLevel::Warning => theme.warn(),
            FlashLevel::Error => theme.error(),
        };
        // A flash often quotes the server (an error body, a display name).
        // What does not fit ends with `…`, never with a fragment.
        let line = Line::styled(format!(" {}", for_terminal(&f.text)), style);
        Paragraph::new(fit_line(line, message.width.into())).render(message, buf);
    }
    draw_footer(app, footer, buf, theme);
    match &app.dialog {
        Some(Dialog::Paste(p)) => screens::paste::render(p, body, buf, theme),
        Some(Dialog::Token(t)) => screens::token::render(t, body, buf, theme),
        Some(Dialog::Setup(s)) => screens::setup::render(s, body, buf, theme),
        Some(Dialog::Browsers(b)) => {
            screens::browsers::render(b, app.now, app.cookie_ttl, body, buf, theme)
        }
        Some(Dialog::ConfirmClear) => draw_confirm(area, buf, theme),
        Some(Dialog::Help) => draw_help(app, area, buf, theme),
        None => {}
    }
}

/// The sentence with its first letter in upper case.
fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn draw_header(app: &App, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let badge = app.session.badge(app.now);
    let color = match badge {
        Badge::SignedIn => Color::Green,
        Badge::ExpiresSoon => Color::Yellow,
        Badge::Expired | Badge::Captcha | Badge::Failed => Color::Red,
        Badge::NotConfigured | Badge::Checking => Color::Gray,
    };
    let tab = |s: Screen, label: &'static str| {
        if app.screen == s {
            Span::styled(label, theme.selected())
        } else {
            Span::styled(label, theme.dim())
        }
    };
    // The name gives way to the site and user on narrow terminals.
    let name = if area.width >= 100 {
        " confluence-tui "
    } else {
        " "
    };
    let mut spans = vec![
        Span::styled(name, theme.title()),
        tab(Screen::Status, "1 Status"),
        Span::raw(" "),
        tab(Screen::Spaces, "2 Spaces"),
        Span::raw(" "),
        tab(Screen::Audit, "3 Audit"),
        Span::raw(" "),
        tab(Screen::Pipeline, "4 Pipeline"),
        Span::raw(" "),
        Span::styled(format!(" {} ", badge.label()), theme.badge(color)),
    ];
    let used: usize = spans.iter().map(Span::width).sum();
    let room = usize::from(area.width).saturating_sub(used);
    spans.push(Span::raw(header_tail(app, room)));
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// Who is signed in, how, and where, in `room` columns: the auth mode goes
/// first, then the user name shrinks, and only then is the site cut, with
/// `…` (a cut site never reads as another one: `:3788` for `:37887`).
fn header_tail(app: &App, room: usize) -> String {
    let site = app
        .session
        .site
        .as_deref()
        .map(|s| {
            s.trim_start_matches("https://")
                .trim_start_matches("http://")
        })
        .unwrap_or("no site");
    // The user's display name is the server's: shown, never obeyed.
    let site = for_terminal(site).into_owned();
    let user = app
        .session
        .user
        .as_deref()
        .map(|u| for_terminal(u).into_owned());
    let full = match (&user, app.session.mode) {
        (Some(u), Some(m)) => format!(" {u} · {m} · {site}"),
        _ => format!(" · {site}"),
    };
    if fit::width(&full) <= room {
        return full;
    }
    let site_part = format!(" · {site}");
    if let Some(u) = &user {
        // The user name takes what the site leaves, if a few letters fit.
        let left = room.saturating_sub(fit::width(&site_part) + 1);
        if left >= 4 {
            return format!(" {}{site_part}", fit::fit_str(u, left));
        }
    }
    fit::fit_str(&site_part, room)
}

fn draw_footer(app: &App, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let items = if let Some(Dialog::Paste(_)) = &app.dialog {
        screens::paste::footer()
    } else if let Some(Dialog::Browsers(_)) = &app.dialog {
        screens::browsers::footer()
    } else if app.dialog.is_some() {
        vec![("Esc".to_string(), "close")]
    } else if app.text_focus() {
        vec![("Esc".to_string(), "done"), ("Enter".to_string(), "apply")]
    } else {
        keys::footer_items(&app.key_tables())
    };
    // Everything that fits, but `?` and `q` always: the help lists the rest.
    let width = |(k, l): &(String, &str)| k.chars().count() + l.chars().count() + 3;
    let (pinned, rest): (Vec<_>, Vec<_>) =
        items.into_iter().partition(|(k, _)| k == "?" || k == "q");
    let mut room =
        (area.width as usize).saturating_sub(1 + pinned.iter().map(width).sum::<usize>());
    let mut shown = Vec::new();
    for item in rest {
        if width(&item) > room {
            break;
        }
        room -= width(&item);
        shown.push(item);
    }
    shown.extend(pinned);
    let mut spans = vec![Span::raw(" ")];
    for (key, label) in shown {
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(format!(" {label}  ")));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn draw_confirm(area: Rect, buf: &mut Buffer, theme: &Theme) {
    let area = screens::centered(area, 56, 5);
    Clear.render(area, buf);
    Paragraph::new(vec![
        Line::raw(" Delete the stored cookies? The audit log keeps a record."),
        Line::from(vec![
            Span::styled(" y", theme.key()),
            Span::raw(" delete   "),
            Span::styled("any other key", theme.key()),
            Span::raw(" keep them"),
        ]),
    ])
    .block(
        Block::bordered()
            .title(" Clear cookies ")
            .border_style(theme.warn()),
    )
    .render(area, buf);
}

fn draw_help(app: &App, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let mut lines = Vec::new();
    for table in app.key_tables() {
        for (k, help) in keys::help_lines(table) {
            lines.push(Line::from(vec![
                Span::styled(format!(" {k:<16}"), theme.key()),
                Span::raw(help),
            ]));
        }
    }
    lines.push(Line::styled(
        " Mouse wheel scrolls lists. Any key closes this help.",
        theme.dim(),
    ));
    let h = (lines.len() as u16 + 2).min(area.height);
    let area = screens::centered(area, 72, h);
    Clear.render(area, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(" Keys "))
        .render(area, buf);
}
