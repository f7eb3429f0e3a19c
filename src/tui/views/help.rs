//! Help: generated from the key map, so every binding is documented.

use crate::tui::app::App;
use crate::tui::draw::centered;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn render(f: &mut Frame, app: &App, theme: &Theme, scroll: u16) {
    let area = centered(f.area(), 72, 40);
    f.render_widget(Clear, area);
    let mut lines: Vec<Line> = app
        .keymap
        .help_rows()
        .into_iter()
        .map(|(keys, _, help)| {
            Line::from(vec![
                Span::styled(format!(" {keys:<16}"), theme.key()),
                Span::raw(help),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        " Marks: auto = kernel-chosen port (outgoing) · kernel = no process (TIME_WAIT)",
        theme.dim(),
    )));
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        " Keys (↑↓ scroll · esc close) ",
        theme.title(),
    ));
    f.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}
