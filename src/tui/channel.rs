//! What the TUI's threads say to each other: where the data comes from, what reaches the UI
//! thread, and what the UI thread asks of the collector. Its own module so the collector and the
//! runtime that starts it share the words without importing each other.

use super::app::Msg;
use super::cadence::Need;
use super::signals::SignalEvent;
use crate::collect::CollectOptions;
use crate::model::Snapshot;
use std::sync::Arc;

/// Where the data comes from.
pub enum Source {
    Live(CollectOptions),
    /// A recorded `snapshot --json` document: no kernel to ask.
    Replay(Arc<Snapshot>),
}

/// What reaches the UI thread: messages for the app, and signals for the runtime itself.
pub enum Inbox {
    App(Msg),
    Signal(SignalEvent),
}

/// What the UI thread asks of the collector thread.
pub enum Control {
    Refresh,
    Scope(super::netns_pick::Scope),
    Watch(Option<crate::ask::Resolved>),
    /// What the view on screen needs fresh each tick.
    Need(Need),
    Quit,
}
