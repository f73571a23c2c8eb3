//! No secret value in any settings error: a `.env` line dotenvy cannot parse
//! is reported by line number and setting name, and an unparsable base URL
//! without its user-info; checked through the real binary, its output and
//! every file it wrote.

mod common;

use std::path::Path;

use common::*;

const TOKEN: &str = "SENTINELenvtokenR4e5w6q7";
const PASS: &str = "SENTINELurlpasswordZ9x8";

fn scan(dir: &Path, sentinel: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let p = entry.unwrap().path();
        if p.is_dir() {
            scan(&p, sentinel);
        } else if p.file_name().is_none_or(|n| n != ".env") {
            let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(!text.contains(sentinel), "{} leaks:\n{text}", p.display());
        }
    }
}

/// Runs `cookies status` in a sandbox whose `.env` is `env_file`; returns
/// the exit code and everything printed.
fn status_with_env_file(env_file: &str, extra: &[(&str, &str)]) -> (Sandbox, Option<i32>, String) {
    let sb = Sandbox::new();
    std::fs::write(sb.dir.path().join(".env"), env_file).unwrap();
    let mut c = sb.cmd_without_site();
    c.env("RUST_LOG", "trace").args(["cookies", "status"]);
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    (sb, out.status.code(), printed)
}

#[test]
fn an_unparsable_env_line_is_named_by_line_and_setting_never_by_value() {
    let cases = [
        // A value with an unquoted space.
        (
            format!(
                "CONFLUENCE_BASE_URL=https://x.atlassian.net/wiki\n# the token\nCONFLUENCE_API_TOKEN={TOKEN} and more\nCONFLUENCE_USERNAME=me@example.com\n"
            ),
            "line 3",
            Some("CONFLUENCE_API_TOKEN"),
        ),
        // A quote opened and never closed runs to the end of the file.
        (
            format!(
                "CONFLUENCE_USERNAME=me@example.com\n\nexport CONFLUENCE_API_TOKEN=\"{TOKEN}\nCONFLUENCE_AUTH=basic\n"
            ),
            "line 3",
            Some("CONFLUENCE_API_TOKEN"),
        ),
        // A bad escape inside quotes.
        (
            format!("CONFLUENCE_API_TOKEN=\"{TOKEN}\\q\"\n"),
            "line 1",
            Some("CONFLUENCE_API_TOKEN"),
        ),
        // No setting name at all: the token pasted alone on a line.
        (
            format!("CONFLUENCE_USERNAME=me@example.com\n {TOKEN} x\n"),
            "line 2",
            None,
        ),
        // A name that is not a name.
        (format!("1BAD={TOKEN}\n"), "line 1", None),
    ];
    for (env_file, line, name) in cases {
        let (sb, code, printed) = status_with_env_file(&env_file, &[]);
        assert_eq!(code, Some(2), "a settings error: {printed}");
        assert!(!printed.contains(TOKEN), "printed the token:\n{printed}");
        assert!(
            printed.contains(&format!(".env {line}")),
            "names {line}: {printed}"
        );
        match name {
            Some(n) => assert!(printed.contains(&format!("({n})")), "names {n}: {printed}"),
            None => assert!(
                printed.contains(&format!(".env {line}: ")),
                "no name guessed: {printed}"
            ),
        }
        assert!(printed.contains("cannot be parsed"), "{printed}");
        scan(sb.dir.path(), TOKEN);
    }
}

#[test]
fn an_unparsable_base_url_is_shown_without_its_user_info() {
    let urls = [
        format!("https://admin:{PASS}@confluence.example.com:99999/wiki"),
        format!("https://admin:{PASS}@conf luence.example.com/"),
        format!("https://admin:{PASS}@[::1/"),
        format!("https://admin:p/{PASS}@confluence.example.com:99999/"),
        format!("admin:{PASS}@confluence.example.com"),
        format!("https://{PASS}@confluence.example.com:x/"),
    ];
    for url in &urls {
        for via_env in [false, true] {
            let sb = Sandbox::new();
            let mut c = sb.cmd();
            c.env("RUST_LOG", "trace");
            if via_env {
                c.env("CONFLUENCE_BASE_URL", url);
            } else {
                c.args(["--base-url", url]);
            }
            let out = c.args(["cookies", "status"]).output().unwrap();
            let printed = format!("{}{}", stdout(&out), stderr(&out));
            assert_eq!(out.status.code(), Some(2), "{url}: {printed}");
            assert!(!printed.contains(PASS), "{url} printed:\n{printed}");
            assert!(
                printed.contains("CONFLUENCE_BASE_URL"),
                "names the setting: {printed}"
            );
            scan(sb.dir.path(), PASS);
        }
    }
    // Through a .env file too.
    let (sb, code, printed) =
        status_with_env_file(&format!("CONFLUENCE_BASE_URL={}\n", urls[0]), &[]);
    assert_eq!(code, Some(2), "{printed}");
    assert!(!printed.contains(PASS), "{printed}");
    assert!(
        printed.contains("confluence.example.com:99999"),
        "the rest is shown: {printed}"
    );
    scan(sb.dir.path(), PASS);
}
