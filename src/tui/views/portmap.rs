//! The whole 0-65535 port space at a glance: ephemeral range, reservations, listeners,
//! connections and conflicts, zoomable down to single ports.
// Grid sizes come from a u16 terminal area and cells map to ports (0..=65535), so the
// conversions between them cannot truncate.
#![allow(clippy::cast_possible_truncation)]

use crate::analyze::portmap::{PortClass, ports_per_cell};
use crate::tui::app::App;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use tui_input::Input;

const LABEL: u16 = 6;

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let (Some(snap), Some(map)) = (app.snapshot(), app.portmap()) else {
        f.render_widget(Paragraph::new("waiting for the first snapshot…"), area);
        return;
    };
    let block = Block::default().borders(Borders::ALL);
    let inner = block.inner(area);
    let [grid, info] = Layout::vertical([Constraint::Min(2), Constraint::Length(3)]).areas(inner);
    // What fits (possibly nothing, in a tiny frame), and at least one cell for navigation.
    let grid_cols = usize::from(grid.width.saturating_sub(LABEL));
    let grid_rows = usize::from(grid.height);
    let cols = grid_cols.max(1);
    let rows = grid_rows.max(1);
    let cells = cols * rows;
    app.measured.map_cols.set(cols);
    app.measured.map_cells.set(cells);
    let step = ports_per_cell(app.map.zoom, cells);
    let cursor_cell = u32::from(app.map.cursor) / step;
    let total_cells = 65536u32.div_ceil(step);
    // The window starts on a row boundary and keeps the cursor near the middle.
    let first_row = (cursor_cell / cols as u32).saturating_sub(rows as u32 / 2);
    let max_first_row = total_cells
        .div_ceil(cols as u32)
        .saturating_sub(rows as u32);
    let first_cell = first_row.min(max_first_row) * cols as u32;

    let title = format!(
        " Port map · {} · {} ",
        if step == 1 {
            "1 port per cell".to_string()
        } else {
            format!("{step} ports per cell")
        },
        if app.map.zoom == 0 {
            "whole space"
        } else {
            "zoomed (- out)"
        }
    );
    f.render_widget(block.title(Span::styled(title, theme.title())), area);

    let buf = f.buffer_mut();
    for r in 0..grid_rows {
        let row_first = first_cell + (r * cols) as u32;
        if row_first >= total_cells {
            break;
        }
        let y = grid.y + r as u16;
        let label = format!("{:>5} ", row_first * step);
        buf.set_stringn(grid.x, y, label, usize::from(grid.width), theme.dim());
        for c in 0..grid_cols {
            let cell = row_first + c as u32;
            if cell >= total_cells {
                break;
            }
            let lo = cell * step;
            let hi = (lo + step - 1).min(65535);
            let b = map.block(lo as u16, hi as u16);
            let dense = b.occupied * 4 >= b.ports;
            let (glyph, mut style) = theme.map_cell(b.base, b.top, dense);
            if cell == cursor_cell {
                style = theme
                    .selected()
                    .add_modifier(ratatui::style::Modifier::BOLD);
            }
            let x = grid.x + LABEL + c as u16;
            buf[(x, y)]
                .set_char(if cell == cursor_cell && glyph == ' ' {
                    '+'
                } else {
                    glyph
                })
                .set_style(style);
        }
    }

    // Legend, what is under the cursor, and the ranges in force as text.
    let lo = cursor_cell * step;
    let hi = (lo + step - 1).min(65535);
    let b = map.block(lo as u16, hi as u16);
    let mut legend: Vec<Span> = Vec::new();
    let node_ports = snap.node_port_range.map(|_| PortClass::NodePort);
    for c in [
        PortClass::Listener,
        PortClass::Conflict,
        PortClass::Outgoing,
        PortClass::Reserved,
    ]
    .into_iter()
    .chain(node_ports)
    .chain([PortClass::Ephemeral, PortClass::Free])
    {
        let (g, st) = match c {
            PortClass::Listener | PortClass::Conflict | PortClass::Outgoing => {
                theme.map_cell(PortClass::Free, Some(c), false)
            }
            base => theme.map_cell(base, None, false),
        };
        let g = if g == ' ' { '█' } else { g };
        let st = if g == '█' && theme.color {
            Style::new().fg(theme.class_color(c))
        } else {
            st
        };
        legend.push(Span::styled(g.to_string(), st));
        legend.push(Span::raw(format!(" {}  ", c.short())));
    }
    // Looked up in `update` (MapView::under); a range measured differently since (a resize
    // before the next message) names nobody rather than the wrong sockets.
    let under: &[usize] = if app.map.under_range == Some((lo, hi)) {
        &app.map.under
    } else {
        &[]
    };
    let holders: Vec<String> = under
        .iter()
        .filter_map(|&i| snap.sockets.get(i))
        .map(|s| {
            if s.is_listening() {
                format!("{} listens on {}", super::owner_name(s), s.local())
            } else {
                format!("{} {} → {}", super::owner_name(s), s.local(), s.remote())
            }
        })
        .collect();
    let here = if step == 1 {
        format!("port {lo}: {}", map.class(lo as u16).label())
    } else {
        format!("ports {lo}-{hi}: {} of {} occupied", b.occupied, b.ports)
    };
    let sys = &snap.sysctl;
    let (elo, ehi) = sys.ephemeral();
    let reserved = if sys.ip_local_reserved_ports.is_empty() {
        "none".to_string()
    } else {
        format!(
            "{} ({})",
            sys.ip_local_reserved_ports,
            crate::human::count(sys.ip_local_reserved_ports.len() as usize, "port")
        )
    };
    let lines = vec![
        Line::from(legend),
        Line::from(vec![
            Span::styled(here, theme.key()),
            Span::raw(if holders.is_empty() {
                String::new()
            } else {
                format!(" · {}", holders.join(", "))
            }),
        ]),
        Line::from(format!(
            "ephemeral {elo}-{ehi} ({}) · reserved {reserved} · unprivileged from {}",
            crate::human::count((u32::from(ehi) - u32::from(elo) + 1) as usize, "port"),
            sys.ip_unprivileged_port_start
        )),
    ];
    f.render_widget(Paragraph::new(lines), info);
}

pub fn render_goto(f: &mut Frame, input: &Input, theme: &Theme) {
    let area = centered(f.area(), 40, 3);
    f.render_widget(Clear, area);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Go to port (enter) ", theme.title()));
    f.render_widget(
        Paragraph::new(format!("{}▏", input.value())).block(block),
        area,
    );
}
