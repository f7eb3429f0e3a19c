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
