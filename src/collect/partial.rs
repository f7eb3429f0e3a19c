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
pub fn merge(fresh: Snapshot, full: &Snapshot, coverage: Coverage) -> Snapshot {
    let carried = full.sockets.iter().filter(|s| !coverage.covers(s));
    merge_sockets(fresh, carried, full.sockets.len())
}

/// `fresh` completed with `carried` (the sockets it does not cover, in table order): a socket
/// read now wins over its older self, as in [`merge`]. `about` is how many to make room for.
pub fn merge_sockets<'a>(
    mut fresh: Snapshot,
    carried: impl Iterator<Item = &'a Socket>,
    about: usize,
) -> Snapshot {
    let now: FxHashSet<u64> = fresh
        .sockets
        .iter()
        .filter(|s| s.inode != 0)
        .map(|s| s.inode)
        .collect();
    let carried = carried.filter(|s| s.inode == 0 || !now.contains(&s.inode));
    let new = std::mem::take(&mut fresh.sockets);
    let mut out: Vec<Socket> = Vec::with_capacity(about + new.len());
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
        warnings: snap.warnings.clone(),
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

/// Whether two readings of the same coverage show the same thing: the same sockets with the
/// same owners, queues and marks, the same sysctls and namespace, the same warnings. What a
/// reading says about itself (when, how long, how many fds it read) does not count.
pub fn same_reading(a: &Snapshot, b: &Snapshot) -> bool {
    let seen = |s: &Snapshot| {
        (
            s.source,
            s.stats.processes_hidden,
            s.stats.is_root,
            s.stats.bound_inactive_visible,
        )
    };
    a.sockets == b.sockets
        && a.sysctl == b.sysctl
        && a.netns == b.netns
        && a.warnings == b.warnings
        && a.namespaces == b.namespaces
        && seen(a) == seen(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, owner, snapshot};

    #[test]
    fn a_reading_is_the_same_whatever_it_says_about_itself() {
        let a = snapshot(vec![listener(80), listener(443)]);
        let mut b = a.clone();
        b.taken_at = b
            .taken_at
            .checked_add(jiff::SignedDuration::from_secs(3))
            .unwrap_or(b.taken_at);
        b.stats.duration_us += 500;
        b.stats.fds_scanned += 7;
        b.stats.processes_scanned += 1;
        assert!(same_reading(&a, &b));
    }

    #[test]
    fn any_change_to_what_is_shown_makes_a_new_reading() {
        type Change = Box<dyn Fn(&mut Snapshot)>;
        let a = snapshot(vec![listener(80), listener(443)]);
        let changed: Vec<Change> = vec![
            Box::new(|s| {
                s.sockets.pop();
            }),
            Box::new(|s| s.sockets[0].rx_queue += 1),
            Box::new(|s| s.sockets[0].owners = vec![owner(4123, "java")].into()),
            Box::new(|s| s.sysctl.ip_local_port_range[0] += 1),
            Box::new(|s| s.warnings.push("hidden".into())),
            Box::new(|s| s.stats.processes_hidden += 1),
        ];
        for (i, change) in changed.iter().enumerate() {
            let mut b = a.clone();
            change(&mut b);
            assert!(!same_reading(&a, &b), "change {i} went unnoticed");
        }
    }
}
