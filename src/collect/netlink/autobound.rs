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
    marks: FxHashMap<Cookie, Mark>,
    generation: u32,
    /// Sockets whose mark the last refresh had to ask the kernel for (benchmarks, tests).
    pub asked: usize,
    /// Their indices in the table being built.
    unknown: Vec<usize>,
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

impl AutoboundMemo {
    /// Marks every socket seen before; returns the port ranges of the rest (TCP, UDP).
    pub(super) fn apply_known(&mut self, sockets: &mut [Socket]) -> (Wanted, Wanted) {
        self.generation = self.generation.wrapping_add(1);
        let (mut tcp, mut udp) = (Wanted::default(), Wanted::default());
        self.unknown.clear();
        for (i, s) in sockets.iter_mut().enumerate() {
            if !can_be_autobound(s) {
                continue;
            }
            match self.marks.get_mut(&(s.proto, s.cookie)) {
                Some(m) if m.port == s.local_port => {
                    m.seen = self.generation;
                    s.autobound = m.autobound;
                }
                _ => {
                    self.unknown.push(i);
                    match s.proto {
                        Proto::Tcp => tcp.add(s.local_port),
                        Proto::Udp => udp.add(s.local_port),
                    }
                }
            }
        }
        self.asked = self.unknown.len();
        (tcp, udp)
    }

    /// Marks the new sockets from the kernel's answer (sorted cookies of autobound sockets) and
    /// forgets sockets that are gone (only when `sockets` is the whole table: `prune`).
    pub(super) fn learn(&mut self, sockets: &mut [Socket], autobound: &[Cookie], prune: bool) {
        let generation = self.generation;
        for &i in &self.unknown {
            let Some(s) = sockets.get_mut(i) else {
                continue;
            };
            s.autobound = autobound.binary_search(&(s.proto, s.cookie)).is_ok();
            self.marks.insert(
                (s.proto, s.cookie),
                Mark {
                    port: s.local_port,
                    autobound: s.autobound,
                    seen: generation,
                },
            );
        }
        if prune {
            self.marks.retain(|_, m| m.seen == generation);
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
