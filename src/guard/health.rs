//! The health of declared services' listeners (see `analyze::listener_health`): read here,
//! where I/O is allowed (the processes' run states, `check --sample`'s looks), and judged by
//! the pure check from what was read.

use crate::analyze::listener_health::{Evidence, ListenerHealth, QueueLook, judge};
use crate::collect::NetnsTarget;
use crate::collect::listen_sample::{Target, sample, state_of};
use crate::model::{Proto, Snapshot, Socket};
use std::collections::HashMap;
use std::time::Duration;

/// Verdicts by listening socket (inode).
pub type Book = HashMap<u64, ListenerHealth>;

/// A listener's verdict: from the book when it was read, else from the snapshot's one look.
pub fn of(book: &Book, s: &Socket, somaxconn: Option<u32>) -> ListenerHealth {
    book.get(&s.inode).cloned().unwrap_or_else(|| {
        judge(&Evidence {
            looks: vec![QueueLook {
                queued: s.rx_queue,
                backlog: s.tx_queue,
            }],
            somaxconn,
            ..Evidence::default()
        })
    })
}

/// Judges the TCP listeners of the declared `ports`: their processes' states now, and with
/// `sample` several looks over it per port (ports are looked at one after another).
pub fn read(
    snap: &Snapshot,
    ports: impl IntoIterator<Item = u16>,
    netns: &NetnsTarget,
    interval: Option<Duration>,
) -> Book {
    let mut book = Book::new();
    for port in ports {
        let socks: Vec<&Socket> = snap
            .sockets
            .iter()
            .filter(|s| s.proto == Proto::Tcp && s.local_port == port && s.is_listening())
            .collect();
        if socks.is_empty() {
            continue;
        }
        let pids: Vec<u32> = socks
            .iter()
            .filter_map(|s| s.owners.first().map(|o| o.pid))
            .collect();
        let looks = interval.map(|iv| {
            let t = Target {
                port,
                inodes: socks.iter().map(|s| s.inode).collect(),
                pids: pids.clone(),
            };
            sample(netns, &t, iv, &mut || {})
        });
        for s in socks {
            let pid = s.owners.first().map(|o| o.pid);
            let sampled = looks
                .as_ref()
                .and_then(|l| l.queues.iter().find(|(i, _)| *i == s.inode));
            let state = looks
                .as_ref()
                .and_then(|l| l.states.iter().find(|(p, _)| Some(*p) == pid))
                .map(|(_, st)| *st)
                .or_else(|| pid.and_then(state_of));
            let now = QueueLook {
                queued: s.rx_queue,
                backlog: s.tx_queue,
            };
            let e = Evidence {
                looks: sampled.map_or_else(|| vec![now], |(_, q)| q.clone()),
                span_ms: looks
                    .as_ref()
                    .filter(|_| sampled.is_some())
                    .map_or(0, |l| l.span_ms),
                state,
                wchan: None,
                overflows: looks.as_ref().and_then(|l| l.overflows),
                somaxconn: snap.sysctl.somaxconn,
                moved: looks.as_ref().and_then(|l| l.moved),
            };
            book.insert(s.inode, judge(&e));
        }
    }
    book
}

/// ListenOverflows of the namespace (a counter since the namespace was made).
pub fn overflows(netns: &NetnsTarget) -> Option<u64> {
    netns
        .run_in(|| {
            crate::kernel_file::read("/proc/thread-self/net/netstat")
                .ok()
                .and_then(|t| crate::model::process_context::parse_listen_stats(&t))
                .map(|s| s.overflows)
        })
        .ok()
        .flatten()
}
