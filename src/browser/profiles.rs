//! Finding profiles the way each browser does: Firefox's `profiles.ini`,
//! Chromium's `Local State` and its `Default/` directory.

use std::path::{Path, PathBuf};

use super::{BrowserError, BrowserKind, Profile};

/// The directories that hold a browser's profiles on this system.
pub(crate) fn base_dirs(kind: BrowserKind) -> Vec<PathBuf> {
    let home = dirs::home_dir();
    let config = dirs::config_dir();
    let mut dirs = Vec::new();
    let mac = cfg!(target_os = "macos");
    let support = home.as_ref().map(|h| h.join("Library/Application Support"));
    match kind {
        BrowserKind::Firefox => {
            if mac {
                dirs.extend(support.map(|s| s.join("Firefox")));
            } else {
                dirs.extend(home.as_ref().map(|h| h.join(".mozilla/firefox")));
                // Newer Firefox on Linux follows the XDG layout.
                dirs.extend(config.as_ref().map(|c| c.join("mozilla/firefox")));
                dirs.extend(
                    home.as_ref()
                        .map(|h| h.join("snap/firefox/common/.mozilla/firefox")),
                );
            }
        }
        BrowserKind::Chromium | BrowserKind::Chrome | BrowserKind::Brave | BrowserKind::Edge => {
            let (linux, macos) = match kind {
                BrowserKind::Chrome => ("google-chrome", "Google/Chrome"),
                BrowserKind::Brave => {
                    ("BraveSoftware/Brave-Browser", "BraveSoftware/Brave-Browser")
                }
                BrowserKind::Edge => ("microsoft-edge", "Microsoft Edge"),
                _ => ("chromium", "Chromium"),
            };
            if mac {
                dirs.extend(support.map(|s| s.join(macos)));
            } else {
                dirs.extend(config.as_ref().map(|c| c.join(linux)));
                if kind == BrowserKind::Chromium {
                    dirs.extend(
                        home.as_ref()
                            .map(|h| h.join("snap/chromium/common/chromium")),
                    );
                }
            }
        }
    }
    dirs
}

/// Every profile of `kind` found under its base directories; the default
/// one first.
pub(crate) fn find(kind: BrowserKind) -> Vec<Profile> {
    let mut found = Vec::new();
    for base in base_dirs(kind) {
        let dirs = match kind {
            BrowserKind::Firefox => firefox_profiles(&base),
            _ => chromium_profiles(&base),
        };
        for dir in dirs {
            if !found.iter().any(|p: &Profile| p.dir == dir) {
                found.push(Profile { kind, dir });
            }
        }
    }
    found
}

/// The default profile of `kind`, or an error naming where it was looked for.
pub(crate) fn default_profile(kind: BrowserKind) -> Result<Profile, BrowserError> {
    find(kind)
        .into_iter()
        .next()
        .ok_or_else(|| BrowserError::NoProfile {
            browser: kind.name(),
            looked_in: base_dirs(kind),
        })
}

/// The profile a `--profile PATH` names: a profile directory itself, or
/// (Chromium) the user data directory holding `Local State`, or (Firefox)
/// the directory holding `profiles.ini`.
pub(crate) fn given(kind: BrowserKind, path: &Path) -> Result<Profile, BrowserError> {
    let dir = match kind {
        BrowserKind::Firefox if path.join("profiles.ini").is_file() => {
            firefox_profiles(path).into_iter().next()
        }
        BrowserKind::Firefox => Some(path.to_path_buf()),
        _ if path.join("Local State").is_file() && !has_chromium_db(path) => {
            chromium_profiles(path).into_iter().next()
        }
        _ => Some(path.to_path_buf()),
    };
    match dir {
        Some(dir) if dir.is_dir() => Ok(Profile { kind, dir }),
        _ => Err(BrowserError::NotAProfile {
            browser: kind.name(),
            path: path.to_path_buf(),
        }),
    }
}

/// Which browser family a profile directory belongs to, from its files.
pub(crate) fn kind_of(path: &Path) -> Option<BrowserKind> {
    if path.join("cookies.sqlite").exists() || path.join("profiles.ini").is_file() {
        Some(BrowserKind::Firefox)
    } else if has_chromium_db(path) || path.join("Local State").is_file() {
        Some(BrowserKind::Chromium)
    } else {
        None
    }
}

fn has_chromium_db(dir: &Path) -> bool {
    dir.join("Network/Cookies").is_file() || dir.join("Cookies").is_file()
}

/// Firefox's profiles from `profiles.ini`: the install's default (an
/// `[Install…]` section), then the one marked `Default=1`, then the rest.
fn firefox_profiles(base: &Path) -> Vec<PathBuf> {
    let Ok(text) = read_small(&base.join("profiles.ini")) else {
        return Vec::new();
    };
    let mut install_default = None;
    let mut profiles: Vec<(PathBuf, bool)> = Vec::new();
    let mut section = String::new();
    let (mut path, mut relative, mut default) = (None::<String>, true, false);
    let mut flush = |section: &str, path: &mut Option<String>, relative: bool, default: bool| {
        if section.starts_with("Profile")
            && let Some(p) = path.take()
        {
            let dir = if relative {
                base.join(&p)
            } else {
                PathBuf::from(&p)
            };
            profiles.push((dir, default));
        }
    };
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            flush(&section, &mut path, relative, default);
            section = name.to_string();
            (path, relative, default) = (None, true, false);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match (key.trim(), value.trim()) {
            ("Path", v) => path = Some(v.to_string()),
            ("IsRelative", v) => relative = v != "0",
            ("Default", v) if section.starts_with("Profile") => default = v == "1",
            ("Default", v) if section.starts_with("Install") && install_default.is_none() => {
                install_default = Some(base.join(v));
            }
            _ => {}
        }
    }
    flush(&section, &mut path, relative, default);
    let mut ordered: Vec<PathBuf> = Vec::new();
    ordered.extend(install_default);
    ordered.extend(profiles.iter().filter(|(_, d)| *d).map(|(p, _)| p.clone()));
    ordered.extend(profiles.into_iter().map(|(p, _)| p));
    let mut out: Vec<PathBuf> = Vec::new();
    for p in ordered {
        if p.is_dir() && !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Chromium's profiles under a user data directory: the last used one (or
/// `Default`) first, then the others `Local State` lists.
fn chromium_profiles(base: &Path) -> Vec<PathBuf> {
    let mut names: Vec<String> = Vec::new();
    if let Ok(text) = read_small(&base.join("Local State"))
        && let Ok(state) = serde_json::from_str::<serde_json::Value>(&text)
    {
        if let Some(last) = state.pointer("/profile/last_used").and_then(|v| v.as_str()) {
            names.push(last.to_string());
        }
        names.push("Default".to_string());
        if let Some(cache) = state
            .pointer("/profile/info_cache")
            .and_then(|v| v.as_object())
        {
            names.extend(cache.keys().cloned());
        }
    } else {
        names.push("Default".to_string());
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for name in names {
        // A name from the file is hostile: one plain path component only.
        if name.is_empty() || name.contains(['/', '\\']) || name == ".." || name == "." {
            continue;
        }
        let dir = base.join(&name);
        if has_chromium_db(&dir) && !out.contains(&dir) {
            out.push(dir);
        }
    }
    out
}

/// A settings file of a profile (`profiles.ini`, `Local State`): small text.
fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(4 * 1024 * 1024)
        .read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_ini_gives_the_install_default_first() {
        let base = tempfile::tempdir().unwrap();
        for d in ["a.default", "b.default-release", "c.other"] {
            std::fs::create_dir(base.path().join(d)).unwrap();
        }
        std::fs::write(
            base.path().join("profiles.ini"),
            "[Profile1]\nName=default\nIsRelative=1\nPath=a.default\nDefault=1\n\n\
             [Profile0]\nName=default-release\nIsRelative=1\nPath=b.default-release\n\n\
             [Profile2]\nIsRelative=1\nPath=c.other\n\n\
             [Install4F96D1932A9F858E]\nDefault=b.default-release\nLocked=1\n",
        )
        .unwrap();
        let found = firefox_profiles(base.path());
        let names: Vec<_> = found
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["b.default-release", "a.default", "c.other"]);
    }

    #[test]
    fn local_state_names_the_last_used_profile_and_no_path_escapes() {
        let base = tempfile::tempdir().unwrap();
        for d in ["Default", "Profile 1"] {
            std::fs::create_dir_all(base.path().join(d).join("Network")).unwrap();
            std::fs::write(base.path().join(d).join("Network/Cookies"), b"").unwrap();
        }
        std::fs::write(
            base.path().join("Local State"),
            r#"{"profile":{"last_used":"Profile 1","info_cache":{"Default":{},"Profile 1":{},"../x":{}}}}"#,
        )
        .unwrap();
        let found = chromium_profiles(base.path());
        assert_eq!(
            found,
            [base.path().join("Profile 1"), base.path().join("Default")]
        );
    }
}
