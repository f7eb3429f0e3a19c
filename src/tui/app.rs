//! TUI state and the one function that changes it. `update` does no I/O: it returns effects for
//! the runtime to carry out, so every behaviour is testable without a terminal.

use super::keymap::{Command, KeyMap};
use crate::analyze::conns::{ConnSummary, summarize};
use crate::analyze::portmap::{MAX_ZOOM, PortMap};
use crate::analyze::why::{BindRequest, Diagnosis};
use crate::model::{Proto, Snapshot, Socket, SocketKey};
use crossterm::event::{Event, KeyEvent, KeyEventKind};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
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
    CollectFailed(String),
    Resize,
}

/// What the runtime must do after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    RefreshNow,
    /// Watch this port in the why view (the collector probes it on every refresh).
    Watch(Option<BindRequest>),
    Quit,
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
}

pub struct App {
    pub keymap: KeyMap,
    pub view: View,
    pub data: Option<Arc<Snapshot>>,
    pub diagnosis: Option<Arc<Diagnosis>>,
    pub pending: Option<(Arc<Snapshot>, Option<Arc<Diagnosis>>)>,
    pub frozen: bool,
    pub error: Option<String>,
    pub filter: Input,
    pub filter_editing: bool,
    pub listeners: Vec<usize>,
    pub conns: Vec<usize>,
    pub summary: ConnSummary,
    pub portmap: Option<PortMap>,
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
    pub modal: Option<Modal>,
    pub replay: bool,
    pub quit: bool,
    /// One line of feedback for the last key (e.g. an unavailable action).
    pub note: Option<String>,
    /// Lower-cased search text per socket, built on the first filter keystroke per snapshot.
    haystack: Option<Vec<String>>,
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
            summary: ConnSummary::default(),
            portmap: None,
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
            modal: None,
            replay,
            quit: false,
            note: None,
            haystack: None,
        }
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        match msg {
            Msg::Key(ev) if ev.kind != KeyEventKind::Release => self.on_key(ev),
            Msg::Key(_) | Msg::Resize => Vec::new(),
            Msg::Data(snap, diag) => {
                if self.frozen {
                    self.pending = Some((snap, diag));
                } else {
                    self.apply(snap, diag);
                }
                Vec::new()
            }
            Msg::CollectFailed(e) => {
                self.error = Some(e);
                Vec::new()
            }
        }
    }

    fn apply(&mut self, snap: Arc<Snapshot>, diag: Option<Arc<Diagnosis>>) {
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

    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.data.as_deref()
    }

    /// Rebuilds the derived rows and puts each cursor back on the socket it was on.
    pub fn recompute(&mut self) {
        let Some(snap) = self.data.clone() else {
            return;
        };
        let query = self.filter.value().trim().to_lowercase();
        if !query.is_empty() && self.haystack.is_none() {
            self.haystack = Some(snap.sockets.iter().map(haystack).collect());
        }
        let matches = |i: usize| -> bool {
            query.is_empty()
                || self
                    .haystack
                    .as_ref()
                    .is_some_and(|h| text_match(&h[i], &snap.sockets[i], &query))
        };
        let mut listeners: Vec<usize> = (0..snap.sockets.len())
            .filter(|&i| snap.sockets[i].is_listening() && matches(i))
            .collect();
        let key_of = |s: &Socket| -> (String, String, u16) {
            let o = s.owners.first();
            match self.sort {
                ListenerSort::Port => (String::new(), String::new(), s.local_port),
                ListenerSort::Process => (
                    o.map_or(String::new(), |o| o.comm.to_lowercase()),
                    String::new(),
                    s.local_port,
                ),
                ListenerSort::User => (
                    o.map_or(String::new(), |o| o.user.clone()),
                    o.map_or(String::new(), |o| o.comm.to_lowercase()),
                    s.local_port,
                ),
            }
        };
        listeners.sort_by_cached_key(|&i| key_of(&snap.sockets[i]));
        let conns: Vec<usize> = (0..snap.sockets.len())
            .filter(|&i| !snap.sockets[i].is_listening() && matches(i))
            .collect();
        self.summary = summarize(&snap);
        self.portmap = Some(PortMap::build(&snap));
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
            Some(cmd) => self.on_command(cmd),
            None => Vec::new(),
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
            Some(Modal::Help { scroll }) | Some(Modal::Detail { scroll, .. }) => match cmd {
                Some(Command::Up) => *scroll = scroll.saturating_sub(1),
                Some(Command::Down) => *scroll = scroll.saturating_add(1),
                Some(Command::PageUp) => *scroll = scroll.saturating_sub(10),
                Some(Command::PageDown) => *scroll = scroll.saturating_add(10),
                Some(Command::Quit) => {
                    self.quit = true;
                    return vec![Effect::Quit];
                }
                Some(Command::Back | Command::Open | Command::Help) => self.modal = None,
                _ => {}
            },
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
                if matches!(self.view, View::Listeners | View::Connections) {
                    self.filter_editing = true;
                }
            }
            Command::Freeze => {
                self.frozen = !self.frozen;
                if !self.frozen
                    && let Some((snap, diag)) = self.pending.take()
                {
                    self.apply(snap, diag);
                }
            }
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
            Command::Kill
            | Command::CloseConn
            | Command::Reserve
            | Command::ReserveAtRisk
            | Command::Undo => {
                self.note = Some(format!(
                    "{} is not available in this version: the why view ({}) lists the exact commands",
                    cmd.help(),
                    self.keymap.label(Command::ViewWhy)
                ));
            }
        }
        Vec::new()
    }

    fn switch(&mut self, view: View) {
        self.view = view;
        self.filter_editing = false;
        if view == View::Why && self.why_request.is_none() {
            self.why_editing = true;
        }
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
            View::Why => {
                self.why_scroll = self.why_scroll.saturating_add_signed(delta as i16);
            }
        }
    }

    fn move_page(&mut self, dir: isize) {
        match self.view {
            View::PortMap => {
                let rows = (self.map.cells.get() / self.map.cols.get().max(1)).max(1) as isize;
                self.map_move(dir * rows * self.map.cols.get() as isize);
            }
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

fn haystack(s: &Socket) -> String {
    let mut h = format!(
        "{} {} {} {} {}",
        s.proto,
        s.local(),
        s.remote(),
        s.state.name(),
        s.state.ss_name()
    );
    if s.autobound {
        h.push_str(" autobound outgoing");
    }
    if s.kernel_held {
        h.push_str(" kernel");
    }
    for o in s.owners.iter() {
        h.push(' ');
        h.push_str(&o.comm);
        h.push(' ');
        h.push_str(&o.user);
        if let Some(u) = o.unit.as_ref().or(o.container.as_ref()) {
            h.push(' ');
            h.push_str(u);
        }
    }
    h.to_lowercase()
}

/// Every word must match: a number as a port or pid exactly, anything else as a substring.
fn text_match(hay: &str, s: &Socket, query: &str) -> bool {
    query.split_whitespace().all(|w| {
        if let Ok(n) = w.parse::<u32>() {
            u32::from(s.local_port) == n
                || u32::from(s.remote_port) == n
                || s.owners.iter().any(|o| o.pid == n)
        } else {
            hay.contains(w)
        }
    })
}

/// Parses what a person types in the why view: `8080`, `8080/udp`, `127.0.0.1:8080`,
/// `[::1]:8080/tcp`.
pub fn parse_bind(text: &str) -> Result<BindRequest, String> {
    let t = text.trim();
    let (rest, proto) = match t.rsplit_once('/') {
        Some((r, p)) => (r, p.parse::<Proto>()?),
        None => (t, Proto::Tcp),
    };
    let (addr, port) = if let Some(r) = rest.strip_prefix('[') {
        let (a, p) = r
            .split_once("]:")
            .ok_or_else(|| format!("{t:?}: write an IPv6 address as [::1]:8080"))?;
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv6 address"))?;
        (addr, p)
    } else if let Some((a, p)) = rest.rsplit_once(':') {
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IP address"))?;
        (addr, p)
    } else {
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), rest)
    };
    let port =
        crate::portset::parse_port(port).map_err(|e| format!("{:?}: {}", e.token, e.reason))?;
    Ok(BindRequest { port, proto, addr })
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
        assert!(parse_bind("80/icmp").is_err());
        assert!(parse_bind("nope:80").is_err());
    }
}
