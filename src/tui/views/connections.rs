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
    let busy = crate::tui::u16_sat(app.summary().by_port.len().min(3));
    let dests = &app.summary().destinations;
    // Borders, the states line and the outgoing line, then one line per busy port, then the
    // busiest destinations under a line of their own.
    // A quiet host gets one line (its busiest destination); one running short gets each of
    // the busiest under a heading.
    let short = dests
        .iter()
        .any(|u| u.verdict != crate::analyze::connect::ConnectVerdict::Ok);
    let dest_lines = match (dests.is_empty(), short) {
        (true, _) => 0,
        (false, false) => 1,
        (false, true) => crate::tui::u16_sat(1 + dests.len()),
    };
    let [summary, table_area] = Layout::vertical([
        Constraint::Length((4 + busy).saturating_add(dest_lines)),
        Constraint::Min(4),
    ])
    .areas(area);

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
            crate::human::count(p.connections, "connection"),
            p.established,
            p.time_wait,
            p.close_wait,
            if p.listening { "  (listener)" } else { "" }
        )));
    }
    if short {
        lines.push(Line::from(Span::styled(
            "local ports toward the busiest destinations (full: connect() fails):",
            theme.dim(),
        )));
        lines.extend(dests.iter().map(|u| destination_line("  ", u, theme)));
    } else if let Some(u) = dests.first() {
        lines.push(destination_line("busiest destination ", u, theme));
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

/// "  127.0.0.1:5432  [████████░░] 80/100 AT RISK  pgbouncer (pid 4711) 80"
fn destination_line(
    lead: &str,
    u: &crate::analyze::connect::PortUse,
    theme: &Theme,
) -> Line<'static> {
    use crate::analyze::connect::ConnectVerdict;
    const BAR: usize = 10;
    let used = u.usable - u.available.min(u.usable);
    // share() is within 0..=1, and a float cast saturates rather than wraps.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let filled = ((u.share() * BAR as f64).round() as usize).min(BAR);
    let style = match u.verdict {
        ConnectVerdict::Exhausted => theme.bad(),
        ConnectVerdict::AtRisk => theme.warn(),
        ConnectVerdict::Ok => theme.good(),
    };
    let who = u
        .holders
        .first()
        .map_or(String::new(), |h| format!("  {} {}", h.label, h.ports));
    Line::from(vec![
        // Rows under a heading line up; the one-line form needs no column.
        Span::raw(format!(
            "{lead}{:<w$} ",
            crate::model::fmt_endpoint(u.dest, u.dest_port),
            w = if lead.trim().is_empty() { 21 } else { 0 }
        )),
        // Only the used part is coloured: an empty bar must not read as a full green one.
        Span::raw("["),
        Span::styled("█".repeat(filled), style),
        Span::styled("·".repeat(BAR - filled), theme.dim()),
        Span::raw("]"),
        Span::raw(format!(" {used}/{} ", u.usable)),
        Span::styled(u.verdict.label().to_string(), style),
        Span::styled(who, theme.dim()),
    ])
}
