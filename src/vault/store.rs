//! The vault file on disk: load, atomic save under an exclusive lock,
//! read-modify-write, removal, keeping a damaged file aside, header
//! inspection and permission checks.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::VaultError;
use super::format::{self, DEFAULT_KDF_LOG_N, KdfParams};
use super::key::MachineIdSource;
use super::seal;
use super::{SiteCredentials, VaultDocument};
use crate::fsutil::{self, Access, FileFailure};
use crate::secret::{ExposeSecret, SecretString};

const TEMP_SUFFIX: &str = ".tmp";
const LOCK_SUFFIX: &str = ".lock";
const DAMAGED_INFIX: &str = ".damaged-";

/// How the vault key is made.
#[derive(Clone, Debug)]
pub struct VaultOptions {
    pub machine_id: MachineIdSource,
    pub passphrase: Option<SecretString>,
    /// scrypt cost (log2 N) for new writes; existing files keep theirs until rewritten.
    pub kdf_log_n: u8,
}

impl Default for VaultOptions {
    fn default() -> VaultOptions {
        VaultOptions {
            machine_id: MachineIdSource::System,
            passphrase: None,
            kdf_log_n: DEFAULT_KDF_LOG_N,
        }
    }
}

/// What the header says, without decrypting (for status display).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    pub version: u8,
    pub passphrase_used: bool,
    pub machine_bound: bool,
    pub kdf: KdfParams,
    pub file_size: u64,
}

/// The encrypted vault file and how to key it.
#[derive(Debug)]
pub struct Vault {
    path: PathBuf,
    opts: VaultOptions,
    /// How long to wait for another process's lock.
    lock_timeout: Duration,
}

impl Vault {
    /// A vault at `path` (usually `cookies/secure_cookies.enc`). An empty
    /// passphrase counts as none, so it can never be the only key input.
    pub fn new(path: PathBuf, mut opts: VaultOptions) -> Vault {
        if opts
            .passphrase
            .as_ref()
            .is_some_and(|p| p.expose_secret().is_empty())
        {
            opts.passphrase = None;
        }
        Vault {
            path,
            opts,
            lock_timeout: fsutil::DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Waits at most `timeout` for a lock held by another process
    /// (`CONFLUENCE_LOCK_TIMEOUT_SECS`; 30 s unless set).
    pub(crate) fn with_lock_timeout(mut self, timeout: Duration) -> Vault {
        self.lock_timeout = timeout;
        self
    }

    /// The vault file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file's path (`secure_cookies.enc.lock`).
    pub fn lock_path(&self) -> PathBuf {
        self.sibling(LOCK_SUFFIX)
    }

    /// Reads and decrypts the vault; `Ok(None)` when there is no file.
    pub fn load(&self) -> Result<Option<VaultDocument>, VaultError> {
        let Some(bytes) = self.read_file()? else {
            return Ok(None);
        };
        seal::open(&bytes, &self.opts.machine_id, self.opts.passphrase.as_ref()).map(Some)
    }

    /// Encrypts and atomically replaces the vault file.
    pub fn save(&self, doc: &VaultDocument) -> Result<(), VaultError> {
        self.save_with_hook(doc, &mut |_| {})
    }

    /// `save`, calling `before_rename` with the fsynced temp file's path just
    /// before it replaces the vault (crash tests).
    #[doc(hidden)]
    pub fn save_with_hook(
        &self,
        doc: &VaultDocument,
        before_rename: &mut dyn FnMut(&Path),
    ) -> Result<(), VaultError> {
        // scrypt runs before the lock is taken so other writers wait less.
        let bytes = self.seal(doc)?;
        let _lock = self.lock()?;
        self.write_locked(&bytes, before_rename)
    }

    /// Writes a version 1 file (one unnamed site's credentials), as builds
    /// before sites did. Only for tests of reading and binding old vaults.
    #[doc(hidden)]
    pub fn save_v1(&self, creds: &SiteCredentials) -> Result<(), VaultError> {
        let bytes = seal::seal_v1(
            creds,
            &self.opts.machine_id,
            self.opts.passphrase.as_ref(),
            self.opts.kdf_log_n,
        )?;
        let _lock = self.lock()?;
        self.write_locked(&bytes, &mut |_| {})
    }

    /// Loads (or starts from an empty document), applies `f`, and saves, all
    /// under the lock so concurrent updates never lose each other's changes.
    pub fn update<T>(&self, f: impl FnOnce(&mut VaultDocument) -> T) -> Result<T, VaultError> {
        let _lock = self.lock()?;
        let mut doc = self.load()?.unwrap_or_default();
        let out = f(&mut doc);
        let bytes = self.seal(&doc)?;
        self.write_locked(&bytes, &mut |_| {})?;
        Ok(out)
    }

    /// Deletes the vault file; `Ok(false)` when there was none.
    pub fn remove(&self) -> Result<bool, VaultError> {
        if !self.path.exists() {
            return Ok(false);
        }
        let _lock = self.lock()?;
        match fs::remove_file(&self.path) {
            Ok(()) => {
                sync_dir(self.dir())?;
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(VaultError::io(&self.path, e)),
        }
    }

    /// Renames the vault file to `secure_cookies.enc.damaged-<UTC time>` so
    /// a new one can be written; never deletes it. `Ok(None)` when there is none.
    pub fn keep_damaged_aside(&self) -> Result<Option<PathBuf>, VaultError> {
        if !self.path.exists() {
            return Ok(None);
        }
        let _lock = self.lock()?;
        if !self.path.exists() {
            return Ok(None);
        }
        let stamp = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .map_err(|_| VaultError::Internal {
                what: "the current time could not be formatted".into(),
            })?;
        let base = format!("{DAMAGED_INFIX}{stamp}");
        let mut target = self.sibling(&base);
        let mut n = 1;
        // Two damaged files within one second must not overwrite each other.
        while target.exists() {
            n += 1;
            target = self.sibling(&format!("{base}-{n}"));
        }
        fs::rename(&self.path, &target).map_err(|e| VaultError::io(&self.path, e))?;
        sync_dir(self.dir())?;
        Ok(Some(target))
    }

    /// Reads and checks the header without deriving a key; `Ok(None)` when
    /// there is no file.
    pub fn inspect(&self) -> Result<Option<HeaderInfo>, VaultError> {
        let Some(bytes) = self.read_file()? else {
            return Ok(None);
        };
        let parsed = format::parse_file(&bytes)?;
        Ok(Some(HeaderInfo {
            version: parsed.header.version,
            passphrase_used: parsed.header.passphrase_used(),
            machine_bound: parsed.header.machine_bound(),
            kdf: parsed.header.kdf,
            file_size: bytes.len() as u64,
        }))
    }

    /// Warnings for a vault file, lock file or cookies directory that others
    /// than the owner can read or write, each naming the `chmod` that fixes it.
    pub fn permission_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        #[cfg(unix)]
        {
            let checks = [
                (self.dir().to_path_buf(), "700", "the cookies directory"),
                (self.path.clone(), "600", "the cookie vault"),
                (self.lock_path(), "600", "the cookie vault's lock file"),
            ];
            for (path, wanted, what) in checks {
                if let Some(mode) = loose_mode(&path) {
                    warnings.push(format!(
                        "{what} {} has mode {mode:04o}, so other users may read or change it; \
                         fix it with: chmod {wanted} '{}'",
                        path.display(),
                        path.display()
                    ));
                }
            }
        }
        warnings
    }

    /// The vault file's bytes, `None` when there is none. Its directory and
    /// the file itself must be the user's and not writable by others; a
    /// symbolic link at the vault's path is refused, never followed.
    fn read_file(&self) -> Result<Option<Vec<u8>>, VaultError> {
        let mut file = match fsutil::open_private_file(&self.path, Access::Read) {
            Ok(file) => file,
            Err(FileFailure::Io(e)) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VaultError::file(&self.path, e)),
        };
        let dir = self.dir();
        fsutil::check_private_dir(dir).map_err(|e| VaultError::file(dir, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| VaultError::io(&self.path, e))?;
        Ok(Some(bytes))
    }

    /// Refuses to replace what is at the vault's path when it is a symbolic
    /// link or a file that is not the user's or that others may write. The
    /// rename itself would replace a link rather than follow it; refusing
    /// says that something is wrong instead of silently papering over it.
    fn check_replace_target(&self) -> Result<(), VaultError> {
        match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                Err(VaultError::Unsafe(fsutil::UnsafePath::Symlink {
                    path: self.path.clone(),
                }))
            }
            Ok(meta) if meta.is_file() => {
                fsutil::check_owner_and_mode(&self.path, &meta).map_err(VaultError::Unsafe)
            }
            // A directory or a device: the rename fails and says so.
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(VaultError::io(&self.path, e)),
        }
    }

    fn seal(&self, doc: &VaultDocument) -> Result<Vec<u8>, VaultError> {
        seal::seal(
            doc,
            &self.opts.machine_id,
            self.opts.passphrase.as_ref(),
            self.opts.kdf_log_n,
        )
    }

    fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    fn file_name(&self) -> OsString {
        self.path
            .file_name()
            .map(OsString::from)
            .unwrap_or_else(|| OsString::from("secure_cookies.enc"))
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.file_name();
        name.push(suffix);
        self.dir().join(name)
    }

    fn temp_prefix(&self) -> OsString {
        let mut prefix = OsString::from(".");
        prefix.push(self.file_name());
        prefix.push(".");
        prefix
    }

    /// Takes the exclusive lock on the lock file, creating the directory and
    /// the lock file as needed (never through a symbolic link); waits for
    /// another process at most the lock timeout. Dropping the guard unlocks.
    fn lock(&self) -> Result<File, VaultError> {
        ensure_dir(self.dir())?;
        let path = self.lock_path();
        let file = fsutil::open_private_file(&path, Access::ReadWriteCreate)
            .map_err(|e| VaultError::file(&path, e))?;
        fsutil::lock_exclusive(&file, &path, self.lock_timeout)
            .map_err(|e| VaultError::file(&path, e))?;
        Ok(file)
    }

    /// Writes a temp file beside the vault, fsyncs it, renames it over the
    /// vault and fsyncs the directory. The caller holds the lock.
    fn write_locked(
        &self,
        bytes: &[u8],
        before_rename: &mut dyn FnMut(&Path),
    ) -> Result<(), VaultError> {
        let dir = self.dir();
        let prefix = self.temp_prefix();
        // Holding the lock, any temp file left here belongs to a writer that crashed.
        remove_stale_temps(dir, &prefix);
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMP_SUFFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o600));
        }
        let mut temp = builder
            .tempfile_in(dir)
            .map_err(|e| VaultError::io(dir, e))?;
        temp.write_all(bytes)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| VaultError::io(temp.path(), e))?;
        before_rename(temp.path());
        self.check_replace_target()?;
        temp.persist(&self.path)
            .map_err(|e| VaultError::io(&self.path, e.error))?;
        sync_dir(dir)
    }
}

fn remove_stale_temps(dir: &Path, prefix: &OsString) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = prefix.to_string_lossy();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix.as_ref()) && name.ends_with(TEMP_SUFFIX) {
            // Best effort: a leftover only costs disk space, never correctness.
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates the directory (and parents) owner-only; an existing one must be
/// the user's and not writable by others.
fn ensure_dir(dir: &Path) -> Result<(), VaultError> {
    fsutil::ensure_private_dir(dir).map_err(|e| VaultError::file(dir, e))
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| VaultError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The permission bits when group or others have any access; `None` when
/// private or missing.
#[cfg(unix)]
fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}
