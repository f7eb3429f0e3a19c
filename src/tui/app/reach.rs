//! The detail pane's reachability: asked for once when the pane opens on a listener (reading
//! filter rules runs tools, within a budget: never on the UI thread, never per refresh), and
//! kept while the pane stays on that socket.

use super::{App, Effect, Modal, Mode, View};
use crate::analyze::reach::{Exposure, exposure, listeners};
use crate::model::reach::Reachability;
use crate::model::{Proto, Snapshot, SocketKey};
use std::path::PathBuf;
use std::sync::Arc;

/// What the runtime reads for the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachRequest {
    pub key: SocketKey,
    pub proto: Proto,
    pub port: u16,
    pub exposure: Exposure,
    /// In a view of every namespace: an owner of the socket, whose namespace is read (else
    /// the namespace the TUI started in).
    pub owner_pid: Option<u32>,
}

/// A report for the runtime to write (`portscope report` for what is on screen).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportJob {
    pub snap: Arc<Snapshot>,
    pub ports: Vec<(u16, Proto)>,
    pub path: PathBuf,
    /// The snapshot is the live system (a recording gets no probes and no rules).
    pub live: bool,
}

impl App {
    /// `P`: the report of the port on screen (the why view's, the selected row's) written to
    /// `./portscope-report-<time>.html` off the UI thread; the status line says where.
    pub(super) fn report_effect(&mut self) -> Vec<Effect> {
        let Some(snap) = self.feed.snap.clone() else {
            self.note = Some("no data yet: nothing to report".into());
            return Vec::new();
        };
        let port = match (self.view, self.feed.diagnosis.as_deref()) {
            (View::Why, Some(d)) => Some((d.port, d.proto)),
            _ => self.selected_socket().map(|s| (s.local_port, s.proto)),
        };
        let stamp = snap.taken_at.strftime("%Y%m%dT%H%M%SZ").to_string();
        let path = PathBuf::from(format!("./portscope-report-{stamp}.html"));
        self.note = Some(format!("writing the report to {}…", path.display()));
        vec![Effect::WriteReport(Box::new(ReportJob {
            snap,
            ports: port.into_iter().collect(),
            path,
            live: !self.replay && self.travel.at.is_none(),
        }))]
    }

    /// The read to ask for when the detail pane opens on a listening socket (nothing for a
    /// recording or a moment in the past: the rules read now are not theirs).
    pub(super) fn reach_read(&self) -> Vec<Effect> {
        if self.replay || self.travel.at.is_some() {
            return Vec::new();
        }
        let (Some(snap), Mode::Modal(Modal::Detail { key, pane, .. })) =
            (self.snapshot(), &self.mode)
        else {
            return Vec::new();
        };
        let Some(s) = pane.socket.as_ref().filter(|s| s.is_listening()) else {
            return Vec::new();
        };
        let ls: Vec<_> = listeners(snap, s.proto, s.local_port)
            .into_iter()
            .filter(|l| l.netns == s.netns)
            .collect();
        vec![Effect::ReadReach(Box::new(ReachRequest {
            key: *key,
            proto: s.proto,
            port: s.local_port,
            exposure: exposure(&ls),
            owner_pid: s.owners.first().filter(|_| s.netns != 0).map(|o| o.pid),
        }))]
    }

    /// Stores the answer if the pane still shows that socket.
    pub(super) fn on_reach(&mut self, key: SocketKey, found: Reachability) {
        if let Mode::Modal(Modal::Detail { key: k, pane, .. }) = &mut self.mode
            && *k == key
        {
            pane.reach = Some(found);
        }
    }
}
