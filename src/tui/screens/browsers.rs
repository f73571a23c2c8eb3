//! The browser dialog (`b` on the status screen, `Ctrl+B` in the paste
//! dialog): the browser profiles found, each with how many of the site's
//! cookies it holds and whether a session cookie is among them; choosing
//! one previews it (names, count, session cookie, expiry: never a value)
//! and Enter imports it like a paste, then verifies.
//!
//! Everything shown comes from profiles on disk: hostile text, cleaned by
//! `text::for_terminal` before it is drawn.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};
use time::{Duration, OffsetDateTime};

use crate::cookies::jar::format_time_left;
use crate::text::for_terminal;
use crate::tui::app::{Ctx, Dialog, FlashLevel};
use crate::tui::keys::{self, Action, Binding, Rank, k, special};
use crate::tui::theme::Theme;
use crate::tui::widgets::fit::fit_str;
use crate::worker::{BrowserProfileInfo, Mutation, Query};

/// Keys of the browser dialog.
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Enter)],
        action: Action::Open,
        label: "choose/import",
        rank: Rank::Always,
        help: "choose the profile (preview), then import its cookies and verify",
    },
    Binding {
        keys: &[special(KeyCode::Esc), k('h'), special(KeyCode::Left)],
        action: Action::Back,
        label: "back",
        rank: Rank::Always,
        help: "back to the list, or close without importing",
    },
    Binding {
        keys: &[special(KeyCode::Up), k('k')],
        action: Action::Up,
        label: "",
        rank: Rank::More,
        help: "previous profile",
    },
    Binding {
        keys: &[special(KeyCode::Down), k('j')],
        action: Action::Down,
        label: "",
        rank: Rank::More,
        help: "next profile",
    },
];

/// The dialog's state: the list (once the worker answered), the row
/// selected, and whether the chosen profile's preview is shown.
#[derive(Debug, Default)]
pub struct BrowsersState {
    /// `None` until the worker's answer.
    profiles: Option<Vec<BrowserProfileInfo>>,
    selected: usize,
    previewing: bool,
}

impl BrowsersState {
    /// The worker's list arrived.
    pub fn on_profiles(&mut self, profiles: Vec<BrowserProfileInfo>) {
        self.selected = 0;
        self.previewing = false;
        self.profiles = Some(profiles);
    }

    /// The profiles listed (`None` while the worker reads them).
    pub fn profiles(&self) -> Option<&[BrowserProfileInfo]> {
        self.profiles.as_deref()
    }

    /// The row selected.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// True while the chosen profile's preview is shown.
    pub fn previewing(&self) -> bool {
        self.previewing
    }

    /// A left click at `at` over the dialog drawn in `body`: a profile row
    /// is selected (Enter then previews it).
    pub(crate) fn click(&mut self, body: Rect, at: Position) {
        let Some(list) = &self.profiles else { return };
        if self.previewing {
            return;
        }
        let rows = list_rows(Block::bordered().inner(body));
        if !rows.contains(at) {
            return;
        }
        let i = first_shown(self.selected, rows.height) + usize::from(at.y - rows.y);
        if i < list.len() {
            self.selected = i;
        }
    }

    fn chosen(&self) -> Option<&BrowserProfileInfo> {
        self.profiles.as_ref()?.get(self.selected)
    }

    /// Returns true when the dialog should close.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> bool {
        let count = self.profiles.as_ref().map_or(0, Vec::len);
        match keys::lookup(&[KEYS], key) {
            Some(Action::Back) if self.previewing => {
                self.previewing = false;
                false
            }
            Some(Action::Back) => {
                ctx.flash(FlashLevel::Info, "Nothing was imported.");
                true
            }
            Some(Action::Up) if !self.previewing => {
                self.selected = self.selected.saturating_sub(1);
                false
            }
            Some(Action::Down) if !self.previewing => {
                self.selected = (self.selected + 1).min(count.saturating_sub(1));
                false
            }
            Some(Action::Open) if !self.previewing => {
                self.previewing = self.chosen().is_some();
                false
            }
            Some(Action::Open) => match self.chosen() {
                Some(BrowserProfileInfo {
                    profile,
                    read: Ok(_),
                }) => {
                    ctx.flash(
                        FlashLevel::Info,
                        format!(
                            "Importing from {} {}…",
                            profile.kind.name(),
                            for_terminal(&profile.dir.display().to_string())
                        ),
                    );
                    ctx.mutate(Mutation::ImportFromBrowser {
                        profile: profile.clone(),
                    });
                    true
                }
                // A profile that cannot be read has nothing to import.
                _ => false,
            },
            _ => false,
        }
    }
}

/// Opens the dialog and asks the worker for the profiles.
pub(crate) fn open(ctx: &mut Ctx) {
    ctx.query(Query::ListBrowserProfiles);
    ctx.request_dialog(Dialog::Browsers(Box::default()));
}

/// Draws the dialog over `area` (the screen's body); `now` and `ttl` say
/// when the chosen profile's cookies would expire once stored.
pub(crate) fn render(
    state: &BrowsersState,
    now: OffsetDateTime,
    ttl: Duration,
    area: Rect,
    buf: &mut Buffer,
    theme: &Theme,
) {
    Clear.render(area, buf);
    let title = if state.previewing {
        " Import from a browser: preview "
    } else {
        " Import from a browser "
    };
    let block = Block::bordered().title(title).border_style(theme.key());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 4 || inner.height < 2 {
        return;
    }
    let width = usize::from(inner.width);
    let lines = match (&state.profiles, state.chosen()) {
        (None, _) => vec![Line::styled(" Looking for browser profiles…", theme.dim())],
        (Some(list), _) if list.is_empty() => vec![Line::styled(
            " No browser profile found. Sign in to the site in a browser, or paste the cookies (p).",
            theme.warn(),
        )],
        (Some(_), Some(info)) if state.previewing => preview_lines(info, now, ttl, theme),
        (Some(list), _) => list_lines(list, state.selected, width, inner.height, theme),
    };
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(inner, buf);
}

/// Where the profile rows are in the dialog's inner area: under the line
/// that heads the list.
fn list_rows(inner: Rect) -> Rect {
    Rect {
        y: inner.y.saturating_add(1),
        height: inner.height.saturating_sub(1),
        ..inner
    }
}

/// The first profile shown when `rows` rows show the list with `selected`
/// on screen (the list scrolls to keep it on the last row).
fn first_shown(selected: usize, rows: u16) -> usize {
    let room = usize::from(rows).max(1);
    selected.saturating_sub(room - 1)
}

fn list_lines(
    list: &[BrowserProfileInfo],
    selected: usize,
    width: usize,
    height: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        " The site's cookies in each profile found (Enter: preview):",
        theme.dim(),
    )];
    let rows = height.saturating_sub(1);
    let room = usize::from(rows).max(1);
    let first = first_shown(selected, rows);
    for (i, info) in list.iter().enumerate().skip(first).take(room) {
        let marker = if i == selected { "▶ " } else { "  " };
        let (what, style) = match &info.read {
            Ok(c) => {
                let n = c.names.len();
                let session = if c.session_cookies.is_empty() {
                    "no session cookie"
                } else {
                    "session cookie"
                };
                (
                    format!("{n} cookie{} · {session}", plural(n)),
                    if c.session_cookies.is_empty() {
                        theme.warn()
                    } else {
                        theme.ok()
                    },
                )
            }
            Err(p) => (format!("✗ {}", for_terminal(&p.short)), theme.error()),
        };
        let name = format!("{marker}{:<9}", info.profile.kind.name());
        let what_width = crate::tui::widgets::fit::width(&what) + 2;
        let room_for_dir = width.saturating_sub(name.chars().count() + what_width + 1);
        let dir = fit_str(
            &for_terminal(&info.profile.dir.display().to_string()),
            room_for_dir,
        );
        let pad = room_for_dir.saturating_sub(crate::tui::widgets::fit::width(&dir));
        let row_style = if i == selected {
            theme.selected()
        } else {
            ratatui::style::Style::default()
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{name}{dir}{} ", " ".repeat(pad)), row_style),
            Span::styled(format!(" {what}"), style),
        ]));
    }
    lines
}

fn preview_lines(
    info: &BrowserProfileInfo,
    now: OffsetDateTime,
    ttl: Duration,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut lines = vec![Line::raw(format!(
        " {} {}",
        info.profile.kind.name(),
        for_terminal(&info.profile.dir.display().to_string())
    ))];
    match &info.read {
        Err(p) => {
            lines.push(Line::styled(
                format!(" ✗ Cannot import: {}", for_terminal(&p.message)),
                theme.error(),
            ));
        }
        Ok(c) => {
            let n = c.names.len();
            let mut summary = vec![Span::styled(
                format!(" ✓ {n} cookie{} for this site", plural(n)),
                theme.ok(),
            )];
            if c.session_cookies.is_empty() {
                summary.push(Span::styled(" · no session cookie", theme.warn()));
            } else {
                let names: Vec<String> = c
                    .session_cookies
                    .iter()
                    .map(|s| for_terminal(s).into_owned())
                    .collect();
                summary.push(Span::raw(format!(
                    " · session cookie: {}",
                    names.join(", ")
                )));
            }
            lines.push(Line::from(summary));
            let limit = now + ttl;
            let expiry = match c.expires_at {
                Some(at) if at < limit => format!(
                    " Expires in {} (the cookies' own expiry)",
                    format_time_left(at - now)
                ),
                _ => format!(" Expires in {} (the storage limit)", format_time_left(ttl)),
            };
            lines.push(Line::raw(expiry));
            for name in &c.names {
                lines.push(Line::styled(
                    format!("   {}", for_terminal(name)),
                    theme.dim(),
                ));
            }
            lines.push(Line::styled(
                " Enter imports these cookies (encrypted) and verifies; Esc goes back.",
                theme.dim(),
            ));
        }
    }
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
