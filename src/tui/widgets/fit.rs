//! Text cut to the columns it has: a cut always ends with `…`, so a cut
//! never reads as a whole value (a port `:3788` that was `:37887`).

use ratatui::text::{Line, Span};

/// Columns `text` takes on a terminal.
pub(crate) fn width(text: &str) -> usize {
    Span::raw(text).width()
}

/// `text` in at most `columns` columns; when cut, it ends with `…`.
pub(crate) fn fit_str(text: &str, columns: usize) -> String {
    if width(text) <= columns {
        return text.to_string();
    }
    if columns == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let w = width(c.encode_utf8(&mut buf));
        if used + w > columns - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push('…');
    out
}

/// `line` in at most `columns` columns, its styles kept; when cut, the last
/// span kept ends with `…`.
pub(crate) fn fit_line(line: Line<'_>, columns: usize) -> Line<'static> {
    let style = line.style;
    let alignment = line.alignment;
    let total: usize = line.spans.iter().map(Span::width).sum();
    let mut spans = Vec::new();
    if total <= columns {
        spans.extend(
            line.spans
                .into_iter()
                .map(|s| Span::styled(s.content.into_owned(), s.style)),
        );
    } else {
        let mut room = columns;
        for s in line.spans {
            let w = s.width();
            if w < room {
                room -= w;
                spans.push(Span::styled(s.content.into_owned(), s.style));
                continue;
            }
            // This span reaches the edge: it takes the ellipsis.
            spans.push(Span::styled(fit_str(&s.content, room), s.style));
            break;
        }
    }
    let mut out = Line::from(spans).style(style);
    out.alignment = alignment;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_fits_is_kept_whole() {
        assert_eq!(fit_str("127.0.0.1:37887/wiki", 20), "127.0.0.1:37887/wiki");
    }

    #[test]
    fn a_cut_ends_with_an_ellipsis_and_keeps_to_the_width() {
        let cut = fit_str("127.0.0.1:37887/wiki", 14);
        assert_eq!(cut, "127.0.0.1:378…");
        assert_eq!(width(&cut), 14);
        assert_eq!(fit_str("abc", 1), "…");
        assert_eq!(fit_str("abc", 0), "");
        // Wide characters count double and are never split.
        assert_eq!(fit_str("日本語です", 6), "日本…");
    }

    #[test]
    fn a_line_is_cut_in_its_last_visible_span() {
        let line = Line::from(vec![
            Span::raw("Site "),
            Span::raw("https://example.net/wiki"),
        ]);
        let cut = fit_line(line, 12);
        let text: String = cut.spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "Site https:…");
        let whole = fit_line(Line::raw("short"), 12);
        assert_eq!(whole.spans[0].content, "short");
    }
}
