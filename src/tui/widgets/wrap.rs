//! Text wrapped to the columns it has, between words: a line never ends in
//! the middle of a word (only a word longer than a whole line is cut), and
//! the lines after the first can hang under the first one's text.

use super::fit::width;

/// `text` in lines of at most `columns` columns, broken between words.
pub(crate) fn wrap(text: &str, columns: usize) -> Vec<String> {
    hanging(text, columns, 0)
}

/// `text` wrapped to `columns`; its leading spaces start the first line
/// and every later line starts with `indent` spaces (a hanging indent).
pub(crate) fn hanging(text: &str, columns: usize, indent: usize) -> Vec<String> {
    let columns = columns.max(1);
    // An indent that leaves no room for a word is no indent.
    let indent = if indent * 2 > columns { 0 } else { indent };
    let lead = text.len() - text.trim_start_matches(' ').len();
    let mut out = Vec::new();
    let mut line = " ".repeat(lead.min(columns.saturating_sub(1)));
    let mut used = width(&line);
    let mut empty = true;
    for word in text.split_whitespace() {
        let w = width(word);
        if !empty && used + 1 + w > columns {
            out.push(std::mem::take(&mut line));
            line = " ".repeat(indent);
            used = indent;
            empty = true;
        }
        if !empty {
            line.push(' ');
            used += 1;
        }
        if used + w <= columns {
            line.push_str(word);
            used += w;
            empty = false;
            continue;
        }
        // Longer than a whole line: cut where the line ends.
        for c in word.chars() {
            let cw = width(c.encode_utf8(&mut [0u8; 4]));
            if used + cw > columns && !empty {
                out.push(std::mem::take(&mut line));
                line = " ".repeat(indent);
                used = indent;
            }
            line.push(c);
            used += cw;
            empty = false;
        }
    }
    if !empty || out.is_empty() {
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_splits_on_words_and_cuts_only_words_longer_than_a_line() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), vec![""]);
    }

    #[test]
    fn later_lines_hang_under_the_first_lines_text() {
        assert_eq!(
            hanging("   1. Press o to open the login page", 16, 6),
            vec!["   1. Press o to", "      open the", "      login page"]
        );
        // Every line keeps to the width.
        for l in hanging(
            " Delete the stored cookies? The audit log keeps a record.",
            20,
            1,
        ) {
            assert!(width(&l) <= 20, "{l:?}");
        }
    }
}
