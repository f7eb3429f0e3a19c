//! Cursor moves: rows in the tables, cells in the port map, causes and lines in why.

use super::{App, View};
use crate::analyze::portmap::MAX_ZOOM;

impl App {
    pub(super) fn switch(&mut self, view: View) {
        self.view = view;
    }

    /// Puts the cursor of the table on screen on `row` (clamped).
    pub(super) fn set_row(&mut self, row: usize) {
        let snap = self.feed.snap.as_deref();
        match self.view {
            View::Listeners => {
                let page = self.measured.listeners_page.get();
                self.listeners
                    .nav
                    .set(row, &self.listeners.rows, snap, page);
            }
            View::Connections => {
                let page = self.measured.conns_page.get();
                self.conns.set_line(row, snap, page);
            }
            View::Failures => {
                let last = self.failures.list.len().saturating_sub(1);
                self.failures.selected = row.min(last);
            }
            View::PortMap | View::Why => {}
        }
    }

    fn selected_row(&self) -> usize {
        match self.view {
            View::Listeners => self.listeners.nav.selected,
            View::Connections => self.conns.nav.selected,
            View::Failures => self.failures.selected,
            View::PortMap | View::Why => 0,
        }
    }

    pub(super) fn move_by(&mut self, delta: isize) {
        match self.view {
            View::PortMap => {
                let stride = signed(self.measured.map_cols.get().max(1));
                self.map_move(delta * stride);
            }
            View::Listeners | View::Connections => {
                let cur = self.selected_row();
                self.set_row(cur.saturating_add_signed(delta));
            }
            View::Failures => self.failures.move_by(delta),
            View::Why => self.why_move(delta),
        }
    }

    pub(super) fn move_page(&mut self, dir: isize) {
        let cols = self.measured.map_cols.get().max(1);
        match self.view {
            View::PortMap => {
                let rows = signed((self.measured.map_cells.get() / cols).max(1));
                self.map_move(dir * rows * signed(cols));
            }
            View::Why => self.why_scroll_by(dir * 10),
            View::Listeners => {
                let page = signed(self.measured.listeners_page.get().max(1));
                self.move_by(dir * page);
            }
            View::Connections => {
                let page = signed(self.measured.conns_page.get().max(1));
                self.move_by(dir * page);
            }
            View::Failures => self.move_by(dir * 10),
        }
    }

    pub(super) fn move_to(&mut self, row: usize) {
        if self.view == View::PortMap {
            self.map.cursor = if row == 0 { 0 } else { u16::MAX };
        } else {
            self.set_row(row);
        }
    }

    /// The ports of the cell under the map's cursor, as the draw lays the map out.
    pub fn map_range(&self) -> (u32, u32) {
        let step = self.map_step();
        let lo = u32::from(self.map.cursor) / step * step;
        (lo, (lo + step - 1).min(65535))
    }

    /// Looks up the sockets under the map's cursor: listeners, and at one port per cell every
    /// socket there (so the draw only formats them).
    pub(super) fn map_lookup(&mut self) {
        let (lo, hi) = self.map_range();
        let step = hi - lo + 1;
        self.map.under = self.snapshot().map_or_else(Vec::new, |snap| {
            snap.sockets
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    (lo..=hi).contains(&u32::from(s.local_port)) && (s.is_listening() || step == 1)
                })
                .take(super::state::MAP_HOLDERS_SHOWN)
                .map(|(i, _)| i)
                .collect()
        });
        self.map.under_range = Some((lo, hi));
    }

    /// Whether the last draw measured the map differently from when its cursor's sockets were
    /// looked up (the first frame, a resize): the runtime then updates and draws again.
    pub fn map_stale(&self) -> bool {
        self.view == View::PortMap && self.map.under_range != Some(self.map_range())
    }

    /// Ports per cell at the current zoom.
    pub fn map_step(&self) -> u32 {
        crate::analyze::portmap::ports_per_cell(self.map.zoom, self.measured.map_cells.get())
    }

    pub(super) fn map_move(&mut self, cells: isize) {
        if self.view != View::PortMap {
            return;
        }
        let step = i64::from(self.map_step());
        let p = i64::from(self.map.cursor) + cells as i64 * step;
        self.map.cursor = u16::try_from(p.max(0)).unwrap_or(u16::MAX);
    }

    pub(super) fn zoom(&mut self, dir: isize) {
        if self.view != View::PortMap {
            return;
        }
        self.map.zoom = self.map.zoom.saturating_add_signed(dir).min(MAX_ZOOM);
    }
}

/// A count measured on screen as a signed step; no screen holds `isize::MAX` of anything.
fn signed(n: usize) -> isize {
    isize::try_from(n).unwrap_or(isize::MAX)
}
