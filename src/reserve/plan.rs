//! The proposed change to `ip_local_reserved_ports` as a value: what is reserved now, what would
//! be, and what that costs. Pure: computed from port sets and a snapshot, so the CLI, `--json` and
//! the TUI's staging dialog all show the same numbers.

use crate::model::{Proto, Snapshot, Socket, Sysctls};
use crate::portset::PortSet;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Below this share of the ephemeral range left usable, warn that outgoing connections can run
/// out. The kernel's default range holds 28232 ports; a reverse proxy opening many upstream
/// connections to one backend needs a free (port, peer) pair for each.
pub const LOW_SHARE_PERCENT: f64 = 50.0;
/// Below this many usable ports, warn whatever the share.
pub const LOW_USABLE_PORTS: u32 = 10_000;
/// Warnings about held ports name this many ports, then summarise the rest.
const MAX_HELD_WARNINGS: usize = 8;

/// The ephemeral range and how much of it the kernel may still hand out automatically.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ephemeral {
    pub range: [u16; 2],
    /// Ports in the range.
    pub size: u32,
    /// Ports in the range that are not reserved now.
    pub usable_before: u32,
    /// Ports in the range that would not be reserved after the change.
    pub usable_after: u32,
    pub percent_before: f64,
    pub percent_after: f64,
}

impl Ephemeral {
    pub fn new(range: (u16, u16), before: &PortSet, after: &PortSet) -> Self {
        let (lo, hi) = (range.0.min(range.1), range.0.max(range.1));
        let size = u32::from(hi) - u32::from(lo) + 1;
        let usable_before = size - before.count_in(lo, hi);
        let usable_after = size - after.count_in(lo, hi);
        Ephemeral {
            range: [lo, hi],
            size,
            usable_before,
            usable_after,
            percent_before: percent(usable_before, size),
            percent_after: percent(usable_after, size),
        }
    }

    /// Little of the range left: a busy client can exhaust it.
    pub fn is_low_after(&self) -> bool {
        self.percent_after < LOW_SHARE_PERCENT || self.usable_after < LOW_USABLE_PORTS
    }
}

/// One decimal, so JSON and text agree.
fn percent(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (f64::from(part) * 1000.0 / f64::from(whole)).round() / 10.0
}

/// A change to the reserved-ports list, with its consequences. Serialises to the public
/// `reserve plan --json` document (`current`, `proposed`, `added`, `removed`, `ephemeral`, `held`,
/// `warnings` are an interface: add fields, never rename).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The value the kernel holds now.
    pub current: PortSet,
    /// current ∪ add − remove: a write replaces the whole list, so the proposal keeps what is
    /// already reserved.
    pub proposed: PortSet,
    pub added: PortSet,
    pub removed: PortSet,
    pub ephemeral: Ephemeral,
    /// Sockets holding a port of the proposal now. A reservation stops only automatic assignment;
    /// these keep their port until they close.
    pub held: Vec<Socket>,
    /// Listeners that would still sit inside the ephemeral range unreserved after the change.
    pub at_risk_after: Vec<Socket>,
    pub warnings: Vec<String>,
}

impl Plan {
    /// Plans `current ∪ add − remove` against what the snapshot shows.
    pub fn new(current: &PortSet, add: &PortSet, remove: &PortSet, snap: &Snapshot) -> Plan {
        let proposed = current.union(add).difference(remove);
        let added = proposed.difference(current);
        let removed = current.difference(&proposed);
        let ephemeral = Ephemeral::new(snap.sysctl.ephemeral(), current, &proposed);
        let held: Vec<Socket> = snap
            .sockets
            .iter()
            .filter(|s| proposed.contains(s.local_port))
            .cloned()
            .collect();
        let after = Sysctls {
            ip_local_reserved_ports: proposed.clone(),
            ..snap.sysctl.clone()
        };
        let at_risk_after = at_risk_listeners(snap, &after).cloned().collect();
        let mut plan = Plan {
            current: current.clone(),
            proposed,
            added,
            removed,
            ephemeral,
            held,
            at_risk_after,
            warnings: Vec::new(),
        };
        plan.warnings = plan.derive_warnings(add, remove, snap);
        plan
    }

    /// Whether applying would change the kernel's value.
    pub fn changes_runtime(&self) -> bool {
        self.proposed != self.current
    }

    fn derive_warnings(&self, add: &PortSet, remove: &PortSet, snap: &Snapshot) -> Vec<String> {
        let mut w = Vec::new();
        let [lo, hi] = self.ephemeral.range;
        let range = PortSet::from_ranges([(lo, hi)]);
        let outside = self.added.difference(&range);
        if !outside.is_empty() {
            w.push(format!(
                "{outside} outside the ephemeral range {lo}-{hi}: the kernel never assigns {} \
                 automatically, so reserving {} is harmless but not needed",
                if outside.len() == 1 { "it" } else { "them" },
                if outside.len() == 1 { "it" } else { "them" },
            ));
        }
        let already = add.intersection(&self.current);
        if !already.is_empty() {
            w.push(format!("{already} already reserved"));
        }
        // A broad --remove (0-65535 to clear the list) is fine; only a removal that hits nothing
        // is likely a mistake.
        if !remove.is_empty() && remove.intersection(&self.current).is_empty() {
            w.push(format!("{remove} not reserved now: nothing to remove"));
        }
        w.extend(held_warnings(&self.held, snap));
        w.extend(super::nodeport::overlap_warning(
            snap,
            (lo, hi),
            &self.proposed,
        ));
        if self.ephemeral.is_low_after() {
            w.push(format!(
                "only {} ports ({}%) of the ephemeral range {lo}-{hi} stay usable: a busy client \
                 (a reverse proxy opening upstream connections) can run out of local ports \
                 (connect fails with EADDRNOTAVAIL)",
                self.ephemeral.usable_after, self.ephemeral.percent_after
            ));
        }
        w
    }
}

/// One warning per port held by something other than its own service: outgoing connections,
/// TIME_WAIT leftovers. Listeners and the connections they accepted are the service itself.
fn held_warnings(held: &[Socket], snap: &Snapshot) -> Vec<String> {
    let listening: BTreeSet<(Proto, u16)> = snap
        .sockets
        .iter()
        .filter(|s| s.is_listening())
        .map(|s| (s.proto, s.local_port))
        .collect();
    let mut by_port: BTreeMap<(Proto, u16), Vec<&Socket>> = BTreeMap::new();
    for s in held {
        if !s.is_listening() && !listening.contains(&(s.proto, s.local_port)) {
            by_port.entry((s.proto, s.local_port)).or_default().push(s);
        }
    }
    let total = by_port.len();
    let mut out: Vec<String> = by_port
        .iter()
        .take(MAX_HELD_WARNINGS)
        .map(|(&(proto, port), socks)| {
            let first = socks[0];
            let more = if socks.len() > 1 {
                format!(" and {} more", socks.len() - 1)
            } else {
                String::new()
            };
            format!(
                "{proto} port {port} is held now by {} {} -> {} ({}){more}: a reservation does \
                 not evict it; it keeps the port until it closes",
                first.state.ss_name(),
                first.local(),
                first.remote(),
                holder(first),
            )
        })
        .collect();
    if total > MAX_HELD_WARNINGS {
        out.push(format!(
            "{} more ports are held now by sockets the reservation will not evict",
            total - MAX_HELD_WARNINGS
        ));
    }
    out
}

/// Who holds a socket, as a person reads it.
pub fn holder(s: &Socket) -> String {
    if s.kernel_held {
        return "the kernel, no process".into();
    }
    if s.owners.is_empty() {
        return "owner not visible".into();
    }
    s.owners
        .iter()
        .map(|o| o.label())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Listeners (and bound UDP receivers) inside the ephemeral range whose port is not reserved
/// under `sysctl`: the kernel may give their port to an outgoing connection while they are down.
/// Kernel-chosen (autobound) sockets are clients, not services, and are left out.
pub fn at_risk_listeners<'a>(
    snap: &'a Snapshot,
    sysctl: &'a Sysctls,
) -> impl Iterator<Item = &'a Socket> + 'a {
    snap.sockets
        .iter()
        .filter(move |s| s.is_listening() && !s.autobound && sysctl.at_risk(s.local_port))
}

/// The ports of [`at_risk_listeners`] under the snapshot's own settings: what `--at-risk` adds.
pub fn at_risk_ports(snap: &Snapshot) -> PortSet {
    let mut set = PortSet::new();
    for s in at_risk_listeners(snap, &snap.sysctl) {
        set.insert(s.local_port);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, NetnsInfo, Owner, Source, State, Stats};
    use std::sync::Arc;

    fn ps(s: &str) -> PortSet {
        PortSet::parse(s).unwrap()
    }

    fn sock(proto: Proto, state: State, port: u16, autobound: bool) -> Socket {
        Socket {
            proto,
            family: Family::Ipv4,
            state,
            local_addr: "127.0.0.1".parse().unwrap(),
            local_port: port,
            remote_addr: if state == State::Listen || state == State::Unconn {
                "0.0.0.0".parse().unwrap()
            } else {
                "127.0.0.1".parse().unwrap()
            },
            remote_port: if state == State::Listen { 0 } else { 5432 },
            inode: 1,
            cookie: 0,
            uid: 0,
            rx_queue: 0,
            tx_queue: 0,
            autobound,
            v6only: None,
            expires_ms: None,
            kernel_held: state == State::TimeWait,
            owner_hidden: false,
            owners: if state == State::TimeWait {
                crate::model::no_owners()
            } else {
                Arc::from([Arc::new(Owner {
                    pid: 42,
                    comm: "curl".into(),
                    cmdline: "curl".into(),
                    uid: 0,
                    user: "root".into(),
                    start_time: 1,
                    unit: None,
                    container: None,
                    ..Owner::default()
                })])
            },
            published: None,
            netns: 0,
        }
    }

    fn snap(range: [u16; 2], reserved: &str, sockets: Vec<Socket>) -> Snapshot {
        Snapshot {
            version: 1,
            taken_at: jiff::Timestamp::UNIX_EPOCH,
            source: Source::Netlink,
            netns: NetnsInfo {
                target: "current".into(),
                inode: 1,
                is_own: true,
            },
            sysctl: Sysctls {
                ip_local_port_range: range,
                ip_local_reserved_ports: ps(reserved),
                ..Sysctls::default()
            },
            stats: Stats::default(),
            warnings: vec![],
            sockets,
            namespaces: Vec::new(),
            node_port_range: None,
        }
    }

    #[test]
    fn merge_remove_and_arithmetic() {
        // (range, current, add, remove) -> (proposed, added, removed, before, after)
        let cases = [
            (
                [32768, 60999],
                "9000-9010",
                "8080",
                "",
                ("8080,9000-9010", "8080", "", 28232, 28232),
            ),
            (
                [32768, 60999],
                "40000-40009",
                "40005-40019",
                "",
                ("40000-40019", "40010-40019", "", 28222, 28212),
            ),
            (
                [32768, 60999],
                "8080,40000-40009",
                "",
                "40005-40009,8080",
                ("40000-40004", "", "8080,40005-40009", 28222, 28227),
            ),
            (
                [1000, 1009],
                "",
                "1000-1004",
                "",
                ("1000-1004", "1000-1004", "", 10, 5),
            ),
            (
                [1000, 1009],
                "1000-1009",
                "",
                "",
                ("1000-1009", "", "", 0, 0),
            ),
            ([0, 65535], "", "", "", ("", "", "", 65536, 65536)),
            (
                [60999, 32768],
                "",
                "32768",
                "",
                ("32768", "32768", "", 28232, 28231),
            ),
        ];
        for (range, cur, add, rem, (prop, added, removed, before, after)) in cases {
            let s = snap(range, cur, vec![]);
            let p = Plan::new(&ps(cur), &ps(add), &ps(rem), &s);
            let got = (
                p.proposed.to_string(),
                p.added.to_string(),
                p.removed.to_string(),
                p.ephemeral.usable_before,
                p.ephemeral.usable_after,
            );
            assert_eq!(
                got,
                (
                    prop.to_string(),
                    added.to_string(),
                    removed.to_string(),
                    before,
                    after
                ),
                "range {range:?} current {cur:?} add {add:?} remove {rem:?}"
            );
        }
    }

    #[test]
    fn percentages_and_low_capacity_warning() {
        let cases = [
            // (range, add, percent_after, low)
            ([32768, 60999], "32768-40000", 74.4, false),
            ([32768, 60999], "32768-50000", 39.0, true),
            ([50000, 65535], "50000-50999", 93.6, false),
            ([50000, 59999], "", 100.0, false),
            ([50000, 58999], "", 100.0, true), // 9000 ports: too few whatever the share
        ];
        for (range, add, pct, low) in cases {
            let p = Plan::new(
                &PortSet::new(),
                &ps(add),
                &PortSet::new(),
                &snap(range, "", vec![]),
            );
            assert_eq!(p.ephemeral.percent_after, pct, "{range:?} {add}");
            assert_eq!(p.ephemeral.is_low_after(), low, "{range:?} {add}");
            assert_eq!(
                p.warnings.iter().any(|w| w.contains("can run out")),
                low,
                "{:?}",
                p.warnings
            );
        }
    }

    #[test]
    fn outside_range_and_noop_warnings() {
        let s = snap([32768, 60999], "9000", vec![]);
        let p = Plan::new(&ps("9000"), &ps("8080,9000,40000"), &ps("7000"), &s);
        let clear = Plan::new(&ps("9000"), &PortSet::new(), &ps("0-65535"), &s);
        assert!(
            clear
                .warnings
                .iter()
                .all(|w| !w.contains("nothing to remove"))
        );
        assert_eq!(clear.proposed.to_string(), "");
        assert_eq!(p.added.to_string(), "8080,40000");
        let joined = p.warnings.join("\n");
        assert!(
            joined.contains("8080 outside the ephemeral range 32768-60999"),
            "{joined}"
        );
        assert!(!joined.contains("40000 outside"), "{joined}");
        assert!(joined.contains("9000 already reserved"), "{joined}");
        assert!(joined.contains("7000 not reserved now"), "{joined}");
    }

    #[test]
    fn held_sockets_are_listed_and_only_intruders_warned() {
        let sockets = vec![
            sock(Proto::Tcp, State::Listen, 40000, false),
            sock(Proto::Tcp, State::Established, 40000, false), // accepted child
            sock(Proto::Tcp, State::Established, 40001, true),  // outgoing, stole the port
            sock(Proto::Tcp, State::TimeWait, 40002, false),
            sock(Proto::Tcp, State::Established, 45000, true), // not in the proposal
        ];
        let s = snap([32768, 60999], "", sockets);
        let p = Plan::new(&PortSet::new(), &ps("40000-40002"), &PortSet::new(), &s);
        let ports: Vec<u16> = p.held.iter().map(|s| s.local_port).collect();
        assert_eq!(ports, [40000, 40000, 40001, 40002]);
        let held: Vec<&String> = p
            .warnings
            .iter()
            .filter(|w| w.contains("held now"))
            .collect();
        assert_eq!(held.len(), 2, "{held:?}");
        assert!(held[0].contains("port 40001") && held[0].contains("curl (pid 42)"));
        assert!(held[1].contains("port 40002") && held[1].contains("the kernel"));
    }

    #[test]
    fn at_risk_listeners_skip_reserved_outside_and_autobound() {
        let sockets = vec![
            sock(Proto::Tcp, State::Listen, 40000, false),
            sock(Proto::Tcp, State::Listen, 40001, false), // reserved
            sock(Proto::Tcp, State::Listen, 8080, false),  // outside the range
            sock(Proto::Udp, State::Unconn, 40002, false),
            sock(Proto::Udp, State::Unconn, 40003, true), // a client's kernel-chosen port
            sock(Proto::Tcp, State::Established, 40004, true),
        ];
        let s = snap([32768, 60999], "40001", sockets);
        assert_eq!(at_risk_ports(&s).to_string(), "40000,40002");
        let p = Plan::new(&ps("40001"), &ps("40000"), &PortSet::new(), &s);
        let left: Vec<u16> = p.at_risk_after.iter().map(|s| s.local_port).collect();
        assert_eq!(left, [40002]);
    }

    #[test]
    fn json_has_the_public_fields() {
        let s = snap([32768, 60999], "9000-9010", vec![]);
        let p = Plan::new(&ps("9000-9010"), &ps("8080"), &PortSet::new(), &s);
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["current"], "9000-9010");
        assert_eq!(v["proposed"], "8080,9000-9010");
        assert_eq!(v["added"], "8080");
        assert_eq!(v["removed"], "");
        assert_eq!(v["ephemeral"]["range"], serde_json::json!([32768, 60999]));
        assert_eq!(v["ephemeral"]["usable_before"], 28232);
        assert_eq!(v["ephemeral"]["usable_after"], 28232);
        assert!(v["held"].as_array().unwrap().is_empty());
        assert!(v["warnings"].is_array());
    }
}
