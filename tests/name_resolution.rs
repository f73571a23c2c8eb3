//! A site whose host name does not resolve is asked once, not five times:
//! asking again does not make a name resolve. The command exits 5 at once,
//! naming the host and the setting to check.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// `.invalid` never resolves (RFC 6761).
const HOST: &str = "confluence.example.invalid";

#[test]
fn a_host_name_that_does_not_resolve_is_asked_once_and_exits_5() {
    let sb = Sandbox::new();
    for args in [&["check"][..], &["spaces"]] {
        let mut c = sb.cmd();
        c.env("CONFLUENCE_BASE_URL", format!("https://{HOST}/wiki"))
            .env("CONFLUENCE_USERNAME", "someone@example.com")
            .env("CONFLUENCE_API_TOKEN", "some-token");
        let started = Instant::now();
        let out = c.args(args).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {err}");
        assert!(err.contains(HOST), "{err}");
        assert!(err.contains("CONFLUENCE_BASE_URL"), "{err}");
        // Every retry is announced on stderr ("waiting … before attempt 2").
        assert!(
            !err.contains("before attempt"),
            "tried more than once:\n{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}
