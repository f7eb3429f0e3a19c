//! Why: type a port and see the kernel's verdict, who is in the way and the remedies, refreshed
//! live (a TIME_WAIT counts down to "free").

use crate::analyze::why::outline::{Item, Lead, Section, Shape, cause_tag, outline, verdict_words};
use crate::analyze::why::{Cause, CauseKind, Remedy, Verdict};
use crate::model::text::Kind;
use crate::tui::app::{App, WHY_SHOWN};
use crate::tui::keymap::Command;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub fn render(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Why can't it bind? ", theme.title()));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [input, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);

    let mut field = vec![Span::styled("port: ", theme.key())];
    if app.why_editing() {
        field.push(Span::styled(
            format!("{}▏", app.why.input.value()),
            theme.selected(),
        ));
        field.push(Span::styled(
            "  e.g. 8080 · 8080/udp · [::1]:8080 --v6only · 443 --user www-data --reuseport · --connect db:5432 — enter checks, esc cancels",
            theme.dim(),
        ));
    } else if let Some(t) = &app.why.connect {
        field.push(Span::raw(format!("--connect {}", t.words())));
        field.push(Span::styled(
            format!("  ({} to change)", app.keymap.label(Command::EditPort)),
            theme.dim(),
        ));
    } else {
        let shown = app.why.request.as_ref().map_or_else(
            || "(none)".to_string(),
            |q| {
                let both = if q.proto.is_none() {
                    " (tcp and udp)"
                } else {
                    ""
                };
                format!("{}{both}", q.words())
            },
        );
        field.push(Span::raw(shown));
        field.push(Span::styled(
            format!("  ({} to change)", app.keymap.label(Command::EditPort)),
            theme.dim(),
        ));
    }
    let mut head = vec![Line::from(field)];
    if let Some(e) = &app.why.error {
        head.push(Line::from(Span::styled(e.clone(), theme.bad())));
    }
    f.render_widget(Paragraph::new(head), input);
    if let (Some(t), Some(snap)) = (&app.why.connect, app.snapshot()) {
        let lines = super::why_connect::lines(snap, t, theme);
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((app.why.scroll, 0)),
            body,
        );
        return;
    }

    let Some(d) = app.feed.diagnosis.as_deref() else {
        let msg = if app.why.request.is_some() {
            "asking the kernel…"
        } else {
            "Type the port your service fails to bind. portscope asks the kernel (a throw-away bind, \
             plain and with SO_REUSEADDR), names every socket in the way and the safe fixes."
        };
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), body);
        return;
    };
    let verdict_style = match d.verdict {
        Verdict::Free if d.at_risk => theme.warn(),
        Verdict::Free => theme.good(),
        _ => theme.bad(),
    };
    let key = |c: Command| app.keymap.label(c);
    let shape = Shape {
        max_causes: usize::MAX,
        examples: 2,
        alternatives_of: Some(app.why.cause),
        max_alternatives: usize::MAX,
        duration: &crate::human::duration,
    };
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut selected_line = None;
    for item in outline(d, &shape) {
        match item {
            Item::Verdict => lines.push(Line::from(vec![
                Span::styled(
                    format!(" {} ", d.verdict.label()),
                    verdict_style.add_modifier(Modifier::REVERSED),
                ),
                Span::raw("  "),
                Span::raw(verdict_words(d)),
            ])),
            Item::Probe => lines.push(Line::from(Span::styled(d.probe_summary(), theme.dim()))),
            Item::Gap => lines.push(Line::from("")),
            Item::Text(t) => lines.push(Line::from(t.to_string())),
            Item::Said(l) => {
                let style = match l.kind {
                    Kind::Warning => theme.warn(),
                    _ => theme.dim(),
                };
                lines.push(Line::from(Span::styled(l.text, style)));
            }
            Item::Heading(section) => {
                let hint = match &section {
                    Section::InTheWay { .. } => format!(
                        "  ↑↓ picks one; {} and {} act on all of it",
                        key(Command::Kill),
                        key(Command::CloseConn)
                    ),
                    Section::Plan => format!(
                        "  press {} to run it (one confirmation)",
                        key(Command::FixPlan)
                    ),
                    _ => String::new(),
                };
                lines.push(Line::from(vec![
                    Span::styled(section.title(), theme.header()),
                    Span::styled(hint, theme.dim()),
                ]));
            }
            Item::Cause { index, cause } => {
                let sel = index == app.why.cause;
                if sel {
                    selected_line = Some(lines.len());
                }
                lines.push(cause_line(index, cause, sel, theme));
            }
            Item::Socket(h) => {
                let s = &d.holders[h].socket;
                lines.push(Line::from(Span::styled(
                    format!(
                        "       {} {} → {}",
                        s.state.ss_name(),
                        s.local(),
                        s.remote()
                    ),
                    theme.dim(),
                )));
            }
            Item::Health(l) => {
                let style = match l.kind {
                    Kind::Warning => theme.warn(),
                    _ => theme.dim(),
                };
                lines.push(Line::from(Span::styled(
                    format!("       {}", l.text),
                    style,
                )));
            }
            Item::More { n, causes } => lines.push(Line::from(Span::styled(
                format!(
                    "{}… and {n} more{}",
                    if causes { "  " } else { "       " },
                    if causes { " causes" } else { "" }
                ),
                theme.dim(),
            ))),
            Item::Processes => process_blocks(&mut lines, app, theme, body.width),
            Item::Remedy { lead, remedy } => {
                let lead = match lead {
                    Lead::Step(n) => format!("  {n}. "),
                    Lead::Bullet => "  - ".to_string(),
                };
                remedy_lines(&mut lines, &lead, remedy, app, theme, body.width);
            }
            Item::Note(n) => {
                lines.push(Line::from(Span::styled(format!("  - {n}"), theme.dim())));
            }
        }
    }
    // A newly picked cause starts from the top (why_move resets the scroll) and is scrolled
    // into view if it lies below; paging away from it is left alone. Lines are counted before
    // wrapping: close enough to follow it.
    let height = body.height.max(1) as usize;
    let mut scroll = app.why.scroll as usize;
    if let Some(sel) = selected_line
        && sel + 3 > scroll + height
        && scroll <= sel
    {
        scroll = (sel + 3).saturating_sub(height);
    }
    lines.extend(super::timeline_lines(app, theme, d.port));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((crate::tui::u16_sat(scroll), 0)),
        body,
    );
}

/// "▶ 1. [blocks] nginx (pid 4711) listens on 0.0.0.0:80", coloured by what holds the port.
fn cause_line(index: usize, c: &Cause, sel: bool, theme: &Theme) -> Line<'static> {
    let tag_style = if c.blocks { theme.bad() } else { theme.dim() };
    let style = match c.kind {
        CauseKind::Outgoing => theme.class_style(crate::analyze::portmap::PortClass::Outgoing),
        CauseKind::Listener => theme.class_style(crate::analyze::portmap::PortClass::Listener),
        _ => ratatui::style::Style::default(),
    };
    Line::from(vec![
        Span::styled(
            format!("{} {}. ", if sel { "▶" } else { " " }, index + 1),
            if sel { theme.selected() } else { theme.dim() },
        ),
        Span::styled(format!("[{}] ", cause_tag(c)), tag_style),
        Span::styled(
            c.summary.clone(),
            if sel {
                style.add_modifier(Modifier::BOLD)
            } else {
                style
            },
        ),
    ])
}

/// A remedy: its text, the key that runs it here, its command (clipped, never wrapped: `c`
/// shows every command whole) or the change to make, and what else it breaks.
fn remedy_lines(
    lines: &mut Vec<Line<'static>>,
    lead: &str,
    r: &Remedy,
    app: &App,
    theme: &Theme,
    width: u16,
) {
    let key = |c: Command| app.keymap.label(c);
    lines.push(Line::from(format!("{lead}{}", r.text)));
    let pad = " ".repeat(lead.chars().count());
    let mut how = Vec::new();
    let cmd = match r.key.as_deref() {
        Some("K") => Some(Command::Kill),
        Some("D") => Some(Command::CloseConn),
        Some("R") => Some(Command::Reserve),
        _ => None,
    };
    if let Some(cmd) = cmd {
        how.push(Span::styled(
            format!("{pad}press {}", key(cmd)),
            theme.key(),
        ));
    }
    let lead = if how.is_empty() {
        pad.clone()
    } else {
        "  · ".into()
    };
    if let Some(c) = &r.change {
        how.push(Span::styled(format!("{lead}change: {c}"), theme.warn()));
    } else if !r.command.is_empty() {
        // Pasted wrapped, a command is another command: what does not fit is clipped.
        let used: usize =
            how.iter().map(|s: &Span| s.width()).sum::<usize>() + lead.chars().count() + 2;
        let room = usize::from(width).saturating_sub(used);
        how.push(Span::styled(
            format!("{lead}$ {}", super::copyblock::clip(&r.command, 0, room)),
            theme.dim(),
        ));
    }
    if !how.is_empty() {
        lines.push(Line::from(how));
    }
    if let Some(w) = &r.warning {
        lines.push(Line::from(Span::styled(
            format!("{pad}warning: {}", crate::escape::escape_line(w)),
            theme.warn(),
        )));
    }
}

/// The holders' processes (the first [`WHY_SHOWN`]): who they are, what supervises them and how
/// close they are to their fd limit; same-named ones told apart by their command lines.
fn process_blocks(lines: &mut Vec<Line<'static>>, app: &App, theme: &Theme, width: u16) {
    if app.why.processes.is_empty() {
        return;
    }
    let total = app.why_owners().len();
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled(
        format!("Processes in the way: {total}"),
        theme.header(),
    )));
    for (i, c) in app.why.processes.iter().enumerate() {
        if i > 0 {
            lines.push(Line::from(""));
        }
        lines.extend(super::process::lines(c, width));
    }
    let shown = app.why.processes.len();
    // The rest were not read (bounded I/O); their sockets are listed with the causes above.
    let rest = total.saturating_sub(WHY_SHOWN.max(shown));
    if rest > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "… and {rest} more process{} (their sockets are listed above)",
                if rest == 1 { "" } else { "es" }
            ),
            theme.dim(),
        )));
    }
}
