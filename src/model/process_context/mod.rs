//! What a person deciding about a process wants to know at a glance: who started it and when,
//! what supervises it (so they stop the unit, not the pid), how close it is to running out of
//! file descriptors (a CLOSE_WAIT leak's real danger), how fast its sockets grow, and whether its
//! listeners drop connections.
//!
//! Plain data, filled by `collect::process_context`; the growth comes from [`Observations`], kept
//! by whoever refreshes (the TUI) across snapshots.

use crate::escape::Foreign;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

mod observations;
#[cfg(test)]
mod tests;

pub use observations::{Observations, PROCESSES_KEPT, SAMPLES_PER_PROCESS};

/// Command names of service managers: processes that hold sockets for services they start, or
/// whose exit stops every service they supervise. One list for the kill check and the context.
pub const SERVICE_MANAGERS: &[&str] = &[
    "systemd",
    "init",
    "upstart",
    "launchd",
    "s6-svscan",
    "s6-fdholderd",
    "runsvdir",
    "runsv",
    "supervisord",
    "inetd",
    "xinetd",
];

/// Container runtime processes that sit between the runtime and a container's init.
const RUNTIME_SHIMS: &[&str] = &[
    "containerd-shim",
    "containerd-shim-runc-v2",
    "containerd-shim-runc-v1",
    "conmon",
    "crun",
    "runc",
    "docker-proxy",
    "lxc-start",
    "systemd-nspawn",
];

/// Interactive and script shells: a process started from one was started by hand (or by a
/// wrapper script), and nothing restarts it.
const SHELLS: &[&str] = &[
    "bash", "sh", "dash", "zsh", "fish", "ksh", "mksh", "tcsh", "csh", "ash", "busybox",
];

/// Longest parent chain followed: deeper trees are wrappers of wrappers, and every hop is I/O.
pub const MAX_HOPS: usize = 10;

/// fd use at or above this percentage of the soft limit is a warning ...
pub const FD_WARNING_PERCENT: u64 = 80;
/// ... and at or above this, accept() and open() are about to fail.
pub const FD_CRITICAL_PERCENT: u64 = 95;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessContext {
    pub pid: u32,
    pub comm: Foreign,
    /// The full command line (arguments joined by spaces): what tells same-named processes
    /// apart.
    pub cmdline: Foreign,
    pub uid: u32,
    pub user: Foreign,
    pub start: ProcessStart,
    /// Parents, nearest first, up to PID 1, a container's init, or [`MAX_HOPS`].
    pub parents: Vec<Ancestor>,
    /// What manages the process: stop or restart that, not the pid.
    pub supervisor: Supervisor,
    /// Open file descriptors against RLIMIT_NOFILE; `None` when /proc did not say (permissions).
    pub fds: Option<FdUse>,
    /// TCP/UDP sockets of the process in the snapshot, and their growth.
    pub sockets: SocketCount,
    /// Listening TCP sockets of the process, with their accept queues.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<ListenQueue>,
    /// ListenOverflows / ListenDrops of the process's network namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_stats: Option<ListenStats>,
    /// The run state from /proc/PID/stat (`R`, `S`, `D`, `T` stopped, `t` traced, `Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<char>,
    /// Where in the kernel the process sleeps (/proc/PID/wchan: `inet_csk_accept` is a
    /// listener waiting for connections, `do_signal_stop` a stopped one); `None` when
    /// running, unreadable, or hidden by kptr_restrict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wchan: Option<Foreign>,
}

impl ProcessContext {
    /// The state when it matters to someone deciding about the process: stopped, stuck in
    /// the kernel, or a zombie; `None` for one that runs or sleeps as usual.
    pub fn state_words(&self) -> Option<&'static str> {
        match self.state? {
            'T' => Some("STOPPED (state T: Ctrl-Z or SIGSTOP; it accepts nothing until continued)"),
            't' => Some("STOPPED by a debugger (state t)"),
            'D' => {
                Some("in uninterruptible sleep (state D: waiting on the kernel, often disk or NFS)")
            }
            'Z' => Some("a zombie (state Z: exited, its parent has not reaped it)"),
            _ => None,
        }
    }
}

/// When the process started: the raw ticks (its identity with the pid), and as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessStart {
    /// Field 22 of /proc/PID/stat: clock ticks after boot.
    pub ticks: u64,
    /// Seconds after boot.
    pub after_boot_secs: u64,
    /// Wall-clock start, when the boot time is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<jiff::Timestamp>,
    /// The same instant in the machine's time zone, as shown ("2026-03-01T03:12:00").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<jiff::civil::DateTime>,
    /// Age in seconds when the context was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_secs: Option<i64>,
}

impl ProcessStart {
    /// "03:12 · 2 h 14 m ago", or "9 m 30 s after boot" where the boot time is unknown;
    /// `duration` is the code base's one way of saying a duration (`crate::human::duration`).
    pub fn words(&self, duration: impl Fn(i64) -> String) -> String {
        let when = self.when(&duration);
        match self.age_secs {
            Some(age) if age >= 0 && self.local.is_some() => {
                format!("{when} · {} ago", duration(age))
            }
            _ => when,
        }
    }

    /// "03:12" (or "Mar 01 03:12" when older than a day), or "570 s after boot" unknown boot.
    pub fn when(&self, duration: impl Fn(i64) -> String) -> String {
        match (&self.local, self.age_secs) {
            (Some(l), Some(age)) if age >= 86_400 => l.strftime("%b %d %H:%M").to_string(),
            (Some(l), _) => l.strftime("%H:%M").to_string(),
            _ => format!(
                "{} after boot",
                duration(i64::try_from(self.after_boot_secs).unwrap_or(i64::MAX))
            ),
        }
    }
}

/// Parents named before the chain is elided in the middle.
const CHAIN_SHOWN: usize = 4;

impl ProcessContext {
    /// "java (4123) ← bash (4100, shell) ← … ← systemd unit api.service": the process, its
    /// parents (elided in the middle when long), and, `with_supervisor`, the supervisor when it
    /// is a unit or a container (in place of the init that started it).
    pub fn chain_words(&self, with_supervisor: bool) -> String {
        let mut parts = vec![format!("{} ({})", self.comm, self.pid)];
        let mut parents: Vec<String> = self
            .parents
            .iter()
            .map(|p| match p.kind {
                ProcessKind::Process => format!("{} ({})", p.comm, p.pid),
                k => format!("{} ({}, {})", p.comm, p.pid, k.words()),
            })
            .collect();
        let managed = match &self.supervisor {
            _ if !with_supervisor => None,
            s @ (Supervisor::Unit { .. }
            | Supervisor::UserUnit { .. }
            | Supervisor::Container { .. }) => Some(s.words()),
            _ => None,
        };
        if managed.is_some()
            && self
                .parents
                .last()
                .is_some_and(|p| p.kind == ProcessKind::Init)
        {
            parents.pop();
        }
        if parents.len() > CHAIN_SHOWN {
            let last = parents.split_off(parents.len() - 1);
            parents.truncate(CHAIN_SHOWN - 1);
            parents.push("…".into());
            parents.extend(last);
        }
        parts.extend(parents);
        parts.extend(managed);
        parts.join(" ← ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ancestor {
    pub pid: u32,
    pub comm: Foreign,
    pub kind: ProcessKind,
}

/// What a process in the parent chain is, by its place (PID 1, a namespace's init) or its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessKind {
    /// PID 1 of portscope's PID namespace: the host's init (usually systemd).
    Init,
    /// PID 1 of a nested PID namespace: a container's init.
    ContainerInit,
    /// containerd-shim, conmon, runc, ...
    RuntimeShim,
    /// A service manager other than PID 1 (`systemd --user`, supervisord, runsv, ...).
    ServiceManager,
    Shell,
    Process,
}

impl ProcessKind {
    /// From the pid as seen here, the command name, and `NSpid:` of /proc/PID/status. A name can
    /// be chosen by anyone, so it only ever names a kind; it decides nothing.
    pub fn of(pid: u32, comm: &str, nspid: &[u32]) -> ProcessKind {
        if pid == 1 || nspid == [1] {
            ProcessKind::Init
        } else if nspid.len() > 1 && nspid.last() == Some(&1) {
            ProcessKind::ContainerInit
        } else if RUNTIME_SHIMS.contains(&comm) || comm.starts_with("containerd-shim") {
            ProcessKind::RuntimeShim
        } else if SERVICE_MANAGERS.contains(&comm) {
            ProcessKind::ServiceManager
        } else if SHELLS.contains(&comm) {
            ProcessKind::Shell
        } else {
            ProcessKind::Process
        }
    }

    /// Where the kernel puts a process whose parent exited: PID 1 of its namespace, or a
    /// subreaper (service managers set PR_SET_CHILD_SUBREAPER; the flag itself is not in /proc,
    /// so a subreaper of another kind is not recognised).
    pub fn adopts_orphans(self) -> bool {
        matches!(
            self,
            ProcessKind::Init | ProcessKind::ContainerInit | ProcessKind::ServiceManager
        )
    }

    /// Where the parent chain stops: above these, the tree says nothing about this process.
    pub fn ends_chain(self) -> bool {
        matches!(self, ProcessKind::Init | ProcessKind::ContainerInit)
    }

    pub fn words(self) -> &'static str {
        match self {
            ProcessKind::Init => "init",
            ProcessKind::ContainerInit => "container init",
            ProcessKind::RuntimeShim => "runtime shim",
            ProcessKind::ServiceManager => "service manager",
            ProcessKind::Shell => "shell",
            ProcessKind::Process => "process",
        }
    }
}

/// What manages the process, most telling first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Supervisor {
    /// A container (runtime label, as the snapshot names it).
    Container { name: Foreign },
    /// A systemd system unit (`api.service`, or a `.scope` such as a login session).
    Unit { name: Foreign },
    /// A unit of a user's service manager.
    UserUnit { uid: u32, name: Foreign },
    /// A process in the parent chain: a shell (started by hand), a shim, a service manager.
    Parent {
        pid: u32,
        comm: Foreign,
        what: ProcessKind,
    },
    /// Nothing nearer than PID 1.
    Init,
    /// The chain could not be read.
    Unknown,
}

impl Supervisor {
    /// "systemd unit api.service", "container docker web", "shell bash (4100)".
    pub fn words(&self) -> String {
        match self {
            Supervisor::Container { name } => format!("container {name}"),
            Supervisor::Unit { name } => format!("systemd unit {name}"),
            Supervisor::UserUnit { uid, name } => format!("user unit {name} (uid {uid})"),
            Supervisor::Parent { pid, comm, what } => format!("{} {comm} ({pid})", what.words()),
            Supervisor::Init => "init (PID 1)".into(),
            Supervisor::Unknown => "unknown".into(),
        }
    }

    /// The supervisor, from the cgroup facts of the process and its parent chain: a container
    /// or a service unit manages it whatever its parents are; otherwise the nearest parent that
    /// is not an ordinary process (a shell says "started by hand"); a session scope last.
    pub fn choose(
        container: Option<&str>,
        unit: Option<&str>,
        user_unit: Option<(u32, &str)>,
        parents: &[Ancestor],
    ) -> Supervisor {
        if let Some(c) = container {
            return Supervisor::Container {
                name: Foreign::new(c),
            };
        }
        let unit_named = |u: &str| Supervisor::Unit {
            name: Foreign::new(u),
        };
        if let Some(u) = unit.filter(|u| u.ends_with(".service")) {
            return unit_named(u);
        }
        if let Some((uid, u)) = user_unit {
            return Supervisor::UserUnit {
                uid,
                name: Foreign::new(u),
            };
        }
        if let Some(p) = parents
            .iter()
            .find(|p| !matches!(p.kind, ProcessKind::Process | ProcessKind::Init))
        {
            return Supervisor::Parent {
                pid: p.pid,
                comm: p.comm.clone(),
                what: p.kind,
            };
        }
        if let Some(u) = unit {
            return unit_named(u);
        }
        if parents.last().is_some_and(|p| p.kind == ProcessKind::Init) {
            Supervisor::Init
        } else {
            Supervisor::Unknown
        }
    }
}

/// Open file descriptors and RLIMIT_NOFILE (`None` = unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdUse {
    pub open: u64,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Ok,
    Warning,
    Critical,
}

impl FdUse {
    /// Percentage of the soft limit in use (rounded down); `None` when unlimited.
    pub fn percent(&self) -> Option<u64> {
        self.soft
            .filter(|&s| s > 0)
            .map(|s| self.open.saturating_mul(100) / s)
    }

    pub fn level(&self) -> Level {
        match self.percent() {
            Some(p) if p >= FD_CRITICAL_PERCENT => Level::Critical,
            Some(p) if p >= FD_WARNING_PERCENT => Level::Warning,
            _ => Level::Ok,
        }
    }

    /// "812/1024 (79%)", "812 (no limit)".
    pub fn words(&self) -> String {
        match (self.soft, self.percent()) {
            (Some(s), Some(p)) => format!("{}/{s} ({p}%)", self.open),
            _ => format!("{} (no limit)", self.open),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SocketCount {
    pub now: usize,
    /// Change per minute over the kept observations (rounded); `None` until two are known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_min: Option<i64>,
}

impl SocketCount {
    /// "+120/min", "-3/min", "±0/min".
    pub fn growth_words(&self) -> Option<String> {
        self.growth_per("/min")
    }

    /// The growth, signed, then `unit`: "+120 sockets/min" for `" sockets/min"`.
    pub fn growth_per(&self, unit: &str) -> Option<String> {
        Some(match self.per_min? {
            0 => format!("±0{unit}"),
            n if n > 0 => format!("+{n}{unit}"),
            n => format!("{n}{unit}"),
        })
    }
}

/// One listening socket's accept queue: connections the kernel completed that the process has
/// not accepted yet, against the backlog `listen()` asked for (capped by somaxconn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenQueue {
    pub addr: IpAddr,
    pub port: u16,
    pub queued: u32,
    pub backlog: u32,
}

impl ListenQueue {
    /// The queue is full: the next handshake is dropped (and counted in ListenOverflows). The
    /// kernel admits one connection more than the backlog (`sk_acceptq_is_full` tests `>`).
    pub fn full(&self) -> bool {
        self.backlog > 0 && self.queued > self.backlog
    }
}

/// TcpExt counters of one network namespace (since it was made): connections dropped because
/// an accept queue was full (ListenOverflows), and all drops at a listener (ListenDrops).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenStats {
    pub overflows: u64,
    pub drops: u64,
}

/// Parses /proc/net/netstat: pairs of lines, a header of names and a line of values, each
/// starting with the same prefix (`TcpExt:`).
pub fn parse_listen_stats(netstat: &str) -> Option<ListenStats> {
    let mut lines = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let names = lines.next()?;
    let values = lines.next()?;
    let field = |want: &str| {
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(n, _)| *n == want)
            .and_then(|(_, v)| v.parse().ok())
    };
    Some(ListenStats {
        overflows: field("ListenOverflows")?,
        drops: field("ListenDrops")?,
    })
}
