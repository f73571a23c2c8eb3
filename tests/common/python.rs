//! A virtualenv with the third-party Confluence client the proxy tests
//! drive (`tests/pyclient/requirements.txt`), built on first use under the
//! cargo target directory: `python3 -m venv`, then `pip install` from PyPI.
//! `.ci/run` builds it before the tests; a user's first `cargo test` builds
//! it the same way. `CONFLUENCE_TUI_TEST_PYTHON` names a Python that already
//! has the client instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const REQUIREMENTS: &str = include_str!("../pyclient/requirements.txt");

/// The Python interpreter that has the client installed. Without `python3`
/// (and its `venv` module) the test is skipped outside CI, like the tmux
/// tests; under CI (`CI` set, `.ci/run` installs it) it fails instead. A
/// failing `pip install` always fails.
pub fn python_with_client() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let usable = Command::new("python3")
                .args(["-c", "import venv, ensurepip"])
                .output()
                .is_ok_and(|o| o.status.success());
            if !usable && std::env::var_os("CONFLUENCE_TUI_TEST_PYTHON").is_none() {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "CI must install python3 and python3-venv"
                );
                eprintln!("skipped: python3 with its venv module is not installed");
                return None;
            }
            Some(build())
        })
        .clone()
}

/// The directory of the test scripts (`tests/pyclient/`).
pub fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pyclient")
}

fn build() -> PathBuf {
    if let Some(p) = std::env::var_os("CONFLUENCE_TUI_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("py-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(REQUIREMENTS) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "python3 -m venv (install python3 and python3-venv)",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(scripts().join("requirements.txt")),
        "pip install -r tests/pyclient/requirements.txt (needs PyPI)",
    );
    std::fs::write(&stamp, REQUIREMENTS).expect("write the venv stamp");
    python
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
