//! Private directories: 0700 on Unix. The one place the tool creates a
//! directory, so every one of them is private.

use std::io;
use std::path::Path;

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
