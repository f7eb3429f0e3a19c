//! History: a compact log of what happened on ports (a socket appeared, changed state, went
//! away, with its owners), kept bounded in memory and, with `--record`, appended to a file.
//!
//! The same [`Change`] record comes from two places: the diff of two consecutive snapshots (the
//! TUI) and watch events (`portscope watch --record`). [`History::holders_at`] answers "who held
//! 8080 at 03:12:05?" from either.

mod diff;
pub mod log;
pub mod rotate;
mod table;

pub use diff::{changes_since, diff};
pub use log::{Recorder, SnapshotRecorder};
pub use table::Table;

use crate::model::{Family, Owner, Proto, Snapshot, Socket, State};
use crate::watch::{EventKind, WatchEvent};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// There when recording started.
    Present,
    Appeared,
    Changed,
    Gone,
    /// A recording session started (not in the file as such: made from its header). What an
    /// earlier session left alive on `local_port` (0: every port) is no longer known.
    Restart,
}

/// One change of one socket. Its serde form is a record of the history log (version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub at: jiff::Timestamp,
    pub kind: ChangeKind,
    pub proto: Proto,
    pub family: Family,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    /// The socket inode where known (0: TIME_WAIT, or a tracepoint event).
    #[serde(default)]
    pub inode: u64,
    /// The state after the change (for `gone`, the last state seen).
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_state: Option<State>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Shared with the snapshot it came from: a change costs no copy of its owners.
    pub owners: Vec<std::sync::Arc<Owner>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_chosen: Option<bool>,
}

impl Change {
    /// Where the socket sorts: as in a snapshot's table (see [`crate::model::TableOrder`]).
    pub fn table_order(&self) -> crate::model::TableOrder {
        (
            self.proto,
            self.local_port,
            self.state,
            self.local_addr,
            self.remote_addr,
            self.remote_port,
            self.inode,
            0,
        )
    }

    /// The identity of the socket, as [`Socket::key`] gives it: a change and the socket it
    /// came from are matched by it.
    pub(crate) fn key(&self) -> crate::model::SocketKey {
        crate::model::SocketKey {
            proto: self.proto,
            local: (self.local_addr, self.local_port),
            remote: (self.remote_addr, self.remote_port),
            inode: self.inode,
        }
    }

    pub fn of_socket(
        s: &Socket,
        kind: ChangeKind,
        at: jiff::Timestamp,
        old: Option<State>,
    ) -> Self {
        Change {
            at,
            kind,
            proto: s.proto,
            family: s.family,
            local_addr: s.local_addr,
            local_port: s.local_port,
            remote_addr: s.remote_addr,
            remote_port: s.remote_port,
            inode: s.inode,
            state: s.state,
            old_state: old,
            owners: s.owners.to_vec(),
            kernel_chosen: (s.inode != 0).then_some(s.autobound),
        }
    }

    pub fn from_event(e: &WatchEvent) -> Self {
        Change {
            at: e.time,
            kind: match e.event {
                EventKind::Held => ChangeKind::Present,
                EventKind::Take => ChangeKind::Appeared,
                EventKind::State => ChangeKind::Changed,
                EventKind::Leave => ChangeKind::Gone,
                // A refused bind took nothing: kept as a change of nothing, for the record.
                EventKind::Refused => ChangeKind::Changed,
            },
            proto: e.proto,
            family: e.family,
            local_addr: e.local_addr,
            local_port: e.local_port,
            remote_addr: e.remote_addr,
            remote_port: e.remote_port,
            inode: e.inode,
            state: e.state,
            old_state: e.old_state,
            owners: e.owner.iter().cloned().map(std::sync::Arc::new).collect(),
            kernel_chosen: e.kernel_chosen,
        }
    }

    /// Restart markers for a session watching `ports` (empty: all ports).
    pub fn restarts(at: jiff::Timestamp, ports: &[u16]) -> Vec<Change> {
        let any: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        let mk = |port: u16| Change {
            at,
            kind: ChangeKind::Restart,
            proto: Proto::Tcp,
            family: Family::Ipv4,
            local_addr: any,
            local_port: port,
            remote_addr: any,
            remote_port: 0,
            inode: 0,
            state: State::Close,
            old_state: None,
            owners: Vec::new(),
            kernel_chosen: None,
        };
        if ports.is_empty() {
            vec![mk(0)]
        } else {
            ports.iter().map(|&p| mk(p)).collect()
        }
    }

    /// Rough size, for the memory bound: owners are shared with snapshots and other changes,
    /// so only their pointers count.
    fn weight(&self) -> usize {
        std::mem::size_of::<Change>() + self.owners.len() * std::mem::size_of::<usize>()
    }
}

/// A snapshot rebuilt from a recording at moment `t`: the sockets alive then, with their owners.
/// Sysctls were not recorded, so they are marked unread (kernel defaults shown).
pub fn snapshot_at(h: &History, t: jiff::Timestamp, what: &str) -> Snapshot {
    let table = h.table_at(t);
    let sockets = table
        .on_port(None)
        .into_iter()
        .map(|c| {
            let owners: Vec<std::sync::Arc<Owner>> = c.owners.clone();
            Socket {
                proto: c.proto,
                family: c.family,
                state: c.state,
                local_addr: c.local_addr,
                local_port: c.local_port,
                remote_addr: c.remote_addr,
                remote_port: c.remote_port,
                inode: c.inode,
                cookie: 0,
                uid: c.owners.first().map_or(0, |o| o.uid),
                rx_queue: 0,
                tx_queue: 0,
                autobound: c.kernel_chosen == Some(true),
                accept_queue: false,
                published: None,
                netns: 0,
                v6only: None,
                expires_ms: None,
                kernel_held: c.inode == 0 && c.owners.is_empty(),
                owner_hidden: false,
                owners: std::sync::Arc::from(owners),
            }
        })
        .collect::<Vec<_>>();
    let mut snap = crate::model::Snapshot {
        version: crate::model::JSON_VERSION,
        taken_at: t,
        source: crate::model::Source::Netlink,
        netns: crate::model::NetnsInfo {
            target: what.to_string(),
            inode: 0,
            is_own: false,
        },
        sysctl: crate::model::Sysctls {
            unread: vec![
                "ip_local_port_range".into(),
                "ip_local_reserved_ports".into(),
                "ip_unprivileged_port_start".into(),
            ],
            ..Default::default()
        },
        stats: Default::default(),
        warnings: vec![format!(
            "{what}: the sockets as recorded (sysctls were not recorded: kernel defaults shown)"
        )],
        sockets,
        namespaces: Vec::new(),
        node_port_range: None,
    };
    snap.stats.sockets = snap.sockets.len();
    snap.stats.kernel_held = snap.sockets.iter().filter(|s| s.kernel_held).count();
    snap.stats.owned = snap.stats.sockets - snap.stats.kernel_held;
    snap
}

/// Limits of the in-memory history: whichever is reached first.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_age: std::time::Duration,
    pub max_bytes: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            max_age: std::time::Duration::from_secs(3600),
            max_bytes: 50 * 1024 * 1024,
        }
    }
}

/// A bounded timeline: the table at the oldest kept moment plus every change since. Old changes
/// are folded into the base table, so any moment still kept can be rebuilt exactly.
#[derive(Debug, Default, Clone)]
pub struct History {
    base: Table,
    base_at: Option<jiff::Timestamp>,
    changes: VecDeque<Change>,
    bytes: usize,
    bounds: Bounds,
}

impl History {
    pub fn new(bounds: Bounds) -> Self {
        History {
            bounds,
            ..Default::default()
        }
    }

    pub fn from_changes(changes: Vec<Change>) -> Self {
        let mut h = History::new(Bounds {
            max_age: std::time::Duration::MAX,
            max_bytes: usize::MAX,
        });
        for c in changes {
            h.push(c);
        }
        h
    }

    pub fn push(&mut self, c: Change) {
        self.bytes += c.weight();
        self.changes.push_back(c);
        self.trim();
    }

    fn trim(&mut self) {
        let newest = match self.changes.back() {
            Some(c) => c.at,
            None => return,
        };
        let age = jiff::SignedDuration::try_from(self.bounds.max_age)
            .unwrap_or(jiff::SignedDuration::MAX);
        let oldest_kept = newest.checked_sub(age).unwrap_or(jiff::Timestamp::MIN);
        while let Some(front) = self.changes.front() {
            if front.at >= oldest_kept && self.bytes <= self.bounds.max_bytes {
                break;
            }
            let Some(c) = self.changes.pop_front() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(c.weight());
            self.base.apply(&c);
            self.base_at = Some(c.at);
        }
    }

    /// The oldest moment that can still be rebuilt, and the newest change.
    pub fn span(&self) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
        let first = self.base_at.or(self.changes.front().map(|c| c.at))?;
        let last = self.changes.back().map_or(first, |c| c.at);
        Some((first, last))
    }

    /// The table as it was at `t` (every change at or before `t` applied).
    pub fn table_at(&self, t: jiff::Timestamp) -> Table {
        let mut table = self.base.clone();
        for c in self.changes.iter().take_while(|c| c.at <= t) {
            table.apply(c);
        }
        table
    }

    /// Every kept change on `port` (all ports when None), oldest first.
    pub fn timeline(&self, port: Option<u16>) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| {
            c.kind != ChangeKind::Restart && port.is_none_or(|p| c.local_port == p)
        })
    }

    /// Times of the kept changes, for stepping through them.
    pub fn moments(&self) -> impl Iterator<Item = jiff::Timestamp> + '_ {
        self.changes.iter().map(|c| c.at)
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, owner};

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn held_by(port: u16, pid: u32, kind: ChangeKind, t: i64) -> Change {
        let mut s = listener(port);
        s.inode = u64::from(pid);
        s.owners = std::sync::Arc::from([owner(pid, "svc")]);
        Change::of_socket(&s, kind, at(t), None)
    }

    fn pids(table: &Table, port: u16) -> Vec<u32> {
        table
            .on_port(Some(port))
            .iter()
            .flat_map(|c| c.owners.iter().map(|o| o.pid))
            .collect()
    }

    /// take by 1, release, take by 2 - asked at every second, with and without trimming.
    #[test]
    fn holders_at_each_moment_survive_trimming() {
        let changes = vec![
            held_by(8080, 1, ChangeKind::Appeared, 10),
            held_by(8080, 1, ChangeKind::Gone, 20),
            held_by(8080, 2, ChangeKind::Appeared, 30),
            held_by(9090, 3, ChangeKind::Appeared, 40),
        ];
        let full = History::from_changes(changes.clone());
        let want = |t: i64| match t {
            10..20 => vec![1],
            30.. => vec![2],
            _ => vec![],
        };
        for t in 0..45 {
            assert_eq!(pids(&full.table_at(at(t)), 8080), want(t), "t={t}");
        }
        // Keep 15 s: the first two changes fold into the base, later moments are unchanged.
        let mut short = History::new(Bounds {
            max_age: std::time::Duration::from_secs(15),
            max_bytes: usize::MAX,
        });
        for c in changes {
            short.push(c);
        }
        assert_eq!(short.len(), 2);
        assert_eq!(short.span().map(|s| s.0), Some(at(20)));
        for t in 20..45 {
            assert_eq!(pids(&short.table_at(at(t)), 8080), want(t), "t={t}");
        }
        // The byte bound alone also trims.
        let mut small = History::new(Bounds {
            max_age: std::time::Duration::MAX,
            max_bytes: 1,
        });
        small.push(held_by(8080, 1, ChangeKind::Appeared, 1));
        small.push(held_by(8080, 1, ChangeKind::Gone, 2));
        assert!(small.is_empty());
        assert!(pids(&small.table_at(at(3)), 8080).is_empty());
    }

    #[test]
    fn a_restart_forgets_what_an_earlier_session_left_alive_on_its_ports() {
        let mut t = Table::default();
        t.apply(&held_by(8080, 1, ChangeKind::Appeared, 1));
        t.apply(&held_by(9090, 2, ChangeKind::Appeared, 1));
        for c in Change::restarts(at(5), &[8080]) {
            t.apply(&c);
        }
        assert!(pids(&t, 8080).is_empty());
        assert_eq!(pids(&t, 9090), vec![2]);
        for c in Change::restarts(at(6), &[]) {
            t.apply(&c);
        }
        assert!(t.is_empty());
    }

    #[test]
    fn snapshot_diff_reports_appeared_changed_gone() {
        use crate::model::test_support::{outgoing, snapshot, with_state};
        let a = snapshot(vec![listener(80), outgoing(40000, 5432)]);
        let mut b = snapshot(vec![listener(80), listener(81)]);
        b.taken_at = at(1);
        let d = diff(&a, &b);
        let kinds: Vec<(u16, ChangeKind)> = d.iter().map(|c| (c.local_port, c.kind)).collect();
        assert_eq!(
            kinds,
            vec![(81, ChangeKind::Appeared), (40000, ChangeKind::Gone)]
        );
        let c = snapshot(vec![with_state(listener(80), State::Close), listener(81)]);
        let d = diff(&b, &c);
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].kind, d[0].old_state),
            (ChangeKind::Changed, Some(State::Listen))
        );
    }
}
