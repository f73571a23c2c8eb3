//! The plain-text intake file (`cookies/confluence_cookies.txt`): created
//! empty and private, read with size and UTF-8 limits, and emptied after an
//! import by overwriting its bytes before truncating.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use super::parse::MAX_PASTE_BYTES;
use crate::fsutil::create_private_dir;

/// Shown (or written next to the file by the CLI) when the intake file is
/// created: what to put into it.
pub const INTAKE_HELP: &str = "\
Paste your Confluence cookies into this file, then run `confluence-tui cookies import` \
(or start the TUI). Any one of these works:
  - the Cookie request header from the browser's developer tools (Network tab → a request to \
the Confluence site → Request Headers → Cookie), on one line, e.g.
      cloud.session.token=eyJ…; atlassian.xsrf.token=…
  - a \"Copy as cURL\" command (bash or cmd) of such a request
  - a Netscape cookies.txt export
  - a cookie-editor extension's JSON export
The file is emptied after the cookies are imported and encrypted.";

/// What `ensure_intake_file` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntakeStatus {
    /// The file did not exist and was created empty.
    Created,
    /// The file exists and holds this many bytes.
    Exists { bytes: u64 },
}

/// Why the intake file could not be prepared, read or emptied.
#[derive(Debug, Error)]
pub enum IntakeError {
    #[error(
        "{} does not exist. Paste the cookies into that file (start the TUI once to create it) \
         or pass another file to `cookies import`.",
        path.display()
    )]
    NotFound { path: PathBuf },
    #[error(
        "{} is larger than 1 MiB; cookies are a few KiB, so it holds something else. Replace \
         its content with only the Cookie header line (or a cURL command, cookies.txt, or \
         cookie-editor JSON).",
        origin
    )]
    TooLarge { origin: String },
    #[error(
        "{} is not UTF-8 text. Save it as plain UTF-8 text (or paste the Cookie header into a \
         fresh file) and try again.",
        origin
    )]
    NotUtf8 { origin: String },
    #[error(
        "{} is not a regular file (a symbolic link or a directory); for safety it is neither \
         read nor emptied. Replace it with a plain file.",
        path.display()
    )]
    NotRegularFile { path: PathBuf },
    #[error("Could not {action} {}: {source}. Check the path and its permissions.", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Creates the intake file (empty, 0600) and its directory (0700) when
/// missing; an existing file has its permissions tightened to 0600.
pub fn ensure_intake_file(path: &Path) -> Result<IntakeStatus, IntakeError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {
            restrict_permissions(path)?;
            return Ok(IntakeStatus::Exists { bytes: meta.len() });
        }
        Ok(_) => return Err(IntakeError::NotRegularFile { path: path.into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("inspect", path, e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir).map_err(|e| io_error("create the directory", dir, e))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map_err(|e| io_error("create", path, e))?;
    // The umask may have cleared bits the mode asked for; set it exactly.
    restrict_permissions(path)?;
    Ok(IntakeStatus::Created)
}

/// Reads a paste from a file: at most 1 MiB, UTF-8.
pub fn read_paste(path: &Path) -> Result<Zeroizing<String>, IntakeError> {
    check_regular_file(path)?;
    let file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => IntakeError::NotFound { path: path.into() },
        _ => io_error("open", path, e),
    })?;
    read_limited(file, &path.display().to_string()).map_err(|e| match e {
        ReadFailure::Intake(e) => e,
        ReadFailure::Io(e) => io_error("read", path, e),
    })
}

/// Reads a paste from standard input: at most 1 MiB, UTF-8.
pub(crate) fn read_stdin_paste() -> Result<Zeroizing<String>, IntakeError> {
    read_limited(io::stdin().lock(), "standard input").map_err(|e| match e {
        ReadFailure::Intake(e) => e,
        ReadFailure::Io(e) => io_error("read", Path::new("standard input"), e),
    })
}

/// Empties the file after an import: its bytes are overwritten with zeros
/// and synced before it is truncated, so the plain cookies do not survive in
/// the file's blocks. The file itself stays (0600) for the next paste.
pub fn empty_file(path: &Path) -> Result<(), IntakeError> {
    empty_file_reporting(path).map(|_| ())
}

/// [`empty_file`], returning how many bytes were overwritten with zeros.
pub fn empty_file_reporting(path: &Path) -> Result<u64, IntakeError> {
    check_regular_file(path)?;
    let mut file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => IntakeError::NotFound { path: path.into() },
            _ => io_error("open", path, e),
        })?;
    let written = overwrite_with_zeros(&mut file).map_err(|e| io_error("overwrite", path, e))?;
    file.set_len(0).map_err(|e| io_error("truncate", path, e))?;
    file.sync_all().map_err(|e| io_error("sync", path, e))?;
    restrict_permissions(path)?;
    Ok(written)
}

/// Overwrites every byte of the file with zeros (same length) and syncs it;
/// returns the number of bytes written.
pub fn overwrite_with_zeros(file: &mut File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let zeros = [0u8; 8192];
    let mut left = len;
    while left > 0 {
        let chunk = usize::try_from(left).map_or(zeros.len(), |l| l.min(zeros.len()));
        file.write_all(&zeros[..chunk])?;
        left -= chunk as u64;
    }
    file.flush()?;
    file.sync_all()?;
    Ok(len)
}

enum ReadFailure {
    Intake(IntakeError),
    Io(io::Error),
}

fn read_limited(reader: impl Read, origin: &str) -> Result<Zeroizing<String>, ReadFailure> {
    // Sized up front so the buffer never reallocates and leaves copies behind.
    let mut buffer = Zeroizing::new(Vec::with_capacity(MAX_PASTE_BYTES + 1));
    reader
        .take(MAX_PASTE_BYTES as u64 + 1)
        .read_to_end(&mut buffer)
        .map_err(ReadFailure::Io)?;
    if buffer.len() > MAX_PASTE_BYTES {
        return Err(ReadFailure::Intake(IntakeError::TooLarge {
            origin: origin.into(),
        }));
    }
    match String::from_utf8(std::mem::take(&mut *buffer)) {
        Ok(text) => Ok(Zeroizing::new(text)),
        Err(e) => {
            e.into_bytes().zeroize();
            Err(ReadFailure::Intake(IntakeError::NotUtf8 {
                origin: origin.into(),
            }))
        }
    }
}

fn check_regular_file(path: &Path) -> Result<(), IntakeError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(IntakeError::NotRegularFile { path: path.into() }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(IntakeError::NotFound { path: path.into() })
        }
        Err(e) => Err(io_error("inspect", path, e)),
    }
}

fn restrict_permissions(path: &Path) -> Result<(), IntakeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error("set permissions on", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> IntakeError {
    IntakeError::Io {
        action,
        path: path.into(),
        source,
    }
}
