//! Drawing the frame: header, the screen, the message line, the footer
//! generated from the key tables, and any dialog. A pure function of `App`.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Color;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::app::{App, Dialog, FlashLevel, Screen};
use super::keys;
use super::screens;
use super::session::Badge;
use super::theme::Theme;
use super::widgets::fit::{self, fit_line};
use crate::text::for_terminal;

/// The frame's parts: header (the tabs), body (the screen), message line
/// and footer. The app places clicks with the same function.
pub fn frame_areas(area: Rect) -> [Rect; 4] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The header's tabs, in order; a click on one shows its screen.
const TABS: [(Screen, &str); 4] = [
    (Screen::Status, "1 Status"),
    (Screen::Spaces, "2 Spaces"),
    (Screen::Audit, "3 Audit"),
    (Screen::Pipeline, "4 Pipeline"),
];

/// What comes before the tabs: the name gives way to the site and user on
/// narrow terminals.
fn header_name(width: u16) -> &'static str {
    if width >= 100 {
        " confluence-tui "
    } else {
        " "
    }
}

/// The tab at `column` of a header `width` columns wide.
pub fn tab_at(width: u16, column: u16) -> Option<Screen> {
    let mut x = fit::width(header_name(width));
    let column = usize::from(column);
    for (screen, label) in TABS {
        let w = fit::width(label);
        if (x..x + w).contains(&column) {
            return Some(screen);
        }
        x += w + 1;
    }
    None
}

/// Draws the whole app into `buf`.
pub fn draw(app: &App, area: Rect, buf: &mut Buffer, theme: &Theme) {
    let [header, body, message, footer] = frame_areas(area);
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
        Some(Dialog::ConfirmClear) => screens::confirm::render(body, buf, theme),
        Some(Dialog::Help(h)) => screens::help::render(h, &app.help_entries(), body, buf, theme),
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
        Badge::ExpiresSoon | Badge::Unreachable => Color::Yellow,
        Badge::Expired | Badge::Captcha | Badge::GatewaySignIn | Badge::Failed => Color::Red,
        Badge::NotConfigured | Badge::NoCredentials | Badge::Checking => Color::Gray,
    };
    let mut spans = vec![Span::styled(header_name(area.width), theme.title())];
    for (s, label) in TABS {
        let style = if app.screen == s {
            theme.selected()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(
        format!(" {} ", badge.label()),
        theme.badge(color),
    ));
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
    let items = match &app.dialog {
        Some(Dialog::Paste(paste)) => paste.footer_items(),
        Some(Dialog::Token(_)) => keys::footer_items(&[screens::token::KEYS]),
        Some(Dialog::ConfirmClear) => keys::footer_items(&[screens::confirm::KEYS]),
        Some(Dialog::Help(_)) => keys::footer_items(&[screens::help::KEYS]),
        Some(Dialog::Browsers(_)) => keys::footer_items(&[screens::browsers::KEYS]),
        Some(Dialog::Setup(_)) => vec![
            keys::FooterItem {
                key: "Enter".to_string(),
                label: "continue",
                rank: keys::Rank::Always,
                action: keys::Action::Open,
            },
            keys::FooterItem {
                key: "Esc".to_string(),
                label: "cancel",
                rank: keys::Rank::Always,
                action: keys::Action::Back,
            },
        ],
        None if app.text_focus() => keys::footer_items(&[keys::FILTER]),
        None => {
            // The number of the screen shown does nothing here.
            let here = match app.screen {
                Screen::Status => keys::Action::ShowStatus,
                Screen::Spaces => keys::Action::ShowSpaces,
                Screen::Audit => keys::Action::ShowAudit,
                Screen::Pipeline => keys::Action::ShowPipeline,
            };
            let mut items = keys::footer_items(&app.key_tables());
            items.retain(|i| i.action != here);
            items
        }
    };
    // The most important keys that fit, whole, in table order: the help
    // lists the rest.
    let mut spans = vec![Span::raw(" ")];
    for (i, item) in keys::fit_footer(&items, area.width.into())
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(item.key.clone(), theme.key()));
        spans.push(Span::raw(format!(" {}", item.label)));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}
