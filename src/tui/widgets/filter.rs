//! The `/` filter: a one-line field plus the matching rule (case-insensitive
//! substring first, then a fuzzy subsequence).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// How well an item matched the query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum MatchKind {
    /// The query appears as written (ignoring case).
    Substring,
    /// The query's characters appear in order, with gaps.
    Fuzzy,
}

/// Matches a lowercased `query` against a lowercased `haystack`.
pub(crate) fn match_query(haystack: &str, query: &str) -> Option<MatchKind> {
    if query.is_empty() || haystack.contains(query) {
        return Some(MatchKind::Substring);
    }
    // Each query char must be found after the previous one.
    if !query.is_ascii() {
        let mut hay = haystack.chars();
        return query
            .chars()
            .all(|q| hay.any(|h| h == q))
            .then_some(MatchKind::Fuzzy);
    }
    // ASCII bytes never occur inside a multi-byte UTF-8 char, so bytes are
    // exact here, and much faster.
    let mut hay = haystack.as_bytes();
    for q in query.as_bytes() {
        match hay.iter().position(|h| h == q) {
            Some(at) => hay = &hay[at + 1..],
            None => return None,
        }
    }
    Some(MatchKind::Fuzzy)
}

/// What a key did to the filter field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FilterOutcome {
    /// The text changed: filter again.
    Changed,
    /// Enter: keep the filter, leave the field.
    Kept,
    /// Esc: filter cleared, field left.
    Cleared,
    /// A key the field does not use (still swallowed while focused).
    Ignored,
}

/// The filter text and whether the field has the keyboard.
#[derive(Clone, Debug, Default)]
pub(crate) struct FilterInput {
    text: String,
    focused: bool,
}

impl FilterInput {
    /// The text as typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True while keys type into the field.
    pub(crate) fn is_focused(&self) -> bool {
        self.focused
    }

    /// True when a filter is in force (typed, focused or not).
    pub(crate) fn is_active(&self) -> bool {
        !self.text.is_empty()
    }

    /// Gives the field the keyboard (`/`), keeping any text already there.
    pub(crate) fn focus(&mut self) {
        self.focused = true;
    }

    /// Empties the field and leaves it.
    pub fn clear(&mut self) {
        self.text.clear();
        self.focused = false;
    }

    /// Edits the field with one key.
    pub(crate) fn handle_key(&mut self, key: &KeyEvent) -> FilterOutcome {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.clear();
                FilterOutcome::Cleared
            }
            KeyCode::Enter => {
                self.focused = false;
                FilterOutcome::Kept
            }
            KeyCode::Backspace => {
                if self.text.pop().is_some() {
                    FilterOutcome::Changed
                } else {
                    FilterOutcome::Ignored
                }
            }
            KeyCode::Char('u') if ctrl => {
                self.text.clear();
                FilterOutcome::Changed
            }
            KeyCode::Char('w') if ctrl => {
                let keep = self.text.trim_end().rfind(' ').map_or(0, |i| i + 1);
                self.text.truncate(keep);
                FilterOutcome::Changed
            }
            KeyCode::Char(c) if !ctrl && !c.is_control() => {
                self.text.push(c);
                FilterOutcome::Changed
            }
            _ => FilterOutcome::Ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn substring_beats_fuzzy_and_order_matters() {
        assert_eq!(
            match_query("eng engineering", "gin"),
            Some(MatchKind::Substring)
        );
        assert_eq!(
            match_query("eng engineering", "egr"),
            Some(MatchKind::Fuzzy)
        );
        assert_eq!(match_query("eng engineering", "rge"), None);
        assert_eq!(match_query("abc", "abcd"), None);
        assert_eq!(match_query("anything", ""), Some(MatchKind::Substring));
        assert_eq!(match_query("café crème", "éè"), Some(MatchKind::Fuzzy));
        // 'é' is C3 A9; 'ã' + '©' hold those bytes in two different chars.
        assert_eq!(match_query("ã©", "é"), None);
    }

    #[test]
    fn typing_editing_and_leaving_the_field() {
        let mut f = FilterInput::default();
        f.focus();
        assert_eq!(
            f.handle_key(&key(KeyCode::Char('a'))),
            FilterOutcome::Changed
        );
        assert_eq!(
            f.handle_key(&key(KeyCode::Char('b'))),
            FilterOutcome::Changed
        );
        assert_eq!(
            f.handle_key(&key(KeyCode::Backspace)),
            FilterOutcome::Changed
        );
        assert_eq!(f.text(), "a");
        assert_eq!(f.handle_key(&key(KeyCode::Enter)), FilterOutcome::Kept);
        assert!(!f.is_focused());
        assert!(f.is_active(), "Enter keeps the filter");
        f.focus();
        assert_eq!(f.handle_key(&key(KeyCode::Esc)), FilterOutcome::Cleared);
        assert!(!f.is_focused() && !f.is_active(), "Esc clears and leaves");
        let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
        f.focus();
        f.handle_key(&key(KeyCode::Char('x')));
        assert_eq!(f.handle_key(&ctrl_u), FilterOutcome::Changed);
        assert_eq!(f.text(), "");
    }
}
