//! Pure analysis over a snapshot: no I/O, so every verdict can be tested from recorded data.

pub mod across;
pub mod conn_groups;
pub mod conn_sort;
pub mod connect;
pub mod connect_text;
pub mod conns;
pub mod listener_health;
pub mod portmap;
pub mod reach;
pub mod remedy_kind;
pub mod socket_unit;
pub mod stop_safety;
pub mod why;

use crate::model::Snapshot;

/// Everything the views derive from a whole snapshot (independent of filter and sort). Computed
/// on the collector thread, so a 100k-socket refresh does not stall key handling.
pub struct Derived {
    pub summary: conns::ConnSummary,
    pub portmap: portmap::PortMap,
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The port map is 65536 entries: not worth printing.
        f.debug_struct("Derived")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// Whether processes are missing from the snapshot's owners for lack of permission (not root),
/// rather than because they run in another PID namespace or exited during the scan.
pub fn hidden_by_permissions(snap: &Snapshot) -> bool {
    snap.stats.processes_hidden > 0 && !snap.stats.is_root
}

impl Derived {
    pub fn of(snap: &Snapshot) -> Derived {
        Derived {
            summary: conns::summarize(snap),
            portmap: portmap::PortMap::build(snap),
        }
    }
}
