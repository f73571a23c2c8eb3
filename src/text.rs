//! Text that came from elsewhere (a server, the audit log) made safe to show
//! on a terminal: the one function every human output goes through.
//!
//! A space name, a page title, a display name, an error body or a login URL
//! is whatever the server sent. Printed raw, `ESC[2J` clears the screen,
//! `ESC]0;…BEL` retitles the window, a C1 `CSI` (U+009B) starts an escape
//! sequence on terminals that honour 8-bit controls, and a bidi override
//! (U+202E) makes the rest of a line read backwards. [`for_terminal`] turns
//! every such character into a visible escape and leaves the rest alone, so
//! the reader sees what the server sent without the terminal obeying it.
//!
//! Neutralise at the output boundary (the line printed, the span drawn), not
//! when the data arrives: JSON output and stored values stay exact.

use std::borrow::Cow;

/// The text as a terminal may show it on one line.
///
/// Escaped, everything else unchanged:
/// - every C0 control U+0000–U+001F (ESC, BEL, CR, and also TAB and LF: the
///   text is shown on one line, so a line break is the server's doing and
///   would let it forge a line of ours) and DEL U+007F, as `\xHH` (`\x1b`);
/// - every C1 control U+0080–U+009F, as `\u{HH}` (`\u{9b}`);
/// - the Unicode bidi controls — embeddings and overrides U+202A–U+202E,
///   isolates U+2066–U+2069, and the marks U+200E, U+200F, U+061C — as
///   `\u{HHHH}` (`\u{202e}`).
///
/// A backslash is not doubled: the result is for people, not to be parsed
/// back (JSON output keeps the exact text). Nothing to escape: borrowed.
pub(crate) fn for_terminal(s: &str) -> Cow<'_, str> {
    let Some(first) = s.find(needs_escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Whether `c` must not reach a terminal as itself.
fn needs_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{61c}')
}

fn push_escaped(out: &mut String, c: char) {
    use std::fmt::Write as _;
    if !needs_escape(c) {
        out.push(c);
    } else if c <= '\u{7f}' {
        let _ = write!(out, "\\x{:02x}", u32::from(c));
    } else {
        let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        for s in [
            "",
            "Analytics 0000",
            "Ünïcödé ✓ 日本語",
            "C:\\path",
            "a\u{a0}b",
        ] {
            assert!(
                matches!(for_terminal(s), Cow::Borrowed(b) if b == s),
                "{s:?}"
            );
        }
    }

    #[test]
    fn terminal_sequences_become_visible_escapes() {
        assert_eq!(for_terminal("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(for_terminal("\x1b]0;pwned\x07"), "\\x1b]0;pwned\\x07");
        assert_eq!(for_terminal("bell\x07"), "bell\\x07");
        assert_eq!(for_terminal("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(for_terminal("x\u{80}y\u{9f}"), "x\\u{80}y\\u{9f}");
        assert_eq!(for_terminal("del\x7f"), "del\\x7f");
        assert_eq!(for_terminal("\0"), "\\x00");
    }

    #[test]
    fn line_breaks_and_tabs_are_escaped_on_one_line() {
        assert_eq!(
            for_terminal("one\r\ntwo\tthree"),
            "one\\x0d\\x0atwo\\x09three"
        );
    }

    #[test]
    fn bidi_controls_are_escaped() {
        assert_eq!(for_terminal("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(
            for_terminal("\u{202a}\u{202b}\u{202c}\u{202d}"),
            "\\u{202a}\\u{202b}\\u{202c}\\u{202d}"
        );
        assert_eq!(
            for_terminal("\u{2066}\u{2067}\u{2068}\u{2069}"),
            "\\u{2066}\\u{2067}\\u{2068}\\u{2069}"
        );
        assert_eq!(
            for_terminal("\u{200e}\u{200f}\u{61c}"),
            "\\u{200e}\\u{200f}\\u{61c}"
        );
        // Neighbours of the ranges are ordinary text.
        assert_eq!(
            for_terminal("\u{2029}\u{202f}\u{2065}\u{206a}\u{a0}"),
            "\u{2029}\u{202f}\u{2065}\u{206a}\u{a0}"
        );
    }

    fn forbidden(c: char) -> bool {
        c.is_control() || needs_escape(c)
    }

    proptest! {
        #[test]
        fn output_never_holds_a_control_character(s in any::<String>()) {
            let out = for_terminal(&s);
            prop_assert!(!out.chars().any(forbidden), "{out:?}");
            prop_assert!(!out.bytes().any(|b| b < 0x20 || b == 0x7f));
            // Text without anything to escape comes back as it was.
            if !s.chars().any(needs_escape) {
                prop_assert_eq!(out.as_ref(), s.as_str());
            }
        }

        #[test]
        fn hostile_mixtures_are_neutralised(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("\x1b[2J".to_string()),
                    Just("\x1b]0;pwned\x07".to_string()),
                    Just("\u{9b}".to_string()),
                    Just("\u{202e}".to_string()),
                    "[a-z ]{0,5}",
                ],
                0..8,
            )
        ) {
            let s = parts.concat();
            let out = for_terminal(&s);
            prop_assert!(!out.chars().any(forbidden), "{out:?}");
        }
    }
}
