//! The polling source: sock_diag dumps of just the watched ports, diffed tick by tick.
//!
//! The kernel filters each dump on the port (`idiag_sport`), so a tick copies out only those
//! sockets. A TCP dump of all states still walks the host's established hash (about 1 ms idle,
//! tens of ms with 100k+ connections), so the resolution actually achieved is measured and
//! reported, never assumed.

use super::scope::Scope;
use super::{EventKind, Report, SourceInfo, WatchError, WatchEvent, WatchOptions, owner};
use crate::model::Socket;
use rustc_hash::FxHashMap;
use std::time::{Duration, Instant};

/// Every state but TCP's bound-only pseudo-state, whose dump walks the bind hash each time.
const TICK_STATES: u32 = 0x1fff;

use crate::model::SocketKey as Key;

/// The sockets seen at the last tick; `step` turns the next tick's table into events.
#[derive(Default)]
pub struct Differ {
    prev: FxHashMap<Key, Socket>,
    owners: crate::collect::owner_cache::OwnerCache,
    /// The namespace the tables come from, stamped on every event.
    netns: Option<u64>,
}

impl Differ {
    /// A differ for tables dumped in namespace `netns`.
    pub fn new(netns: Option<u64>) -> Self {
        Differ {
            netns,
            ..Default::default()
        }
    }

    /// Remembers `now` as the baseline and returns it as "held" events.
    pub fn baseline(&mut self, now: Vec<Socket>, source: &str) -> Vec<WatchEvent> {
        let events = now
            .iter()
            .map(|s| WatchEvent::from_socket(s, EventKind::Held, None, source, self.netns))
            .collect();
        self.prev = now.into_iter().map(|s| (s.key(), s)).collect();
        events
    }

    /// Events for what appeared, changed state or went away since the last tick. Owners of new
    /// sockets are looked up (one /proc scan) only when something new appeared.
    pub fn step(&mut self, mut now: Vec<Socket>, source: &str) -> Vec<WatchEvent> {
        let fresh: Vec<usize> = (0..now.len())
            .filter(|&i| !self.prev.contains_key(&now[i].key()))
            .collect();
        if !fresh.is_empty() {
            // Known sockets keep the owners found when they appeared.
            for s in &mut now {
                if let Some(old) = self.prev.get(&s.key()) {
                    s.owners = old.owners.clone();
                }
            }
            owner::attach_with(&mut now, &mut self.owners);
            // Connections not yet accepted belong to their listener's process.
            crate::collect::accept_queue::attribute(&mut now);
        }
        let mut events = Vec::new();
        let mut next: FxHashMap<Key, Socket> = FxHashMap::default();
        for mut s in now {
            let k = s.key();
            match self.prev.remove(&k) {
                None => events.push(WatchEvent::from_socket(
                    &s,
                    EventKind::Take,
                    None,
                    source,
                    self.netns,
                )),
                Some(old) => {
                    if s.owners.is_empty() {
                        s.owners = old.owners.clone();
                    }
                    if old.state != s.state {
                        events.push(WatchEvent::from_socket(
                            &s,
                            EventKind::State,
                            Some(old.state),
                            source,
                            self.netns,
                        ));
                    }
                }
            }
            next.insert(k, s);
        }
        for (_, gone) in self.prev.drain() {
            let mut e = WatchEvent::from_socket(
                &gone,
                EventKind::Leave,
                Some(gone.state),
                source,
                self.netns,
            );
            e.state = crate::model::State::Close;
            events.push(e);
        }
        self.prev = next;
        events
    }
}

/// Polls until `opts.until` or until the sink says stop.
pub fn run(
    opts: &WatchOptions,
    scope: &Scope,
    mut notes: Vec<String>,
    sink: &mut dyn FnMut(Report<'_>) -> bool,
) -> Result<(), WatchError> {
    // Opened inside the target namespace once: every dump from it reads that namespace.
    let mut dumper = scope.dumper()?;
    let first = super::sockets_on(
        &mut dumper,
        &opts.ports,
        opts.proto,
        TICK_STATES, // as every tick: a baseline with more states would see them "leave" at once
    )
    .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?;
    // One tick's cost, measured, bounds the resolution from below.
    let t1 = Instant::now();
    let _ = super::sockets_on(&mut dumper, &opts.ports, opts.proto, TICK_STATES);
    let tick_cost = t1.elapsed();
    let interval = opts.poll_interval.max(tick_cost);
    let ms = interval.as_secs_f64() * 1000.0;
    if !crate::paths::is_root() {
        notes.push("not root: owners of other users' sockets are hidden".into());
    }
    let info = SourceInfo {
        source: "poll".into(),
        detail: format!(
            "sock_diag dumps of the watched ports every {ms:.0} ms: a holder that lives less than {ms:.0} ms may be missed, and owners are found by a /proc scan after the fact (a process that already exited shows none)"
        ),
        resolution_ms: Some(ms),
        notes,
        netns: scope.describe(),
    };
    if !sink(Report::Source(&info)) {
        return Ok(());
    }
    let mut mine = first;
    owner::attach(&mut mine);
    crate::collect::accept_queue::attribute(&mut mine);
    let mut differ = Differ::new(scope.dumped_inode());
    for e in differ.baseline(mine, "poll") {
        if !sink(Report::Event(&e)) {
            return Ok(());
        }
    }
    let mut reported = ms;
    let mut next = Instant::now() + interval;
    loop {
        let now = Instant::now();
        if opts.until.is_some_and(|u| now >= u) {
            return Ok(());
        }
        if next > now {
            let wake = opts.until.map_or(next, |u| u.min(next));
            std::thread::sleep(wake.saturating_duration_since(now));
            continue;
        }
        let started = Instant::now();
        let table = super::sockets_on(&mut dumper, &opts.ports, opts.proto, TICK_STATES)
            .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?;
        for e in differ.step(table, "poll") {
            if !sink(Report::Event(&e)) {
                return Ok(());
            }
        }
        let cost = started.elapsed();
        // Falling behind (a loaded host, a long owner scan) widens the gap a holder can slip
        // through: say so once it is half again the stated resolution.
        let effective = cost.max(interval).as_secs_f64() * 1000.0;
        if effective > reported * 1.5 {
            reported = effective;
            if !sink(Report::Resolution(effective)) {
                return Ok(());
            }
        }
        next = started + interval.max(cost);
        if next < Instant::now() {
            next = Instant::now() + Duration::from_millis(1);
        }
    }
}
