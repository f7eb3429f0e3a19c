//! What a person deciding about a process wants to know at a glance: who started it and when,
//! what supervises it (so they stop the unit, not the pid), how close it is to running out of
//! file descriptors (a CLOSE_WAIT leak's real danger), how fast its sockets grow, and whether its
//! listeners drop connections.
//!
//! Plain data, filled by `collect::process_context`; the growth comes from [`Observations`], kept
//! by whoever refreshes (the TUI) across snapshots.

use crate::escape::Foreign;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

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
        Some(match self.per_min? {
            0 => "±0/min".into(),
            n if n > 0 => format!("+{n}/min"),
            n => format!("{n}/min"),
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
    /// The queue is full: the next handshake is dropped (and counted in ListenOverflows).
    pub fn full(&self) -> bool {
        self.backlog > 0 && self.queued >= self.backlog
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

/// Socket counts of processes over the last refreshes, for their growth. A process is known by
/// pid and start time (a reused pid starts over); bounded in samples per process and processes.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    samples: HashMap<(u32, u64), VecDeque<(jiff::Timestamp, usize)>>,
}

/// Samples kept per process: the growth is over the last few minutes at the TUI's refresh rate,
/// not since the process started.
pub const SAMPLES_PER_PROCESS: usize = 32;
/// Processes remembered: the least recently seen go first.
pub const PROCESSES_KEPT: usize = 256;

impl Observations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that process (pid, start ticks) held `count` sockets at `at`. Samples out of order
    /// (a replayed older snapshot) are ignored.
    pub fn record(&mut self, pid: u32, start: u64, at: jiff::Timestamp, count: usize) {
        if !self.samples.contains_key(&(pid, start)) && self.samples.len() >= PROCESSES_KEPT {
            let oldest = self
                .samples
                .iter()
                .min_by_key(|(_, v)| v.back().map(|s| s.0))
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.samples.remove(&k);
            }
        }
        let q = self.samples.entry((pid, start)).or_default();
        if q.back().is_some_and(|(t, _)| *t >= at) {
            return;
        }
        if q.len() >= SAMPLES_PER_PROCESS {
            q.pop_front();
        }
        q.push_back((at, count));
    }

    /// Sockets per minute between the oldest and newest kept samples, rounded; `None` with fewer
    /// than two.
    pub fn per_min(&self, pid: u32, start: u64) -> Option<i64> {
        let q = self.samples.get(&(pid, start))?;
        let (t0, c0) = q.front()?;
        let (t1, c1) = q.back()?;
        let secs = t1.duration_since(*t0).as_secs_f64();
        if q.len() < 2 || secs <= 0.0 {
            return None;
        }
        Some(((*c1 as f64 - *c0 as f64) * 60.0 / secs).round() as i64)
    }

    /// Records the socket count of every process in `snap` at the time it was taken, and
    /// forgets processes that are no longer in it. With more than [`PROCESSES_KEPT`] processes
    /// the busiest are kept: a leak shows as many sockets.
    pub fn record_snapshot(&mut self, snap: &super::Snapshot) {
        let mut counts: HashMap<(u32, u64), usize> = HashMap::new();
        for s in &snap.sockets {
            for o in s.owners.iter() {
                *counts.entry((o.pid, o.start_time)).or_default() += 1;
            }
        }
        let mut counts: Vec<((u32, u64), usize)> = counts.into_iter().collect();
        if counts.len() > PROCESSES_KEPT {
            counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            counts.truncate(PROCESSES_KEPT);
        }
        let keep: std::collections::HashSet<(u32, u64)> = counts.iter().map(|c| c.0).collect();
        self.samples.retain(|k, _| keep.contains(k));
        for ((pid, start), n) in counts {
            self.record(pid, start, snap.taken_at, n);
        }
    }

    /// Forgets processes not in `alive` (pid, start ticks).
    pub fn retain(&mut self, alive: impl Fn(u32, u64) -> bool) {
        self.samples.retain(|(p, s), _| alive(*p, *s));
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + s).unwrap_or_default()
    }

    #[test]
    fn growth_needs_two_samples_and_is_per_minute() {
        let mut o = Observations::new();
        o.record(10, 5, t(0), 100);
        assert_eq!(o.per_min(10, 5), None);
        o.record(10, 5, t(30), 160);
        assert_eq!(o.per_min(10, 5), Some(120));
        // Another process with the same pid (reused) starts over.
        assert_eq!(o.per_min(10, 6), None);
        // Out of order: ignored.
        o.record(10, 5, t(10), 0);
        assert_eq!(o.per_min(10, 5), Some(120));
        let c = SocketCount {
            now: 160,
            per_min: o.per_min(10, 5),
        };
        assert_eq!(c.growth_words().as_deref(), Some("+120/min"));
    }

    #[test]
    fn snapshots_feed_the_growth_of_their_processes() {
        use crate::model::test_support::{listener, owner, snapshot};
        let api = owner(40, "api");
        let held = |port| {
            let mut s = listener(port);
            s.owners = std::sync::Arc::from([api.clone()]);
            s
        };
        let mut snap = snapshot(vec![held(8080)]);
        snap.taken_at = t(0);
        let mut o = Observations::new();
        o.record_snapshot(&snap);
        snap.taken_at = t(60);
        snap.sockets.push(held(8081));
        snap.sockets.push(held(8082));
        o.record_snapshot(&snap);
        assert_eq!(o.per_min(40, api.start_time), Some(2));
        snap.sockets.clear();
        snap.taken_at = t(120);
        o.record_snapshot(&snap);
        assert!(o.is_empty(), "a process without sockets is forgotten");
    }

    #[test]
    fn observations_are_bounded() {
        let mut o = Observations::new();
        for i in 0..(SAMPLES_PER_PROCESS as i64 + 10) {
            o.record(1, 1, t(i * 60), i as usize);
        }
        // Rate over the kept window stays right, and old samples went.
        assert_eq!(o.per_min(1, 1), Some(1));
        assert_eq!(o.samples[&(1, 1)].len(), SAMPLES_PER_PROCESS);
        for pid in 0..(PROCESSES_KEPT as u32 + 20) {
            o.record(pid + 100, 0, t(i64::from(pid)), 1);
        }
        assert_eq!(o.len(), PROCESSES_KEPT);
        o.retain(|p, _| p % 2 == 0);
        assert!(o.len() <= PROCESSES_KEPT / 2 + 1);
    }

    #[test]
    fn fd_levels_follow_the_soft_limit() {
        let u = |open, soft| FdUse {
            open,
            soft,
            hard: Some(4096),
        };
        assert_eq!(u(812, Some(1024)).words(), "812/1024 (79%)");
        assert_eq!(u(812, Some(1024)).level(), Level::Ok);
        assert_eq!(u(820, Some(1024)).level(), Level::Warning);
        assert_eq!(u(1000, Some(1024)).level(), Level::Critical);
        assert_eq!(u(5, None).words(), "5 (no limit)");
        assert_eq!(u(5, None).level(), Level::Ok);
    }

    #[test]
    fn kinds_and_supervisors() {
        assert_eq!(ProcessKind::of(1, "systemd", &[1]), ProcessKind::Init);
        assert_eq!(
            ProcessKind::of(900, "sh", &[900, 1]),
            ProcessKind::ContainerInit
        );
        assert_eq!(
            ProcessKind::of(880, "containerd-shim-runc-v2", &[880]),
            ProcessKind::RuntimeShim
        );
        assert_eq!(ProcessKind::of(4100, "bash", &[4100]), ProcessKind::Shell);
        assert_eq!(ProcessKind::of(4000, "sshd", &[4000]), ProcessKind::Process);
        let chain = vec![
            Ancestor {
                pid: 4100,
                comm: Foreign::from("bash"),
                kind: ProcessKind::Shell,
            },
            Ancestor {
                pid: 1,
                comm: Foreign::from("systemd"),
                kind: ProcessKind::Init,
            },
        ];
        assert_eq!(
            Supervisor::choose(None, Some("api.service"), None, &chain).words(),
            "systemd unit api.service"
        );
        assert_eq!(
            Supervisor::choose(None, Some("session-3.scope"), None, &chain).words(),
            "shell bash (4100)"
        );
        assert_eq!(
            Supervisor::choose(Some("docker web"), Some("x.service"), None, &chain).words(),
            "container docker web"
        );
        assert_eq!(
            Supervisor::choose(None, None, None, &chain[1..]),
            Supervisor::Init
        );
        assert_eq!(
            Supervisor::choose(None, None, None, &[]),
            Supervisor::Unknown
        );
    }

    #[test]
    fn netstat_counters_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 7 9\n\
                    IpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(
            parse_listen_stats(text),
            Some(ListenStats {
                overflows: 7,
                drops: 9
            })
        );
        assert_eq!(parse_listen_stats("IpExt: A\nIpExt: 1\n"), None);
    }
}
