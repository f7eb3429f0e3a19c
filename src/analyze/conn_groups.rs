//! Folding the Connections table into groups: "8,000 connections of api" and "400 CLOSE_WAIT on
//! 8080" as one row each, with their counts per state.

use crate::model::{Endpoint, Proto, Socket, State};
use serde::Serialize;
use std::net::IpAddr;

/// What to fold connections by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupBy {
    /// The (first) process holding the socket: pid and command.
    Process,
    /// The remote address, whatever the port.
    RemoteAddr,
    /// The remote address and port.
    Remote,
    /// The state and the local port: "CLOSE-WAIT on tcp/8080".
    StatePort,
}

impl GroupBy {
    pub const ALL: [GroupBy; 4] = [
        GroupBy::Process,
        GroupBy::RemoteAddr,
        GroupBy::Remote,
        GroupBy::StatePort,
    ];

    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Process => "process",
            GroupBy::RemoteAddr => "remote-addr",
            GroupBy::Remote => "remote",
            GroupBy::StatePort => "state-port",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = crate::model::UnknownName;
    fn from_str(s: &str) -> Result<GroupBy, crate::model::UnknownName> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.name() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<_> = GroupBy::ALL.iter().map(|g| g.name()).collect();
                crate::model::UnknownName::try_one_of("grouping", s, &names)
            })
    }
}

/// The identity of a group (what its members share).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GroupKey {
    /// pid and start time: a reused pid is another process.
    Process {
        pid: u32,
        start_time: u64,
    },
    /// No process holds them (TIME_WAIT, orphans, requests).
    Kernel,
    /// A process holds them that portscope could not see; the sockets' uid.
    Hidden {
        uid: u32,
    },
    RemoteAddr {
        addr: IpAddr,
    },
    Remote {
        addr: IpAddr,
        port: u16,
    },
    StatePort {
        state: State,
        proto: Proto,
        port: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub key: GroupKey,
    /// How a person names it: `api (pid 812)`, `10.0.0.5`, `CLOSE-WAIT on tcp/8080`.
    pub label: String,
    pub count: usize,
    /// Members per state, in the kernel's state order, only states present. In JSON an object
    /// `{"ESTABLISHED": 7, ...}` in that order.
    #[serde(serialize_with = "states_as_map")]
    pub states: Vec<(State, usize)>,
    /// Indices of the member sockets, in the order they were given.
    #[serde(skip)]
    pub members: Vec<usize>,
}

/// Groups `rows` (indices into `sockets`, e.g. the filtered and sorted table) by `by`, biggest
/// group first (ties by label, so the order is stable across refreshes). One pass with a hash
/// map, then a sort of the groups: O(n + g log g).
pub fn group(sockets: &[Socket], rows: &[usize], by: GroupBy) -> Vec<Group> {
    let mut at: rustc_hash::FxHashMap<GroupKey, usize> = Default::default();
    let mut groups: Vec<(Group, [usize; State::ALL.len()])> = Vec::new();
    for &i in rows {
        let s = &sockets[i];
        let key = key_of(s, by);
        let g = *at.entry(key).or_insert_with_key(|k| {
            groups.push((
                Group {
                    key: k.clone(),
                    label: label_of(s, k),
                    count: 0,
                    states: Vec::new(),
                    members: Vec::new(),
                },
                [0; State::ALL.len()],
            ));
            groups.len() - 1
        });
        let (group, per_state) = &mut groups[g];
        group.count += 1;
        group.members.push(i);
        per_state[state_index(s.state)] += 1;
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(mut g, per_state)| {
            g.states = State::ALL
                .into_iter()
                .zip(per_state)
                .filter(|&(_, n)| n > 0)
                .collect();
            g
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    out
}

fn states_as_map<S: serde::Serializer>(
    states: &[(State, usize)],
    ser: S,
) -> Result<S::Ok, S::Error> {
    ser.collect_map(states.iter().map(|(st, n)| (st.name(), n)))
}

fn state_index(s: State) -> usize {
    State::ALL.iter().position(|&x| x == s).unwrap_or(0)
}

fn key_of(s: &Socket, by: GroupBy) -> GroupKey {
    match by {
        GroupBy::Process => match s.owners.first() {
            Some(o) => GroupKey::Process {
                pid: o.pid,
                start_time: o.start_time,
            },
            None if s.owner_hidden => GroupKey::Hidden { uid: s.uid },
            None => GroupKey::Kernel,
        },
        GroupBy::RemoteAddr => GroupKey::RemoteAddr {
            addr: s.remote_addr,
        },
        GroupBy::Remote => GroupKey::Remote {
            addr: s.remote_addr,
            port: s.remote_port,
        },
        GroupBy::StatePort => GroupKey::StatePort {
            state: s.state,
            proto: s.proto,
            port: s.local_port,
        },
    }
}

/// The label, from the group's first member (every member shares what the label shows).
fn label_of(s: &Socket, key: &GroupKey) -> String {
    match key {
        GroupKey::Process { .. } => s.owners.first().map_or_else(String::new, |o| o.label()),
        GroupKey::Kernel => "(kernel: no process)".into(),
        GroupKey::Hidden { uid } => format!("uid {uid} (owner not seen)"),
        GroupKey::RemoteAddr { addr } if addr.is_unspecified() => "* (not connected)".into(),
        GroupKey::RemoteAddr { addr } => addr.to_string(),
        GroupKey::Remote { addr, port } if addr.is_unspecified() && *port == 0 => {
            "* (not connected)".into()
        }
        GroupKey::Remote { addr, port } => Endpoint(*addr, *port).to_string(),
        GroupKey::StatePort { state, proto, port } => {
            format!("{} on {proto}/{port}", state.ss_name())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, outgoing, owner, with_state};
    use std::sync::Arc;

    fn all(socks: &[Socket], by: GroupBy) -> Vec<Group> {
        let rows: Vec<usize> = (0..socks.len()).collect();
        group(socks, &rows, by)
    }

    /// An api process with many connections to a database, a few CLOSE_WAITs on 8080, and
    /// TIME_WAITs the kernel holds.
    fn incident() -> Vec<Socket> {
        let api = owner(812, "api");
        let web = owner(900, "web");
        let mut socks = vec![listener(8080)];
        socks[0].owners = Arc::from([web.clone()]);
        for i in 0..6 {
            let mut s = outgoing(40000 + i, 5432);
            s.remote_addr = "10.0.0.5".parse().expect("an address");
            s.owners = Arc::from([api.clone()]);
            socks.push(s);
        }
        let mut redis = outgoing(41000, 6379);
        redis.remote_addr = "10.0.0.5".parse().expect("an address");
        redis.owners = Arc::from([api.clone()]);
        socks.push(redis);
        for i in 0..3 {
            let mut s = with_state(outgoing(8080, 50000 + i), State::CloseWait);
            s.autobound = false;
            s.owners = Arc::from([web.clone()]);
            socks.push(s);
        }
        for i in 0..2 {
            socks.push(with_state(outgoing(8080, 51000 + i), State::TimeWait));
        }
        socks
    }

    #[test]
    fn by_process_counts_each_process_once_with_its_states() {
        let socks = incident();
        let g = all(&socks, GroupBy::Process);
        let summary: Vec<(&str, usize)> = g.iter().map(|g| (g.label.as_str(), g.count)).collect();
        assert_eq!(
            summary,
            [
                ("api (pid 812)", 7),
                ("web (pid 900)", 4),
                ("(kernel: no process)", 2)
            ]
        );
        assert_eq!(g[0].states, [(State::Established, 7)]);
        assert_eq!(g[1].states, [(State::Listen, 1), (State::CloseWait, 3)]);
        assert_eq!(g[2].members, [11, 12]);
        let total: usize = g.iter().map(|g| g.count).sum();
        assert_eq!(total, socks.len(), "every socket in exactly one group");
    }

    #[test]
    fn by_remote_address_or_endpoint() {
        let socks = incident();
        let by_addr = all(&socks, GroupBy::RemoteAddr);
        assert_eq!(by_addr[0].label, "10.0.0.5");
        assert_eq!(by_addr[0].count, 7);
        assert_eq!(by_addr[1].label, "127.0.0.1");
        assert_eq!(by_addr[1].count, 5);
        assert_eq!(by_addr[2].label, "* (not connected)");
        let by_ep = all(&socks, GroupBy::Remote);
        assert_eq!(
            (by_ep[0].label.as_str(), by_ep[0].count),
            ("10.0.0.5:5432", 6)
        );
        assert!(
            by_ep
                .iter()
                .any(|g| g.label == "10.0.0.5:6379" && g.count == 1)
        );
        assert_eq!(
            by_ep.len(),
            1 + 1 + 3 + 2 + 1,
            "each remote endpoint its own group"
        );
    }

    #[test]
    fn by_state_and_local_port() {
        let socks = incident();
        let g = all(&socks, GroupBy::StatePort);
        assert_eq!(g[0].label, "CLOSE-WAIT on tcp/8080");
        assert_eq!(g[0].count, 3);
        assert_eq!(g[0].members, [8, 9, 10]);
        assert_eq!(g[1].label, "TIME-WAIT on tcp/8080");
        assert!(
            g.iter()
                .any(|x| x.label == "LISTEN on tcp/8080" && x.count == 1)
        );
    }

    #[test]
    fn groups_keep_the_given_rows_and_their_order() {
        let socks = incident();
        let rows = [12, 3, 1];
        let g = group(&socks, &rows, GroupBy::Process);
        assert_eq!(g[0].members, [3, 1]);
        assert_eq!(g[1].members, [12]);
        assert!(group(&socks, &[], GroupBy::StatePort).is_empty());
    }

    #[test]
    fn names_parse_back() {
        for g in GroupBy::ALL {
            assert_eq!(g.name().parse::<GroupBy>(), Ok(g));
        }
        let e = "host".parse::<GroupBy>().expect_err("unknown").to_string();
        assert!(e.contains("state-port"), "{e}");
    }
}
