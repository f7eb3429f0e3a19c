//! Each view's own state, as a widget keeps its own: filter, cursor, sort and rows per table,
//! zoom and cursor for the map, the field and the chosen cause for why. And what a draw
//! measures, the one thing that flows back from rendering.

use crate::analyze::why::BindRequest;
use crate::model::{Snapshot, Socket, SocketKey};
use std::cell::Cell;
use tui_input::Input;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListenerSort {
    #[default]
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

    pub fn next(self) -> ListenerSort {
        match self {
            ListenerSort::Port => ListenerSort::Process,
            ListenerSort::Process => ListenerSort::User,
            ListenerSort::User => ListenerSort::Port,
        }
    }

    /// Orders listener rows (indices into `snap.sockets`); the port breaks ties.
    pub fn apply(self, rows: &mut [usize], snap: &Snapshot) {
        let key_of = |s: &Socket| -> (String, String, u16) {
            let o = s.owners.first();
            let comm = || o.map_or(String::new(), |o| o.comm.raw().to_lowercase());
            match self {
                ListenerSort::Port => (String::new(), String::new(), s.local_port),
                ListenerSort::Process => (comm(), String::new(), s.local_port),
                ListenerSort::User => (
                    o.map_or(String::new(), |o| o.user.raw().to_string()),
                    comm(),
                    s.local_port,
                ),
            }
        };
        rows.sort_by_cached_key(|&i| key_of(&snap.sockets[i]));
    }
}

/// A table's cursor, kept on the same socket across refreshes.
#[derive(Debug, Default)]
pub struct TableNav {
    pub selected: usize,
    pub key: Option<SocketKey>,
    /// First visible row, moved by `update` to keep the cursor in view; a draw on a screen of
    /// another height clamps it for itself without writing it back.
    pub offset: usize,
}

impl TableNav {
    /// Puts the cursor on row `row` (clamped) of `rows`.
    pub fn set(&mut self, row: usize, rows: &[usize], snap: Option<&Snapshot>, page: usize) {
        if rows.is_empty() {
            self.selected = 0;
            self.key = None;
            self.offset = 0;
            return;
        }
        self.selected = row.min(rows.len() - 1);
        self.key = snap.map(|s| s.sockets[rows[self.selected]].key());
        self.follow(rows.len(), page);
    }

    /// Keeps the cursor on its socket: same identity if still there, else the same row clamped.
    pub fn restore(&mut self, rows: &[usize], snap: &Snapshot, page: usize) {
        if let Some(key) = self.key
            && let Some(pos) = rows.iter().position(|&i| snap.sockets[i].key() == key)
        {
            self.selected = pos;
            self.follow(rows.len(), page);
            return;
        }
        self.set(self.selected, rows, Some(snap), page);
    }

    /// Scrolls the window so the cursor is in it. Before the first draw the page height is not
    /// known (0): the draw places the window then.
    fn follow(&mut self, len: usize, page: usize) {
        if page > 0 {
            self.offset = crate::tui::layout::scroll_window(self.selected, self.offset, page, len);
        }
    }
}

#[derive(Debug, Default)]
pub struct ListenersView {
    pub filter: Input,
    pub nav: TableNav,
    pub sort: ListenerSort,
    /// Indices into the snapshot's sockets, filtered and sorted.
    pub rows: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct ConnectionsView {
    pub filter: Input,
    pub nav: TableNav,
    /// Indices into the snapshot's sockets, filtered.
    pub rows: Vec<usize>,
}

#[derive(Debug, Default)]
pub struct MapView {
    pub zoom: usize,
    pub cursor: u16,
}

#[derive(Debug, Default)]
pub struct WhyView {
    /// The port field.
    pub input: Input,
    /// The bind being diagnosed (what the collector watches).
    pub request: Option<BindRequest>,
    /// Why the last text typed was not a bind request.
    pub error: Option<String>,
    /// Lines scrolled (its remedies run past 24 lines).
    pub scroll: u16,
    /// The cause K and D act on (index into the diagnosis's causes).
    pub cause: usize,
}

/// Sizes only known once a frame is laid out, written by the draw and read by the next key's
/// update (as ratatui's `TableState` carries its offset back). This is the one exception to
/// "draw only reads"; each value is a plain measurement, never state a key depends on otherwise.
#[derive(Debug)]
pub struct Measured {
    /// Listener rows that fit on screen (0: not drawn yet), for page moves.
    pub listeners_page: Cell<usize>,
    /// Connection rows that fit on screen (0: not drawn yet).
    pub conns_page: Cell<usize>,
    /// Port map cells per row, for up/down moves.
    pub map_cols: Cell<usize>,
    /// Port map cells on screen (zoom level 0 divides the space by it).
    pub map_cells: Cell<usize>,
    /// How far the open help or detail pane can scroll.
    pub overlay_max_scroll: Cell<u16>,
    /// Rows the selected copyable block of a dialog was given.
    pub block_rows: Cell<u16>,
}

impl Default for Measured {
    fn default() -> Self {
        Measured {
            listeners_page: Cell::new(0),
            conns_page: Cell::new(0),
            map_cols: Cell::new(64),
            map_cells: Cell::new(1024),
            overlay_max_scroll: Cell::new(u16::MAX),
            block_rows: Cell::new(1),
        }
    }
}
