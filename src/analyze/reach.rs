//! Which packets can reach a port's listeners at all, by their addresses alone: a listener on
//! 127.0.0.1 takes nothing from outside whatever the firewall says, and `[::]` with
//! IPV6_V6ONLY takes no IPv4. The filter rules are then read for the families left.

use crate::model::{Proto, Snapshot, Socket};
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exposure {
    /// ipv4 and/or ipv6: the packets some listener accepts from outside.
    pub families: Vec<&'static str>,
    /// What the addresses say (unreachable from outside, no IPv4).
    pub notes: Vec<String>,
    /// Some listener takes any local address (0.0.0.0, [::]).
    pub wildcard: bool,
    /// The specific addresses listeners are bound to (loopback left out).
    pub bound: Vec<IpAddr>,
}

impl Exposure {
    /// No packet from outside can reach any listener.
    pub fn unreachable(&self) -> bool {
        self.families.is_empty()
    }
}

fn families_of(s: &Socket) -> Vec<&'static str> {
    match s.local_addr {
        IpAddr::V4(a) if a.is_loopback() => vec![],
        IpAddr::V4(_) => vec!["ipv4"],
        IpAddr::V6(a) if a.is_loopback() => vec![],
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) if m.is_loopback() => vec![],
            Some(_) => vec!["ipv4"],
            None if a.is_unspecified() && s.v6only != Some(true) => vec!["ipv4", "ipv6"],
            None => vec!["ipv6"],
        },
    }
}

/// The listeners of `proto` `port` in `snap`.
pub fn listeners(snap: &Snapshot, proto: Proto, port: u16) -> Vec<&Socket> {
    snap.sockets
        .iter()
        .filter(|s| s.proto == proto && s.local_port == port && s.is_listening() && !s.autobound)
        .collect()
}

/// What the listeners' addresses let in from outside.
pub fn exposure(listeners: &[&Socket]) -> Exposure {
    let mut e = Exposure::default();
    for s in listeners {
        let fams = families_of(s);
        if s.local_addr.is_unspecified() {
            e.wildcard = true;
        } else if !fams.is_empty() && !e.bound.contains(&s.local_addr) {
            e.bound.push(s.local_addr);
        }
        for f in fams {
            if !e.families.contains(&f) {
                e.families.push(f);
            }
        }
    }
    e.families.sort_unstable();
    let addrs: Vec<String> = listeners
        .iter()
        .map(|s| crate::model::fmt_endpoint(s.local_addr, s.local_port))
        .collect();
    if listeners.is_empty() {
        return e;
    }
    if e.unreachable() {
        e.notes.push(format!(
            "unreachable from outside by its address: it listens on loopback only ({})",
            addrs.join(", ")
        ));
    } else if !e.families.contains(&"ipv4") {
        e.notes.push(format!(
            "unreachable from IPv4 by its address: the listeners ({}) are IPv6-only (IPV6_V6ONLY or an IPv6 address); IPv4 clients get refused",
            addrs.join(", ")
        ));
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::listener;

    #[test]
    fn addresses_decide_first() {
        let l = |a: &str| {
            let mut s = listener(80);
            s.local_addr = a.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
            s
        };
        let lo = l("127.0.0.1");
        let e = exposure(&[&lo]);
        assert!(e.unreachable() && e.notes[0].contains("unreachable from outside by its address"));
        let any = l("0.0.0.0");
        assert_eq!(exposure(&[&lo, &any]).families, ["ipv4"]);
        let mut v6 = l("::");
        v6.v6only = Some(true);
        let e = exposure(&[&v6]);
        assert_eq!(e.families, ["ipv6"]);
        assert!(e.notes[0].contains("unreachable from IPv4"), "{e:?}");
        v6.v6only = Some(false);
        assert_eq!(exposure(&[&v6]).families, ["ipv4", "ipv6"]);
    }
}
