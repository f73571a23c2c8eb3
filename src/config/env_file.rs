//! The `.env` file's text into settings, through dotenvy, without ever
//! echoing a line: dotenvy's errors quote the offending line (or the rest of
//! the file, for a quote never closed), token and all. A failure is reported
//! by line number and setting name only. The line is found by asking dotenvy
//! itself about ever longer prefixes of the file, so its quoting rules are
//! not copied here.

use std::collections::HashMap;
use std::path::Path;

use super::ConfigError;

/// Files longer than this are not searched for the failing line (each step
/// re-parses a prefix); the error then names no line.
const MAX_LINES_SEARCHED: usize = 2_000;
/// Longest setting name shown; anything longer is more likely a pasted
/// secret than a name.
const MAX_NAME_LEN: usize = 64;

/// Parses `.env` text (a leading byte-order mark is ignored); later
/// duplicates win.
pub(super) fn parse(path: &Path, text: &str) -> Result<HashMap<String, String>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    parse_quietly(text).map_err(|failure| {
        let (line, name) = locate(text, &failure);
        ConfigError::EnvLine {
            path: path.to_path_buf(),
            line,
            name,
        }
    })
}

/// dotenvy's verdict, its error kept as text for comparison only: it may
/// quote a secret, so it never leaves this module.
fn parse_quietly(text: &str) -> Result<HashMap<String, String>, String> {
    dotenvy::from_read_iter(text.as_bytes())
        .collect::<Result<HashMap<_, _>, _>>()
        .map_err(|e| e.to_string())
}

/// The 1-based line where the logical line that fails starts, and its
/// setting name when one can be read off it.
fn locate(text: &str, failure: &str) -> (Option<usize>, Option<String>) {
    let mut ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
    if ends.last().is_none_or(|&e| e < text.len()) {
        ends.push(text.len());
    }
    if ends.len() > MAX_LINES_SEARCHED {
        return (None, None);
    }
    // Index (0-based) and byte offset of the first line of the logical line
    // being read: a prefix that parses cleanly ends between logical lines.
    let (mut first, mut first_at) = (0, 0);
    for (k, &end) in ends.iter().enumerate() {
        match parse_quietly(&text[..end]) {
            Ok(_) => (first, first_at) = (k + 1, end),
            // The same failure as the whole file: this prefix holds all of
            // the failing logical line.
            Err(e) if e == failure => {
                let line = &text[first_at..end];
                return (Some(first + 1), setting_name(line).map(str::to_string));
            }
            // A quote still open at the end of this prefix.
            Err(_) => {}
        }
    }
    (None, None)
}

/// `NAME` of a line `[export ]NAME=…`, when it looks like a setting name.
fn setting_name(line: &str) -> Option<&str> {
    let rest = line.trim_start();
    let rest = rest
        .strip_prefix("export")
        .filter(|r| r.starts_with([' ', '\t']))
        .map_or(rest, str::trim_start);
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(end);
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= MAX_NAME_LEN
        && after.trim_start().starts_with('=');
    is_name.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "SENTINELsecretV4lu3";

    fn failure(text: &str) -> (Option<usize>, Option<String>) {
        match parse(Path::new(".env"), text) {
            Err(ConfigError::EnvLine { line, name, .. }) => (line, name),
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn good_files_parse_with_later_duplicates_winning() {
        let map = parse(
            Path::new(".env"),
            "\u{feff}A=1\n# c\n\nexport B='x y'\nC=\"multi\nline\"\nA=2",
        )
        .unwrap();
        assert_eq!(map["A"], "2");
        assert_eq!(map["B"], "x y");
        assert_eq!(map["C"], "multi\nline");
    }

    #[test]
    fn a_failure_names_the_line_and_setting_and_never_the_value() {
        let cases = [
            (format!("A=1\n\nTOKEN={SECRET} x\n"), 3, Some("TOKEN")),
            (
                format!("A=1\r\nexport  TOKEN = {SECRET} x"),
                2,
                Some("TOKEN"),
            ),
            (
                format!("A='a\nb'\nTOKEN=\"{SECRET}\\q\"\n"),
                3,
                Some("TOKEN"),
            ),
            // A quote never closed: the line where it opened.
            (
                format!("A=1\nTOKEN=\"{SECRET}\nB=2\nC=3\n"),
                2,
                Some("TOKEN"),
            ),
            (format!("A=1\n {SECRET} x\n"), 2, None),
            (format!("9TOKEN={SECRET}\n"), 1, None),
            (format!("A=1\n{}={SECRET} x\n", "N".repeat(65)), 2, None),
        ];
        for (text, line, name) in cases {
            let err = parse(Path::new(".env"), &text).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(SECRET), "{shown}");
            assert_eq!(
                failure(&text),
                (Some(line), name.map(str::to_string)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_message_reads_file_line_setting() {
        let err = parse(Path::new("/x/.env"), &format!("A=1\nTOKEN={SECRET} x\n")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("/x/.env line 2 (TOKEN): cannot be parsed"),
            "{text}"
        );
    }

    #[test]
    fn a_huge_file_is_not_searched() {
        let text = format!("{}TOKEN={SECRET} x\n", "A=1\n".repeat(MAX_LINES_SEARCHED));
        assert_eq!(failure(&text), (None, None));
        assert!(
            !parse(Path::new(".env"), &text)
                .unwrap_err()
                .to_string()
                .contains(SECRET)
        );
    }
}
