//! What the collector feeds the screen, as one value: the snapshot on screen with what was
//! derived from it, data held back while the screen is frozen, and how the last reading went.
//! The app holds one [`Feed`]; everything that changes it goes through the methods here.

use super::{Data, Recheck};
use crate::analyze::Derived;
use crate::analyze::why::Diagnosis;
use crate::ask::Question;
use crate::model::Snapshot;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Feed {
    /// The snapshot on screen.
    pub snap: Option<Arc<Snapshot>>,
    /// The why view's answer for the port asked, from the same reading.
    pub diagnosis: Option<Arc<Diagnosis>>,
    /// Snapshot-wide derivations (connection summary, port map).
    pub derived: Option<Arc<Derived>>,
    /// Data that arrived while the screen was frozen (or in the past).
    pub pending: Option<Data>,
    /// The screen shows what it shows until unfrozen (space; time travel freezes it too).
    pub frozen: bool,
    /// Why the last reading failed; the last good data stays on screen, dimmed.
    pub error: Option<String>,
    /// When the connections on screen were read, if earlier than the listeners.
    pub conns_as_of: Option<jiff::Timestamp>,
    /// Whether the connections on screen are kept live from kernel events.
    pub live: Option<crate::watch::kept::Liveness>,
    /// The last reading that found the table on screen unchanged (cleared by new data).
    pub rechecked: Option<Recheck>,
}

impl Feed {
    /// Puts `data` on screen, deriving what the collector did not. A diagnosis is kept only if
    /// it answers `asked` (a port typed over since is dropped).
    pub(super) fn show(&mut self, data: Data, asked: Option<&Question>) {
        let Data {
            snap,
            diagnosis,
            derived,
            conns_as_of,
            live,
        } = data;
        self.conns_as_of = conns_as_of;
        self.live = live;
        self.rechecked = None;
        self.derived = Some(derived.unwrap_or_else(|| Arc::new(Derived::of(&snap))));
        self.snap = Some(snap);
        self.diagnosis = diagnosis.filter(|d| asked.is_some_and(|q| q.answered_by(d)));
        self.error = None;
    }

    /// A reading that found the table on screen unchanged: the clock moves, unless the screen
    /// is `held` (frozen or in the past), which keeps the time of what it shows.
    pub(super) fn recheck(&mut self, r: Recheck, held: bool) {
        if !held && self.snap.is_some() {
            self.rechecked = Some(r);
            self.error = None;
        }
    }

    /// Space: freezes, or unfreezes and hands back the data that waited.
    pub(super) fn toggle_freeze(&mut self) -> Option<Data> {
        self.frozen = !self.frozen;
        if self.frozen {
            None
        } else {
            self.pending.take()
        }
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snap.as_deref()
    }

    /// The last good data is on screen while the latest reading failed.
    pub fn stale(&self) -> bool {
        self.error.is_some() && self.snap.is_some()
    }
}
