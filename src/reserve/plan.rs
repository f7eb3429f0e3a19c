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
    /// What the configuration files set at boot, when it was weighed (the host's namespace).
    pub boot: Option<PortSet>,
    /// Ports the boot configuration reserves that the running kernel does not: kept in the
    /// proposal, or the drop-in would drop them at the next boot.
    pub from_boot: PortSet,
    /// Why the plan cannot be applied as it is (the kernel cannot take it, or it leaves no
    /// ephemeral port); empty when it can.
    pub refusals: Vec<String>,
}

/// The value the configuration sets at boot, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct BootValue {
    pub value: PortSet,
    /// `file:line`.
    pub source: String,
}

impl Plan {
    /// Plans `current ∪ add − remove` against what the snapshot shows.
    pub fn new(current: &PortSet, add: &PortSet, remove: &PortSet, snap: &Snapshot) -> Plan {
        Plan::merged(current, None, add, remove, snap, false)
    }

    /// Plans `current ∪ boot ∪ add − remove`: a drop-in replaces the boot value, so ports the
    /// configuration reserves at boot that the running kernel lacks are kept, not silently
    /// dropped at the next reboot. `force` lifts the refusal of a plan that leaves (almost) no
    /// ephemeral port.
    pub fn merged(
        current: &PortSet,
        boot: Option<&BootValue>,
        add: &PortSet,
        remove: &PortSet,
        snap: &Snapshot,
        force: bool,
    ) -> Plan {
        let from_boot = boot
            .map(|b| b.value.difference(current).difference(remove))
            .unwrap_or_default();
        let proposed = current.union(&from_boot).union(add).difference(remove);
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
            boot: boot.map(|b| b.value.clone()),
            from_boot: from_boot.clone(),
            refusals: Vec::new(),
        };
        plan.warnings = plan.derive_warnings(add, remove, snap);
        if let Some(b) = boot.filter(|_| !from_boot.is_empty()) {
            plan.warnings.insert(
                0,
                format!(
                    "{} sets {} at boot, but the running kernel does not reserve {from_boot}:                      the plan keeps {from_boot}, so the drop-in does not drop {} at the next                      boot (take them out with --remove {from_boot})",
                    b.source,
                    b.value,
                    if from_boot.len() == 1 { "it" } else { "them" }
                ),
            );
        }
        plan.refusals.extend(super::apply::refusal(
            &plan.current,
            &plan.proposed,
            plan.ephemeral.range,
            force,
        ));
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
                first.holder(),
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
