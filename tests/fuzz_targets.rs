//! Fuzz targets as proptest runs. `cargo test --test fuzz_targets` runs each
//! target for `FUZZ_CASES` cases (default 256); the `#[ignore]`d `long_*`
//! tests run one target for `FUZZ_SECONDS` (default 60), seed after seed:
//! `scripts/fuzz.sh` drives them in release mode. See `docs/robustness.md`.

mod fuzz;

use fuzz::runner::{self, Budget};
use fuzz::{audit, classify, cookies, vault};

fn cookie_parser(budget: &Budget) {
    runner::run(
        "cookie_parser",
        budget,
        cookies::strategy(),
        cookies::to_bytes,
        |p| cookies::check(&p),
    );
}

fn cookie_scope(budget: &Budget) {
    runner::run(
        "cookie_scope",
        budget,
        cookies::scope_strategy(),
        cookies::scope_to_bytes,
        |c| cookies::scope_check(&c),
    );
}

#[test]
fn cookie_scope_keeps_and_sends_only_the_sites_cookies() {
    cookie_scope(&Budget::ci());
}

#[test]
#[ignore = "long fuzz run; scripts/fuzz.sh"]
fn long_cookie_scope() {
    cookie_scope(&Budget::long());
}

fn vault_reader(budget: &Budget) {
    runner::run(
        "vault_reader",
        budget,
        vault::strategy(),
        vault::to_bytes,
        |v| vault::check(&v),
    );
}

fn vault_document(budget: &Budget) {
    runner::run(
        "vault_document",
        budget,
        vault::doc_strategy(),
        vault::doc_to_bytes,
        |d| vault::check_document(&d),
    );
}

fn audit_reader(budget: &Budget) {
    runner::run(
        "audit_reader",
        budget,
        audit::strategy(),
        audit::to_bytes,
        |l| audit::check(&l),
    );
}

fn response_classifier(budget: &Budget) {
    runner::run(
        "response_classifier",
        budget,
        classify::strategy(),
        classify::to_bytes,
        |r| classify::check(&r),
    );
}

#[test]
fn cookie_parser_survives_any_paste() {
    cookie_parser(&Budget::ci());
}

#[test]
fn vault_reader_refuses_every_changed_file() {
    vault_reader(&Budget::ci());
}

#[test]
fn vault_document_reader_accepts_only_documents_of_the_right_shape() {
    vault_document(&Budget::ci());
}

#[test]
fn audit_reader_never_calls_a_changed_log_intact() {
    audit_reader(&Budget::ci());
}

#[test]
fn response_classifier_keeps_its_promises() {
    response_classifier(&Budget::ci());
}

#[test]
#[ignore = "long fuzz run; scripts/fuzz.sh"]
fn long_cookie_parser() {
    cookie_parser(&Budget::long());
}

#[test]
#[ignore = "long fuzz run; scripts/fuzz.sh"]
fn long_vault_reader() {
    vault_reader(&Budget::long());
}

#[test]
#[ignore = "long fuzz run; scripts/fuzz.sh"]
fn long_vault_document() {
    vault_document(&Budget::long());
}

#[test]
#[ignore = "long fuzz run; scripts/fuzz.sh"]
fn long_audit_reader() {
    audit_reader(&Budget::long());
}

#[test]
#[ignore = "long fuzz run; scripts/fuzz.sh"]
fn long_response_classifier() {
    response_classifier(&Budget::long());
}

/// The harness itself: a broken property is caught, shrunk and saved, so a
/// green fuzz run means something.
#[test]
fn runner_reports_a_failing_property_with_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let budget = Budget {
        cases_per_seed: 64,
        first_seed: 1,
        time: None,
        failure_dir: dir.path().to_path_buf(),
    };
    let caught = std::panic::catch_unwind(|| {
        runner::run(
            "self_test",
            &budget,
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            |v| v.clone(),
            |v| {
                proptest::prop_assert!(!v.contains(&7));
                Ok(())
            },
        )
    });
    assert!(caught.is_err(), "the broken property went unnoticed");
    let saved = std::fs::read(dir.path().join("self_test-seed-1.bin")).unwrap();
    assert_eq!(saved, vec![7], "shrunk to the minimal input");
}

/// Writes the hand-picked seed inputs of `tests/fixtures/fuzz/` (run once
/// by hand; the files are committed): hostile vault headers and damaged
/// audit logs made from real ones, and the responses that matter most.
#[test]
#[ignore = "writes fixtures; run by hand"]
fn regenerate_seed_inputs() {
    use confluence_tui::vault::format;
    let dir = fuzz::fixture_dir("vault_reader");
    std::fs::create_dir_all(&dir).unwrap();
    let hostile = [
        ("kdf-log-n-63", 63u8, 8u32, 1u32),
        ("kdf-r-huge", 14, u32::MAX, 1),
        ("kdf-2gib", 20, 16, 1),
        ("kdf-p-zero", 10, 8, 0),
    ];
    for (name, log_n, r, p) in hostile {
        let mut file = vault::base_vault().to_vec();
        file[7] = log_n;
        file[8..12].copy_from_slice(&r.to_le_bytes());
        file[12..16].copy_from_slice(&p.to_le_bytes());
        format::reseal_checksum(&mut file);
        std::fs::write(dir.join(format!("{name}.enc")), file).unwrap();
    }
    let mut flipped = vault::base_vault().to_vec();
    flipped[100] ^= 1;
    format::reseal_checksum(&mut flipped);
    std::fs::write(dir.join("ciphertext-bit-flip-resealed.enc"), flipped).unwrap();
    let base = vault::base_vault();
    std::fs::write(dir.join("truncated-header.enc"), &base[..40]).unwrap();

    let dir = fuzz::fixture_dir("audit_reader");
    std::fs::create_dir_all(&dir).unwrap();
    let log = &audit::base_log().bytes;
    std::fs::write(dir.join("torn-last-line.log"), &log[..log.len() - 30]).unwrap();
    let mut swapped: Vec<&[u8]> = log.split_inclusive(|b| *b == b'\n').collect();
    swapped.swap(2, 3);
    std::fs::write(dir.join("two-lines-swapped.log"), swapped.concat()).unwrap();
    std::fs::write(dir.join("only-newlines.log"), b"\n\n\n").unwrap();
    std::fs::write(dir.join("not-utf8.log"), [0xff, 0xfe, b'{', b'\n', 0xc3]).unwrap();

    let dir = fuzz::fixture_dir("response_classifier");
    std::fs::create_dir_all(&dir).unwrap();
    let responses = [
        (
            "captcha-403",
            403,
            vec![(
                "X-Authentication-Denied-Reason",
                "CAPTCHA_CHALLENGE; login-url=https://c.example.com/login.jsp",
            )],
            "",
        ),
        (
            "seraph-denied-200",
            200,
            vec![("X-Seraph-LoginReason", "AUTHENTICATION_DENIED")],
            "{}",
        ),
        (
            "retry-after-i64-max",
            429,
            vec![("Retry-After", "9223372036854775807")],
            "",
        ),
        (
            "retry-after-26-digits",
            503,
            vec![("Retry-After", "99999999999999999999999999")],
            "",
        ),
        (
            "login-redirect",
            302,
            vec![("Location", "/login.action?os_destination=%2F")],
            "",
        ),
        (
            "html-login-page",
            200,
            vec![("Content-Type", "text/html")],
            "<html>Log in</html>",
        ),
    ];
    for (name, status, headers, body) in responses {
        let r = classify::Response {
            status,
            headers: headers
                .into_iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect(),
            body: body.as_bytes().to_vec(),
            auth: 0,
            probe: false,
        };
        std::fs::write(dir.join(format!("{name}.json")), classify::to_bytes(&r)).unwrap();
    }
}
