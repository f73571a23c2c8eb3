//! Private directories and files. The one place the tool creates a
//! directory (0700 on Unix, so every one of them is private), opens a file
//! under the data directory without following a symbolic link, decides
//! whether a file or directory there can be trusted (like ssh's
//! `StrictModes`: ours, and not writable by group or others), and waits for
//! a lock held by another process.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long to wait for another process's lock unless
/// `CONFLUENCE_LOCK_TIMEOUT_SECS` says otherwise.
pub(crate) const DEFAULT_LOCK_TIMEOUT: Duration =
    Duration::from_secs(crate::config::DEFAULT_LOCK_TIMEOUT_SECS);

/// How long a lock is waited for before "waiting for the lock" is said.
const LOCK_NOTICE_GRACE: Duration = Duration::from_millis(500);

/// Whether "waiting for the lock" is also said on stderr (the TUI owns the
/// terminal and turns it off; the diagnostics log always gets it).
static LOCK_NOTICE_ON_STDERR: AtomicBool = AtomicBool::new(true);

/// A file or directory under the data directory that is not used because
/// someone other than the user could have put it there or could change it.
/// Each message names the path and the command that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum UnsafePath {
    #[error(
        "{} belongs to user id {owner}, not to you (user id {me}), so it is not used; \
         if it is yours, give it back to you with: sudo chown {me} '{}' — otherwise remove it",
        path.display(),
        path.display()
    )]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{} can be changed by other users (mode {mode:04o}), so it is not used; \
         fix it with: chmod go-w '{}'",
        path.display(),
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error(
        "{} is a symbolic link, and links are never followed here; \
         put the real file there instead of the link, or remove the link (rm '{}') \
         so confluence-tui starts a new file",
        path.display(),
        path.display()
    )]
    Symlink { path: PathBuf },
    #[error(
        "{} is not a regular file (a pipe, socket or device); remove it (rm '{}') \
         so confluence-tui can create the real file",
        path.display(),
        path.display()
    )]
    NotRegular { path: PathBuf },
}

impl UnsafePath {
    /// The path that was refused.
    pub fn path(&self) -> &Path {
        match self {
            UnsafePath::NotOwned { path, .. }
            | UnsafePath::Writable { path, .. }
            | UnsafePath::Symlink { path }
            | UnsafePath::NotRegular { path } => path,
        }
    }
}

/// Another process kept a lock longer than `CONFLUENCE_LOCK_TIMEOUT_SECS`.
#[derive(Debug, thiserror::Error)]
#[error(
    "gave up after {waited_secs} s waiting for the lock on {} (CONFLUENCE_LOCK_TIMEOUT_SECS): \
     another confluence-tui is still holding it; let it finish or stop it, then try again, \
     or set CONFLUENCE_LOCK_TIMEOUT_SECS to wait longer",
    path.display()
)]
pub struct LockTimedOut {
    pub path: PathBuf,
    pub waited_secs: u64,
}

/// Why a private file could not be opened, checked or locked.
#[derive(Debug)]
pub(crate) enum FileFailure {
    /// Refused: not ours, too open, a link, not a regular file.
    Unsafe(UnsafePath),
    /// Another process held the lock too long.
    TimedOut(LockTimedOut),
    /// The file system said no (missing, permission denied, disk full).
    Io(io::Error),
}

impl From<io::Error> for FileFailure {
    fn from(e: io::Error) -> FileFailure {
        FileFailure::Io(e)
    }
}

impl From<UnsafePath> for FileFailure {
    fn from(e: UnsafePath) -> FileFailure {
        FileFailure::Unsafe(e)
    }
}

/// How a private file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read only; a missing file is `NotFound`.
    Read,
    /// Read and write, created 0600 when missing, never truncated (locks).
    ReadWriteCreate,
    /// Read and append, created 0600 when missing (logs).
    AppendCreate,
    /// Write only, never created (emptying the intake file).
    Write,
}

/// Opens `path` without following a symbolic link at its last component,
/// close-on-exec, and checks the open file: a regular file that is ours and
/// not writable by group or others. A directory is an I/O error
/// (`IsADirectory`), not a refusal.
pub(crate) fn open_private_file(path: &Path, access: Access) -> Result<File, FileFailure> {
    let file = open_no_follow(path, access)?;
    check_open_file(&file, path)?;
    Ok(file)
}

/// Opens `path` without following a symbolic link at its last component
/// (a link is `UnsafePath::Symlink`), close-on-exec; nothing else is checked.
#[cfg(unix)]
pub(crate) fn open_no_follow(path: &Path, access: Access) -> Result<File, FileFailure> {
    use rustix::fs::{Mode, OFlags};
    // NONBLOCK: opening a FIFO planted at the path must not hang; it is
    // cleared again below once the file is known to be regular.
    let base = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK;
    let flags = base
        | match access {
            Access::Read => OFlags::RDONLY,
            Access::ReadWriteCreate => OFlags::RDWR | OFlags::CREATE,
            Access::AppendCreate => OFlags::RDWR | OFlags::APPEND | OFlags::CREATE,
            Access::Write => OFlags::WRONLY,
        };
    let fd = match rustix::fs::open(path, flags, Mode::from_raw_mode(0o600)) {
        Ok(fd) => fd,
        // ELOOP (Linux) or EMLINK (the BSDs): the last component is a link.
        Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::MLINK => {
            return Err(UnsafePath::Symlink { path: path.into() }.into());
        }
        Err(e) => return Err(io::Error::from(e).into()),
    };
    let file = File::from(fd);
    if file.metadata()?.is_file() {
        let flags = rustix::fs::fcntl_getfl(&file).map_err(io::Error::from)?;
        rustix::fs::fcntl_setfl(&file, flags - OFlags::NONBLOCK).map_err(io::Error::from)?;
    }
    Ok(file)
}

#[cfg(not(unix))]
pub(crate) fn open_no_follow(path: &Path, access: Access) -> Result<File, FileFailure> {
    let mut options = std::fs::OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::ReadWriteCreate => options.read(true).write(true).create(true),
        Access::AppendCreate => options.read(true).append(true).create(true),
        Access::Write => options.write(true),
    };
    Ok(options.open(path)?)
}

/// Checks an open file (fstat, so no one can swap it between check and use).
pub(crate) fn check_open_file(file: &File, path: &Path) -> Result<(), FileFailure> {
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(FileFailure::Io(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory, not a file",
        )));
    }
    if !meta.is_file() {
        return Err(UnsafePath::NotRegular { path: path.into() }.into());
    }
    check_owner_and_mode(path, &meta)?;
    Ok(())
}

/// Checks a directory (following a link to it: a data dir may live
/// elsewhere): ours and not writable by group or others.
pub(crate) fn check_private_dir(dir: &Path) -> Result<(), FileFailure> {
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(FileFailure::Io(io::Error::new(
            io::ErrorKind::NotADirectory,
            "it is not a directory",
        )));
    }
    check_owner_and_mode(dir, &meta)?;
    Ok(())
}

/// [`check_private_dir`] for a directory that may not exist yet (nothing to
/// check then).
pub(crate) fn check_private_dir_if_present(dir: &Path) -> Result<(), FileFailure> {
    match check_private_dir(dir) {
        Err(FileFailure::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Creates `dir` when missing ([`create_private_dir`]) and checks it.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), FileFailure> {
    create_private_dir(dir)?;
    check_private_dir(dir)
}

/// The ssh `StrictModes` rule: owned by the effective user, and neither
/// group nor others may write.
#[cfg(unix)]
pub(crate) fn check_owner_and_mode(
    path: &Path,
    meta: &std::fs::Metadata,
) -> Result<(), UnsafePath> {
    use std::os::unix::fs::MetadataExt;
    check_owner(path, meta)?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(UnsafePath::Writable {
            path: path.into(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_owner_and_mode(
    _path: &Path,
    _meta: &std::fs::Metadata,
) -> Result<(), UnsafePath> {
    Ok(())
}

/// Owned by the effective user.
#[cfg(unix)]
pub(crate) fn check_owner(path: &Path, meta: &std::fs::Metadata) -> Result<(), UnsafePath> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(UnsafePath::NotOwned {
            path: path.into(),
            owner: meta.uid(),
            me,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_owner(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), UnsafePath> {
    Ok(())
}

/// Says (or stops saying) "waiting for the lock" on stderr; the TUI turns it
/// off while it owns the terminal.
pub(crate) fn set_lock_notice_on_stderr(on: bool) {
    LOCK_NOTICE_ON_STDERR.store(on, Ordering::Relaxed);
}

/// Takes the exclusive lock on `file` (the lock file at `path`). When another
/// process holds it, says so once (stderr and the diagnostics log), waits,
/// and gives up after `timeout`.
///
/// The wait is a blocking `flock` on a second descriptor of the same open
/// file (so the lock it gets is `file`'s), in a thread of its own: the
/// kernel hands the lock over as soon as it is released, where polling
/// would starve behind a writer that locks again at once. After a timeout
/// the thread is left to finish: it gets the lock when the holder lets go
/// and closes its descriptor straight away, which (with `file` dropped by
/// then) releases it.
pub(crate) fn lock_exclusive(
    file: &File,
    path: &Path,
    timeout: Duration,
) -> Result<(), FileFailure> {
    use std::sync::mpsc::RecvTimeoutError;
    match file.try_lock() {
        Ok(()) => return Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => {}
        Err(std::fs::TryLockError::Error(e)) => return Err(FileFailure::Io(e)),
    }
    let started = Instant::now();
    let timed_out = || {
        FileFailure::TimedOut(LockTimedOut {
            path: path.into(),
            waited_secs: started.elapsed().as_secs_f64().round() as u64,
        })
    };
    if timeout.is_zero() {
        return Err(timed_out());
    }
    let waiter = file.try_clone()?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("lock-wait".into())
        .spawn(move || {
            let _ = tx.send(waiter.lock());
        })?;
    // A wait shorter than this (another writer finishing its append) is
    // not worth a word.
    let quiet = LOCK_NOTICE_GRACE.min(timeout);
    let answer = match rx.recv_timeout(quiet) {
        Err(RecvTimeoutError::Timeout) => {
            say_waiting(path, timeout);
            rx.recv_timeout(timeout.saturating_sub(started.elapsed()))
        }
        answer => answer,
    };
    match answer {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(FileFailure::Io(e)),
        Err(RecvTimeoutError::Timeout) => Err(timed_out()),
        Err(RecvTimeoutError::Disconnected) => Err(FileFailure::Io(io::Error::other(
            "the thread waiting for the lock ended without an answer",
        ))),
    }
}

/// "waiting for the lock" on stderr (unless the TUI owns it) and in the
/// diagnostics log.
fn say_waiting(path: &Path, timeout: Duration) {
    tracing::warn!(lock = %path.display(), "waiting for a lock held by another process");
    if LOCK_NOTICE_ON_STDERR.load(Ordering::Relaxed) {
        use std::io::Write as _;
        let _ = writeln!(
            io::stderr(),
            "waiting for the lock on {} held by another confluence-tui… \
             (giving up after {} s; CONFLUENCE_LOCK_TIMEOUT_SECS)",
            path.display(),
            timeout.as_secs()
        );
    }
}

/// Creates `dir` and its missing parents, each 0700 on Unix; `dir` itself is
/// set to exactly 0700 after creation, whatever the umask. An existing
/// directory is left as it is.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        // The umask may have cleared bits the mode asked for; set it exactly.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_directories_are_private_and_existing_ones_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let leaf = tmp.path().join("a/b/c");
        create_private_dir(&leaf).unwrap();
        assert!(leaf.is_dir());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&leaf), 0o700);
            assert_eq!(mode(&tmp.path().join("a")), 0o700);
            let open = tmp.path().join("open");
            std::fs::create_dir(&open).unwrap();
            std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
            create_private_dir(&open).unwrap();
            assert_eq!(mode(&open), 0o755, "an existing directory is not changed");
        }
    }
}
