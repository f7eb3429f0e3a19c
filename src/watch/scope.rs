//! Which network namespace a watch looks at (`watch --netns`).
//!
//! sock_diag answers for the namespace its socket was opened in, so the poll source (and the UDP
//! poll beside the tracepoint) opens its socket inside the target once and keeps using it from
//! this thread. The tracepoints carry no namespace: an event is placed by the namespace of the
//! task it ran in (listen, connect, close, bind run in the caller's context), by what was
//! learnt about the socket earlier, or, for a change in softirq, by looking the socket up in the
//! target's own table.

use super::WatchError;
use crate::collect::netlink::Dumper;
use crate::collect::netns::{NetnsTarget, current_inode};
use std::os::unix::fs::MetadataExt;

#[derive(Debug, Clone)]
pub struct Scope {
    pub target: NetnsTarget,
    /// The target's inode when one was named; None watches as before `--netns` existed: the
    /// poll sees portscope's own namespace, the tracepoint every namespace.
    pub only: Option<u64>,
}

impl Scope {
    pub fn new(target: &NetnsTarget) -> Result<Scope, WatchError> {
        let only = match target {
            NetnsTarget::Current => None,
            t => Some(t.inode().ok_or_else(|| {
                WatchError::Failed(format!(
                    "cannot read network namespace {}: it is gone or not readable (run as root)",
                    t.describe()
                ))
            })?),
        };
        Ok(Scope {
            target: target.clone(),
            only,
        })
    }

    /// A sock_diag socket in the target namespace (the caller's own without `--netns`).
    pub fn dumper(&self) -> Result<Dumper, WatchError> {
        let failed = |e: nix::Error| WatchError::Failed(format!("netlink sock_diag: {e}"));
        match self.only {
            None => Dumper::open().map_err(failed),
            Some(_) => self
                .target
                .run_in(|| Dumper::open().map(Dumper::into_fd))
                .map_err(|e| WatchError::Failed(e.to_string()))?
                .map(Dumper::from_fd)
                .map_err(failed),
        }
    }

    /// The namespace every socket a dump of [`Scope::dumper`] returns is in.
    pub fn dumped_inode(&self) -> Option<u64> {
        self.only
            .or_else(|| Some(current_inode()).filter(|&i| i != 0))
    }

    /// Whether an event in namespace `ns` belongs to this watch. An unknown namespace is let
    /// through (the caller says so on the event): missing a thief is worse than one line too many.
    pub fn admits(&self, ns: Option<u64>) -> bool {
        match (self.only, ns) {
            (Some(want), Some(got)) => want == got,
            _ => true,
        }
    }

    /// "pid 4123 (net:[4026532301])", for the source line; None without `--netns`.
    pub fn describe(&self) -> Option<String> {
        self.only
            .map(|ino| format!("{} (net:[{ino}])", self.target.describe()))
    }
}

/// The network namespace of thread `tid` of process `pid`; None once the thread has exited. Not
/// the process's as a stand-in: a thread may have entered another namespace (setns) than its
/// process's, and an unknown namespace is said as such, a wrong one would hide the event.
pub fn of_task(pid: u32, tid: u32) -> Option<u64> {
    if pid == 0 {
        return None;
    }
    std::fs::metadata(format!("/proc/{pid}/task/{tid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}

/// The note on an event whose namespace could not be read (the process exited first).
pub const UNKNOWN_NETNS: &str =
    "network namespace not known (the process exited before it could be read)";
