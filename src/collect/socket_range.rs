//! A client socket's own `IP_LOCAL_PORT_RANGE` (Linux 6.3+), which no socket table carries:
//! read by duplicating the socket out of its process (`pidfd_getfd`, root or ptrace rights)
//! and asking it. Only for the few processes `why --connect` names, and only those running as
//! root (see [`of`]).
//!
//! The duplicate is checked to be the very socket asked about (its inode) before it is asked
//! anything, so a pid reused meanwhile yields nothing rather than another socket's answer; it
//! is closed at once (holding it could only delay that socket's close by microseconds).

use crate::model::Owner;
use rustix::process::{Pid, PidfdFlags, PidfdGetfdFlags, pidfd_getfd, pidfd_open};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

/// The socket's own range, when it sets one narrower than nothing; None when unset, unknown
/// (not root, exited, an older kernel) or not that socket any more.
pub fn of(owner: &Owner, inode: u64) -> Option<[u16; 2]> {
    // Only root's own clients. Another user's process can swap the fd for a file of its own
    // between the look and the duplicate (a FUSE file whose daemon never answers the flush on
    // close), and root's `why` would hang in that close: what another user controls must never
    // block a command.
    if owner.uid != 0 {
        return None;
    }
    let fd = super::owners::socket_fd(owner.pid, inode)?;
    let pid = Pid::from_raw(i32::try_from(owner.pid).ok()?)?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).ok()?;
    let sock = pidfd_getfd(&pidfd, i32::try_from(fd).ok()?, PidfdGetfdFlags::empty()).ok()?;
    let meta = std::fs::File::from(sock.try_clone().ok()?)
        .metadata()
        .ok()?;
    if meta.ino() != inode {
        return None;
    }
    let v = crate::sys::local_port_range(sock.as_fd()).ok()?;
    let (lo, hi) = ((v & 0xffff) as u16, (v >> 16) as u16);
    (lo != 0 || hi != 0).then_some([lo, hi])
}
