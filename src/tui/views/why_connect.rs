//! The why view's `--connect DST[:PORT]`: connect()'s local ports toward a destination, from
//! the snapshot on screen (nothing to probe), with the same sentences as `why --connect`.

use crate::analyze::connect::{ConnectVerdict, toward_each};
use crate::analyze::connect_text::{self as text, Item};
use crate::model::Snapshot;
use crate::target::ConnectTarget;
use crate::tui::theme::Theme;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

pub fn lines(snap: &Snapshot, t: &ConnectTarget, theme: &Theme) -> Vec<Line<'static>> {
    let uses = toward_each(snap, &t.addrs, t.port);
    // The view draws from the table on screen and asks no process for its sockets.
    let first = t.addrs.first().map_or_else(String::new, |a| match t.port {
        Some(p) => crate::model::fmt_endpoint(*a, p),
        None => a.to_string(),
    });
    let notes = vec![format!(
        "this view counts from the socket tables only; `portscope why --connect {first}` also \
         reads the clients' own IP_LOCAL_PORT_RANGE"
    )];
    let mut out = Vec::new();
    for item in text::outline(&uses, snap, 3, notes) {
        let line = match item {
            Item::Verdict(u) => {
                let style = match u.verdict {
                    ConnectVerdict::Exhausted => theme.bad(),
                    ConnectVerdict::AtRisk => theme.warn(),
                    ConnectVerdict::Ok => theme.good(),
                };
                Line::from(vec![
                    Span::styled(
                        format!(" {} ", u.verdict.label()),
                        style.add_modifier(Modifier::REVERSED),
                    ),
                    Span::raw(format!(
                        "  connect() to {} from {}",
                        text::dest_words(u),
                        u.source
                    )),
                ])
            }
            Item::Summary(s) => Line::from(s),
            Item::Fact(f) => Line::from(Span::styled(f, theme.dim())),
            Item::Heading(h) => Line::from(Span::styled(h, theme.header())),
            Item::Remedy { n, text, command } => {
                out.push(Line::from(format!("  {n}. {text}")));
                // On a line of its own: a command wrapped into the text would not paste.
                match command {
                    Some(c) => Line::from(Span::styled(format!("     $ {c}"), theme.dim())),
                    None => continue,
                }
            }
            Item::More(n) => Line::from(Span::styled(format!("… and {n} more"), theme.dim())),
            Item::Note(n) => Line::from(Span::styled(format!("  - {n}"), theme.dim())),
            Item::Gap => Line::from(""),
        };
        out.push(line);
    }
    out
}
