//! Replacing a file in a directory that other users may write to (a textfile collector's
//! directory, a config directory): the directory is opened once without following links and
//! every step is relative to it (openat/renameat), the temp file has a random name and is created
//! with O_EXCL|O_NOFOLLOW, so a planted link or file is never written through; readers see the
//! old file or the new one.
//!
//! The reserve engine has its own writer (src/reserve/atomic.rs) that is being hardened the same
//! way; the two are meant to become one.

use nix::fcntl::{OFlag, openat, renameat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

fn open_dir(dir: &Path) -> io::Result<OwnedFd> {
    nix::fcntl::open(
        dir,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        io::Error::new(
            io::Error::from(e).kind(),
            format!(
                "{}: {}",
                dir.display(),
                if e == nix::errno::Errno::ELOOP || e == nix::errno::Errno::ENOTDIR {
                    "not a directory (symbolic links are not followed)".to_string()
                } else {
                    e.desc().to_string()
                }
            ),
        )
    })
}

/// 64 random bits from the OS, through std's randomly seeded hasher (no extra crate).
fn random_suffix() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

fn check_name(name: &str) -> io::Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a file name"),
        ));
    }
    Ok(())
}

/// Writes `contents` to `dir/name` atomically with `mode`.
pub fn write_in_dir(dir: &Path, name: &str, contents: &[u8], mode: u32) -> io::Result<()> {
    check_name(name)?;
    let dirfd = open_dir(dir)?;
    // A leading dot and a `.tmp` end: node_exporter reads only `*.prom`, sysctl only `*.conf`.
    let tmp = format!(".{name}.{}.tmp", random_suffix());
    let fd = openat(
        &dirfd,
        tmp.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )
    .map_err(io::Error::from)?;
    let result = (|| {
        let mut f = std::fs::File::from(fd);
        // The umask may have narrowed the mode: readers (node_exporter) need what was asked.
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        renameat(&dirfd, tmp.as_str(), &dirfd, name).map_err(io::Error::from)?;
        nix::unistd::fsync(&dirfd).map_err(io::Error::from)
    })();
    if result.is_err() {
        let _ = unlinkat(&dirfd, tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    result
}

/// Reads `dir/name` without following a link at either step; `None` when it does not exist.
pub fn read_in_dir(dir: &Path, name: &str) -> io::Result<Option<String>> {
    check_name(name)?;
    let dirfd = match open_dir(dir) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match openat(
        &dirfd,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => {
            let mut s = String::new();
            std::fs::File::from(fd).read_to_string(&mut s)?;
            Ok(Some(s))
        }
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(nix::errno::Errno::ELOOP) => Err(io::Error::other(format!(
            "{} is a symbolic link: portscope does not follow links when it writes",
            dir.join(name).display()
        ))),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_atomically_with_mode_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        write_in_dir(dir.path(), "a.prom", b"a long first version\n", 0o644).unwrap();
        write_in_dir(dir.path(), "a.prom", b"short\n", 0o644).unwrap();
        let p = dir.path().join("a.prom");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "short\n");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(
            read_in_dir(dir.path(), "a.prom").unwrap().as_deref(),
            Some("short\n")
        );
        assert_eq!(read_in_dir(dir.path(), "none").unwrap(), None);
    }

    #[test]
    fn never_follows_links() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        // A link in place of the target is replaced, not written through.
        std::os::unix::fs::symlink(&victim, dir.path().join("t.prom")).unwrap();
        assert!(read_in_dir(dir.path(), "t.prom").is_err());
        write_in_dir(dir.path(), "t.prom", b"new", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert!(
            !std::fs::symlink_metadata(dir.path().join("t.prom"))
                .unwrap()
                .is_symlink()
        );
        // A linked directory is refused.
        let link = dir.path().join("dirlink");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        let err = write_in_dir(&link, "x.prom", b"x", 0o644).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        assert!(write_in_dir(dir.path(), "../x", b"x", 0o644).is_err());
    }
}
