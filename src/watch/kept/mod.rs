//! A TCP table kept from the kernel's own announcements instead of dumped on every tick.
//!
//! Every TCP state change fires `sock:inet_sock_set_state` (read through perf, no BPF). An event
//! says *that* a socket changed, not reliably *what* it is now: it carries no namespace (a
//! container's connection has the same kind of addresses as ours), a connect's port is chosen
//! after its SYN_SENT event, and a TIME_WAIT is a new kernel object with no event of its own.
//! So an event only marks its four addresses as touched; once the batch is read, each touched
//! socket is asked for by its addresses in the watched namespace (the kernel's exact lookup, a
//! hash probe of a few microseconds), and the kernel's answer is what is kept: the socket as a
//! dump would show it, or its absence. A socket of another namespace is simply not found.
//!
//! What changes without an event is looked up again when it is due: a TIME_WAIT when its timer
//! runs out, a connection waiting in an accept queue until a process accepts it (that gives it
//! an inode and an owner). Request sockets (SYN-RECV) and sockets bound without listening have
//! no event at all: they are carried from the last dump, like the queues of the others, and the
//! bound ones are read again on a cadence of their own ([`bound`]).
//!
//! A verifying dump, paced by the caller, compares the kept table with the kernel's socket by
//! socket and owner by owner ([`compare`]); a difference is counted and repaired by the dump.

mod bound;
pub mod compare;
mod owners;
mod reader;

use super::TraceError;
use super::sample::{PENDING_TTL, Sample, TCP_CLOSE, TCP_LISTEN, TCP_SYN_SENT};
use super::trace::Tracer;
use crate::collect::netlink::Dumper;
use crate::collect::netns::NetnsTarget;
use crate::collect::owner_cache::OwnerCache;
use crate::model::{Family, Proto, Snapshot, Socket, State, TableOrder};
use reader::Reader;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A TCP socket's identity within one namespace: family and both ends.
pub type Tuple = (Family, IpAddr, u16, IpAddr, u16);

fn tuple_of(s: &Socket) -> Tuple {
    (
        s.family,
        s.local_addr,
        s.local_port,
        s.remote_addr,
        s.remote_port,
    )
}

/// A lookup costs a few microseconds, a dump about one per socket (plus the owner join): past a
/// quarter of the table (or a few thousand) in one batch, one dump is cheaper.
const DUMP_SHARE: usize = 4;
const LOOKUPS_FLOOR: usize = 4096;
/// A TIME_WAIT still there when its timer said it would be gone is asked about again this soon.
const RECHECK_LATE: Duration = Duration::from_millis(500);

/// How the kept table stands against the kernel, for the status line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verified {
    /// When the last verifying dump was compared.
    pub at: Option<jiff::Timestamp>,
    /// Sockets compared then, and how many differed.
    pub compared: u32,
    pub differences: u32,
    /// Differences found since the table was first kept (each repaired by its dump).
    pub differences_total: u64,
    /// Times a full ring forced a dump.
    pub overflows: u64,
}

/// What one update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The table is current; `changed` when anything in it changed.
    Current { changed: bool },
    /// Events were lost (a full ring) or too many sockets changed to look up one by one: only a
    /// dump makes the table right again.
    NeedsDump,
}

pub struct Kept {
    reader: Reader,
    dumper: Dumper,
    samples: Vec<Sample>,
    /// The kept sockets in table order, and where each tuple sits in it.
    table: BTreeMap<TableOrder, Socket>,
    index: FxHashMap<Tuple, TableOrder>,
    /// The tuple of each kept socket with an inode: the owner cache names sockets whose holders
    /// changed by inode, and a rejoin goes to them instead of walking 100k sockets (which any
    /// process opening a socket anywhere on the host, portscope included, made it do per tick).
    by_inode: FxHashMap<u64, Tuple>,
    /// Request and bound-only sockets: as of the last dump (no event announces them).
    carried: Vec<Socket>,
    /// Connects whose port was not chosen yet at their SYN_SENT event, by socket address, with
    /// the process that called connect().
    connecting: FxHashMap<u64, (Instant, u32)>,
    /// The process that made a change in its own context (connect, close), by tuple: where a
    /// new socket's owner is looked for first.
    callers: FxHashMap<Tuple, u32>,
    /// Tuples whose port the kernel chose at connect (`autobound`), until looked up.
    autobound: FxHashSet<Tuple>,
    /// Sockets to ask about again at a time: a TIME_WAIT's end, an accept.
    due: FxHashMap<Tuple, Instant>,
    /// Sockets touched by events not yet looked up, and events lost since the last update.
    pending: FxHashSet<Tuple>,
    lost: u64,
    /// Whether a dump has given the table its start.
    seeded: bool,
    /// The owner cache's generation the table's owners were joined at.
    joined: u64,
    pub verified: Verified,
    pub counts: Counts,
}

/// What the table has done since it started (for tests and benchmarks).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub events: u64,
    pub lookups: u64,
    /// TIME_WAITs found gone when their timer was due.
    pub expired: u64,
    /// Updates that asked for a dump (events lost, too many to look up, a failed lookup).
    pub dumps_asked: u64,
}

impl Kept {
    /// Starts reading TCP events host-wide, to keep `netns`'s table. The table is empty until
    /// [`Kept::reseed`] gives it a dump taken after this (so no change falls between the two).
    pub fn start(netns: &NetnsTarget) -> Result<Kept, TraceError> {
        let (tracer, _notes) = Tracer::open_all_tcp()?;
        let dumper = netns
            .run_in(|| Dumper::open().map(Dumper::into_fd))
            .map_err(|e| TraceError::Io(std::io::Error::other(e.to_string())))?
            .map(Dumper::from_fd)
            .map_err(|e| {
                TraceError::call("opening a netlink sock_diag socket")(std::io::Error::from(e))
            })?;
        let reader = Reader::spawn(tracer).map_err(TraceError::Io)?;
        Ok(Kept {
            reader,
            dumper,
            samples: Vec::new(),
            table: BTreeMap::new(),
            index: FxHashMap::default(),
            by_inode: FxHashMap::default(),
            carried: Vec::new(),
            connecting: FxHashMap::default(),
            callers: FxHashMap::default(),
            autobound: FxHashSet::default(),
            due: FxHashMap::default(),
            pending: FxHashSet::default(),
            lost: 0,
            seeded: false,
            joined: 0,
            verified: Verified::default(),
            counts: Counts::default(),
        })
    }

    /// Whether `s` is a socket this table keeps from events (listeners are read every tick;
    /// UDP has no state events).
    fn keeps(s: &Socket) -> bool {
        s.proto == Proto::Tcp && s.state != State::Listen
    }

    /// Replaces the table with the connections of `full`, a dump just taken.
    pub fn reseed(&mut self, full: &Snapshot, cache: &OwnerCache) {
        self.seeded = true;
        self.joined = cache.generation();
        self.table.clear();
        self.index.clear();
        self.by_inode.clear();
        self.carried.clear();
        self.due.clear();
        // Timers count from when the dump read them, not from now: a dump of a busy table takes
        // a while, and a TIME_WAIT looked at late would stay on screen past its end.
        let age = jiff::Timestamp::now()
            .duration_since(full.taken_at)
            .try_into()
            .unwrap_or(Duration::ZERO);
        let now = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
        for s in full.sockets.iter().filter(|s| Kept::keeps(s)) {
            if matches!(s.state, State::SynRecv | State::BoundInactive) {
                self.carried.push(s.clone());
            } else {
                self.insert(s.clone(), now);
            }
        }
    }

    fn insert(&mut self, s: Socket, now: Instant) {
        let t = tuple_of(&s);
        if let Some(ms) = s.expires_ms {
            // Timers fire late by design: never ask again sooner than this.
            let mut at = now + Duration::from_millis(u64::from(ms)).max(RECHECK_LATE);
            if s.state == State::FinWait2 {
                // An orphan's FIN_WAIT2 turns TIME_WAIT when the peer's FIN comes, silently.
                at = at.min(now + RECHECK_LATE * 2);
            }
            self.due.insert(t, at);
        } else if s.state == State::Established && s.inode == 0 {
            // Waiting to be accepted: the accept gives it an inode and an owner, silently.
            self.due.insert(t, now);
        }
        if let Some(old) = self.index.insert(t, s.table_order())
            && let Some(was) = self.table.remove(&old)
        {
            self.unindex(&was, &t);
        }
        if s.inode != 0 {
            self.by_inode.insert(s.inode, t);
        }
        self.table.insert(s.table_order(), s);
    }

    fn remove(&mut self, t: &Tuple) -> bool {
        self.due.remove(t);
        let Some(k) = self.index.remove(t) else {
            return false;
        };
        match self.table.remove(&k) {
            Some(was) => {
                self.unindex(&was, t);
                true
            }
            None => false,
        }
    }

    /// Forgets `was`'s inode, if it still names tuple `t`.
    fn unindex(&mut self, was: &Socket, t: &Tuple) {
        if was.inode != 0 && self.by_inode.get(&was.inode) == Some(t) {
            self.by_inode.remove(&was.inode);
        }
    }

    /// Reads the events since the last call and asks the kernel about every socket they
    /// touched (and those due again); owners of new sockets come from `cache`.
    /// `listeners` (with their owners) say who is likely to have accepted a new connection.
    pub fn update(&mut self, cache: &mut OwnerCache, listeners: &[Socket]) -> Update {
        let u = self.update_inner(cache, listeners);
        self.counts.dumps_asked += u64::from(u == Update::NeedsDump);
        u
    }

    fn update_inner(&mut self, cache: &mut OwnerCache, listeners: &[Socket]) -> Update {
        self.absorb();
        if std::mem::take(&mut self.lost) > 0 {
            self.verified.overflows += 1;
            self.pending.clear();
            return Update::NeedsDump;
        }
        let mut touched = std::mem::take(&mut self.pending);
        let now = Instant::now();
        touched.extend(
            self.due
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(t, _)| *t),
        );
        if touched.len() > self.lookup_budget() {
            return Update::NeedsDump;
        }
        match self.look_up(touched, cache, listeners) {
            Some(changed) => Update::Current { changed },
            None => Update::NeedsDump,
        }
    }

    /// Empties the rings into the set of touched sockets, so they never fill between updates
    /// (a busy host makes 10,000+ events a second); call it every few hundred milliseconds.
    pub fn absorb(&mut self) {
        let mut samples = std::mem::take(&mut self.samples);
        self.lost += self.reader.take(&mut samples);
        self.counts.events += samples.len() as u64;
        self.touched(&samples);
        self.samples = samples;
        // More than a dump's worth waiting (nobody updated for a long while): forget them and
        // let the next update ask for the dump, rather than hold an ever-growing set.
        if self.pending.len() > self.lookup_budget() {
            self.pending.clear();
            self.autobound.clear();
            self.lost += 1;
        }
    }

    /// How many sockets one update may look up before a dump is the cheaper way.
    fn lookup_budget(&self) -> usize {
        LOOKUPS_FLOOR.max(self.table.len() / DUMP_SHARE)
    }

    /// The addresses of the sockets `samples` changed (listeners are left to the tick).
    fn touched(&mut self, samples: &[Sample]) {
        let now = Instant::now();
        let touched = &mut self.pending;
        for s in samples {
            if s.new == TCP_LISTEN || s.old == TCP_LISTEN {
                continue;
            }
            if s.sport == 0 {
                // connect() announces SYN_SENT before it picks the port: wait for the next
                // change of the same socket, which carries it.
                if s.new == TCP_SYN_SENT {
                    let pid = if s.in_process { s.pid } else { 0 };
                    self.connecting.insert(s.skaddr, (now, pid));
                } else if s.new == TCP_CLOSE {
                    self.connecting.remove(&s.skaddr);
                }
                continue;
            }
            let t = (s.family, s.saddr, s.sport, s.daddr, s.dport);
            if let Some((_, pid)) = self.connecting.remove(&s.skaddr) {
                self.autobound.insert(t);
                if pid != 0 {
                    self.callers.insert(t, pid);
                }
            }
            if s.in_process && s.pid != 0 {
                self.callers.insert(t, s.pid);
            }
            touched.insert(t);
        }
        // A connect that never got further (its socket freed without a CLOSE we could place).
        self.connecting
            .retain(|_, (at, _)| now.duration_since(*at) < PENDING_TTL);
    }

    /// Asks the kernel about each tuple and keeps its answer. None when the kernel could not be
    /// asked (the table may be wrong: dump).
    fn look_up(
        &mut self,
        touched: FxHashSet<Tuple>,
        cache: &mut OwnerCache,
        listeners: &[Socket],
    ) -> Option<bool> {
        let now = Instant::now();
        let mut changed = false;
        let mut found = Vec::new();
        self.counts.lookups += touched.len() as u64;
        for t in touched {
            let timer = self.due.remove(&t).is_some_and(|at| at <= now)
                && self.get(&t).is_some_and(|s| s.expires_ms.is_some());
            match self.dumper.exact_tcp(t.0, (t.1, t.2), (t.3, t.4)) {
                Ok(Some(mut s)) if Kept::keeps(&s) => {
                    let was = self.index.get(&t).and_then(|k| self.table.get(k));
                    // The mark is the dump's (or the connect's), not the lookup's, which has no filter.
                    s.autobound = self.autobound.remove(&t) || was.is_some_and(|w| w.autobound);
                    found.push(s);
                }
                Ok(_) => {
                    self.autobound.remove(&t);
                    self.counts.expired += u64::from(timer);
                    changed |= self.remove(&t);
                }
                Err(_) => return None,
            }
        }
        self.join_new(&mut found, cache, listeners);
        changed |= self.rejoin(cache);
        // A bound socket that connected, a request socket that became a connection.
        if !self.carried.is_empty() && !found.is_empty() {
            let inodes: FxHashSet<u64> =
                found.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
            let tuples: FxHashSet<Tuple> = found.iter().map(tuple_of).collect();
            self.carried
                .retain(|c| !(inodes.contains(&c.inode) || tuples.contains(&tuple_of(c))));
        }
        for s in found {
            let t = tuple_of(&s);
            changed |= !self.get(&t).is_some_and(|old| same_socket(old, &s));
            // Kept with the kernel's timer as it reads now (a TIME_WAIT found still there when
            // it was due is asked about again by that, not on a fixed beat).
            self.insert(s, now);
        }
        Some(changed)
    }

    /// The kept sockets and the carried ones, in table order.
    pub fn sockets(&self) -> impl Iterator<Item = &Socket> {
        let mut carried = self.carried.iter().peekable();
        let mut kept = self.table.values().peekable();
        std::iter::from_fn(move || match (kept.peek(), carried.peek()) {
            (Some(k), Some(c)) if c.table_order() < k.table_order() => carried.next(),
            (Some(_), _) => kept.next(),
            (None, _) => carried.next(),
        })
    }

    pub fn len(&self) -> usize {
        self.table.len() + self.carried.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Compares the table, brought up to date just before `dump` was taken, with it; then
    /// takes the dump as the table and applies what changed while it was read.
    pub fn verify(&mut self, dump: &Snapshot, cache: &mut OwnerCache) -> compare::Report {
        if !self.seeded {
            // Nothing kept yet: the first dump is the table, not a check of it.
            self.reseed(dump, cache);
            return compare::Report::default();
        }
        let listeners: Vec<Socket> = dump
            .sockets
            .iter()
            .filter(|s| s.state == State::Listen)
            .cloned()
            .collect();
        self.absorb();
        let lost = std::mem::take(&mut self.lost);
        let during = std::mem::take(&mut self.pending);
        let report = compare::compare(self, dump, &during);
        let v = &mut self.verified;
        v.at = Some(jiff::Timestamp::now());
        v.compared = u32::try_from(report.compared).unwrap_or(u32::MAX);
        v.differences = u32::try_from(report.differences.len()).unwrap_or(u32::MAX);
        v.differences_total += report.differences.len() as u64;
        self.reseed(dump, cache);
        if lost == 0 {
            let _ = self.look_up(during, cache, &listeners);
        } else {
            self.verified.overflows += 1;
        }
        report
    }

    /// The kept socket with these addresses.
    pub fn get(&self, t: &Tuple) -> Option<&Socket> {
        self.index.get(t).and_then(|k| self.table.get(k))
    }

    /// When the kept socket with these addresses is asked about again, if it is.
    fn due_at(&self, t: &Tuple) -> Option<Instant> {
        self.due.get(t).copied()
    }
}

/// What the screen shows of a socket is the same (queues move without events: not compared).
fn same_socket(a: &Socket, b: &Socket) -> bool {
    a.state == b.state
        && a.inode == b.inode
        && a.autobound == b.autobound
        && a.expires_ms.is_some() == b.expires_ms.is_some()
        && owner_pids(a) == owner_pids(b)
}

pub(crate) fn owner_pids(s: &Socket) -> Vec<u32> {
    let mut pids: Vec<u32> = s.owners.iter().map(|o| o.pid).collect();
    pids.sort_unstable();
    pids
}

/// Whether the connections on screen are kept from events, for the status line.
#[derive(Debug, Clone, PartialEq)]
pub enum Liveness {
    Kept(Verified),
    /// Not kept, and why (in a few words).
    Off(std::sync::Arc<str>),
}

/// Why the table cannot be kept from events, in words for a status line.
pub fn why_off(e: &TraceError) -> String {
    match e {
        TraceError::PerfRefused(_) => "kernel events need root or CAP_PERFMON".into(),
        _ if !crate::collect::is_root() => "kernel events need root or CAP_PERFMON".into(),
        e => format!("kernel events unavailable: {e}"),
    }
}
