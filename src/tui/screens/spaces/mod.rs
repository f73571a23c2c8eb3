//! The space browser: spaces stream in page by page and the list is usable
//! at once; `/` filters, `s`/`n` sort, `d` shows details, Enter lists the
//! selected space's pages (same filter), `o` opens and `y` copies a URL.

use std::cmp::Ordering;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use time::OffsetDateTime;

use crate::confluence::model::{Page, Space};
use crate::tui::app::{Clip, Ctx, Effect, FlashLevel, Handled};
use crate::tui::keys::{self, Action, Binding};
use crate::tui::widgets::list::{Compare, FilteredList, ListEntry};
use crate::worker::{Command, Event, Generation, Listing, Query, QueryKind};

mod render;
mod table;

pub use render::render;
pub(crate) use table::{KEYS, PAGE_KEYS};

use render::layout;

impl ListEntry for Space {
    fn haystack(&self) -> String {
        format!("{} {}", self.key, self.name).to_lowercase()
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl ListEntry for Page {
    fn haystack(&self) -> String {
        self.title.to_lowercase()
    }
    fn id(&self) -> &str {
        &self.id
    }
}

/// Case-insensitive (ASCII), numbers by value ("AN20" before "AN100"),
/// without allocating per compare.
fn ci_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        let ord = if x.is_ascii_digit() && y.is_ascii_digit() {
            let (da, ni) = digits(a, i);
            let (db, nj) = digits(b, j);
            (i, j) = (ni, nj);
            da.len().cmp(&db.len()).then(da.cmp(db))
        } else {
            (i, j) = (i + 1, j + 1);
            x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase())
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    (a.len() - i.min(a.len())).cmp(&(b.len() - j.min(b.len())))
}

/// The run of digits starting at `from` without leading zeros, and where it ends.
fn digits(s: &[u8], from: usize) -> (&[u8], usize) {
    let rest = s.get(from..).unwrap_or_default();
    let len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let run = &rest[..len];
    let zeros = run.iter().take_while(|&&c| c == b'0').count();
    (&run[zeros..], from + len)
}

fn space_by_key(a: &Space, b: &Space) -> Ordering {
    ci_cmp(&a.key, &b.key)
}

fn space_by_name(a: &Space, b: &Space) -> Ordering {
    ci_cmp(&a.name, &b.name).then_with(|| ci_cmp(&a.key, &b.key))
}

fn page_by_title(a: &Page, b: &Page) -> Ordering {
    ci_cmp(&a.title, &b.title)
}

fn page_by_updated(a: &Page, b: &Page) -> Ordering {
    // ISO 8601 timestamps sort as text.
    a.updated_at
        .cmp(&b.updated_at)
        .then_with(|| ci_cmp(&a.title, &b.title))
}

/// How the spaces are sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SpaceSort {
    Key,
    Name,
}

/// How the pages are sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PageSort {
    /// As the server listed them (tree order).
    Listed,
    Title,
    Updated,
}

/// A listing's progress, shared by spaces and pages.
#[derive(Clone, Debug, Default)]
struct Progress {
    loading: bool,
    done: bool,
    /// The request whose answers this progress shows.
    generation: Generation,
    loaded: usize,
    chunks: usize,
    error: Option<String>,
    wait_until: Option<OffsetDateTime>,
    /// Why the worker waits (shown with the countdown).
    wait_reason: Option<crate::confluence::client::WaitReason>,
}

impl Progress {
    /// A new request: answers to older ones no longer apply.
    fn begin(&mut self, generation: Generation) {
        *self = Progress {
            loading: true,
            generation,
            ..Progress::default()
        };
    }
    fn fail(&mut self, message: String) {
        self.loading = false;
        self.wait_until = None;
        self.error = Some(message);
    }
}

/// The pages of one space.
#[derive(Debug)]
pub(crate) struct PagesView {
    space: Space,
    list: FilteredList<Page>,
    sort: PageSort,
    descending: bool,
    progress: Progress,
}

impl PagesView {
    fn new(space: Space) -> PagesView {
        PagesView {
            space,
            list: FilteredList::new(None, false),
            sort: PageSort::Listed,
            descending: false,
            progress: Progress::default(),
        }
    }

    /// Starts (again) listing the pages as request `generation`.
    fn begin(&mut self, generation: Generation) -> Query {
        self.progress.begin(generation);
        Query::ListPages {
            generation,
            space_key: self.space.key.clone(),
            space_id: Some(self.space.id.clone()),
        }
    }

    fn set_sort(&mut self, sort: PageSort) {
        // Newest first is what a date sort is for.
        let first = sort == PageSort::Updated;
        self.descending = if self.sort == sort {
            !self.descending
        } else {
            first
        };
        self.sort = sort;
        let cmp: Option<Compare<Page>> = match sort {
            PageSort::Listed => None,
            PageSort::Title => Some(page_by_title),
            PageSort::Updated => Some(page_by_updated),
        };
        self.list.set_sort(cmp, self.descending);
    }
}

/// The space browser's state.
#[derive(Debug)]
pub struct SpacesState {
    list: FilteredList<Space>,
    sort: SpaceSort,
    descending: bool,
    progress: Progress,
    loaded_once: bool,
    /// The details pane at narrow widths.
    details: bool,
    pages: Option<PagesView>,
    /// The terminal's size, to know how many rows a page is.
    terminal: (u16, u16),
    /// The last generation handed out (spaces and pages share the count).
    generation: Generation,
}

impl Default for SpacesState {
    fn default() -> Self {
        SpacesState {
            list: FilteredList::new(Some(space_by_key), false),
            sort: SpaceSort::Key,
            descending: false,
            progress: Progress::default(),
            loaded_once: false,
            details: false,
            pages: None,
            terminal: (80, 24),
            generation: Generation::default(),
        }
    }
}

impl SpacesState {
    /// The key table in force: the spaces' or the pages'.
    pub(crate) fn keys(&self) -> &'static [Binding] {
        if self.pages.is_some() {
            PAGE_KEYS
        } else {
            KEYS
        }
    }

    /// True while the filter field has the keyboard.
    pub fn text_focus(&self) -> bool {
        match &self.pages {
            Some(p) => p.list.filter().is_focused(),
            None => self.list.filter().is_focused(),
        }
    }

    /// Mouse wheel: moves the selection.
    pub(crate) fn scroll(&mut self, delta: i32) {
        match &mut self.pages {
            Some(p) => p.list.move_by(delta.into()),
            None => self.list.move_by(delta.into()),
        }
    }

    /// A left click at `at` in the screen's `body`: a row of the open list
    /// is selected.
    pub(crate) fn click(&mut self, body: Rect, at: ratatui::layout::Position) {
        let rows = layout(self, body).rows;
        if !rows.contains(at) {
            return;
        }
        let line = usize::from(at.y - rows.y);
        let height = usize::from(rows.height);
        match &mut self.pages {
            Some(p) => p.list.select_shown(line, height),
            None => self.list.select_shown(line, height),
        }
    }

    /// True when the spaces were never listed and no listing is running.
    pub fn needs_load(&self) -> bool {
        !self.progress.loading && !self.loaded_once
    }

    /// Starts a new listing of the spaces: the query to send. Answers to
    /// any earlier listing are ignored from now on.
    pub fn start_listing(&mut self) -> Query {
        self.generation = self.generation.next();
        self.progress.begin(self.generation);
        Query::ListSpaces {
            generation: self.generation,
            max: None,
        }
    }

    /// Forgets everything (new credentials or settings).
    pub fn reset(&mut self) {
        let (terminal, generation) = (self.terminal, self.generation);
        *self = SpacesState {
            terminal,
            generation,
            ..SpacesState::default()
        };
        self.relayout();
    }

    /// The terminal's size, so paging moves by what is on screen.
    pub fn set_terminal_size(&mut self, width: u16, height: u16) {
        self.terminal = (width, height);
        self.relayout();
    }

    /// Every space loaded so far, in arrival order.
    pub fn spaces(&self) -> &[Space] {
        self.list.items()
    }

    /// The selected space.
    pub fn selected_space(&self) -> Option<&Space> {
        self.list.selected()
    }

    /// The space whose pages are shown, if any.
    pub fn pages_space(&self) -> Option<&Space> {
        self.pages.as_ref().map(|p| &p.space)
    }

    /// The pages loaded so far for the open space.
    pub fn pages(&self) -> &[Page] {
        self.pages.as_ref().map_or(&[], |p| p.list.items())
    }

    /// The selected page, when the pages are shown.
    pub fn selected_page(&self) -> Option<&Page> {
        self.pages.as_ref().and_then(|p| p.list.selected())
    }

    /// True while spaces are being listed.
    pub fn is_loading(&self) -> bool {
        self.progress.loading
    }

    /// The last listing error, if any.
    pub fn error(&self) -> Option<&str> {
        self.progress.error.as_deref()
    }

    /// Rows the filter lets through (the open list's).
    pub fn visible_len(&self) -> usize {
        match &self.pages {
            Some(p) => p.list.visible_len(),
            None => self.list.visible_len(),
        }
    }

    /// Screen keys; a focused filter field takes every key.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let handled = if self.pages.is_some() {
            self.pages_key(key, ctx)
        } else {
            self.spaces_key(key, ctx)
        };
        self.relayout();
        handled
    }

    fn spaces_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
        if self.list.filter().is_focused() {
            self.list.filter_key(key);
            return Handled::Yes;
        }
        let Some(action) = keys::lookup(&[KEYS, keys::LIST], key) else {
            return Handled::No;
        };
        if move_list(&mut self.list, action) {
            return Handled::Yes;
        }
        match action {
            Action::Filter => self.list.focus_filter(),
            Action::Back if self.list.filter().is_active() => self.list.clear_filter(),
            Action::Back => return Handled::No,
            Action::Open => match self.list.selected() {
                Some(space) => {
                    let mut view = PagesView::new(space.clone());
                    self.generation = self.generation.next();
                    ctx.query(view.begin(self.generation));
                    self.pages = Some(view);
                }
                None => ctx.flash(FlashLevel::Info, "No space selected"),
            },
            Action::OpenInBrowser => match self.list.selected() {
                Some(s) => ctx.effect(Effect::OpenUrl(s.url.clone())),
                None => ctx.flash(FlashLevel::Info, "No space selected"),
            },
            Action::CopyUrl => match self.list.selected() {
                Some(s) => ctx.effect(Effect::CopyToClipboard(Clip::Text(s.url.clone()))),
                None => ctx.flash(FlashLevel::Info, "No space selected"),
            },
            Action::Reload => {
                let q = self.start_listing();
                ctx.query(q);
            }
            Action::SortByKey => self.set_sort(SpaceSort::Key),
            Action::SortByName => self.set_sort(SpaceSort::Name),
            Action::ToggleDetails => self.details = !self.details,
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn pages_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
        let next = self.generation.next();
        let Some(view) = self.pages.as_mut() else {
            return Handled::No;
        };
        if view.list.filter().is_focused() {
            view.list.filter_key(key);
            return Handled::Yes;
        }
        let Some(action) = keys::lookup(&[PAGE_KEYS, keys::LIST], key) else {
            return Handled::No;
        };
        if move_list(&mut view.list, action) {
            return Handled::Yes;
        }
        match action {
            Action::Filter => view.list.focus_filter(),
            Action::Back if view.list.filter().is_active() => view.list.clear_filter(),
            Action::Back => {
                if view.progress.loading {
                    ctx.command(Command::Cancel(QueryKind::Pages));
                }
                self.pages = None;
            }
            Action::OpenInBrowser => match view.list.selected() {
                Some(p) => ctx.effect(Effect::OpenUrl(p.url.clone())),
                None => ctx.flash(FlashLevel::Info, "No page selected"),
            },
            Action::CopyUrl => match view.list.selected() {
                Some(p) => ctx.effect(Effect::CopyToClipboard(Clip::Text(p.url.clone()))),
                None => ctx.flash(FlashLevel::Info, "No page selected"),
            },
            Action::Reload => {
                ctx.query(view.begin(next));
                self.generation = next;
            }
            Action::SortByName => view.set_sort(PageSort::Title),
            Action::SortByUpdated => view.set_sort(PageSort::Updated),
            Action::ToggleDetails => self.details = !self.details,
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn set_sort(&mut self, sort: SpaceSort) {
        self.descending = self.sort == sort && !self.descending;
        self.sort = sort;
        let cmp: Compare<Space> = match sort {
            SpaceSort::Key => space_by_key,
            SpaceSort::Name => space_by_name,
        };
        self.list.set_sort(Some(cmp), self.descending);
    }

    /// Applies a worker event; `now` dates a rate-limit countdown. Returns
    /// the message of a listing failure it applied, for the message line.
    pub(crate) fn on_worker_event(&mut self, ev: &Event, now: OffsetDateTime) -> Option<String> {
        let mut failed = None;
        match ev {
            Event::Spaces(g) => {
                if let Some(step) = g.as_current(self.progress.generation)
                    && self.progress.loading
                {
                    failed = apply_step(&mut self.list, &mut self.progress, step);
                    self.loaded_once |= self.progress.done;
                }
            }
            Event::Pages(g) => {
                if let Some(p) = self.pages.as_mut()
                    && let Some(step) = g.as_current(p.progress.generation)
                    && p.progress.loading
                {
                    failed = apply_step(&mut p.list, &mut p.progress, step);
                }
            }
            Event::Waiting(w) => {
                let until = now + w.wait;
                match w.query {
                    QueryKind::Spaces if self.progress.loading => {
                        self.progress.wait_until = Some(until);
                        self.progress.wait_reason = Some(w.reason.clone());
                    }
                    QueryKind::Pages => {
                        if let Some(p) = self.pages.as_mut().filter(|p| p.progress.loading) {
                            p.progress.wait_until = Some(until);
                            p.progress.wait_reason = Some(w.reason.clone());
                        }
                    }
                    _ => {}
                }
            }
            // A verification that failed for another reason (the network)
            // says nothing about a listing under way.
            Event::Session(info) | Event::Verified { snapshot: info, .. }
                if matches!(
                    info.class(),
                    Some(crate::exit::ErrorClass::Auth | crate::exit::ErrorClass::Captcha)
                ) =>
            {
                // The listing died with the session; the status screen says why.
                let why = "Stopped: not signed in. Sign in (1 status), then r lists again.";
                if self.progress.loading {
                    self.progress.fail(why.into());
                }
                if let Some(p) = self.pages.as_mut().filter(|p| p.progress.loading) {
                    p.progress.fail(why.into());
                }
            }
            _ => {}
        }
        self.relayout();
        failed
    }

    /// Tells the lists how many rows they show, from the same layout render uses.
    fn relayout(&mut self) {
        let (w, h) = self.terminal;
        // The frame gives the screen all but the header, message and footer lines.
        let body = Rect::new(0, 1, w, h.saturating_sub(3));
        let rows = layout(self, body).rows.height as usize;
        match &mut self.pages {
            Some(p) => p.list.set_page_rows(rows),
            None => self.list.set_page_rows(rows),
        }
    }
}

/// Applies one step of a listing to its list and progress; a failure's
/// message is returned.
fn apply_step<T: ListEntry + Clone>(
    list: &mut FilteredList<T>,
    progress: &mut Progress,
    step: &Listing<T>,
) -> Option<String> {
    match step {
        Listing::Started => list.clear_items(),
        Listing::Items { items, loaded } => {
            list.extend(items.clone());
            progress.loaded = *loaded;
            progress.chunks += 1;
            progress.wait_until = None;
        }
        Listing::Done { total } => {
            progress.loading = false;
            progress.done = true;
            progress.loaded = *total;
            progress.wait_until = None;
        }
        Listing::Failed(error) => {
            progress.fail(error.message.clone());
            return Some(error.message.clone());
        }
    }
    None
}

/// Movement keys shared by both lists; true when `action` was one.
fn move_list<T: ListEntry>(list: &mut FilteredList<T>, action: Action) -> bool {
    match action {
        Action::Up => list.move_by(-1),
        Action::Down => list.move_by(1),
        Action::PageUp => list.page(-1),
        Action::PageDown => list.page(1),
        Action::Top => list.top(),
        Action::Bottom => list.bottom(),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-11-21 12:00 UTC)
    }

    #[test]
    fn key_sort_ignores_case_and_reads_numbers_as_numbers() {
        assert_eq!(ci_cmp("abc", "ABD"), Ordering::Less);
        assert_eq!(ci_cmp("Eng", "eng"), Ordering::Equal);
        assert_eq!(ci_cmp("AN20", "AN100"), Ordering::Less);
        assert_eq!(ci_cmp("AN100", "an0100"), Ordering::Equal);
        assert_eq!(ci_cmp("AN1", "AN1B"), Ordering::Less);
        assert_eq!(ci_cmp("AN9X", "AN10"), Ordering::Less);
    }

    #[test]
    fn a_wait_is_shown_only_while_listing() {
        let mut s = SpacesState::default();
        let wait = Event::Waiting(crate::worker::Wait {
            query: QueryKind::Spaces,
            wait: std::time::Duration::from_secs(9),
            next_attempt: 2,
            reason: crate::confluence::client::WaitReason::Network,
        });
        let _ = s.on_worker_event(&wait, now());
        assert!(s.progress.wait_until.is_none(), "nothing is loading");
        let _ = s.start_listing();
        let _ = s.on_worker_event(&wait, now());
        assert_eq!(
            s.progress.wait_until,
            Some(now() + time::Duration::seconds(9))
        );
    }

    #[test]
    fn losing_the_session_stops_the_spinner_and_allows_a_new_listing() {
        let mut s = SpacesState::default();
        let _ = s.start_listing();
        assert!(!s.needs_load());
        let _ = s.on_worker_event(
            &Event::Session(crate::session::Snapshot {
                state: crate::session::SessionState::Expired {
                    reason: "login redirect".into(),
                    status: Some(302),
                },
                ..crate::session::Snapshot::unknown(None, None)
            }),
            now(),
        );
        assert!(!s.is_loading());
        assert!(s.error().is_some());
        assert!(s.needs_load(), "signing in again lists the spaces");
    }

    #[test]
    fn reset_keeps_the_terminal_size() {
        let mut s = SpacesState::default();
        s.set_terminal_size(120, 40);
        s.details = true;
        s.reset();
        assert_eq!(s.terminal, (120, 40));
        assert!(!s.details);
    }
}
