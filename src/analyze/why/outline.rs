//! A diagnosis laid out once, as semantic lines: what comes in which order, which causes and
//! remedies are shown, and every sentence about them. `why`'s text and the TUI's why view walk
//! the same outline and only style it (wrapping and `$` for the CLI, colours, key hints and the
//! selected cause for the TUI), so the two cannot say different things about one answer.

use super::{Cause, Diagnosis, Remedy};
use crate::analyze::listener_health::Health;
use crate::model::text::{Kind, Line};

/// Which parts a surface shows, and how many of them.
pub struct Shape<'a> {
    /// Causes listed before "... and N more causes".
    pub max_causes: usize,
    /// Example sockets listed under each cause.
    pub examples: usize,
    /// Alternatives offered under "Or instead": `Some(i)` those of cause `i` (the TUI's
    /// selected cause), `None` those of every blocking cause, at most `max_alternatives`.
    pub alternatives_of: Option<usize>,
    pub max_alternatives: usize,
    /// How a surface writes a duration in seconds ("3 h").
    pub duration: &'a dyn Fn(i64) -> String,
}

/// A heading that opens a part of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    /// "In the way: 3 sockets in 2 causes".
    InTheWay {
        sockets: usize,
        causes: usize,
    },
    /// The holders' processes (each surface reads and lays them out its own way).
    Processes,
    Plan,
    WhatToDo,
    /// `Some(i)`: alternatives for cause `i` (0-based).
    OrInstead(Option<usize>),
    Notes,
}

impl Section {
    pub fn title(&self) -> String {
        match self {
            Section::InTheWay { sockets: 0, .. } => "In the way".into(),
            Section::InTheWay { sockets, causes } => format!(
                "In the way: {sockets} socket{} in {causes} cause{}",
                plural(*sockets),
                plural(*causes)
            ),
            Section::Processes => "Processes".into(),
            Section::Plan => "Plan: what frees the port, in order".into(),
            Section::WhatToDo => "What to do".into(),
            Section::OrInstead(None) => "Or instead".into(),
            Section::OrInstead(Some(i)) => format!("Or instead, for cause {}", i + 1),
            Section::Notes => "Notes".into(),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// How a remedy is introduced: numbered in the plan, a bullet among alternatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lead {
    Step(usize),
    Bullet,
}

/// One semantic line of the answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'d> {
    /// The verdict with what it is about: "IN USE  tcp 127.0.0.1:8080".
    Verdict,
    /// How the kernel was asked ("kernel probe: bind EADDRINUSE; ...").
    Probe,
    /// A paragraph (the explanation).
    Text(&'d str),
    /// A fact of the answer: a warning to weigh or a note (SO_REUSEPORT groups).
    Said(Line),
    Heading(Section),
    /// A cause: its 0-based index into `Diagnosis::causes` and its number as shown.
    Cause {
        index: usize,
        cause: &'d Cause,
    },
    /// An example socket of a cause: an index into `Diagnosis::holders`.
    Socket(usize),
    /// A fact about a cause's listener (its health), indented under the cause like a socket.
    Health(Line),
    /// "... and N more" of a list cut short; `causes` when the list is of causes.
    More {
        n: usize,
        causes: bool,
    },
    /// Where the surface puts the holders' processes, which it reads itself.
    Processes,
    Remedy {
        lead: Lead,
        remedy: &'d Remedy,
    },
    Note(&'d str),
    /// A blank line between parts.
    Gap,
}

/// The answer, in order.
pub fn outline<'d>(d: &'d Diagnosis, shape: &Shape) -> Vec<Item<'d>> {
    let mut out = vec![
        Item::Verdict,
        Item::Probe,
        Item::Gap,
        Item::Text(&d.explanation),
    ];
    for g in &d.reuseport_groups {
        for l in super::group_lines(g, shape.duration) {
            out.push(Item::Gap);
            out.push(Item::Said(l));
        }
    }
    if !d.causes.is_empty() {
        let socket_causes = d.causes.iter().filter(|c| c.count > 0).count();
        out.push(Item::Gap);
        out.push(Item::Heading(Section::InTheWay {
            sockets: d.holders.len(),
            causes: socket_causes,
        }));
        for (index, cause) in d.causes.iter().enumerate().take(shape.max_causes) {
            out.push(Item::Cause { index, cause });
            // An accepting listener is the usual case: JSON carries its verdict, the text
            // speaks only of one that is slow or stuck.
            if let Some(h) = cause
                .listener_health
                .as_ref()
                .filter(|h| h.verdict != Health::Accepting)
            {
                out.push(Item::Health(Line::warning(h.line_words())));
                if h.attribution.is_some() {
                    out.push(Item::Health(Line::note(h.basis_words())));
                }
            }
            out.extend(
                cause
                    .holders
                    .iter()
                    .take(shape.examples)
                    .map(|&h| Item::Socket(h)),
            );
            if cause.holders.len() > shape.examples {
                out.push(Item::More {
                    n: cause.holders.len() - shape.examples,
                    causes: false,
                });
            }
        }
        if d.causes.len() > shape.max_causes {
            out.push(Item::More {
                n: d.causes.len() - shape.max_causes,
                causes: true,
            });
        }
    }
    out.push(Item::Processes);
    let (section, list) = if d.plan.is_empty() {
        (Section::WhatToDo, &d.remedies)
    } else {
        (Section::Plan, &d.plan)
    };
    if !list.is_empty() {
        out.push(Item::Gap);
        out.push(Item::Heading(section));
        out.extend(list.iter().enumerate().map(|(i, remedy)| Item::Remedy {
            lead: Lead::Step(i + 1),
            remedy,
        }));
    }
    let others = alternatives(d, shape);
    if !d.plan.is_empty() && !others.is_empty() {
        out.push(Item::Gap);
        out.push(Item::Heading(Section::OrInstead(shape.alternatives_of)));
        out.extend(others.into_iter().map(|remedy| Item::Remedy {
            lead: Lead::Bullet,
            remedy,
        }));
    }
    if !d.notes.is_empty() {
        out.push(Item::Gap);
        out.push(Item::Heading(Section::Notes));
        out.extend(d.notes.iter().map(|n| Item::Note(n)));
    }
    out
}

/// The remedies of the chosen causes that the plan does not already take.
fn alternatives<'d>(d: &'d Diagnosis, shape: &Shape) -> Vec<&'d Remedy> {
    let causes: Vec<&Cause> = match shape.alternatives_of {
        Some(i) => d.causes.get(i).into_iter().collect(),
        None => d.causes.iter().filter(|c| c.blocks).collect(),
    };
    let mut out: Vec<&Remedy> = Vec::new();
    for r in causes.iter().flat_map(|c| c.remedies.iter()) {
        let planned = d
            .plan
            .iter()
            .any(|p| p.action == r.action && p.command == r.command);
        let twice = out
            .iter()
            .any(|o| o.action == r.action && o.command == r.command);
        if !planned && !twice {
            out.push(r);
        }
    }
    out.truncate(shape.max_alternatives);
    out
}

/// "[blocks]" or "[not on its own]": whether the cause alone makes the bind fail.
pub fn cause_tag(c: &Cause) -> &'static str {
    if c.blocks { "blocks" } else { "not on its own" }
}

/// The verdict's headline words: "IN USE  tcp 127.0.0.1:8080  (at risk: ...)".
pub fn verdict_words(d: &Diagnosis) -> String {
    format!(
        "{} {}{}",
        d.proto,
        crate::model::fmt_endpoint(d.addr, d.port),
        if d.at_risk {
            "  (at risk: ephemeral, unreserved)"
        } else {
            ""
        }
    )
}

/// What a line of the outline is, for a surface that styles by kind only.
pub fn kind_of(item: &Item) -> Kind {
    match item {
        Item::Verdict | Item::Heading(_) => Kind::Heading,
        Item::Said(l) | Item::Health(l) => l.kind,
        Item::Probe | Item::Socket(_) | Item::More { .. } | Item::Note(_) => Kind::Note,
        _ => Kind::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::why::{BindRequest, Context, diagnose};
    use crate::model::probe::ProbeResult;
    use crate::model::test_support::{listener, snapshot};

    fn shape(max: usize) -> Shape<'static> {
        Shape {
            max_causes: max,
            examples: 2,
            alternatives_of: None,
            max_alternatives: 3,
            duration: &|s| format!("{s} s"),
        }
    }

    #[test]
    fn the_answer_comes_in_one_order() {
        let snap = snapshot(vec![listener(8080)]);
        let d = diagnose(
            &BindRequest::tcp(8080),
            &snap,
            &ProbeResult::not_run("test"),
            &Context::default(),
        );
        let items = outline(&d, &shape(6));
        assert_eq!(items[0], Item::Verdict);
        let headings: Vec<Section> = items
            .iter()
            .filter_map(|i| match i {
                Item::Heading(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            headings,
            [
                Section::InTheWay {
                    sockets: 1,
                    causes: 1
                },
                Section::Plan,
                Section::Notes
            ]
            .iter()
            .filter(|s| **s != Section::Notes || !d.notes.is_empty())
            .cloned()
            .collect::<Vec<_>>()
        );
        assert_eq!(
            Section::InTheWay {
                sockets: 1,
                causes: 1
            }
            .title(),
            "In the way: 1 socket in 1 cause"
        );
        assert!(items.contains(&Item::Processes));
        // No cause past the limit is listed; the rest are counted.
        let none = outline(&d, &shape(0));
        assert!(!none.iter().any(|i| matches!(i, Item::Cause { .. })));
        assert!(none.contains(&Item::More { n: 1, causes: true }));
    }
}
