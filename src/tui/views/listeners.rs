//! Listeners: who listens where, and which ports are reserved, at risk or privileged.

use super::columns::{self, Col};
use super::{first_owner, owner_name, window};
use crate::analyze::portmap::PortClass;
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(snap) = app.snapshot() else {
        f.render_widget(Paragraph::new("waiting for the first snapshot…"), area);
        return;
    };
    let title = format!(
        " Listeners ({}{}) · sorted by {} ",
        app.listeners.rows.len(),
        if app.listeners.filter.value().is_empty() {
            ""
        } else {
            ", filtered"
        },
        app.listeners.sort.label()
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()));
    if app.listeners.rows.is_empty() {
        let msg = if app.listeners.filter.value().is_empty() {
            "no listening sockets in this namespace"
        } else {
            "no listener matches the filter (esc clears it)"
        };
        f.render_widget(Paragraph::new(msg).block(block), area);
        return;
    }
    let (from, to) = window(
        &app.listeners.nav,
        &app.measured.listeners_page,
        app.listeners.rows.len(),
        area.height,
    );
    let sys = &snap.sysctl;
    let multi = !snap.namespaces.is_empty();
    let shown = &app.listeners.rows[from..to];
    let addrs: Vec<String> = shown.iter().map(|&i| snap.sockets[i].local()).collect();
    let addr_min = addrs
        .iter()
        .map(|a| columns::min_width(a))
        .max()
        .unwrap_or(0);
    let addr_want = addrs
        .iter()
        .map(|a| a.chars().count() as u16)
        .max()
        .unwrap_or(0);
    let mut cols = Vec::with_capacity(8);
    if multi {
        cols.push(Col::new("netns", 12, 12, 7));
    }
    cols.extend([
        Col::new("proto", 5, 5, 6),
        Col::new("address:port", addr_min.max(12), addr_want.max(12), 10),
        Col::new("process", 8, 15, 9),
        Col::new("pid", 7, 7, 5),
        Col::new("user", 9, 9, 2),
        Col::new("flags", 13, 13, 4),
        // Accept queue against the effective backlog ("5/4"): what tells a full listener.
        Col::new("queue", 5, 9, 3),
        Col::new("unit/container", 8, 24, 3).fill(),
    ]);
    // An idle queue column ("0/512" on every row) says little: it gives its room to names when
    // the screen is too narrow for everything, and comes back as soon as a queue fills.
    let queue_at = cols.len() - 2;
    let waiting = app.listeners.rows.iter().any(|&i| {
        let s = &snap.sockets[i];
        s.proto == crate::model::Proto::Tcp && s.rx_queue > 0
    });
    let wanted: u32 = cols.iter().map(|c| u32::from(c.want) + 1).sum();
    let show_queue = waiting || wanted <= u32::from(area.width.saturating_sub(2));
    if !show_queue {
        cols.remove(queue_at);
    }
    if multi {
        // Room for the namespace: user and flags (the focus namespace's sysctls) go.
        cols.remove(6);
        cols.remove(5);
    }
    let (widths, header, kept) = columns::layout(&cols, area.width.saturating_sub(2));
    let addr_col = usize::from(multi) + 1;
    let addr_width = columns::fit(&cols, area.width.saturating_sub(2))[addr_col].unwrap_or(0);
    let rows: Vec<Row> = shown
        .iter()
        .zip(&addrs)
        .map(|(&i, addr)| {
            let s = &snap.sockets[i];
            let o = first_owner(s);
            let mut badges: Vec<Span> = Vec::new();
            let queue = crate::analyze::listener_health::QueueLook {
                queued: s.rx_queue,
                backlog: s.tx_queue,
            };
            let tcp = s.proto == crate::model::Proto::Tcp;
            // First: the one flag that says clients are being dropped right now.
            if tcp && queue.full() {
                badges.push(Span::styled(
                    "FULL ",
                    theme.class_style(PortClass::Conflict),
                ));
            }
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
                Cell::from(columns::shorten(addr, addr_width)),
                Cell::from(owner_name(s)),
                Cell::from(o.map_or(String::new(), |o| o.pid.to_string())),
                Cell::from(match o {
                    Some(o) => o.user.to_string(),
                    None if s.owner_hidden => crate::collect::owners::user_name(s.uid).to_string(),
                    None => String::new(),
                }),
                Cell::from(Line::from(badges)),
                match (tcp, queue.full()) {
                    (false, _) => Cell::from(""),
                    (true, false) => Cell::from(format!("{}/{}", queue.queued, queue.backlog)),
                    (true, true) => Cell::from(Span::styled(
                        format!("{}/{}", queue.queued, queue.backlog),
                        theme.class_style(PortClass::Conflict),
                    )),
                },
                Cell::from(match &s.published {
                    Some(p) => p.describe(),
                    None => o.and_then(crate::workload::place).unwrap_or_default(),
                }),
            ]);
            if !show_queue {
                cells.remove(queue_at);
            }
            if multi {
                cells.remove(6);
                cells.remove(5);
            }
            Row::new(columns::pick(cells, &kept))
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header()))
        .row_highlight_style(theme.selected())
        .block(block);
    let mut state = TableState::default().with_selected(Some(app.listeners.nav.selected - from));
    f.render_stateful_widget(table, area, &mut state);
}
