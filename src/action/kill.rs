//! Signals that reach the process that was shown, or nobody.
//!
//! A PID alone can be recycled between the moment a row is shown and the moment `y` is pressed.
//! We open a pidfd first (it pins one process), then check that the process behind the PID still
//! has the start time recorded in the snapshot. If it does, the pidfd refers to that very
//! process, and the signal goes through the pidfd, so no later recycling can redirect it.

use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Term,
    Kill,
}

impl Sig {
    pub fn name(self) -> &'static str {
        match self {
            Sig::Term => "SIGTERM",
            Sig::Kill => "SIGKILL",
        }
    }

    fn raw(self) -> Signal {
        match self {
            Sig::Term => Signal::TERM,
            Sig::Kill => Signal::KILL,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillError {
    /// The process exited before the signal: nothing was sent.
    Gone,
    /// The PID now belongs to another process: nothing was sent.
    Reused {
        now_start_time: u64,
    },
    NotPermitted,
    Other(String),
}

impl std::fmt::Display for KillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KillError::Gone => f.write_str("the process has already exited; nothing was sent"),
            KillError::Reused { .. } => f.write_str(
                "the PID now belongs to a different process (its start time changed); nothing was sent",
            ),
            KillError::NotPermitted => {
                f.write_str("permission denied: run portscope as root (or as the process's user)")
            }
            KillError::Other(e) => f.write_str(e),
        }
    }
}

/// Field 22 of /proc/PID/stat, or None if the process is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm may contain spaces and parentheses: fields resume after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A handle on exactly one process: the one with this pid and start time.
pub struct Target {
    fd: OwnedFd,
    pub pid: u32,
}

impl Target {
    /// Pins the process, refusing if the PID was recycled since the snapshot.
    pub fn pin(pid: u32, expected_start: u64) -> Result<Target, KillError> {
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or(KillError::Gone)?;
        let fd = pidfd_open(raw, PidfdFlags::empty()).map_err(|e| match e {
            rustix::io::Errno::SRCH => KillError::Gone,
            e => KillError::Other(format!("pidfd_open({pid}): {e}")),
        })?;
        match start_time(pid) {
            None => Err(KillError::Gone),
            Some(t) if t != expected_start => Err(KillError::Reused { now_start_time: t }),
            Some(_) => Ok(Target { fd, pid }),
        }
    }

    pub fn signal(&self, sig: Sig) -> Result<(), KillError> {
        pidfd_send_signal(&self.fd, sig.raw()).map_err(|e| match e {
            rustix::io::Errno::SRCH => KillError::Gone,
            rustix::io::Errno::PERM => KillError::NotPermitted,
            e => KillError::Other(format!("pidfd_send_signal: {e}")),
        })
    }

    /// Waits until the process exits (the pidfd becomes readable) or `timeout` passes.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let ts = rustix::time::Timespec {
                tv_sec: left.as_secs() as i64,
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(n) if n > 0 => return true,
                Ok(_) => return false,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return start_time(self.pid).is_none(),
            }
        }
    }
}

/// Sends `sig` to (pid, start time), waiting up to `wait` for it to exit.
/// Returns whether it exited.
pub fn signal_and_wait(pid: u32, start: u64, sig: Sig, wait: Duration) -> Result<bool, KillError> {
    let target = Target::pin(pid, start)?;
    target.signal(sig)?;
    Ok(target.wait_exit(wait))
}
