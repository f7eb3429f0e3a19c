//! The accept queues of the listeners over the TUI's ticks: one look says how full a queue is,
//! several say whether it drains. Every tick reads the listening table (see `tui::collector`),
//! so each tick is a look. Bounded: [`LOOKS_KEPT`] looks per listener, listeners that left the
//! table are forgotten, and at most [`LISTENERS_KEPT`] are followed.

use crate::model::{Proto, Snapshot, Socket};
use std::collections::{HashMap, VecDeque};

/// Looks kept per listener: a minute or two at the TUI's tick.
pub const LOOKS_KEPT: usize = 60;
/// Listeners followed (those with the longest queues win on a host with more).
pub const LISTENERS_KEPT: usize = 1024;

/// One look: when, how many waited, the effective backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSample {
    pub at: jiff::Timestamp,
    pub queued: u32,
    pub backlog: u32,
}

#[derive(Debug, Clone, Default)]
pub struct ListenHistory {
    looks: HashMap<(u64, u64), VecDeque<QueueSample>>,
}

/// A listener across ticks: its namespace and inode.
fn key(s: &Socket) -> (u64, u64) {
    (s.netns, s.inode)
}

impl ListenHistory {
    /// Notes each TCP listener's queue in `snap`, and forgets the listeners not in it.
    pub fn record_snapshot(&mut self, snap: &Snapshot) {
        let mut now: Vec<&Socket> = snap
            .sockets
            .iter()
            .filter(|s| s.proto == Proto::Tcp && s.is_listening())
            .collect();
        if now.len() > LISTENERS_KEPT {
            now.sort_by_key(|s| std::cmp::Reverse(s.rx_queue));
            now.truncate(LISTENERS_KEPT);
        }
        let keep: std::collections::HashSet<(u64, u64)> = now.iter().map(|s| key(s)).collect();
        self.looks.retain(|k, _| keep.contains(k));
        for s in now {
            self.push(
                key(s),
                QueueSample {
                    at: snap.taken_at,
                    queued: s.rx_queue,
                    backlog: s.tx_queue,
                },
            );
        }
    }

    /// A tick that found the table unchanged is a look all the same: the queues were as last
    /// time.
    pub fn recheck(&mut self, at: jiff::Timestamp) {
        let keys: Vec<(u64, u64)> = self.looks.keys().copied().collect();
        for k in keys {
            if let Some(last) = self.looks.get(&k).and_then(|q| q.back()).copied() {
                self.push(k, QueueSample { at, ..last });
            }
        }
    }

    fn push(&mut self, k: (u64, u64), look: QueueSample) {
        let q = self.looks.entry(k).or_default();
        // A replayed or older reading is not a new look.
        if q.back().is_some_and(|l| l.at >= look.at) {
            return;
        }
        if q.len() >= LOOKS_KEPT {
            q.pop_front();
        }
        q.push_back(look);
    }

    /// The looks at `s`'s queue, oldest first.
    pub fn of(&self, s: &Socket) -> Vec<QueueSample> {
        self.looks
            .get(&key(s))
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.looks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.looks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, snapshot};

    #[test]
    fn looks_are_bounded_and_gone_listeners_forgotten() {
        let mut h = ListenHistory::default();
        let mut snap = snapshot(vec![listener(80), listener(443)]);
        let mut last = 0;
        for i in 0..(i64::try_from(LOOKS_KEPT).unwrap() + 10) {
            snap.taken_at = jiff::Timestamp::from_second(1_000 + i).unwrap_or(snap.taken_at);
            last = u32::try_from(i % 3).unwrap_or(0);
            snap.sockets[0].rx_queue = last;
            h.record_snapshot(&snap);
        }
        assert_eq!(h.of(&snap.sockets[0]).len(), LOOKS_KEPT);
        h.recheck(jiff::Timestamp::from_second(5_000).unwrap_or(snap.taken_at));
        let looks = h.of(&snap.sockets[0]);
        assert_eq!(looks.len(), LOOKS_KEPT, "the recheck pushed the oldest out");
        assert_eq!(looks.last().map(|l| l.queued), Some(last));
        snap.sockets.pop();
        h.record_snapshot(&snap);
        assert_eq!(h.len(), 1);
    }
}
