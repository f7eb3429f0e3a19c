//! Signals that reach the process that was shown, while it holds the socket that was shown, or
//! nobody.
//!
//! A PID names a process only until it is reaped; the start time (field 22 of /proc/PID/stat)
//! counts 10 ms ticks, so a process forked in the same tick as the one shown, that got its PID,
//! has the same start time. Identity therefore rests on three steps, in this order:
//!
//! 1. `pidfd_open(pid)` pins one process P: whatever the signal is sent through from here on
//!    reaches P or nobody, whatever happens to the number.
//! 2. `/proc/PID` is opened as a directory, and *then* the pidfd is polled: not readable means P
//!    has not exited, so P was alive, and owned the number, at every moment between step 1 and the
//!    poll (a number is released only when its process is reaped, after it exited). The
//!    directory was opened inside that window, so it is P's. The pidfd's fdinfo must also show
//!    `Pid: PID`, proving the number is P's in the PID namespace our /proc belongs to.
//! 3. Everything else is read *through that directory fd* (`stat`, `status`, `fd/`). procfs binds
//!    a /proc/PID directory to the process, not to the number: once P is reaped each read fails,
//!    it never describes a newcomer. So the start time, the namespace role and "holds
//!    socket:[INODE]" are facts about P, the process the signal will reach.
//!
//! The socket check closes what the start time cannot: a newcomer in the same tick does not hold
//! the socket that was shown (refused), and neither does a process that closed it since the
//! snapshot (a frozen row). What remains is P closing the socket itself in the microseconds
//! between the check and the signal; no tool can rule that out without stopping P first, and the
//! signal then reaches the very process that held the port a moment before.

use super::target::ProcessRole;
use nix::dir::Dir;
use nix::fcntl::{OFlag, openat, readlinkat};
use nix::sys::stat::Mode;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
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

/// Why nothing was sent. Every variant means no signal left portscope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KillError {
    /// The process exited before the signal.
    Gone,
    /// The PID now belongs to another process (a different start time).
    Reused {
        now_start_time: u64,
    },
    /// The process no longer holds the socket that was shown: it closed it, or it is a newcomer
    /// that took the PID within the same clock tick.
    NotHolding {
        inode: u64,
    },
    /// The host's init or a service manager: never signalled.
    NeverSignalled(ProcessRole),
    /// It is not what the dialog described (say, it is now a namespace's init).
    RoleChanged {
        shown: ProcessRole,
        now: ProcessRole,
    },
    NotPermitted,
    Other(String),
}

impl KillError {
    /// A check failed (as opposed to the system refusing): the dialog says "refused".
    pub fn is_refusal(&self) -> bool {
        !matches!(self, KillError::NotPermitted | KillError::Other(_))
    }
}

impl std::fmt::Display for KillError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KillError::Gone => f.write_str("the process has already exited; nothing was sent"),
            KillError::Reused { .. } => f.write_str(
                "the PID now belongs to a different process (its start time changed); nothing was sent",
            ),
            KillError::NotHolding { inode } => write!(
                f,
                "the process with this PID no longer holds the socket that was shown (inode {inode}): it closed it, or it is a different process that took the PID; nothing was sent"
            ),
            KillError::NeverSignalled(role) => write!(
                f,
                "it is {}: portscope never signals it; nothing was sent",
                role.describe()
            ),
            KillError::RoleChanged { shown, now } => write!(
                f,
                "it is now {}, not {} as the dialog said; nothing was sent",
                now.describe(),
                shown.describe()
            ),
            KillError::NotPermitted => {
                f.write_str("permission denied: run portscope as root (or as the process's user)")
            }
            KillError::Other(e) => f.write_str(e),
        }
    }
}

/// Field 22 of /proc/PID/stat, or None if the process is gone. By number: for display and tests,
/// never for deciding whom to signal (see [`Target`]).
pub fn start_time(pid: u32) -> Option<u64> {
    let pid = i32::try_from(pid).ok()?;
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    Some(stat.starttime)
}

/// The same parser the snapshot uses (procfs's, via `Process::stat`), here over text read
/// through the pinned directory. comm may contain spaces and parentheses; procfs takes it from
/// the first '(' to the last ')'.
fn parse_stat(stat: &str) -> Option<procfs::process::Stat> {
    use procfs::FromRead;
    procfs::process::Stat::from_read(stat.as_bytes()).ok()
}

/// What /proc says about the pinned process, read through its own directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub comm: String,
    pub start_time: u64,
    pub nspid: Vec<u32>,
    /// It has a handler for SIGTERM (`SigCgt`): an init without one never sees SIGTERM.
    pub handles_term: bool,
    pub role: ProcessRole,
}

/// A handle on exactly one process, and its /proc directory (see the module comment).
pub struct Target {
    fd: OwnedFd,
    dir: OwnedFd,
    pub pid: u32,
}

fn gone_or(e: nix::Error, what: &str) -> KillError {
    match e {
        nix::Error::ENOENT | nix::Error::ESRCH => KillError::Gone,
        nix::Error::EACCES | nix::Error::EPERM => KillError::NotPermitted,
        e => KillError::Other(format!("{what}: {e}")),
    }
}

impl Target {
    /// Pins the process that has `pid` now and opens its /proc directory, proven to be the same
    /// process. Says nothing yet about whether it is the one that was shown: see [`Target::inspect`]
    /// and [`Target::holds`].
    pub fn pin(pid: u32) -> Result<Target, KillError> {
        let raw = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or(KillError::Gone)?;
        let fd = pidfd_open(raw, PidfdFlags::empty()).map_err(|e| match e {
            rustix::io::Errno::SRCH => KillError::Gone,
            e => KillError::Other(format!("pidfd_open({pid}): {e}")),
        })?;
        let dir = nix::fcntl::open(
            format!("/proc/{pid}").as_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| gone_or(e, "open /proc/PID"))?;
        let t = Target { fd, dir, pid };
        // After the directory: P has not exited, so it owned the number when it was opened.
        if t.exited_now() {
            return Err(KillError::Gone);
        }
        match t.fdinfo_pid() {
            Some(n) if n == i64::from(pid) => Ok(t),
            Some(n) if n <= 0 => Err(KillError::Gone),
            Some(n) => Err(KillError::Other(format!(
                "pid {pid} in /proc is pid {n} for the kernel: /proc belongs to another PID namespace; nothing was sent"
            ))),
            // Older kernels print no Pid line; the poll above still holds.
            None => Ok(t),
        }
    }

    /// `Pid:` of our pidfd's fdinfo: the pinned process's PID as our /proc's namespace sees it.
    fn fdinfo_pid(&self) -> Option<i64> {
        let info =
            crate::kernel_file::read(format!("/proc/self/fdinfo/{}", self.fd.as_raw_fd())).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("Pid:"))
            .and_then(|v| v.trim().parse().ok())
    }

    fn exited_now(&self) -> bool {
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
        !matches!(poll(&mut fds, Some(&zero)), Ok(0))
    }

    fn read(&self, name: &str) -> Result<String, KillError> {
        let fd = openat(
            &self.dir,
            name,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| gone_or(e, name))?;
        let bytes = crate::kernel_file::read_all(
            &mut std::fs::File::from(fd),
            crate::kernel_file::MAX_VALUE,
        )
        .map_err(|e| match e.raw_os_error() {
            Some(code) => gone_or(nix::Error::from_raw(code), name),
            None => KillError::Other(format!("{name}: {e}")),
        })?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Start time, command name and PID-namespace role of the pinned process.
    pub fn inspect(&self) -> Result<Live, KillError> {
        let stat = self.read("stat")?;
        let stat = parse_stat(&stat).ok_or(KillError::Gone)?;
        let status = self.read("status")?;
        let nspid = crate::collect::owners::parse_nspid(&status);
        let handles_term = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .is_some_and(|mask| mask & SIGTERM_BIT != 0);
        Ok(Live {
            role: ProcessRole::of(self.pid, &stat.comm, &nspid),
            comm: stat.comm,
            start_time: stat.starttime,
            nspid,
            handles_term,
        })
    }

    /// The process state letter (R, S, D, Z, ...) now, if it can be read.
    pub fn state(&self) -> Option<char> {
        parse_stat(&self.read("stat").ok()?).map(|s| s.state)
    }

    /// Whether the pinned process has `socket:[inode]` among its open files.
    pub fn holds(&self, inode: u64) -> Result<bool, KillError> {
        let fd = openat(
            &self.dir,
            "fd",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| gone_or(e, "fd"))?;
        let mut dir = Dir::from_fd(fd).map_err(|e| gone_or(e, "fd"))?;
        let want = format!("socket:[{inode}]");
        let names: Vec<std::ffi::CString> = dir
            .iter()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_owned())
            .filter(|n| n.as_bytes().first().is_some_and(u8::is_ascii_digit))
            .collect();
        Ok(names
            .iter()
            .any(|n| readlinkat(&dir, n.as_c_str()).is_ok_and(|t| t.as_bytes() == want.as_bytes())))
    }

    pub fn signal(&self, sig: Sig) -> Result<(), KillError> {
        self.send(sig.raw())
    }

    /// SIGCONT to the pinned process (a stopped one then acts on a pending SIGTERM).
    pub fn cont(&self) -> Result<(), KillError> {
        self.send(Signal::CONT)
    }

    fn send(&self, sig: Signal) -> Result<(), KillError> {
        pidfd_send_signal(&self.fd, sig).map_err(|e| match e {
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
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(n) if n > 0 => return true,
                Ok(_) => return false,
                // Interrupted by a signal: wait again for the time left.
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return self.state().is_none_or(|s| s == 'Z'),
            }
        }
    }
}

/// SIGTERM is signal 15: bit 14 of the SigCgt mask.
const SIGTERM_BIT: u64 = 1 << 14;

/// What the executor checks before it signals: the record from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shown {
    pub pid: u32,
    pub start_time: u64,
    pub inode: u64,
    pub role: ProcessRole,
}

/// Pins `shown.pid` and proves it is the process that was shown, still holding the socket that
/// was shown, and what the dialog said it is. On success the returned handle signals exactly it.
pub fn verify(shown: &Shown) -> Result<(Target, Live), KillError> {
    let t = Target::pin(shown.pid)?;
    let live = t.inspect()?;
    if live.start_time != shown.start_time {
        return Err(KillError::Reused {
            now_start_time: live.start_time,
        });
    }
    if live.role.never_signalled() {
        return Err(KillError::NeverSignalled(live.role));
    }
    if live.role != shown.role {
        return Err(KillError::RoleChanged {
            shown: shown.role,
            now: live.role,
        });
    }
    // Last, nearest the signal: the socket.
    if !t.holds(shown.inode)? {
        return Err(KillError::NotHolding { inode: shown.inode });
    }
    Ok((t, live))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_hostile_names() {
        let s = parse_stat(
            "42 (a) b) (c) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 777 3133440 356 \
             18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 1 1 1 1 1 1 1 0\n",
        )
        .expect("parse");
        assert_eq!(
            (s.comm.as_str(), s.state, s.starttime),
            ("a) b) (c", 'S', 777)
        );
    }

    #[test]
    fn stat_of_a_live_process_matches_the_snapshot_reader() {
        let me = std::process::id();
        let text = std::fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let s = parse_stat(&text).expect("parse own stat");
        assert_eq!(Some(s.starttime), start_time(me));
        assert!(s.starttime > 0);
    }
}
