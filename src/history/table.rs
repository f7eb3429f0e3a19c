//! The sockets alive at one moment, rebuilt by applying changes in order.

use super::{Change, ChangeKind, Key};
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
            let ep = c.endpoints();
            self.live
                .keys()
                .find(|key| (key.0, key.1, key.2, key.3, key.4) == ep)
                .copied()
        } else {
            None
        };
        match c.kind {
            ChangeKind::Restart => {
                self.live
                    .retain(|k, _| c.local_port != 0 && k.2 != c.local_port);
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
        v.sort_by(|a, b| {
            (
                a.proto,
                a.local_port,
                a.state,
                a.local_addr,
                a.remote_addr,
                a.remote_port,
            )
                .cmp(&(
                    b.proto,
                    b.local_port,
                    b.state,
                    b.local_addr,
                    b.remote_addr,
                    b.remote_port,
                ))
        });
        v
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}
