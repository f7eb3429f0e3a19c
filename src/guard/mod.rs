//! Guarding declared service ports before they break: the `[[service]]` declarations, their
//! discovery, the Nagios-style check, Prometheus metrics and the fleet report. The CLI drives
//! these; nothing here prints.

pub mod check;
pub mod discover;
mod figures;
mod findings;
pub mod fleet;
pub mod health;
pub mod host;
mod listening;
pub mod metrics;
pub mod plugin;
pub mod service;
pub mod why_line;

use crate::collect::NetnsTarget;
use crate::model::Snapshot;
use crate::reserve::SysctlLayout;
use std::path::Path;

pub use check::{BootConfig, Options, Report, Status};
pub use service::Service;

/// This machine's name, for reports gathered from many.
pub fn hostname() -> String {
    crate::kernel_file::read("/proc/sys/kernel/hostname")
        .map_or_else(|_| "unknown".into(), |s| why_line::one_line(&s))
}

/// Whether the snapshot's namespace is pid 1's, the only one boot-time files configure (where
/// pid 1 cannot be inspected, portscope's own namespace stands in for it).
pub fn is_host_netns(snap: &Snapshot) -> bool {
    crate::collect::netns::snapshot_is_host(snap)
}

/// Why the drift check does not compare the running value with configuration files; the
/// host check's text (and so `check --json`) carries its Display.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCompared {
    #[error(
        "configuration files set the host's namespace at boot, not {netns} (give --sysctl-root to compare with a tree)"
    )]
    NotTheHost { netns: String },
}

/// The audit the drift check compares with: below `sysctl_root` when one is given (the caller
/// says this tree configures this namespace), the host's files for the host's namespace, and
/// nothing for any other namespace.
pub fn boot_audit(
    snap: &Snapshot,
    sysctl_root: Option<&Path>,
) -> Result<crate::reserve::Audit, NotCompared> {
    match sysctl_root {
        Some(root) => Ok(crate::reserve::audit(&SysctlLayout::under_root(root))),
        None if is_host_netns(snap) => Ok(crate::reserve::audit(&SysctlLayout::system())),
        None => Err(NotCompared::NotTheHost {
            netns: snap.netns.target.clone(),
        }),
    }
}

/// Runs the check with the kernel's bind probe in `netns`.
pub fn run_check(
    snap: &Snapshot,
    services: &[Service],
    netns: &NetnsTarget,
    sysctl_root: Option<&Path>,
    opts: &Options,
) -> Report {
    let audit = boot_audit(snap, sysctl_root);
    let boot = match &audit {
        Ok(a) => BootConfig::Audit(a),
        Err(why) => BootConfig::NotApplicable(why.clone()),
    };
    let mut why = |port, proto| why_line::why_line(snap, netns, port, proto);
    let mut report = check::evaluate(snap, services, &boot, opts, &hostname(), &mut why);
    report.figures.listen_overflows = health::overflows(netns);
    report
}

/// The reachability of every declared port something listens on, from one read of the
/// namespace's filter rules within `budget`.
pub fn read_reach(
    snap: &Snapshot,
    services: &[Service],
    netns: &NetnsTarget,
    budget: std::time::Duration,
) -> Vec<crate::model::reach::Reachability> {
    use crate::analyze::reach::{exposure, listeners};
    let mut asked = Vec::new();
    for svc in services {
        for port in svc.ports.iter() {
            let ls = listeners(snap, svc.proto, port);
            if !ls.is_empty() {
                asked.push((svc.proto, port, exposure(&ls)));
            }
        }
    }
    let mut families: Vec<&'static str> = asked
        .iter()
        .flat_map(|(_, _, e)| e.families.iter().copied())
        .collect();
    families.sort_unstable();
    families.dedup();
    let dumps = if families.is_empty() {
        crate::collect::nat::filter::Dumps::default()
    } else {
        match crate::collect::nat::filter::read(netns, &families, budget) {
            Ok(d) => d,
            Err(_) => return Vec::new(),
        }
    };
    asked
        .iter()
        .map(|(proto, port, e)| dumps.for_listeners(*proto, *port, e))
        .collect()
}
