//! Why: type a port and see the kernel's verdict, who is in the way and the remedies, refreshed
//! live (a TIME_WAIT counts down to "free").

use crate::analyze::why::{Role, Verdict};
use crate::tui::app::App;
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
    if app.why_editing {
        field.push(Span::styled(
            format!("{}▏", app.why_input.value()),
            theme.selected(),
        ));
        field.push(Span::styled(
            "  e.g. 8080 · 8080/udp · 127.0.0.1:8080 · [::1]:8080 — enter checks, esc cancels",
            theme.dim(),
        ));
    } else {
        let shown = app.why_request.map_or_else(
            || "(none)".to_string(),
            |r| format!("{}/{}", crate::model::fmt_endpoint(r.addr, r.port), r.proto),
        );
        field.push(Span::raw(shown));
        field.push(Span::styled(
            format!("  ({} to change)", app.keymap.label(Command::EditPort)),
            theme.dim(),
        ));
    }
    let mut head = vec![Line::from(field)];
    if let Some(e) = &app.why_error {
        head.push(Line::from(Span::styled(e.clone(), theme.bad())));
    }
    f.render_widget(Paragraph::new(head), input);

    let Some(d) = app.diagnosis.as_deref() else {
        let msg = if app.why_request.is_some() {
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
    let mut lines = vec![
        Line::from(vec![
            Span::styled(
                format!(" {} ", d.verdict.label()),
                verdict_style.add_modifier(Modifier::REVERSED),
            ),
            Span::raw("  "),
            Span::styled(d.probe_summary(), theme.dim()),
        ]),
        Line::from(""),
        Line::from(d.explanation.clone()),
    ];
    if !d.holders.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled("In the way", theme.header())));
        for h in d.holders.iter().take(8) {
            let s = &h.socket;
            let who = if s.kernel_held {
                match s.expires_ms {
                    Some(ms) => format!("kernel, frees in {} s", ms.div_ceil(1000)),
                    None => "kernel".into(),
                }
            } else {
                s.owners
                    .iter()
                    .map(|o| crate::analyze::why::describe_owner(o))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let role_style = match h.role {
                Role::Outgoing => theme.class_style(crate::analyze::portmap::PortClass::Outgoing),
                Role::Listener => theme.class_style(crate::analyze::portmap::PortClass::Listener),
                _ => theme.dim(),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<9}", h.role.name()), role_style),
                Span::raw(format!(
                    " {} {} → {}  ",
                    s.state.ss_name(),
                    s.local(),
                    s.remote()
                )),
                Span::raw(if who.is_empty() {
                    "(owner hidden: run as root)".into()
                } else {
                    who
                }),
            ]));
        }
        if d.holders.len() > 8 {
            lines.push(Line::from(format!("  … and {} more", d.holders.len() - 8)));
        }
    }
    if !d.remedies.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "What to do, safest first",
            theme.header(),
        )));
        for (i, r) in d.remedies.iter().enumerate() {
            lines.push(Line::from(format!("  {}. {}", i + 1, r.text)));
            lines.push(Line::from(Span::styled(
                format!("     $ {}", r.command),
                theme.key(),
            )));
        }
    }
    for n in &d.notes {
        lines.push(Line::from(Span::styled(format!("note: {n}"), theme.dim())));
    }
    lines.extend(super::timeline_lines(app, theme, d.port));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.why_scroll, 0)),
        body,
    );
}
