//! Connections: counts per state and per busy local port, then the sockets themselves.

use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

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

    super::conn_table::render(f, table_area, app, theme, snap);
}
