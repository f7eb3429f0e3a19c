//! Time travel in the TUI: `[` and `]` step through the moments at which something changed.
//!
//! The collector thread diffs each snapshot against the last one and sends the changes; they are
//! kept here in a bounded [`History`]. Looking at the past replaces the data on screen with the
//! table rebuilt at that moment (the live namespace's sysctls kept), and holds newer live data
//! back, as freezing does, until `]` steps past the newest moment.

use crate::history::{Bounds, Change, ChangeKind, History};
use crate::model::Snapshot;
use std::sync::Arc;

pub struct TimeTravel {
    pub history: History,
    /// The zone times are shown in (the system's; tests fix it).
    pub tz: jiff::tz::TimeZone,
    /// The moment on screen, when it is not the present.
    pub at: Option<jiff::Timestamp>,
    /// The live snapshot (the newest) while the past is on screen.
    pub(crate) live: Option<Arc<Snapshot>>,
    /// Whether the view was frozen before travelling (restored on return).
    pub(crate) was_frozen: bool,
}

impl Default for TimeTravel {
    fn default() -> Self {
        TimeTravel::new(Bounds::default())
    }
}

impl TimeTravel {
    pub fn new(bounds: Bounds) -> Self {
        TimeTravel {
            history: History::new(bounds),
            tz: jiff::tz::TimeZone::system(),
            at: None,
            live: None,
            was_frozen: false,
        }
    }

    pub fn record(&mut self, changes: &[Change]) {
        for c in changes {
            self.history.push(c.clone());
        }
    }

    /// Distinct moments at which something changed, oldest first.
    pub(crate) fn moments(&self) -> Vec<jiff::Timestamp> {
        let mut m: Vec<jiff::Timestamp> = self.history.moments().collect();
        m.dedup();
        m
    }

    /// "03:12:05 java (pid 4123) took it, outgoing to 10.0.0.5:5432 · 03:14:40 released",
    /// newest last, at most `max` entries, up to the moment on screen.
    pub fn timeline(&self, port: u16, max: usize) -> Vec<String> {
        let tz = self.tz.clone();
        let until = self.at;
        let mut v: Vec<String> = self
            .history
            .timeline(Some(port))
            .filter(|c| until.is_none_or(|t| c.at <= t))
            .filter(|c| c.kind != ChangeKind::Restart)
            .map(|c| {
                let who = c
                    .owners
                    .first()
                    .map_or("owner unknown".to_string(), |o| o.label());
                let what = match c.kind {
                    ChangeKind::Appeared if c.remote_port != 0 => {
                        format!(
                            "took it, {} to {}",
                            c.state.ss_name(),
                            crate::model::Endpoint(c.remote_addr, c.remote_port)
                        )
                    }
                    ChangeKind::Appeared => format!("took it, {}", c.state.ss_name()),
                    ChangeKind::Changed => format!(
                        "{} -> {}",
                        c.old_state.map_or("?", |s| s.ss_name()),
                        c.state.ss_name()
                    ),
                    ChangeKind::Gone => "released".to_string(),
                    ChangeKind::Present => {
                        format!("held it, {} (history starts)", c.state.ss_name())
                    }
                    ChangeKind::Restart => String::new(),
                };
                format!(
                    "{} {who} {what}",
                    c.at.to_zoned(tz.clone()).strftime("%H:%M:%S")
                )
            })
            .collect();
        if v.len() > max {
            v.drain(..v.len() - max);
        }
        v
    }

    /// The header's words while in the past.
    pub fn header(&self) -> Option<String> {
        let at = self.at?;
        let later = self.moments().iter().filter(|m| **m > at).count();
        Some(format!(
            " PAST {} ({later} change{} back · ] forward) ",
            at.to_zoned(self.tz.clone()).strftime("%H:%M:%S"),
            if later == 1 { "" } else { "s" }
        ))
    }

    pub(crate) fn past_snapshot(&self, live: &Snapshot, at: jiff::Timestamp) -> Snapshot {
        let mut snap = crate::history::snapshot_at(&self.history, at, "history");
        snap.sysctl = live.sysctl.clone();
        snap.netns = live.netns.clone();
        snap.source = live.source;
        snap.warnings = vec![format!(
            "the past: sockets as seen at {} (owners as recorded then); ] steps forward",
            at.to_zoned(self.tz.clone()).strftime("%H:%M:%S")
        )];
        snap
    }
}
