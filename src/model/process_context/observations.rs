//! Socket counts of processes across refreshes: the growth of a leak needs two samples.

use std::collections::{HashMap, VecDeque};

/// Socket counts of processes over the last refreshes, for their growth. A process is known by
/// pid and start time (a reused pid starts over); bounded in samples per process and processes.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    samples: HashMap<(u32, u64), VecDeque<(jiff::Timestamp, usize)>>,
}

/// Samples kept per process: the growth is over the last few minutes at the TUI's refresh rate,
/// not since the process started.
pub const SAMPLES_PER_PROCESS: usize = 32;
/// Processes remembered: the least recently seen go first.
pub const PROCESSES_KEPT: usize = 256;

impl Observations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Notes that process (pid, start ticks) held `count` sockets at `at`. Samples out of order
    /// (a replayed older snapshot) are ignored.
    pub fn record(&mut self, pid: u32, start: u64, at: jiff::Timestamp, count: usize) {
        if !self.samples.contains_key(&(pid, start)) && self.samples.len() >= PROCESSES_KEPT {
            let oldest = self
                .samples
                .iter()
                .min_by_key(|(_, v)| v.back().map(|s| s.0))
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.samples.remove(&k);
            }
        }
        let q = self.samples.entry((pid, start)).or_default();
        if q.back().is_some_and(|(t, _)| *t >= at) {
            return;
        }
        if q.len() >= SAMPLES_PER_PROCESS {
            q.pop_front();
        }
        q.push_back((at, count));
    }

    /// Sockets per minute between the oldest and newest kept samples, rounded; `None` with fewer
    /// than two.
    pub fn per_min(&self, pid: u32, start: u64) -> Option<i64> {
        let q = self.samples.get(&(pid, start))?;
        let (t0, c0) = q.front()?;
        let (t1, c1) = q.back()?;
        let secs = t1.duration_since(*t0).as_secs_f64();
        if q.len() < 2 || secs <= 0.0 {
            return None;
        }
        // A float cast saturates; a per-minute rate of real counters is far inside i64.
        #[allow(clippy::cast_possible_truncation)]
        let per_min = ((*c1 as f64 - *c0 as f64) * 60.0 / secs).round() as i64;
        Some(per_min)
    }

    /// Records the socket count of every process in `snap` at the time it was taken, and
    /// forgets processes that are no longer in it. With more than [`PROCESSES_KEPT`] processes
    /// the busiest are kept: a leak shows as many sockets.
    pub fn record_snapshot(&mut self, snap: &crate::model::Snapshot) {
        let mut counts: HashMap<(u32, u64), usize> = HashMap::new();
        for s in &snap.sockets {
            for o in s.owners.iter() {
                *counts.entry((o.pid, o.start_time)).or_default() += 1;
            }
        }
        let mut counts: Vec<((u32, u64), usize)> = counts.into_iter().collect();
        if counts.len() > PROCESSES_KEPT {
            counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            counts.truncate(PROCESSES_KEPT);
        }
        let keep: std::collections::HashSet<(u32, u64)> = counts.iter().map(|c| c.0).collect();
        self.samples.retain(|k, _| keep.contains(k));
        for ((pid, start), n) in counts {
            self.record(pid, start, snap.taken_at, n);
        }
    }

    /// Forgets processes not in `alive` (pid, start ticks).
    pub fn retain(&mut self, alive: impl Fn(u32, u64) -> bool) {
        self.samples.retain(|(p, s), _| alive(*p, *s));
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Samples kept for one process.
    pub fn samples_of(&self, pid: u32, start: u64) -> usize {
        self.samples.get(&(pid, start)).map_or(0, VecDeque::len)
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}
