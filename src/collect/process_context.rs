//! Reads the [`ProcessContext`] of the few processes a person is looking at.
//!
//! Bounded I/O by construction: only the processes asked for, and of each only
//! /proc/PID/{stat, limits, fd (one stat(2): Linux >= 6.2 reports the count in st_size),
//! net/netstat}, plus stat and status of at most [`MAX_HOPS`] parents. Who the process is
//! (command line, user, unit, container) the snapshot's owner scan already read.

use crate::escape::Foreign;
use crate::model::process_context::{
    Ancestor, FdUse, ListenQueue, MAX_HOPS, Observations, ProcessContext, ProcessKind,
    ProcessStart, SocketCount, Supervisor, parse_listen_stats,
};
use crate::model::{Owner, Proto, Snapshot, State};

/// The wall clock: turns clock ticks after boot into a clock time and an age, and is the time a
/// TUI frame is drawn at. One type for the collector and the TUI; fixed in tests and screenshots
/// so renders are reproducible.
#[derive(Debug, Clone)]
pub struct Clock {
    pub now: jiff::Timestamp,
    /// When this machine booted: process start times (ticks after boot) become clock times.
    /// `None` for a replay from another machine, where only "after boot" is true.
    pub boot: Option<jiff::Timestamp>,
    pub tz: jiff::tz::TimeZone,
    /// Clock ticks per second (USER_HZ).
    pub hz: u64,
}

impl Clock {
    pub fn system() -> Clock {
        Clock {
            now: jiff::Timestamp::now(),
            boot: boot_time(),
            tz: jiff::tz::TimeZone::system(),
            hz: procfs::ticks_per_second().max(1),
        }
    }

    /// A fixed instant in UTC with no boot time, for tests and screenshots.
    pub fn fixed(now: jiff::Timestamp) -> Clock {
        Clock {
            now,
            boot: None,
            tz: jiff::tz::TimeZone::UTC,
            hz: procfs::ticks_per_second().max(1),
        }
    }

    /// A recording's start times count from another boot: only "after boot" is true of them.
    #[must_use]
    pub fn for_replay(mut self, replay: bool) -> Clock {
        if replay {
            self.boot = None;
        }
        self
    }

    /// The same, with a boot time, so start times show as clock times and ages.
    #[must_use]
    pub fn with_boot(mut self, boot: jiff::Timestamp) -> Clock {
        self.boot = Some(boot);
        self
    }

    pub fn start(&self, ticks: u64) -> ProcessStart {
        let after_boot_secs = ticks / self.hz.max(1);
        let at = self.boot.and_then(|b| {
            b.checked_add(jiff::SignedDuration::from_secs(
                i64::try_from(after_boot_secs).ok()?,
            ))
            .ok()
        });
        ProcessStart {
            ticks,
            after_boot_secs,
            at,
            local: at.map(|t| t.to_zoned(self.tz.clone()).datetime()),
            age_secs: at.map(|t| self.now.as_second() - t.as_second()),
        }
    }
}

/// The boot time of this machine, read once (it does not change).
pub fn boot_time() -> Option<jiff::Timestamp> {
    static BOOT: std::sync::OnceLock<Option<jiff::Timestamp>> = std::sync::OnceLock::new();
    *BOOT.get_or_init(|| {
        let secs = procfs::boot_time_secs().ok()?;
        jiff::Timestamp::from_second(i64::try_from(secs).ok()?).ok()
    })
}

/// The context of every distinct process among `owners` (first seen first), skipping those
/// that exited or whose pid was reused since the snapshot.
pub fn read_all<'a>(
    owners: impl IntoIterator<Item = &'a Owner>,
    snap: &Snapshot,
    obs: Option<&Observations>,
    clock: &Clock,
) -> Vec<ProcessContext> {
    let mut seen = std::collections::HashSet::new();
    owners
        .into_iter()
        .filter(|o| seen.insert((o.pid, o.start_time)))
        .filter_map(|o| read(o, snap, obs, clock))
        .collect()
}

/// The context of the process `owner` describes, or `None` once it has exited (or another
/// process has its pid).
pub fn read(
    owner: &Owner,
    snap: &Snapshot,
    obs: Option<&Observations>,
    clock: &Clock,
) -> Option<ProcessContext> {
    let proc = procfs::process::Process::new(i32::try_from(owner.pid).ok()?).ok()?;
    let stat = proc.stat().ok()?;
    if stat.starttime != owner.start_time {
        return None;
    }
    let fds = proc.fd_count().ok().map(|open| {
        let limit = proc.limits().ok().map(|l| l.max_open_files);
        let value = |v: procfs::process::LimitValue| match v {
            procfs::process::LimitValue::Value(n) => Some(n),
            procfs::process::LimitValue::Unlimited => None,
        };
        FdUse {
            open: open as u64,
            soft: limit.as_ref().and_then(|l| value(l.soft_limit)),
            hard: limit.as_ref().and_then(|l| value(l.hard_limit)),
        }
    });
    let parents = if ProcessKind::of(owner.pid, owner.comm.raw(), &owner.nspid).ends_chain() {
        Vec::new()
    } else {
        parent_chain(stat.ppid)
    };
    let supervisor = Supervisor::choose(
        owner
            .workload
            .as_ref()
            .map(|w| w.label.as_str())
            .or(owner.container.as_ref().map(Foreign::raw)),
        owner.unit.as_ref().map(Foreign::raw),
        owner.user_unit.as_ref().map(|u| (u.uid, u.unit.as_str())),
        &parents,
    );
    let mut count = 0;
    let mut listeners = Vec::new();
    for s in snap.sockets_of(owner.pid) {
        // A connection in the accept queue is the listener's, but holds no fd yet.
        if s.accept_queue {
            continue;
        }
        count += 1;
        if s.proto == Proto::Tcp && s.state == State::Listen {
            listeners.push(ListenQueue {
                addr: s.local_addr,
                port: s.local_port,
                queued: s.rx_queue,
                backlog: s.tx_queue,
            });
        }
    }
    listeners.sort_by_key(|l| (l.port, l.addr));
    // The kernel resolves /proc/PID/net to the network namespace of PID: the counters of the
    // namespace the listener lives in, whichever namespace portscope runs in.
    let listen_stats = if listeners.is_empty() {
        None
    } else {
        crate::kernel_file::read(format!("/proc/{}/net/netstat", owner.pid))
            .ok()
            .and_then(|t| parse_listen_stats(&t))
    };
    Some(ProcessContext {
        pid: owner.pid,
        comm: owner.comm.clone(),
        cmdline: owner.cmdline.clone(),
        uid: owner.uid,
        user: owner.user.clone(),
        start: clock.start(owner.start_time),
        parents,
        supervisor,
        fds,
        sockets: SocketCount {
            now: count,
            per_min: obs.and_then(|o| o.per_min(owner.pid, owner.start_time)),
        },
        listeners,
        listen_stats,
        state: crate::kernel_file::read_lossy(format!("/proc/{}/stat", owner.pid))
            .ok()
            .and_then(|t| t.rsplit_once(") ").and_then(|(_, r)| r.chars().next())),
        wchan: crate::kernel_file::read_lossy(format!("/proc/{}/wchan", owner.pid))
            .ok()
            .map(|w| w.trim().to_string())
            // "0" is a running process (or an address hidden from this reader).
            .filter(|w| !w.is_empty() && w != "0")
            .map(Foreign::new),
    })
}

/// Parents from `ppid` up, stopping at PID 1, a container's init, a parent outside our PID
/// namespace (ppid 0), or after [`MAX_HOPS`].
fn parent_chain(mut ppid: i32) -> Vec<Ancestor> {
    let mut chain = Vec::new();
    while chain.len() < MAX_HOPS {
        let Ok(pid) = u32::try_from(ppid) else { break };
        if pid == 0 {
            break;
        }
        let Some(stat) = procfs::process::Process::new(ppid)
            .ok()
            .and_then(|p| p.stat().ok())
        else {
            break; // exited since its child's stat was read
        };
        let status =
            crate::kernel_file::read_lossy(format!("/proc/{pid}/status")).unwrap_or_default();
        let nspid = super::owners::parse_nspid(&status);
        let kind = ProcessKind::of(pid, &stat.comm, &nspid);
        chain.push(Ancestor {
            pid,
            comm: Foreign::new(stat.comm),
            kind,
        });
        if kind.ends_chain() {
            break;
        }
        ppid = stat.ppid;
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_reads_with_its_limits_and_parents() {
        let me = std::process::id();
        let Some(owner) = super::super::owners::process_info(
            me,
            &crate::collect::container::RuntimeRoots::from_env(),
        ) else {
            panic!("cannot read our own process");
        };
        let snap = crate::model::test_support::snapshot(Vec::new());
        let Some(ctx) = read(&owner, &snap, None, &Clock::system()) else {
            panic!("no context for ourselves");
        };
        assert_eq!(ctx.pid, me);
        let fds = ctx.fds.unwrap_or_else(|| panic!("fds unreadable"));
        assert!(fds.open >= 3, "{fds:?}");
        let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .unwrap_or_else(|e| panic!("getrlimit: {e}"));
        assert_eq!(fds.soft, (soft != u64::MAX).then_some(soft));
        assert!(!ctx.parents.is_empty() || owner.nspid.last() == Some(&1));
        assert!(ctx.parents.len() <= MAX_HOPS);
        assert!(ctx.start.age_secs.is_none_or(|a| a >= 0));
    }
}
