//! The system clipboard through `arboard`, as the driver uses it: one
//! clipboard kept alive (on X11 what we copy lives as long as its owner),
//! created on first use, and every failure turned into words for the UI.

use std::sync::Mutex;

use zeroize::Zeroizing;

use super::app::ClipboardText;

/// A lazily created clipboard shared by the driver's effects.
pub(crate) type SharedClipboard = Mutex<Option<arboard::Clipboard>>;

/// Reads the clipboard's text with a clipboard of its own (tests, one-offs).
pub fn read_clipboard_text() -> ClipboardText {
    read_clipboard_text_with(&Mutex::new(None))
}

/// Reads the clipboard's text through `cb`, creating it on first use.
///
/// A clipboard that holds no text answers `Text("")`: the clipboard is there,
/// only empty, and the dialog says so differently from "no clipboard".
pub(crate) fn read_clipboard_text_with(cb: &SharedClipboard) -> ClipboardText {
    match with_clipboard(cb, |c| c.get_text()) {
        Ok(t) => ClipboardText::Text(Zeroizing::new(t)),
        Err(Failure::Empty) => ClipboardText::Text(Zeroizing::new(String::new())),
        Err(Failure::Problem(p)) => ClipboardText::Unavailable(p.reason().to_string()),
    }
}

/// Puts `text` on the clipboard through `cb`; the error says why not.
pub(crate) fn write_clipboard_text(
    cb: &SharedClipboard,
    text: &str,
) -> Result<(), ClipboardProblem> {
    with_clipboard(cb, |c| c.set_text(text)).map_err(|e| match e {
        Failure::Empty => ClipboardProblem::Refused,
        Failure::Problem(p) => p,
    })
}

/// Why the clipboard could not be used, in words a person can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClipboardProblem {
    /// No display server to hold a clipboard (SSH, a console, a container).
    NoDisplay,
    /// Another program holds the clipboard.
    Busy,
    /// This system has no clipboard arboard can reach.
    Unsupported,
    /// The clipboard answered but did not take the text.
    Refused,
    /// Anything else (the details go to the diagnostics log).
    Unavailable,
}

impl ClipboardProblem {
    /// A few words for the message line and the paste dialog.
    pub fn reason(self) -> &'static str {
        match self {
            ClipboardProblem::NoDisplay => "no display",
            ClipboardProblem::Busy => "busy in another program; try again",
            ClipboardProblem::Unsupported => "not supported on this system",
            ClipboardProblem::Refused => "the clipboard refused the text",
            ClipboardProblem::Unavailable => "the clipboard did not answer",
        }
    }
}

enum Failure {
    Empty,
    Problem(ClipboardProblem),
}

fn with_clipboard<T>(
    cb: &SharedClipboard,
    f: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>,
) -> Result<T, Failure> {
    // A panic while holding the lock leaves nothing half-written in an
    // `Option<Clipboard>`, so the poisoned value is still fine to use.
    let mut guard = cb.lock().unwrap_or_else(|p| p.into_inner());
    let clipboard = match guard.as_mut() {
        Some(c) => c,
        None => guard.insert(arboard::Clipboard::new().map_err(|e| problem(&e))?),
    };
    f(clipboard).map_err(|e| match e {
        arboard::Error::ContentNotAvailable => Failure::Empty,
        other => problem(&other),
    })
}

/// arboard's messages are long and about its internals ("Unknown error
/// while interacting with the clipboard: X11 server connection timed out
/// because it was unreachable"): they go to the diagnostics log, and the
/// user reads the problem in a word.
fn problem(e: &arboard::Error) -> Failure {
    tracing::info!(error = %e, "clipboard unavailable");
    Failure::Problem(classify(e, display_configured()))
}

/// Whether a display server is named in the environment (X11 or Wayland).
/// Elsewhere than on Linux and the BSDs the clipboard needs none.
fn display_configured() -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
}

/// What an arboard error means for the user; `display` says whether a
/// display server is named in the environment.
pub(crate) fn classify(e: &arboard::Error, display: bool) -> ClipboardProblem {
    match e {
        arboard::Error::ClipboardOccupied => ClipboardProblem::Busy,
        arboard::Error::ClipboardNotSupported => ClipboardProblem::Unsupported,
        arboard::Error::ContentNotAvailable | arboard::Error::ConversionFailure => {
            ClipboardProblem::Refused
        }
        _ if !display => ClipboardProblem::NoDisplay,
        arboard::Error::Unknown { description } => {
            let d = description.to_ascii_lowercase();
            // A display that is named but does not answer is no display.
            if ["x11", "display", "wayland", "connection"]
                .iter()
                .any(|w| d.contains(w))
            {
                ClipboardProblem::NoDisplay
            } else {
                ClipboardProblem::Unavailable
            }
        }
        _ => ClipboardProblem::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arboard_errors_read_as_a_few_words() {
        let x11 = arboard::Error::Unknown {
            description: "X11 server connection timed out because it was unreachable".into(),
        };
        assert_eq!(classify(&x11, true), ClipboardProblem::NoDisplay);
        assert_eq!(classify(&x11, false), ClipboardProblem::NoDisplay);
        let odd = arboard::Error::Unknown {
            description: "something else".into(),
        };
        assert_eq!(classify(&odd, true), ClipboardProblem::Unavailable);
        assert_eq!(classify(&odd, false), ClipboardProblem::NoDisplay);
        assert_eq!(
            classify(&arboard::Error::ClipboardOccupied, false),
            ClipboardProblem::Busy
        );
        assert_eq!(ClipboardProblem::NoDisplay.reason(), "no display");
    }

    #[test]
    fn no_display_reads_as_unavailable_with_a_reason() {
        // Only meaningful where no display server is reachable; elsewhere the
        // X11 test in tests/clipboard_x11.rs covers the other branch.
        if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
            return;
        }
        match read_clipboard_text() {
            ClipboardText::Unavailable(why) => assert!(!why.is_empty()),
            ClipboardText::Text(_) => panic!("a clipboard answered without a display"),
        }
    }
}
