//! Keys are data: one table per screen and per dialog plus the global table.
//! The footer, the `?` help and the README's keys table are generated from
//! the same tables, so they cannot drift from the real bindings.
//!
//! Tables are searched in order and the first binding of a key wins, so a
//! screen's own `o` or `q` shadows the global one; the footer and the help
//! follow the same rule and list every key once.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a key can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Quit,
    ShowStatus,
    ShowSpaces,
    ShowAudit,
    ShowPipeline,
    NextScreen,
    PrevScreen,
    PasteCookies,
    Verify,
    OpenInBrowser,
    Filter,
    Help,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    // status screen
    ClearCookies,
    EnterToken,
    ReloadSettings,
    /// First-run setup (status screen, no site set).
    SetUp,
    /// List the browser profiles to import from (status screen, paste dialog).
    ImportFromBrowser,
    // spaces screen
    Reload,
    SortByKey,
    SortByName,
    CopyUrl,
    ToggleDetails,
    SortByUpdated,
    // audit screen
    ToggleFollow,
    CycleEventFilter,
    // the demo only
    DemoEndSession,
    DemoToggleCaptcha,
    // pipeline screen
    ToggleProxy,
    CopyEnv,
    // dialogs
    Confirm,
    NextField,
    Save,
    ReadClipboard,
    Reveal,
    ClearInput,
}

/// One key (code + modifiers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

/// A plain key.
pub const fn k(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::NONE,
    }
}

/// A special key.
pub(crate) const fn special(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

/// A Ctrl+key.
pub const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
    }
}

/// How much a key deserves its place in the footer: when the footer runs
/// out of room, the lower ranks go first (`Always` before `Main` before …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// Help, quit or back: the way out, never dropped while it fits.
    Always,
    /// The screen's main actions (paste, verify, filter, pages).
    Main,
    /// Worth showing when there is room.
    Useful,
    /// Screen numbers: the header's tabs already show them.
    Screens,
    /// The rest (sorts, clear): the help lists them.
    More,
}

/// A binding: keys, action, a short footer label, its footer rank and a
/// help sentence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    /// Shown in the footer; empty to keep it out of the footer.
    pub label: &'static str,
    pub rank: Rank,
    pub help: &'static str,
}

/// Keys that work everywhere, before any dialog or text field sees them.
pub(crate) const ALWAYS: &[Binding] = &[Binding {
    keys: &[ctrl('c')],
    action: Action::Quit,
    label: "",
    rank: Rank::Always,
    help: "quit from anywhere, even a text field or a dialog",
}];

/// The mouse, as the help and the README list it (not a key: no table).
pub(crate) const MOUSE_HELP: (&str, &str) =
    ("mouse", "wheel scrolls, click selects a row or a tab");

/// Keys that work on every screen while no text field has focus.
pub(crate) const GLOBAL: &[Binding] = &[
    Binding {
        keys: &[k('1')],
        action: Action::ShowStatus,
        label: "status",
        rank: Rank::Screens,
        help: "credential status",
    },
    Binding {
        keys: &[k('2')],
        action: Action::ShowSpaces,
        label: "spaces",
        rank: Rank::Screens,
        help: "space browser",
    },
    Binding {
        keys: &[k('3')],
        action: Action::ShowAudit,
        label: "audit",
        rank: Rank::Screens,
        help: "audit log",
    },
    Binding {
        keys: &[k('4')],
        action: Action::ShowPipeline,
        label: "pipeline",
        rank: Rank::Screens,
        help: "pipeline: the proxy and its traffic",
    },
    Binding {
        keys: &[special(KeyCode::Tab)],
        action: Action::NextScreen,
        label: "",
        rank: Rank::More,
        help: "next screen",
    },
    Binding {
        keys: &[special(KeyCode::BackTab)],
        action: Action::PrevScreen,
        label: "",
        rank: Rank::More,
        help: "previous screen",
    },
    Binding {
        keys: &[k('p')],
        action: Action::PasteCookies,
        label: "paste",
        rank: Rank::Main,
        help: "paste cookies (reads the clipboard)",
    },
    Binding {
        keys: &[k('v')],
        action: Action::Verify,
        label: "verify",
        rank: Rank::Main,
        help: "verify the credentials now",
    },
    Binding {
        keys: &[k('o')],
        action: Action::OpenInBrowser,
        label: "open",
        rank: Rank::Useful,
        help: "open in the browser (the site's login page on the status screen)",
    },
    Binding {
        keys: &[k('?')],
        action: Action::Help,
        label: "help",
        rank: Rank::Always,
        help: "this help",
    },
    Binding {
        keys: &[k('q')],
        action: Action::Quit,
        label: "quit",
        rank: Rank::Always,
        help: "quit",
    },
];

/// Keys of the demo (`--demo`) only, in force on every screen: knobs of the
/// demo site, so a newcomer sees an expiry and a CAPTCHA within a minute.
pub(crate) const DEMO: &[Binding] = &[
    Binding {
        keys: &[k('x')],
        action: Action::DemoEndSession,
        label: "end session",
        rank: Rank::More,
        help: "demo: end the browser session now (cookies die)",
    },
    Binding {
        keys: &[k('X')],
        action: Action::DemoToggleCaptcha,
        label: "CAPTCHA",
        rank: Rank::More,
        help: "demo: the site demands a CAPTCHA (again: stops)",
    },
];

/// Keys while a list's filter is being typed (every other key types).
pub(crate) const FILTER: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Esc)],
        action: Action::Back,
        label: "clear",
        rank: Rank::Always,
        help: "clear the filter and stop typing",
    },
    Binding {
        keys: &[special(KeyCode::Enter)],
        action: Action::Open,
        label: "keep",
        rank: Rank::Always,
        help: "keep the filter and go back to the list keys",
    },
];

/// Movement keys shared by list screens (vim keys and arrows; mouse wheel too).
pub(crate) const LIST: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Up), k('k')],
        action: Action::Up,
        label: "",
        rank: Rank::More,
        help: "move up",
    },
    Binding {
        keys: &[special(KeyCode::Down), k('j')],
        action: Action::Down,
        label: "",
        rank: Rank::More,
        help: "move down",
    },
    Binding {
        keys: &[special(KeyCode::PageUp), ctrl('u')],
        action: Action::PageUp,
        label: "",
        rank: Rank::More,
        help: "page up",
    },
    Binding {
        keys: &[special(KeyCode::PageDown), ctrl('d')],
        action: Action::PageDown,
        label: "",
        rank: Rank::More,
        help: "page down",
    },
    Binding {
        keys: &[special(KeyCode::Home), k('g')],
        action: Action::Top,
        label: "",
        rank: Rank::More,
        help: "first",
    },
    Binding {
        keys: &[special(KeyCode::End), k('G')],
        action: Action::Bottom,
        label: "",
        rank: Rank::More,
        help: "last",
    },
    Binding {
        keys: &[k('/')],
        action: Action::Filter,
        label: "filter",
        rank: Rank::Main,
        help: "filter as you type (Esc clears)",
    },
];

/// The action bound to `ev` in `tables`, first match wins.
pub fn lookup(tables: &[&[Binding]], ev: &KeyEvent) -> Option<Action> {
    // Shifted letters arrive as uppercase chars with SHIFT, and Shift+Tab
    // as BackTab with SHIFT: compare on the code.
    let mods = if matches!(ev.code, KeyCode::Char(_) | KeyCode::BackTab) {
        ev.modifiers - KeyModifiers::SHIFT
    } else {
        ev.modifiers
    };
    tables
        .iter()
        .flat_map(|t| t.iter())
        .find(|b| {
            b.keys
                .iter()
                .any(|key| key.code == ev.code && key.mods == mods)
        })
        .map(|b| b.action)
}

/// How a key is written in the footer and help: `q`, `Tab`, `Ctrl+v`, `↑`.
pub(crate) fn key_name(key: &Key) -> String {
    let base = match key.code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "Shift+Tab".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Backspace => "Backspace".into(),
        other => format!("{other:?}"),
    };
    if key.mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl+{base}")
    } else {
        base
    }
}

/// Keys already bound by an earlier table: a later binding of the same key
/// never fires, so it is neither shown nor listed.
#[derive(Debug, Default)]
pub(crate) struct Seen(Vec<Key>);

impl Seen {
    /// The keys of `b` no earlier binding took; marks them taken.
    fn take(&mut self, b: &Binding) -> Vec<Key> {
        let fresh: Vec<Key> = b
            .keys
            .iter()
            .filter(|k| !self.0.contains(k))
            .copied()
            .collect();
        self.0.extend(fresh.iter().copied());
        fresh
    }
}

/// One footer entry: the key as written, its label and rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FooterItem {
    pub key: String,
    pub label: &'static str,
    pub rank: Rank,
    pub action: Action,
}

/// Footer entries in table order, every key once, skipping unlabelled ones.
pub(crate) fn footer_items(tables: &[&[Binding]]) -> Vec<FooterItem> {
    let mut seen = Seen::default();
    let mut out = Vec::new();
    for b in tables.iter().flat_map(|t| t.iter()) {
        let fresh = seen.take(b);
        if b.label.is_empty() {
            continue;
        }
        if let Some(key) = fresh.first() {
            out.push(FooterItem {
                key: key_name(key),
                label: b.label,
                rank: b.rank,
                action: b.action,
            });
        }
    }
    out
}

/// Which footer entries fit in `columns` (a leading space, then `key
/// label` separated by two spaces): filled by rank (table order within a
/// rank) up to the first entry that does not fit whole, shown in table
/// order. A label is never cut.
pub(crate) fn fit_footer(items: &[FooterItem], columns: usize) -> Vec<&FooterItem> {
    let width = |i: &FooterItem| super::widgets::fit::width(&i.key) + 1 + i.label.chars().count();
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items.get(i).map(|it| it.rank));
    let mut keep = vec![false; items.len()];
    let mut used = 1;
    for i in order {
        let Some(item) = items.get(i) else { continue };
        let sep = if used > 1 { 2 } else { 0 };
        if used + sep + width(item) > columns {
            break;
        }
        used += sep + width(item);
        if let Some(k) = keep.get_mut(i) {
            *k = true;
        }
    }
    items
        .iter()
        .zip(keep)
        .filter_map(|(item, k)| k.then_some(item))
        .collect()
}

/// `keys — help` entries for the help and the README, in table order, every
/// key once (`seen` carries what earlier tables took).
pub(crate) fn help_entries(table: &[Binding], seen: &mut Seen) -> Vec<(String, &'static str)> {
    table
        .iter()
        .filter_map(|b| {
            let fresh = seen.take(b);
            (!fresh.is_empty()).then(|| {
                (
                    fresh.iter().map(key_name).collect::<Vec<_>>().join(" "),
                    b.help,
                )
            })
        })
        .collect()
}

/// `Enter check and store · Esc cancel`: a dialog's labelled keys on one
/// line, for the dialog's own hint.
pub(crate) fn hint(table: &[Binding]) -> String {
    footer_items(&[table])
        .iter()
        .map(|i| format!("{} {}", i.key, i.label))
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_vim_and_arrow_keys_and_shifted_letters() {
        let down = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(lookup(&[GLOBAL, LIST], &down), Some(Action::Down));
        let arrow = KeyEvent::new(KeyCode::Down, KeyModifiers::NONE);
        assert_eq!(lookup(&[LIST], &arrow), Some(Action::Down));
        let big_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(lookup(&[LIST], &big_g), Some(Action::Bottom));
        let ctrl_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(lookup(&[GLOBAL], &ctrl_q), None);
    }

    #[test]
    fn footer_comes_from_the_tables() {
        let items = footer_items(&[GLOBAL]);
        assert!(items.iter().any(|i| i.key == "q" && i.label == "quit"));
        assert!(
            !items.iter().any(|i| i.key == "Tab"),
            "unlabelled keys stay out of the footer"
        );
    }
}
