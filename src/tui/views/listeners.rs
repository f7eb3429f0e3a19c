//! Listeners: who listens where, and which ports are reserved, at risk or privileged.

use super::{first_owner, owner_name, window};
use crate::analyze::portmap::PortClass;
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(snap) = app.snapshot() else {
        f.render_widget(Paragraph::new("waiting for the first snapshot…"), area);
        return;
    };
    let title = format!(
        " Listeners ({}{}) · sorted by {} ",
        app.listeners.len(),
        if app.filter.value().is_empty() {
            ""
        } else {
            ", filtered"
        },
        app.sort.label()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()));
    if app.listeners.is_empty() {
        let msg = if app.filter.value().is_empty() {
            "no listening sockets in this namespace"
        } else {
            "no listener matches the filter (esc clears it)"
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    let (from, to) = window(&app.nav_listeners, app.listeners.len(), area.height);
    let sys = &snap.sysctl;
    let multi = !snap.namespaces.is_empty();
    let rows: Vec<Row> = app.listeners[from..to]
        .iter()
        .map(|&i| {
            let s = &snap.sockets[i];
            let o = first_owner(s);
            let mut badges: Vec<Span> = Vec::new();
            // The sysctls are the focus namespace's: say nothing about another's ports.
            let here = !multi || s.netns == snap.netns.inode;
            if !here {
            } else if sys.ip_local_reserved_ports.contains(s.local_port) {
                badges.push(Span::styled(
                    "reserved ",
                    theme.class_style(PortClass::Reserved),
                ));
            } else if sys.at_risk(s.local_port) {
                badges.push(Span::styled(
                    "AT RISK ",
                    theme.class_style(PortClass::Conflict),
                ));
            }
            if sys.privileged(s.local_port) {
                badges.push(Span::styled("priv ", theme.dim()));
            }
            if s.is_dual_stack() {
                badges.push(Span::styled("4+6", theme.dim()));
            }
            let mut cells = Vec::with_capacity(8);
            if multi {
                cells.push(Cell::from(crate::tui::netns_pick::label_of(snap, s)));
            }
            cells.extend([
                Cell::from(s.proto.as_str()),
                Cell::from(s.local()),
                Cell::from(owner_name(s)),
                Cell::from(o.map_or(String::new(), |o| o.pid.to_string())),
                Cell::from(match o {
                    Some(o) => o.user.to_string(),
                    None if s.owner_hidden => crate::collect::owners::user_name(s.uid).to_string(),
                    None => String::new(),
                }),
                Cell::from(Line::from(badges)),
                Cell::from(match &s.published {
                    Some(p) => p.describe(),
                    None => o.and_then(crate::workload::place).unwrap_or_default(),
                }),
            ]);
            if multi {
                // Room for the namespace: user and flags (the focus namespace's sysctls) go.
                cells.remove(6);
                cells.remove(5);
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = Vec::with_capacity(8);
    let mut header = Vec::with_capacity(8);
    if multi {
        widths.push(Constraint::Length(12));
        header.push("netns");
    }
    widths.extend([
        Constraint::Length(5),
        Constraint::Length(22),
        Constraint::Length(15),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(13),
        Constraint::Min(8),
    ]);
    header.extend([
        "proto",
        "address:port",
        "process",
        "pid",
        "user",
        "flags",
        "unit/container",
    ]);
    if multi {
        for v in [6, 5] {
            widths.remove(v);
            header.remove(v);
        }
    }
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header()))
        .row_highlight_style(theme.selected())
        .block(block);
    let mut state = TableState::default().with_selected(Some(app.nav_listeners.selected - from));
    f.render_stateful_widget(table, area, &mut state);
}
