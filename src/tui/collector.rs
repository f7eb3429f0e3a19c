//! The collector thread: owns the data source, reads what the screen needs on each tick (see
//! [`super::cadence`]) and sends the UI what changed.
//!
//! Between full refreshes a tick reads the listening table only. On a quiet host that table is
//! the same tick after tick while the carried connections run to 100k: such a tick sends the UI
//! the time it was checked ([`Msg::Rechecked`]) instead of a new table, so nothing is merged,
//! derived, diffed or laid out again for a table that did not change.

use super::app::{Data, Msg, Recheck};
use super::cadence::{Cadence, Need, TICK};
use super::channel::{Control, Inbox, Source};
use super::netns_pick::{self, Scope};
use crate::analyze::why::Context;
use crate::ask::{Probes, Reads, Resolved};
use crate::collect::owner_cache::OwnerCache;
use crate::collect::probe::has_net_bind_service;
use crate::collect::{CollectOptions, partial};
use crate::history::SnapshotRecorder;
use crate::model::Snapshot;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// The last full table, when it was read and what it cost.
struct Full {
    snap: Arc<Snapshot>,
    at: Instant,
    cost: Duration,
}

/// What the collector keeps between ticks.
struct State {
    cadence: Cadence,
    watch: Option<Resolved>,
    scope: Scope,
    need: Need,
    ctx: Context,
    /// Owners of unchanged processes are reused between refreshes (see collect::owner_cache).
    owner_cache: OwnerCache,
    recorder: Option<SnapshotRecorder>,
    /// The last snapshot, to diff the next against (history for `[`/`]` and --record)...
    prev: Option<Arc<Snapshot>>,
    /// ...and its listening part (what a tick between full refreshes reads and diffs).
    prev_tick: Option<Snapshot>,
    /// The probes behind the diagnosis on screen, and the question they answered.
    prev_probe: Option<(Resolved, Probes)>,
    full: Option<Full>,
    force_full: bool,
}

/// What one tick produced.
enum Tick {
    /// A table for the screen; `full` when it was read whole (the carried part of later ticks).
    Data {
        msg: Msg,
        full: Option<Arc<Snapshot>>,
    },
    /// Nothing the screen shows changed.
    Same(Recheck),
    Failed(String),
}

/// Owns the data source. Its control channel's timeout is both its sleep and its inbox.
/// Each tick reads what `Need` says the screen needs fresh (see `cadence`); between full
/// refreshes the table is the listeners read now plus the rest as of the last full one.
pub fn collector(
    source: Source,
    cadence: Cadence,
    tx: Sender<Inbox>,
    ctrl: Receiver<Control>,
    recorder: Option<SnapshotRecorder>,
) {
    let mut st = State {
        cadence,
        watch: None,
        scope: Scope::default(),
        need: Need::default(),
        ctx: match &source {
            Source::Live(o) => crate::ask::session(&o.netns),
            // A recording's host is not this one: nothing of this session applies.
            Source::Replay(_) => Context {
                can_bind_privileged: has_net_bind_service(),
                uid: nix::unistd::geteuid().as_raw(),
                hz: procfs::ticks_per_second(),
                ..Context::default()
            },
        },
        owner_cache: OwnerCache::default(),
        recorder,
        prev: None,
        prev_tick: None,
        prev_probe: None,
        full: None,
        force_full: false,
    };
    loop {
        // What arrived since the wait ended (an `r` pressed just now) counts for this tick.
        while let Ok(c) = ctrl.try_recv() {
            if !st.control(c) {
                return;
            }
        }
        let cpu0 = crate::collect::cpu::process_time();
        let mut read_whole = None;
        let msg = match &source {
            Source::Live(opts) => match st.tick(opts, &tx) {
                Some(Tick::Data { msg, full }) => {
                    read_whole = full;
                    msg
                }
                Some(Tick::Same(r)) => Msg::Rechecked(r),
                Some(Tick::Failed(e)) => Msg::CollectFailed(e),
                None => return,
            },
            Source::Replay(snap) => {
                let diag = st
                    .watch
                    .as_ref()
                    .map(|r| Arc::new(crate::ask::answer(r, snap, &st.ctx, Reads::Recording)));
                Msg::data(Arc::clone(snap), diag)
            }
        };
        if tx.send(Inbox::App(msg)).is_err() {
            return;
        }
        let cost = crate::collect::cpu::process_time().saturating_sub(cpu0);
        if let Some(snap) = read_whole {
            st.full = Some(Full {
                snap,
                at: Instant::now(),
                cost,
            });
        }
        // On a host with 100k+ sockets one snapshot costs hundreds of ms of CPU: wait at least
        // four times what this one cost, whatever --interval says.
        let wait = match source {
            Source::Live(_) => st.cadence.interval.max(cost * 4),
            Source::Replay(_) => Duration::from_secs(3600),
        };
        if !st.wait(&ctrl, wait) {
            return;
        }
    }
}

impl State {
    /// Takes in one control message; false when the collector should stop.
    fn control(&mut self, c: Control) -> bool {
        match c {
            Control::Refresh => self.force_full = true,
            Control::Watch(w) => self.watch = w,
            Control::Scope(s) => {
                // The carried table belongs to the old scope.
                if s != self.scope {
                    self.full = None;
                }
                self.scope = s;
            }
            Control::Need(n) => self.need = n,
            Control::Quit => return false,
        }
        true
    }

    /// Sleeps until `wait` has passed, or until a message asks for a tick now; false when the
    /// collector should stop.
    fn wait(&mut self, ctrl: &Receiver<Control>, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match ctrl.recv_timeout(left) {
                Err(RecvTimeoutError::Timeout) => return true,
                Err(RecvTimeoutError::Disconnected) => return false,
                Ok(c @ Control::Refresh) => return self.control(c),
                Ok(c @ Control::Need(_)) => {
                    self.control(c);
                    // Connections came on screen older than their cadence there: read them now.
                    if self.full.as_ref().is_some_and(|f| {
                        f.at.elapsed() >= self.cadence.full_every(self.need, f.cost)
                    }) {
                        return true;
                    }
                }
                Ok(c) => {
                    if !self.control(c) {
                        return false;
                    }
                }
            }
        }
    }

    /// Reads the table; `None` when the UI is gone.
    fn tick(&mut self, opts: &CollectOptions, tx: &Sender<Inbox>) -> Option<Tick> {
        // Ticks between full refreshes read the start namespace only; other scopes read their
        // cheap tables already (collect::allns).
        let carried = self.full.as_ref().filter(|f| {
            !self.force_full
                && self.scope == Scope::Start
                && f.at.elapsed() < self.cadence.full_every(self.need, f.cost)
        });
        self.force_full = false;
        let (snap, conns_as_of, probe) = match carried {
            Some(f) => {
                let fresh = match crate::collect::collect_with(
                    &CollectOptions {
                        coverage: TICK,
                        ..opts.clone()
                    },
                    Some(&mut self.owner_cache),
                ) {
                    Ok(fresh) => fresh,
                    Err(e) => return Some(Tick::Failed(e.to_string())),
                };
                let at = f.snap.taken_at;
                let same = self
                    .prev_tick
                    .as_ref()
                    .is_some_and(|prev| partial::same_reading(prev, &fresh));
                let probe = self.probe(opts);
                if same && probe.as_ref() == self.prev_probe.as_ref() {
                    return Some(Tick::Same(Recheck {
                        taken_at: fresh.taken_at,
                        duration_us: fresh.stats.duration_us,
                    }));
                }
                (partial::merge(fresh, &f.snap, TICK), Some(at), probe)
            }
            None => match netns_pick::collect_scope(&self.scope, opts, &mut self.owner_cache) {
                Ok(s) => (s, None, self.probe(opts)),
                Err(e) => return Some(Tick::Failed(e.to_string())),
            },
        };
        // The probe runs in the start namespace: diagnose against its sockets only (none of
        // them when one other namespace is shown).
        let diag = probe.as_ref().map(|(r, p)| {
            let own = netns_pick::start_only(&snap);
            // The holders' processes are read for the pane on screen, on demand.
            let reads = Reads::Live { processes: false };
            Arc::new(crate::ask::explain(
                r,
                own.as_ref().unwrap_or(&snap),
                p,
                &self.ctx,
                reads,
            ))
        });
        self.prev_probe = probe;
        let derived = Arc::new(crate::analyze::Derived::of(&snap));
        let snap = Arc::new(snap);
        let tick = partial::covered(&snap, TICK);
        // Between full refreshes only the listening part can have changed: diff that alone
        // (the carried rest is the same sockets as last time).
        let changes = match conns_as_of {
            Some(_) => crate::history::changes_since(self.prev_tick.as_ref(), &tick),
            None => crate::history::changes_since(self.prev.as_deref(), &snap),
        };
        // A recording that cannot be written stops recording, not the UI.
        if let Some(rec) = self.recorder.as_mut()
            && rec.append_all(&changes).is_err()
        {
            self.recorder = None;
        }
        self.prev = Some(Arc::clone(&snap));
        self.prev_tick = Some(tick);
        if !changes.is_empty()
            && tx
                .send(Inbox::App(Msg::History(Arc::new(changes))))
                .is_err()
        {
            return None;
        }
        let full = conns_as_of.is_none().then(|| Arc::clone(&snap));
        Some(Tick::Data {
            msg: Msg::Data(Data {
                snap,
                diagnosis: diag,
                derived: Some(derived),
                conns_as_of,
            }),
            full,
        })
    }

    /// Asks the kernel about the port the why view watches (a bind attempt: microseconds).
    /// The probe runs in the start namespace: none when one other namespace is shown.
    fn probe(&self, opts: &CollectOptions) -> Option<(Resolved, Probes)> {
        match self.scope {
            Scope::One { .. } => None,
            _ => self
                .watch
                .as_ref()
                // The same question `portscope why` asks, with the field's options.
                .map(|r| (r.clone(), crate::ask::probe(r, &opts.netns))),
        }
    }
}
