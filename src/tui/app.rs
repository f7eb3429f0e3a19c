//! TUI state and the one function that changes it. `update` does no I/O: it returns effects for
//! the runtime to carry out, so every behaviour is testable without a terminal.

use super::keymap::{Command, KeyMap};
use crate::action::exec::ActionOutcome;
use crate::action::{PendingAction, Sig, plan_close, plan_reservation, plan_signal};
use crate::analyze::Derived;
use crate::analyze::conns::ConnSummary;
use crate::analyze::portmap::{MAX_ZOOM, PortMap};
use crate::analyze::why::{BindRequest, Diagnosis};
use crate::collect::NetnsTarget;
use crate::model::{Proto, Snapshot, Socket, SocketKey};
use crate::portset::PortSet;
use crossterm::event::{Event, KeyEvent, KeyEventKind};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Listeners,
    Connections,
    PortMap,
    Why,
}

impl View {
    pub const ALL: [View; 4] = [View::Listeners, View::Connections, View::PortMap, View::Why];

    pub fn title(self) -> &'static str {
        match self {
            View::Listeners => "Listeners",
            View::Connections => "Connections",
            View::PortMap => "Port map",
            View::Why => "Why",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    /// A new snapshot, with the why-diagnosis for the port being watched.
    Data(Arc<Snapshot>, Option<Arc<Diagnosis>>),
    /// The same, with the snapshot-wide derivations already made (by the collector thread).
    Prepared(Arc<Snapshot>, Option<Arc<Diagnosis>>, Arc<Derived>),
    CollectFailed(String),
    Resize,
    /// A confirmed action finished.
    ActionDone(Box<ActionOutcome>),
    /// What changed with the last snapshot, for time travel (`[` / `]`).
    History(Arc<Vec<crate::history::Change>>),
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    RefreshNow,
    /// Watch this port in the why view (the collector probes it on every refresh).
    Watch(Option<BindRequest>),
    /// Carry out a confirmed action (off the UI thread) and report back with ActionDone.
    Execute(Box<PendingAction>),
    /// Read these network namespaces from now on.
    Scope(super::netns_pick::Scope),
    Quit,
}

/// Where reservations go and how actions reach the system.
#[derive(Debug, Clone)]
pub struct ActionContext {
    pub netns: NetnsTarget,
    /// The sysctl.d directory for the drop-in (`--sysctl-dir`, config `sysctl_dir`).
    pub sysctl_dir: PathBuf,
    pub journal: Option<PathBuf>,
    pub is_root: bool,
    /// What the configuration sets at boot, read when the planner opens: a drop-in replaces it,
    /// so the plan keeps it.
    pub boot: Option<crate::reserve::BootValue>,
    /// Why no drop-in is written: another namespace, or a boot value that cannot be known.
    pub no_persist: Option<String>,
    /// Where the executor logs what it did (None: no data directory).
    pub action_log: Option<crate::action::log::ActionLog>,
}

impl ActionContext {
    /// Re-reads the configuration the planner merges with; file reads happen here, on a key
    /// press, never while drawing.
    pub fn refresh_boot(&mut self) {
        self.boot = None;
        self.no_persist = None;
        if !self.netns.is_host() {
            self.no_persist = Some(format!(
                "network namespace {} is not the host's: sysctl.d files configure the host, so \
                 only the runtime value is changed",
                self.netns.describe()
            ));
            return;
        }
        let layout = crate::reserve::SysctlLayout::system().with_admin_dir(&self.sysctl_dir);
        let audit = crate::reserve::audit(&layout);
        let under = match audit.value_under_dropin(crate::reserve::DROPIN_NAME) {
            Ok(s) => s,
            Err(unreadable) => {
                self.no_persist = Some(format!(
                    "the value set at boot cannot be known (could not read {unreadable}): only \
                     the runtime value is changed"
                ));
                return;
            }
        };
        self.boot = under.and_then(|s| {
            s.value.clone().map(|value| crate::reserve::BootValue {
                value,
                source: format!("{}:{}", s.file.display(), s.line),
            })
        });
    }
}

impl Default for ActionContext {
    fn default() -> Self {
        ActionContext {
            netns: NetnsTarget::Current,
            sysctl_dir: PathBuf::from("/etc/sysctl.d"),
            journal: crate::reserve::journal::default_path(),
            is_root: crate::paths::is_root(),
            boot: None,
            no_persist: None,
            action_log: crate::action::log::ActionLog::default_location(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerSort {
    Port,
    Process,
    User,
}

impl ListenerSort {
    pub fn label(self) -> &'static str {
        match self {
            ListenerSort::Port => "port",
            ListenerSort::Process => "process",
            ListenerSort::User => "user",
        }
    }
}

/// A table's cursor, kept on the same socket across refreshes.
#[derive(Debug, Default)]
pub struct TableNav {
    pub selected: usize,
    pub key: Option<SocketKey>,
    /// First visible row; rendering adjusts it to keep the cursor in view.
    pub offset: Cell<usize>,
    /// Rows that fit on screen at the last render, for page moves.
    pub page: Cell<usize>,
}

#[derive(Debug)]
pub struct MapNav {
    pub zoom: usize,
    pub cursor: u16,
    /// Cells per row at the last render, for up/down moves.
    pub cols: Cell<usize>,
    /// Cells on screen at the last render (zoom level 0 divides the space by it).
    pub cells: Cell<usize>,
}

#[derive(Debug)]
pub enum Modal {
    Help {
        scroll: u16,
    },
    /// Details of one socket and the processes holding it.
    Detail {
        key: SocketKey,
        scroll: u16,
    },
    Goto(Input),
    /// An action waiting for `y`; `context` says what led to it (an earlier outcome).
    Confirm {
        action: PendingAction,
        context: Vec<String>,
    },
    /// An action is running.
    Busy(String),
    /// What happened, or why nothing could be done.
    Outcome(ActionOutcome),
    /// The reservation planner: a port list, with the plan computed live.
    Reserve(Input),
}

/// Data that arrived while the view was frozen: snapshot, diagnosis, derivations.
pub type Pending = (Arc<Snapshot>, Option<Arc<Diagnosis>>, Option<Arc<Derived>>);

pub struct App {
    pub keymap: KeyMap,
    pub view: View,
    pub data: Option<Arc<Snapshot>>,
    pub diagnosis: Option<Arc<Diagnosis>>,
    pub pending: Option<Pending>,
    pub frozen: bool,
    pub error: Option<String>,
    pub filter: Input,
    pub filter_editing: bool,
    pub listeners: Vec<usize>,
    pub conns: Vec<usize>,
    pub derived: Option<Arc<Derived>>,
    pub nav_listeners: TableNav,
    pub nav_conns: TableNav,
    pub sort: ListenerSort,
    pub map: MapNav,
    pub why_input: Input,
    pub why_editing: bool,
    pub why_request: Option<BindRequest>,
    pub why_error: Option<String>,
    /// Lines scrolled in the why view (its remedies run past 24 lines).
    pub why_scroll: u16,
    /// The cause K and D act on in the why view (index into the diagnosis's causes).
    pub why_cause: usize,
    pub modal: Option<Modal>,
    pub replay: bool,
    pub quit: bool,
    /// One line of feedback for the last key (e.g. an unavailable action).
    pub note: Option<String>,
    pub actions: ActionContext,
    /// Lower-cased search text per socket, built on the first filter keystroke per snapshot.
    haystack: Option<Vec<String>>,
    /// Which network namespaces are shown (`w` switches).
    pub picker: super::netns_pick::Picker,
    /// What was seen before, and the moment on screen when it is the past.
    pub travel: super::travel::TimeTravel,
    /// How far the open help or detail pane can scroll, as last drawn.
    pub overlay_max_scroll: Cell<u16>,
}

impl App {
    pub fn new(keymap: KeyMap, replay: bool) -> App {
        App {
            keymap,
            view: View::Listeners,
            data: None,
            diagnosis: None,
            pending: None,
            frozen: false,
            error: None,
            filter: Input::default(),
            filter_editing: false,
            listeners: Vec::new(),
            conns: Vec::new(),
            derived: None,
            nav_listeners: TableNav::default(),
            nav_conns: TableNav::default(),
            sort: ListenerSort::Port,
            map: MapNav {
                zoom: 0,
                cursor: 0,
                cols: Cell::new(64),
                cells: Cell::new(1024),
            },
            why_input: Input::default(),
            why_editing: false,
            why_request: None,
            why_error: None,
            why_scroll: 0,
            why_cause: 0,
            modal: None,
            replay,
            quit: false,
            note: None,
            actions: ActionContext::default(),
            haystack: None,
            picker: Default::default(),
            travel: Default::default(),
            overlay_max_scroll: Cell::new(u16::MAX),
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            // Esc followed quickly by a key (over SSH, often in one packet) reaches us as Alt+key.
            // No binding uses Alt, so it is read as what was typed: Esc, then the key.
            Msg::Key(ev)
                if ev.kind != KeyEventKind::Release
                    && ev.modifiers.contains(crossterm::event::KeyModifiers::ALT)
                    && matches!(ev.code, crossterm::event::KeyCode::Char(_)) =>
            {
                let esc = KeyEvent::new(
                    crossterm::event::KeyCode::Esc,
                    crossterm::event::KeyModifiers::NONE,
                );
                let mut key = ev;
                key.modifiers.remove(crossterm::event::KeyModifiers::ALT);
                let mut effects = self.on_key(esc);
                effects.extend(self.on_key(key));
                effects
            }
            Msg::Key(ev) if ev.kind != KeyEventKind::Release => self.on_key(ev),
            Msg::Key(_) | Msg::Resize => Vec::new(),
            Msg::Data(snap, diag) => {
                self.receive(snap, diag, None);
                Vec::new()
            }
            Msg::Prepared(snap, diag, derived) => {
                self.receive(snap, diag, Some(derived));
                Vec::new()
            }
            Msg::CollectFailed(e) => {
                self.error = Some(e);
                Vec::new()
            }
            Msg::History(changes) => {
                self.travel.record(&changes);
                Vec::new()
            }
            Msg::ActionDone(outcome) => {
                let outcome = *outcome;
                self.modal = Some(match outcome.follow_up.clone() {
                    Some(next) => Modal::Confirm {
                        action: next,
                        context: outcome.lines,
                    },
                    None => Modal::Outcome(outcome),
                });
                vec![Effect::RefreshNow]
            }
        }
    }

    fn receive(
        &mut self,
        snap: Arc<Snapshot>,
        diag: Option<Arc<Diagnosis>>,
        derived: Option<Arc<Derived>>,
    ) {
        self.picker.observe(&snap);
        if self.frozen || self.travel.at.is_some() {
            self.pending = Some((snap, diag, derived));
        } else {
            self.apply(snap, diag, derived);
        }
    }

    fn apply(
        &mut self,
        snap: Arc<Snapshot>,
        diag: Option<Arc<Diagnosis>>,
        derived: Option<Arc<Derived>>,
    ) {
        self.derived = Some(derived.unwrap_or_else(|| Arc::new(Derived::of(&snap))));
        self.data = Some(snap);
        // A diagnosis for a port no longer watched (typed over since) is dropped.
        self.diagnosis = diag.filter(|d| {
            self.why_request
                .is_some_and(|r| r.port == d.port && r.proto == d.proto && r.addr == d.addr)
        });
        self.error = None;
        self.haystack = None;
        self.recompute();
    }

    /// Puts a snapshot from history on screen (the why diagnosis stays the live one).
    pub(super) fn show(&mut self, snap: Arc<Snapshot>, derived: Arc<Derived>) {
        let diag = self.diagnosis.clone();
        self.apply(snap, diag, Some(derived));
    }

    /// Back to live data.
    pub(super) fn show_live(
        &mut self,
        snap: Arc<Snapshot>,
        diag: Option<Arc<Diagnosis>>,
        derived: Option<Arc<Derived>>,
    ) {
        self.apply(snap, diag, derived);
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.data.as_deref()
    }

    /// Connection counts of the snapshot on screen.
    pub fn summary(&self) -> &ConnSummary {
        static EMPTY: std::sync::OnceLock<ConnSummary> = std::sync::OnceLock::new();
        match &self.derived {
            Some(d) => &d.summary,
            None => EMPTY.get_or_init(ConnSummary::default),
        }
    }

    pub fn portmap(&self) -> Option<&PortMap> {
        self.derived.as_deref().map(|d| &d.portmap)
    }

    /// Rebuilds the derived rows and puts each cursor back on the socket it was on.
    pub fn recompute(&mut self) {
        let Some(snap) = self.data.clone() else {
            return;
        };
        let query = self.filter.value().trim().to_lowercase();
        if !query.is_empty() && self.haystack.is_none() {
            self.haystack = Some(snap.sockets.iter().map(crate::filter::haystack).collect());
        }
        let matches = |i: usize| -> bool {
            query.is_empty()
                || self
                    .haystack
                    .as_ref()
                    .is_some_and(|h| crate::filter::text_match(&h[i], &snap.sockets[i], &query))
        };
        let mut listeners: Vec<usize> = (0..snap.sockets.len())
            .filter(|&i| snap.sockets[i].is_listening() && matches(i))
            .collect();
        let key_of = |s: &Socket| -> (String, String, u16) {
            let o = s.owners.first();
            match self.sort {
                ListenerSort::Port => (String::new(), String::new(), s.local_port),
                ListenerSort::Process => (
                    o.map_or(String::new(), |o| o.comm.raw().to_lowercase()),
                    String::new(),
                    s.local_port,
                ),
                ListenerSort::User => (
                    o.map_or(String::new(), |o| o.user.raw().to_string()),
                    o.map_or(String::new(), |o| o.comm.raw().to_lowercase()),
                    s.local_port,
                ),
            }
        };
        listeners.sort_by_cached_key(|&i| key_of(&snap.sockets[i]));
        let conns: Vec<usize> = (0..snap.sockets.len())
            .filter(|&i| !snap.sockets[i].is_listening() && matches(i))
            .collect();
        restore(&mut self.nav_listeners, &listeners, &snap);
        restore(&mut self.nav_conns, &conns, &snap);
        self.listeners = listeners;
        self.conns = conns;
    }

    /// The socket under the cursor of the current table view.
    pub fn selected_socket(&self) -> Option<&Socket> {
        let snap = self.snapshot()?;
        let (rows, nav) = match self.view {
            View::Listeners => (&self.listeners, &self.nav_listeners),
            View::Connections => (&self.conns, &self.nav_conns),
            _ => return None,
        };
        rows.get(nav.selected).map(|&i| &snap.sockets[i])
    }

    pub fn find(&self, key: &SocketKey) -> Option<&Socket> {
        self.snapshot()?.sockets.iter().find(|s| s.key() == *key)
    }

    fn on_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        self.note = None;
        // A quit key that is not typing quits from fields and dialogs too (not while an action
        // runs: its outcome must be seen).
        if self.keymap.is_quit_anywhere(&ev) && !matches!(self.modal, Some(Modal::Busy(_))) {
            self.quit = true;
            return vec![Effect::Quit];
        }
        if self.modal.is_some() {
            return self.on_modal_key(ev);
        }
        if self.filter_editing {
            return self.on_filter_key(ev);
        }
        if self.why_editing {
            return self.on_why_key(ev);
        }
        match self.keymap.command(&ev) {
            Some(cmd) => {
                if let Some(why) = super::habits::unavailable(self, cmd) {
                    self.note = Some(why);
                    return Vec::new();
                }
                self.on_command(cmd)
            }
            None => {
                self.note = Some(super::habits::unknown(&ev));
                Vec::new()
            }
        }
    }

    fn on_filter_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        match self.keymap.command(&ev) {
            Some(Command::Back) => {
                self.filter = Input::default();
                self.filter_editing = false;
                self.recompute();
            }
            Some(Command::Open) => self.filter_editing = false,
            _ => {
                if self.filter.handle_event(&Event::Key(ev)).is_some() {
                    self.recompute();
                }
            }
        }
        Vec::new()
    }

    fn on_why_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        match self.keymap.command(&ev) {
            Some(Command::Back) => {
                self.why_editing = false;
                self.why_error = None;
                Vec::new()
            }
            Some(Command::Open) => match parse_bind(self.why_input.value()) {
                Ok(req) => {
                    self.why_editing = false;
                    self.why_error = None;
                    self.why_request = Some(req);
                    self.diagnosis = None;
                    self.why_scroll = 0;
                    self.why_cause = 0;
                    vec![Effect::Watch(Some(req)), Effect::RefreshNow]
                }
                Err(e) => {
                    self.why_error = Some(e);
                    Vec::new()
                }
            },
            _ => {
                self.why_input.handle_event(&Event::Key(ev));
                Vec::new()
            }
        }
    }

    fn on_modal_key(&mut self, ev: KeyEvent) -> Vec<Effect> {
        let cmd = self.keymap.command(&ev);
        match self.modal.as_mut() {
            Some(Modal::Goto(input)) => match cmd {
                Some(Command::Back) => self.modal = None,
                Some(Command::Open) => match crate::portset::parse_port(input.value()) {
                    Ok(p) => {
                        self.map.cursor = p;
                        self.map.zoom = MAX_ZOOM;
                        self.modal = None;
                    }
                    Err(e) => self.note = Some(format!("{e}")),
                },
                _ => {
                    input.handle_event(&Event::Key(ev));
                }
            },
            Some(Modal::Confirm { .. }) => {
                // Only an explicit y acts; everything else (n, esc, enter) is the default No.
                if matches!(ev.code, crossterm::event::KeyCode::Char('y' | 'Y'))
                    && let Some(Modal::Confirm { action, .. }) = self.modal.take()
                {
                    let (title, _) = action.describe();
                    self.modal = Some(Modal::Busy(title));
                    return vec![Effect::Execute(Box::new(action))];
                }
                self.modal = None;
                self.note = Some("cancelled: nothing was done".into());
            }
            Some(Modal::Busy(_)) => {}
            Some(Modal::Outcome(_)) => {
                if matches!(cmd, Some(Command::Back | Command::Open | Command::Quit)) {
                    self.modal = None;
                }
            }
            Some(Modal::Reserve(input)) => match cmd {
                Some(Command::Back) => self.modal = None,
                Some(Command::Open) => {
                    let spec = input.value().to_string();
                    self.confirm_reservation(&spec);
                }
                _ => {
                    input.handle_event(&Event::Key(ev));
                }
            },
            Some(Modal::Help { scroll }) | Some(Modal::Detail { scroll, .. }) => {
                // Never past the last line: the render says how far that is.
                let max = self.overlay_max_scroll.get();
                match cmd {
                    Some(Command::Up) => *scroll = scroll.saturating_sub(1),
                    Some(Command::Down) => *scroll = scroll.saturating_add(1).min(max),
                    Some(Command::PageUp) => *scroll = scroll.saturating_sub(10),
                    Some(Command::PageDown) => *scroll = scroll.saturating_add(10).min(max),
                    Some(Command::Top) => *scroll = 0,
                    Some(Command::Bottom) => *scroll = max,
                    // As in less, htop and k9s: q closes the overlay, it does not quit.
                    Some(Command::Quit | Command::Back | Command::Open | Command::Help) => {
                        self.modal = None
                    }
                    _ => {}
                }
            }
            None => {}
        }
        Vec::new()
    }

    fn on_command(&mut self, cmd: Command) -> Vec<Effect> {
        match cmd {
            Command::Quit => {
                self.quit = true;
                return vec![Effect::Quit];
            }
            Command::Help => self.modal = Some(Modal::Help { scroll: 0 }),
            Command::NextView => self.switch(View::ALL[(self.view.index() + 1) % 4]),
            Command::PrevView => self.switch(View::ALL[(self.view.index() + 3) % 4]),
            Command::ViewListeners => self.switch(View::Listeners),
            Command::ViewConnections => self.switch(View::Connections),
            Command::ViewPortMap => self.switch(View::PortMap),
            Command::ViewWhy => self.switch(View::Why),
            Command::Up => self.move_by(-1),
            Command::Down => self.move_by(1),
            Command::PageUp => self.move_page(-1),
            Command::PageDown => self.move_page(1),
            Command::Top => self.move_to(0),
            Command::Bottom => self.move_to(usize::MAX),
            Command::Left => self.map_move(-1),
            Command::Right => self.map_move(1),
            Command::Filter => {
                // A new search, as `/` does in less and vim: typing a port replaces the last one.
                if matches!(self.view, View::Listeners | View::Connections) {
                    self.filter = Input::default();
                    self.filter_editing = true;
                    self.recompute();
                }
            }
            Command::Freeze => {
                self.frozen = !self.frozen;
                if !self.frozen
                    && let Some((snap, diag, derived)) = self.pending.take()
                {
                    self.apply(snap, diag, derived);
                }
            }
            Command::NextMatch | Command::PrevMatch => {
                match super::habits::step_match(self, cmd == Command::NextMatch) {
                    Ok(row) => self.set_row(row),
                    Err(why) => self.note = Some(why),
                }
            }
            Command::Earlier => self.note = super::travel::step(self, true),
            Command::Later => self.note = super::travel::step(self, false),
            Command::Refresh => return vec![Effect::RefreshNow],
            Command::Open => match self.view {
                View::Listeners | View::Connections => {
                    if let Some(s) = self.selected_socket() {
                        self.modal = Some(Modal::Detail {
                            key: s.key(),
                            scroll: 0,
                        });
                    }
                }
                View::PortMap => self.zoom(1),
                View::Why => self.why_editing = true,
            },
            Command::Back => {
                if !self.filter.value().is_empty() {
                    self.filter = Input::default();
                    self.recompute();
                } else if self.view == View::PortMap {
                    self.zoom(-1);
                }
            }
            Command::Sort => {
                if self.view == View::Listeners {
                    self.sort = match self.sort {
                        ListenerSort::Port => ListenerSort::Process,
                        ListenerSort::Process => ListenerSort::User,
                        ListenerSort::User => ListenerSort::Port,
                    };
                    self.recompute();
                }
            }
            Command::ZoomIn => self.zoom(1),
            Command::ZoomOut => self.zoom(-1),
            Command::Goto => {
                if self.view == View::PortMap {
                    self.modal = Some(Modal::Goto(Input::default()));
                }
            }
            Command::EditPort => {
                if self.view == View::Why {
                    self.why_editing = true;
                }
            }
            Command::Netns if self.replay => {
                self.note = Some("a replay shows the namespaces it recorded".into());
            }
            Command::Netns => {
                let scope = self.picker.advance();
                self.note = Some(
                    self.picker
                        .title()
                        .unwrap_or_else(|| "netns: the start namespace".into()),
                );
                return vec![Effect::Scope(scope), Effect::RefreshNow];
            }
            Command::Kill
            | Command::CloseConn
            | Command::Reserve
            | Command::ReserveAtRisk
            | Command::FixPlan
            | Command::Undo => {
                if self.replay {
                    self.note = Some(
                        "actions are disabled in a replay: this is a recording, not the live system"
                            .into(),
                    );
                } else {
                    self.on_action(cmd);
                }
            }
        }
        Vec::new()
    }

    /// The socket an action applies to: the selected row, or in the why view the first holder
    /// (for kill, one with a process; for close, an outgoing connection).
    fn action_target(&self, cmd: Command) -> Option<Socket> {
        match self.view {
            View::Listeners | View::Connections => self.selected_socket().cloned(),
            View::Why => {
                let d = self.diagnosis.as_deref()?;
                let pick = |h: &&crate::analyze::why::Holder| match cmd {
                    Command::CloseConn => h.role == crate::analyze::why::Role::Outgoing,
                    _ => !h.socket.kernel_held,
                };
                d.holders
                    .iter()
                    .find(pick)
                    .or(d.holders.first())
                    .map(|h| h.socket.clone())
            }
            View::PortMap => None,
        }
    }

    fn info(&mut self, title: &str, text: String) {
        self.modal = Some(Modal::Outcome(ActionOutcome::nothing_done(
            title,
            vec![text],
        )));
    }

    fn on_action(&mut self, cmd: Command) {
        let Some(snap) = self.data.clone() else {
            return;
        };
        let netns = self.actions.netns.clone();
        if self.view == View::Why
            && matches!(cmd, Command::Kill | Command::CloseConn | Command::FixPlan)
        {
            self.why_act(cmd);
            return;
        }
        match cmd {
            Command::Kill | Command::CloseConn => {
                let Some(sock) = self.action_target(cmd) else {
                    self.note =
                        Some("select a socket first (listeners, connections or why view)".into());
                    return;
                };
                // Closing goes through the start namespace's sock_diag: never another's.
                if cmd == Command::CloseConn
                    && let Some(why) = super::netns_pick::foreign(&snap, &sock)
                {
                    self.info("Not here", why);
                    return;
                }
                let planned = if cmd == Command::Kill {
                    plan_signal(&snap, &sock, Sig::Term, &netns)
                } else {
                    plan_close(&sock, &netns)
                };
                match planned {
                    Ok(action) => {
                        self.modal = Some(Modal::Confirm {
                            action,
                            context: Vec::new(),
                        })
                    }
                    Err(why) => self.info("Nothing to do", why),
                }
            }
            Command::Reserve | Command::ReserveAtRisk | Command::Undo
                if self.picker.scope != super::netns_pick::Scope::Start =>
            {
                self.info(
                    "Not here",
                    "reservations apply to the start namespace: press w until it is shown again (or start portscope with --netns PID for another)".into(),
                );
            }
            Command::Reserve => {
                let port = match self.view {
                    View::PortMap => Some(self.map.cursor),
                    View::Why => self.why_request.map(|r| r.port),
                    _ => self.selected_socket().map(|s| s.local_port),
                };
                let text = port.map_or_else(String::new, |p| p.to_string());
                self.actions.refresh_boot();
                self.modal = Some(Modal::Reserve(Input::new(text)));
            }
            Command::ReserveAtRisk => {
                let ports = crate::reserve::at_risk_ports(&snap);
                if ports.is_empty() {
                    self.info(
                        "Nothing at risk",
                        "no listener sits inside the ephemeral range unreserved".into(),
                    );
                } else {
                    self.actions.refresh_boot();
                    self.modal = Some(Modal::Reserve(Input::new(ports.to_string())));
                }
            }
            Command::Undo => {
                let Some(journal) = self.actions.journal.clone() else {
                    self.info("Undo", "no data directory for the undo journal".into());
                    return;
                };
                match crate::reserve::plan_undo(&journal, &netns) {
                    Ok(plan) => {
                        self.modal = Some(Modal::Confirm {
                            action: PendingAction::UndoReservation(plan),
                            context: Vec::new(),
                        })
                    }
                    Err(e) => self.info("Nothing to undo", e.message),
                }
            }
            _ => {}
        }
    }

    /// The planner's live plan for the text typed so far.
    pub fn reservation_preview(&self, spec: &str) -> Result<crate::action::ReserveAction, String> {
        let snap = self.data.as_deref().ok_or("no snapshot yet")?;
        if !snap.sysctl.known("ip_local_reserved_ports") {
            return Err("this namespace's reserved ports could not be read: a change merged with a guess would drop real reservations".into());
        }
        let add = PortSet::parse(spec).map_err(|e| e.to_string())?;
        let dropin = self
            .actions
            .no_persist
            .is_none()
            .then(|| self.actions.sysctl_dir.join(crate::reserve::DROPIN_NAME));
        let journal = self
            .actions
            .journal
            .clone()
            .unwrap_or_else(|| PathBuf::from("portscope-reserve-journal.json"));
        let mut action = plan_reservation(
            snap,
            &add,
            &PortSet::new(),
            &self.actions.netns,
            dropin,
            self.actions.boot.as_ref(),
            journal,
        );
        action.no_persist = self.actions.no_persist.clone();
        Ok(action)
    }

    fn confirm_reservation(&mut self, spec: &str) {
        match self.reservation_preview(spec) {
            Err(e) => self.note = Some(e),
            Ok(a) if !a.plan.refusals.is_empty() => {
                self.note = Some(format!("refused: {}", a.plan.refusals.join("; ")))
            }
            Ok(a) if a.plan.proposed == a.plan.current => {
                self.note = Some("nothing to change: those ports are already reserved".into())
            }
            Ok(a) if !self.actions.is_root => {
                let mut lines = vec![
                    "Changing net.ipv4.ip_local_reserved_ports needs root. Run these instead:"
                        .into(),
                ];
                lines.extend(
                    crate::reserve::manual_commands(
                        &a.request.value,
                        &a.request.netns,
                        a.request.dropin.as_deref(),
                    )
                    .lines()
                    .map(String::from),
                );
                lines.push("Or for the fleet (Ansible):".into());
                let file = a.request.dropin.clone().unwrap_or_default();
                lines.extend(
                    crate::reserve::ansible_task(&a.request.value, &file)
                        .lines()
                        .map(String::from),
                );
                self.modal = Some(Modal::Outcome(ActionOutcome::nothing_done(
                    "Reservation: run as root",
                    lines,
                )));
            }
            Ok(a) => {
                self.modal = Some(Modal::Confirm {
                    action: PendingAction::ApplyReservation(a),
                    context: Vec::new(),
                })
            }
        }
    }

    fn switch(&mut self, view: View) {
        self.view = view;
        self.filter_editing = false;
    }

    fn table(&mut self) -> Option<(&Vec<usize>, &mut TableNav)> {
        match self.view {
            View::Listeners => Some((&self.listeners, &mut self.nav_listeners)),
            View::Connections => Some((&self.conns, &mut self.nav_conns)),
            _ => None,
        }
    }

    fn set_row(&mut self, row: usize) {
        let snap = self.data.clone();
        if let Some((rows, nav)) = self.table() {
            if rows.is_empty() {
                nav.selected = 0;
                nav.key = None;
                return;
            }
            nav.selected = row.min(rows.len() - 1);
            nav.key = snap.map(|s| s.sockets[rows[nav.selected]].key());
        }
    }

    fn move_by(&mut self, delta: isize) {
        match self.view {
            View::PortMap => {
                let stride = self.map.cols.get().max(1) as isize;
                self.map_move(delta * stride);
            }
            View::Listeners | View::Connections => {
                let cur = self.table().map_or(0, |(_, n)| n.selected);
                self.set_row(cur.saturating_add_signed(delta));
            }
            View::Why => self.why_move(delta),
        }
    }

    fn move_page(&mut self, dir: isize) {
        match self.view {
            View::PortMap => {
                let rows = (self.map.cells.get() / self.map.cols.get().max(1)).max(1) as isize;
                self.map_move(dir * rows * self.map.cols.get() as isize);
            }
            View::Why => self.why_scroll_by(dir * 10),
            _ => {
                let page = self.table().map_or(10, |(_, n)| n.page.get().max(1)) as isize;
                self.move_by(dir * page);
            }
        }
    }

    fn move_to(&mut self, row: usize) {
        if self.view == View::PortMap {
            self.map.cursor = if row == 0 { 0 } else { u16::MAX };
        } else {
            self.set_row(row);
        }
    }

    /// Ports per cell at the current zoom.
    pub fn map_step(&self) -> u32 {
        crate::analyze::portmap::ports_per_cell(self.map.zoom, self.map.cells.get())
    }

    fn map_move(&mut self, cells: isize) {
        if self.view != View::PortMap {
            return;
        }
        let step = i64::from(self.map_step());
        let p = i64::from(self.map.cursor) + cells as i64 * step;
        self.map.cursor = p.clamp(0, 65535) as u16;
    }

    fn zoom(&mut self, dir: isize) {
        if self.view != View::PortMap {
            return;
        }
        self.map.zoom = self.map.zoom.saturating_add_signed(dir).min(MAX_ZOOM);
    }
}

/// Keeps a cursor on its socket: same identity if still there, else the same row clamped.
fn restore(nav: &mut TableNav, rows: &[usize], snap: &Snapshot) {
    if rows.is_empty() {
        nav.selected = 0;
        nav.key = None;
        return;
    }
    if let Some(key) = nav.key
        && let Some(pos) = rows.iter().position(|&i| snap.sockets[i].key() == key)
    {
        nav.selected = pos;
        return;
    }
    nav.selected = nav.selected.min(rows.len() - 1);
    nav.key = Some(snap.sockets[rows[nav.selected]].key());
}

/// Parses what a person types in the why view: `8080`, `8080/udp`, `127.0.0.1:8080`,
/// `[::1]:8080/tcp`, then why's options: `--v6only`, `--reuseport`, `--freebind`, `--user U`.
pub fn parse_bind(text: &str) -> Result<BindRequest, String> {
    let mut words = text.split_whitespace();
    let t = words.next().unwrap_or("");
    let opts = super::why_act::parse_options(words)?;
    let (rest, proto) = match t.rsplit_once('/') {
        Some((r, p)) => (r, p.parse::<Proto>()?),
        None => (t, Proto::Tcp),
    };
    let (addr, port) = if rest.starts_with('[') {
        let (a, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("{t:?}: write an IPv6 address and port as [::1]:8080"))?;
        (crate::addr::parse_ip(&format!("{a}]"))?, p)
    } else if rest.matches(':').count() > 1 {
        // A bare IPv6 address: is the last group a port or part of the address? Ask.
        return Err(format!(
            "{t:?}: write an IPv6 address and port as [::1]:8080"
        ));
    } else if let Some((a, p)) = rest.rsplit_once(':') {
        (crate::addr::parse_ip(a)?, p)
    } else {
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), rest)
    };
    let port = crate::analyze::why::parse_service_port(port)?;
    Ok(BindRequest {
        port,
        proto,
        addr,
        opts,
    })
}

/// Key events for a typed string, for scripted sessions (tests, screenshots): `\n` is Enter,
/// `\x1b` Esc, `\t` Tab, `↑↓←→` arrows, upper-case letters come with Shift.
#[doc(hidden)]
pub fn typed(text: &str) -> Vec<KeyEvent> {
    use crossterm::event::{KeyCode, KeyModifiers};
    text.chars()
        .map(|c| match c {
            '\n' => KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE),
            '\x1b' => KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE),
            '\t' => KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
            '↑' => KeyEvent::new(KeyCode::Up, KeyModifiers::NONE),
            '↓' => KeyEvent::new(KeyCode::Down, KeyModifiers::NONE),
            '←' => KeyEvent::new(KeyCode::Left, KeyModifiers::NONE),
            '→' => KeyEvent::new(KeyCode::Right, KeyModifiers::NONE),
            c if c.is_ascii_uppercase() => KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT),
            c => KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE),
        })
        .collect()
}

impl App {
    /// Feeds typed keys through `update`, returning all effects.
    #[doc(hidden)]
    pub fn type_keys(&mut self, text: &str) -> Vec<Effect> {
        typed(text)
            .into_iter()
            .flat_map(|k| self.update(Msg::Key(k)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_text() {
        assert_eq!(parse_bind("8080"), Ok(BindRequest::tcp(8080)));
        let r = parse_bind("[::1]:53/udp").unwrap();
        assert_eq!(
            (r.port, r.proto, r.addr.to_string()),
            (53, Proto::Udp, "::1".into())
        );
        let r = parse_bind(" 127.0.0.1:80 ").unwrap();
        assert_eq!(r.addr.to_string(), "127.0.0.1");
        assert!(parse_bind("70000").unwrap_err().contains("outside"));
        assert!(parse_bind("0").unwrap_err().contains("any free port"));
        assert!(parse_bind("80/icmp").is_err());
        assert!(parse_bind("nope:80").is_err());
        for guess in ["::1:80", "[::1", "[::1]", "::1", "[::1:80"] {
            let err = parse_bind(guess).unwrap_err();
            assert!(err.contains(guess), "{guess}: {err}");
        }
    }
}
