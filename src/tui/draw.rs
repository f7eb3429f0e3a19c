//! The frame: header (views, namespace, frozen/error state), the current view, a status line
//! that says how fresh the data is and what could not be read, and key hints or input.

use super::app::{App, Modal, View};
pub use super::clock::Clock;
use super::keymap::Command;
use super::theme::Theme;
use super::views;
use crate::escape::escape_line;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

/// The smallest frame the views are laid out for; below it the screen says so (and what to do)
/// instead of drawing a view squeezed into nonsense.
pub const MIN_WIDTH: u16 = 20;
pub const MIN_HEIGHT: u16 = 6;

pub fn draw(f: &mut Frame, app: &App, theme: &Theme, now: &Clock) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        draw_too_small(f, app, theme);
        return;
    }
    draw_frame(f, app, theme, now);
}

/// The frame without the size check: every view and dialog clips to whatever it is given (tests
/// render it down to 0x0).
#[doc(hidden)]
pub fn draw_frame(f: &mut Frame, app: &App, theme: &Theme, now: &Clock) {
    let [header, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    draw_header(f, header, app, theme);
    match app.view {
        View::Listeners => views::listeners::render(f, body, app, theme),
        View::Connections => views::connections::render(f, body, app, theme),
        View::PortMap => views::portmap::render(f, body, app, theme),
        View::Why => views::why::render(f, body, app, theme),
        View::Failures => views::failures::render(f, body, app, theme),
    }
    if app.feed.stale() {
        // Last good data stays on screen, dimmed: visibly stale.
        f.buffer_mut()
            .set_style(body, Style::new().add_modifier(Modifier::DIM));
    }
    draw_status(f, status, app, theme, now);
    draw_footer(f, footer, app, theme);
    match app.modal() {
        Some(Modal::Help { scroll }) => views::help::render(f, app, theme, *scroll),
        Some(Modal::Detail { key, scroll, pane }) => {
            views::detail::render(f, app, theme, now, key, pane, *scroll);
        }
        Some(Modal::Goto(input)) => views::portmap::render_goto(f, input, theme),
        Some(Modal::Confirm {
            described,
            context,
            blocks,
            ..
        }) => views::dialog::confirm(f, app, theme, described, context, blocks),
        Some(Modal::Busy(title)) => views::dialog::busy(f, theme, title),
        Some(Modal::Outcome(o)) => views::dialog::outcome(f, app, theme, o),
        Some(Modal::Reserve(dialog)) => views::dialog::reserve(f, app, theme, dialog),
        Some(Modal::Text {
            title,
            lines,
            blocks,
        }) => views::dialog::text(f, app, theme, title, lines, blocks),
        None => {}
    }
}

fn draw_too_small(f: &mut Frame, app: &App, theme: &Theme) {
    let area = f.area();
    let mut text = format!(
        "terminal too small ({}x{}, need {MIN_WIDTH}x{MIN_HEIGHT})",
        area.width, area.height
    );
    // Keys still work: someone who cannot see a confirmation must know how to leave it.
    if matches!(app.modal(), Some(Modal::Confirm { .. })) {
        text.push_str(" · a confirmation is open: n cancels");
    }
    let quit = app.keymap.label(Command::Quit);
    if !quit.is_empty() {
        text.push_str(" · ");
        text.push_str(&quit);
        text.push_str(" quits");
    }
    f.render_widget(
        Paragraph::new(text)
            .style(theme.warn())
            .wrap(ratatui::widgets::Wrap { trim: true }),
        area,
    );
}

fn draw_header(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mut spans = vec![Span::styled(" portscope ", theme.title())];
    // Every tab keeps its number and a word at 60 columns: short words where the full ones
    // would be cut.
    let full: usize = 11 + View::ALL.iter().map(|v| v.title().len() + 4).sum::<usize>();
    let short = full + 10 > usize::from(area.width);
    for (i, v) in View::ALL.iter().enumerate() {
        let title = if short { v.short() } else { v.title() };
        let label = format!(" {} {} ", i + 1, title);
        if *v == app.view {
            spans.push(Span::styled(
                label,
                theme.selected().add_modifier(Modifier::BOLD),
            ));
        } else {
            spans.push(Span::raw(label));
        }
    }
    let mut right = Vec::new();
    if let Some(past) = app.travel.header() {
        right.push(Span::styled(
            past,
            theme.warn().add_modifier(Modifier::REVERSED),
        ));
    } else if app.feed.frozen {
        let waiting = if app.feed.pending.is_some() {
            " FROZEN: newer data waiting (space) "
        } else {
            " FROZEN (space) "
        };
        right.push(Span::styled(
            waiting,
            theme.warn().add_modifier(Modifier::REVERSED),
        ));
    }
    if app.replay {
        right.push(Span::styled(" REPLAY ", theme.warn()));
    }
    if let Some(t) = app.picker.title() {
        right.push(Span::styled(format!(" {t} "), theme.key()));
    } else if let Some(s) = app.snapshot()
        && !s.netns.is_own
    {
        right.push(Span::styled(
            format!(" {} ", crate::human::netns_words(&s.netns.target)),
            theme.key(),
        ));
    }
    let right_len: usize = right.iter().map(|s| s.content.chars().count()).sum();
    let left_len: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let gap = (area.width as usize).saturating_sub(left_len + right_len);
    spans.push(Span::raw(" ".repeat(gap)));
    spans.extend(right);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn human_ms(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.1} s", us as f64 / 1e6)
    } else {
        format!("{} ms", us.div_ceil(1000))
    }
}

/// "06:20:01 (3 s ago)" in local time where the zone is known.
fn taken(snap_at: jiff::Timestamp, now: &Clock) -> String {
    let zoned = snap_at.to_zoned(now.tz.clone());
    let age = (now.now.as_second() - snap_at.as_second()).max(0);
    let clock = zoned.strftime("%H:%M:%S").to_string();
    if age < 2 {
        clock
    } else {
        format!("{clock} ({age} s ago)")
    }
}

fn draw_status(f: &mut Frame, area: Rect, app: &App, theme: &Theme, now: &Clock) {
    let mut spans = Vec::new();
    if let Some(e) = &app.feed.error {
        spans.push(Span::styled(
            format!("collect failed: {}", escape_line(e)),
            theme.bad(),
        ));
        if app.feed.snap.is_some() {
            spans.push(Span::raw(" · showing the last good data"));
        }
    }
    if let Some(s) = app.snapshot() {
        if !spans.is_empty() {
            spans.push(Span::raw(" · "));
        }
        // A reading that found the same table moves the clock, not the data.
        let (at, took) = app
            .feed
            .rechecked
            .map_or((s.taken_at, s.stats.duration_us), |r| {
                (r.taken_at, r.duration_us)
            });
        spans.push(Span::raw(format!(
            "{} · took {} · {} · {}",
            taken(at, now),
            human_ms(took),
            s.source,
            crate::human::count(s.sockets.len(), "socket")
        )));
        // Between full refreshes the connections are older than the listeners: say by how much.
        // A rechecked table's connections are as old as the table itself.
        let conns_at = app
            .feed
            .conns_as_of
            .or_else(|| app.feed.rechecked.map(|_| s.taken_at));
        match &app.feed.live {
            Some(crate::watch::kept::Liveness::Kept(v)) => spans.extend(kept_spans(v, now, theme)),
            live => {
                if let Some(at) = conns_at {
                    let age = (now.now.as_second() - at.as_second()).max(0);
                    let why = match live {
                        Some(crate::watch::kept::Liveness::Off(why)) => {
                            format!(" (not live: {why})")
                        }
                        _ => String::new(),
                    };
                    spans.push(Span::styled(
                        format!(" · conns as of {age} s ago{why}"),
                        theme.dim(),
                    ));
                }
            }
        }
        if let Some(w) = status_warning(s) {
            spans.push(Span::raw(" · "));
            spans.push(Span::styled(w, theme.warn()));
        }
    } else if app.feed.error.is_none() {
        spans.push(Span::styled("taking the first snapshot…", theme.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Connections kept from kernel events: how long ago a dump last proved them, and whether
/// it ever found them wrong.
fn kept_spans(v: &crate::watch::kept::Verified, now: &Clock, theme: &Theme) -> Vec<Span<'static>> {
    let mut out = vec![Span::styled(
        match v.at {
            Some(at) => format!(
                " · conns live, verified {} s ago",
                (now.now.as_second() - at.as_second()).max(0)
            ),
            None => " · conns live".to_string(),
        },
        theme.dim(),
    )];
    if v.differences_total > 0 {
        out.push(Span::styled(
            format!(
                " · {} repaired",
                crate::human::count(
                    usize::try_from(v.differences_total).unwrap_or(usize::MAX),
                    "difference"
                )
            ),
            theme.warn(),
        ));
    }
    out
}

/// The one thing the status line must say about what is missing.
pub fn status_warning(s: &crate::model::Snapshot) -> Option<String> {
    if s.stats.processes_hidden > 0 && !s.stats.is_root {
        return Some(format!(
            "{} processes hidden: run as root to see owners",
            s.stats.processes_hidden
        ));
    }
    s.warnings.first().map(|w| escape_line(w).into_owned())
}

fn draw_footer(f: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = if app.filter_editing() {
        Line::from(vec![
            Span::styled("filter: ", theme.key()),
            Span::raw(escape_line(app.filter_text()).into_owned()),
            Span::styled("▏", theme.key()),
            match app.filter_error() {
                // The terms that parse are in force meanwhile.
                Some(e) => Span::styled(format!("   {}", escape_line(e)), theme.bad()),
                None => Span::styled("   enter keep · esc clear", theme.dim()),
            },
        ])
    } else if let Some(note) = &app.note {
        Line::from(Span::styled(escape_line(note).into_owned(), theme.warn()))
    } else {
        // Help and quit first: they must survive a narrow terminal.
        let mut hints = vec![
            (Command::Help, "help"),
            (Command::Quit, "quit"),
            (Command::NextView, "view"),
            (Command::Filter, "filter"),
            (
                Command::Freeze,
                if app.feed.frozen {
                    "unfreeze"
                } else {
                    "freeze"
                },
            ),
            (Command::Open, "details"),
        ];
        match app.view {
            View::Listeners => hints.extend([
                (Command::Sort, "sort"),
                (Command::Kill, "kill"),
                (Command::Reserve, "reserve"),
                (Command::ReserveAtRisk, "reserve at-risk"),
            ]),
            View::PortMap => {
                hints.retain(|(c, _)| !matches!(c, Command::Filter | Command::Open));
                hints.extend([
                    (Command::ZoomIn, "zoom"),
                    (Command::ZoomOut, "out"),
                    (Command::Goto, "go to port"),
                ]);
            }
            View::Why => {
                hints.retain(|(c, _)| !matches!(c, Command::Filter | Command::Open));
                hints.extend([
                    (Command::EditPort, "port"),
                    (Command::FixPlan, "fix"),
                    (Command::Kill, "kill"),
                    (Command::CloseConn, "close conn"),
                    (Command::Reserve, "reserve"),
                    (Command::CopyCommands, "commands"),
                ]);
            }
            View::Connections => hints.extend([
                (Command::Sort, "sort"),
                (Command::Group, "group"),
                (Command::Kill, "kill"),
                (Command::CloseConn, "close conn"),
            ]),
            View::Failures => {
                hints.retain(|(c, _)| !matches!(c, Command::Filter | Command::Freeze));
                for h in hints.iter_mut().filter(|(c, _)| *c == Command::Open) {
                    h.1 = "why then";
                }
            }
        }
        let mut spans = Vec::new();
        // The filter of the view on screen: each table keeps its own.
        if !app.filter_text().is_empty() {
            spans.push(Span::styled(
                format!("filter: {} ", escape_line(app.filter_text())),
                theme.warn(),
            ));
        }
        if let Some(e) = app.filter_error() {
            spans.push(Span::styled(format!("{} ", escape_line(e)), theme.bad()));
        }
        for (cmd, label) in hints {
            let keys = app.keymap.keys_for(cmd);
            let Some(k) = keys.first() else { continue };
            spans.push(Span::styled(k.to_string(), theme.key()));
            spans.push(Span::raw(format!(" {label}  ")));
        }
        Line::from(spans)
    };
    f.render_widget(Paragraph::new(line), area);
}
