//! The process behind a socket, for the detail pane and the why view: which one it is (command
//! line, user, start), what supervises it, and how close it is to trouble (fds against
//! RLIMIT_NOFILE, socket growth, a full accept queue, the namespace's ListenOverflows).
//!
//! Lines, not a widget: the caller places them. Each line fits `width` columns: values wrap
//! under their label (a command line keeps every argument, so same-named processes stay apart).

use crate::human;
use crate::model::process_context::{Level, ProcessContext};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// Label column: "  sockets  ".
const LABEL: usize = 11;
/// Lines a command line may take before it is cut ("…").
const CMDLINE_LINES: usize = 3;

pub fn lines(ctx: &ProcessContext, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width).max(LABEL + 10);
    let room = width - LABEL;
    let head = Style::default().add_modifier(Modifier::BOLD);
    let label = Style::default().add_modifier(Modifier::DIM);
    let mut out = vec![Line::from(Span::styled(
        cut(&format!("Process {} (pid {})", ctx.comm, ctx.pid), width),
        head,
    ))];
    let mut field = |name: &str, value: &str, style: Style, max_lines: usize| {
        for (i, part) in wrap(value, room, max_lines).into_iter().enumerate() {
            let l = if i == 0 { name } else { "" };
            out.push(Line::from(vec![
                Span::styled(format!("  {l:<width$}", width = LABEL - 2), label),
                Span::styled(part, style),
            ]));
        }
    };
    let plain = Style::default();
    field("command", &ctx.cmdline.shown(), plain, CMDLINE_LINES);
    field("user", &format!("{} (uid {})", ctx.user, ctx.uid), plain, 1);
    if let Some(state) = ctx.state_words() {
        let warn = Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD);
        field("state", state, warn, 2);
    }
    field("started", &ctx.start.words(human::duration), plain, 1);
    field("parents", &ctx.chain_words(false), plain, 2);
    field("managed", &ctx.supervisor.words(), plain, 1);
    if let Some(f) = &ctx.fds {
        let (note, style) = match f.level() {
            Level::Ok => ("", plain),
            Level::Warning => (
                "  warning: near the limit",
                Style::default()
                    .fg(Color::Yellow)
                    .add_modifier(Modifier::BOLD),
            ),
            Level::Critical => (
                "  critical: accept() fails soon",
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
        };
        let hard = match f.hard {
            Some(h) if f.soft != Some(h) => format!(", hard {h}"),
            _ => String::new(),
        };
        field("fds", &format!("{}{hard}{note}", f.words()), style, 2);
    }
    let mut socks = human::count(ctx.sockets.now, "socket");
    match ctx.sockets.growth_words() {
        Some(g) => _ = write!(socks, ", {g}"),
        None => socks.push_str(" (growth after the next refresh)"),
    }
    field("sockets", &socks, plain, 1);
    for l in &ctx.listeners {
        let queue = if l.backlog > 0 {
            format!("{} queued of {}", l.queued, l.backlog)
        } else {
            format!("{} queued", l.queued)
        };
        let (full, style) = if l.full() {
            (
                " (full: new connections dropped)",
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            )
        } else {
            ("", plain)
        };
        field(
            "listen",
            &format!(
                "{} {queue}{full}",
                crate::model::fmt_endpoint(l.addr, l.port)
            ),
            style,
            2,
        );
    }
    if let Some(s) = &ctx.listen_stats {
        let style = if s.overflows > 0 {
            Style::default().fg(Color::Yellow)
        } else {
            plain
        };
        field(
            "netns",
            &format!(
                "ListenOverflows {} · ListenDrops {} (whole namespace)",
                s.overflows, s.drops
            ),
            style,
            2,
        );
    }
    out
}

/// Greedy word wrap into at most `max` lines of `room` columns; a word longer than a line is
/// split; text past the last line ends in "…".
fn wrap(text: &str, room: usize, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = cur.chars().count();
            let sep = usize::from(used > 0);
            if used + sep + word.len() <= room {
                if sep == 1 {
                    cur.push(' ');
                }
                cur.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut cur));
                continue;
            }
            let rest = word.split_off(room);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max {
        lines.truncate(max);
        if let Some(last) = lines.last_mut() {
            *last = cut(&format!("{last} …"), room);
            if !last.ends_with('…') {
                last.pop();
                last.push('…');
            }
        }
    }
    lines
}

/// `text` in at most `width` columns, "…" where it was cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_every_word_and_marks_a_cut() {
        assert_eq!(wrap("a bb ccc", 4, 3), vec!["a bb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4, 3), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("abcdefghijklmn", 4, 2), vec!["abcd", "efg…"]);
        assert_eq!(wrap("", 4, 1), vec![""]);
        assert!(
            wrap("one two three four five", 9, 2)
                .iter()
                .all(|l| l.chars().count() <= 9)
        );
    }
}
