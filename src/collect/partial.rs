//! A table made of two refreshes: the listening kind read now, the rest carried from the last
//! full snapshot. The TUI reads listeners every tick (cheap: the kernel skips its connection
//! table) and everything else on a slower cadence; the result says how old the rest is.

use super::{Coverage, table_order};
use crate::model::{Snapshot, Socket};
use rustc_hash::FxHashSet;

/// `fresh` (collected with `coverage`) completed with the sockets of `full` that `coverage`
/// does not read. A socket read now wins over its older self (a bound socket that started
/// listening since is not shown twice). Counts are the merged table's; owners scan figures,
/// warnings, sysctls and time are `fresh`'s.
pub fn merge(mut fresh: Snapshot, full: &Snapshot, coverage: Coverage) -> Snapshot {
    let now: FxHashSet<u64> = fresh
        .sockets
        .iter()
        .filter(|s| s.inode != 0)
        .map(|s| s.inode)
        .collect();
    let carried = full
        .sockets
        .iter()
        .filter(|s| !coverage.covers(s) && (s.inode == 0 || !now.contains(&s.inode)));
    let new = std::mem::take(&mut fresh.sockets);
    let mut out: Vec<Socket> = Vec::with_capacity(full.sockets.len() + new.len());
    // Both tables are in table order: one linear merge instead of a sort.
    let mut new = new.into_iter().peekable();
    for s in carried {
        while let Some(n) = new.next_if(|n| table_order(n, s).is_lt()) {
            out.push(n);
        }
        out.push(s.clone());
    }
    out.extend(new);
    let st = &mut fresh.stats;
    st.sockets = out.len();
    st.kernel_held = out.iter().filter(|s| s.kernel_held).count();
    st.owner_hidden = out.iter().filter(|s| s.owner_hidden).count();
    st.owned = st.sockets - st.kernel_held - st.owner_hidden;
    fresh.node_port_range = super::container::kube::node_port_range(&out);
    fresh.sockets = out;
    fresh
}

/// The sockets of `snap` that `coverage` reads, as a snapshot of their own (to diff two ticks'
/// listeners without walking the carried connections).
pub fn covered(snap: &Snapshot, coverage: Coverage) -> Snapshot {
    Snapshot {
        version: snap.version,
        taken_at: snap.taken_at,
        source: snap.source,
        netns: snap.netns.clone(),
        sysctl: snap.sysctl.clone(),
        stats: snap.stats.clone(),
        warnings: Vec::new(),
        sockets: snap
            .sockets
            .iter()
            .filter(|s| coverage.covers(s))
            .cloned()
            .collect(),
        namespaces: Vec::new(),
        node_port_range: snap.node_port_range,
    }
}
