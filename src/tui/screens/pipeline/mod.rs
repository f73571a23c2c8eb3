//! The Pipeline screen: the authenticating proxy run by the app (`--serve`,
//! or `s` here). Shows the proxy's URL, the environment lines a pipeline
//! needs (the token masked until `Ctrl+R`; `y` copies them with the real
//! token), the request log (newest first, `/` filters) and the totals.
//!
//! The screen never starts anything itself: `s` asks the app for
//! [`Effect::StartProxy`] or [`Effect::StopProxy`], and the driver, which
//! owns the proxy, answers with [`ProxyMsg`]s.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use time::{OffsetDateTime, UtcOffset};

use crate::proxy::{ProxyToken, RequestRecord, TrafficTotals};
use crate::secret::{ExposeSecret, SecretString};
use crate::tui::app::{Clip, Ctx, Effect, FlashLevel, Handled};
use crate::tui::keys::{self, Action, Binding, Rank, ctrl, k, special};
use crate::tui::widgets::list::{FilteredList, ListEntry};

mod render;

pub use render::render;

/// Records the screen keeps (the oldest go first).
pub const LOG_CAPACITY: usize = 1000;

/// The window of the rate shown in the totals line.
pub(crate) const RATE_WINDOW: time::Duration = time::Duration::minutes(1);

/// What the token looks like until the user asks to see it.
pub(crate) const MASKED_TOKEN: &str = "••••••••";

/// Keys of the Pipeline screen while the proxy is off.
pub(crate) const IDLE_KEYS: &[Binding] = &[
    Binding {
        keys: &[k('s')],
        action: Action::ToggleProxy,
        label: "start",
        rank: Rank::Main,
        help: "start the proxy",
    },
    Binding {
        keys: &[k('y')],
        action: Action::CopyEnv,
        label: "",
        rank: Rank::More,
        help: "copy the environment lines (once the proxy runs)",
    },
];

/// Keys of the Pipeline screen while the proxy runs (the list keys too).
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[k('s')],
        action: Action::ToggleProxy,
        label: "stop",
        rank: Rank::Main,
        help: "stop the proxy",
    },
    Binding {
        keys: &[k('y')],
        action: Action::CopyEnv,
        label: "copy env",
        rank: Rank::Main,
        help: "copy the environment lines, with the real token, to the clipboard",
    },
    Binding {
        keys: &[ctrl('r')],
        action: Action::Reveal,
        label: "reveal",
        rank: Rank::Useful,
        help: "show or hide the proxy token",
    },
    Binding {
        keys: &[special(KeyCode::Esc)],
        action: Action::Back,
        label: "",
        rank: Rank::More,
        help: "clear the filter",
    },
];

/// Where the proxy is, as the driver last said.
#[derive(Debug, Default)]
pub enum Serving {
    /// Not running (never started, stopped, or failed to start).
    #[default]
    Off,
    /// Asked to start; no answer yet.
    Starting,
    Running(ProxyInfo),
    /// Asked to stop; no answer yet.
    Stopping(ProxyInfo),
}

/// What a client needs to use the running proxy. `Debug` never shows the
/// token ([`ProxyToken`] hides it).
#[derive(Clone, Debug)]
pub struct ProxyInfo {
    /// The proxy's base URL, context path included, no trailing slash.
    pub base_url: String,
    pub username: String,
    pub token: ProxyToken,
}

/// What the driver tells the app about the proxy it runs.
#[derive(Debug)]
pub enum ProxyMsg {
    Started(ProxyInfo),
    /// It did not start: why, in words for the user.
    Failed(String),
    /// It stopped (asked to, or it ended); a message when the stop went wrong.
    Stopped(Option<String>),
    /// Requests that went through, oldest first, and the totals after them.
    Traffic {
        records: Vec<RequestRecord>,
        totals: TrafficTotals,
    },
}

/// One row of the request log.
#[derive(Clone, Debug)]
pub(crate) struct LogRow {
    pub record: RequestRecord,
    /// Arrival number: the log's order (newest first) and the row's identity.
    seq: u64,
    id: String,
}

impl ListEntry for LogRow {
    fn haystack(&self) -> String {
        let r = &self.record;
        format!(
            "{} {} {} {}",
            r.method,
            r.path,
            r.status,
            r.client.as_deref().unwrap_or_default()
        )
        .to_lowercase()
    }
    fn id(&self) -> &str {
        &self.id
    }
}

fn by_arrival(a: &LogRow, b: &LogRow) -> std::cmp::Ordering {
    a.seq.cmp(&b.seq)
}

/// The Pipeline screen's state.
#[derive(Debug)]
pub struct PipelineState {
    serving: Serving,
    /// Start the proxy whenever the session is signed in and it is off
    /// (`--serve`, or `s`); `s` while it runs clears it.
    wanted: bool,
    /// The token is shown (Ctrl+R).
    reveal: bool,
    log: FilteredList<LogRow>,
    next_seq: u64,
    totals: TrafficTotals,
    /// Why the last start failed, shown until the next start.
    error: Option<String>,
    offset: UtcOffset,
    /// The terminal's size, to know how many rows a page is.
    terminal: (u16, u16),
}

impl Default for PipelineState {
    fn default() -> Self {
        PipelineState {
            serving: Serving::Off,
            wanted: false,
            reveal: false,
            log: FilteredList::new(Some(by_arrival), true),
            next_seq: 0,
            totals: TrafficTotals::default(),
            error: None,
            offset: UtcOffset::UTC,
            terminal: (80, 24),
        }
    }
}

impl PipelineState {
    /// Where the proxy is.
    pub fn serving(&self) -> &Serving {
        &self.serving
    }

    /// The running proxy's address and token, if it runs.
    pub fn info(&self) -> Option<&ProxyInfo> {
        match &self.serving {
            Serving::Running(info) | Serving::Stopping(info) => Some(info),
            _ => None,
        }
    }

    /// True while the token is shown.
    pub fn revealed(&self) -> bool {
        self.reveal
    }

    /// The totals the proxy last reported.
    pub fn totals(&self) -> TrafficTotals {
        self.totals
    }

    /// Every record kept, oldest first.
    pub fn records(&self) -> impl Iterator<Item = &RequestRecord> {
        self.log.items().iter().map(|r| &r.record)
    }

    /// Rows the filter lets through.
    pub fn visible_len(&self) -> usize {
        self.log.visible_len()
    }

    /// Shows times in `offset` (call once at startup with the local offset).
    pub fn set_time_offset(&mut self, offset: UtcOffset) {
        self.offset = offset;
    }

    /// The key table in force: with the request log, or without.
    pub(crate) fn keys(&self) -> &'static [Binding] {
        if self.info().is_some() {
            KEYS
        } else {
            IDLE_KEYS
        }
    }

    /// True while the filter field has the keyboard.
    pub fn text_focus(&self) -> bool {
        self.log.filter().is_focused()
    }

    /// Mouse wheel: moves the selection.
    pub(crate) fn scroll(&mut self, delta: i32) {
        self.log.move_by(delta.into());
    }

    /// A left click at `at` in the screen's `body`: a request row is selected.
    pub(crate) fn click(&mut self, body: Rect, at: ratatui::layout::Position) {
        let rows = render::layout(self, body).rows;
        if self.info().is_some() && rows.contains(at) {
            let line = usize::from(at.y - rows.y);
            self.log.select_shown(line, rows.height.into());
        }
    }

    /// The terminal's size, so paging moves by what is on screen.
    pub fn set_terminal_size(&mut self, width: u16, height: u16) {
        self.terminal = (width, height);
        self.relayout();
    }

    fn relayout(&mut self) {
        let (w, h) = self.terminal;
        // The frame gives the screen all but the header, message and footer lines.
        let body = Rect::new(0, 1, w, h.saturating_sub(3));
        let rows = render::layout(self, body).rows.height as usize;
        self.log.set_page_rows(rows);
    }

    /// `--serve`: start now, and again whenever the session is signed in
    /// while the proxy is off.
    pub(crate) fn serve(&mut self) -> Option<Effect> {
        self.wanted = true;
        self.start()
    }

    /// The session is signed in: start the proxy if it is wanted and off.
    pub(crate) fn on_signed_in(&mut self) -> Option<Effect> {
        if self.wanted && matches!(self.serving, Serving::Off) {
            self.start()
        } else {
            None
        }
    }

    /// The settings now name another site. A running proxy forwards to the
    /// site it started for, with that site's credentials: it stops, and
    /// starts again for the new site once its session is signed in.
    pub(crate) fn on_site_changed(&mut self) -> Option<Effect> {
        match std::mem::take(&mut self.serving) {
            Serving::Running(info) => {
                self.wanted = true;
                self.serving = Serving::Stopping(info);
                Some(Effect::StopProxy)
            }
            other => {
                self.serving = other;
                None
            }
        }
    }

    fn start(&mut self) -> Option<Effect> {
        if !matches!(self.serving, Serving::Off) {
            return None;
        }
        self.serving = Serving::Starting;
        self.error = None;
        Some(Effect::StartProxy)
    }

    /// Screen keys; a focused filter field takes every key.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let handled = self.key(key, ctx);
        self.relayout();
        handled
    }

    fn key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if self.log.filter().is_focused() {
            self.log.filter_key(key);
            return Handled::Yes;
        }
        let tables: &[&[Binding]] = if self.info().is_some() {
            &[KEYS, keys::LIST]
        } else {
            &[IDLE_KEYS]
        };
        let Some(action) = keys::lookup(tables, key) else {
            return Handled::No;
        };
        match action {
            Action::Up => self.log.move_by(-1),
            Action::Down => self.log.move_by(1),
            Action::PageUp => self.log.page(-1),
            Action::PageDown => self.log.page(1),
            Action::Top => self.log.top(),
            Action::Bottom => self.log.bottom(),
            Action::Filter => self.log.focus_filter(),
            Action::Back if self.log.filter().is_active() => self.log.clear_filter(),
            Action::ToggleProxy => self.toggle(ctx),
            Action::CopyEnv => match self.info() {
                Some(info) => ctx.effect(Effect::CopyToClipboard(Clip::Secret {
                    text: SecretString::from(env_lines(info, true).join("\n")),
                    what: "the environment lines",
                })),
                None => ctx.flash(
                    FlashLevel::Info,
                    "The proxy is not running: s starts it, then y copies its environment lines",
                ),
            },
            Action::Reveal => self.reveal = !self.reveal,
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn toggle(&mut self, ctx: &mut Ctx) {
        match std::mem::take(&mut self.serving) {
            Serving::Off => {
                self.wanted = true;
                if let Some(e) = self.start() {
                    ctx.effect(e);
                }
                ctx.flash(FlashLevel::Info, "Starting the proxy…");
            }
            Serving::Running(info) => {
                self.wanted = false;
                self.serving = Serving::Stopping(info);
                ctx.effect(Effect::StopProxy);
                ctx.flash(FlashLevel::Info, "Stopping the proxy…");
            }
            busy @ (Serving::Starting | Serving::Stopping(_)) => {
                self.serving = busy;
                ctx.flash(
                    FlashLevel::Info,
                    "One moment: the proxy is starting or stopping",
                );
            }
        }
    }

    /// Applies what the driver said; returns a message for the message
    /// line, if any.
    pub(crate) fn on_proxy(&mut self, msg: ProxyMsg) -> Option<(FlashLevel, String)> {
        match msg {
            ProxyMsg::Started(info) => {
                let flash = format!("Proxy listening on {}", info.base_url);
                self.serving = Serving::Running(info);
                self.error = None;
                self.totals = TrafficTotals::default();
                self.log.drop_oldest(usize::MAX);
                self.relayout();
                Some((FlashLevel::Success, flash))
            }
            ProxyMsg::Failed(why) => {
                self.serving = Serving::Off;
                self.error = Some(why.clone());
                self.relayout();
                Some((FlashLevel::Error, why))
            }
            ProxyMsg::Stopped(problem) => {
                self.serving = Serving::Off;
                self.reveal = false;
                self.relayout();
                Some(match problem {
                    None => (FlashLevel::Info, "Proxy stopped".to_string()),
                    Some(p) => (FlashLevel::Warning, format!("Proxy stopped: {p}")),
                })
            }
            ProxyMsg::Traffic { records, totals } => {
                self.totals = totals;
                self.push(records);
                None
            }
        }
    }

    fn push(&mut self, records: Vec<RequestRecord>) {
        let rows: Vec<LogRow> = records
            .into_iter()
            .map(|record| {
                let seq = self.next_seq;
                self.next_seq += 1;
                LogRow {
                    record,
                    seq,
                    id: seq.to_string(),
                }
            })
            .collect();
        self.log.extend(rows);
        let over = self.log.items().len().saturating_sub(LOG_CAPACITY);
        self.log.drop_oldest(over);
    }

    /// Requests kept that arrived within the rate window before `now`.
    pub fn recent_rate(&self, now: OffsetDateTime) -> usize {
        let since = now - RATE_WINDOW;
        self.records().filter(|r| r.at > since).count()
    }

    /// How long until the rate shown at `now` drops by the clock alone (the
    /// oldest request in the window leaves it), a moment late.
    pub fn next_rate_change(&self, now: OffsetDateTime) -> Option<std::time::Duration> {
        let since = now - RATE_WINDOW;
        let oldest = self
            .records()
            .map(|r| r.at)
            .filter(|at| *at > since)
            .min()?;
        let wait = (oldest + RATE_WINDOW - now).whole_milliseconds().max(0) + 200;
        Some(std::time::Duration::from_millis(
            u64::try_from(wait).unwrap_or(u64::MAX),
        ))
    }
}

/// The lines a pipeline puts in its environment to use the proxy; the
/// token masked unless `real`.
pub(crate) fn env_lines(info: &ProxyInfo, real: bool) -> Vec<String> {
    let token = if real {
        info.token.expose_secret()
    } else {
        MASKED_TOKEN
    };
    vec![
        format!("CONFLUENCE_BASE_URL={}", info.base_url),
        "CONFLUENCE_AUTH=basic".to_string(),
        format!("CONFLUENCE_USERNAME={}", info.username),
        format!("CONFLUENCE_API_TOKEN={token}"),
    ]
}
