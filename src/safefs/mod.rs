//! Files root writes where someone else may control the directory.
//!
//! portscope runs as root and writes into directories a user may be able to write (a container's
//! root given to `--sysctl-root`, a user's XDG directory kept by `sudo -E`). Opening by path lets
//! anyone who can write the directory plant a symbolic link and have root overwrite, or read and
//! later restore world-readable, any file on the host. So every operation here works relative to
//! a directory opened once with `O_DIRECTORY|O_NOFOLLOW`, never follows a link at the last
//! component, creates files with a random name and `O_CREAT|O_EXCL|O_NOFOLLOW`, and replaces the
//! target by `rename`, which replaces a link itself and never writes through it. A FIFO, a device
//! or an oversized file where a regular file is expected is refused, never read (a FIFO would hang
//! the read for ever, /dev/zero would eat memory).

mod content;
mod dir;
mod read;
#[cfg(test)]
mod tests;
mod trust;

pub use content::{Bytes, Existing};
pub use dir::Dir;
pub use read::{Links, read_config, read_file, read_file_owned, read_text};
pub use trust::check_trusted_dir;

use rustix::fs::FileType;
use std::io;
use std::path::{Path, PathBuf};

/// Largest file read back whole: far above any sysctl.d file or journal portscope writes.
pub const MAX_FILE: u64 = 16 << 20;

/// A failure, naming the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {}", .path.display(), .what)]
pub struct FileError {
    pub path: PathBuf,
    pub what: String,
    /// The file (or directory) does not exist.
    pub not_found: bool,
    /// Permission to read it was denied.
    pub denied: bool,
}

impl FileError {
    fn new(path: &Path, what: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            what: what.into(),
            not_found: false,
            denied: false,
        }
    }

    fn io(path: &Path, doing: &str, e: impl Into<io::Error>) -> Self {
        let e: io::Error = e.into();
        let not_found = e.kind() == io::ErrorKind::NotFound;
        let denied = e.kind() == io::ErrorKind::PermissionDenied;
        let what = match e.raw_os_error() {
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
                "is a symbolic link: refusing to follow it".to_string()
            }
            _ => format!("cannot {doing}: {e}"),
        };
        FileError {
            path: path.to_path_buf(),
            what,
            not_found,
            denied,
        }
    }
}

pub(crate) fn kind_name(t: FileType) -> &'static str {
    match t {
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Directory => "a directory",
        FileType::Socket => "a socket",
        FileType::Symlink => "a symbolic link",
        FileType::RegularFile => "a regular file",
        FileType::Unknown => "not a regular file",
    }
}
