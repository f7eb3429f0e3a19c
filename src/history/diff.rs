//! What changed between two snapshots: the records the TUI's history is made of.

use super::{Change, ChangeKind};
use crate::model::Snapshot;
use crate::model::SocketKey as Key;
use rustc_hash::FxHashMap;

/// What changed since `prev` (every socket as `present` when there is no previous snapshot).
pub fn changes_since(prev: Option<&Snapshot>, next: &Snapshot) -> Vec<Change> {
    match prev {
        None => next
            .sockets
            .iter()
            .map(|s| Change::of_socket(s, ChangeKind::Present, next.taken_at, None))
            .collect(),
        Some(p) => diff(p, next),
    }
}

/// The changes between two snapshots of the same namespace, stamped with the later one's time.
pub fn diff(prev: &Snapshot, next: &Snapshot) -> Vec<Change> {
    // One map (of the older table) and a flag per old socket: at 100k sockets a second hash set
    // of the new table's keys was a third of the diff.
    let mut old: FxHashMap<Key, usize> = FxHashMap::default();
    old.reserve(prev.sockets.len());
    // The key leaves out the namespace: an all-namespace table can hold one twice (kernel-held
    // sockets with the same addresses). Each earlier copy stands or falls with the last one.
    let mut twins: Vec<(usize, usize)> = Vec::new();
    for (i, s) in prev.sockets.iter().enumerate() {
        if let Some(earlier) = old.insert(s.key(), i) {
            twins.push((earlier, i));
        }
    }
    let mut kept = vec![false; prev.sockets.len()];
    let mut out = Vec::new();
    let at = next.taken_at;
    for s in &next.sockets {
        match old.get(&s.key()) {
            None => out.push(Change::of_socket(s, ChangeKind::Appeared, at, None)),
            Some(&i) => {
                kept[i] = true;
                let o = &prev.sockets[i];
                if o.state != s.state || !same_owners(&o.owners, &s.owners) {
                    out.push(Change::of_socket(s, ChangeKind::Changed, at, Some(o.state)));
                }
            }
        }
    }
    for &(earlier, later) in twins.iter().rev() {
        kept[earlier] = kept[later];
    }
    for (s, kept) in prev.sockets.iter().zip(kept) {
        if !kept {
            out.push(Change::of_socket(s, ChangeKind::Gone, at, Some(s.state)));
        }
    }
    out
}

/// Same holders (by pid and start time): a refresh that found the same processes is no change.
fn same_owners(a: &crate::model::Owners, b: &crate::model::Owners) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.pid == y.pid && x.start_time == y.start_time)
}
