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
use super::tick_read::{self, BoundRead, TickRead};
use crate::analyze::why::Context;
use crate::ask::{Probes, Reads, Resolved};
use crate::collect::owner_cache::OwnerCache;
use crate::collect::probe::has_net_bind_service;
use crate::collect::{CollectOptions, partial};
use crate::history::SnapshotRecorder;
use crate::model::Snapshot;
use crate::watch::kept::{Kept, Liveness, Update};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// The last full table, when it was read and what it cost.
struct Full {
    /// The table itself while connections are carried from it; None while they are kept
    /// from events (the kept table holds them: no second copy).
    snap: Option<Arc<Snapshot>>,
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
    /// The connections kept from kernel events between verifying dumps (start namespace).
    kept: Keeping,
    /// When the kept table's bound-only sockets were last read, and what that tick cost.
    bound_read: Option<BoundRead>,
}

/// Whether the connections are kept from events, and why not.
enum Keeping {
    Untried,
    On(Box<Kept>),
    Off(Arc<str>),
}

/// How often the kept table's event rings are emptied between ticks.
const ABSORB_EVERY: Duration = Duration::from_millis(250);

/// The table a tick shows, before it is diagnosed and diffed.
struct Reading {
    snap: Snapshot,
    /// When the connections were read, if earlier than the listeners (carried).
    conns_as_of: Option<jiff::Timestamp>,
    probe: Option<(Resolved, Probes)>,
    /// Read between whole tables: only the listening part is new.
    between: bool,
}

impl Reading {
    fn whole(snap: Snapshot, probe: Option<(Resolved, Probes)>) -> Reading {
        Reading {
            snap,
            conns_as_of: None,
            probe,
            between: false,
        }
    }
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
// The thread's body: it owns its source and both channel ends for as long as it runs.
#[allow(clippy::needless_pass_by_value)]
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
        kept: Keeping::Untried,
        bound_read: None,
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
            st.read_whole(snap, cost);
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
    /// Notes a whole table just read (what the cadence counts from).
    fn read_whole(&mut self, snap: Arc<Snapshot>, cost: Duration) {
        let kept = matches!(self.kept, Keeping::On(_)) && self.scope == Scope::Start;
        self.full = Some(Full {
            snap: (!kept).then_some(snap),
            at: Instant::now(),
            cost,
        });
    }

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
            // Kept connections: empty the event rings every so often, so they never fill.
            let nap = match &self.kept {
                Keeping::On(_) => left.min(ABSORB_EVERY),
                _ => left,
            };
            match ctrl.recv_timeout(nap) {
                Err(RecvTimeoutError::Timeout) if nap < left => {
                    if let Keeping::On(k) = &mut self.kept {
                        k.absorb();
                    }
                }
                Err(RecvTimeoutError::Timeout) => return true,
                Err(RecvTimeoutError::Disconnected) => return false,
                Ok(c @ Control::Refresh) => return self.control(c),
                Ok(c @ Control::Need(_)) => {
                    self.control(c);
                    // Connections came on screen older than their cadence there: read them now.
                    // Kept connections are live on every screen: nothing to read early.
                    let kept = matches!(self.kept, Keeping::On(_)) && self.scope == Scope::Start;
                    if !kept
                        && self.full.as_ref().is_some_and(|f| {
                            f.at.elapsed() >= self.cadence.full_every(self.need, f.cost)
                        })
                    {
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
        let Reading {
            snap,
            conns_as_of,
            probe,
            between,
        } = match self.read(opts) {
            Ok(r) => r,
            Err(t) => return Some(t),
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
        let changes = if between {
            crate::history::changes_since(self.prev_tick.as_ref(), &tick)
        } else {
            crate::history::changes_since(self.prev.as_deref(), &snap)
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
        let full = (!between).then(|| Arc::clone(&snap));
        let live = match &self.kept {
            Keeping::On(k) if self.scope == Scope::Start => Some(Liveness::Kept(k.verified)),
            Keeping::Off(why) if self.scope == Scope::Start && self.cadence.events => {
                Some(Liveness::Off(why.clone()))
            }
            _ => None,
        };
        Some(Tick::Data {
            msg: Msg::Data(Data {
                snap,
                diagnosis: diag,
                derived: Some(derived),
                conns_as_of,
                live,
            }),
            full,
        })
    }

    /// Reads what this tick shows: a whole table when one is due, else the listeners with the
    /// connections kept from events or carried from the last whole table. `Err` is the tick
    /// itself when there is nothing to diagnose (unchanged, or failed).
    fn read(&mut self, opts: &CollectOptions) -> Result<Reading, Tick> {
        if matches!(self.kept, Keeping::Untried) && self.scope == Scope::Start {
            self.kept = if self.cadence.events {
                match Kept::start(&opts.netns) {
                    Ok(k) => Keeping::On(Box::new(k)),
                    Err(e) => Keeping::Off(crate::watch::kept::why_off(&e).into()),
                }
            } else {
                Keeping::Off("off".into())
            };
        }
        let kept_on = self.scope == Scope::Start && matches!(self.kept, Keeping::On(_));
        // Ticks between full refreshes read the start namespace only; other scopes read their
        // cheap tables already (collect::allns). Kept connections need a dump only to verify.
        let carried = self
            .full
            .as_ref()
            .filter(|f| {
                let every = if kept_on {
                    crate::collect::cpu::budgeted_every(
                        self.cadence.verify_min,
                        f.cost,
                        self.cadence.verify_share,
                    )
                } else {
                    self.cadence.full_every(self.need, f.cost)
                };
                !self.force_full && self.scope == Scope::Start && f.at.elapsed() < every
            })
            .map(|f| f.snap.clone());
        self.force_full = false;
        match carried {
            Some(base) => self.between_dumps(opts, base, kept_on),
            None => {
                let snap = self.full_read(opts).map_err(Tick::Failed)?;
                Ok(Reading::whole(snap, self.probe(opts)))
            }
        }
    }

    /// A tick between whole tables: the listeners read now, the connections kept (`kept_on`)
    /// or carried from `base`.
    fn between_dumps(
        &mut self,
        opts: &CollectOptions,
        base: Option<Arc<Snapshot>>,
        kept_on: bool,
    ) -> Result<Reading, Tick> {
        let bound_due = kept_on
            && self.bound_read.is_none_or(|r| {
                let every = crate::collect::cpu::budgeted_every(
                    self.cadence.full_min,
                    r.cost,
                    self.cadence.bound_share,
                );
                r.at.elapsed() >= every
            });
        let TickRead { fresh, bound } =
            tick_read::read(opts, &mut self.owner_cache, bound_due).map_err(Tick::Failed)?;
        let bound = bound.map(|(sockets, read)| {
            self.bound_read = Some(read);
            sockets
        });
        let same = self
            .prev_tick
            .as_ref()
            .is_some_and(|prev| partial::same_reading(prev, &fresh));
        let probe = self.probe(opts);
        let recheck = Tick::Same(Recheck {
            taken_at: fresh.taken_at,
            duration_us: fresh.stats.duration_us,
        });
        let same_probe = probe.as_ref() == self.prev_probe.as_ref();
        let (snap, conns_as_of) = match (&mut self.kept, base) {
            (Keeping::On(k), _) if kept_on => match k.update(&mut self.owner_cache, &fresh.sockets)
            {
                Update::Current { changed } => {
                    let changed = match bound {
                        Some(b) => k.replace_bound(b) | changed,
                        None => changed,
                    };
                    if same && !changed && same_probe {
                        return Err(recheck);
                    }
                    let n = k.len();
                    let mut snap = partial::merge_sockets(fresh, k.sockets(), n);
                    // Connections looked up while still in an accept queue.
                    crate::collect::accept_queue::attribute(&mut snap.sockets);
                    (snap, None)
                }
                Update::NeedsDump => {
                    let snap = self.full_read(opts).map_err(Tick::Failed)?;
                    return Ok(Reading::whole(snap, probe));
                }
            },
            (_, Some(base)) => {
                if same && same_probe {
                    return Err(recheck);
                }
                let at = base.taken_at;
                (partial::merge(fresh, &base, TICK), Some(at))
            }
            (_, None) => {
                let snap = self.full_read(opts).map_err(Tick::Failed)?;
                return Ok(Reading::whole(snap, probe));
            }
        };
        Ok(Reading {
            snap,
            conns_as_of,
            probe,
            between: true,
        })
    }

    /// A whole table of the scope on screen. Kept connections are brought up to date just before
    /// it and compared with it after (the verification), or replaced by it when events were lost.
    fn full_read(&mut self, opts: &CollectOptions) -> Result<Snapshot, String> {
        let kept = match &mut self.kept {
            Keeping::On(k) if self.scope == Scope::Start => Some(k),
            _ => None,
        };
        let before = kept.map(|k| {
            let listeners = self.prev_tick.as_ref().map_or(&[][..], |t| &t.sockets[..]);
            k.update(&mut self.owner_cache, listeners)
        });
        if matches!(self.kept, Keeping::On(_)) && self.scope == Scope::Start {
            // Owners drift only where a count stayed level: a verification compares them, so
            // the whole /proc scan runs with it, inside its 1% budget, and never on a tick.
            self.owner_cache.full_on_demand();
        }
        let snap = netns_pick::collect_scope(&self.scope, opts, &mut self.owner_cache)
            .map_err(|e| e.to_string())?;
        if let Keeping::On(k) = &mut self.kept {
            match before {
                Some(Update::Current { .. }) => {
                    k.verify(&snap, &mut self.owner_cache);
                }
                Some(Update::NeedsDump) => k.reseed(&snap, &self.owner_cache),
                None => {}
            }
        }
        Ok(snap)
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
