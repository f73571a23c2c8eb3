//! A list that stays usable with 100,000 rows: items arrive in chunks, a
//! sort order is kept by merging each chunk in, the filter keeps index
//! vectors (never copies of items), and only the visible window is drawn.

use std::cmp::Ordering;

use crossterm::event::KeyEvent;

use super::filter::{FilterInput, FilterOutcome, MatchKind, match_query};

/// What the list needs to know about an item.
pub(crate) trait ListEntry {
    /// The lowercased text the filter searches (computed once per item).
    fn haystack(&self) -> String;
    /// A stable identity, to keep the selection across a reload.
    fn id(&self) -> &str;
}

/// An item ordering; `None` on the list keeps arrival order.
pub(crate) type Compare<T> = fn(&T, &T) -> Ordering;

/// Items, their sort order, the filter's matches, the cursor and scroll.
#[derive(Debug)]
pub(crate) struct FilteredList<T> {
    items: Vec<T>,
    hay: Vec<Box<str>>,
    /// Every item, in sort order.
    order: Vec<usize>,
    /// With a filter: substring matches, then fuzzy ones, each in sort order.
    exact: Vec<usize>,
    fuzzy: Vec<usize>,
    filter: FilterInput,
    /// The filter text, lowercased, that `exact`/`fuzzy` were computed for.
    query: String,
    compare: Option<Compare<T>>,
    descending: bool,
    cursor: usize,
    offset: usize,
    /// The item the user moved to, kept selected while chunks arrive.
    chosen: Option<usize>,
    /// After a reload: the id to select again when it comes back.
    reselect: Option<String>,
    /// Rows the list shows, as last laid out; render clamps anyway.
    page_rows: usize,
}

impl<T> Default for FilteredList<T> {
    fn default() -> Self {
        FilteredList {
            items: Vec::new(),
            hay: Vec::new(),
            order: Vec::new(),
            exact: Vec::new(),
            fuzzy: Vec::new(),
            filter: FilterInput::default(),
            query: String::new(),
            compare: None,
            descending: false,
            cursor: 0,
            offset: 0,
            chosen: None,
            reselect: None,
            page_rows: 10,
        }
    }
}

impl<T: ListEntry> FilteredList<T> {
    /// An empty list sorted by `compare` (or in arrival order).
    pub fn new(compare: Option<Compare<T>>, descending: bool) -> Self {
        FilteredList {
            compare,
            descending,
            ..FilteredList::default()
        }
    }

    /// Every item, in arrival order.
    pub(crate) fn items(&self) -> &[T] {
        &self.items
    }

    /// How many rows the filter lets through.
    pub fn visible_len(&self) -> usize {
        if self.query.is_empty() {
            self.order.len()
        } else {
            self.exact.len() + self.fuzzy.len()
        }
    }

    /// The item at row `pos` of the filtered, sorted view.
    pub(crate) fn row(&self, pos: usize) -> Option<&T> {
        self.index_at(pos).and_then(|i| self.items.get(i))
    }

    fn index_at(&self, pos: usize) -> Option<usize> {
        if self.query.is_empty() {
            self.order.get(pos).copied()
        } else if pos < self.exact.len() {
            self.exact.get(pos).copied()
        } else {
            self.fuzzy.get(pos - self.exact.len()).copied()
        }
    }

    /// The selected row's position.
    pub(crate) fn cursor(&self) -> usize {
        self.cursor
    }

    /// The selected item.
    pub(crate) fn selected(&self) -> Option<&T> {
        self.row(self.cursor)
    }

    /// The filter field.
    pub fn filter(&self) -> &FilterInput {
        &self.filter
    }

    /// Adds a chunk of items; the selection stays on the same item.
    pub fn extend(&mut self, chunk: Vec<T>) {
        let start = self.items.len();
        for item in chunk {
            if self.reselect.as_deref() == Some(item.id()) {
                self.chosen = Some(self.items.len());
                self.reselect = None;
            }
            self.hay.push(item.haystack().into_boxed_str());
            self.items.push(item);
        }
        let mut fresh: Vec<usize> = (start..self.items.len()).collect();
        if self.compare.is_some() {
            fresh.sort_unstable_by(|&a, &b| self.cmp(a, b));
            self.order = merge(&self.order, &fresh, |a, b| self.cmp(a, b));
        } else {
            self.order.extend(fresh);
        }
        self.refilter();
        self.follow_chosen();
    }

    /// Empties the list for a reload, remembering the selected item's id.
    pub(crate) fn clear_items(&mut self) {
        self.reselect = self
            .chosen
            .and_then(|i| self.items.get(i))
            .map(|t| t.id().to_string())
            .or(self.reselect.take());
        self.items.clear();
        self.hay.clear();
        self.order.clear();
        self.exact.clear();
        self.fuzzy.clear();
        self.chosen = None;
        self.cursor = 0;
        self.offset = 0;
    }

    /// Forgets the `n` oldest items (in arrival order), for a list that
    /// keeps only the newest; the selection stays on its item while that
    /// item is kept.
    pub(crate) fn drop_oldest(&mut self, n: usize) {
        let n = n.min(self.items.len());
        if n == 0 {
            return;
        }
        self.items.drain(..n);
        self.hay.drain(..n);
        for v in [&mut self.order, &mut self.exact, &mut self.fuzzy] {
            v.retain(|&i| i >= n);
            for i in v.iter_mut() {
                *i -= n;
            }
        }
        self.chosen = self.chosen.and_then(|c| c.checked_sub(n));
        self.follow_chosen();
    }

    /// Sorts by `compare` (or arrival order), keeping the selected item.
    pub(crate) fn set_sort(&mut self, compare: Option<Compare<T>>, descending: bool) {
        self.compare = compare;
        self.descending = descending;
        if self.chosen.is_none() {
            self.chosen = self.index_at(self.cursor);
        }
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        if self.compare.is_some() {
            order.sort_unstable_by(|&a, &b| self.cmp(a, b));
        }
        self.order = order;
        self.refilter();
        self.follow_chosen();
    }

    /// Gives the filter field the keyboard.
    pub(crate) fn focus_filter(&mut self) {
        self.filter.focus();
    }

    /// Clears the filter (and leaves the field).
    pub(crate) fn clear_filter(&mut self) {
        self.filter.clear();
        self.apply_filter_text();
    }

    /// A key for the focused filter field; the view follows each keystroke.
    pub(crate) fn filter_key(&mut self, key: &KeyEvent) -> FilterOutcome {
        let outcome = self.filter.handle_key(key);
        if matches!(outcome, FilterOutcome::Changed | FilterOutcome::Cleared) {
            self.apply_filter_text();
        }
        outcome
    }

    fn apply_filter_text(&mut self) {
        let query = self.filter.text().to_lowercase();
        if query != self.query {
            let narrows = !self.query.is_empty() && query.starts_with(&self.query);
            self.query = query;
            if narrows {
                self.narrow();
            } else {
                self.refilter();
            }
            // A new query starts at its best match.
            self.chosen = None;
            self.cursor = 0;
            self.offset = 0;
        }
    }

    /// Moves the cursor by `delta` rows, clamped to the list.
    pub(crate) fn move_by(&mut self, delta: i64) {
        let len = self.visible_len();
        if len == 0 {
            return;
        }
        let target = (self.cursor as i64).saturating_add(delta);
        self.select_row(target.clamp(0, len as i64 - 1) as usize);
    }

    /// One page up (negative) or down (positive).
    pub fn page(&mut self, pages: i64) {
        let rows = self.page_rows.max(1) as i64;
        self.move_by(pages.saturating_mul(rows));
    }

    /// Selects row `pos` (clamped) and scrolls it into view.
    pub(crate) fn select_row(&mut self, pos: usize) {
        let len = self.visible_len();
        if len == 0 {
            return;
        }
        self.cursor = pos.min(len - 1);
        self.chosen = self.index_at(self.cursor);
        self.scroll_to_cursor();
    }

    /// Selects the row drawn `line` rows below the top of a window of
    /// `height` rows (a click); below the last row nothing changes.
    pub(crate) fn select_shown(&mut self, line: usize, height: usize) {
        let pos = self.window_start(height) + line;
        if pos < self.visible_len() {
            self.select_row(pos);
        }
    }

    /// The first row.
    pub(crate) fn top(&mut self) {
        self.select_row(0);
    }

    /// The last row.
    pub(crate) fn bottom(&mut self) {
        self.select_row(usize::MAX);
    }

    /// How many rows the list shows (from the last layout).
    pub(crate) fn set_page_rows(&mut self, rows: usize) {
        self.page_rows = rows.max(1);
        self.scroll_to_cursor();
    }

    /// The first row to draw in a window of `height` rows: the stored offset,
    /// pulled just far enough to show the cursor and fill the window.
    pub(crate) fn window_start(&self, height: usize) -> usize {
        let len = self.visible_len();
        if height == 0 || len == 0 {
            return 0;
        }
        let cursor = self.cursor.min(len - 1);
        self.offset
            .min(cursor)
            .max((cursor + 1).saturating_sub(height))
            .min(len.saturating_sub(height))
    }

    fn scroll_to_cursor(&mut self) {
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + self.page_rows {
            self.offset = self.cursor + 1 - self.page_rows;
        }
    }

    fn cmp(&self, a: usize, b: usize) -> Ordering {
        let ord = match (self.compare, self.items.get(a), self.items.get(b)) {
            (Some(f), Some(x), Some(y)) => f(x, y),
            _ => Ordering::Equal,
        };
        let ord = if self.descending { ord.reverse() } else { ord };
        // Arrival order breaks ties, so the order is total and stable.
        ord.then(a.cmp(&b))
    }

    fn refilter(&mut self) {
        self.exact.clear();
        self.fuzzy.clear();
        if self.query.is_empty() {
            return;
        }
        for &i in &self.order {
            match self.hay.get(i).and_then(|h| match_query(h, &self.query)) {
                Some(MatchKind::Substring) => self.exact.push(i),
                Some(MatchKind::Fuzzy) => self.fuzzy.push(i),
                None => {}
            }
        }
    }

    /// A longer query can only match what the shorter one matched: test
    /// just those, keeping sort order.
    fn narrow(&mut self) {
        let mut candidate = vec![false; self.items.len()];
        for &i in self.exact.iter().chain(self.fuzzy.iter()) {
            if let Some(c) = candidate.get_mut(i) {
                *c = true;
            }
        }
        self.exact.clear();
        self.fuzzy.clear();
        for &i in &self.order {
            if !candidate.get(i).copied().unwrap_or(false) {
                continue;
            }
            match self.hay.get(i).and_then(|h| match_query(h, &self.query)) {
                Some(MatchKind::Substring) => self.exact.push(i),
                Some(MatchKind::Fuzzy) => self.fuzzy.push(i),
                None => {}
            }
        }
    }

    /// Puts the cursor back on the chosen item after the view changed.
    fn follow_chosen(&mut self) {
        let len = self.visible_len();
        let found = self
            .chosen
            .and_then(|want| (0..len).find(|&pos| self.index_at(pos) == Some(want)));
        match found {
            Some(pos) => self.cursor = pos,
            None if self.chosen.is_some() => {
                // Filtered out: stay at the same height, on whatever is there.
                self.cursor = self.cursor.min(len.saturating_sub(1));
                self.chosen = None;
            }
            None => self.cursor = self.cursor.min(len.saturating_sub(1)),
        }
        self.scroll_to_cursor();
    }
}

/// Merges two sorted index lists.
fn merge(a: &[usize], b: &[usize], cmp: impl Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        if cmp(x, y) == Ordering::Greater {
            out.push(y);
            j += 1;
        } else {
            out.push(x);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i.min(a.len())..]);
    out.extend_from_slice(&b[j.min(b.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    #[derive(Debug, Clone)]
    struct Item(String);

    impl ListEntry for Item {
        fn haystack(&self) -> String {
            self.0.to_lowercase()
        }
        fn id(&self) -> &str {
            &self.0
        }
    }

    fn by_text(a: &Item, b: &Item) -> Ordering {
        a.0.cmp(&b.0)
    }

    fn items(names: &[&str]) -> Vec<Item> {
        names.iter().map(|n| Item(n.to_string())).collect()
    }

    fn rows(l: &FilteredList<Item>) -> Vec<String> {
        (0..l.visible_len())
            .filter_map(|p| l.row(p).map(|i| i.0.clone()))
            .collect()
    }

    fn type_filter(l: &mut FilteredList<Item>, text: &str) {
        l.focus_filter();
        for c in text.chars() {
            l.filter_key(&KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
    }

    #[test]
    fn chunks_merge_into_sort_order_and_selection_stays_on_its_item() {
        let mut l = FilteredList::new(Some(by_text as Compare<Item>), false);
        l.extend(items(&["m", "c", "x"]));
        assert_eq!(rows(&l), ["c", "m", "x"]);
        l.move_by(1);
        assert_eq!(l.selected().unwrap().0, "m");
        l.extend(items(&["a", "b", "z"]));
        assert_eq!(rows(&l), ["a", "b", "c", "m", "x", "z"]);
        assert_eq!(l.selected().unwrap().0, "m", "selection follows its item");
        l.set_sort(Some(by_text), true);
        assert_eq!(rows(&l), ["z", "x", "m", "c", "b", "a"]);
        assert_eq!(l.selected().unwrap().0, "m");
    }

    #[test]
    fn filter_puts_substring_matches_before_fuzzy_ones() {
        let mut l = FilteredList::new(Some(by_text as Compare<Item>), false);
        l.extend(items(&[
            "Engineering",
            "Marketing",
            "eXtra Growth",
            "Sales",
        ]));
        type_filter(&mut l, "eg");
        // No substring "eg"; fuzzy e…g in Engineering, Marketing, eXtra Growth.
        assert_eq!(rows(&l), ["Engineering", "Marketing", "eXtra Growth"]);
        l.clear_filter();
        type_filter(&mut l, "ing");
        assert_eq!(rows(&l), ["Engineering", "Marketing"]);
        assert_eq!(
            (l.exact.len(), l.fuzzy.len()),
            (2, 0),
            "both match as substrings"
        );
        l.extend(items(&["Billing"]));
        assert_eq!(
            rows(&l),
            ["Billing", "Engineering", "Marketing"],
            "arrivals are filtered too"
        );
        l.filter_key(&KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
        assert_eq!(l.visible_len(), 5);
    }

    #[test]
    fn window_keeps_the_cursor_visible_and_the_window_full() {
        let mut l = FilteredList::new(None, false);
        l.extend((0..100).map(|i| Item(format!("{i:03}"))).collect());
        l.set_page_rows(10);
        assert_eq!(l.window_start(10), 0);
        l.move_by(15);
        assert_eq!(l.window_start(10), 6);
        l.move_by(-1);
        assert_eq!(
            l.window_start(10),
            6,
            "moving up inside the window does not scroll"
        );
        l.page(1);
        assert_eq!(l.cursor(), 24);
        l.bottom();
        assert_eq!(l.window_start(10), 90);
        assert_eq!(l.window_start(30), 70, "a taller window stays full");
        l.top();
        assert_eq!(l.window_start(10), 0);
        l.move_by(-5);
        assert_eq!(l.cursor(), 0);
    }

    #[test]
    fn dropping_the_oldest_keeps_order_filter_and_selection() {
        let mut l = FilteredList::new(Some(by_text as Compare<Item>), true);
        l.extend(items(&["a1", "b2", "c1", "d2", "e1"]));
        assert_eq!(rows(&l), ["e1", "d2", "c1", "b2", "a1"]);
        l.move_by(2);
        assert_eq!(l.selected().unwrap().0, "c1");
        l.drop_oldest(2);
        assert_eq!(rows(&l), ["e1", "d2", "c1"]);
        assert_eq!(l.selected().unwrap().0, "c1", "selection kept");
        type_filter(&mut l, "1");
        assert_eq!(rows(&l), ["e1", "c1"]);
        l.drop_oldest(1);
        assert_eq!(rows(&l), ["e1"], "the filter's matches shrink too");
        l.drop_oldest(10);
        assert_eq!(l.visible_len(), 0);
        assert_eq!(l.items().len(), 0);
    }

    #[test]
    fn reload_reselects_the_same_item_when_it_comes_back() {
        let mut l = FilteredList::new(Some(by_text as Compare<Item>), false);
        l.extend(items(&["a", "b", "c"]));
        l.move_by(2);
        l.clear_items();
        assert_eq!(l.visible_len(), 0);
        l.extend(items(&["a", "b"]));
        assert_eq!(l.cursor(), 0);
        l.extend(items(&["c"]));
        assert_eq!(l.selected().unwrap().0, "c");
    }

    #[test]
    fn filtering_100k_items_is_fast_enough_to_run_per_keystroke() {
        let mut l = FilteredList::new(Some(by_text as Compare<Item>), false);
        let t = std::time::Instant::now();
        for chunk in 0..400 {
            l.extend(
                (0..250)
                    .map(|i| Item(format!("SP{:06} Space number {chunk} {i}", chunk * 250 + i)))
                    .collect(),
            );
        }
        let loaded = t.elapsed();
        let t = std::time::Instant::now();
        type_filter(&mut l, "9");
        let first = t.elapsed();
        let t = std::time::Instant::now();
        type_filter(&mut l, "9 1");
        let narrowing = t.elapsed() / 3;
        println!(
            "100k items: streamed in {loaded:?}; first keystroke {first:?}, \
             then {narrowing:?} per keystroke (debug build)"
        );
        let mut fresh = FilteredList::new(Some(by_text as Compare<Item>), false);
        fresh.extend(l.items().to_vec());
        type_filter(&mut fresh, "99 1");
        assert_eq!(
            rows(&fresh),
            rows(&l),
            "narrowing finds what a full pass finds"
        );
        assert_eq!(l.items().len(), 100_000);
        assert!(l.visible_len() > 0);
    }
}
