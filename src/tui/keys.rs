//! Keys are data: one table per screen plus the global table. The footer and
//! the `?` help are generated from the same tables, so they cannot drift from
//! the real bindings.

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
    // paste dialog
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

/// A binding: keys, action, a short footer label and a help sentence.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    /// Shown in the footer; empty to keep it out of the footer.
    pub label: &'static str,
    pub help: &'static str,
}

/// Keys that work on every screen while no text field has focus.
pub(crate) const GLOBAL: &[Binding] = &[
    Binding {
        keys: &[k('1')],
        action: Action::ShowStatus,
        label: "status",
        help: "credential status",
    },
    Binding {
        keys: &[k('2')],
        action: Action::ShowSpaces,
        label: "spaces",
        help: "space browser",
    },
    Binding {
        keys: &[k('3')],
        action: Action::ShowAudit,
        label: "audit",
        help: "audit log",
    },
    Binding {
        keys: &[k('4')],
        action: Action::ShowPipeline,
        label: "pipeline",
        help: "pipeline: the proxy and its traffic",
    },
    Binding {
        keys: &[special(KeyCode::Tab)],
        action: Action::NextScreen,
        label: "",
        help: "next screen",
    },
    Binding {
        keys: &[k('p')],
        action: Action::PasteCookies,
        label: "paste",
        help: "paste cookies (reads the clipboard)",
    },
    Binding {
        keys: &[k('v')],
        action: Action::Verify,
        label: "verify",
        help: "verify the credentials now",
    },
    Binding {
        keys: &[k('o')],
        action: Action::OpenInBrowser,
        label: "open",
        help: "open in the browser (the site's login page on the status screen)",
    },
    Binding {
        keys: &[k('?')],
        action: Action::Help,
        label: "help",
        help: "this help",
    },
    Binding {
        keys: &[k('q')],
        action: Action::Quit,
        label: "quit",
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
        help: "demo: end the browser session now (cookies die)",
    },
    Binding {
        keys: &[k('X')],
        action: Action::DemoToggleCaptcha,
        label: "CAPTCHA",
        help: "demo: the site demands a CAPTCHA (again: stops)",
    },
];

/// Movement keys shared by list screens (vim keys and arrows; mouse wheel too).
pub(crate) const LIST: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Up), k('k')],
        action: Action::Up,
        label: "",
        help: "move up",
    },
    Binding {
        keys: &[special(KeyCode::Down), k('j')],
        action: Action::Down,
        label: "",
        help: "move down",
    },
    Binding {
        keys: &[special(KeyCode::PageUp), ctrl('u')],
        action: Action::PageUp,
        label: "",
        help: "page up",
    },
    Binding {
        keys: &[special(KeyCode::PageDown), ctrl('d')],
        action: Action::PageDown,
        label: "",
        help: "page down",
    },
    Binding {
        keys: &[special(KeyCode::Home), k('g')],
        action: Action::Top,
        label: "",
        help: "first",
    },
    Binding {
        keys: &[special(KeyCode::End), k('G')],
        action: Action::Bottom,
        label: "",
        help: "last",
    },
    Binding {
        keys: &[k('/')],
        action: Action::Filter,
        label: "filter",
        help: "filter as you type (Esc clears)",
    },
];

/// The action bound to `ev` in `tables`, first match wins.
pub fn lookup(tables: &[&[Binding]], ev: &KeyEvent) -> Option<Action> {
    // Shifted letters arrive as uppercase chars with SHIFT; compare on the char.
    let mods = if matches!(ev.code, KeyCode::Char(_)) {
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
        KeyCode::Backspace => "Bksp".into(),
        other => format!("{other:?}"),
    };
    if key.mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl+{base}")
    } else {
        base
    }
}

/// `key label` pairs for the footer, in table order, skipping unlabelled ones.
pub(crate) fn footer_items(tables: &[&[Binding]]) -> Vec<(String, &'static str)> {
    tables
        .iter()
        .flat_map(|t| t.iter())
        .filter(|b| !b.label.is_empty())
        .filter_map(|b| b.keys.first().map(|key| (key_name(key), b.label)))
        .collect()
}

/// `keys — help` lines for the help overlay.
pub(crate) fn help_lines(table: &[Binding]) -> Vec<(String, &'static str)> {
    table
        .iter()
        .map(|b| {
            (
                b.keys.iter().map(key_name).collect::<Vec<_>>().join(" "),
                b.help,
            )
        })
        .collect()
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
        assert!(items.contains(&("q".to_string(), "quit")));
        assert!(
            !items.iter().any(|(k, _)| k == "Tab"),
            "unlabelled keys stay out of the footer"
        );
    }
}
