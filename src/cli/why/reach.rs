//! `why PORT` after the bind answer: can clients reach the listener (its addresses, the
//! namespace's filter rules, within a time budget), and is the connection-tracking table full.

use crate::analyze::reach::{exposure, listeners};
use crate::collect::NetnsTarget;
use crate::model::reach::{Conntrack, Reachability};
use crate::model::{Proto, Snapshot};
use std::time::Duration;

#[derive(Debug, Default)]
pub struct Found {
    pub reachability: Option<Reachability>,
    pub conntrack: Option<Conntrack>,
    /// Why the rules were not read (entering the namespace failed).
    pub error: Option<String>,
}

/// Reads what reaches `port`: `proto` first, the other protocol when only it listens (unless
/// `pinned`). `firewall` false (`--no-firewall`) reads no rules.
pub fn read(
    netns: &NetnsTarget,
    snap: &Snapshot,
    proto: Proto,
    pinned: bool,
    port: u16,
    firewall: bool,
    budget: Duration,
) -> Found {
    let mut found = Found {
        conntrack: crate::collect::conntrack::read(netns),
        ..Found::default()
    };
    let other = match proto {
        Proto::Tcp => Proto::Udp,
        Proto::Udp => Proto::Tcp,
    };
    let mut candidates = vec![proto];
    if !pinned {
        candidates.push(other);
    }
    let Some((proto, ls)) = candidates
        .into_iter()
        .map(|p| (p, listeners(snap, p, port)))
        .find(|(_, l)| !l.is_empty())
    else {
        return found;
    };
    if !firewall {
        return found;
    }
    match crate::collect::nat::filter::for_listeners(netns, proto, port, &exposure(&ls), budget) {
        Ok(r) => found.reachability = Some(r),
        Err(e) => found.error = Some(format!("filter rules not read: {e}")),
    }
    found
}

/// The text section.
pub fn render(f: &Found) -> String {
    let mut lines = Vec::new();
    if let Some(r) = &f.reachability {
        lines.extend(r.sentences());
    }
    lines.extend(f.error.clone());
    // A finding only near or at the limit (JSON always has it).
    if let Some(c) = f.conntrack.filter(Conntrack::near) {
        lines.push(c.sentence());
    }
    if lines.is_empty() {
        return String::new();
    }
    let mut o = String::from("\nReachability\n");
    for l in lines {
        match l.strip_prefix("  ") {
            Some(rule) => o.push_str(&crate::cli::wrap(rule, 80, "      ")),
            None => o.push_str(&crate::cli::wrap(&l, 80, "  - ")),
        }
    }
    o
}

/// The JSON members: `reachability {verdict, rules[], tools, notes}` and `conntrack`.
pub fn json(f: &Found, extra: &mut Vec<(&'static str, serde_json::Value)>) {
    if let Some(r) = &f.reachability {
        extra.push(("reachability", serde_json::to_value(r).unwrap_or_default()));
    }
    if let Some(e) = &f.error {
        extra.push(("reachability_error", serde_json::Value::from(e.as_str())));
    }
    if let Some(c) = f.conntrack {
        let mut v = serde_json::to_value(c).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("percent".into(), serde_json::json!(c.percent()));
            o.insert("text".into(), serde_json::json!(c.sentence()));
        }
        extra.push(("conntrack", v));
    }
}
