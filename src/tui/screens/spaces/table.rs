//! The space browser's key tables (the footer and help come from them).

use crossterm::event::KeyCode;

use crate::tui::keys::{Action, Binding, Rank, k, special};

/// Keys of the space list.
pub(crate) const KEYS: &[Binding] = &[
    Binding {
        keys: &[special(KeyCode::Enter)],
        action: Action::Open,
        label: "pages",
        rank: Rank::Main,
        help: "list the selected space's pages",
    },
    Binding {
        keys: &[k('o')],
        action: Action::OpenInBrowser,
        label: "open",
        rank: Rank::Useful,
        help: "open the selected space in the browser",
    },
    Binding {
        keys: &[k('y')],
        action: Action::CopyUrl,
        label: "copy",
        rank: Rank::Useful,
        help: "copy the selected space's URL",
    },
    Binding {
        keys: &[k('r')],
        action: Action::Reload,
        label: "reload",
        rank: Rank::More,
        help: "list the spaces again",
    },
    Binding {
        keys: &[k('s')],
        action: Action::SortByKey,
        label: "by key",
        rank: Rank::More,
        help: "sort by key (again: reverse)",
    },
    Binding {
        keys: &[k('n')],
        action: Action::SortByName,
        label: "by name",
        rank: Rank::More,
        help: "sort by name (again: reverse)",
    },
    Binding {
        keys: &[k('d')],
        action: Action::ToggleDetails,
        label: "details",
        rank: Rank::More,
        help: "show or hide details (always beside the list when 110+ columns wide)",
    },
    Binding {
        keys: &[special(KeyCode::Esc)],
        action: Action::Back,
        label: "",
        rank: Rank::More,
        help: "clear the filter",
    },
];

/// Keys of a space's page list.
pub(crate) const PAGE_KEYS: &[Binding] = &[
    Binding {
        // A nested list: `q` and the usual back keys leave it before `q`
        // quits (Backspace only reaches here while no filter is edited).
        keys: &[
            k('q'),
            special(KeyCode::Esc),
            k('h'),
            special(KeyCode::Left),
            special(KeyCode::Backspace),
        ],
        action: Action::Back,
        label: "back",
        rank: Rank::Always,
        help: "back to the spaces (clears a filter first)",
    },
    Binding {
        keys: &[special(KeyCode::Enter), k('o')],
        action: Action::OpenInBrowser,
        label: "open",
        rank: Rank::Useful,
        help: "open the selected page in the browser",
    },
    Binding {
        keys: &[k('y')],
        action: Action::CopyUrl,
        label: "copy",
        rank: Rank::Useful,
        help: "copy the selected page's URL",
    },
    Binding {
        keys: &[k('r')],
        action: Action::Reload,
        label: "reload",
        rank: Rank::More,
        help: "list the pages again",
    },
    Binding {
        keys: &[k('n')],
        action: Action::SortByName,
        label: "by title",
        rank: Rank::More,
        help: "sort by title (again: reverse)",
    },
    Binding {
        keys: &[k('u')],
        action: Action::SortByUpdated,
        label: "by date",
        rank: Rank::More,
        help: "sort by last update, newest first (again: reverse)",
    },
    Binding {
        keys: &[k('d')],
        action: Action::ToggleDetails,
        label: "details",
        rank: Rank::More,
        help: "show or hide details (always beside the list when 110+ columns wide)",
    },
];
