//! The sockets alive at one moment, rebuilt by applying changes in order.

use super::{Change, ChangeKind};
use crate::model::SocketKey as Key;
use rustc_hash::FxHashMap;

/// The sockets alive at a moment, by key.
#[derive(Debug, Default, Clone)]
pub struct Table {
    live: FxHashMap<Key, Change>,
}

impl Table {
    /// Applies one change. A `gone` or `changed` whose exact key is unknown (a tracepoint event
    /// for a socket first seen by a dump) matches the socket with the same endpoints.
    pub fn apply(&mut self, c: &Change) {
        let k = c.key();
        let found = if self.live.contains_key(&k) {
            Some(k)
        } else if matches!(c.kind, ChangeKind::Gone | ChangeKind::Changed) {
            self.live
                .keys()
                .find(|key| key.proto == k.proto && key.local == k.local && key.remote == k.remote)
                .copied()
        } else {
            None
        };
        match c.kind {
            ChangeKind::Restart => {
                self.live
                    .retain(|k, _| c.local_port != 0 && k.local.1 != c.local_port);
            }
            ChangeKind::Gone => {
                if let Some(f) = found {
                    self.live.remove(&f);
                }
            }
            ChangeKind::Changed => {
                let mut next = c.clone();
                if let Some(f) = found
                    && let Some(prev) = self.live.remove(&f)
                    && next.owners.is_empty()
                {
                    next.owners = prev.owners;
                }
                self.live.insert(k, next);
            }
            ChangeKind::Present | ChangeKind::Appeared => {
                self.live.insert(k, c.clone());
            }
        }
    }

    /// Alive sockets on `port` (all ports when None), in a stable order.
    pub fn on_port(&self, port: Option<u16>) -> Vec<&Change> {
        let mut v: Vec<&Change> = self
            .live
            .values()
            .filter(|c| port.is_none_or(|p| c.local_port == p))
            .collect();
        v.sort_by_key(|c| c.table_order());
        v
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}
