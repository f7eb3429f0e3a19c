//! Failures: the refused bind() and connect() calls, newest first, each with who was refused,
//! what it asked for and, in a word, why. Enter opens the whole answer as it was at that moment.

use crate::tui::app::{App, RecorderState};
use crate::tui::theme::Theme;
use crate::watch::failures::Refusal;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

/// The line under the title: where the refusals come from.
fn source_line<'a>(app: &App, theme: &Theme) -> Line<'a> {
    let f = &app.failures;
    let mut spans = match &f.state {
        RecorderState::NotStarted | RecorderState::Starting => {
            vec![Span::styled("starting the flight recorder…", theme.dim())]
        }
        RecorderState::Live { since, .. } => vec![Span::styled(
            format!(
                "live: every refused bind() and connect() on the host since {} (BPF)",
                crate::watch::text::clock(*since)
                    .split('.')
                    .next()
                    .unwrap_or_default()
            ),
            theme.good(),
        )],
        RecorderState::Log(path) => vec![Span::styled(
            format!(
                "from the recorder's log {}",
                crate::escape::escape_line(&path.to_string_lossy())
            ),
            theme.good(),
        )],
        RecorderState::Unavailable(why) => vec![Span::styled(
            crate::escape::escape_line(why).into_owned(),
            theme.warn(),
        )],
    };
    if f.lost > 0 {
        spans.push(Span::styled(
            format!("  · {} more the kernel could not deliver", f.lost),
            theme.bad(),
        ));
    }
    Line::from(spans)
}

fn asked(r: &Refusal) -> String {
    match &r.request {
        Some(q) => format!(
            "{} {}",
            q.proto.map_or("tcp/udp".to_string(), |p| p.to_string()),
            crate::model::Endpoint(q.address, q.port)
        ),
        None => "(not seen)".into(),
    }
}

fn caller(r: &Refusal) -> String {
    match &r.owner {
        Some(o) => format!("{}({})", o.comm, o.pid),
        None => format!("{}({}, gone)", r.comm, r.pid),
    }
}

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let v = &app.failures;
    let title = format!(" Failures ({}) · enter: why at that moment ", v.list.len());
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [top, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(inner);
    f.render_widget(Paragraph::new(source_line(app, theme)), top);
    if v.list.is_empty() {
        let msg = match v.state {
            RecorderState::Unavailable(_) => "",
            _ => "no refused bind() or connect() yet: they appear here as the kernel refuses them",
        };
        f.render_widget(Paragraph::new(msg), body);
        return;
    }
    // Two lines a refusal: what happened on the first, why on the second, each whole at any
    // width an address needs (IPv6 included), rather than columns too narrow for either.
    let page = usize::from(body.height / 2).max(1);
    let from = v.selected.saturating_sub(page - 1);
    let mut lines: Vec<Line> = Vec::new();
    for (i, r) in v.list.iter().enumerate().skip(from).take(page) {
        let time = crate::watch::text::clock(r.time);
        let time = time.split('.').next().unwrap_or_default().to_string();
        let mark = if i == v.selected {
            theme.selected()
        } else {
            ratatui::style::Style::default()
        };
        lines.push(
            Line::from(vec![
                Span::raw(format!("{time}  ")),
                Span::styled(format!("{} {}", r.call.as_str(), r.errno), theme.bad()),
                Span::raw(format!("  {}  ", asked(r))),
                Span::raw(caller(r)),
            ])
            .style(mark),
        );
        lines.push(
            Line::from(format!("          {}", crate::escape::escape_line(&r.why))).style(
                if i == v.selected {
                    theme.selected()
                } else {
                    theme.dim()
                },
            ),
        );
    }
    f.render_widget(Paragraph::new(lines), body);
}
