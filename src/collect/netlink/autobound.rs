//! The `autobound` mark (the kernel chose the port) carried between refreshes by socket cookie.
//!
//! The mark comes from a second dump filtered by INET_DIAG_BC_AUTO (no bind() fixed the port),
//! which walks the whole connection table again: at 100k sockets it was half of a refresh. A
//! socket's mark is fixed once it holds a port (bind() on a bound socket fails; connect() and
//! listen() keep an explicitly bound port), so a socket seen before keeps the mark it had, and
//! only new sockets are asked about, in a dump whose filter also limits the local ports to the
//! range the new sockets span, so the kernel copies out little more than them. The key includes
//! the port: a socket that lost its port (a failed connect) and bound another is asked again.

use super::Cookie;
use super::abi::BcOp;
use crate::model::{Proto, Socket, State};
use rustc_hash::FxHashMap;

const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;
const INET_DIAG_BC_AUTO: u8 = 6;

struct Mark {
    port: u16,
    autobound: bool,
    /// The refresh that last saw the socket: older entries are dropped.
    seen: u32,
}

/// Marks of the sockets seen by earlier refreshes. An empty memo (a one-shot snapshot) asks
/// about every socket, exactly as a plain second dump would.
#[derive(Default)]
pub struct AutoboundMemo {
    /// Per protocol (TCP, UDP): a tick between full tables asks about UDP sockets only, and
    /// their map alone stays in cache where one over 100k TCP connections missed on each probe
    /// (three quarters of a tick's user time at 10k UDP sockets).
    marks: [FxHashMap<u64, Mark>; 2],
    generation: u32,
    /// Whether the marks are kept for the next refresh ([`AutoboundMemo::kept`], the TUI's). A
    /// one-shot snapshot's memo only asks: keeping 100k marks it never reads again was 4.9 MB
    /// of its peak memory.
    keep: bool,
    /// Sockets whose mark the last refresh had to ask the kernel for (benchmarks, tests).
    pub asked: usize,
    /// Their indices in the table being built; sorted by (protocol, cookie) while the kernel's
    /// answer is read, so that each answer marks its socket in place.
    unknown: Vec<u32>,
}

fn slot(p: Proto) -> usize {
    match p {
        Proto::Tcp => 0,
        Proto::Udp => 1,
    }
}

/// Local ports of the sockets still without a mark, per protocol.
#[derive(Default, Clone, Copy)]
pub(super) struct Wanted {
    pub(super) range: Option<(u16, u16)>,
}

impl Wanted {
    fn add(&mut self, port: u16) {
        self.range = Some(match self.range {
            None => (port, port),
            Some((lo, hi)) => (lo.min(port), hi.max(port)),
        });
    }
}

/// Whether the mark can matter: a full socket (TIME_WAIT and request sockets always pass the
/// kernel's test, so for them it says nothing) that is not a listener (a listener holds its own
/// port, which `refine_autobound` reads as bound).
pub(super) fn can_be_autobound(s: &Socket) -> bool {
    s.inode != 0 && s.state != State::Listen
}

/// The TCP states worth asking about (a mask of 1 << kernel state): those of `states` a socket
/// that [`can_be_autobound`] can be in. TIME_WAIT, request sockets and listeners are never
/// asked about, so the kernel need not copy them out again.
pub(super) fn asked_states(states: u32) -> u32 {
    const TIME_WAIT: u32 = 1 << 6;
    const LISTEN: u32 = 1 << 10;
    const NEW_SYN_RECV: u32 = 1 << 12;
    states & !(TIME_WAIT | LISTEN | NEW_SYN_RECV)
}

impl AutoboundMemo {
    /// A memo that keeps what it learns, for a collector that refreshes.
    pub fn kept() -> Self {
        AutoboundMemo {
            keep: true,
            ..Default::default()
        }
    }

    /// Marks every socket seen before; returns the port ranges of the rest (TCP, UDP).
    pub(super) fn apply_known(&mut self, sockets: &mut [Socket]) -> (Wanted, Wanted) {
        self.generation = self.generation.wrapping_add(1);
        let (mut tcp, mut udp) = (Wanted::default(), Wanted::default());
        self.unknown.clear();
        // At most one per socket; sized once rather than doubled (a one-shot asks about most).
        self.unknown.reserve_exact(sockets.len());
        for (i, s) in sockets.iter_mut().enumerate() {
            if !can_be_autobound(s) {
                continue;
            }
            match self.marks[slot(s.proto)].get_mut(&s.cookie) {
                Some(m) if m.port == s.local_port => {
                    m.seen = self.generation;
                    s.autobound = m.autobound;
                }
                _ => {
                    self.unknown.push(u32::try_from(i).unwrap_or(u32::MAX));
                    match s.proto {
                        Proto::Tcp => tcp.add(s.local_port),
                        Proto::Udp => udp.add(s.local_port),
                    }
                }
            }
        }
        self.asked = self.unknown.len();
        // In cookie order for [`AutoboundMemo::mark`].
        self.unknown
            .sort_unstable_by_key(|&i| sockets.get(i as usize).map(|s| (s.proto, s.cookie)));
        (tcp, udp)
    }

    /// The kernel says socket `cookie` is autobound: marks it if it is one asked about (the
    /// dumps are not atomic; a socket born in between is simply not marked).
    pub(super) fn mark(&self, sockets: &mut [Socket], cookie: Cookie) {
        let key = |i: &u32| sockets.get(*i as usize).map(|s| (s.proto, s.cookie));
        let start = self.unknown.partition_point(|i| key(i) < Some(cookie));
        for &i in &self.unknown[start..] {
            match sockets.get_mut(i as usize) {
                Some(s) if (s.proto, s.cookie) == cookie => s.autobound = true,
                _ => break,
            }
        }
    }

    /// Remembers the marks of the sockets asked about (marked by [`AutoboundMemo::mark`]) and
    /// forgets sockets that are gone (only when `sockets` is the whole table: `prune`). A
    /// one-shot memo remembers nothing.
    pub(super) fn learn(&mut self, sockets: &[Socket], prune: bool) {
        let unknown = std::mem::take(&mut self.unknown);
        if self.keep {
            let generation = self.generation;
            for &i in &unknown {
                let Some(s) = sockets.get(i as usize) else {
                    continue;
                };
                self.marks[slot(s.proto)].insert(
                    s.cookie,
                    Mark {
                        port: s.local_port,
                        autobound: s.autobound,
                        seen: generation,
                    },
                );
            }
            if prune {
                for marks in &mut self.marks {
                    marks.retain(|_, m| m.seen == generation);
                }
            }
            self.unknown = unknown;
            self.unknown.clear();
        }
    }
}

/// The dump filter: the kernel chose the port, and the port lies in `lo..=hi`. (Each op jumps
/// `yes` bytes forward when its test holds and `no` when not; landing exactly at the end
/// accepts, 4 bytes past it rejects. A port comparison keeps its port in the next op's `no`.)
pub(super) fn filter(lo: u16, hi: u16) -> Vec<u8> {
    let ops = [
        BcOp {
            code: INET_DIAG_BC_AUTO,
            yes: 4,
            no: 24,
        },
        BcOp {
            code: INET_DIAG_BC_S_GE,
            yes: 8,
            no: 20,
        },
        BcOp {
            code: 0,
            yes: 0,
            no: lo,
        },
        BcOp {
            code: INET_DIAG_BC_S_LE,
            yes: 8,
            no: 12,
        },
        BcOp {
            code: 0,
            yes: 0,
            no: hi,
        },
    ];
    let mut out = Vec::with_capacity(ops.len() * BcOp::SIZE);
    for op in ops {
        op.write(&mut out);
    }
    out
}
