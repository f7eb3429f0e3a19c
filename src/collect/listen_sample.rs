//! `--sample`'s looks at a port's listeners, several over the interval: their accept queues,
//! the run state of their processes, and the namespace's ListenOverflows. One look cannot tell
//! a queue that drains from one that never does, nor count drops; a few looks can.
//!
//! Each look is a sock_diag dump filtered on the port and the LISTEN state: the kernel copies out
//! only those sockets and skips the established hash, so it stays cheap on a busy host.

use crate::analyze::listener_health::QueueLook;
use crate::analyze::why::health::Looks;
use crate::collect::NetnsTarget;
use crate::collect::netlink::{Dumper, LISTEN_STATES};
use crate::model::process_context::parse_listen_stats;
use crate::model::{Family, Proto, State};
use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// 1 << TCP_ESTABLISHED in sock_diag's state mask.
const ESTABLISHED: u32 = 1 << 1;

/// Looks taken over a `--sample` interval (the first at its start, the last at its end).
pub const LOOKS: u32 = 5;

/// The listeners of one port to look at.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub port: u16,
    /// The listening sockets (inodes) to follow.
    pub inodes: Vec<u64>,
    /// Their processes (for the run state and the namespace's counters).
    pub pids: Vec<u32>,
}

/// A connection waiting in an accept queue, by its two ends.
type Waiting = (IpAddr, u16, IpAddr, u16);

/// One look at a port: each listener's queue (by inode), and the connections waiting.
type PortLook = (Vec<(u64, QueueLook)>, HashSet<Waiting>);

/// The port's listeners' queues, and the connections waiting in them (ESTABLISHED with no file
/// yet: inode 0).
fn queues(netns: &NetnsTarget, port: u16) -> PortLook {
    let dump = || -> nix::Result<PortLook> {
        let mut d = Dumper::open()?;
        let mut out = Vec::new();
        let mut waiting = HashSet::new();
        for family in [Family::Ipv4, Family::Ipv6] {
            for s in d.port_sockets(family, Proto::Tcp, port, LISTEN_STATES | ESTABLISHED)? {
                if s.state == State::Listen {
                    out.push((
                        s.inode,
                        QueueLook {
                            queued: s.rx_queue,
                            backlog: s.tx_queue,
                        },
                    ));
                } else if s.inode == 0 {
                    waiting.insert((s.local_addr, s.local_port, s.remote_addr, s.remote_port));
                }
            }
        }
        Ok((out, waiting))
    };
    netns
        .run_in(dump)
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default()
}

/// ListenOverflows of the namespace, read through a listener's process (its /proc/PID/net is
/// its own namespace's), or through a thread inside the namespace when no process is known.
fn overflows(netns: &NetnsTarget, pids: &[u32]) -> Option<u64> {
    let read = |path: String| {
        crate::kernel_file::read(path)
            .ok()
            .and_then(|t| parse_listen_stats(&t))
            .map(|s| s.overflows)
    };
    pids.iter()
        .find_map(|p| read(format!("/proc/{p}/net/netstat")))
        .or_else(|| {
            netns
                .run_in(|| read("/proc/thread-self/net/netstat".into()))
                .ok()
                .flatten()
        })
}

/// The run state of `pid` (`T`, `D`, ...).
pub fn state_of(pid: u32) -> Option<char> {
    crate::kernel_file::read_lossy(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|t| t.rsplit_once(") ").and_then(|(_, r)| r.chars().next()))
}

/// Looks [`LOOKS`] times over `interval`; `between` runs at the first and the last look (the
/// socket-growth count shares the same two moments).
pub fn sample(
    netns: &NetnsTarget,
    t: &Target,
    interval: Duration,
    between: &mut dyn FnMut(),
) -> Looks {
    let start = Instant::now();
    let first = overflows(netns, &t.pids);
    let mut per: Vec<(u64, Vec<QueueLook>)> = t.inodes.iter().map(|&i| (i, Vec::new())).collect();
    let mut before: Option<HashSet<Waiting>> = None;
    let mut moved = false;
    for k in 0..LOOKS {
        if k == 0 || k + 1 == LOOKS {
            between();
        }
        let (listeners, waiting) = queues(netns, t.port);
        if let Some(b) = &before {
            moved |= b.iter().any(|w| !waiting.contains(w));
        }
        before = Some(waiting);
        for (inode, q) in listeners {
            if let Some((_, v)) = per.iter_mut().find(|(i, _)| *i == inode) {
                v.push(q);
            }
        }
        if k + 1 < LOOKS {
            // A deliberate interval between looks: what `--sample` asks for.
            std::thread::sleep(interval / (LOOKS - 1));
        }
    }
    let last = overflows(netns, &t.pids);
    Looks {
        queues: per.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        span_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        overflows: first.zip(last).map(|(a, b)| b.saturating_sub(a)),
        states: t
            .pids
            .iter()
            .filter_map(|&p| state_of(p).map(|s| (p, s)))
            .collect(),
        moved: Some(moved),
    }
}
