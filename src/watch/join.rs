//! Joining tracepoint samples into events: the state `sock:inet_sock_set_state` does not carry
//! (which process connect()ed a socket whose port the kernel chooses later in softirq, which
//! listener accepted a connection), kept per socket address as bcc's tcplife does.

use super::sample::{
    PENDING_MAX, PENDING_TTL, Sample, TCP_CLOSE, TCP_CLOSING, TCP_FIN_WAIT1, TCP_FIN_WAIT2,
    TCP_LISTEN, TCP_NEW_SYN_RECV, TCP_SYN_RECV, TCP_SYN_SENT,
};
use super::{EventKind, OwnerVia, WatchEvent};
use crate::model::{Owner, Proto, State};
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::IpAddr;
use std::time::Instant;

/// What we know about a socket (by kernel address) between its events.
#[derive(Debug, Clone)]
struct Known {
    owner: Option<Owner>,
    via: Option<OwnerVia>,
    kernel_chosen: Option<bool>,
    /// The socket's network namespace, once learnt (it never changes).
    netns: Option<u64>,
    /// The target's table was searched for it (once per socket: each search is a dump).
    looked_up: bool,
}

/// Joins samples into events: the state the tracepoint itself does not carry.
#[derive(Default)]
pub struct Joiner {
    ports: FxHashSet<u16>,
    /// connect()s whose port the kernel has not chosen yet: skaddr -> (owner, netns, when).
    pending: FxHashMap<u64, (Option<Owner>, Option<u64>, Instant)>,
    known: FxHashMap<u64, Known>,
    /// Owners of listeners per port, for the connections they accept.
    listeners: FxHashMap<u16, Owner>,
    /// `--netns`: the one namespace reported (None: every namespace).
    only: Option<u64>,
    /// Connections (local, remote) already in the target when the watch started: a later
    /// softirq change on one of them is the target's.
    held: FxHashSet<(IpAddr, u16, IpAddr, u16)>,
}

impl Joiner {
    pub(super) fn new(ports: &[u16], only: Option<u64>) -> Self {
        Joiner {
            ports: ports.iter().copied().collect(),
            only,
            ..Default::default()
        }
    }

    fn prune(&mut self) {
        if self.pending.len() >= PENDING_MAX {
            let now = Instant::now();
            self.pending
                .retain(|_, (_, _, at)| now.duration_since(*at) < PENDING_TTL);
            if self.pending.len() >= PENDING_MAX {
                self.pending.clear(); // a connect storm: forget rather than grow
            }
        }
    }

    /// The event for one sample, or None when it is not one to report (not on a watched port,
    /// or, with `--netns`, in another namespace). `in_target` looks a socket up in the target
    /// namespace's own table: asked only for a softirq change on a socket not seen before.
    pub(super) fn process(
        &mut self,
        s: &Sample,
        in_target: &mut dyn FnMut(&Sample) -> bool,
    ) -> Option<WatchEvent> {
        let ctx_owner = || {
            if s.in_process {
                super::owner::of_pid(s.pid)
            } else {
                None
            }
        };
        // listen, connect, close and their kin run in the caller's context, in its namespace.
        let ctx_netns = || {
            if s.in_process {
                super::scope::of_task(s.pid, s.tid)
            } else {
                None
            }
        };
        if s.new == TCP_SYN_SENT && s.sport == 0 {
            self.prune();
            // Every connect on the host passes the kernel filter. With `--netns`, one in another
            // namespace is remembered without its owner: reading that costs several /proc reads
            // per connect, which a host with thousands a second cannot afford, and it will not
            // be reported. Without `--netns` the namespace comes later, from the owner.
            let netns = self.only.and_then(|_| ctx_netns());
            let owner = match (self.only, netns) {
                (Some(want), Some(got)) if want != got => None,
                _ => ctx_owner(),
            };
            self.pending
                .insert(s.skaddr, (owner, netns, Instant::now()));
            return None;
        }
        if !self.ports.contains(&s.sport) {
            // Passed the kernel filter only as a connect; a later sample with its port comes
            // through sport.
            return None;
        }
        let mut known = self.known.remove(&s.skaddr);
        if s.old == TCP_CLOSE {
            // A new life at this address: whatever was known or pending there belonged to a
            // freed socket (whose close may have been lost with a full ring, or filtered out).
            self.pending.remove(&s.skaddr);
            known = None;
        }
        let mut first = known.is_none();
        let mut joined_connect = false;
        // Only the end of a SYN_SENT can be the connect that was waiting for its port; freed
        // memory is reused, so anything else at the same address is another socket.
        if known.is_none()
            && s.old == TCP_SYN_SENT
            && let Some((owner, netns, _)) = self.pending.remove(&s.skaddr)
        {
            joined_connect = true;
            known = Some(Known {
                via: owner.as_ref().map(|_| OwnerVia::Connect),
                owner,
                kernel_chosen: Some(true),
                netns,
                looked_up: false,
            });
        }
        let mut k = known.unwrap_or(Known {
            owner: None,
            via: None,
            kernel_chosen: None,
            netns: None,
            looked_up: false,
        });
        if k.netns.is_none() {
            k.netns = ctx_netns();
        }
        // A softirq change on a socket first seen now (an accepted connection, one that
        // predates the watch): the target's if the target holds it.
        if let Some(want) = self.only
            && k.netns.is_none()
            && !s.in_process
            && !k.looked_up
        {
            k.looked_up = true;
            if self.held.contains(&(s.saddr, s.sport, s.daddr, s.dport)) || in_target(s) {
                k.netns = Some(want);
            }
        }
        let netns_unknown = k.netns.is_none();
        let admitted = match (self.only, k.netns) {
            (Some(want), Some(got)) => want == got,
            // Not in the target's table and not in any process's context: another namespace's.
            (Some(_), None) => s.in_process,
            (None, _) => true,
        };
        if !admitted {
            if s.new == TCP_CLOSE {
                self.known.remove(&s.skaddr);
            } else {
                if self.known.len() >= PENDING_MAX {
                    self.known.clear();
                }
                self.known.insert(s.skaddr, k);
            }
            return None;
        }
        if s.in_process
            && let Some(o) = ctx_owner()
        {
            k.owner = Some(o);
            k.via = Some(OwnerVia::Context);
        }
        let accepted = matches!(s.old, TCP_NEW_SYN_RECV | TCP_LISTEN) && s.new == TCP_SYN_RECV
            || (first && s.old == TCP_SYN_RECV);
        if k.owner.is_none()
            && accepted
            && let Some(o) = self.listeners.get(&s.sport)
        {
            k.owner = Some(o.clone());
            k.via = Some(OwnerVia::Listener);
        }
        if s.old == TCP_CLOSE && s.new == TCP_SYN_SENT {
            k.kernel_chosen = Some(false); // bound before connect: the port was chosen by bind
        }
        let kind = if s.new == TCP_CLOSE {
            EventKind::Leave
        } else if s.old == TCP_CLOSE || joined_connect || accepted {
            EventKind::Take
        } else {
            EventKind::State
        };
        if kind == EventKind::Take {
            first = false;
        }
        let mut note = None;
        if kind == EventKind::Leave && matches!(s.old, TCP_FIN_WAIT1 | TCP_FIN_WAIT2 | TCP_CLOSING)
        {
            note = Some("TIME_WAIT may keep the port for up to 60 s".to_string());
        } else if k.owner.is_none() {
            note = Some(if first {
                "owner unknown: the socket predates the watch and this change ran in softirq"
                    .to_string()
            } else {
                "owner unknown: this change ran in softirq".to_string()
            });
        }
        // A watch on one namespace lets an event of an unknown one through: it says so
        // whatever else it notes.
        if netns_unknown && self.only.is_some() {
            let unknown = super::scope::UNKNOWN_NETNS;
            note = Some(note.map_or_else(|| unknown.to_string(), |n| format!("{n}; {unknown}")));
        }
        if s.new == TCP_LISTEN
            && let Some(o) = &k.owner
        {
            self.listeners.insert(s.sport, o.clone());
        }
        let proto = Proto::Tcp;
        let event = WatchEvent {
            time: jiff::Timestamp::from_nanosecond(s.time_ns)
                .unwrap_or_else(|_| jiff::Timestamp::now()),
            event: kind,
            proto,
            family: s.family,
            local_addr: s.saddr,
            local_port: s.sport,
            remote_addr: s.daddr,
            remote_port: s.dport,
            old_state: traced_state(s.old),
            state: traced_state(s.new).unwrap_or(State::Close),
            kernel_chosen: k.kernel_chosen,
            owner: k.owner.clone(),
            owner_via: k.via,
            inode: 0,
            // With --netns an event whose thread's namespace could not be read stays "not
            // known": the process's namespace now may not be the thread's then (a thread that
            // entered another one, or another process's event the kernel filter let through).
            netns: k.netns.or_else(|| {
                self.only.is_none().then_some(())?;
                k.owner.as_ref().and_then(|o| super::owner::netns_of(o.pid))
            }),
            source: "tracepoint".into(),
            note,
        };
        if s.new != TCP_CLOSE {
            // A close lost with a full ring would leave its entry forever: bound the map.
            if self.known.len() >= PENDING_MAX {
                self.known.clear();
            }
            self.known.insert(s.skaddr, k);
        }
        Some(event)
    }

    /// Seeds listener owners from the sockets already on the ports.
    pub(super) fn seed(&mut self, held: &[WatchEvent]) {
        for e in held {
            self.held
                .insert((e.local_addr, e.local_port, e.remote_addr, e.remote_port));
            if e.state == State::Listen
                && let Some(o) = &e.owner
            {
                self.listeners.insert(e.local_port, o.clone());
            }
        }
    }
}

/// A state as the tracepoint reports it. TCP_CLOSE there is a socket before its first
/// connect or listen, or after its close (not only a bound one, as in a dump): "CLOSE".
fn traced_state(code: u8) -> Option<State> {
    match code {
        TCP_CLOSE => Some(State::Close),
        c => State::from_kernel(Proto::Tcp, c),
    }
}

#[cfg(test)]
mod tests {
    use super::super::sample::{Sample, TCP_CLOSE, TCP_LISTEN, TCP_SYN_RECV};
    use super::Joiner;
    use crate::model::Family;
    use std::net::{IpAddr, Ipv4Addr};

    const ESTABLISHED: u8 = 1;
    const CLOSE_WAIT: u8 = 8;

    /// A softirq change (no process context) on 127.0.0.1:8080 from 127.0.0.1:40000.
    fn softirq(skaddr: u64, old: u8, new: u8) -> Sample {
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        Sample {
            time_ns: 1,
            pid: 0,
            tid: 0,
            in_process: false,
            skaddr,
            old,
            new,
            sport: 8080,
            dport: 40000,
            family: Family::Ipv4,
            saddr: lo,
            daddr: lo,
        }
    }

    #[test]
    fn a_softirq_change_is_placed_by_one_search_of_the_target_table() {
        let mut j = Joiner::new(&[8080], Some(77));
        let mut searches = 0;
        // Not in the target's table: left out, and not searched for again.
        let mut absent = |_: &Sample| {
            searches += 1;
            false
        };
        assert!(
            j.process(&softirq(1, TCP_SYN_RECV, ESTABLISHED), &mut absent)
                .is_none()
        );
        assert!(
            j.process(&softirq(1, ESTABLISHED, CLOSE_WAIT), &mut absent)
                .is_none()
        );
        assert_eq!(searches, 1);
        // In it: reported in the target, and later changes need no search.
        let mut searches = 0;
        let mut present = |_: &Sample| {
            searches += 1;
            true
        };
        let e = j.process(&softirq(2, TCP_SYN_RECV, ESTABLISHED), &mut present);
        assert_eq!(e.and_then(|e| e.netns), Some(77));
        let e = j.process(&softirq(2, ESTABLISHED, CLOSE_WAIT), &mut present);
        assert_eq!(e.and_then(|e| e.netns), Some(77));
        assert_eq!(searches, 1);
    }

    #[test]
    fn without_a_target_nothing_is_searched_or_left_out() {
        let mut j = Joiner::new(&[8080], None);
        let mut never = |_: &Sample| -> bool { panic!("no search without --netns") };
        assert!(
            j.process(&softirq(3, TCP_LISTEN, TCP_SYN_RECV), &mut never)
                .is_some()
        );
        assert!(
            j.process(&softirq(3, TCP_SYN_RECV, TCP_CLOSE), &mut never)
                .is_some()
        );
    }

    #[test]
    fn a_closed_socket_reads_close_not_bound() {
        use crate::model::State;
        let mut j = Joiner::new(&[8080], None);
        let mut never = |_: &Sample| -> bool { panic!("no search without --netns") };
        let mut listen = softirq(4, TCP_CLOSE, TCP_LISTEN);
        listen.in_process = true;
        let took = j
            .process(&listen, &mut never)
            .map(|e| (e.old_state, e.state));
        assert_eq!(took, Some((Some(State::Close), State::Listen)));
        let mut close = softirq(4, TCP_LISTEN, TCP_CLOSE);
        close.in_process = true;
        let left = j
            .process(&close, &mut never)
            .map(|e| (e.old_state, e.state));
        assert_eq!(left, Some((Some(State::Listen), State::Close)));
    }
}
