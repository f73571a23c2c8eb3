//! Saved fuzz inputs, replayed on every `cargo test`: each file under
//! `tests/fixtures/fuzz/<target>/` goes through the same check the fuzz
//! target applies. Inputs that once broke a property stay here for good.

mod fuzz;

use std::path::PathBuf;

use fuzz::{audit, classify, cookies, fixture_dir, vault};

/// Every saved input of a target, sorted; a target must have at least one.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fixture_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no saved inputs in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn replay(target: &str, check: impl Fn(&[u8]) -> proptest::test_runner::TestCaseResult) {
    for (path, bytes) in inputs(target) {
        if let Err(e) = check(&bytes) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn saved_cookie_pastes_still_pass() {
    replay("cookie_parser", |b| {
        cookies::check(&cookies::Paste {
            text: String::from_utf8_lossy(b).into_owned(),
            expect: None,
        })
    });
}

#[test]
fn saved_vault_files_still_pass() {
    replay("vault_reader", |b| vault::check_bytes(b, None));
}

/// Each saved vault file is refused for its own reason, exactly: the hostile
/// `kdf-*` headers by the KDF bounds (naming the parameters back), not by
/// whatever later step happens to trip over them. Every file in the
/// directory needs its entry in `vault::SAVED_REFUSALS`.
#[test]
fn saved_vault_files_get_their_exact_refusal() {
    let saved = inputs("vault_reader");
    let names: Vec<String> = saved
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut listed: Vec<&str> = vault::SAVED_REFUSALS.iter().map(|(n, _)| *n).collect();
    listed.sort();
    assert_eq!(names, listed, "saved vault files vs vault::SAVED_REFUSALS");
    for ((path, bytes), name) in saved.iter().zip(&names) {
        let (_, expected) = vault::SAVED_REFUSALS
            .iter()
            .find(|(n, _)| n == name)
            .unwrap();
        if let Err(e) = vault::check_saved(bytes, *expected) {
            panic!("{}: {e}", path.display());
        }
    }
}

#[test]
fn saved_audit_logs_still_pass() {
    replay("audit_reader", |b| audit::check_bytes(b, None));
}

#[test]
fn saved_responses_still_pass() {
    replay("response_classifier", |b| {
        let r = classify::from_bytes(b).expect("a response saved by classify::to_bytes");
        classify::check(&r)
    });
}

/// Found by the fuzzer: six or more pairs separated by `;<TAB>` looked like a
/// Netscape line (six tab-separated fields) and were refused as "no cookie".
#[test]
fn tab_separated_cookie_header_is_not_taken_for_netscape() {
    let path = fixture_dir("cookie_parser").join("tab-separated-header-taken-for-netscape.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let parsed = confluence_tui::cookies::parse::parse_cookies_at(&text, cookies::now())
        .expect("a Cookie header with tabs after `;` parses");
    assert_eq!(
        parsed.format,
        confluence_tui::cookies::parse::PasteFormat::CookieHeader
    );
    assert_eq!(parsed.jar.names(), vec!["a", "b", "c"]);
}
