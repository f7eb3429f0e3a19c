//! Detail pane: one socket, the processes holding it, and everything else they hold.

use crate::human;
use crate::model::SocketKey;
use crate::tui::app::{App, DetailPane};
use crate::tui::clock::Clock;
use crate::tui::layout::centered;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub fn render(
    f: &mut Frame,
    app: &App,
    theme: &Theme,
    clock: &Clock,
    key: &SocketKey,
    pane: &DetailPane,
    scroll: u16,
) {
    let area = centered(f.area(), 100, 30);
    f.render_widget(Clear, area);
    let mut lines: Vec<Line> = Vec::new();
    match &pane.socket {
        None => lines.push(Line::from(Span::styled(
            "This socket is gone: it closed since the row was selected.",
            theme.warn(),
        ))),
        Some(s) => {
            lines.push(Line::from(vec![
                Span::styled(format!("{} {} ", s.proto, s.state.ss_name()), theme.key()),
                Span::raw(format!("{} → {}", s.local(), s.remote())),
            ]));
            let mut facts = vec![format!("inode {}", s.inode), format!("uid {}", s.uid)];
            // "auto" is explained with the row's marks below.
            if let Some(v) = s.v6only {
                facts.push(if v {
                    "IPv6 only".into()
                } else {
                    "dual-stack (covers IPv4)".into()
                });
            }
            if let Some(ms) = s.expires_ms {
                facts.push(format!(
                    "the kernel {} (then the port is free)",
                    human::frees_in(ms)
                ));
            }
            lines.push(Line::from(Span::styled(facts.join(" · "), theme.dim())));
            if s.proto == crate::model::Proto::Tcp && s.is_listening() {
                lines.extend(queue_lines(app, s, theme));
            }
            if s.is_listening() {
                lines.extend(reach_lines(pane, theme));
            }
            if s.kernel_held {
                lines.push(Line::from(
                    "Held by the kernel: no process to kill; it goes away by itself.",
                ));
            } else if s.owner_hidden {
                let user = crate::collect::users::user_name(s.uid);
                let text = if pane.hidden_by_permissions {
                    format!(
                        "Held by a process of uid {} ({user}) that portscope cannot see: other users' processes are hidden without root; sudo portscope shows it.",
                        s.uid
                    )
                } else {
                    format!(
                        "Held by a process of uid {} ({user}) that portscope did not find: it runs in another PID namespace or exited during the scan.",
                        s.uid
                    )
                };
                lines.push(Line::from(Span::styled(text, theme.warn())));
            }
            if !pane.marks.is_empty() {
                lines.push(Line::from(""));
                lines.push(Line::from(Span::styled(
                    "What the row's marks say",
                    theme.header(),
                )));
                // Wrapped here with a hanging indent, so each meaning reads as one item.
                let room = usize::from(area.width.saturating_sub(2)).saturating_sub(4);
                for m in &pane.marks {
                    let text = format!("{}: {}", m.name, m.meaning);
                    for (i, piece) in super::help::wrap(&text, room).into_iter().enumerate() {
                        let (lead, rest) = if i == 0 {
                            let name_len = m.name.chars().count() + 1;
                            let cut = piece
                                .char_indices()
                                .nth(name_len)
                                .map_or(piece.len(), |c| c.0);
                            let (a, b) = piece.split_at(cut);
                            (a.to_string(), b.to_string())
                        } else {
                            (String::new(), piece)
                        };
                        lines.push(Line::from(vec![
                            Span::raw(if i == 0 { "  " } else { "    " }),
                            Span::styled(lead, theme.key()),
                            Span::raw(rest),
                        ]));
                    }
                }
            }
            let inner_width = area.width.saturating_sub(2);
            for (n, o) in s.owners.iter().enumerate() {
                lines.push(Line::from(""));
                let ctx = pane
                    .processes
                    .iter()
                    .find(|c| c.pid == o.pid && c.start.ticks == o.start_time);
                match ctx {
                    Some(c) => lines.extend(super::process::lines(c, inner_width)),
                    None => {
                        lines.push(Line::from(vec![
                            Span::styled(o.label(), theme.title()),
                            Span::raw(format!("  user {} (uid {})", o.user, o.uid)),
                        ]));
                        lines.push(Line::from(format!("  command: {}", o.cmdline)));
                        lines.push(Line::from(format!(
                            "  started: {}",
                            human::started(o.start_time, clock)
                        )));
                        // A recording or a past moment has no live process to read.
                        if !app.replay && app.travel.at.is_none() {
                            lines.push(Line::from(Span::styled(
                                "  (reading fds, limits and parents…)",
                                theme.dim(),
                            )));
                        }
                    }
                }
                // With the context, its "managed" line names the unit or container.
                if ctx.is_none() {
                    if let Some(u) = &o.unit {
                        lines.push(Line::from(format!("  unit: {u}")));
                    }
                    if let Some(w) = &o.workload {
                        lines.push(Line::from(format!("  container: {}", w.label)));
                    } else if let Some(c) = &o.container {
                        lines.push(Line::from(format!("  container: {c}")));
                    }
                    if let Some(u) = &o.user_unit {
                        lines.push(Line::from(format!(
                            "  user unit: {} (uid {})",
                            u.unit, u.uid
                        )));
                    }
                }
                if let Some(p) = &s.published {
                    lines.push(Line::from(format!(
                        "  {} via {}",
                        p.describe(),
                        p.via.as_str()
                    )));
                }
                if let Some(held) = pane.held.get(n) {
                    let listening: Vec<String> = held
                        .iter()
                        .filter(|x| x.is_listening())
                        .map(|x| format!("{} {}", x.proto, x.local()))
                        .collect();
                    lines.push(Line::from(format!(
                        "  holds {}: {} listening{}{}",
                        human::count(held.len(), "socket"),
                        listening.len(),
                        if listening.is_empty() { "" } else { " on " },
                        listening.join(", ")
                    )));
                    for x in held.iter().filter(|x| !x.is_listening()).take(12) {
                        lines.push(Line::from(Span::styled(
                            format!(
                                "    {} {} {} → {}{}",
                                x.proto,
                                x.state.ss_name(),
                                x.local(),
                                x.remote(),
                                if x.autobound { "  auto" } else { "" }
                            ),
                            theme.dim(),
                        )));
                    }
                }
            }
        }
    }
    // The port's story (the key names it even when the socket is gone).
    lines.extend(super::timeline_lines(app, theme, key.local.1));
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        " Details (↑↓ scroll · q/esc close) ",
        theme.title(),
    ));
    // Wrapped height, so scrolling stops at the last line.
    let inner = usize::from(area.width.saturating_sub(2)).max(1);
    let height: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let max = crate::tui::u16_sat(height).saturating_sub(area.height.saturating_sub(2));
    app.measured.overlay_max_scroll.set(max);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(max), 0)),
        area,
    );
}

/// Queue values shown in the history line (the most recent).
const HISTORY_SHOWN: usize = 30;

/// The listener's accept queue over the ticks seen, and the verdict they give.
fn queue_lines(app: &App, s: &crate::model::Socket, theme: &Theme) -> Vec<Line<'static>> {
    use crate::analyze::listener_health::{Evidence, Health, QueueLook, judge};
    let looks = app.listen_history.of(s);
    let span_ms = match (looks.first(), looks.last()) {
        (Some(a), Some(b)) => u64::try_from(b.at.duration_since(a.at).as_millis()).unwrap_or(0),
        _ => 0,
    };
    let mut q: Vec<QueueLook> = looks
        .iter()
        .map(|l| QueueLook {
            queued: l.queued,
            backlog: l.backlog,
        })
        .collect();
    if q.is_empty() {
        q.push(QueueLook {
            queued: s.rx_queue,
            backlog: s.tx_queue,
        });
    }
    let h = judge(&Evidence {
        looks: q.clone(),
        span_ms,
        ..Evidence::default()
    });
    let style = match h.verdict {
        Health::Accepting => theme.dim(),
        _ => theme.warn(),
    };
    let shown: Vec<String> = q
        .iter()
        .skip(q.len().saturating_sub(HISTORY_SHOWN))
        .map(|l| l.queued.to_string())
        .collect();
    vec![
        Line::from(Span::styled(h.line_words(), style)),
        Line::from(Span::styled(
            format!(
                "accept queue per tick, oldest first (backlog {}): {}",
                h.backlog,
                shown.join(" ")
            ),
            theme.dim(),
        )),
    ]
}

/// Whether clients reach the listener: the verdict, the deciding rules, the notes.
fn reach_lines<'a>(pane: &DetailPane, theme: &Theme) -> Vec<Line<'a>> {
    // Nothing until the answer comes (a recording or a past moment never gets one).
    let Some(r) = &pane.reach else {
        return Vec::new();
    };
    let style = match r.verdict {
        crate::model::reach::ReachVerdict::Open => theme.dim(),
        _ => theme.warn(),
    };
    r.sentences()
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let shown = crate::escape::escape_line(&l).into_owned();
            if i == 0 {
                Line::from(Span::styled(shown, style))
            } else {
                Line::from(Span::raw(shown))
            }
        })
        .collect()
}
