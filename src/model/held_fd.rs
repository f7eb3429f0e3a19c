//! How a listener's only process holds it: the fd, whether that fd survives an exec, and the
//! process's place in the tree. Read for the few listeners of a why answer; what it says about
//! where the socket came from is `analyze::why::inherit`'s to judge.

use super::process_context::Ancestor;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdHolding {
    pub pid: u32,
    pub start_time: u64,
    /// The socket's inode (`socket:[INODE]` in /proc/PID/fd).
    pub inode: u64,
    /// The lowest fd of the process that refers to the socket.
    pub fd: u32,
    /// O_CLOEXEC is set on that fd (`flags:` of /proc/PID/fdinfo/FD): such an fd is closed by
    /// an exec, so this program image did not receive it across one (unless it set the flag
    /// itself afterwards).
    pub cloexec: bool,
    /// The process's parent now.
    pub parent: Ancestor,
    /// The process leads its own session (a service manager calls setsid() for what it starts).
    pub session_leader: bool,
}
