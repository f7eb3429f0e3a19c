//! Why connect() fails with EADDRNOTAVAIL: the ephemeral ports toward one destination, the
//! kernel's way.
//!
//! A connection's local port only has to make its 4-tuple unique, so exhaustion is per
//! destination (source address, destination address and port): one pool of clients can use
//! every port toward 127.0.0.1:5432 while 127.0.0.1:6432 still connects. connect() picks from
//! `ip_local_port_range`, skips `ip_local_reserved_ports`, never shares a port that bind() holds
//! (listeners, bound sockets: their bind bucket is not connect()'s), and skips ports already
//! used toward that destination, TIME_WAIT included unless `tcp_tw_reuse` lets it take one over
//! (1: any outgoing connection, 2: loopback only; both with timestamps, and only after a second
//! in TIME_WAIT). `check`'s old "100 of 100 ephemeral ports usable" measured the range, not use.
//!
//! Limits, said where they matter: a client that bound port 0 explicitly holds its port from
//! every destination, but the socket tables cannot tell it from connect()'s own choice (both
//! are "autobound"); a socket's own IP_LOCAL_PORT_RANGE (Linux 6.3+) is in no table.

use crate::model::{Owner, Proto, Snapshot, Socket, State, Sysctls};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Share of usable ports in use from which a destination is at risk.
pub const AT_RISK_SHARE: f64 = 0.8;
/// How long a TIME_WAIT holds its port (TCP_TIMEWAIT_LEN): what a rate is measured against.
pub const TIME_WAIT_SECS: u64 = 60;
/// Processes named per destination.
pub const TOP_HOLDERS: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectVerdict {
    /// No port left: connect() fails with EADDRNOTAVAIL now.
    Exhausted,
    /// At least [`AT_RISK_SHARE`] of the usable ports are in use, or the measured rate runs out
    /// within one TIME_WAIT period.
    AtRisk,
    Ok,
}

impl ConnectVerdict {
    pub fn label(self) -> &'static str {
        match self {
            ConnectVerdict::Exhausted => "EXHAUSTED",
            ConnectVerdict::AtRisk => "AT RISK",
            ConnectVerdict::Ok => "OK",
        }
    }
}

/// A process holding ports toward the destination, with how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortHolder {
    pub owner: Option<Arc<Owner>>,
    /// TIME_WAIT sockets have no process; nor do sockets whose owner is hidden.
    pub label: String,
    pub ports: usize,
}

/// The ephemeral ports toward one destination from one source address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortUse {
    pub source: IpAddr,
    pub dest: IpAddr,
    pub dest_port: u16,
    /// `ip_local_port_range`.
    pub range: [u16; 2],
    pub range_size: usize,
    /// Reserved ports inside the range (connect() skips them).
    pub reserved: usize,
    /// Ports of the range that bind() holds (listeners, bound sockets): never connect()'s.
    pub bound: usize,
    /// What connect() may pick from toward any destination: range - reserved - bound.
    pub usable: usize,
    /// Ports of `usable` in use toward this destination.
    pub in_use: usize,
    /// `in_use` by socket state, as `ss` names states.
    pub by_state: BTreeMap<String, usize>,
    /// TIME_WAIT sockets toward the destination that `tcp_tw_reuse` lets connect() take over.
    pub tw_reusable: usize,
    /// TIME_WAIT sockets it does not (what `tcp_tw_reuse=1` would give back).
    pub tw_blocking: usize,
    /// `usable - in_use + tw_reusable`: what the next connect() can still get.
    pub available: usize,
    pub tcp_tw_reuse: Option<u8>,
    pub holders: Vec<PortHolder>,
    pub verdict: ConnectVerdict,
    /// New connections per second toward it, from two looks (`--sample`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_per_s: Option<f64>,
    /// At that rate, seconds until no port is left (when that is within a TIME_WAIT period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exhausted_in_s: Option<u64>,
    /// Holders whose sockets set their own narrower range (IP_LOCAL_PORT_RANGE): they run out
    /// first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub narrowed: Vec<Narrowed>,
}

/// A client whose sockets carry their own IP_LOCAL_PORT_RANGE, and what is left to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrowed {
    pub label: String,
    /// The range as the socket sets it...
    pub set: [u16; 2],
    /// ...and as the kernel applies it (inside the namespace's range).
    pub effective: [u16; 2],
    /// Ports of it connect() can still give this client toward the destination.
    pub available: usize,
}

impl PortUse {
    /// In use as a share of usable (1.0 when nothing is usable).
    pub fn share(&self) -> f64 {
        if self.usable == 0 {
            1.0
        } else {
            (self.usable - self.available.min(self.usable)) as f64 / self.usable as f64
        }
    }

    /// Puts in a rate measured by the caller (new connections toward the destination over an
    /// interval) and what it foretells.
    #[must_use]
    pub fn with_rate(mut self, new_connections: usize, interval_s: f64) -> PortUse {
        if interval_s <= 0.0 {
            return self;
        }
        let rate = new_connections as f64 / interval_s;
        self.rate_per_s = Some(rate);
        // Ports come back only after a TIME_WAIT: within that period what is left is all
        // there is, so at `rate` it lasts `available / rate` seconds.
        if rate > 0.0 && self.available > 0 {
            // Both are positive, and a float cast saturates rather than wraps.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let secs = (self.available as f64 / rate).ceil() as u64;
            if secs <= TIME_WAIT_SECS {
                self.exhausted_in_s = Some(secs);
                if self.verdict == ConnectVerdict::Ok {
                    self.verdict = ConnectVerdict::AtRisk;
                }
            }
        }
        self
    }
}

impl PortUse {
    /// Takes in that `label`'s sockets set IP_LOCAL_PORT_RANGE `set`: what is left to it is
    /// counted inside that range, and when nothing is, connect() fails for it now.
    #[must_use]
    pub fn with_socket_range(mut self, snap: &Snapshot, label: &str, set: [u16; 2]) -> PortUse {
        let (glo, ghi) = snap.sysctl.ephemeral();
        // inet_sk_get_local_port_range: each end applies only inside the namespace's range.
        let lo = if (glo..=ghi).contains(&set[0]) {
            set[0]
        } else {
            glo
        };
        let hi = if (glo..=ghi).contains(&set[1]) && set[1] >= lo {
            set[1]
        } else {
            ghi
        };
        if (lo, hi) == (glo, ghi) {
            return self;
        }
        let closed = closed(snap);
        let taken: BTreeSet<u16> = outgoing(snap, &closed)
            .filter(|s| {
                unmapped(s.local_addr) == self.source
                    && unmapped(s.remote_addr) == self.dest
                    && s.remote_port == self.dest_port
                    && !(s.state == State::TimeWait && tw_reusable(s, snap.sysctl.tcp_tw_reuse))
            })
            .map(|s| s.local_port)
            .collect();
        let available = (lo..=hi)
            .filter(|p| !snap.sysctl.ip_local_reserved_ports.contains(*p))
            .filter(|p| !closed.bound.contains(p) && !taken.contains(p))
            .count();
        if available == 0 {
            self.verdict = ConnectVerdict::Exhausted;
        } else if self.verdict == ConnectVerdict::Ok
            && available as f64 <= (1.0 - AT_RISK_SHARE) * f64::from(hi - lo + 1)
        {
            self.verdict = ConnectVerdict::AtRisk;
        }
        self.narrowed.push(Narrowed {
            label: label.to_string(),
            set,
            effective: [lo, hi],
            available,
        });
        self
    }
}

/// Whether a socket's port came from bind() (its bucket is bind's: connect() never shares it).
/// A TIME_WAIT or request socket says nothing; a connection the kernel numbered is connect()'s
/// unless the snapshot could not tell (read from /proc: no bind-lock mark).
fn bound_by_bind(s: &Socket, marks_known: bool) -> bool {
    match s.state {
        State::Listen | State::BoundInactive => true,
        State::TimeWait | State::SynRecv => false,
        _ => marks_known && s.inode != 0 && !s.autobound,
    }
}

/// The address as IPv4 when it is a v4-mapped IPv6 one: one destination either way.
pub fn unmapped(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        IpAddr::V4(_) => a,
    }
}

/// Whether `tcp_tw_reuse` lets connect() take over this TIME_WAIT: 1 for any destination,
/// 2 for loopback only; and only after it has been in TIME_WAIT for a second.
fn tw_reusable(s: &Socket, tw_reuse: Option<u8>) -> bool {
    let old_enough = s
        .expires_ms
        .is_none_or(|left| u64::from(left) < (TIME_WAIT_SECS - 1) * 1000);
    let allowed = match tw_reuse {
        Some(1) => true,
        Some(2) => unmapped(s.local_addr).is_loopback() && unmapped(s.remote_addr).is_loopback(),
        _ => false,
    };
    allowed && old_enough
}

/// The ports of the range connect() can never pick: reserved, or held by bind().
struct Closed {
    reserved: usize,
    bound: BTreeSet<u16>,
}

fn closed(snap: &Snapshot) -> Closed {
    let sys = &snap.sysctl;
    let (lo, hi) = sys.ephemeral();
    let marks_known = snap.source == crate::model::Source::Netlink;
    let bound = snap
        .sockets
        .iter()
        .filter(|s| s.proto == Proto::Tcp && (lo..=hi).contains(&s.local_port))
        .filter(|s| !sys.ip_local_reserved_ports.contains(s.local_port))
        .filter(|s| bound_by_bind(s, marks_known))
        .map(|s| s.local_port)
        .collect();
    Closed {
        reserved: (lo..=hi)
            .filter(|p| sys.ip_local_reserved_ports.contains(*p))
            .count(),
        bound,
    }
}

/// Every destination local clients connect to, busiest first (by share of usable ports), at
/// most `limit`.
pub fn destinations(snap: &Snapshot, limit: usize) -> Vec<PortUse> {
    destinations_on(snap, None, limit)
}

/// As [`destinations`], only those on port `port` (`why PORT` asks this on every tick).
pub fn destinations_on(snap: &Snapshot, port: Option<u16>, limit: usize) -> Vec<PortUse> {
    ranked(snap, limit, |s| port.is_none_or(|p| p == s.remote_port))
}

/// A holder's owner (none for TIME_WAIT and hidden owners) and its port count.
type Counted = (Option<Arc<Owner>>, usize);

/// A destination (source, destination, port), its sockets, what blocks of it and its ports.
type Group<'s> = ((IpAddr, IpAddr, u16), Vec<&'s Socket>, usize, usize);

/// The destinations of the outgoing connections `keep` selects, busiest first, at most
/// `limit`. Ranked on cheap counts first (the TUI asks for the top 3 of 100k sockets on every
/// full refresh); only those kept are described in full.
fn ranked(snap: &Snapshot, limit: usize, keep: impl Fn(&Socket) -> bool) -> Vec<PortUse> {
    let closed = closed(snap);
    let mut by_dest: HashMap<(IpAddr, IpAddr, u16), Vec<&Socket>> = HashMap::new();
    for s in outgoing(snap, &closed).filter(|s| keep(s)) {
        by_dest
            .entry((
                unmapped(s.local_addr),
                unmapped(s.remote_addr),
                s.remote_port,
            ))
            .or_default()
            .push(s);
    }
    let tw_reuse = snap.sysctl.tcp_tw_reuse;
    let mut groups: Vec<Group> = by_dest
        .into_iter()
        .map(|(k, socks)| {
            let mut ports: Vec<u16> = socks.iter().map(|s| s.local_port).collect();
            ports.sort_unstable();
            ports.dedup();
            let reusable = socks
                .iter()
                .filter(|s| s.state == State::TimeWait && tw_reusable(s, tw_reuse))
                .count();
            let in_use = ports.len();
            (k, socks, in_use.saturating_sub(reusable), in_use)
        })
        .collect();
    // Usable is the same for every destination, so the share in use orders as what blocks.
    groups.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then(b.3.cmp(&a.3))
            .then((a.0.1, a.0.2, a.0.0).cmp(&(b.0.1, b.0.2, b.0.0)))
    });
    groups.truncate(limit);
    groups
        .into_iter()
        .map(|((src, dst, port), socks, _, _)| use_of(snap, &closed, src, dst, port, &socks))
        .collect()
}

/// The use toward each of `dests` (the addresses a name stands for), busiest first.
pub fn toward_each(snap: &Snapshot, dests: &[IpAddr], port: Option<u16>) -> Vec<PortUse> {
    let mut out: Vec<PortUse> = dests.iter().flat_map(|a| toward(snap, *a, port)).collect();
    out.sort_by(|a, b| b.share().total_cmp(&a.share()));
    out
}

/// The use toward `dest` (every port when `port` is `None`), one entry per source address and
/// destination port, busiest first. A destination nothing connects to yet gets one entry with
/// nothing in use, from the unspecified source.
pub fn toward(snap: &Snapshot, dest: IpAddr, port: Option<u16>) -> Vec<PortUse> {
    let dest = unmapped(dest);
    let mut found = ranked(snap, usize::MAX, |s| {
        port.is_none_or(|p| p == s.remote_port) && unmapped(s.remote_addr) == dest
    });
    if found.is_empty() {
        let closed = closed(snap);
        let src = if dest.is_ipv4() {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        };
        found.push(use_of(snap, &closed, src, dest, port.unwrap_or(0), &[]));
    }
    found
}

/// Connections whose local port connect() picked from the range (the ones that use it up).
fn outgoing<'s>(snap: &'s Snapshot, closed: &Closed) -> impl Iterator<Item = &'s Socket> {
    let sys = &snap.sysctl;
    let (lo, hi) = sys.ephemeral();
    snap.sockets.iter().filter(move |s| {
        s.proto == Proto::Tcp
            && s.remote_port != 0
            && !matches!(
                s.state,
                State::Listen | State::BoundInactive | State::SynRecv
            )
            && (lo..=hi).contains(&s.local_port)
            && !sys.ip_local_reserved_ports.contains(s.local_port)
            && !closed.bound.contains(&s.local_port)
    })
}

fn use_of(
    snap: &Snapshot,
    closed: &Closed,
    source: IpAddr,
    dest: IpAddr,
    dest_port: u16,
    socks: &[&Socket],
) -> PortUse {
    let sys: &Sysctls = &snap.sysctl;
    let (lo, hi) = sys.ephemeral();
    let range_size = usize::from(hi.saturating_sub(lo)) + 1;
    let usable = range_size.saturating_sub(closed.reserved + closed.bound.len());
    let mut ports: Vec<u16> = socks.iter().map(|s| s.local_port).collect();
    ports.sort_unstable();
    ports.dedup();
    let in_use = ports.len();
    // Counted by value, named once at the end: no text is made per socket.
    let mut states: BTreeMap<State, usize> = BTreeMap::new();
    let (mut tw_reusable_n, mut tw_blocking) = (0, 0);
    // Keyed by process (pid and start), with TIME_WAIT and hidden owners as their own keys.
    let mut counts: HashMap<(u32, u64, u8), Counted> = HashMap::new();
    for s in socks {
        *states.entry(s.state).or_default() += 1;
        if s.state == State::TimeWait {
            if tw_reusable(s, sys.tcp_tw_reuse) {
                tw_reusable_n += 1;
            } else {
                tw_blocking += 1;
            }
        }
        let key = match s.owners.first() {
            Some(o) => (o.pid, o.start_time, 0),
            None if s.state == State::TimeWait => (0, 0, 1),
            None => (0, 0, 2),
        };
        counts
            .entry(key)
            .or_insert_with(|| (s.owners.first().cloned(), 0))
            .1 += 1;
    }
    let by_state: BTreeMap<String, usize> = states
        .into_iter()
        .map(|(st, n)| (st.ss_name().to_string(), n))
        .collect();
    let mut holders: Vec<PortHolder> = counts
        .into_iter()
        .map(|((_, _, kind), (owner, ports))| PortHolder {
            label: match (&owner, kind) {
                (Some(o), _) => o.label(),
                (None, 1) => "TIME_WAIT (no process)".to_string(),
                (None, _) => "a process portscope cannot see".to_string(),
            },
            owner,
            ports,
        })
        .collect();
    holders.sort_by(|a, b| b.ports.cmp(&a.ports).then(a.label.cmp(&b.label)));
    holders.truncate(TOP_HOLDERS);
    let available = usable.saturating_sub(in_use) + tw_reusable_n;
    let verdict = if available == 0 {
        ConnectVerdict::Exhausted
    } else if usable > 0 && (usable - available.min(usable)) as f64 >= AT_RISK_SHARE * usable as f64
    {
        ConnectVerdict::AtRisk
    } else {
        ConnectVerdict::Ok
    };
    PortUse {
        source,
        dest,
        dest_port,
        range: sys.ip_local_port_range,
        range_size,
        reserved: closed.reserved,
        bound: closed.bound.len(),
        usable,
        in_use,
        by_state,
        tw_reusable: tw_reusable_n,
        tw_blocking,
        available,
        tcp_tw_reuse: sys.tcp_tw_reuse,
        holders,
        verdict,
        rate_per_s: None,
        exhausted_in_s: None,
        narrowed: Vec::new(),
    }
}

#[cfg(test)]
#[path = "connect_tests.rs"]
mod tests;
