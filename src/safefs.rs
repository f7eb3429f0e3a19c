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

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Largest file read back whole: far above any sysctl.d file or journal portscope writes.
pub const MAX_FILE: u64 = 16 << 20;

/// A failure, naming the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub path: PathBuf,
    pub what: String,
    /// The file (or directory) does not exist.
    pub not_found: bool,
}

impl FileError {
    fn new(path: &Path, what: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            what: what.into(),
            not_found: false,
        }
    }

    fn io(path: &Path, doing: &str, e: impl Into<io::Error>) -> Self {
        let e: io::Error = e.into();
        let not_found = e.kind() == io::ErrorKind::NotFound;
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
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.path.display(), self.what)
    }
}

impl std::error::Error for FileError {}

/// File content as bytes that survive a JSON round trip exactly: text when it is UTF-8, hex
/// otherwise (sysctl reads bytes, so a file that is not UTF-8 is still a configuration file).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "BytesRepr", from = "BytesRepr")]
pub struct Bytes(pub Vec<u8>);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum BytesRepr {
    Text(String),
    Hex { hex: String },
}

impl From<Bytes> for BytesRepr {
    fn from(b: Bytes) -> Self {
        match String::from_utf8(b.0) {
            Ok(s) => BytesRepr::Text(s),
            Err(e) => BytesRepr::Hex {
                hex: e.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
            },
        }
    }
}

impl From<BytesRepr> for Bytes {
    fn from(r: BytesRepr) -> Self {
        match r {
            BytesRepr::Text(s) => Bytes(s.into_bytes()),
            // A damaged hex string decodes as far as it is valid; the journal's own checks
            // (what is on disk now must equal what was recorded) catch any difference.
            BytesRepr::Hex { hex } => Bytes(
                hex.as_bytes()
                    .chunks(2)
                    .filter_map(|c| std::str::from_utf8(c).ok())
                    .filter_map(|c| u8::from_str_radix(c, 16).ok())
                    .collect(),
            ),
        }
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl Bytes {
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
    }
}

/// What stands at a name in a directory, without following it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Existing {
    Absent,
    File {
        content: Bytes,
        mode: u32,
    },
    /// A link is recorded as a link: putting it back restores the link, never its target's bytes.
    Symlink {
        target: PathBuf,
    },
}

impl Existing {
    /// How it reads in a sentence.
    pub fn describe(&self) -> String {
        match self {
            Existing::Absent => "absent".into(),
            Existing::File { content, .. } => format!("a file of {} bytes", content.0.len()),
            Existing::Symlink { target } => format!("a symbolic link to {}", target.display()),
        }
    }

    pub fn content(&self) -> Option<&[u8]> {
        match self {
            Existing::File { content, .. } => Some(&content.0),
            _ => None,
        }
    }
}

fn kind_name(t: FileType) -> &'static str {
    match t {
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Directory => "a directory",
        FileType::Socket => "a socket",
        FileType::Symlink => "a symbolic link",
        FileType::RegularFile => "a regular file",
        _ => "not a regular file",
    }
}

/// A random suffix for temporary names: nobody can predict, and so pre-plant, the name.
fn random_suffix() -> String {
    let mut buf = [0u8; 8];
    if rustix::rand::getrandom(&mut buf, rustix::rand::GetRandomFlags::empty()).is_err() {
        // getrandom cannot fail on Linux >= 3.17 once the pool is initialised; a fallback
        // still differs per call, and O_EXCL makes a guessed name fail rather than follow.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        buf = (t as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    buf.iter().map(|b| format!("{b:02x}")).collect()
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

fn ensure_regular(fd: &OwnedFd, path: &Path) -> Result<rustix::fs::Stat, FileError> {
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
fn read_checked(fd: OwnedFd, path: &Path) -> Result<(Vec<u8>, u32), FileError> {
    let st = ensure_regular(&fd, path)?;
    let size = u64::try_from(st.st_size).unwrap_or(0);
    if size > MAX_FILE {
        return Err(FileError::new(
            path,
            format!("is {size} bytes, larger than any such file should be: not read"),
        ));
    }
    let mut buf = Vec::new();
    // Read one byte past the cap so a file that grows while read is caught too.
    std::fs::File::from(fd)
        .take(MAX_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| FileError::io(path, "read it", e))?;
    if buf.len() as u64 > MAX_FILE {
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

/// True when `fd` is open on a regular file (used by callers holding their own descriptors).
pub fn is_regular(fd: impl AsFd) -> bool {
    rustix::fs::fstat(fd)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn atomic_write_replaces_a_link_never_its_target() {
        let d = tempfile::tempdir().unwrap();
        let victim = d.path().join("victim");
        std::fs::write(&victim, "secret").unwrap();
        symlink(&victim, d.path().join("a.conf")).unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let before = dir.inspect("a.conf").unwrap();
        assert_eq!(
            before,
            Existing::Symlink {
                target: victim.clone()
            }
        );
        dir.write_atomic("a.conf", b"new\n", 0o644).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "secret");
        assert_eq!(dir.read_regular("a.conf").unwrap().unwrap(), b"new\n");
        let mode = std::fs::metadata(d.path().join("a.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        dir.restore("a.conf", &before).unwrap();
        assert_eq!(std::fs::read_link(d.path().join("a.conf")).unwrap(), victim);
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file left");
    }

    #[test]
    fn refuses_fifo_device_link_and_oversized() {
        let d = tempfile::tempdir().unwrap();
        nix::unistd::mkfifo(&d.path().join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        symlink("/dev/zero", d.path().join("zero")).unwrap();
        std::fs::File::create(d.path().join("big"))
            .unwrap()
            .set_len(MAX_FILE + 1)
            .unwrap();
        let dir = Dir::open(d.path()).unwrap();
        let e = dir.inspect("fifo").unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        assert!(
            dir.read_regular("zero")
                .unwrap_err()
                .to_string()
                .contains("symbolic link")
        );
        assert!(
            dir.inspect("big")
                .unwrap_err()
                .to_string()
                .contains("bytes")
        );
        assert!(
            read_config(&d.path().join("fifo"))
                .unwrap_err()
                .to_string()
                .contains("FIFO")
        );
        assert!(
            read_config(&d.path().join("zero"))
                .unwrap_err()
                .to_string()
                .contains("device")
        );
        assert_eq!(read_config(Path::new("/dev/null")).unwrap(), Some(vec![]));
        assert_eq!(read_config(&d.path().join("nope")).unwrap(), None);
        assert_eq!(dir.inspect("nope").unwrap(), Existing::Absent);
    }

    #[test]
    fn directories_are_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real");
        std::fs::create_dir(&real).unwrap();
        symlink(&real, d.path().join("link")).unwrap();
        assert!(
            Dir::open(&d.path().join("link"))
                .unwrap_err()
                .to_string()
                .contains("symbolic link")
        );
        std::fs::create_dir_all(d.path().join("root/etc")).unwrap();
        symlink(&real, d.path().join("root/etc/sysctl.d")).unwrap();
        let e = Dir::open_beneath(&d.path().join("root"), Path::new("/etc/sysctl.d")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(Dir::open_beneath(&d.path().join("root"), Path::new("../x")).is_err());
        assert!(Dir::open_beneath(d.path(), Path::new("real")).is_ok());
    }

    #[test]
    fn bytes_round_trip_through_json() {
        for b in [b"plain\n".to_vec(), vec![0xff, 0x00, b'a'], vec![]] {
            let j = serde_json::to_string(&Bytes(b.clone())).unwrap();
            let back: Bytes = serde_json::from_str(&j).unwrap();
            assert_eq!(back.0, b, "{j}");
        }
    }

    #[test]
    fn leftovers_are_removed_and_private_dirs_checked() {
        let d = tempfile::tempdir().unwrap();
        let dir = Dir::open(d.path()).unwrap();
        std::fs::write(d.path().join(".a.conf.portscope-0011.tmp"), "x").unwrap();
        std::fs::write(d.path().join("other"), "x").unwrap();
        assert_eq!(dir.remove_leftovers("a.conf").unwrap(), 1);
        assert!(d.path().join("other").exists());
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let dir = Dir::open(d.path()).unwrap();
        assert!(dir.check_private(nix::unistd::geteuid().as_raw()).is_err());
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let dir = Dir::open(d.path()).unwrap();
        assert!(dir.check_private(nix::unistd::geteuid().as_raw()).is_ok());
    }
}
