//! Dialogs for actions: the confirmation (its text comes from the action; `y` acts, anything
//! else is No), the outcome, the busy notice, and the reservation planner.

use crate::action::PendingAction;
use crate::action::exec::{ActionOutcome, Logged, Status};
use crate::escape::escape_line;
use crate::tui::app::{App, ReserveDialog};
use crate::tui::layout::centered;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

const WIDTH: u16 = 96;

/// Rows `lines` take once wrapped inside a popup on this screen (borders excluded).
fn wrapped_rows(f: &Frame, lines: &[Line]) -> u16 {
    let inner = usize::from(WIDTH.min(f.area().width).saturating_sub(2)).max(1);
    lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner) as u16)
        .sum()
}

/// A cleared, centred popup tall enough for `rows` of text (clamped to the screen).
fn popup(f: &mut Frame, rows: u16) -> Rect {
    let area = centered(f.area(), WIDTH, rows.saturating_add(2));
    f.render_widget(Clear, area);
    area
}

/// Splits a popup into its text and a last row that always shows (the y/N prompt).
fn with_footer(area: Rect) -> (Rect, Rect) {
    let inner = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    let footer = Rect {
        y: inner.y + inner.height.saturating_sub(1),
        height: inner.height.min(1),
        ..inner
    };
    let body = Rect {
        height: inner.height.saturating_sub(1),
        ..inner
    };
    (body, footer)
}

fn block<'a>(title: String, style: Style) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(
            format!(" {title} "),
            style.add_modifier(Modifier::BOLD),
        ))
}

pub fn confirm(f: &mut Frame, theme: &Theme, action: &PendingAction, context: &[String]) {
    let (title, text) = action.describe();
    let mut lines: Vec<Line> = context
        .iter()
        .map(|l| Line::from(Span::styled(escape_line(l).into_owned(), theme.dim())))
        .collect();
    if !context.is_empty() {
        lines.push(Line::from(""));
    }
    for (i, l) in text.iter().enumerate() {
        let style = if i == 0 {
            Style::new().add_modifier(Modifier::BOLD)
        } else if l.trim_start().starts_with("warning") {
            theme.warn()
        } else {
            Style::new()
        };
        lines.push(Line::from(Span::styled(escape_line(l).into_owned(), style)));
    }
    let prompt = Line::from(vec![
        Span::styled(" y ", theme.bad().add_modifier(Modifier::REVERSED)),
        Span::raw(" yes, do it   "),
        Span::styled(" N ", theme.selected()),
        Span::raw(" no (default: n, esc, enter)"),
    ]);
    let rows = wrapped_rows(f, &lines) + 2;
    let area = popup(f, rows);
    f.render_widget(block(format!("{title}?"), theme.warn()), area);
    let (body, footer) = with_footer(area);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
    f.render_widget(Paragraph::new(prompt), footer);
}

pub fn busy(f: &mut Frame, theme: &Theme, title: &str) {
    let area = popup(f, 1);
    f.render_widget(
        Paragraph::new(format!("{title}: working…")).block(block("Working".into(), theme.title())),
        area,
    );
}

pub fn outcome(f: &mut Frame, theme: &Theme, o: &ActionOutcome) {
    let style = if o.ok() { theme.good() } else { theme.bad() };
    let mut lines: Vec<Line> = o
        .lines
        .iter()
        .map(|l| Line::from(escape_line(l).into_owned()))
        .collect();
    lines.push(Line::from(""));
    lines.push(match &o.logged {
        Logged::Yes(path) => Line::from(Span::styled(
            format!("esc or enter closes · logged in {}", path.display()),
            theme.dim(),
        )),
        Logged::No(why) => Line::from(Span::styled(
            format!("esc or enter closes · NOT logged: {why}"),
            theme.warn(),
        )),
        Logged::NotAnAction => Line::from(Span::styled("esc or enter closes", theme.dim())),
    });
    let area = popup(f, (lines.len() as u16 + 2).min(28));
    let verdict = match o.status {
        Status::Done => "Done:",
        Status::NoEffect => "No effect:",
        Status::Refused | Status::Failed => "Not done:",
    };
    let title = format!("{verdict} {}", o.title);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(title, style)),
        area,
    );
}

pub fn reserve(f: &mut Frame, app: &App, theme: &Theme, dialog: &ReserveDialog) {
    let input = &dialog.input;
    let mut lines = vec![
        Line::from(vec![
            Span::styled("ports to reserve: ", theme.key()),
            Span::styled(format!("{}▏", input.value()), theme.selected()),
        ]),
        Line::from(Span::styled(
            "  e.g. 8080,9000-9010 · merged with the current list · enter to confirm · esc cancels",
            theme.dim(),
        )),
        Line::from(""),
    ];
    match &dialog.preview {
        Err(e) => lines.push(Line::from(Span::styled(e.clone(), theme.bad()))),
        Ok(a) => {
            let p = &a.plan;
            let show = |s: &crate::portset::PortSet| {
                if s.is_empty() {
                    "(none)".to_string()
                } else {
                    s.to_string()
                }
            };
            lines.push(Line::from(format!("current   {}", show(&p.current))));
            lines.push(Line::from(vec![
                Span::raw("proposed  "),
                Span::styled(show(&p.proposed), theme.key()),
            ]));
            lines.push(Line::from(format!(
                "added     {}    removed {}",
                show(&p.added),
                show(&p.removed)
            )));
            let e = &p.ephemeral;
            lines.push(Line::from(format!(
                "ephemeral {}-{}: usable {} → {} of {} ports",
                e.range[0], e.range[1], e.usable_before, e.usable_after, e.size
            )));
            // Ports already reserved before this change are not news: show the added ones.
            for s in p
                .held
                .iter()
                .filter(|s| p.added.contains(s.local_port))
                .take(4)
            {
                lines.push(Line::from(Span::styled(
                    format!(
                        "held now (keeps it until it closes): {} {} {}",
                        s.proto,
                        s.local(),
                        super::owner_name(s)
                    ),
                    theme.warn(),
                )));
            }
            for r in &p.refusals {
                lines.push(Line::from(Span::styled(
                    format!("refused: {r}"),
                    theme.warn(),
                )));
            }
            for w in &p.warnings {
                lines.push(Line::from(Span::styled(
                    format!("warning: {w}"),
                    theme.warn(),
                )));
            }
            if let Some(why) = &app.actions.no_persist {
                lines.push(Line::from(Span::styled(
                    format!("not persisted: {why}"),
                    theme.warn(),
                )));
            }
            if !app.actions.is_root {
                lines.push(Line::from(Span::styled(
                    "not root: enter shows the commands and the Ansible task to run instead",
                    theme.warn(),
                )));
            }
        }
    }
    let area = popup(f, wrapped_rows(f, &lines));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block(
                "Stage a reservation (net.ipv4.ip_local_reserved_ports)".into(),
                theme.title(),
            )),
        area,
    );
}
