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
        Err(ClipboardFailure::Empty) => ClipboardText::Text(Zeroizing::new(String::new())),
        Err(ClipboardFailure::Unavailable(why)) => ClipboardText::Unavailable(why),
    }
}

/// Puts `text` on the clipboard through `cb`; the error says why not.
pub(crate) fn write_clipboard_text(cb: &SharedClipboard, text: &str) -> Result<(), String> {
    with_clipboard(cb, |c| c.set_text(text)).map_err(|e| match e {
        ClipboardFailure::Empty => "the clipboard refused the text".to_string(),
        ClipboardFailure::Unavailable(why) => why,
    })
}

enum ClipboardFailure {
    Empty,
    Unavailable(String),
}

fn with_clipboard<T>(
    cb: &SharedClipboard,
    f: impl FnOnce(&mut arboard::Clipboard) -> Result<T, arboard::Error>,
) -> Result<T, ClipboardFailure> {
    // A panic while holding the lock leaves nothing half-written in an
    // `Option<Clipboard>`, so the poisoned value is still fine to use.
    let mut guard = cb.lock().unwrap_or_else(|p| p.into_inner());
    let clipboard = match guard.as_mut() {
        Some(c) => c,
        None => guard.insert(arboard::Clipboard::new().map_err(|e| unavailable(&e))?),
    };
    f(clipboard).map_err(|e| match e {
        arboard::Error::ContentNotAvailable => ClipboardFailure::Empty,
        other => unavailable(&other),
    })
}

/// arboard's messages are long ("Unknown error while interacting with the
/// clipboard: …"); the dialog shows the part that explains.
fn unavailable(e: &arboard::Error) -> ClipboardFailure {
    let why = match e {
        arboard::Error::Unknown { description } => description.clone(),
        arboard::Error::ClipboardNotSupported => "not supported on this system".to_string(),
        arboard::Error::ClipboardOccupied => "busy in another program; try again".to_string(),
        other => other.to_string(),
    };
    ClipboardFailure::Unavailable(why)
}

#[cfg(test)]
mod tests {
    use super::*;

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
