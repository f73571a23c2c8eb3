//! The plain-text intake file (`cookies/confluence_cookies.txt`): created
//! empty and private, read with size and UTF-8 limits, and emptied after an
//! import by overwriting its bytes before truncating.
//!
//! A file that is a symbolic link, has other hard links or is not a regular
//! file is never read, emptied or chmodded: the bytes overwritten would be
//! another file's. The intake file in the data directory must also be the
//! user's and not writable by group or others (someone else could plant
//! cookies in it).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use super::parse::MAX_PASTE_BYTES;
use crate::fsutil::{self, Access, FileFailure, UnsafePath};

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
    #[error(
        "{} has {links} names (hard links), so emptying it would also empty the other names; \
         for safety it is neither read, emptied nor chmodded. Remove this name (rm '{}'; the \
         other names keep the content) and paste the cookies into a fresh file.",
        path.display(),
        path.display()
    )]
    HardLinked { path: PathBuf, links: u64 },
    /// Not the user's, or writable by group or others.
    #[error(transparent)]
    Unsafe(#[from] UnsafePath),
    #[error("Could not {action} {}: {source}. Check the path and its permissions.", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Creates the intake file (empty, 0600) and its directory (0700) when
/// missing; an existing file has its permissions tightened to 0600. The
/// directory and an existing file must be the user's and not writable by
/// group or others; a link of either kind is refused.
pub fn ensure_intake_file(path: &Path) -> Result<IntakeStatus, IntakeError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fsutil::ensure_private_dir(dir).map_err(|e| match e {
            FileFailure::Unsafe(e) => IntakeError::Unsafe(e),
            FileFailure::Io(e) => io_error("create the directory", dir, e),
            FileFailure::TimedOut(e) => io_error("create the directory", dir, io::Error::other(e)),
        })?;
    }
    match open_checked(path, Access::Read, Checks::StrictModes) {
        Ok(file) => {
            let bytes = file
                .metadata()
                .map_err(|e| io_error("inspect", path, e))?
                .len();
            restrict_permissions(&file, path)?;
            return Ok(IntakeStatus::Exists { bytes });
        }
        Err(IntakeError::NotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    let mut options = OpenOptions::new();
    // create_new (O_EXCL) never follows a link: one planted meanwhile fails.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(path)
        .map_err(|e| io_error("create", path, e))?;
    // The umask may have cleared bits the mode asked for; set it exactly.
    restrict_permissions(&file, path)?;
    Ok(IntakeStatus::Created)
}

/// Checks that a file may be emptied after its cookies are imported (a
/// regular file of the user's with no other hard links), before it is read.
pub(crate) fn check_can_empty(path: &Path) -> Result<(), IntakeError> {
    open_checked(path, Access::Read, Checks::Owner).map(drop)
}

/// Reads a paste from a file: at most 1 MiB, UTF-8. A symbolic link or a
/// file that is not regular is refused.
pub fn read_paste(path: &Path) -> Result<Zeroizing<String>, IntakeError> {
    let file = open_regular(path, Access::Read)?;
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
/// Refused, with nothing changed, unless [`check_can_empty`] passes.
pub fn empty_file_reporting(path: &Path) -> Result<u64, IntakeError> {
    let mut file = open_checked(path, Access::Write, Checks::Owner)?;
    let written = overwrite_with_zeros(&mut file).map_err(|e| io_error("overwrite", path, e))?;
    file.set_len(0).map_err(|e| io_error("truncate", path, e))?;
    file.sync_all().map_err(|e| io_error("sync", path, e))?;
    restrict_permissions(&file, path)?;
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

/// What [`open_checked`] asks of a file besides being a single regular file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// The user's (a file named on the command line, to be emptied).
    Owner,
    /// The user's and not writable by group or others (the intake file in
    /// the data directory).
    StrictModes,
}

/// Opens a file that will be emptied or chmodded: never through a symbolic
/// link, and only a regular file with no other hard links that passes
/// `checks`. The checks are made on the open file, so it cannot be swapped
/// in between.
fn open_checked(path: &Path, access: Access, checks: Checks) -> Result<File, IntakeError> {
    let file = open_regular(path, access)?;
    let meta = file.metadata().map_err(|e| io_error("inspect", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 {
            return Err(IntakeError::HardLinked {
                path: path.into(),
                links: meta.nlink(),
            });
        }
    }
    match checks {
        Checks::Owner => fsutil::check_owner(path, &meta)?,
        Checks::StrictModes => fsutil::check_owner_and_mode(path, &meta)?,
    }
    Ok(file)
}

/// Opens without following a symbolic link; a link, a directory or another
/// non-regular file is `NotRegularFile`, a missing file `NotFound`.
fn open_regular(path: &Path, access: Access) -> Result<File, IntakeError> {
    let not_regular = || IntakeError::NotRegularFile { path: path.into() };
    let file = match fsutil::open_no_follow(path, access) {
        Ok(file) => file,
        Err(FileFailure::Io(e)) => {
            return Err(match e.kind() {
                io::ErrorKind::NotFound => IntakeError::NotFound { path: path.into() },
                io::ErrorKind::IsADirectory => not_regular(),
                _ => io_error("open", path, e),
            });
        }
        // A link (the only refusal an open without checks makes).
        Err(FileFailure::Unsafe(_) | FileFailure::TimedOut(_)) => return Err(not_regular()),
    };
    let meta = file.metadata().map_err(|e| io_error("inspect", path, e))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

/// Sets the open file's mode to exactly 0600 (fchmod: never a link's target).
fn restrict_permissions(file: &File, path: &Path) -> Result<(), IntakeError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error("set permissions on", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (file, path);
    Ok(())
}

fn io_error(action: &'static str, path: &Path, source: io::Error) -> IntakeError {
    IntakeError::Io {
        action,
        path: path.into(),
        source,
    }
}
