//! Network namespaces: naming one (`--netns PID|PATH|NAME`) and running work inside it.
//!
//! `setns(2)` changes only the calling thread, so work for another namespace runs on a scoped
//! thread that enters it; the caller's own namespace is never changed. Sockets opened and
//! /proc/sys/net and /proc/thread-self/net paths read on that thread belong to the target.

pub use crate::model::NetnsTarget;
use nix::sched::{CloneFlags, setns};
use nix::sys::stat::stat;
use std::fs::File;
use std::path::{Path, PathBuf};

/// `net:[4026531840]` → 4026531840.
pub fn parse_link(link: &[u8]) -> Option<u64> {
    std::str::from_utf8(link.strip_prefix(b"net:[")?.strip_suffix(b"]")?)
        .ok()?
        .parse()
        .ok()
}

/// Why a network namespace could not be named or entered. Each carries its whole message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetnsError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    NotANetns(String),
    #[error("{0}")]
    NotPermitted(String),
    #[error("{0}")]
    Other(String),
}

/// nsfs's magic number (statfs f_type) from include/uapi/linux/magic.h.
const NSFS_MAGIC: i64 = 0x6e73_6673;

impl NetnsTarget {
    /// Parses and checks a `--netns` value: a PID, a path, or a name under /run/netns.
    pub fn parse(value: &str) -> Result<Self, NetnsError> {
        let v = value.trim();
        if v.is_empty() {
            return Err(NetnsError::NotFound("empty network namespace".into()));
        }
        let target = if v.bytes().all(|b| b.is_ascii_digit()) {
            let pid: u32 = v
                .parse()
                .map_err(|_| NetnsError::NotFound(format!("no such process {v}")))?;
            NetnsTarget::Pid(pid)
        } else if v.contains('/') {
            NetnsTarget::Path(PathBuf::from(v))
        } else {
            NetnsTarget::Path(Path::new("/run/netns").join(v))
        };
        target.check()?;
        Ok(target)
    }

    fn check(&self) -> Result<(), NetnsError> {
        let Some(path) = self.path() else {
            return Ok(());
        };
        let shown = path.display();
        let fs = match (self, nix::sys::statfs::statfs(&path)) {
            // Another user's process: its namespace link is unreadable without root, but a live
            // /proc/PID/ns/net is always a network namespace, and its socket tables
            // (/proc/PID/net) can still be read. Accept it; collection says what is missing.
            (NetnsTarget::Pid(pid), Err(nix::Error::EACCES | nix::Error::EPERM))
                if Path::new(&format!("/proc/{pid}")).exists() =>
            {
                return Ok(());
            }
            (_, r) => r,
        };
        let fs = fs.map_err(|e| match e {
            nix::Error::ENOENT => match self {
                NetnsTarget::Pid(pid) => {
                    NetnsError::NotFound(format!("no such process {pid} ({shown} does not exist)"))
                }
                _ => NetnsError::NotFound(format!("network namespace {shown} does not exist")),
            },
            nix::Error::EACCES | nix::Error::EPERM => NetnsError::NotPermitted(format!(
                "cannot read {shown}: permission denied (run as root)"
            )),
            e => NetnsError::Other(format!("cannot read {shown}: {e}")),
        })?;
        if fs.filesystem_type().0 as i64 != NSFS_MAGIC {
            return Err(NetnsError::NotANetns(format!(
                "{shown} is not a network namespace file"
            )));
        }
        // A /proc/PID/ns/net link names its type; a bind-mounted file is checked by setns later.
        if let Ok(link) = std::fs::read_link(&path)
            && !link.to_string_lossy().starts_with("net:")
        {
            return Err(NetnsError::NotANetns(format!(
                "{shown} is not a network namespace file"
            )));
        }
        Ok(())
    }

    /// The namespace's inode (its identity, as in `net:[4026531840]`).
    pub fn inode(&self) -> Option<u64> {
        let path = self
            .path()
            .unwrap_or_else(|| PathBuf::from("/proc/thread-self/ns/net"));
        stat(&path).ok().map(|s| s.st_ino)
    }

    /// Whether this is the host's namespace (pid 1's), the only one boot-time sysctl files
    /// configure. Where pid 1 cannot be inspected (a sandbox), portscope's own namespace stands
    /// in for it.
    pub fn is_host(&self) -> bool {
        let Some(ino) = self.inode() else {
            return *self == NetnsTarget::Current;
        };
        is_host_inode(ino, || ino == own_inode())
    }

    /// Runs `f` inside the namespace, on a scoped thread when it is not the current one.
    pub fn run_in<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        let Some(path) = self.path() else {
            return Ok(f());
        };
        let file = File::open(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::PermissionDenied => NetnsError::NotPermitted(format!(
                "entering network namespace {} needs root (CAP_SYS_ADMIN)",
                path.display()
            )),
            _ => NetnsError::NotFound(format!(
                "cannot open network namespace {}: {e}",
                path.display()
            )),
        })?;
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| match e {
                        nix::Error::EPERM => NetnsError::NotPermitted(format!(
                            "entering network namespace {} needs root (CAP_SYS_ADMIN)",
                            path.display()
                        )),
                        nix::Error::EINVAL => NetnsError::NotANetns(format!(
                            "{} is not a network namespace file",
                            path.display()
                        )),
                        e => NetnsError::Other(format!(
                            "cannot enter network namespace {}: {e}",
                            path.display()
                        )),
                    })?;
                    Ok(f())
                })
                .join()
                .unwrap_or_else(|_| Err(NetnsError::Other("namespace worker panicked".into())))
        })
    }
}

/// Inode of the namespace the calling thread is in.
pub fn current_inode() -> u64 {
    stat("/proc/thread-self/ns/net").map_or(0, |s| s.st_ino)
}

/// Inode of the namespace portscope's process (its main thread) is in.
/// Whether the namespace with inode `ino` is the host's (pid 1's), the only one boot-time
/// sysctl files configure; where pid 1 cannot be inspected (a sandbox), `otherwise` decides.
pub fn is_host_inode(ino: u64, otherwise: impl FnOnce() -> bool) -> bool {
    stat("/proc/1/ns/net").map_or_else(|_| otherwise(), |st| st.st_ino == ino)
}

/// The host's network namespace: pid 1's, or where pid 1 cannot be inspected (a sandboxed
/// init), kthreadd's (kernel threads live in the initial namespace); `None` when neither can
/// be read. Never simply portscope's own: run inside a namespace, that is just another one.
pub fn host_inode() -> Option<u64> {
    let ino = |pid: u32| {
        nix::sys::stat::stat(format!("/proc/{pid}/ns/net").as_str())
            .ok()
            .map(|s| s.st_ino)
    };
    ino(1).or_else(|| {
        crate::kernel_file::read_lossy("/proc/2/comm")
            .ok()
            .filter(|c| c.trim() == "kthreadd")
            .and_then(|_| ino(2))
    })
}

/// Whether a snapshot's namespace is the host's (portscope's own standing in for it where pid
/// 1 cannot be inspected).
pub fn snapshot_is_host(snap: &crate::model::Snapshot) -> bool {
    is_host_inode(snap.netns.inode, || snap.netns.is_own)
}

pub fn own_inode() -> u64 {
    stat("/proc/self/ns/net").map_or(0, |s| s.st_ino)
}
