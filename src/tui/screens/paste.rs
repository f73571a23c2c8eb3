//! The paste-cookie dialog: the clipboard's text (or the terminal's own
//! paste) in a masked text area, a live preview of what it parses to, and
//! Enter to save — only when the preview is valid. Esc changes nothing.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};
use ratatui_textarea::{TextArea, WrapMode};
use time::{Duration, OffsetDateTime};
use url::Url;
use zeroize::{Zeroize, Zeroizing};

use crate::cookies::jar::{CookieSource, StoredCookies, format_time_left, is_gateway_cookie};
use crate::cookies::parse::{
    CookieParseError, ParseWarning, ParsedCookies, parse_cookies_at, parse_cookies_for_site,
};
use crate::credentials::ImportInput;
use crate::secret::{ExposeSecret, mask, mask_len};
use crate::tui::app::{ClipboardText, Ctx, FlashLevel};
use crate::tui::keys::{self, Action, Binding, Rank, ctrl, k, special};
use crate::tui::theme::Theme;
use crate::tui::widgets::wrap::wrap;
use crate::worker::Mutation;

/// The character shown for every hidden character of the paste.
const MASK_CHAR: char = '•';

/// Keys of the paste dialog (every other key edits the text).
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Enter)],
        action: Action::Save,
        label: "save",
        rank: Rank::Main,
        help: "save the cookies encrypted, then verify (only when the preview is valid)",
    },
    Binding {
        keys: &[special(KeyCode::Esc)],
        action: Action::Back,
        label: "cancel",
        rank: Rank::Always,
        help: "close without saving anything",
    },
    Binding {
        keys: &[ctrl('v')],
        action: Action::ReadClipboard,
        label: "clipboard",
        rank: Rank::Useful,
        help: "read the system clipboard again (replaces the text)",
    },
    Binding {
        keys: &[ctrl('r')],
        action: Action::Reveal,
        label: "reveal/hide",
        rank: Rank::Useful,
        help: "show or hide the first and last 4 characters of each value in the preview",
    },
    Binding {
        keys: &[ctrl('l')],
        action: Action::ClearInput,
        label: "clear",
        rank: Rank::More,
        help: "clear the text",
    },
    Binding {
        keys: &[ctrl('b')],
        action: Action::ImportFromBrowser,
        label: "browser",
        rank: Rank::Useful,
        help: "import from a browser profile instead (lists the profiles found)",
    },
];

/// Keys of the paste dialog while its text is empty: a letter is not text
/// yet, so `b` lists the browser profiles as on the status screen. Once
/// there is text, every letter edits it (`Ctrl+b` still works).
pub(crate) const EMPTY_KEYS: &[Binding] = &[Binding {
    keys: &[k('b')],
    action: Action::ImportFromBrowser,
    label: "browser",
    rank: Rank::Useful,
    help: "import from a browser profile instead (lists the profiles found)",
}];

/// Where the text came from, or why the clipboard could not give it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    /// Waiting for the clipboard's answer.
    Reading,
    Clipboard,
    ClipboardEmpty,
    /// No clipboard reachable: why.
    NoClipboard(String),
    Terminal,
    Typed,
}

/// What the current text parses to.
#[derive(Clone, Debug)]
enum Preview {
    Empty,
    Invalid(String),
    Valid(Box<ValidPreview>),
}

#[derive(Clone, Debug)]
struct ValidPreview {
    parsed: ParsedCookies,
    expires_at: OffsetDateTime,
    /// True when a session cookie's own expiry comes before now + ttl.
    by_session: bool,
    /// The clock when it was parsed (the time left is shown from there).
    parsed_at: OffsetDateTime,
    ttl: Duration,
}

/// The dialog's state. The text area's content is the source of truth; the
/// preview is recomputed from it only when it changes.
pub struct PasteState {
    input: TextArea<'static>,
    /// A paste too large for the text widget (which re-lays out the whole
    /// line on every edit): kept here, masked, and not editable.
    large: Option<Zeroizing<String>>,
    revealed: bool,
    source: Source,
    preview: Preview,
    chars: usize,
    /// Enter was pressed on an invalid paste: the error is emphasised.
    refused: bool,
    /// The whole text came from the clipboard and was not edited since, so a
    /// terminal paste replaces it instead of landing in the middle of it.
    replace_on_paste: bool,
    /// How many times the text was parsed (typing must not parse on cursor moves).
    parses: u64,
    /// The configured site: the preview keeps only its cookies, as the
    /// import will, and shows what was dropped.
    site: Option<Url>,
    /// Cookie names a gateway owns beyond the known ones: marked `g`.
    gateway_cookies: Vec<String>,
}

impl std::fmt::Debug for PasteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasteState")
            .field("chars", &self.chars)
            .field("revealed", &self.revealed)
            .finish_non_exhaustive()
    }
}

impl Drop for PasteState {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.input));
    }
}

impl PasteState {
    /// An empty dialog waiting for the clipboard's answer.
    pub fn new(_now: OffsetDateTime, _ttl: Duration) -> PasteState {
        PasteState {
            input: new_input(),
            large: None,
            revealed: false,
            source: Source::Reading,
            preview: Preview::Empty,
            chars: 0,
            refused: false,
            replace_on_paste: true,
            parses: 0,
            site: None,
            gateway_cookies: Vec::new(),
        }
    }

    /// The dialog for the site at `site`: the preview shows what the import
    /// of the paste for that site keeps and drops.
    pub(crate) fn for_site(mut self, site: Option<Url>) -> PasteState {
        self.site = site;
        self
    }

    /// Names beyond the known ones that are a gateway's cookies
    /// (`CONFLUENCE_GATEWAY_COOKIES`).
    pub(crate) fn with_gateway_cookies(mut self, names: Vec<String>) -> PasteState {
        self.gateway_cookies = names;
        self
    }

    /// A bracketed paste from the terminal: inserted as text, newlines and all
    /// (they never submit).
    pub(crate) fn insert_paste(&mut self, text: &str, now: OffsetDateTime, ttl: Duration) {
        // Terminals send line breaks in a paste as CR; the parsers want LF.
        let text = Zeroizing::new(text.replace("\r\n", "\n").replace('\r', "\n"));
        if self.replace_on_paste {
            self.replace_text(&text);
        } else if self.large.is_some() || self.chars + text.len() > LARGE_PASTE_BYTES {
            let mut combined = self.text();
            combined.push_str(&text);
            self.replace_text(&combined);
        } else {
            self.input.insert_str(text.as_str());
        }
        // A paste into typed text is an edit; a paste into a fresh dialog is
        // a whole paste that the next one may replace.
        if self.replace_on_paste || self.source == Source::Reading {
            self.source = Source::Terminal;
        }
        self.reparse(now, ttl);
    }

    /// The clipboard's answer: its text replaces the dialog's.
    pub(crate) fn on_clipboard(&mut self, c: ClipboardText, now: OffsetDateTime, ttl: Duration) {
        match c {
            ClipboardText::Text(t) if t.trim().is_empty() => self.source = Source::ClipboardEmpty,
            ClipboardText::Text(t) => {
                let t = Zeroizing::new(t.replace("\r\n", "\n"));
                self.replace_text(&t);
                self.source = Source::Clipboard;
                self.replace_on_paste = true;
                self.reparse(now, ttl);
            }
            ClipboardText::Unavailable(why) => self.source = Source::NoClipboard(why),
        }
    }

    /// Whether the text is empty (then `EMPTY_KEYS` are in force too).
    fn is_empty(&self) -> bool {
        self.chars == 0 && self.large.is_none()
    }

    /// The footer: the dialog's keys, with the short key of `EMPTY_KEYS`
    /// in place of its `Ctrl` one while the text is empty (one entry).
    pub(crate) fn footer_items(&self) -> Vec<keys::FooterItem> {
        let mut items = keys::footer_items(&[KEYS]);
        if self.is_empty() {
            for short in keys::footer_items(&[EMPTY_KEYS]) {
                if let Some(item) = items.iter_mut().find(|i| i.action == short.action) {
                    item.key = short.key;
                }
            }
        }
        items
    }

    /// The key tables in force: `EMPTY_KEYS` too while there is no text.
    fn key_tables(&self) -> &'static [&'static [Binding]] {
        if self.is_empty() {
            &[EMPTY_KEYS, KEYS]
        } else {
            &[KEYS]
        }
    }

    /// Returns true when the dialog should close.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx, ttl: Duration) -> bool {
        match keys::lookup(self.key_tables(), key) {
            Some(Action::Back) => {
                ctx.flash(FlashLevel::Info, "Nothing was saved.");
                true
            }
            Some(Action::Save) => self.save(ctx),
            Some(Action::ImportFromBrowser) => {
                crate::tui::screens::browsers::open(ctx);
                true
            }
            Some(Action::ReadClipboard) => {
                self.source = Source::Reading;
                ctx.effect(crate::tui::app::Effect::ReadClipboard);
                false
            }
            Some(Action::Reveal) => {
                // Only the preview's `abcd…wxyz` forms: the design allows no
                // more than that on screen, so the text area stays masked.
                self.revealed = !self.revealed;
                false
            }
            Some(Action::ClearInput) => {
                self.replace_text("");
                self.source = Source::Typed;
                self.replace_on_paste = true;
                self.reparse(ctx.now, ttl);
                false
            }
            _ => {
                // Ctrl+M is Enter on some terminals; it must not add a line.
                let ctrl_m =
                    key.code == KeyCode::Char('m') && key.modifiers.contains(KeyModifiers::CONTROL);
                // A large paste is not editable (Ctrl+L clears it).
                if !ctrl_m && self.large.is_none() && self.input.input(*key) {
                    self.replace_on_paste = false;
                    self.source = match self.source {
                        Source::Reading => Source::Typed,
                        ref s => s.clone(),
                    };
                    self.reparse(ctx.now, ttl);
                }
                false
            }
        }
    }

    /// Number of characters in the text area.
    pub fn char_count(&self) -> usize {
        self.chars
    }

    /// Whether the preview shows the values' first and last characters.
    pub fn is_revealed(&self) -> bool {
        self.revealed
    }

    /// Whether Enter would save (the preview parsed).
    pub fn is_valid(&self) -> bool {
        matches!(self.preview, Preview::Valid(_))
    }

    fn save(&mut self, ctx: &mut Ctx) -> bool {
        match &self.preview {
            Preview::Valid(v) => {
                let n = v.parsed.jar.len();
                ctx.mutate(Mutation::ImportCookies {
                    input: ImportInput::Paste(self.text()),
                });
                ctx.flash(
                    FlashLevel::Info,
                    format!("Saving {n} cookie{} encrypted…", plural(n)),
                );
                true
            }
            Preview::Empty => {
                self.refused = true;
                ctx.flash(
                    FlashLevel::Warning,
                    "Nothing to save yet: paste the cookies first.",
                );
                false
            }
            Preview::Invalid(_) => {
                self.refused = true;
                ctx.flash(
                    FlashLevel::Error,
                    "Not saved: the paste is not valid (see the preview).",
                );
                false
            }
        }
    }

    fn text(&self) -> Zeroizing<String> {
        match &self.large {
            Some(t) => t.clone(),
            None => Zeroizing::new(self.input.lines().join("\n")),
        }
    }

    fn replace_text(&mut self, text: &str) {
        let old = std::mem::replace(&mut self.input, new_input());
        wipe(old);
        if text.len() > LARGE_PASTE_BYTES {
            self.large = Some(Zeroizing::new(text.to_string()));
        } else {
            self.large = None;
            self.input.insert_str(text);
        }
    }

    fn reparse(&mut self, now: OffsetDateTime, ttl: Duration) {
        let text = self.text();
        self.chars = text.chars().count();
        self.refused = false;
        self.parses += 1;
        self.preview = if text.trim().is_empty() {
            Preview::Empty
        } else {
            let parsed = match &self.site {
                Some(site) => parse_cookies_for_site(&text, site, now),
                None => parse_cookies_at(&text, now),
            };
            match parsed {
                Ok(parsed) => {
                    let stored =
                        StoredCookies::new(parsed.jar.clone(), CookieSource::Paste, now, ttl);
                    Preview::Valid(Box::new(ValidPreview {
                        by_session: stored.expires_at < now.saturating_add(ttl),
                        expires_at: stored.expires_at,
                        parsed,
                        parsed_at: now,
                        ttl,
                    }))
                }
                Err(e) => Preview::Invalid(e.to_string()),
            }
        };
    }
}

/// Pastes above this size bypass the text widget (a cURL command with
/// cookies is a few KiB; 1 MiB is the most the parser accepts).
const LARGE_PASTE_BYTES: usize = 64 * 1024;

fn new_input() -> TextArea<'static> {
    let mut input = TextArea::default();
    input.set_mask_char(MASK_CHAR);
    // Undo history would keep copies of the secret text around.
    input.set_max_histories(0);
    // Cookies are one long line; wrapping keeps a 1 MiB line cheap to draw
    // (only the visible rows are built) and all of it reachable.
    input.set_wrap_mode(WrapMode::Glyph);
    input.set_cursor_line_style(Style::new());
    input.set_placeholder_text("Paste here: Cookie header, cURL command, cookies.txt or JSON");
    input
}

/// Overwrites the text's memory before it is freed.
fn wipe(input: TextArea<'static>) {
    for mut line in input.into_lines() {
        line.zeroize();
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Draws the dialog over `area` (the screen's body).
pub(crate) fn render(state: &PasteState, area: Rect, buf: &mut Buffer, theme: &Theme) {
    // The whole body: the preview needs the room, and slivers of the screen
    // beside a centred box only look broken.
    Clear.render(area, buf);
    let block = Block::bordered()
        .title(" Paste cookies ")
        .border_style(theme.key());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.width < 4 || inner.height < 3 {
        return;
    }
    let width = inner.width.saturating_sub(2) as usize;
    let note = source_lines(state, width, theme);
    let input_rows: u16 = if inner.height >= 30 {
        6
    } else if inner.height >= 16 {
        3
    } else {
        1
    };
    let [note_area, input_area, preview_area] = Layout::vertical([
        Constraint::Length(note.len() as u16),
        Constraint::Length(input_rows + 2),
        Constraint::Min(0),
    ])
    .areas(inner);
    Paragraph::new(note).render(note_area, buf);

    let shown = if state.revealed {
        "values' ends shown · Ctrl+R hides"
    } else {
        "hidden · Ctrl+R shows values' ends"
    };
    let input_block = Block::bordered().title(format!(
        " {} character{} · {shown} ",
        state.chars,
        plural(state.chars)
    ));
    let text_area = input_block.inner(input_area);
    input_block.render(input_area, buf);
    if state.large.is_some() {
        Paragraph::new(vec![
            Line::styled(
                format!("•••• large paste ({} KiB), kept masked", state.chars / 1024),
                theme.dim(),
            ),
            Line::styled(
                "Editing is off above 64 KiB: Ctrl+L clears, Ctrl+V reads the clipboard again.",
                theme.dim(),
            ),
        ])
        .render(text_area, buf);
    } else {
        // Drawn into the inner rectangle so the text area is never cloned
        // just to give it a block.
        (&state.input).render(text_area, buf);
    }

    Paragraph::new(preview_lines(state, width, preview_area.height, theme))
        .render(preview_area, buf);
}

fn source_lines(state: &PasteState, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let (text, style) = match &state.source {
        Source::Reading => ("Reading the clipboard…".to_string(), theme.dim()),
        Source::Clipboard => (
            "Read from the clipboard. A terminal paste (Ctrl+Shift+V) replaces it.".to_string(),
            theme.dim(),
        ),
        Source::ClipboardEmpty => (
            "The clipboard holds no text: copy the cookies in the browser, then press Ctrl+V, \
             or paste with your terminal (e.g. Ctrl+Shift+V)."
                .to_string(),
            theme.warn(),
        ),
        Source::NoClipboard(why) => (
            format!(
                "No clipboard here ({why}): paste with your terminal instead (e.g. Ctrl+Shift+V)."
            ),
            theme.warn(),
        ),
        Source::Terminal => ("Pasted from the terminal.".to_string(), theme.dim()),
        Source::Typed => (
            "Type or paste (Ctrl+Shift+V in most terminals) the cookies.".to_string(),
            theme.dim(),
        ),
    };
    // At most two lines so the text area and preview keep their room.
    let mut lines = wrap(&text, width);
    if lines.len() > 2 {
        lines.truncate(2);
        if let Some(last) = lines.last_mut() {
            last.push('…');
        }
    }
    lines
        .into_iter()
        .map(|l| Line::styled(format!(" {l}"), style))
        .collect()
}

fn preview_lines(
    state: &PasteState,
    width: usize,
    height: u16,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let height = height as usize;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let v = match &state.preview {
        Preview::Empty => {
            let (text, style) = if state.refused {
                (CookieParseError::Empty.to_string(), theme.warn())
            } else {
                (
                    "Waiting for cookies. Accepted: the Cookie request header from the browser's \
                     developer tools (Network tab), a \"Copy as cURL\" command, a Netscape \
                     cookies.txt, or a cookie-editor JSON export."
                        .to_string(),
                    theme.dim(),
                )
            };
            push_wrapped(&mut lines, &text, width, style);
            lines.truncate(height);
            return lines;
        }
        Preview::Invalid(error) => {
            let head = if state.refused {
                "✗ Cannot save: "
            } else {
                "✗ Not valid: "
            };
            push_wrapped(&mut lines, &format!("{head}{error}"), width, theme.error());
            lines.truncate(height);
            return lines;
        }
        Preview::Valid(v) => v,
    };
    let jar = &v.parsed.jar;
    let n = jar.len();
    let sessions = jar.session_cookie_names();
    let mut summary = vec![Span::styled(
        format!(" ✓ {n} cookie{} ({})", plural(n), v.parsed.format),
        theme.ok(),
    )];
    if sessions.is_empty() {
        summary.push(Span::styled(" · no session cookie", theme.warn()));
    } else {
        summary.push(Span::raw(format!(
            " · session cookie: {}",
            sessions.join(", ")
        )));
    }
    let gateway: Vec<String> = jar
        .gateway_cookies(&state.gateway_cookies)
        .map(|j| j.names())
        .unwrap_or_default();
    lines.push(Line::from(summary));
    if !gateway.is_empty() {
        push_wrapped(
            &mut lines,
            &format!(
                "g gateway: {} (sent with every auth mode, next to a token too)",
                gateway.join(", ")
            ),
            width,
            theme.dim(),
        );
    }
    let why = if v.by_session {
        "the session cookie's own expiry".to_string()
    } else {
        // Whole days for a real site's limit; the demo's lasts minutes.
        let t = v.ttl;
        match (t.whole_days(), t.whole_hours(), t.whole_minutes()) {
            (d, _, _) if d > 0 && t == time::Duration::days(d) => format!("the {d}-day limit"),
            (_, h, _) if h > 0 && t == time::Duration::hours(h) => format!("the {h}-hour limit"),
            (_, _, m) if m > 0 && t == time::Duration::minutes(m) => {
                format!("the {m}-minute limit")
            }
            _ => format!("the {} limit", format_time_left(t)),
        }
    };
    let left = format_time_left(v.expires_at - v.parsed_at);
    lines.push(Line::raw(format!(" Expires in {left} ({why})")));
    for w in &v.parsed.warnings {
        let style = match w {
            ParseWarning::NoSessionCookie => theme.warn(),
            _ => theme.dim(),
        };
        push_wrapped(&mut lines, &format!("⚠ {w}"), width, style);
    }
    // The cookie list gets the rows that are left; "… n more" when cut.
    let room = height.saturating_sub(lines.len());
    if room == 0 {
        lines.truncate(height);
        return lines;
    }
    let name_width = jar
        .cookies
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let fits = if n <= room { n } else { room.saturating_sub(1) };
    for c in jar.cookies.iter().take(fits) {
        let value = c.value.expose_secret();
        let shown = if state.revealed {
            mask(value)
        } else {
            mask_len(value)
        };
        let marker = if c.is_session_cookie() {
            "*"
        } else if is_gateway_cookie(&c.name, &state.gateway_cookies) {
            "g"
        } else {
            " "
        };
        lines.push(Line::from(vec![
            Span::raw(format!("  {marker} {:<name_width$}  ", c.name)),
            Span::styled(shown, theme.dim()),
        ]));
    }
    if fits < n {
        lines.push(Line::styled(
            format!("    … and {} more", n - fits),
            theme.dim(),
        ));
    }
    lines
}

fn push_wrapped(lines: &mut Vec<Line<'static>>, text: &str, width: usize, style: Style) {
    for l in wrap(text, width) {
        lines.push(Line::styled(format!(" {l}"), style));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{Effect, Flash};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-21 12:00 UTC);
    const TTL: Duration = Duration::days(14);
    const SECRET: &str = "SENTINEL-paste-unit-0123456789-abcdefghijklmnopqrstuvwxyz";

    struct Harness {
        effects: Vec<Effect>,
        flash: Option<Flash>,
    }

    impl Harness {
        fn new() -> Harness {
            Harness {
                effects: Vec::new(),
                flash: None,
            }
        }
        fn key(&mut self, state: &mut PasteState, code: KeyCode, mods: KeyModifiers) -> bool {
            let mut ctx = Ctx {
                effects: &mut self.effects,
                flash: &mut self.flash,
                now: NOW,
                open_dialog: None,
            };
            state.handle_key(&KeyEvent::new(code, mods), &mut ctx, TTL)
        }
        fn type_str(&mut self, state: &mut PasteState, s: &str) {
            for c in s.chars() {
                assert!(!self.key(state, KeyCode::Char(c), KeyModifiers::NONE));
            }
        }
    }

    fn header() -> String {
        format!("cloud.session.token={SECRET}; atlassian.xsrf.token=xsrf-{SECRET}")
    }

    #[test]
    fn typing_reparses_and_cursor_moves_do_not() {
        let mut s = PasteState::new(NOW, TTL);
        let mut h = Harness::new();
        h.type_str(&mut s, "a=1");
        assert!(s.is_valid());
        assert_eq!(s.char_count(), 3);
        assert_eq!(s.parses, 3);
        h.key(&mut s, KeyCode::Left, KeyModifiers::NONE);
        h.key(&mut s, KeyCode::Home, KeyModifiers::NONE);
        h.key(&mut s, KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert_eq!(s.parses, 3, "cursor moves and reveal do not parse");
        // Deleting the `=` makes it invalid; typing it back makes it valid.
        h.key(&mut s, KeyCode::End, KeyModifiers::NONE);
        h.key(&mut s, KeyCode::Left, KeyModifiers::NONE);
        h.key(&mut s, KeyCode::Backspace, KeyModifiers::NONE);
        assert!(!s.is_valid());
        h.type_str(&mut s, "=");
        assert!(s.is_valid());
    }

    #[test]
    fn pasted_newlines_are_text_and_cr_line_breaks_become_lines() {
        let mut s = PasteState::new(NOW, TTL);
        let netscape = format!(
            "# Netscape HTTP Cookie File\r.example.net\tTRUE\t/\tTRUE\t0\tJSESSIONID\t{SECRET}\r"
        );
        s.insert_paste(&netscape, NOW, TTL);
        assert_eq!(s.input.lines().len(), 3, "CR line breaks split lines");
        assert!(s.is_valid(), "{:?}", s.preview);
        let Preview::Valid(v) = &s.preview else {
            unreachable!()
        };
        assert_eq!(v.parsed.jar.names(), vec!["JSESSIONID".to_string()]);
    }

    #[test]
    fn the_preview_keeps_only_the_sites_cookies_and_says_what_it_dropped() {
        let site = Url::parse("https://x.atlassian.net/wiki").unwrap();
        let mut s = PasteState::new(NOW, TTL).for_site(Some(site));
        let netscape = format!(
            "x.atlassian.net\tFALSE\t/\tTRUE\t0\tJSESSIONID\t{SECRET}\n\
             .google.com\tTRUE\t/\tTRUE\t0\tNID\t{SECRET}\n"
        );
        s.insert_paste(&netscape, NOW, TTL);
        let Preview::Valid(v) = &s.preview else {
            unreachable!("{:?}", s.preview)
        };
        assert_eq!(v.parsed.jar.names(), vec!["JSESSIONID".to_string()]);
        let warnings: Vec<String> = v.parsed.warnings.iter().map(|w| w.to_string()).collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("Dropped 1 cookie for other domains: .google.com")),
            "{warnings:?}"
        );
    }

    #[test]
    fn enter_saves_only_a_valid_paste_with_the_textarea_text() {
        let mut s = PasteState::new(NOW, TTL);
        let mut h = Harness::new();
        s.insert_paste("no cookies in here", NOW, TTL);
        assert!(!h.key(&mut s, KeyCode::Enter, KeyModifiers::NONE));
        assert!(h.effects.is_empty());
        assert!(s.refused);
        assert_eq!(h.flash.as_ref().map(|f| f.level), Some(FlashLevel::Error));

        s.on_clipboard(ClipboardText::Text(Zeroizing::new(header())), NOW, TTL);
        assert!(!s.refused, "a new text clears the refusal");
        assert!(h.key(&mut s, KeyCode::Enter, KeyModifiers::NONE));
        match h.effects.as_slice() {
            [
                Effect::Worker(crate::worker::Command::Mutate(Mutation::ImportCookies {
                    input: ImportInput::Paste(t),
                })),
            ] => assert_eq!(t.as_str(), header()),
            other => panic!("unexpected effects {other:?}"),
        }
    }

    #[test]
    fn esc_closes_and_says_nothing_was_saved() {
        let mut s = PasteState::new(NOW, TTL);
        let mut h = Harness::new();
        s.insert_paste(&header(), NOW, TTL);
        assert!(h.key(&mut s, KeyCode::Esc, KeyModifiers::NONE));
        assert!(h.effects.is_empty());
        assert_eq!(
            h.flash.map(|f| f.text),
            Some("Nothing was saved.".to_string())
        );
    }

    #[test]
    fn ctrl_v_reads_the_clipboard_and_ctrl_r_toggles_the_mask() {
        let mut s = PasteState::new(NOW, TTL);
        let mut h = Harness::new();
        assert!(!h.key(&mut s, KeyCode::Char('v'), KeyModifiers::CONTROL));
        assert!(matches!(h.effects.as_slice(), [Effect::ReadClipboard]));
        assert_eq!(s.char_count(), 0, "Ctrl+V does not type a v");
        h.key(&mut s, KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert!(s.is_revealed());
        assert_eq!(
            s.input.mask_char(),
            Some(MASK_CHAR),
            "the text stays masked"
        );
        h.key(&mut s, KeyCode::Char('r'), KeyModifiers::CONTROL);
        assert!(!s.is_revealed());
    }

    #[test]
    fn clipboard_unavailable_keeps_the_text_and_says_why() {
        let mut s = PasteState::new(NOW, TTL);
        s.insert_paste("a=1", NOW, TTL);
        s.on_clipboard(ClipboardText::Unavailable("no display".into()), NOW, TTL);
        assert_eq!(s.source, Source::NoClipboard("no display".into()));
        assert_eq!(s.char_count(), 3);
        s.on_clipboard(ClipboardText::Text(Zeroizing::new("  ".into())), NOW, TTL);
        assert_eq!(s.source, Source::ClipboardEmpty);
        assert_eq!(s.char_count(), 3);
    }

    #[test]
    fn terminal_paste_replaces_unedited_clipboard_text_but_inserts_into_typed_text() {
        let mut s = PasteState::new(NOW, TTL);
        let mut h = Harness::new();
        s.on_clipboard(
            ClipboardText::Text(Zeroizing::new("old=1".into())),
            NOW,
            TTL,
        );
        s.insert_paste("new=2", NOW, TTL);
        assert_eq!(s.text().as_str(), "new=2");
        h.type_str(&mut s, "; x=");
        s.insert_paste("3", NOW, TTL);
        assert_eq!(s.text().as_str(), "new=2; x=3");
        h.key(&mut s, KeyCode::Char('l'), KeyModifiers::CONTROL);
        assert_eq!(s.text().as_str(), "");
        assert!(matches!(s.preview, Preview::Empty));
    }

    #[test]
    fn debug_prints_only_the_length() {
        let mut s = PasteState::new(NOW, TTL);
        s.insert_paste(&header(), NOW, TTL);
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("SENTINEL"), "{dbg}");
        assert!(dbg.contains(&header().chars().count().to_string()), "{dbg}");
    }

    #[test]
    fn a_large_paste_bypasses_the_text_widget_and_is_not_editable() {
        let mut h = Harness::new();
        let mut state = PasteState::new(NOW, TTL);
        let big = format!("Cookie: cloud.session.token={}", "x".repeat(200 * 1024));
        state.insert_paste(&big, NOW, TTL);
        assert!(state.large.is_some() && state.is_valid());
        assert_eq!(
            state.input.lines().concat().len(),
            0,
            "the widget holds none of it"
        );
        let before = state.char_count();
        h.type_str(&mut state, "abc");
        assert_eq!(
            state.char_count(),
            before,
            "typing does not edit a large paste"
        );
        h.key(&mut state, KeyCode::Char('l'), KeyModifiers::CONTROL);
        assert!(state.large.is_none() && state.char_count() == 0);
        state.insert_paste("a=1; JSESSIONID=2", NOW, TTL);
        assert!(state.large.is_none() && state.is_valid());
    }

    #[test]
    fn a_one_mebibyte_curl_paste_is_parsed_once_and_not_on_cursor_moves() {
        let head = format!(
            "curl 'https://example.atlassian.net/wiki/rest/api/space' -H 'Cookie: {}' --data-raw '",
            header()
        );
        let filler = "x".repeat(crate::cookies::parse::MAX_PASTE_BYTES - head.len() - 20);
        let curl = format!("{head}{filler}'");
        let mut s = PasteState::new(NOW, TTL);
        let mut h = Harness::new();
        s.insert_paste(&curl, NOW, TTL);
        assert!(s.is_valid(), "{:?}", s.preview);
        assert_eq!(s.parses, 1);
        for code in [KeyCode::Left, KeyCode::Right, KeyCode::Up, KeyCode::Home] {
            h.key(&mut s, code, KeyModifiers::NONE);
        }
        assert_eq!(s.parses, 1);
        // Such a paste is not editable: typing neither edits nor re-parses.
        h.type_str(&mut s, "y");
        assert_eq!(s.parses, 1);
        // Over the parser's limit: refused by size, before any parsing work.
        s.insert_paste(&format!("{curl}{}", "y".repeat(30)), NOW, TTL);
        assert_eq!(s.parses, 2);
        assert!(matches!(&s.preview, Preview::Invalid(e) if e.contains("1 MiB")));
    }
}
