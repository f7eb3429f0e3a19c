//! Connections: counts per state and per busy local port, then the sockets themselves.

use super::columns::{self, Col};
use super::{owner_name, window};
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let Some(snap) = app.snapshot() else {
        f.render_widget(Paragraph::new("waiting for the first snapshot…"), area);
        return;
    };
    let busy = app.summary().by_port.len().min(3) as u16;
    // Borders, the states line and the outgoing line, then one line per busy port.
    let [summary, table_area] =
        Layout::vertical([Constraint::Length(4 + busy), Constraint::Min(4)]).areas(area);

    let mut states: Vec<Span> = Vec::new();
    for (st, n) in &app.summary().by_state {
        let style = match st {
            crate::model::State::TimeWait | crate::model::State::CloseWait if *n >= 1000 => {
                theme.bad()
            }
            _ => ratatui::style::Style::new(),
        };
        states.push(Span::styled(format!("{} {n}", st.ss_name()), style));
        states.push(Span::raw("  "));
    }
    let mut lines = vec![Line::from(states)];
    lines.push(Line::from(vec![
        Span::styled(
            format!("{} outgoing", app.summary().autobound),
            theme.class_style(crate::analyze::portmap::PortClass::Outgoing),
        ),
        Span::raw(if busy == 0 {
            " (kernel-chosen local port) · no service port has connections"
        } else {
            " (kernel-chosen local port) · busiest service ports:"
        }),
    ]));
    for p in app.summary().by_port.iter().take(busy as usize) {
        lines.push(Line::from(format!(
            "  {}/{:<5} {:>14}  {:>6} estab  {:>6} time-wait  {:>6} close-wait{}",
            p.proto.map_or("", |p| p.as_str()),
            p.port,
            crate::tui::human::count(p.connections, "connection"),
            p.established,
            p.time_wait,
            p.close_wait,
            if p.listening { "  (listener)" } else { "" }
        )));
    }
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" Connection states ", theme.title())),
        ),
        summary,
    );

    let title = format!(
        " Connections ({}{}) ",
        app.conns.rows.len(),
        if app.conns.filter.value().is_empty() {
            ""
        } else {
            ", filtered"
        }
    );
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()));
    if app.conns.rows.is_empty() {
        f.render_widget(Paragraph::new("no connections").block(block), table_area);
        return;
    }
    let (from, to) = window(
        &app.conns.nav,
        &app.measured.conns_page,
        app.conns.rows.len(),
        table_area.height,
    );
    let shown = &app.conns.rows[from..to];
    let ends: Vec<(String, String)> = shown
        .iter()
        .map(|&i| (snap.sockets[i].local(), snap.sockets[i].remote()))
        .collect();
    let need = |f: fn(&(String, String)) -> &String| {
        let min = ends.iter().map(|e| columns::min_width(f(e))).max();
        let want = ends.iter().map(|e| f(e).chars().count() as u16).max();
        (min.unwrap_or(0).max(5), want.unwrap_or(0).max(5))
    };
    let (local_min, local_want) = need(|e| &e.0);
    let (peer_min, peer_want) = need(|e| &e.1);
    // "frees in 46 s" where there is room.
    let mark_want = if shown.iter().any(|&i| snap.sockets[i].expires_ms.is_some()) {
        13
    } else {
        4
    };
    let cols = [
        Col::new("proto", 5, 5, 6),
        Col::new("state", 10, 10, 8),
        Col::new("local", local_min, local_want, 10),
        Col::new("peer", peer_min, peer_want, 10),
        Col::new("mark", 4, mark_want, 5),
        Col::new("process", 8, 15, 7).fill(),
        Col::new("pid", 7, 7, 4),
    ];
    let inner = table_area.width.saturating_sub(2);
    let (widths, header, kept) = columns::layout(&cols, inner);
    let fitted = columns::fit(&cols, inner);
    let (local_w, peer_w) = (fitted[2].unwrap_or(0), fitted[3].unwrap_or(0));
    let mark_w = fitted[4].unwrap_or(0);
    let rows: Vec<Row> = shown
        .iter()
        .zip(&ends)
        .map(|(&i, (local, peer))| {
            let s = &snap.sockets[i];
            let mark = if s.autobound {
                Span::styled(
                    "auto",
                    theme.class_style(crate::analyze::portmap::PortClass::Outgoing),
                )
            } else if let Some(ms) = s.expires_ms {
                // Narrow: the countdown alone ("46 s"), which the help explains.
                let text = crate::tui::human::frees_in(ms);
                let text = if text.chars().count() > usize::from(mark_w) {
                    text.trim_start_matches("frees in ").to_string()
                } else {
                    text
                };
                Span::styled(text, theme.dim())
            } else {
                Span::raw("")
            };
            let cells = vec![
                Cell::from(s.proto.as_str()),
                Cell::from(s.state.ss_name()),
                Cell::from(columns::shorten(local, local_w)),
                Cell::from(columns::shorten(peer, peer_w)),
                Cell::from(mark),
                Cell::from(owner_name(s)),
                Cell::from(
                    s.owners
                        .first()
                        .map_or(String::new(), |o| o.pid.to_string()),
                ),
            ];
            Row::new(columns::pick(cells, &kept))
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header()))
        .row_highlight_style(theme.selected())
        .block(block);
    let mut state = TableState::default().with_selected(Some(app.conns.nav.selected - from));
    f.render_stateful_widget(table, table_area, &mut state);
}
