//! The message line's sentences for what the driver could not do: short,
//! for a person, with what to do next (the URL to open or copy by hand)
//! before any reason. No launcher or library internals: those go to the
//! diagnostics log.

use super::clipboard::ClipboardProblem;

/// The browser was started for `url`.
pub(crate) fn browser_opened(url: &str) -> String {
    format!("Opened {url} in the browser")
}

/// No browser could be started for `url`: open it by hand.
pub(crate) fn browser_failed(url: &str) -> String {
    format!("No browser could be started: open {url} yourself")
}

/// `url` is on the clipboard.
pub(crate) fn copied(url: &str) -> String {
    format!("Copied {url}")
}

/// The clipboard did not take `url`: why, in two words, then the URL to
/// copy by hand (early, so the message line does not cut it off).
pub(crate) fn copy_failed(problem: &ClipboardProblem, url: &str) -> String {
    let why = match problem {
        ClipboardProblem::NoDisplay => "No clipboard (no display)",
        ClipboardProblem::Busy => "Not copied (clipboard busy)",
        ClipboardProblem::Unsupported => "No clipboard on this system",
        ClipboardProblem::Refused => "Not copied (clipboard refused)",
        ClipboardProblem::Unavailable => "Not copied (no clipboard)",
    };
    format!("{why}: {url}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:37887/wiki/spaces/SENTINEL";

    /// The URL is there whole and comes early (within the first 35
    /// columns), so an 80-column message line shows a URL of 40 or more.
    fn url_is_whole_and_early(message: &str) {
        let start = message.find(URL);
        assert!(start.is_some_and(|s| s <= 35), "{message}");
    }

    #[test]
    fn a_browser_failure_says_to_open_the_url_by_hand() {
        let m = browser_failed(URL);
        assert_eq!(
            m,
            format!("No browser could be started: open {URL} yourself")
        );
        url_is_whole_and_early(&m);
        assert_eq!(browser_opened(URL), format!("Opened {URL} in the browser"));
    }

    #[test]
    fn a_clipboard_failure_names_the_problem_in_words_and_shows_the_url() {
        let m = copy_failed(&ClipboardProblem::NoDisplay, URL);
        assert_eq!(m, format!("No clipboard (no display): {URL}"));
        url_is_whole_and_early(&m);
        for problem in [
            ClipboardProblem::Busy,
            ClipboardProblem::Unsupported,
            ClipboardProblem::Refused,
            ClipboardProblem::Unavailable,
        ] {
            let m = copy_failed(&problem, URL);
            url_is_whole_and_early(&m);
            assert!(!m.contains("Error") && !m.contains(['{', '"']), "{m}");
        }
        assert_eq!(copied(URL), format!("Copied {URL}"));
    }
}
