//! The kept table against a dump, socket by socket and owner by owner.
//!
//! A dump is not an instant: it walks the kernel's tables while sockets keep changing. What
//! changed while it was read (an event arrived for it) cannot be compared, and neither can a
//! TIME_WAIT whose timer runs out within a few seconds of the dump (timers fire late by design)
//! or a connection accepted since it was last looked at (an accept announces nothing). Every
//! other difference is the kept table being wrong.

use super::{Kept, Tuple, owner_pids, tuple_of};
use crate::model::{Snapshot, Socket, State};
use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

/// A TIME_WAIT this close to its end may or may not be in a dump.
const TIMER_SLACK: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub tuple: Tuple,
    /// "missing" (in the dump, not kept), "extra" (kept, not in the dump), "state", "inode",
    /// "owners".
    pub kind: &'static str,
    pub kept: Option<String>,
    pub dump: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Sockets found on both sides and compared field by field.
    pub compared: usize,
    pub differences: Vec<Difference>,
}

fn describe(s: &Socket) -> String {
    format!(
        "{} inode {} owners {:?}",
        s.state.name(),
        s.inode,
        owner_pids(s)
    )
}

/// Whether a socket's state is one events announce (request and bound-only sockets are not).
fn announced(s: &Socket) -> bool {
    !matches!(
        s.state,
        State::SynRecv | State::BoundInactive | State::Listen
    )
}

/// How kept socket `k` differs from the dump's `d` with the same addresses, if it does.
fn differs(k: &Socket, d: &Socket) -> Option<&'static str> {
    if k.state != d.state {
        Some("state")
    } else if k.inode != d.inode {
        // Accepted since it was last looked at: no event says so.
        (!(k.inode == 0 && k.state == State::Established)).then_some("inode")
    } else if k.inode != 0
        && !std::sync::Arc::ptr_eq(&k.owners, &d.owners)
        && owner_pids(k) != owner_pids(d)
    {
        // An inode-less socket's owners are its listener's (accept queue), not its own.
        Some("owners")
    } else {
        None
    }
}

pub fn compare<S: std::hash::BuildHasher>(
    kept: &Kept,
    dump: &Snapshot,
    during: &std::collections::HashSet<Tuple, S>,
) -> Report {
    let now = Instant::now();
    let near_end = |t: &Tuple, s: &Socket| {
        s.expires_ms.is_some()
            && kept.due_at(t).is_some_and(|at| {
                let d = if at > now { at - now } else { now - at };
                d <= TIMER_SLACK
            })
    };
    let mut report = Report::default();
    let mut in_dump: FxHashMap<Tuple, &Socket> =
        FxHashMap::with_capacity_and_hasher(dump.sockets.len(), rustc_hash::FxBuildHasher);
    for s in dump
        .sockets
        .iter()
        .filter(|s| Kept::keeps(s) && announced(s))
    {
        let t = tuple_of(s);
        if during.contains(&t)
            || s.expires_ms
                .is_some_and(|ms| u128::from(ms) <= TIMER_SLACK.as_millis())
        {
            continue;
        }
        in_dump.insert(t, s);
    }
    // Each kept socket takes its match out of `in_dump`: what is left was never kept.
    for k in kept.table.values().filter(|s| announced(s)) {
        let t = tuple_of(k);
        if during.contains(&t) || near_end(&t, k) {
            in_dump.remove(&t);
            continue;
        }
        let Some(d) = in_dump.remove(&t) else {
            report.differences.push(Difference {
                tuple: t,
                kind: "extra",
                kept: Some(describe(k)),
                dump: None,
            });
            continue;
        };
        report.compared += 1;
        if let Some(kind) = differs(k, d) {
            report.differences.push(Difference {
                tuple: t,
                kind,
                kept: Some(describe(k)),
                dump: Some(describe(d)),
            });
        }
    }
    for (t, d) in in_dump {
        if kept.get(&t).is_none() {
            report.differences.push(Difference {
                tuple: t,
                kind: "missing",
                kept: None,
                dump: Some(describe(d)),
            });
        }
    }
    report
}
