//! Writing settings into the `.env` file in use (first-run setup): each
//! setting replaces the line that defines it, or is appended; every other
//! line, comment and blank line is kept byte for byte. The file is replaced
//! atomically (a temporary file in the same directory, fsync, rename), a new
//! file is created 0600, an existing one keeps its mode, and a symbolic link
//! is never followed or replaced.
//!
//! Where a logical line starts is decided by dotenvy itself (a prefix of the
//! file that parses cleanly ends between logical lines), so a line inside a
//! multi-line quoted value is never mistaken for a setting.

use std::collections::HashMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::fsutil::{self, Access, FileFailure};

/// Why the settings could not be written. Never carries a value.
#[derive(Debug, thiserror::Error)]
pub enum EnvWriteError {
    #[error(
        "{} is a symbolic link; links are never followed or replaced here: put the real file there, or write the settings yourself",
        .0.display()
    )]
    Symlink(PathBuf),
    #[error(
        "{} is not a regular file; remove it or pass another --env-file",
        .0.display()
    )]
    NotRegular(PathBuf),
    #[error("{} belongs to another user; it was not changed", .0.display())]
    NotOwned(PathBuf),
    /// `reason` names the file, the line and the setting, never the value.
    #[error("{reason}; nothing was changed")]
    Unparsable { path: PathBuf, reason: String },
    #[error("{name} cannot hold line breaks or control characters")]
    BadValue { name: &'static str },
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// What the writer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvWritten {
    /// The file did not exist and was created (0600).
    pub created: bool,
    /// The names written, in the order given.
    pub names: Vec<&'static str>,
}

/// Sets each `(NAME, value)` in the `.env` file at `path`.
pub fn write_env_settings(
    path: &Path,
    settings: &[(&'static str, String)],
) -> Result<EnvWritten, EnvWriteError> {
    let io_err = |source: io::Error| EnvWriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    for (name, value) in settings {
        if value.chars().any(char::is_control) {
            return Err(EnvWriteError::BadValue { name });
        }
    }
    let existing = read_existing(path)?;
    let created = existing.is_none();
    let (old_text, mode) = existing.unwrap_or((String::new(), 0o600));
    if !old_text.is_empty() {
        super::env_file::parse(path, &old_text).map_err(|e| EnvWriteError::Unparsable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    let new_text = edit(&old_text, settings);
    // What is written must read back as what was asked: a quoting mistake
    // here would otherwise surface as a setting read wrong later.
    let back = super::env_file::parse(path, &new_text).map_err(|e| EnvWriteError::Unparsable {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    for (name, value) in settings {
        if back.get(*name) != Some(value) {
            return Err(io_err(io::Error::other(format!(
                "{name} would not read back as written; nothing was changed"
            ))));
        }
    }
    replace_atomically(path, new_text.as_bytes(), mode).map_err(io_err)?;
    Ok(EnvWritten {
        created,
        names: settings.iter().map(|(n, _)| *n).collect(),
    })
}

/// The file's text and mode, or `None` when it does not exist.
fn read_existing(path: &Path) -> Result<Option<(String, u32)>, EnvWriteError> {
    use std::io::Read as _;
    let mut file = match fsutil::open_no_follow(path, Access::Read) {
        Ok(f) => f,
        Err(FileFailure::Io(e)) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(FileFailure::Unsafe(fsutil::UnsafePath::Symlink { .. })) => {
            return Err(EnvWriteError::Symlink(path.to_path_buf()));
        }
        Err(FileFailure::Unsafe(_)) => return Err(EnvWriteError::NotRegular(path.to_path_buf())),
        Err(FileFailure::Io(e)) => {
            return Err(EnvWriteError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
        Err(FileFailure::TimedOut(_)) => {
            return Err(EnvWriteError::Io {
                path: path.to_path_buf(),
                source: io::Error::other("timed out"),
            });
        }
    };
    let io_err = |source: io::Error| EnvWriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(EnvWriteError::NotRegular(path.to_path_buf()));
    }
    if fsutil::check_owner(path, &meta).is_err() {
        return Err(EnvWriteError::NotOwned(path.to_path_buf()));
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io_err)?;
    Ok(Some((text, file_mode(&meta))))
}

#[cfg(unix)]
fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn file_mode(_meta: &std::fs::Metadata) -> u32 {
    0o600
}

/// Writes `bytes` to a temporary file beside `path` with `mode`, then
/// renames it over `path` (a link at `path` is replaced, never followed).
fn replace_atomically(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".env.confluence-tui.")
        .tempfile_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `text` with each setting replaced where defined, or appended.
fn edit(text: &str, settings: &[(&'static str, String)]) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let lines = physical_lines(text);
    let mut out = String::with_capacity(text.len() + 128);
    let mut written: HashMap<&str, bool> = settings.iter().map(|(n, _)| (*n, false)).collect();
    let mut i = 0;
    while i < lines.len() {
        let (start, end) = lines[i];
        let line = &text[start..end];
        let found = setting_of(line)
            .and_then(|(name, export)| {
                settings
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|s| (s, export))
            })
            // A line that only looks like a setting inside a quoted value
            // does not start a logical line.
            .filter(|_| parses(&text[..start]));
        let Some(((name, value), export)) = found else {
            out.push_str(line);
            i += 1;
            continue;
        };
        // The logical line may go on (a quoted value over several lines):
        // it ends at the first line end after which the text parses again.
        let mut last = i;
        while last + 1 < lines.len() && !parses(&text[..lines[last].1]) {
            last += 1;
        }
        let ending = line_ending(&text[lines[last].0..lines[last].1]);
        let prefix = if export { "export " } else { "" };
        out.push_str(&format!("{prefix}{name}={}{ending}", quote(value)));
        written.insert(name, true);
        i = last + 1;
    }
    for (name, value) in settings {
        if written.get(name) == Some(&true) {
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push_str(newline);
        }
        out.push_str(&format!("{name}={}{newline}", quote(value)));
    }
    out
}

/// Byte ranges of each line, its line ending included.
fn physical_lines(text: &str) -> Vec<(usize, usize)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, _) in text.match_indices('\n') {
        lines.push((start, i + 1));
        start = i + 1;
    }
    if start < text.len() {
        lines.push((start, text.len()));
    }
    lines
}

fn line_ending(line: &str) -> &'static str {
    if line.ends_with("\r\n") {
        "\r\n"
    } else if line.ends_with('\n') {
        "\n"
    } else {
        ""
    }
}

fn parses(prefix: &str) -> bool {
    dotenvy::from_read_iter(prefix.as_bytes()).all(|r| r.is_ok())
}

/// `(NAME, exported)` of a line `[export ]NAME=…`.
fn setting_of(line: &str) -> Option<(&str, bool)> {
    let rest = line.trim_start();
    let (rest, export) = match rest.strip_prefix("export") {
        Some(r) if r.starts_with([' ', '\t']) => (r.trim_start(), true),
        _ => (rest, false),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(rest.len());
    let (name, after) = rest.split_at(end);
    (!name.is_empty() && after.trim_start().starts_with('=')).then_some((name, export))
}

/// The value as dotenvy reads it back: bare when it is plain, in single
/// quotes (no escapes, no `$` expansion) otherwise, in double quotes with
/// escapes when it holds a single quote.
fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | '@' | '+' | ',')
        });
    if plain {
        value.to_string()
    } else if !value.contains('\'') {
        format!("'{value}'")
    } else {
        let mut s = String::from("\"");
        for c in value.chars() {
            if matches!(c, '\\' | '"' | '$') {
                s.push('\\');
            }
            s.push(c);
        }
        s.push('"');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "CONFLUENCE_BASE_URL";
    const USER: &str = "CONFLUENCE_USERNAME";

    fn set(url: &str) -> Vec<(&'static str, String)> {
        vec![(URL, url.to_string())]
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn an_existing_line_is_replaced_and_everything_else_kept_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        let before = "# my settings\n\nCONFLUENCE_TIMEOUT_SECS=20   # slow VPN\r\nCONFLUENCE_BASE_URL=https://old.example/wiki\nOTHER='a b'\n# trailing comment";
        std::fs::write(&path, before).unwrap();
        let done = write_env_settings(&path, &set("https://new.example/wiki")).unwrap();
        assert!(!done.created);
        assert_eq!(
            read(&path),
            before.replace("https://old.example/wiki", "https://new.example/wiki")
        );
    }

    #[test]
    fn a_missing_setting_is_appended_after_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# keep me\nA=1").unwrap();
        write_env_settings(
            &path,
            &[
                (URL, "https://x.atlassian.net/wiki".into()),
                (USER, "me@example.com".into()),
            ],
        )
        .unwrap();
        assert_eq!(
            read(&path),
            "# keep me\nA=1\nCONFLUENCE_BASE_URL=https://x.atlassian.net/wiki\nCONFLUENCE_USERNAME=me@example.com\n"
        );
    }

    #[test]
    fn export_lines_keep_export_and_every_definition_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(
            &path,
            "export CONFLUENCE_BASE_URL=https://a.example\n#CONFLUENCE_BASE_URL=https://commented.example\nCONFLUENCE_BASE_URL=https://b.example\n",
        )
        .unwrap();
        write_env_settings(&path, &set("https://c.example")).unwrap();
        assert_eq!(
            read(&path),
            "export CONFLUENCE_BASE_URL=https://c.example\n#CONFLUENCE_BASE_URL=https://commented.example\nCONFLUENCE_BASE_URL=https://c.example\n"
        );
    }

    #[test]
    fn a_look_alike_line_inside_a_quoted_value_is_not_a_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        let before = "NOTE=\"first\nCONFLUENCE_BASE_URL=https://inside.example\n\"\n";
        std::fs::write(&path, before).unwrap();
        write_env_settings(&path, &set("https://real.example")).unwrap();
        assert_eq!(
            read(&path),
            format!("{before}CONFLUENCE_BASE_URL=https://real.example\n")
        );
    }

    #[test]
    fn a_multi_line_value_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "A=1\nCONFLUENCE_BASE_URL=\"x\ny\"\nB=2\n").unwrap();
        write_env_settings(&path, &set("https://z.example")).unwrap();
        assert_eq!(
            read(&path),
            "A=1\nCONFLUENCE_BASE_URL=https://z.example\nB=2\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_new_file_is_created_0600_and_an_existing_one_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        let done = write_env_settings(&path, &set("https://x.example")).unwrap();
        assert!(done.created);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_env_settings(&path, &set("https://y.example")).unwrap();
        assert_eq!(mode(&path), 0o640);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "A=1\n").unwrap();
        let path = dir.path().join(".env");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = write_env_settings(&path, &set("https://x.example")).unwrap_err();
        assert!(matches!(err, EnvWriteError::Symlink(_)), "{err:?}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(read(&target), "A=1\n");
        assert!(std::fs::symlink_metadata(&path).unwrap().is_symlink());
    }

    #[test]
    fn values_that_need_quotes_read_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        for value in [
            "https://x.example/wiki",
            "a b",
            "a#b",
            " lead",
            "$HOME",
            "it's",
            "it's \"quoted\" $X \\ back",
            "",
            "x=y",
        ] {
            write_env_settings(&path, &[(USER, value.to_string())]).unwrap();
            let map = super::super::env_file::parse(&path, &read(&path)).unwrap();
            assert_eq!(map.get(USER).map(String::as_str), Some(value), "{value:?}");
        }
    }

    #[test]
    fn line_breaks_in_a_value_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        let err = write_env_settings(&path, &[(USER, "a\nB=1".into())]).unwrap_err();
        assert!(matches!(err, EnvWriteError::BadValue { .. }), "{err:?}");
        assert!(!path.exists());
    }

    #[test]
    fn an_unparsable_file_is_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        let before = "A=1\nTOKEN=SENTINELv4lue with space\n";
        std::fs::write(&path, before).unwrap();
        let err = write_env_settings(&path, &set("https://x.example")).unwrap_err();
        assert!(!err.to_string().contains("SENTINEL"), "{err}");
        assert!(err.to_string().contains("line 2 (TOKEN)"), "{err}");
        assert_eq!(read(&path), before);
    }
}
