//! Owners of kept sockets: joined from the owner cache when a socket is looked up, and again
//! whenever the cache saw a process change (a fork, an exit, a passed fd: no TCP event says so).

use super::{Kept, owner_pids, tuple_of};
use crate::collect::owner_cache::OwnerCache;
use crate::model::{Owner, Owners, Socket, State};
use rustc_hash::FxHashMap;
use std::sync::Arc;

impl Kept {
    /// Owners for sockets just looked up. The processes whose fd counts moved are read first;
    /// a socket still without one is looked for in the process that connected it, then in its
    /// listener's (who accepts), whose counts may have stayed level (one closed, one opened).
    pub(super) fn join_new(
        &mut self,
        found: &mut [Socket],
        cache: &mut OwnerCache,
        listeners: &[Socket],
    ) {
        if !found.iter().any(|s| s.inode != 0) {
            return;
        }
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        if let Ok(map) = cache.incremental(threads) {
            crate::collect::join_owners(found, &map);
        }
        let unowned = |s: &&mut Socket| s.inode != 0 && s.owners.is_empty();
        let mut pids: Vec<u32> = Vec::new();
        for s in found.iter_mut().filter(unowned) {
            let t = tuple_of(s);
            pids.extend(self.callers.get(&t));
            pids.extend(
                listeners
                    .iter()
                    .filter(|l| l.local_port == s.local_port && l.state == State::Listen)
                    .flat_map(|l| l.owners.iter().map(|o| o.pid)),
            );
        }
        if !pids.is_empty() {
            pids.sort_unstable();
            pids.dedup();
            let map = cache.reread(&pids, threads);
            crate::collect::join_owners(found, &map);
        }
        for s in found.iter_mut() {
            self.callers.remove(&tuple_of(s));
        }
        if self.callers.len() > crate::watch::sample::PENDING_MAX {
            self.callers.clear();
        }
    }

    /// Gives the kept sockets whose holders may have changed since the table was last joined
    /// (a fork, an exit, a passed fd: no TCP event says so) their owners; whether any changed.
    pub(super) fn rejoin(&mut self, cache: &OwnerCache) -> bool {
        if cache.generation() == self.joined {
            return false;
        }
        // Only sockets of this table count (most changes are other namespaces', or portscope's
        // own netlink socket).
        let only = cache.changed_since(self.joined).map(|o| {
            o.into_iter()
                .filter(|i| self.by_inode.contains_key(i))
                .collect::<rustc_hash::FxHashSet<u64>>()
        });
        self.joined = cache.generation();
        if only
            .as_ref()
            .is_some_and(std::collections::HashSet::is_empty)
        {
            return false;
        }
        let holders = cache.holders(only.as_ref());
        let mut interned: FxHashMap<Vec<u32>, Owners> = FxHashMap::default();
        let mut changed = false;
        match &only {
            // The sockets named, through the inode index (not a walk over 100k sockets).
            Some(inodes) => {
                for i in inodes {
                    let key = self.by_inode.get(i).and_then(|t| self.index.get(t));
                    if let Some(s) = key.and_then(|k| self.table.get_mut(k)) {
                        changed |= rejoin_one(s, &holders, &mut interned);
                    }
                }
            }
            // The log cannot say (a full scan since): all of them.
            None => {
                for s in self.table.values_mut() {
                    changed |= rejoin_one(s, &holders, &mut interned);
                }
            }
        }
        changed
    }
}

/// Gives `s` the holders `holders` has for it; whether they differ from those it had.
fn rejoin_one(
    s: &mut Socket,
    holders: &FxHashMap<u64, Vec<Arc<Owner>>>,
    interned: &mut FxHashMap<Vec<u32>, Owners>,
) -> bool {
    if s.inode == 0 {
        return false;
    }
    let now = holders.get(&s.inode).map_or(&[][..], |v| &v[..]);
    let mut pids: Vec<u32> = now.iter().map(|o| o.pid).collect();
    pids.sort_unstable();
    if pids == owner_pids(s) {
        return false;
    }
    s.owners = interned
        .entry(pids)
        .or_insert_with(|| now.iter().map(Arc::clone).collect())
        .clone();
    s.owner_hidden = s.owners.is_empty() && !s.kernel_held;
    true
}
