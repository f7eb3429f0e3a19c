//! How often each part of the table is read. A full dump of a busy host's connections costs the
//! kernel ~1 ms per thousand sockets however it is asked for, so a full table every second cannot
//! be cheap at 100k; the listeners can (a LISTEN-only dump skips the connection table). Each tick
//! reads what the view on screen needs fresh; the rest is read on a slower cadence scaled by its
//! own cost, and the screen says how old it is.

use crate::collect::Coverage;
use std::time::Duration;

/// What the view on screen needs fresh on every tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Need {
    /// Listeners, the port map: TCP listeners and UDP every tick, the rest on the slow cadence.
    #[default]
    Listening,
    /// Connections, the why view: the whole table every tick (paced by its cost).
    Everything,
}

/// What a tick between full refreshes reads. Bound-inactive TCP sockets are left to the full
/// refresh: asking for them makes the kernel walk its bind table, which grows with every
/// autobound connection (30 ms at 100k connections, against 4 ms for this).
pub const TICK: Coverage = Coverage::Listening {
    bound_inactive: false,
};

#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// The tick (`--interval`).
    pub interval: Duration,
    /// The full table is read at least this often while it is not on screen...
    pub full_min: Duration,
    /// ...and no more often than keeps its refreshes under this share of one core.
    pub full_share: f64,
    /// Keep TCP connections from the kernel's state-change events between verifying dumps
    /// (where the privileges allow): then the full table is read only to verify them...
    pub events: bool,
    /// ...at least this far apart, and no more often than keeps the verifications (each with
    /// the whole owner scan) under this share of a core. A third of the 1% allowed: a check that
    /// has found nothing to repair in any test (millions of sockets compared), while the view
    /// left open must stay under 2% in all. At 100k sockets a verification costs 0.4-0.6 s of
    /// CPU: one every 2-3 minutes; at 10k, every 10-20 s.
    pub verify_min: Duration,
    pub verify_share: f64,
    /// Bound-only TCP sockets of a kept table (no event announces a bind) are read with the
    /// listeners at least every `full_min`, as the whole table was before, within this share of
    /// a core (their dump walks the host-wide bind hash).
    pub bound_share: f64,
}

impl Cadence {
    pub fn new(interval: Duration) -> Cadence {
        Cadence {
            interval,
            full_min: interval.max(Duration::from_secs(5)),
            full_share: 0.02,
            events: true,
            verify_min: Duration::from_secs(10),
            verify_share: 0.003,
            bound_share: 0.002,
        }
    }

    /// How long after a full refresh that cost `cost` of CPU the next one is due.
    pub fn full_every(&self, need: Need, cost: Duration) -> Duration {
        match need {
            // On screen: every tick, but never more than a quarter of a core.
            Need::Everything => self.interval.max(cost * 4),
            Need::Listening => {
                crate::collect::cpu::budgeted_every(self.full_min, cost, self.full_share)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_cadence_scales_with_cost() {
        let c = Cadence::new(Duration::from_secs(1));
        assert_eq!(
            c.full_every(Need::Listening, Duration::from_millis(10)),
            Duration::from_secs(5)
        );
        // 300 ms of CPU at 2% of a core: every 15 s.
        assert_eq!(
            c.full_every(Need::Listening, Duration::from_millis(300)),
            Duration::from_secs(15)
        );
        assert_eq!(
            c.full_every(Need::Everything, Duration::from_millis(100)),
            Duration::from_secs(1)
        );
        assert_eq!(
            c.full_every(Need::Everything, Duration::from_millis(400)),
            Duration::from_millis(1600)
        );
    }
}
