//! Connection summaries: counts per state and per local port (which port has thousands of
//! TIME_WAIT or CLOSE_WAIT).

use crate::model::{Proto, Snapshot, State};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortLoad {
    pub proto: Option<Proto>,
    pub port: u16,
    /// Every socket on the port, its listener included.
    pub total: usize,
    /// Connections on it: accepted (or, for a port nothing listens on any more, lingering)
    /// connections, not the listener, not outgoing ones that merely got the same port.
    pub connections: usize,
    pub established: usize,
    pub time_wait: usize,
    pub close_wait: usize,
    pub listening: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnSummary {
    pub by_state: Vec<(State, usize)>,
    /// Busiest service ports first (see `summarize`).
    pub by_port: Vec<PortLoad>,
    pub autobound: usize,
    /// The destinations whose local ports are most used (connect() fails when one is full).
    pub destinations: Vec<super::connect::PortUse>,
}

/// Counts per state, and the busy local ports.
///
/// "Busy" is meant as an on-call engineer reads it: a *service* port with many connections
/// (thousands of clients on 443, CLOSE_WAIT piling up on 8080). A port is a service port when
/// something listens on it (a TCP listener, a bound unconnected UDP socket), or when its
/// connections were not given their port by the kernel and it lies outside the ephemeral range
/// (accepted connections still open after their listener closed). Outgoing connections never
/// count: with IP_BIND_ADDRESS_NO_PORT or different remotes, many of them share one
/// kernel-chosen port, which is the port allocator doing its job, not load on a service. A
/// port is listed once it has at least one connection.
/// Destinations the Connections view names.
pub const BUSIEST_DESTINATIONS: usize = 3;

pub fn summarize(snap: &Snapshot) -> ConnSummary {
    let mut states: BTreeMap<State, usize> = BTreeMap::new();
    let mut ports: rustc_hash::FxHashMap<(Proto, u16), PortLoad> = Default::default();
    let mut autobound = 0;
    for s in &snap.sockets {
        *states.entry(s.state).or_default() += 1;
        autobound += usize::from(s.autobound);
        if s.autobound {
            continue;
        }
        let e = ports
            .entry((s.proto, s.local_port))
            .or_insert_with(|| PortLoad {
                proto: Some(s.proto),
                port: s.local_port,
                ..PortLoad::default()
            });
        e.total += 1;
        if s.is_listening() {
            e.listening = true;
            continue;
        }
        e.connections += 1;
        match s.state {
            State::Established => e.established += 1,
            State::TimeWait => e.time_wait += 1,
            State::CloseWait => e.close_wait += 1,
            _ => {}
        }
    }
    let sys = &snap.sysctl;
    let mut by_port: Vec<PortLoad> = ports
        .into_values()
        .filter(|p| p.connections > 0 && (p.listening || !sys.in_ephemeral(p.port)))
        .collect();
    by_port.sort_by(|a, b| {
        (b.time_wait + b.close_wait, b.connections, a.port).cmp(&(
            a.time_wait + a.close_wait,
            a.connections,
            b.port,
        ))
    });
    ConnSummary {
        by_state: states.into_iter().collect(),
        by_port,
        autobound,
        destinations: super::connect::destinations(snap, BUSIEST_DESTINATIONS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, outgoing, snapshot, with_state};

    #[test]
    fn counts_states_and_busy_ports() {
        let mut socks = vec![listener(80)];
        for i in 0..5 {
            socks.push(with_state(accepted(80, 40000 + i), State::TimeWait));
        }
        socks.push(accepted(80, 41000));
        socks.push(outgoing(45000, 5432));
        let s = summarize(&snapshot(socks));
        assert_eq!(
            s.by_state,
            vec![
                (State::Listen, 1),
                (State::Established, 2),
                (State::TimeWait, 5)
            ]
        );
        assert_eq!(s.autobound, 1);
        assert_eq!(
            s.by_port.len(),
            1,
            "the outgoing connection's port is not busy"
        );
        let p = &s.by_port[0];
        assert_eq!(p.port, 80);
        assert_eq!(
            (p.time_wait, p.established, p.connections, p.total),
            (5, 1, 6, 7)
        );
        assert!(p.listening);
    }

    /// A connection accepted on a listener's port (the kernel did not choose its port).
    fn accepted(port: u16, remote: u16) -> crate::model::Socket {
        let mut s = outgoing(port, remote);
        s.autobound = false;
        s
    }

    #[test]
    fn one_busy_port_is_listed_and_so_is_a_single_connection() {
        let s = summarize(&snapshot(vec![listener(8080), accepted(8080, 50000)]));
        assert_eq!(s.by_port.len(), 1, "one listener, one connection: listed");
        assert_eq!(s.by_port[0].connections, 1);
        let idle = summarize(&snapshot(vec![listener(8080), listener(9090)]));
        assert!(
            idle.by_port.is_empty(),
            "listeners without connections are not busy"
        );
    }

    #[test]
    fn outgoing_connections_sharing_a_kernel_chosen_port_are_not_busy() {
        // IP_BIND_ADDRESS_NO_PORT: the kernel hands one local port to connections to different
        // remotes; their TIME_WAITs keep it (and lose the autobound mark).
        let mut socks = Vec::new();
        for remote in [5432, 6379, 443] {
            socks.push(outgoing(40000, remote));
            socks.push(with_state(outgoing(40000, remote), State::TimeWait));
        }
        let s = summarize(&snapshot(socks));
        assert!(s.by_port.is_empty(), "{:?}", s.by_port);
        assert_eq!(s.autobound, 3);
    }

    #[test]
    fn accepted_connections_outlive_their_listener_and_the_busiest_come_first() {
        let mut socks = Vec::new();
        // 8080's listener has closed; its CLOSE_WAITs remain (outside the ephemeral range).
        for i in 0..3 {
            socks.push(with_state(accepted(8080, 50000 + i), State::CloseWait));
        }
        socks.push(listener(443));
        for i in 0..10 {
            socks.push(accepted(443, 51000 + i));
        }
        socks.push(listener(22));
        socks.push(accepted(22, 52000));
        let s = summarize(&snapshot(socks));
        let order: Vec<(u16, usize)> = s.by_port.iter().map(|p| (p.port, p.connections)).collect();
        assert_eq!(
            order,
            [(8080, 3), (443, 10), (22, 1)],
            "CLOSE_WAIT and TIME_WAIT first, then by connections"
        );
        assert!(!s.by_port[0].listening && s.by_port[1].listening);
    }
}
