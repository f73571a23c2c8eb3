//! The plain-text intake file: created private, read with limits, emptied by
//! overwriting before truncating.
#![cfg(unix)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use confluence_tui::cookies::intake::{
    INTAKE_HELP, IntakeError, IntakeStatus, empty_file, empty_file_reporting, ensure_intake_file,
    overwrite_with_zeros, read_paste,
};
use confluence_tui::cookies::parse::MAX_PASTE_BYTES;

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn missing_intake_file_is_created_empty_and_private() {
    let dir = temp();
    let path = dir.path().join("data/cookies/confluence_cookies.txt");
    assert_eq!(ensure_intake_file(&path).ok(), Some(IntakeStatus::Created));
    assert_eq!(fs::metadata(&path).map(|m| m.len()).ok(), Some(0));
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("data/cookies")), 0o700);
    assert_eq!(mode(&dir.path().join("data")), 0o700);
}

#[test]
fn existing_intake_file_is_reported_with_size_and_tightened() {
    let dir = temp();
    let path = dir.path().join("confluence_cookies.txt");
    fs::write(&path, "JSESSIONID=abc").unwrap_or_else(|e| panic!("{e}"));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ensure_intake_file(&path).ok(),
        Some(IntakeStatus::Exists { bytes: 14 })
    );
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        fs::read_to_string(&path).ok().as_deref(),
        Some("JSESSIONID=abc")
    );
}

#[test]
fn paste_is_read_back_exactly() {
    let dir = temp();
    let path = dir.path().join("c.txt");
    let text = "Cookie: JSESSIONID=SENTINEL-abc; é=ü\n";
    fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    let read = read_paste(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.as_str(), text);
}

#[test]
fn exactly_one_mib_is_accepted() {
    let dir = temp();
    let path = dir.path().join("c.txt");
    fs::write(&path, "a".repeat(MAX_PASTE_BYTES)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        read_paste(&path).map(|s| s.len()).ok(),
        Some(MAX_PASTE_BYTES)
    );
}

#[test]
fn too_large_file_is_refused_and_left_untouched() {
    let dir = temp();
    let path = dir.path().join("c.txt");
    let content = "b".repeat(MAX_PASTE_BYTES + 1);
    fs::write(&path, &content).unwrap_or_else(|e| panic!("{e}"));
    let e = read_paste(&path).err();
    assert!(matches!(e, Some(IntakeError::TooLarge { .. })), "{e:?}");
    let message = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("1 MiB") && message.contains("c.txt"),
        "{message}"
    );
    assert_eq!(fs::read_to_string(&path).ok(), Some(content));
}

#[test]
fn non_utf8_file_is_refused_with_a_hint() {
    let dir = temp();
    let path = dir.path().join("c.txt");
    fs::write(&path, b"JSESSIONID=\xff\xfe").unwrap_or_else(|e| panic!("{e}"));
    let e = read_paste(&path).err();
    assert!(matches!(e, Some(IntakeError::NotUtf8 { .. })), "{e:?}");
    assert!(
        e.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("UTF-8")
    );
}

#[test]
fn missing_file_is_not_found() {
    let dir = temp();
    let path = dir.path().join("nope.txt");
    assert!(matches!(
        read_paste(&path),
        Err(IntakeError::NotFound { .. })
    ));
    assert!(matches!(
        empty_file(&path),
        Err(IntakeError::NotFound { .. })
    ));
}

#[test]
fn empty_file_overwrites_every_byte_then_truncates_keeping_the_file_private() {
    let dir = temp();
    let path = dir.path().join("c.txt");
    ensure_intake_file(&path).unwrap_or_else(|e| panic!("{e}"));
    fs::write(&path, "JSESSIONID=SENTINEL-0123456789").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(empty_file_reporting(&path).ok(), Some(30));
    assert_eq!(fs::metadata(&path).map(|m| m.len()).ok(), Some(0));
    assert_eq!(mode(&path), 0o600);
    // Emptying an empty file is fine and keeps it.
    assert!(empty_file(&path).is_ok());
    assert!(path.exists());
}

#[test]
fn overwrite_with_zeros_replaces_content_with_same_length_of_zeros() {
    let dir = temp();
    let path = dir.path().join("c.txt");
    let content = "x".repeat(20_000);
    fs::write(&path, &content).unwrap_or_else(|e| panic!("{e}"));
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(overwrite_with_zeros(&mut file).ok(), Some(20_000));
    let mut bytes = Vec::new();
    fs::File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bytes.len(), 20_000);
    assert!(bytes.iter().all(|&b| b == 0));
}

#[test]
fn symlinked_intake_file_is_neither_read_nor_emptied() {
    let dir = temp();
    let target = dir.path().join("precious.txt");
    fs::write(&target, "keep me").unwrap_or_else(|e| panic!("{e}"));
    let link = dir.path().join("c.txt");
    std::os::unix::fs::symlink(&target, &link).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        empty_file(&link),
        Err(IntakeError::NotRegularFile { .. })
    ));
    assert!(matches!(
        read_paste(&link),
        Err(IntakeError::NotRegularFile { .. })
    ));
    assert!(matches!(
        ensure_intake_file(&link),
        Err(IntakeError::NotRegularFile { .. })
    ));
    assert_eq!(fs::read_to_string(&target).ok().as_deref(), Some("keep me"));
}

#[test]
fn help_text_names_every_accepted_format() {
    for needle in ["Cookie", "cURL", "cookies.txt", "JSON", "emptied"] {
        assert!(INTAKE_HELP.contains(needle), "{needle}");
    }
}
