//! One file per view and dialog. Each renders from `App` (plain data) and never mutates it;
//! the one thing written back is what a frame measured (`App::measured`).

pub mod columns;
pub mod conn_table;
pub mod connections;
pub mod copyblock;
pub mod detail;
pub mod dialog;
pub mod failures;
pub mod help;
pub mod listeners;
pub mod portmap;
pub mod process;
pub mod why;
mod why_connect;

use super::app::TableNav;
use super::layout::scroll_window;
use crate::model::{Owner, Socket};
use std::cell::Cell;

/// The window of rows to draw for a table of `len` rows in `height` lines (minus the header),
/// from the offset `update` keeps (clamped to this height). The rows that fit are measured into
/// `page` for the next page move.
pub fn window<K>(nav: &TableNav<K>, page: &Cell<usize>, len: usize, height: u16) -> (usize, usize) {
    let visible = usize::from(height.saturating_sub(3)).max(1); // borders and header
    page.set(visible);
    let off = scroll_window(nav.selected, nav.offset, visible, len);
    (off, (off + visible).min(len))
}

/// "nginx", "nginx +2" for shared sockets, or why there is no process.
pub fn owner_name(s: &Socket) -> String {
    if s.kernel_held {
        return "(kernel)".into();
    }
    match s.owners.first() {
        // The socket's own uid is known even when its process is not.
        None => format!("uid {} hidden", s.uid),
        Some(o) if s.owners.len() > 1 => format!("{} +{}", o.comm, s.owners.len() - 1),
        Some(o) => o.comm.to_string(),
    }
}

pub fn first_owner(s: &Socket) -> Option<&Owner> {
    s.owners.first().map(AsRef::as_ref)
}

/// "Port 8080 timeline" and its last changes, for the detail pane and the why view; nothing
/// when no change on the port was seen.
pub fn timeline_lines(
    app: &super::app::App,
    theme: &super::theme::Theme,
    port: u16,
) -> Vec<ratatui::text::Line<'static>> {
    use ratatui::text::{Line, Span};
    let entries = app.travel.timeline(port, 8);
    if entries.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![
        Line::from(""),
        Line::from(Span::styled(
            format!("Port {port} timeline ([ ] step through time)"),
            theme.header(),
        )),
    ];
    lines.extend(
        entries
            .into_iter()
            .map(|e| Line::from(Span::styled(format!("  {e}"), theme.dim()))),
    );
    lines
}
