//! The human form of a diagnosis: verdict, explanation, causes with counts and a few example
//! sockets, the plan, notes. A screenful for any host; `--all` lists every socket.

use super::wrap;
use crate::analyze::why::{Cause, Diagnosis, Remedy};
use crate::cli::snapshot_cmd::{hidden_labels, marks, owners_cell, user_cell};
use crate::model::Snapshot;

const MAX_CAUSES: usize = 6;
const EXAMPLES: usize = 2;

/// "$ command", or "change: ..." for a change to code or configuration (never after a `$`).
pub fn remedy_lines(o: &mut String, r: &Remedy, lead: &str) {
    o.push_str(&wrap(&r.text, 80, lead));
    let pad = " ".repeat(lead.chars().count());
    if let Some(c) = &r.change {
        o.push_str(&wrap(c, 80, &format!("{pad}change: ")));
    } else if !r.command.is_empty() {
        // A command is never wrapped: it must paste as one line.
        o.push_str(&format!("{pad}$ {}\n", r.command));
    }
    if let Some(w) = &r.warning {
        o.push_str(&wrap(w, 80, &format!("{pad}warning: ")));
    }
}

fn cause_lines(o: &mut String, i: usize, c: &Cause, d: &Diagnosis, snap: &Snapshot, all: bool) {
    let tag = if c.blocks { "blocks" } else { "not on its own" };
    o.push_str(&wrap(&c.summary, 80, &format!("  {}. [{tag}] ", i + 1)));
    let (mark, hidden) = hidden_labels(snap);
    let shown = if all { c.holders.len() } else { EXAMPLES };
    for &h in c.holders.iter().take(shown) {
        let s = &d.holders[h].socket;
        o.push_str(&format!(
            "       {} {} -> {}  {} {} (user {})\n",
            s.state.ss_name(),
            s.local(),
            s.remote(),
            owners_cell(s, hidden),
            marks(s, mark),
            user_cell(s)
        ));
    }
    if c.holders.len() > shown {
        o.push_str(&format!(
            "       ... and {} more (--all lists them)\n",
            c.holders.len() - shown
        ));
    }
}

pub fn render(
    d: &Diagnosis,
    snap: &Snapshot,
    all: bool,
    sample: Option<std::time::Duration>,
) -> String {
    let mut o = String::new();
    let on = crate::model::fmt_endpoint(d.addr, d.port);
    o.push_str(&format!(
        "{}  {} {on}{}\n",
        d.verdict.label(),
        d.proto,
        if d.at_risk {
            "  (at risk: ephemeral, unreserved)"
        } else {
            ""
        }
    ));
    o.push_str(&format!("{}\n\n", d.probe_summary()));
    o.push_str(&wrap(&d.explanation, 80, ""));
    for l in d
        .reuseport_groups
        .iter()
        .flat_map(|g| crate::analyze::why::group_lines(g, &crate::tui::human::duration))
    {
        let lead = match l.kind {
            crate::model::text::Kind::Warning => "warning: ",
            _ => "note: ",
        };
        o.push('\n');
        o.push_str(&wrap(&l.text, 80, lead));
    }
    let socket_causes: Vec<&Cause> = d.causes.iter().filter(|c| c.count > 0).collect();
    if !socket_causes.is_empty() {
        o.push_str(&format!(
            "\nIn the way: {} socket{} in {} cause{}\n",
            d.holders.len(),
            if d.holders.len() == 1 { "" } else { "s" },
            socket_causes.len(),
            if socket_causes.len() == 1 { "" } else { "s" }
        ));
        let limit = if all { usize::MAX } else { MAX_CAUSES };
        for (i, c) in socket_causes.iter().enumerate().take(limit) {
            cause_lines(&mut o, i, c, d, snap, all);
        }
        if socket_causes.len() > limit {
            o.push_str(&format!(
                "  ... and {} more causes (--all lists them)\n",
                socket_causes.len() - limit
            ));
        }
    }
    o.push_str(&super::why_process::render(d, all, sample));
    if !d.plan.is_empty() {
        o.push_str("\nPlan: what frees the port, in order (portscope fix runs it)\n");
        for (i, r) in d.plan.iter().enumerate() {
            remedy_lines(&mut o, r, &format!("  {}. ", i + 1));
        }
    } else if !d.remedies.is_empty() {
        o.push_str("\nWhat to do\n");
        for (i, r) in d.remedies.iter().enumerate() {
            remedy_lines(&mut o, r, &format!("  {}. ", i + 1));
        }
    }
    let others: Vec<&Remedy> = d
        .causes
        .iter()
        .filter(|c| c.blocks)
        .flat_map(|c| c.remedies.iter())
        .filter(|r| {
            !d.plan
                .iter()
                .any(|p| p.action == r.action && p.command == r.command)
        })
        .take(if all { usize::MAX } else { 3 })
        .collect();
    if !d.plan.is_empty() && !others.is_empty() {
        o.push_str("\nOr instead\n");
        for r in others {
            remedy_lines(&mut o, r, "  - ");
        }
    }
    if !d.notes.is_empty() {
        o.push_str("\nNotes\n");
        for n in &d.notes {
            o.push_str(&wrap(n, 80, "  - "));
        }
    }
    o
}
