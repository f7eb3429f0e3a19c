//! The Connections table sorted by any column and folded into groups ("api · 8,000 conns"):
//! which rows are on screen, what identifies each across refreshes, and the keys that fold,
//! unfold, sort and group.

use super::{App, ConnectionsView, View};
use crate::analyze::conn_groups::{GroupBy, GroupKey, group};
use crate::analyze::conn_sort::{SortKey, sort_rows};
use crate::model::{Snapshot, SocketKey};

/// One row of the Connections table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnLine {
    /// A socket, not grouped (index into the snapshot's sockets).
    Socket(usize),
    /// A group (index into `ConnectionsView::groups`), folded or not.
    Group(usize),
    /// A socket shown under its unfolded group.
    Member { group: usize, socket: usize },
}

/// What the cursor is on, so it stays there across refreshes and re-sorting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnKey {
    Socket(SocketKey),
    Group(GroupKey),
}

/// The columns `s` cycles through, in the table's order; after the last, the kernel's order.
pub const SORT_CYCLE: [SortKey; 7] = [
    SortKey::Proto,
    SortKey::State,
    SortKey::Local,
    SortKey::Remote,
    SortKey::Mark,
    SortKey::Process,
    SortKey::Pid,
];

/// What the group key cycles through; after the last, one row per socket again.
pub const GROUP_CYCLE: [GroupBy; 4] = [
    GroupBy::Process,
    GroupBy::RemoteAddr,
    GroupBy::Remote,
    GroupBy::StatePort,
];

/// The next in `cycle` after `cur` (`None` before the first and after the last).
fn next_in<T: Copy + PartialEq>(cycle: &[T], cur: Option<T>) -> Option<T> {
    match cur {
        None => cycle.first().copied(),
        Some(c) => cycle
            .iter()
            .position(|x| *x == c)
            .and_then(|i| cycle.get(i + 1))
            .copied(),
    }
}

impl ConnectionsView {
    /// Sorts and groups the filtered `rows`, then lays out the lines.
    pub fn build(&mut self, snap: &Snapshot, mut rows: Vec<usize>, page: usize) {
        if let Some(key) = self.sort {
            sort_rows(&snap.sockets, &mut rows, key, self.descending);
        }
        self.groups = match self.group {
            Some(by) => group(&snap.sockets, &rows, by),
            None => Vec::new(),
        };
        self.rows = rows;
        self.lay_out(snap, page);
    }

    /// The lines from the groups and which are unfolded, with the cursor kept on its row (or,
    /// when its socket went into a folded group, on that group). O(rows).
    pub fn lay_out(&mut self, snap: &Snapshot, page: usize) {
        let mut lines = Vec::with_capacity(self.groups.len().max(self.rows.len()));
        if self.group.is_none() {
            lines.extend(self.rows.iter().map(|&i| ConnLine::Socket(i)));
        } else {
            for (g, grp) in self.groups.iter().enumerate() {
                lines.push(ConnLine::Group(g));
                if self.expanded.contains(&grp.key) {
                    lines.extend(
                        grp.members
                            .iter()
                            .map(|&socket| ConnLine::Member { group: g, socket }),
                    );
                }
            }
        }
        self.lines = lines;
        let (lines, groups) = (&self.lines, &self.groups);
        let key_at = |r: usize| key_of(lines[r], groups, snap);
        let fallback = |lost: &ConnKey| {
            let ConnKey::Socket(k) = lost else {
                return None;
            };
            let g = groups
                .iter()
                .position(|g| g.members.iter().any(|&i| snap.sockets[i].key() == *k))?;
            lines.iter().position(|l| *l == ConnLine::Group(g))
        };
        self.nav.relocate(lines.len(), key_at, page, fallback);
    }

    /// Puts the cursor on line `row` (clamped).
    pub fn set_line(&mut self, row: usize, snap: Option<&Snapshot>, page: usize) {
        let Some(snap) = snap else {
            self.nav.selected = row.min(self.lines.len().saturating_sub(1));
            return;
        };
        let (lines, groups) = (&self.lines, &self.groups);
        self.nav
            .place(row, lines.len(), |r| key_of(lines[r], groups, snap), page);
    }

    /// The line under the cursor.
    pub fn selected_line(&self) -> Option<ConnLine> {
        self.lines.get(self.nav.selected).copied()
    }
}

fn key_of(
    line: ConnLine,
    groups: &[crate::analyze::conn_groups::Group],
    snap: &Snapshot,
) -> ConnKey {
    match line {
        ConnLine::Socket(i) | ConnLine::Member { socket: i, .. } => {
            ConnKey::Socket(snap.sockets[i].key())
        }
        ConnLine::Group(g) => ConnKey::Group(groups[g].key.clone()),
    }
}

impl App {
    /// `s` in Connections: the next column (the kernel's order after the last).
    pub(super) fn cycle_conn_sort(&mut self) {
        self.conns.sort = next_in(&SORT_CYCLE, self.conns.sort);
        self.note = Some(match self.conns.sort {
            Some(k) => format!("sorted by {}", k.name()),
            None => "unsorted: the kernel's order".into(),
        });
        self.recompute();
    }

    /// Reverses the sort (sorting by state first when nothing is sorted yet).
    pub(super) fn reverse_conn_sort(&mut self) {
        if self.conns.sort.is_none() {
            self.conns.sort = Some(SortKey::State);
        }
        self.conns.descending = !self.conns.descending;
        self.recompute();
    }

    /// The next grouping. A cursor on a group moves to its first socket, which the new rows
    /// then find (or the group holding it).
    pub(super) fn cycle_conn_group(&mut self) {
        if let (Some(ConnLine::Group(g)), Some(snap)) =
            (self.conns.selected_line(), self.feed.snap.as_deref())
            && let Some(&first) = self.conns.groups.get(g).and_then(|g| g.members.first())
        {
            self.conns.nav.key = Some(ConnKey::Socket(snap.sockets[first].key()));
        }
        self.conns.group = next_in(&GROUP_CYCLE, self.conns.group);
        self.note = Some(match self.conns.group {
            Some(by) => format!("grouped by {} (enter unfolds a group)", group_words(by)),
            None => "one row per connection".into(),
        });
        self.recompute();
    }

    /// Unfolds (`Some(true)`), folds (`Some(false)`) or toggles (`None`, enter) the group under
    /// the cursor; on a member, folding folds its group and puts the cursor on it. Returns
    /// whether it did (false: the key means something else here, e.g. enter on a member opens
    /// its detail).
    pub(super) fn fold(&mut self, unfold: Option<bool>) -> bool {
        let (g, on_member) = match self.conns.selected_line() {
            Some(ConnLine::Group(g)) => (g, false),
            Some(ConnLine::Member { group, .. }) if unfold == Some(false) => (group, true),
            _ => return false,
        };
        let Some(key) = self.conns.groups.get(g).map(|g| g.key.clone()) else {
            return false;
        };
        let open = self.conns.expanded.contains(&key);
        let want = if on_member {
            false
        } else {
            unfold.unwrap_or(!open)
        };
        if want {
            self.conns.expanded.insert(key.clone());
        } else {
            self.conns.expanded.remove(&key);
        }
        self.conns.nav.key = Some(ConnKey::Group(key));
        if let Some(snap) = self.feed.snap.clone() {
            let page = self.measured.conns_page.get();
            self.conns.lay_out(&snap, page);
            if want && page > 0 {
                // Bring what was unfolded into view, the group line staying on screen (as
                // less scrolls to show a match).
                let at = self.conns.nav.selected;
                let members = self.conns.groups.get(g).map_or(0, |g| g.members.len());
                let end = at + 1 + members;
                if end > self.conns.nav.offset + page {
                    self.conns.nav.offset = at.max(end.saturating_sub(page));
                }
            }
        }
        true
    }

    /// Why an action key does nothing on a group row.
    pub(super) fn group_row_note(&self, what: &str) -> Option<String> {
        if self.view == View::Connections
            && matches!(self.conns.selected_line(), Some(ConnLine::Group(_)))
        {
            Some(format!(
                "{what} needs a single connection: {} unfolds the group, then pick one",
                self.keymap.label(crate::tui::keymap::Command::Open)
            ))
        } else {
            None
        }
    }
}

/// How the status line names a grouping.
pub fn group_words(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Process => "process",
        GroupBy::RemoteAddr => "remote host",
        GroupBy::Remote => "remote endpoint",
        GroupBy::StatePort => "state and local port",
    }
}
