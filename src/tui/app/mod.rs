//! TUI state and the one function that changes it. `update` does no I/O: it returns effects for
//! the runtime to carry out, so every behaviour is testable without a terminal.
//!
//! Who gets a key is decided once, by [`Mode`]: the views, a text field, or the dialog on top.
//! State is grouped per view ([`ListenersView`], [`ConnectionsView`], [`MapView`], [`WhyView`]),
//! and everything a draw shows is computed here, in `update`; the only values flowing back from
//! a draw are the measurements in [`Measured`].

mod actions;
mod blocks;
mod burst;
mod conns;
mod context;
mod failures;
mod feed;
mod habits;
mod input;
mod keys;
mod messages;
mod modal;
mod moves;
mod processes;
mod reach;
mod state;
mod time_travel;
mod why_act;

pub use blocks::{BlockView, shown_text};
pub use conns::{ConnKey, ConnLine, GROUP_CYCLE, SORT_CYCLE, group_words};
pub use context::ActionContext;
pub use failures::{FailuresView, RecorderState};
pub use feed::Feed;
pub use input::{parse_bind, typed};
pub use messages::{Data, Effect, Msg, Recheck};
pub use modal::{DetailPane, Modal, ReserveDialog};
pub use processes::{ProcessRequest, ProcessesFor, WHY_SHOWN};
pub use reach::{ReachRequest, ReportJob};
pub use state::{
    ConnectionsView, ListenerSort, ListenersView, MapView, Measured, ParsedFilter, TableNav,
    WhyView,
};

use super::keymap::KeyMap;
pub use super::view::View;
use crate::analyze::conns::ConnSummary;
use crate::analyze::portmap::PortMap;
use crate::model::{Snapshot, Socket, SocketKey};
use crossterm::event::{KeyEvent, KeyEventKind};

/// Who gets the next key. One value, so the app cannot be typing into two fields at once, or
/// into a field under a dialog.
// One Mode lives in the one App: boxing the dialog would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Mode {
    /// Keys are commands for the view on screen.
    Normal,
    /// Typing the filter of the view on screen (Listeners or Connections).
    Filter,
    /// Typing the port in the why view.
    WhyInput,
    /// A dialog or overlay has every key.
    Modal(Modal),
}

pub struct App {
    pub keymap: KeyMap,
    pub view: View,
    pub mode: Mode,
    /// The snapshot on screen, what was derived from it, and how the last reading went.
    pub feed: Feed,
    pub listeners: ListenersView,
    pub conns: ConnectionsView,
    pub map: MapView,
    pub why: WhyView,
    pub failures: FailuresView,
    pub replay: bool,
    /// One line of feedback for the last key (e.g. an unavailable action).
    pub note: Option<String>,
    pub actions: ActionContext,
    /// Lower-cased search text per socket, built on the first filter keystroke per snapshot.
    haystack: Option<Vec<String>>,
    /// Which network namespaces are shown (`w` switches).
    pub picker: super::netns_pick::Picker,
    /// What was seen before, and the moment on screen when it is the past.
    pub travel: super::travel::TimeTravel,
    /// What the last draw measured (the one way data flows back from a draw).
    pub measured: Measured,
    /// Socket counts per process over the refreshes seen: their growth (sockets/min).
    pub observations: crate::model::process_context::Observations,
    /// The listeners' accept queues over the ticks seen (the detail pane's history).
    pub listen_history: crate::model::listen_history::ListenHistory,
    /// Selection and scrolling of the copyable blocks in the dialog on top.
    pub blocks: BlockView,
    /// What the collector was last told the screen needs.
    need_sent: super::cadence::Need,
    bursts: burst::Bursts,
}

impl App {
    pub fn new(keymap: KeyMap, replay: bool) -> App {
        App {
            keymap,
            view: View::Listeners,
            mode: Mode::Normal,
            feed: Feed::default(),
            listeners: ListenersView::default(),
            conns: ConnectionsView::default(),
            map: MapView::default(),
            why: WhyView::default(),
            failures: FailuresView::default(),
            replay,
            note: None,
            actions: ActionContext::default(),
            haystack: None,
            picker: Default::default(),
            travel: Default::default(),
            measured: Measured::default(),
            observations: Default::default(),
            listen_history: Default::default(),
            blocks: BlockView::default(),
            need_sent: Default::default(),
            bursts: Default::default(),
        }
    }

    /// What the view on screen needs fresh each tick: connections are read every tick only
    /// where they are what is shown.
    pub fn need(&self) -> super::cadence::Need {
        use super::cadence::Need;
        match self.view {
            View::Connections | View::Why => Need::Everything,
            View::Listeners | View::PortMap | View::Failures => Need::Listening,
        }
    }

    /// Applies a message; tells the collector when what the screen needs changed.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        let before = (self.detail_key(), self.view);
        let data = matches!(msg, Msg::Data(_));
        let mut effects = self.update_inner(msg);
        // Process context is read when the detail pane opens or the why view comes up, and
        // again with each snapshot shown while they are on screen.
        let now = (self.detail_key(), self.view);
        let opened = now.0.is_some() && now.0 != before.0;
        let to_why = now.1 == View::Why && before.1 != View::Why;
        if data || opened || to_why {
            effects.extend(self.process_reads());
        }
        if opened {
            effects.extend(self.reach_read());
        }
        // The map's cursor, zoom, data or measured size may have moved: what is under it.
        if self.view == View::PortMap {
            self.map_lookup();
        }
        if self.recorder_wanted() {
            effects.push(Effect::StartRecorder);
        }
        let need = self.need();
        if need != self.need_sent {
            self.need_sent = need;
            effects.push(Effect::Need(need));
        }
        effects
    }

    /// The socket of the open detail pane.
    fn detail_key(&self) -> Option<SocketKey> {
        match &self.mode {
            Mode::Modal(Modal::Detail { key, .. }) => Some(*key),
            _ => None,
        }
    }

    fn update_inner(&mut self, msg: Msg) -> Vec<Effect> {
        use crossterm::event::{KeyCode, KeyModifiers};
        match msg {
            // Esc followed quickly by a key (over SSH, often in one packet) reaches us as Alt+key.
            // No binding uses Alt, so it is read as what was typed: Esc, then the key.
            Msg::Key(ev)
                if ev.kind != KeyEventKind::Release
                    && ev.modifiers.contains(KeyModifiers::ALT)
                    && matches!(ev.code, KeyCode::Char(_)) =>
            {
                let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
                let mut key = ev;
                key.modifiers.remove(KeyModifiers::ALT);
                let mut effects = self.on_key(esc);
                effects.extend(self.on_key(key));
                effects
            }
            Msg::Key(ev) if ev.kind != KeyEventKind::Release => self.on_key(ev),
            Msg::Key(_) | Msg::Resize => Vec::new(),
            Msg::Paste(text) => self.paste(&text),
            Msg::Data(data) => {
                let said = self.picker.title();
                // The message line said what the title bar said when `w` was pressed: it
                // follows the count once the namespaces are counted, so the two agree.
                if self.picker.observe(&data.snap) && self.note.is_some() && self.note == said {
                    self.note = self.picker.title();
                }
                self.observe(&data.snap);
                if self.held() {
                    self.feed.pending = Some(data);
                } else {
                    self.apply(data);
                }
                Vec::new()
            }
            Msg::Rechecked(r) => {
                // A frozen or past view keeps the time of what it shows.
                self.listen_history.recheck(r.taken_at);
                self.feed.recheck(r, self.held());
                Vec::new()
            }
            Msg::CollectFailed(e) => {
                self.feed.error = Some(e);
                Vec::new()
            }
            Msg::WatchRefused(e) => {
                (self.why.error, self.why.request, self.feed.diagnosis) = (Some(e), None, None);
                Vec::new()
            }
            Msg::Note(note) => {
                self.note = Some(note);
                Vec::new()
            }
            Msg::History(changes) => {
                self.travel.record(&changes);
                Vec::new()
            }
            Msg::Processes { target, found } => {
                self.on_processes(&target, found);
                Vec::new()
            }
            Msg::Refused { list, replace } => {
                if replace {
                    self.failures.replace(list);
                } else {
                    self.failures.push(list);
                }
                Vec::new()
            }
            Msg::RefusedLost(n) => {
                self.failures.lost += n;
                Vec::new()
            }
            Msg::Recorder(state) => {
                self.failures.state = state;
                Vec::new()
            }
            Msg::Reach { key, found } => {
                self.on_reach(key, *found);
                Vec::new()
            }
            Msg::ActionDone(outcome) => {
                let outcome = *outcome;
                self.open(match outcome.follow_up.clone() {
                    Some(next) => Modal::confirm_after(
                        next,
                        outcome.lines.iter().map(|l| l.text.clone()).collect(),
                        outcome.blocks.clone(),
                    ),
                    None => Modal::Outcome(outcome),
                });
                vec![Effect::RefreshNow]
            }
        }
    }

    /// Puts data on screen: the one place derivations are made when the collector did not.
    pub(super) fn apply(&mut self, data: Data) {
        self.feed.show(data, self.why.request.as_ref());
        self.haystack = None;
        self.recompute();
        self.refresh_modal();
        self.prune_processes();
    }

    /// Whether new data waits instead of going on screen: frozen, or looking at the past.
    fn held(&self) -> bool {
        self.feed.frozen || self.travel.at.is_some()
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.feed.snapshot()
    }

    /// The dialog or overlay on top, if any.
    pub fn modal(&self) -> Option<&Modal> {
        match &self.mode {
            Mode::Modal(m) => Some(m),
            _ => None,
        }
    }

    /// Whether the filter field of the view on screen is being typed into.
    pub fn filter_editing(&self) -> bool {
        matches!(self.mode, Mode::Filter)
    }

    /// Whether the why view's port field is being typed into.
    pub fn why_editing(&self) -> bool {
        matches!(self.mode, Mode::WhyInput)
    }

    /// The filter of the view on screen (views without one have none).
    pub fn filter(&self) -> Option<&tui_input::Input> {
        match self.view {
            View::Listeners => Some(&self.listeners.filter),
            View::Connections => Some(&self.conns.filter),
            View::PortMap | View::Why | View::Failures => None,
        }
    }

    /// The filter text of the view on screen ("" when none).
    pub fn filter_text(&self) -> &str {
        self.filter().map_or("", |f| f.value())
    }

    fn filter_mut(&mut self) -> Option<&mut tui_input::Input> {
        match self.view {
            View::Listeners => Some(&mut self.listeners.filter),
            View::Connections => Some(&mut self.conns.filter),
            View::PortMap | View::Why | View::Failures => None,
        }
    }

    /// Connection counts of the snapshot on screen.
    pub fn summary(&self) -> &ConnSummary {
        static EMPTY: std::sync::OnceLock<ConnSummary> = std::sync::OnceLock::new();
        match &self.feed.derived {
            Some(d) => &d.summary,
            None => EMPTY.get_or_init(ConnSummary::default),
        }
    }

    pub fn portmap(&self) -> Option<&PortMap> {
        self.feed.derived.as_deref().map(|d| &d.portmap)
    }

    /// Rebuilds each table's rows under its own filter and puts each cursor back on the row it
    /// was on. A filter is parsed only when its text changed, and matched per socket as a
    /// parsed query; Connections are then sorted and grouped (filters apply before grouping).
    pub fn recompute(&mut self) {
        let Some(snap) = self.feed.snap.clone() else {
            return;
        };
        self.listeners.parsed.update(self.listeners.filter.value());
        self.conns.parsed.update(self.conns.filter.value());
        let queries = [&self.listeners.parsed.query, &self.conns.parsed.query];
        if queries.iter().any(|q| q.needs_haystack()) && self.haystack.is_none() {
            self.haystack = Some(snap.sockets.iter().map(crate::filter::haystack).collect());
        }
        let hay = self.haystack.as_deref();
        let matches = |i: usize, query: &crate::filter::Query| -> bool {
            query.is_empty() || query.matches(hay.map_or("", |h| h[i].as_str()), &snap.sockets[i])
        };
        let mut listeners: Vec<usize> = (0..snap.sockets.len())
            .filter(|&i| snap.sockets[i].is_listening() && matches(i, queries[0]))
            .collect();
        self.listeners.sort.apply(&mut listeners, &snap);
        let conns: Vec<usize> = (0..snap.sockets.len())
            .filter(|&i| !snap.sockets[i].is_listening() && matches(i, queries[1]))
            .collect();
        let page = self.measured.listeners_page.get();
        self.listeners.nav.restore(&listeners, &snap, page);
        // Read on every frame, worked out once per table (10k UDP rows walked per frame were
        // most of a redraw).
        self.listeners.queue_waiting = listeners.iter().any(|&i| {
            let s = &snap.sockets[i];
            s.proto == crate::model::Proto::Tcp && s.rx_queue > 0
        });
        self.listeners.rows = listeners;
        let page = self.measured.conns_page.get();
        self.conns.build(&snap, conns, page);
    }

    /// Why a term of the filter on screen does not parse (the other terms are in force).
    pub fn filter_error(&self) -> Option<&str> {
        match self.view {
            View::Listeners => self.listeners.parsed.error.as_deref(),
            View::Connections => self.conns.parsed.error.as_deref(),
            View::PortMap | View::Why | View::Failures => None,
        }
    }

    /// The socket under the cursor of the current table view (none on a group row).
    pub fn selected_socket(&self) -> Option<&Socket> {
        let snap = self.snapshot()?;
        let i = match self.view {
            View::Listeners => *self.listeners.rows.get(self.listeners.nav.selected)?,
            View::Connections => match self.conns.selected_line()? {
                ConnLine::Socket(i) | ConnLine::Member { socket: i, .. } => i,
                ConnLine::Group(_) => return None,
            },
            _ => return None,
        };
        snap.sockets.get(i)
    }

    pub fn find(&self, key: &SocketKey) -> Option<&Socket> {
        self.snapshot()?.sockets.iter().find(|s| s.key() == *key)
    }

    /// Feeds typed keys through `update`, returning all effects.
    #[doc(hidden)]
    pub fn type_keys(&mut self, text: &str) -> Vec<Effect> {
        typed(text)
            .into_iter()
            .flat_map(|k| self.update(Msg::Key(k)))
            .collect()
    }
}
