//! Bound-only TCP sockets seen by `--binds` (bind() without listen() or connect()): no state
//! tracepoint fires when one is closed, so without this a `history --at` named a holder that
//! had left seconds before. Each such socket is looked for in the kernel's bind table (sock_diag
//! reports bound-inactive sockets since Linux 6.8) on every tick of the watch; once it is
//! neither there nor listening, its release is reported.

use super::{EventKind, WatchEvent};
use crate::collect::netlink::Dumper;
use crate::model::{Family, Proto, State};
use std::net::IpAddr;

/// TCP_BOUND_INACTIVE's bit in a sock_diag state mask, and LISTEN's.
const BOUND_INACTIVE: u32 = 1 << 13;
const LISTEN: u32 = 1 << 10;

#[derive(Default)]
pub struct BoundOnly {
    /// The take event of each bound-only socket still held.
    held: Vec<WatchEvent>,
}

impl BoundOnly {
    /// Follows the successful TCP binds among `events`.
    pub fn note(&mut self, events: &[WatchEvent]) {
        for e in events {
            if e.event == EventKind::Take && e.proto == Proto::Tcp && e.state == State::Close {
                self.held.push(e.clone());
            }
        }
    }

    /// The releases since the last look: bound sockets no longer in the bind table (a socket
    /// that went on to listen is reported by the tracepoint and just forgotten here).
    pub fn releases(&mut self, dumper: &mut Dumper) -> Vec<WatchEvent> {
        if self.held.is_empty() {
            return Vec::new();
        }
        let mut ports: Vec<u16> = self.held.iter().map(|e| e.local_port).collect();
        ports.sort_unstable();
        ports.dedup();
        let mut now: Vec<(IpAddr, u16, bool)> = Vec::new();
        for port in ports {
            for family in [Family::Ipv4, Family::Ipv6] {
                // A failed look reports nothing: better a late release than a false one.
                let Ok(found) =
                    dumper.port_sockets(family, Proto::Tcp, port, BOUND_INACTIVE | LISTEN)
                else {
                    return Vec::new();
                };
                now.extend(
                    found
                        .iter()
                        .map(|s| (s.local_addr, s.local_port, s.state == State::Listen)),
                );
            }
        }
        let mut out = Vec::new();
        let mut kept = Vec::new();
        for e in self.held.drain(..) {
            let key = (e.local_addr, e.local_port);
            match now.iter().position(|(a, p, _)| (*a, *p) == key) {
                // Each socket in the table accounts for one bind seen.
                Some(i) => {
                    let (_, _, listening) = now.swap_remove(i);
                    if !listening {
                        kept.push(e);
                    }
                }
                None => {
                    let mut leave = e;
                    leave.event = EventKind::Leave;
                    leave.old_state = Some(State::Close);
                    leave.time = jiff::Timestamp::now();
                    leave.source = "poll".into();
                    leave.note = Some(
                        "released: the bound-only socket left the kernel's bind table (seen by polling it)"
                            .into(),
                    );
                    out.push(leave);
                }
            }
        }
        self.held = kept;
        out
    }
}

/// UDP sockets whose bind() the `--binds` program reported, until the poll beside it has seen
/// them. The poll's own "take" of such a socket is dropped (one report per bind, not two) and
/// from then on the poll reports its release. A socket that closed before any poll saw it is
/// released here instead, at the first poll after its bind that no longer finds it: without
/// that, a short holder's release was never reported and `history --at` kept it forever.
///
/// Each round of the watch is: a poll of the UDP table ([`UdpBinds::polled`]), then the
/// rings' bind() events ([`UdpBinds::fold`]).
#[derive(Default)]
pub struct UdpBinds {
    /// Each bind's take event, and whether a poll has found its socket since.
    waiting: Vec<(WatchEvent, bool)>,
}

impl UdpBinds {
    /// A poll found `now`: a bind still waiting whose socket is not there was released before
    /// any poll saw it (the returned events); one whose socket is there is marked seen.
    pub fn polled(&mut self, now: &[crate::model::Socket]) -> Vec<WatchEvent> {
        let mut out = Vec::new();
        self.waiting.retain_mut(|(e, seen)| {
            let key = (e.local_addr, e.local_port);
            if now.iter().any(|s| (s.local_addr, s.local_port) == key) {
                *seen = true;
                return true;
            }
            let mut leave = e.clone();
            leave.event = EventKind::Leave;
            leave.time = jiff::Timestamp::now();
            // Found by the poll's look: gone.
            leave.source = "poll".into();
            leave.note = Some("released before a poll saw it (its bind() was traced)".into());
            out.push(leave);
            false
        });
        out
    }

    /// Notes this round's UDP binds, and drops from `batch` the poll's takes of sockets whose
    /// bind was reported. A bind the poll had seen before this round (its take went out before
    /// the bind was read) is the poll's from now on.
    pub fn fold(&mut self, events: &[WatchEvent], batch: &mut Vec<WatchEvent>) {
        for e in events {
            if e.proto == Proto::Udp && e.event == EventKind::Take {
                self.waiting.push((e.clone(), false));
            }
        }
        batch.retain(|e| {
            if e.proto != Proto::Udp || e.event != EventKind::Take || e.source != "poll" {
                return true;
            }
            let key = (e.local_addr, e.local_port);
            match self
                .waiting
                .iter()
                .position(|(w, _)| (w.local_addr, w.local_port) == key)
            {
                Some(i) => {
                    self.waiting.swap_remove(i);
                    false
                }
                None => true,
            }
        });
        self.waiting.retain(|(_, seen)| !seen);
    }
}
