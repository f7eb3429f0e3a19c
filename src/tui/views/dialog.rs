//! Dialogs for actions: the confirmation (its text comes from the action; `y` acts, anything
//! else is No), the outcome, the busy notice, and the reservation planner.

use super::copyblock;
use crate::action::outcome::{ActionOutcome, Logged, Status};
use crate::escape::escape_line;
use crate::model::text::{Block as TextBlock, Described, Kind, Line as TextLine};
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
    crate::tui::u16_sat(lines.iter().map(|l| l.width().max(1).div_ceil(inner)).sum())
}

/// A cleared, centred popup tall enough for `rows` of text (clamped to the screen).
fn popup(f: &mut Frame, rows: u16) -> Rect {
    let area = centered(f.area(), WIDTH, rows.saturating_add(2));
    f.render_widget(Clear, area);
    area
}

fn block<'a>(title: &str, style: Style) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(style)
        .title(Span::styled(
            format!(" {title} "),
            style.add_modifier(Modifier::BOLD),
        ))
}

/// A typed line's style: by what its producer says it is, never by its text.
fn styled(theme: &Theme, l: &TextLine) -> Line<'static> {
    let style = match l.kind {
        Kind::Heading => Style::new().add_modifier(Modifier::BOLD),
        Kind::Warning => theme.warn(),
        Kind::Command => theme.key(),
        // A safeguard is read as carefully as the rest: not dimmed.
        Kind::Note | Kind::Plain => Style::new(),
    };
    Line::from(Span::styled(escape_line(&l.text).into_owned(), style))
}

/// Draws `lines` (wrapped), then the copyable `blocks` (never wrapped) and their key hint, and
/// last the `footer` rows, in a popup titled `title`.
fn with_blocks(
    f: &mut Frame,
    app: &App,
    theme: &Theme,
    (title, style): (String, Style),
    lines: Vec<Line<'static>>,
    blocks: &[TextBlock],
    footer: Vec<Line<'static>>,
) {
    let hint = (!blocks.is_empty()).then(|| copyblock::hint(app, theme, blocks));
    let text_rows = wrapped_rows(f, &lines);
    let block_rows = copyblock::wanted_rows(blocks) + u16::from(hint.is_some());
    let foot_rows = crate::tui::u16_sat(footer.len());
    let area = popup(
        f,
        text_rows
            .saturating_add(block_rows)
            .saturating_add(foot_rows),
    );
    f.render_widget(block(&title, style), area);
    let inner = Rect {
        x: area.x + 1,
        y: area.y + 1,
        width: area.width.saturating_sub(2),
        height: area.height.saturating_sub(2),
    };
    // The footer always shows; the blocks keep at least their labels and a row; the wrapped
    // text takes what is left (scrolled off at its end, as before).
    let foot_h = foot_rows.min(inner.height);
    let rest = inner.height - foot_h;
    let min_blocks = if blocks.is_empty() {
        0
    } else {
        crate::tui::u16_sat(blocks.len() + 1 + usize::from(hint.is_some())).min(rest)
    };
    let text_h = text_rows.min(rest - min_blocks);
    let blocks_h = rest - text_h;
    let text_area = Rect {
        height: text_h,
        ..inner
    };
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), text_area);
    if let Some(hint) = hint {
        let b_area = Rect {
            y: inner.y + text_h,
            height: blocks_h.saturating_sub(1),
            ..inner
        };
        copyblock::render(f, app, theme, blocks, b_area);
        let h_area = Rect {
            y: inner.y + text_h + blocks_h.saturating_sub(1),
            height: blocks_h.min(1),
            ..inner
        };
        f.render_widget(Paragraph::new(hint), h_area);
    }
    let foot = Rect {
        y: inner.y + rest,
        height: foot_h,
        ..inner
    };
    f.render_widget(Paragraph::new(footer), foot);
}

pub fn confirm(
    f: &mut Frame,
    app: &App,
    theme: &Theme,
    described: &Described,
    context: &[String],
    blocks: &[TextBlock],
) {
    let mut lines: Vec<Line> = context
        .iter()
        .map(|l| Line::from(Span::styled(escape_line(l).into_owned(), theme.dim())))
        .collect();
    if !context.is_empty() {
        lines.push(Line::from(""));
    }
    lines.extend(described.lines.iter().map(|l| styled(theme, l)));
    // Until a person has had a moment to read, y is not taken (and not offered).
    let yes = if app.confirm_armed() {
        vec![
            Span::styled(" y ", theme.bad().add_modifier(Modifier::REVERSED)),
            Span::raw(" yes, do it   "),
        ]
    } else {
        vec![Span::styled(" read first… ", theme.dim()), Span::raw("   ")]
    };
    let mut spans = yes;
    spans.extend([
        Span::styled(" N ", theme.selected()),
        Span::raw(" no (default: n, esc, enter)"),
    ]);
    let prompt = Line::from(spans);
    with_blocks(
        f,
        app,
        theme,
        (format!("{}?", described.title), theme.warn()),
        lines,
        blocks,
        vec![Line::from(""), prompt],
    );
}

/// Text to read and copy: its lines, its blocks, and how to close it.
pub fn text(
    f: &mut Frame,
    app: &App,
    theme: &Theme,
    title: &str,
    lines: &[TextLine],
    blocks: &[TextBlock],
) {
    with_blocks(
        f,
        app,
        theme,
        (title.to_string(), theme.title()),
        lines.iter().map(|l| styled(theme, l)).collect(),
        blocks,
        vec![
            Line::from(""),
            Line::from(Span::styled("esc or enter closes", theme.dim())),
        ],
    );
}

pub fn busy(f: &mut Frame, theme: &Theme, title: &str) {
    let area = popup(f, 1);
    f.render_widget(
        Paragraph::new(format!("{title}: working…")).block(block("Working", theme.title())),
        area,
    );
}

pub fn outcome(f: &mut Frame, app: &App, theme: &Theme, o: &ActionOutcome) {
    let style = if o.ok() { theme.good() } else { theme.bad() };
    let lines: Vec<Line> = o.lines.iter().map(|l| styled(theme, l)).collect();
    let closing = match &o.logged {
        Logged::Yes(path) => Line::from(Span::styled(
            format!("esc or enter closes · logged in {}", path.display()),
            theme.dim(),
        )),
        Logged::No(why) => Line::from(Span::styled(
            format!("esc or enter closes · NOT logged: {why}"),
            theme.warn(),
        )),
        Logged::NotAnAction => Line::from(Span::styled("esc or enter closes", theme.dim())),
    };
    let verdict = match o.status {
        Status::Done => "Done:",
        Status::NoEffect => "No effect:",
        Status::Refused | Status::Failed => "Not done:",
    };
    with_blocks(
        f,
        app,
        theme,
        (format!("{verdict} {}", o.title), style),
        lines,
        &o.blocks,
        vec![Line::from(""), closing],
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
        Err(e) => lines.push(Line::from(Span::styled(e.to_string(), theme.bad()))),
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
                "Stage a reservation (net.ipv4.ip_local_reserved_ports)",
                theme.title(),
            )),
        area,
    );
}
