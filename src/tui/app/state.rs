//! Each view's own state, as a widget keeps its own: filter, cursor, sort and rows per table,
//! zoom and cursor for the map, the field and the chosen cause for why. And what a draw
//! measures, the one thing that flows back from rendering.

use super::conns::{ConnKey, ConnLine};
use crate::analyze::conn_groups::{Group, GroupBy, GroupKey};
use crate::analyze::conn_sort::SortKey;
use crate::filter::Query;
use crate::model::{Snapshot, Socket, SocketKey};
use std::cell::Cell;
use std::collections::HashSet;
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

    #[must_use]
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

/// A table's cursor, kept on the same row (a socket, or in grouped Connections a group) across
/// refreshes: `K` is what identifies a row.
#[derive(Debug)]
pub struct TableNav<K = SocketKey> {
    pub selected: usize,
    pub key: Option<K>,
    /// First visible row, moved by `update` to keep the cursor in view; a draw on a screen of
    /// another height clamps it for itself without writing it back.
    pub offset: usize,
}

impl<K> Default for TableNav<K> {
    fn default() -> Self {
        TableNav {
            selected: 0,
            key: None,
            offset: 0,
        }
    }
}

impl<K: PartialEq> TableNav<K> {
    /// Puts the cursor on row `row` (clamped) of `len` rows; `key_at` names a row.
    pub fn place(&mut self, row: usize, len: usize, key_at: impl Fn(usize) -> K, page: usize) {
        if len == 0 {
            self.selected = 0;
            self.key = None;
            self.offset = 0;
            return;
        }
        self.selected = row.min(len - 1);
        self.key = Some(key_at(self.selected));
        self.follow(len, page);
    }

    /// Keeps the cursor on its row: same identity if still there, else where `fallback` says
    /// (given the lost identity), else the same row clamped.
    pub fn relocate(
        &mut self,
        len: usize,
        key_at: impl Fn(usize) -> K,
        page: usize,
        fallback: impl FnOnce(&K) -> Option<usize>,
    ) {
        if let Some(key) = &self.key {
            if let Some(pos) = (0..len).position(|i| key_at(i) == *key) {
                self.selected = pos;
                self.follow(len, page);
                return;
            }
            if let Some(pos) = fallback(key) {
                self.place(pos, len, key_at, page);
                return;
            }
        }
        self.place(self.selected, len, key_at, page);
    }

    /// Scrolls the window so the cursor is in it. Before the first draw the page height is not
    /// known (0): the draw places the window then.
    fn follow(&mut self, len: usize, page: usize) {
        if page > 0 {
            self.offset = crate::tui::layout::scroll_window(self.selected, self.offset, page, len);
        }
    }
}

impl TableNav<SocketKey> {
    /// Puts the cursor on row `row` (clamped) of `rows`.
    pub fn set(&mut self, row: usize, rows: &[usize], snap: Option<&Snapshot>, page: usize) {
        match snap {
            Some(snap) => self.place(row, rows.len(), |r| snap.sockets[rows[r]].key(), page),
            None => {
                // No snapshot, no identities: only the row.
                self.selected = row.min(rows.len().saturating_sub(1));
                self.key = None;
            }
        }
    }

    /// Keeps the cursor on its socket: same identity if still there, else the same row clamped.
    pub fn restore(&mut self, rows: &[usize], snap: &Snapshot, page: usize) {
        self.relocate(rows.len(), |r| snap.sockets[rows[r]].key(), page, |_| None);
    }
}

/// A table's filter as typed and as understood: parsed once per edit. A term that does not
/// parse (a field half-typed, a misspelt one) is left out and named in `error`, so the table keeps
/// showing what the rest of the query selects instead of silently matching nothing.
#[derive(Debug, Default)]
pub struct ParsedFilter {
    /// The text `query` and `error` are about.
    text: String,
    pub query: Query,
    /// Why a term as typed is not understood (shown in the footer).
    pub error: Option<String>,
}

impl ParsedFilter {
    /// Parses `text` unless it is what was parsed last.
    pub fn update(&mut self, text: &str) {
        if text == self.text {
            return;
        }
        self.text = text.to_string();
        match Query::parse(text) {
            Ok(q) => {
                self.query = q;
                self.error = None;
            }
            Err(e) => {
                let good: Vec<&str> = text
                    .split_whitespace()
                    .filter(|t| Query::parse(t).is_ok())
                    .collect();
                self.query = Query::parse(&good.join(" ")).unwrap_or_default();
                self.error = Some(e.to_string());
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct ListenersView {
    pub filter: Input,
    pub parsed: ParsedFilter,
    pub nav: TableNav,
    pub sort: ListenerSort,
    /// Indices into the snapshot's sockets, filtered and sorted.
    pub rows: Vec<usize>,
    /// Whether a TCP listener among the rows has connections waiting to be accepted.
    pub queue_waiting: bool,
}

#[derive(Debug, Default)]
pub struct ConnectionsView {
    pub filter: Input,
    pub parsed: ParsedFilter,
    /// The cursor, on a socket or (grouped) on a group.
    pub nav: TableNav<ConnKey>,
    /// The column sorted by (`None`: the kernel's order), and whether reversed.
    pub sort: Option<SortKey>,
    pub descending: bool,
    /// What the rows are folded by (`None`: one row per socket).
    pub group: Option<GroupBy>,
    /// Groups unfolded to show their members.
    pub expanded: HashSet<GroupKey>,
    /// Indices into the snapshot's sockets, filtered and sorted.
    pub rows: Vec<usize>,
    /// The groups of `rows`, biggest first (empty when not grouped).
    pub groups: Vec<Group>,
    /// What is on screen, row by row.
    pub lines: Vec<ConnLine>,
}

#[derive(Debug, Default)]
pub struct MapView {
    pub zoom: usize,
    pub cursor: u16,
    /// Sockets in the cell under the cursor (indices into the snapshot, at most three), looked
    /// up in `update` on each move and new snapshot, for the ports `lo..=hi` they were found in.
    pub under: Vec<usize>,
    pub under_range: Option<(u32, u32)>,
}

/// Sockets the port map names under its cursor.
pub const MAP_HOLDERS_SHOWN: usize = 3;

#[derive(Debug, Default)]
pub struct WhyView {
    /// The port field.
    pub input: Input,
    /// `--connect DST[:PORT]` typed instead of a bind: the view shows connect()'s local ports
    /// toward it, from each snapshot (no probe to run).
    pub connect: Option<crate::target::ConnectTarget>,
    /// The bind being diagnosed (what the collector watches).
    pub request: Option<crate::ask::Question>,
    /// Why the last text typed was not a bind request.
    pub error: Option<String>,
    /// Lines scrolled (its remedies run past 24 lines).
    pub scroll: u16,
    /// The cause K and D act on (index into the diagnosis's causes).
    pub cause: usize,
    /// Context of the first holder processes (read by the runtime on request), in holder order.
    pub processes: Vec<crate::model::process_context::ProcessContext>,
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
