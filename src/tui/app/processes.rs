//! Process context (fds against RLIMIT_NOFILE, parents, supervisor, accept queues) for the
//! processes a person is looking at: the detail pane's owners and the why view's holders.
//!
//! Reading it is I/O, so `update` only asks ([`Effect::ReadProcesses`]); the runtime reads and
//! answers with [`Msg::Processes`]. The socket growth needs no I/O: the app keeps one
//! [`Observations`] fed with every snapshot and fills it in itself.

use super::{App, Effect, Modal, Mode, View};
use crate::model::process_context::{Observations, ProcessContext};
use crate::model::{Owner, Snapshot, SocketKey};
use std::sync::Arc;

/// Processes of the why view that get a block (the rest are counted in one line): the
/// screenful the `why` CLI shows without `--all`, and the I/O bounded by it.
pub const WHY_SHOWN: usize = 3;

/// Which screen asked, so an answer for a pane closed or a port changed since is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessesFor {
    Detail(SocketKey),
    /// The why view's diagnosis for this port.
    Why(u16),
}

/// The processes to read, with the snapshot their sockets are counted in.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRequest {
    pub target: ProcessesFor,
    /// Distinct processes (pid and start time), in the order shown.
    pub owners: Vec<Arc<Owner>>,
    pub snap: Arc<Snapshot>,
}

/// The distinct processes among `owners`, first seen first, at most `max`.
fn distinct<'a>(owners: impl IntoIterator<Item = &'a Arc<Owner>>, max: usize) -> Vec<Arc<Owner>> {
    let mut out: Vec<Arc<Owner>> = Vec::new();
    for o in owners {
        if out.len() >= max {
            break;
        }
        if !out
            .iter()
            .any(|x| x.pid == o.pid && x.start_time == o.start_time)
        {
            out.push(Arc::clone(o));
        }
    }
    out
}

/// Keeps the contexts of processes still wanted (same pid *and* start time: a pid reused since
/// is another process), in the order of `wanted`, with the growth the app observed.
fn settle(
    found: Vec<ProcessContext>,
    wanted: &[Arc<Owner>],
    obs: &Observations,
) -> Vec<ProcessContext> {
    let mut found = found;
    let mut out = Vec::new();
    for o in wanted {
        if let Some(i) = found
            .iter()
            .position(|c| c.pid == o.pid && c.start.ticks == o.start_time)
        {
            let mut c = found.swap_remove(i);
            c.sockets.per_min = obs.per_min(c.pid, c.start.ticks);
            out.push(c);
        }
    }
    out
}

impl App {
    /// The processes of the why view: every distinct process holding a socket in the way, in
    /// holder order (all owners of a shared socket: a master and its workers, same-named, are
    /// each a process to decide about).
    pub fn why_owners(&self) -> Vec<Arc<Owner>> {
        let Some(d) = self.feed.diagnosis.as_deref() else {
            return Vec::new();
        };
        distinct(
            d.holders.iter().flat_map(|h| h.socket.owners.iter()),
            usize::MAX,
        )
    }

    /// What to read now: the open detail pane's owners, and the why view's first holders.
    /// Nothing for a recording (its pids are another machine's, or another moment's) or a
    /// moment in the past.
    pub(super) fn process_reads(&self) -> Vec<Effect> {
        let Some(snap) = self.feed.snap.clone() else {
            return Vec::new();
        };
        if self.replay || self.travel.at.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Mode::Modal(Modal::Detail { key, pane, .. }) = &self.mode
            && let Some(s) = &pane.socket
            && !s.owners.is_empty()
        {
            out.push(Effect::ReadProcesses(Box::new(ProcessRequest {
                target: ProcessesFor::Detail(*key),
                owners: distinct(s.owners.iter(), usize::MAX),
                snap: Arc::clone(&snap),
            })));
        }
        if self.view == View::Why
            && let Some(d) = self.feed.diagnosis.as_deref()
        {
            let owners: Vec<Arc<Owner>> = self.why_owners().into_iter().take(WHY_SHOWN).collect();
            if !owners.is_empty() {
                out.push(Effect::ReadProcesses(Box::new(ProcessRequest {
                    target: ProcessesFor::Why(d.port),
                    owners,
                    snap,
                })));
            }
        }
        out
    }

    /// Notes every process's socket count (growth needs two snapshots); pure.
    pub(super) fn observe(&mut self, snap: &Snapshot) {
        self.observations.record_snapshot(snap);
        self.listen_history.record_snapshot(snap);
    }

    /// Stores what the runtime read, where it is still wanted.
    pub(super) fn on_processes(&mut self, target: &ProcessesFor, found: Vec<ProcessContext>) {
        match target {
            ProcessesFor::Detail(asked) => {
                if let Mode::Modal(Modal::Detail { key, pane, .. }) = &mut self.mode
                    && key == asked
                {
                    let wanted = pane
                        .socket
                        .as_ref()
                        .map_or_else(Vec::new, |s| distinct(s.owners.iter(), usize::MAX));
                    pane.processes = settle(found, &wanted, &self.observations);
                }
            }
            ProcessesFor::Why(port) => {
                if self
                    .feed
                    .diagnosis
                    .as_deref()
                    .is_some_and(|d| d.port == *port)
                {
                    let wanted: Vec<Arc<Owner>> =
                        self.why_owners().into_iter().take(WHY_SHOWN).collect();
                    self.why.processes = settle(found, &wanted, &self.observations);
                }
            }
        }
    }

    /// On new data: contexts of processes no longer among the holders (exited, or replaced by a
    /// reused pid) go at once, before the fresh read answers.
    pub(super) fn prune_processes(&mut self) {
        let wanted: Vec<Arc<Owner>> = self.why_owners().into_iter().take(WHY_SHOWN).collect();
        let kept = std::mem::take(&mut self.why.processes);
        self.why.processes = settle(kept, &wanted, &self.observations);
    }
}
