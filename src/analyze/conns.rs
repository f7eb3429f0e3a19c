//! Connection summaries: counts per state and per local port (which port has thousands of
//! TIME_WAIT or CLOSE_WAIT).

use crate::model::{Proto, Snapshot, State};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortLoad {
    pub proto: Option<Proto>,
    pub port: u16,
    pub total: usize,
    pub established: usize,
    pub time_wait: usize,
    pub close_wait: usize,
    pub listening: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnSummary {
    pub by_state: Vec<(State, usize)>,
    /// Busiest local ports first.
    pub by_port: Vec<PortLoad>,
    pub autobound: usize,
}

pub fn summarize(snap: &Snapshot) -> ConnSummary {
    let mut states: BTreeMap<State, usize> = BTreeMap::new();
    let mut ports: rustc_hash::FxHashMap<(Proto, u16), PortLoad> = Default::default();
    let mut autobound = 0;
    for s in &snap.sockets {
        *states.entry(s.state).or_default() += 1;
        autobound += usize::from(s.autobound);
        let e = ports
            .entry((s.proto, s.local_port))
            .or_insert_with(|| PortLoad {
                proto: Some(s.proto),
                port: s.local_port,
                ..PortLoad::default()
            });
        e.total += 1;
        match s.state {
            State::Established => e.established += 1,
            State::TimeWait => e.time_wait += 1,
            State::CloseWait => e.close_wait += 1,
            State::Listen => e.listening = true,
            _ => {}
        }
    }
    let mut by_port: Vec<PortLoad> = ports.into_values().filter(|p| p.total > 1).collect();
    by_port.sort_by(|a, b| {
        (b.time_wait + b.close_wait, b.total, a.port).cmp(&(
            a.time_wait + a.close_wait,
            a.total,
            b.port,
        ))
    });
    ConnSummary {
        by_state: states.into_iter().collect(),
        by_port,
        autobound,
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
            socks.push(with_state(outgoing(80, 40000 + i), State::TimeWait));
        }
        socks.push(with_state(outgoing(80, 41000), State::Established));
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
        assert_eq!(s.by_port[0].port, 80);
        assert_eq!((s.by_port[0].time_wait, s.by_port[0].total), (5, 7));
        assert!(s.by_port[0].listening);
        assert_eq!(s.by_port.len(), 1, "single-socket ports are not 'busy'");
    }
}
