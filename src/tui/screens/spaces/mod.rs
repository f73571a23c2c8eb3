//! The space browser: spaces stream in page by page and the list is usable
//! at once; `/` filters, `s`/`n` sort, `d` shows details, Enter lists the
//! selected space's pages (same filter), `o` opens and `y` copies a URL.

use std::cmp::Ordering;

use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use time::OffsetDateTime;

use crate::confluence::model::{Page, Space};
use crate::tui::app::{Ctx, Effect, FlashLevel, Handled};
use crate::tui::keys::{self, Action, Binding};
use crate::tui::widgets::list::{Compare, FilteredList, ListEntry};
use crate::worker::{Command, Event, JobKind};

mod render;
mod table;

pub use render::{WIDE_COLUMNS, render};
pub use table::{KEYS, PAGE_KEYS};

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
pub enum SpaceSort {
    Key,
    Name,
}

/// How the pages are sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSort {
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
    generation: Option<u64>,
    loaded: usize,
    chunks: usize,
    error: Option<String>,
    wait_until: Option<OffsetDateTime>,
}

impl Progress {
    fn start(&mut self, generation: u64) {
        *self = Progress {
            loading: true,
            generation: Some(generation),
            ..Progress::default()
        };
    }
    fn is_current(&self, generation: u64) -> bool {
        self.generation == Some(generation)
    }
    fn fail(&mut self, message: String) {
        self.loading = false;
        self.wait_until = None;
        self.error = Some(message);
    }
}

/// The pages of one space.
#[derive(Debug)]
pub struct PagesView {
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
            progress: Progress {
                loading: true,
                ..Progress::default()
            },
        }
    }

    fn command(&self) -> Command {
        Command::ListPages {
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
        }
    }
}

impl SpacesState {
    /// The key table in force: the spaces' or the pages'.
    pub fn keys(&self) -> &'static [Binding] {
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
    pub fn scroll(&mut self, delta: i32) {
        match &mut self.pages {
            Some(p) => p.list.move_by(delta.into()),
            None => self.list.move_by(delta.into()),
        }
    }

    /// True when the spaces were never listed and no listing is running.
    pub fn needs_load(&self) -> bool {
        !self.progress.loading && !self.loaded_once
    }

    /// A listing was asked for (the list resets when it starts).
    pub fn mark_loading(&mut self) {
        self.progress.loading = true;
        self.progress.error = None;
    }

    /// Forgets everything (new credentials or settings).
    pub fn reset(&mut self) {
        let terminal = self.terminal;
        *self = SpacesState {
            terminal,
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

    /// The sort of the spaces.
    pub fn sort(&self) -> (SpaceSort, bool) {
        (self.sort, self.descending)
    }

    /// Screen keys; a focused filter field takes every key.
    pub fn handle_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
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
                    let view = PagesView::new(space.clone());
                    ctx.command(view.command());
                    self.pages = Some(view);
                }
                None => ctx.flash(FlashLevel::Info, "No space selected"),
            },
            Action::OpenInBrowser => match self.list.selected() {
                Some(s) => ctx.effect(Effect::OpenUrl(s.url.clone())),
                None => ctx.flash(FlashLevel::Info, "No space selected"),
            },
            Action::CopyUrl => match self.list.selected() {
                Some(s) => ctx.effect(Effect::CopyToClipboard(s.url.clone())),
                None => ctx.flash(FlashLevel::Info, "No space selected"),
            },
            Action::Reload => {
                ctx.command(Command::ListSpaces { max: None });
                self.mark_loading();
            }
            Action::SortByKey => self.set_sort(SpaceSort::Key),
            Action::SortByName => self.set_sort(SpaceSort::Name),
            Action::ToggleDetails => self.details = !self.details,
            _ => return Handled::No,
        }
        Handled::Yes
    }

    fn pages_key(&mut self, key: &KeyEvent, ctx: &mut Ctx) -> Handled {
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
                    ctx.command(Command::Cancel {
                        kind: JobKind::Pages,
                    });
                }
                self.pages = None;
            }
            Action::OpenInBrowser => match view.list.selected() {
                Some(p) => ctx.effect(Effect::OpenUrl(p.url.clone())),
                None => ctx.flash(FlashLevel::Info, "No page selected"),
            },
            Action::CopyUrl => match view.list.selected() {
                Some(p) => ctx.effect(Effect::CopyToClipboard(p.url.clone())),
                None => ctx.flash(FlashLevel::Info, "No page selected"),
            },
            Action::Reload => {
                ctx.command(view.command());
                view.progress.loading = true;
                view.progress.error = None;
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

    /// Applies a worker event; `now` dates a rate-limit countdown.
    pub fn on_worker_event(&mut self, ev: &Event, now: OffsetDateTime) {
        match ev {
            Event::SpacesStarted { generation } => {
                self.progress.start(*generation);
                self.list.clear_items();
            }
            Event::SpacesPage {
                generation,
                spaces,
                loaded,
            } if self.progress.is_current(*generation) => {
                self.list.extend(spaces.clone());
                self.progress.loaded = *loaded;
                self.progress.chunks += 1;
                self.progress.wait_until = None;
            }
            Event::SpacesDone { generation, total } if self.progress.is_current(*generation) => {
                self.progress.loading = false;
                self.progress.done = true;
                self.progress.loaded = *total;
                self.progress.wait_until = None;
                self.loaded_once = true;
            }
            Event::PagesStarted {
                generation,
                space_key,
            } => {
                if let Some(p) = self.pages.as_mut().filter(|p| &p.space.key == space_key) {
                    p.progress.start(*generation);
                    p.list.clear_items();
                }
            }
            Event::PagesPage {
                generation,
                space_key,
                pages,
                loaded,
            } => {
                if let Some(p) = self
                    .pages
                    .as_mut()
                    .filter(|p| &p.space.key == space_key && p.progress.is_current(*generation))
                {
                    p.list.extend(pages.clone());
                    p.progress.loaded = *loaded;
                    p.progress.chunks += 1;
                    p.progress.wait_until = None;
                }
            }
            Event::PagesDone {
                generation,
                space_key,
                total,
            } => {
                if let Some(p) = self
                    .pages
                    .as_mut()
                    .filter(|p| &p.space.key == space_key && p.progress.is_current(*generation))
                {
                    p.progress.loading = false;
                    p.progress.done = true;
                    p.progress.loaded = *total;
                    p.progress.wait_until = None;
                }
            }
            Event::Waiting { kind, wait, .. } => {
                let until = now + *wait;
                match kind {
                    JobKind::Spaces if self.progress.loading => {
                        self.progress.wait_until = Some(until)
                    }
                    JobKind::Pages => {
                        if let Some(p) = self.pages.as_mut().filter(|p| p.progress.loading) {
                            p.progress.wait_until = Some(until);
                        }
                    }
                    _ => {}
                }
            }
            Event::Error { kind, message, .. } => match kind {
                JobKind::Spaces => self.progress.fail(message.clone()),
                JobKind::Pages => {
                    if let Some(p) = self.pages.as_mut() {
                        p.progress.fail(message.clone());
                    }
                }
                _ => {}
            },
            Event::SessionExpired { .. } | Event::Captcha { .. } | Event::NotConfigured { .. } => {
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
        let wait = Event::Waiting {
            kind: JobKind::Spaces,
            wait: std::time::Duration::from_secs(9),
            next_attempt: 2,
            reason: crate::confluence::client::WaitReason::Network,
        };
        s.on_worker_event(&wait, now());
        assert!(s.progress.wait_until.is_none(), "nothing is loading");
        s.on_worker_event(&Event::SpacesStarted { generation: 1 }, now());
        s.on_worker_event(&wait, now());
        assert_eq!(
            s.progress.wait_until,
            Some(now() + time::Duration::seconds(9))
        );
    }

    #[test]
    fn losing_the_session_stops_the_spinner_and_allows_a_new_listing() {
        let mut s = SpacesState::default();
        s.mark_loading();
        assert!(!s.needs_load());
        s.on_worker_event(
            &Event::SessionExpired {
                reason: "login redirect".into(),
                status: Some(302),
            },
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
