//! The detail pane's reachability: asked for once when the pane opens on a listener (reading
//! filter rules runs tools, within a budget: never on the UI thread, never per refresh), and
//! kept while the pane stays on that socket.

use super::{App, Effect, Modal, Mode};
use crate::analyze::reach::{Exposure, exposure, listeners};
use crate::model::reach::Reachability;
use crate::model::{Proto, SocketKey};

/// What the runtime reads for the pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachRequest {
    pub key: SocketKey,
    pub proto: Proto,
    pub port: u16,
    pub exposure: Exposure,
}

impl App {
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
        let ls = listeners(snap, s.proto, s.local_port);
        vec![Effect::ReadReach(Box::new(ReachRequest {
            key: *key,
            proto: s.proto,
            port: s.local_port,
            exposure: exposure(&ls),
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
