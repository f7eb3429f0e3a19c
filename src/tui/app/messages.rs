//! The app's vocabulary with the threads around it: what reaches it ([`Msg`], a snapshot as
//! [`Data`]) and what it asks the runtime to do ([`Effect`]).

use super::{ProcessRequest, ProcessesFor, ReachRequest, ReportJob};
use crate::action::outcome::ActionOutcome;
use crate::analyze::Derived;
use crate::analyze::why::Diagnosis;
use crate::model::Snapshot;
use crossterm::event::KeyEvent;
use std::sync::Arc;

/// A snapshot as it reaches the UI: with the why-diagnosis for the port being watched, and the
/// snapshot-wide derivations when the collector thread made them already (made on receipt
/// otherwise, in [`App::apply`]).
#[derive(Debug, Clone)]
pub struct Data {
    pub snap: Arc<Snapshot>,
    pub diagnosis: Option<Arc<Diagnosis>>,
    pub derived: Option<Arc<Derived>>,
    /// When the table's connections were read, if earlier than its listeners (between full
    /// refreshes, see `tui::cadence`).
    pub conns_as_of: Option<jiff::Timestamp>,
    /// Whether connections are kept live from kernel events (start namespace only).
    pub live: Option<crate::watch::kept::Liveness>,
}

/// A tick that read the same listening table as the one on screen: only its time moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recheck {
    pub taken_at: jiff::Timestamp,
    pub duration_us: u64,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// A new snapshot.
    Data(Data),
    /// The table on screen was read again and found the same.
    Rechecked(Recheck),
    CollectFailed(String),
    /// The why field's question cannot be asked (its `--user` names nobody).
    WatchRefused(String),
    Resize,
    /// Text pasted in the terminal (bracketed paste): for the field with focus only.
    Paste(String),
    /// A confirmed action finished.
    ActionDone(Box<ActionOutcome>),
    /// What became of a copy or a file write (one line for the status bar).
    Note(String),
    /// What changed with the last snapshot, for time travel (`[` / `]`).
    History(Arc<Vec<crate::history::Change>>),
    /// The answer to [`Effect::ReadProcesses`]: the contexts of the processes still running.
    Processes {
        target: ProcessesFor,
        found: Vec<crate::model::process_context::ProcessContext>,
    },
    /// Refusals the recorder saw (oldest first), or a recorder's whole log (`replace`).
    Refused {
        list: Vec<crate::watch::failures::Refusal>,
        replace: bool,
    },
    /// Refusals the kernel could not deliver.
    RefusedLost(u64),
    /// Where the Failures view's refusals come from now.
    Recorder(super::RecorderState),
    /// The answer to [`Effect::ReadReach`].
    Reach {
        key: crate::model::SocketKey,
        found: Box<crate::model::reach::Reachability>,
    },
}

impl Msg {
    /// A snapshot whose derivations are left to the receiver.
    pub fn data(snap: Arc<Snapshot>, diagnosis: Option<Arc<Diagnosis>>) -> Msg {
        Msg::Data(Data {
            snap,
            diagnosis,
            derived: None,
            conns_as_of: None,
            live: None,
        })
    }
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    RefreshNow,
    /// Watch this port in the why view (the collector probes it on every refresh).
    Watch(Option<crate::ask::Question>),
    /// Carry out a confirmed action (off the UI thread) and report back with ActionDone.
    Execute(Box<crate::action::PendingAction>),
    /// Put this text on the terminal's clipboard (OSC 52).
    Copy(String),
    /// Write this text to a new file (never over an existing one, never through a link).
    WriteFile {
        path: std::path::PathBuf,
        text: String,
    },
    /// Read these network namespaces from now on.
    Scope(crate::tui::netns_pick::Scope),
    /// Read the context of these processes (/proc I/O) and answer with `Msg::Processes`.
    ReadProcesses(Box<ProcessRequest>),
    /// Read the filter rules for a listener (tools, off the UI thread); answer `Msg::Reach`.
    ReadReach(Box<ReachRequest>),
    /// Gather and write a report (probes, tools: off the UI thread); answer with a `Note`.
    WriteReport(Box<ReportJob>),
    /// The view on screen needs this fresh each tick.
    Need(crate::tui::cadence::Need),
    /// Start the flight recorder (or the log reader) for the Failures view.
    StartRecorder,
    Quit,
}
