//! What a tick between whole tables reads fresh: the listeners and UDP sockets, and, when they
//! are due, the sockets bound without listening that a kept table carries (a bind announces
//! nothing; their dump walks the host-wide bind hash, so they come on a cadence of their own).

use crate::collect::owner_cache::OwnerCache;
use crate::collect::{CollectOptions, Coverage};
use crate::model::{Snapshot, Socket, State};
use std::time::{Duration, Instant};

/// When the bound-only sockets were last read, and what that tick cost (CPU).
#[derive(Debug, Clone, Copy)]
pub struct BoundRead {
    pub at: Instant,
    pub cost: Duration,
}

/// A tick's reading. `bound` is the bound-only sockets when they were read, taken out of
/// `fresh` so that it stays comparable with the last tick's (listeners and UDP).
pub struct TickRead {
    pub fresh: Snapshot,
    pub bound: Option<(Vec<Socket>, BoundRead)>,
}

/// Reads the listening part of `opts`'s namespace, with the bound-only sockets when `bound`.
pub fn read(
    opts: &CollectOptions,
    cache: &mut OwnerCache,
    bound: bool,
) -> Result<TickRead, String> {
    let cpu0 = crate::collect::cpu::process_time();
    let mut fresh = crate::collect::collect_with(
        &CollectOptions {
            coverage: Coverage::Listening {
                bound_inactive: bound,
            },
            ..opts.clone()
        },
        Some(cache),
    )
    .map_err(|e| e.to_string())?;
    let bound = bound.then(|| {
        let read = BoundRead {
            at: Instant::now(),
            cost: crate::collect::cpu::process_time().saturating_sub(cpu0),
        };
        let (bound, rest) = std::mem::take(&mut fresh.sockets)
            .into_iter()
            .partition(|s| s.state == State::BoundInactive);
        fresh.sockets = rest;
        (bound, read)
    });
    Ok(TickRead { fresh, bound })
}
