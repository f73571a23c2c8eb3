//! A version of the vault file, told without reading it: its size,
//! modification time and inode. Processes that keep credentials resolved
//! from the vault (the worker, the proxy) compare stamps to learn that
//! another process imported, refreshed or expired credentials, and only then
//! open the vault again (scrypt), never on every use.

use std::path::Path;

/// Identifies a version of the vault file without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VaultStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: u64,
}

impl VaultStamp {
    /// The stamp of the file at `path`; `None` when there is no file.
    pub(crate) fn of(path: &Path) -> Option<VaultStamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(VaultStamp {
            len: m.len(),
            modified: m.modified().ok(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&m),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_file_has_another_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        assert_eq!(VaultStamp::of(&path), None);
        std::fs::write(&path, b"one").unwrap();
        let first = VaultStamp::of(&path).unwrap();
        assert_eq!(VaultStamp::of(&path), Some(first.clone()));
        // A write is a rename over the old file: a new inode.
        let tmp = dir.path().join("v.tmp");
        std::fs::write(&tmp, b"one").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_ne!(VaultStamp::of(&path), Some(first));
    }
}
