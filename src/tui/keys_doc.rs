//! The README's keys table, generated from the same tables as the key
//! handling, the footer and the help (a test keeps the README in step).

use super::keys::{self, Binding, Seen};
use super::screens;

/// Where each table is in force, in the order the README lists them.
fn sections() -> Vec<(&'static str, &'static [Binding])> {
    vec![
        ("everywhere", keys::ALWAYS),
        ("every screen (no text field focused)", keys::GLOBAL),
        (
            "lists: spaces, pages, audit log, the pipeline's requests",
            keys::LIST,
        ),
        ("while typing a list's filter (`/`)", keys::FILTER),
        ("status", screens::status::KEYS),
        ("status, while no site is set", screens::status::SETUP_KEYS),
        (
            "status (ranked last in the footer)",
            screens::status::BROWSER_KEYS,
        ),
        ("spaces", screens::spaces::KEYS),
        ("pages of a space", screens::spaces::PAGE_KEYS),
        ("audit log", screens::audit::KEYS),
        ("pipeline, proxy off", screens::pipeline::IDLE_KEYS),
        ("pipeline, proxy running", screens::pipeline::KEYS),
        ("paste dialog", screens::paste::KEYS),
        (
            "paste dialog, while its text is empty",
            screens::paste::EMPTY_KEYS,
        ),
        (
            "browser profiles dialog (`b`, `Ctrl+b`)",
            screens::browsers::KEYS,
        ),
        ("token dialog", screens::token::KEYS),
        ("clear confirmation", screens::confirm::KEYS),
        ("help (`?`)", screens::help::KEYS),
        ("the demo (`--demo`) only", keys::DEMO),
    ]
}

/// The keys table in Markdown, one row per binding, plus the mouse.
pub fn readme_table() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("| where | keys | what they do |\n|---|---|---|\n");
    for (where_, table) in sections() {
        // Within one table every key is listed once.
        let mut seen = Seen::default();
        for (i, (keys, help)) in keys::help_entries(table, &mut seen).iter().enumerate() {
            let keys: Vec<String> = keys.split(' ').map(|k| format!("`{k}`")).collect();
            let place = if i == 0 { where_ } else { "" };
            out.push_str(&format!(
                "| {place} | {} | {} |\n",
                cell(&keys.join(" ")),
                cell(help)
            ));
        }
    }
    let (mouse, help) = keys::MOUSE_HELP;
    out.push_str(&format!("| lists and the header | {mouse} | {help} |\n"));
    out
}
