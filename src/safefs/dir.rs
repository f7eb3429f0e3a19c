//! A directory opened once without following links, and the file operations relative to it.

use super::content::{Bytes, Existing};
use super::read::{ensure_regular, read_checked};
use super::{FileError, kind_name};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// A random suffix for temporary names: nobody can predict, and so pre-plant, the name.
fn random_suffix() -> String {
    let mut buf = [0u8; 8];
    if rustix::rand::getrandom(&mut buf, rustix::rand::GetRandomFlags::empty()).is_err() {
        // getrandom cannot fail on Linux >= 3.17 once the pool is initialised; a fallback
        // still differs per call, and O_EXCL makes a guessed name fail rather than follow.
        #[allow(clippy::cast_possible_truncation)] // the low 64 bits are the ones that vary
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()) as u64;
        buf = (t ^ u64::from(std::process::id())).to_le_bytes();
    }
    buf.iter().fold(String::new(), |mut s, b| {
        _ = write!(s, "{b:02x}");
        s
    })
}

/// The prefix of every temporary name made for `name`; recovery removes leftovers with it.
fn temp_prefix(name: &str) -> String {
    format!(".{name}.portscope-")
}

/// A directory opened once; every operation is relative to it.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Dir {
    /// Opens `path`, refusing when its last component is a link (intermediate components are
    /// the user's own path, as they named it).
    pub fn open(path: &Path) -> Result<Dir, FileError> {
        let fd = rustix::fs::openat(rustix::fs::CWD, path, DIR_FLAGS, Mode::empty())
            .map_err(|e| dir_error(path, e))?;
        Ok(Dir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Creates `path` (and its parents, mode 0700 for new ones) and opens it.
    pub fn create(path: &Path) -> Result<Dir, FileError> {
        match Dir::open(path) {
            Err(e) if e.not_found => {
                let mut b = std::fs::DirBuilder::new();
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.recursive(true)
                    .create(path)
                    .map_err(|e| FileError::io(path, "create the directory", e))?;
                Dir::open(path)
            }
            r => r,
        }
    }

    /// Opens `rel` below `root` without following any link below `root`: a tree someone else
    /// controls (a container's root) cannot point portscope outside it.
    pub fn open_beneath(root: &Path, rel: &Path) -> Result<Dir, FileError> {
        let mut dir = Dir {
            fd: rustix::fs::openat(
                rustix::fs::CWD,
                root,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| dir_error(root, e))?,
            path: root.to_path_buf(),
        };
        for c in rel.components() {
            let name = match c {
                Component::Normal(n) => n,
                Component::RootDir | Component::CurDir => continue,
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(FileError::new(
                        &root.join(rel),
                        "leaves its root (\"..\"): refused",
                    ));
                }
            };
            let path = dir.path.join(name);
            let fd = rustix::fs::openat(&dir.fd, name, DIR_FLAGS, Mode::empty())
                .map_err(|e| dir_error(&path, e))?;
            dir = Dir { fd, path };
        }
        Ok(dir)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn child(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Refuses a directory that another user could change behind root's back: not owned by
    /// `uid` (or root), or writable by group or others without the sticky bit.
    pub fn check_private(&self, uid: u32) -> Result<(), FileError> {
        let st = rustix::fs::fstat(&self.fd)
            .map_err(|e| FileError::io(&self.path, "inspect the directory", e))?;
        if st.st_uid != uid && st.st_uid != 0 {
            return Err(FileError::new(
                &self.path,
                format!(
                    "belongs to uid {}, not to uid {uid}: another user could change what root \
                     reads and writes there (sudo -E keeps the user's XDG directories; use sudo \
                     without -E, or set XDG_DATA_HOME)",
                    st.st_uid
                ),
            ));
        }
        if st.st_mode & 0o022 != 0 && st.st_mode & 0o1000 == 0 {
            return Err(FileError::new(
                &self.path,
                format!(
                    "is writable by other users (mode {:o}): refusing to keep root's files there",
                    st.st_mode & 0o7777
                ),
            ));
        }
        Ok(())
    }

    /// What stands at `name`, without following a link; a regular file is read (at most
    /// [`MAX_FILE`] bytes). Anything else is refused, naming what it is.
    pub fn inspect(&self, name: &str) -> Result<Existing, FileError> {
        let path = self.child(name);
        let st = match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) => return Ok(Existing::Absent),
            Err(e) => return Err(FileError::io(&path, "inspect it", e)),
        };
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(&self.fd, name, Vec::new())
                    .map_err(|e| FileError::io(&path, "read the link", e))?;
                Ok(Existing::Symlink {
                    target: PathBuf::from(
                        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(
                            target.into_bytes(),
                        ),
                    ),
                })
            }
            FileType::RegularFile => {
                let (content, mode) = self.read_file(name)?;
                Ok(Existing::File {
                    content: Bytes(content),
                    mode,
                })
            }
            t => Err(FileError::new(
                &path,
                format!(
                    "is {} where a regular file is expected: not read",
                    kind_name(t)
                ),
            )),
        }
    }

    /// Reads a regular file at `name` (no link, no FIFO, no device), or `None` when absent.
    pub fn read_regular(&self, name: &str) -> Result<Option<Vec<u8>>, FileError> {
        match self.inspect(name)? {
            Existing::Absent => Ok(None),
            Existing::File { content, .. } => Ok(Some(content.0)),
            Existing::Symlink { target } => Err(FileError::new(
                &self.child(name),
                format!(
                    "is a symbolic link to {}: refusing to follow it",
                    target.display()
                ),
            )),
        }
    }

    fn read_file(&self, name: &str) -> Result<(Vec<u8>, u32), FileError> {
        let path = self.child(name);
        // O_NONBLOCK: if a FIFO replaced the file since the stat, the open must not hang.
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| FileError::io(&path, "open it", e))?;
        read_checked(fd, &path)
    }

    /// Replaces `name` with `content`: a new file with a random name (`O_EXCL|O_NOFOLLOW`),
    /// written, fsynced, renamed over `name`, then the directory fsynced so the rename survives
    /// a crash. A reader or a crash sees the old file or the new one, never a mix.
    pub fn write_atomic(&self, name: &str, content: &[u8], mode: u32) -> Result<(), FileError> {
        let (tmp, fd) = self.create_temp(name, mode)?;
        let result = (|| {
            let mut f = std::fs::File::from(fd);
            f.write_all(content)
                .and_then(|()| f.sync_all())
                .map_err(|e| FileError::io(&self.child(&tmp), "write it", e))?;
            self.rename_into(&tmp, name)?;
            // Someone who can write the directory could have swapped the temporary file for
            // something else between our write and the rename: what now stands at `name` must
            // be the very file written.
            let ours = rustix::fs::fstat(&f)
                .map_err(|e| FileError::io(&self.child(name), "inspect it", e))?;
            match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if st.st_ino == ours.st_ino && st.st_dev == ours.st_dev => Ok(()),
                _ => Err(FileError::new(
                    &self.child(name),
                    "was replaced by someone else while portscope wrote it: the directory is \
                     being tampered with",
                )),
            }
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        }
        result
    }

    /// Creates `name` with `content`, atomically, only if nothing is there: an existing file,
    /// and a link there (dangling or not), is refused, never replaced or followed (the new file
    /// is renamed in with `RENAME_NOREPLACE`).
    pub fn write_new(&self, name: &str, content: &[u8], mode: u32) -> Result<(), FileError> {
        let (tmp, fd) = self.create_temp(name, mode)?;
        let result = (|| {
            let mut f = std::fs::File::from(fd);
            f.write_all(content)
                .and_then(|()| f.sync_all())
                .map_err(|e| FileError::io(&self.child(&tmp), "write it", e))?;
            match rustix::fs::renameat_with(
                &self.fd,
                tmp.as_str(),
                &self.fd,
                name,
                rustix::fs::RenameFlags::NOREPLACE,
            ) {
                Ok(()) => self.sync(),
                Err(rustix::io::Errno::EXIST) => Err(FileError::new(
                    &self.child(name),
                    "exists already: portscope never overwrites a file",
                )),
                Err(e) => Err(FileError::io(&self.child(name), "create it", e)),
            }
        })();
        if result.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        }
        result
    }

    fn create_temp(&self, name: &str, mode: u32) -> Result<(String, OwnedFd), FileError> {
        let mut last = None;
        for _ in 0..16 {
            let tmp = format!("{}{}.tmp", temp_prefix(name), random_suffix());
            match rustix::fs::openat(
                &self.fd,
                tmp.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(mode),
            ) {
                Ok(fd) => {
                    // The umask may have narrowed the mode; the file's mode is part of what is
                    // restored, so set it exactly.
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))
                        .map_err(|e| FileError::io(&self.child(&tmp), "set its mode", e))?;
                    return Ok((tmp, fd));
                }
                Err(rustix::io::Errno::EXIST) => last = Some(rustix::io::Errno::EXIST),
                Err(e) => return Err(FileError::io(&self.child(&tmp), "create it", e)),
            }
        }
        Err(FileError::io(
            &self.child(name),
            "create a temporary file beside it",
            last.unwrap_or(rustix::io::Errno::EXIST),
        ))
    }

    fn rename_into(&self, tmp: &str, name: &str) -> Result<(), FileError> {
        rustix::fs::renameat(&self.fd, tmp, &self.fd, name)
            .map_err(|e| FileError::io(&self.child(name), "rename the new file into place", e))?;
        self.sync()
    }

    /// Makes `name` a symbolic link to `target`, atomically (a new link renamed over it).
    pub fn symlink_atomic(&self, name: &str, target: &Path) -> Result<(), FileError> {
        let mut last = rustix::io::Errno::EXIST;
        for _ in 0..16 {
            let tmp = format!("{}{}.tmp", temp_prefix(name), random_suffix());
            match rustix::fs::symlinkat(target, &self.fd, tmp.as_str()) {
                Ok(()) => {
                    let r = self.rename_into(&tmp, name);
                    if r.is_err() {
                        let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
                    }
                    return r;
                }
                Err(rustix::io::Errno::EXIST) => last = rustix::io::Errno::EXIST,
                Err(e) => return Err(FileError::io(&self.child(name), "create the link", e)),
            }
        }
        Err(FileError::io(&self.child(name), "create the link", last))
    }

    /// Removes `name` (absent is fine) and fsyncs the directory. Never removes a directory.
    pub fn remove(&self, name: &str) -> Result<(), FileError> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) => self.sync(),
            Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(FileError::io(&self.child(name), "remove it", e)),
        }
    }

    /// Puts back what [`Dir::inspect`] recorded.
    pub fn restore(&self, name: &str, what: &Existing) -> Result<(), FileError> {
        match what {
            Existing::Absent => self.remove(name),
            Existing::File { content, mode } => self.write_atomic(name, &content.0, *mode),
            Existing::Symlink { target } => self.symlink_atomic(name, target),
        }
    }

    /// Removes temporary files a killed write of `name` left behind (regular files with
    /// portscope's temporary prefix for that name only).
    pub fn remove_leftovers(&self, name: &str) -> Result<usize, FileError> {
        let prefix = temp_prefix(name);
        let entries = std::fs::read_dir(&self.path)
            .map_err(|e| FileError::io(&self.path, "list the directory", e))?;
        let mut n = 0;
        for e in entries.flatten() {
            let fname = e.file_name().to_string_lossy().into_owned();
            if !fname.starts_with(&prefix) || !fname.ends_with(".tmp") {
                continue;
            }
            let is_ours = rustix::fs::statat(&self.fd, fname.as_str(), AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|st| {
                    matches!(
                        FileType::from_raw_mode(st.st_mode),
                        FileType::RegularFile | FileType::Symlink
                    )
                });
            if is_ours && rustix::fs::unlinkat(&self.fd, fname.as_str(), AtFlags::empty()).is_ok() {
                n += 1;
            }
        }
        if n > 0 {
            self.sync()?;
        }
        Ok(n)
    }

    /// Opens (creating, mode 0600) a lock file at `name`, refusing a link or a non-file.
    pub fn open_lock(&self, name: &str) -> Result<std::fs::File, FileError> {
        let path = self.child(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(|e| FileError::io(&path, "open it", e))?;
        ensure_regular(&fd, &path)?;
        Ok(std::fs::File::from(fd))
    }

    /// Opens `name` for appending (creating it with `mode`), refusing a link or a non-file.
    pub fn open_append(&self, name: &str, mode: u32) -> Result<std::fs::File, FileError> {
        let path = self.child(name);
        let fd = rustix::fs::openat(
            &self.fd,
            name,
            OFlags::WRONLY
                | OFlags::APPEND
                | OFlags::CREATE
                | OFlags::NOFOLLOW
                | OFlags::NONBLOCK
                | OFlags::NOCTTY
                | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(|e| match e {
            // A FIFO without a reader refuses a non-blocking writer.
            rustix::io::Errno::NXIO => FileError::new(&path, "is a FIFO or a socket"),
            e => FileError::io(&path, "open it", e),
        })?;
        ensure_regular(&fd, &path)?;
        Ok(std::fs::File::from(fd))
    }

    fn sync(&self) -> Result<(), FileError> {
        rustix::fs::fsync(&self.fd).map_err(|e| FileError::io(&self.path, "sync the directory", e))
    }
}

fn dir_error(path: &Path, e: rustix::io::Errno) -> FileError {
    match e {
        rustix::io::Errno::LOOP => FileError::new(
            path,
            "is a symbolic link where a directory is expected: refusing to follow it",
        ),
        // O_DIRECTORY is checked before O_NOFOLLOW: a link to a directory says ENOTDIR.
        rustix::io::Errno::NOTDIR
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
        {
            FileError::new(
                path,
                "is a symbolic link where a directory is expected: refusing to follow it",
            )
        }
        rustix::io::Errno::NOTDIR => FileError::new(path, "is not a directory"),
        e => FileError::io(path, "open the directory", e),
    }
}
