//! The why view's `--connect DST[:PORT]`: connect()'s local ports toward a destination, from
//! the snapshot on screen (nothing to probe), with the same sentences as `why --connect`.

use crate::analyze::connect::{ConnectVerdict, toward};
use crate::analyze::connect_text as text;
use crate::model::Snapshot;
use crate::target::ConnectTarget;
use crate::tui::theme::Theme;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

pub fn lines(snap: &Snapshot, t: &ConnectTarget, theme: &Theme) -> Vec<Line<'static>> {
    let mut uses: Vec<_> = t
        .addrs
        .iter()
        .flat_map(|a| toward(snap, *a, t.port))
        .collect();
    uses.sort_by(|a, b| b.share().total_cmp(&a.share()));
    let mut out = Vec::new();
    for (i, u) in uses.iter().take(3).enumerate() {
        if i > 0 {
            out.push(Line::from(""));
        }
        let style = match u.verdict {
            ConnectVerdict::Exhausted => theme.bad(),
            ConnectVerdict::AtRisk => theme.warn(),
            ConnectVerdict::Ok => theme.good(),
        };
        out.push(Line::from(vec![
            Span::styled(
                format!(" {} ", u.verdict.label()),
                style.add_modifier(Modifier::REVERSED),
            ),
            Span::raw(format!(
                "  connect() to {} from {}",
                text::dest_words(u),
                u.source
            )),
        ]));
        out.push(Line::from(""));
        out.push(Line::from(text::summary(u)));
        out.push(Line::from(Span::styled(text::range_words(u), theme.dim())));
        if !u.by_state.is_empty() {
            let states: Vec<String> = u.by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
            out.push(Line::from(Span::styled(
                format!("by state: {}", states.join(", ")),
                theme.dim(),
            )));
        }
        out.push(Line::from(Span::styled(text::tw_words(u), theme.dim())));
        for h in &u.holders {
            out.push(Line::from(format!("  {:>6} ports  {}", h.ports, h.label)));
        }
        if u.verdict != ConnectVerdict::Ok {
            out.push(Line::from(""));
            out.push(Line::from(Span::styled("What to do", theme.header())));
            for (n, r) in text::remedies(u, snap).iter().enumerate() {
                match r.split_once(" $ ") {
                    Some((what, cmd)) => {
                        out.push(Line::from(format!("  {}. {what}", n + 1)));
                        out.push(Line::from(Span::styled(
                            format!("     $ {cmd}"),
                            theme.dim(),
                        )));
                    }
                    None => out.push(Line::from(format!("  {}. {r}", n + 1))),
                }
            }
        }
    }
    out.push(Line::from(""));
    out.push(Line::from(Span::styled("Notes", theme.header())));
    for n in text::limits() {
        out.push(Line::from(Span::styled(format!("  - {n}"), theme.dim())));
    }
    // The view draws from the table on screen and asks no process for its sockets.
    out.push(Line::from(Span::styled(
        format!(
            "  - this view counts from the socket tables only; `portscope why --connect {}` also \
             reads the clients' own IP_LOCAL_PORT_RANGE",
            t.addrs.first().map_or_else(String::new, |a| match t.port {
                Some(p) => crate::model::fmt_endpoint(*a, p),
                None => a.to_string(),
            })
        ),
        theme.dim(),
    )));
    out
}
