//! Reading files that must be regular and small, without hanging on a FIFO or a device.

use super::{FileError, MAX_FILE, kind_name};
use rustix::fs::{FileType, Mode, OFlags};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::Path;

pub(super) fn ensure_regular(fd: &OwnedFd, path: &Path) -> Result<rustix::fs::Stat, FileError> {
    let st = rustix::fs::fstat(fd).map_err(|e| FileError::io(path, "inspect it", e))?;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => Ok(st),
        t => Err(FileError::new(
            path,
            format!(
                "is {} where a regular file is expected: refused",
                kind_name(t)
            ),
        )),
    }
}

/// Reads an open file that must be regular and at most [`MAX_FILE`] bytes; returns its bytes
/// and mode.
pub(super) fn read_checked(fd: OwnedFd, path: &Path) -> Result<(Vec<u8>, u32), FileError> {
    read_capped(fd, path, MAX_FILE, None)
}

/// Reads an open file that must be regular, of `owner` when given, and at most `cap` bytes
/// (also while it is read: one byte past the cap is asked for, so a growing file is caught).
fn read_capped(
    fd: OwnedFd,
    path: &Path,
    cap: u64,
    owner: Option<u32>,
) -> Result<(Vec<u8>, u32), FileError> {
    let st = ensure_regular(&fd, path)?;
    if let Some(uid) = owner
        && st.st_uid != uid
    {
        return Err(FileError::new(
            path,
            format!("belongs to uid {}, not uid {uid}: not read", st.st_uid),
        ));
    }
    let size = u64::try_from(st.st_size).unwrap_or(0);
    if size > cap {
        return Err(FileError::new(
            path,
            format!("is {size} bytes, more than the {cap} bytes such a file may be: not read"),
        ));
    }
    let mut buf = Vec::new();
    std::fs::File::from(fd)
        .take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| FileError::io(path, "read it", e))?;
    if buf.len() as u64 > cap {
        return Err(FileError::new(path, "grew past the size limit: not read"));
    }
    Ok((buf, st.st_mode & 0o7777))
}

/// How a configuration file (sysctl.d) reads as sysctl reads it: links are followed, since
/// distributions ship them (Debian's `99-sysctl.conf -> ../sysctl.conf`) and a link to
/// /dev/null is the documented way to mask a file. What is reached must be a regular file (read
/// as bytes, capped) or /dev/null (empty); a FIFO or any other device is refused, unread.
pub fn read_config(path: &Path) -> Result<Option<Vec<u8>>, FileError> {
    let fd = match rustix::fs::openat(
        rustix::fs::CWD,
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(FileError::io(path, "read it", e)),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| FileError::io(path, "inspect it", e))?;
    let t = FileType::from_raw_mode(st.st_mode);
    if t == FileType::CharacterDevice && st.st_rdev == rustix::fs::makedev(1, 3) {
        return Ok(Some(Vec::new()));
    }
    if t != FileType::RegularFile {
        return Err(FileError::new(
            path,
            format!(
                "is {} where a configuration file is expected: not read",
                kind_name(t)
            ),
        ));
    }
    read_checked(fd, path).map(|(b, _)| Some(b))
}

/// Whether the last component of a path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// The user named this path (`history FILE`, `--config FILE`): a link there is theirs to
    /// make, and is followed; what it reaches must still be a regular file.
    Follow,
    /// portscope found the path itself (a runtime's state file, a default location): a link
    /// there is someone else's choice, and is refused.
    Refuse,
}

/// Reads a file that must be a regular file of at most `cap` bytes, without ever blocking: the
/// open is non-blocking (a FIFO would wait for a writer for ever), a FIFO, socket or device is
/// refused unread (`/dev/zero` would grow the read until memory runs out), and a file that grows
/// past `cap` while it is read is refused too. Errors name the file.
pub fn read_file(path: &Path, links: Links, cap: u64) -> Result<Vec<u8>, FileError> {
    read_file_owned(path, links, cap, None)
}

/// [`read_file`], and the file must belong to `owner` (a uid): state read from a user's home
/// for that user's containers must be that user's own, not a link to root's files.
pub fn read_file_owned(
    path: &Path,
    links: Links,
    cap: u64,
    owner: Option<u32>,
) -> Result<Vec<u8>, FileError> {
    let mut flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
    if links == Links::Refuse {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = rustix::fs::openat(rustix::fs::CWD, path, flags, Mode::empty()).map_err(|e| {
        let mut err = FileError::io(path, "read it", e);
        if !err.what.starts_with("is ") {
            err.what = format!("cannot be read: {}", std::io::Error::from(e));
        }
        err
    })?;
    read_capped(fd, path, cap, owner).map(|(b, _)| b)
}

/// [`read_file`] as UTF-8 text.
pub fn read_text(path: &Path, links: Links, cap: u64) -> Result<String, FileError> {
    let bytes = read_file(path, links, cap)?;
    String::from_utf8(bytes).map_err(|_| FileError::new(path, "is not UTF-8 text: not read"))
}
