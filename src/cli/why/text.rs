//! The human form of a diagnosis: verdict, explanation, causes with counts and a few example
//! sockets, the plan, notes. A screenful for any host; `--all` lists every socket.

use crate::analyze::why::outline::{Item, Lead, Section, Shape, cause_tag, outline, verdict_words};
use crate::analyze::why::{Diagnosis, Remedy};
use crate::cli::cells::{hidden_labels, marks, owners_cell, user_cell};
use crate::cli::wrap;
use crate::model::Snapshot;
use crate::model::text::Kind;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

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
        _ = writeln!(o, "{pad}$ {}", r.command);
    }
    if let Some(w) = &r.warning {
        o.push_str(&wrap(w, 80, &format!("{pad}warning: ")));
    }
}

/// An example socket of a cause: state, ends, owners, marks and user.
fn socket_line(o: &mut String, d: &Diagnosis, h: usize, snap: &Snapshot) {
    let (mark, hidden) = hidden_labels(snap);
    let s = &d.holders[h].socket;
    _ = writeln!(
        o,
        "       {} {} -> {}  {} {} (user {})",
        s.state.ss_name(),
        s.local(),
        s.remote(),
        owners_cell(s, hidden),
        marks(s, mark),
        user_cell(s)
    );
}

/// The outline of the answer as text: wrapped at 80 columns, commands never wrapped.
pub fn render(
    d: &Diagnosis,
    snap: &Snapshot,
    all: bool,
    sample: Option<std::time::Duration>,
) -> String {
    let shape = Shape {
        max_causes: if all { usize::MAX } else { MAX_CAUSES },
        examples: if all { usize::MAX } else { EXAMPLES },
        alternatives_of: None,
        max_alternatives: if all { usize::MAX } else { 3 },
        duration: &crate::human::duration,
    };
    let mut o = String::new();
    for item in outline(d, &shape) {
        match item {
            Item::Verdict => {
                _ = writeln!(o, "{}  {}", d.verdict.label(), verdict_words(d));
            }
            Item::Probe => _ = writeln!(o, "{}", d.probe_summary()),
            Item::Gap => o.push('\n'),
            Item::Text(t) => o.push_str(&wrap(t, 80, "")),
            Item::Said(l) => {
                let lead = match l.kind {
                    Kind::Warning => "warning: ",
                    _ => "note: ",
                };
                o.push_str(&wrap(&l.text, 80, lead));
            }
            Item::Heading(Section::Plan) => {
                _ = writeln!(o, "{} (portscope fix runs it)", Section::Plan.title());
            }
            Item::Heading(s) => _ = writeln!(o, "{}", s.title()),
            Item::Cause { index, cause } => o.push_str(&wrap(
                &cause.summary,
                80,
                &format!("  {}. [{}] ", index + 1, cause_tag(cause)),
            )),
            Item::Socket(h) => socket_line(&mut o, d, h, snap),
            Item::Health(l) => o.push_str(&wrap(&l.text, 80, "       ")),
            Item::More { n, causes: false } => {
                _ = writeln!(o, "       ... and {n} more (--all lists them)");
            }
            Item::More { n, causes: true } => {
                _ = writeln!(o, "  ... and {n} more causes (--all lists them)");
            }
            Item::Processes => o.push_str(&super::process::render(d, all, sample)),
            Item::Remedy { lead, remedy } => {
                let lead = match lead {
                    Lead::Step(n) => format!("  {n}. "),
                    Lead::Bullet => "  - ".to_string(),
                };
                remedy_lines(&mut o, remedy, &lead);
            }
            Item::Note(n) => o.push_str(&wrap(n, 80, "  - ")),
        }
    }
    o
}
