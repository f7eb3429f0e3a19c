//! Filter rules in one shape for both tools, already judged against one (family, proto, port),
//! and the walk a new inbound connection takes through them.
//!
//! A rule either matches every new connection to the port from outside (`conds` empty), some
//! of them (`conds` names which: a source range, an interface, a set), or none (another port,
//! another protocol, only established connections, only loopback). The walk follows jumps and
//! gotos from each input base chain and stops at the first verdict that covers every source;
//! conditional verdicts met on the way make the answer `partly`.

use crate::model::reach::{FilterRule, ReachVerdict};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// Whether `addr` is in `spec`: an address, `ADDR/LEN` or `FIRST-LAST`; `None` when `spec`
/// is none of these.
pub fn in_spec(addr: IpAddr, spec: &str) -> Option<bool> {
    if let Some((a, b)) = spec.split_once('-') {
        let (a, b): (IpAddr, IpAddr) = (a.parse().ok()?, b.parse().ok()?);
        return Some(a <= addr && addr <= b && a.is_ipv4() == addr.is_ipv4());
    }
    let (base, len) = match spec.split_once('/') {
        Some((b, l)) => (b.parse::<IpAddr>().ok()?, l.parse::<u32>().ok()?),
        None => {
            let b: IpAddr = spec.parse().ok()?;
            (b, if b.is_ipv4() { 32 } else { 128 })
        }
    };
    let bits = |a: IpAddr| -> (u128, u32) {
        match a {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    };
    let ((b, w), (x, xw)) = (bits(base), bits(addr));
    if w != xw || len > w {
        return Some(false);
    }
    let shift = w - len;
    Some(shift >= 128 || (b >> shift) == (x >> shift))
}

/// How a destination match treats new connections to the listener, sent to `dests` (the
/// addresses it can be reached at; empty: not known): `Some(false)` never, `Some(true)` all,
/// `None` some of them (or the spec is not understood).
pub fn dest_match(specs: &[&str], negate: bool, dests: &[IpAddr]) -> Option<bool> {
    if dests.is_empty() {
        return None;
    }
    let hits: Option<Vec<bool>> = dests
        .iter()
        .map(|d| {
            specs
                .iter()
                .map(|s| in_spec(*d, s))
                .try_fold(false, |acc, h| h.map(|h| acc || h))
        })
        .collect();
    let hits: Vec<bool> = hits?.into_iter().map(|h| h != negate).collect();
    if hits.iter().all(|h| *h) {
        Some(true)
    } else if hits.iter().all(|h| !*h) {
        Some(false)
    } else {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Accept,
    Drop,
    Reject,
    Jump(String),
    Goto(String),
    Return,
    /// A rule that only counts, logs or marks: the packet goes on.
    Continue,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            _ => "drop",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// As the tool prints it.
    pub text: String,
    /// false: the rule never sees a new connection to the port from outside.
    pub matches: bool,
    /// What limits the packets it matches (`10.99.0.0/24`, `all but 10.0.0.0/8`,
    /// `iifname "eth0"`); empty: all of them.
    pub conds: Vec<String>,
    pub action: Action,
    pub counters: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Default)]
pub struct Chain {
    /// Base chains only: what happens at their end.
    pub policy: Option<Action>,
    pub rules: Vec<Rule>,
}

/// The chains of one table, as one tool reads them.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub tool: String,
    pub family: String,
    pub name: String,
    pub chains: HashMap<String, Chain>,
    /// The input base chains, in the order packets meet them.
    pub bases: Vec<String>,
}

/// What the walk of one chain ended with.
enum End {
    /// Every connection still walking was decided.
    All(Action),
    /// Fell off the end (or returned): the caller goes on.
    Through,
}

struct Walk<'a> {
    table: &'a Table,
    found: Vec<FilterRule>,
    /// Some connections were accepted / dropped before the walk ended.
    some_accepted: bool,
    some_blocked: bool,
    seen: HashSet<String>,
}

impl Walk<'_> {
    fn note(&mut self, chain: &str, r: &Rule, action: &Action, conds: &[String]) {
        self.found.push(FilterRule {
            tool: self.table.tool.clone(),
            family: self.table.family.clone(),
            table: self.table.name.clone(),
            chain: chain.to_string(),
            rule: r.text.clone(),
            action: action.name().into(),
            sources: if conds.is_empty() {
                "all sources".into()
            } else {
                conds.join(", ")
            },
            packets: r.counters.map(|c| c.0),
            bytes: r.counters.map(|c| c.1),
        });
    }

    /// Walks `name` for connections that met `outer` conditions on the way in.
    fn chain(&mut self, name: &str, outer: &[String], depth: usize) -> End {
        if depth > 16 || !self.seen.insert(name.to_string()) {
            return End::Through;
        }
        let table = self.table;
        let Some(chain) = table.chains.get(name) else {
            return End::Through;
        };
        let mut end = End::Through;
        for r in &chain.rules {
            if !r.matches {
                continue;
            }
            let conds: Vec<String> = outer.iter().chain(&r.conds).cloned().collect();
            let everyone = conds.is_empty();
            match &r.action {
                Action::Continue => {}
                Action::Accept => {
                    if everyone {
                        end = End::All(Action::Accept);
                        break;
                    }
                    self.note(name, r, &r.action, &conds);
                    self.some_accepted = true;
                }
                a @ (Action::Drop | Action::Reject) => {
                    self.note(name, r, a, &conds);
                    if everyone {
                        end = End::All(a.clone());
                        break;
                    }
                    self.some_blocked = true;
                }
                Action::Return => {
                    if everyone {
                        break;
                    }
                }
                Action::Jump(t) | Action::Goto(t) => {
                    let sub = self.chain(t, &conds, depth + 1);
                    if let End::All(a) = sub {
                        if everyone {
                            end = End::All(a);
                            break;
                        }
                        match a {
                            Action::Accept => self.some_accepted = true,
                            _ => self.some_blocked = true,
                        }
                    } else if matches!(r.action, Action::Goto(_)) && everyone {
                        // A goto does not come back here.
                        break;
                    }
                }
            }
        }
        self.seen.remove(name);
        end
    }
}

/// The verdict of one table's input chains and the rules behind it.
pub fn judge(table: &Table) -> (ReachVerdict, Vec<FilterRule>) {
    let mut verdict = ReachVerdict::Open;
    let mut found = Vec::new();
    for base in &table.bases {
        let mut w = Walk {
            table,
            found: Vec::new(),
            some_accepted: false,
            some_blocked: false,
            seen: HashSet::new(),
        };
        let end = w.chain(base, &[], 0);
        let policy = table.chains.get(base).and_then(|c| c.policy.clone());
        let decided = match end {
            End::All(a) => a,
            End::Through => {
                let p = policy.unwrap_or(Action::Accept);
                if p != Action::Accept {
                    w.found.push(FilterRule {
                        tool: table.tool.clone(),
                        family: table.family.clone(),
                        table: table.name.clone(),
                        chain: base.clone(),
                        rule: format!("policy {}", p.name()),
                        action: p.name().into(),
                        sources: "all sources".into(),
                        packets: None,
                        bytes: None,
                    });
                }
                p
            }
        };
        let v = match decided {
            Action::Accept if w.some_blocked => ReachVerdict::Partly,
            Action::Accept => ReachVerdict::Open,
            _ if w.some_accepted => ReachVerdict::Partly,
            _ => ReachVerdict::Blocked,
        };
        // Accept rules say who gets in only where something is blocked.
        if v == ReachVerdict::Open || (v == ReachVerdict::Partly && decided == Action::Accept) {
            w.found.retain(crate::model::reach::FilterRule::blocks);
        }
        verdict = verdict.and(v);
        found.extend(w.found);
    }
    (verdict, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(conds: &[&str], action: Action) -> Rule {
        Rule {
            text: format!("{conds:?} {action:?}"),
            matches: true,
            conds: conds.iter().map(ToString::to_string).collect(),
            action,
            counters: None,
        }
    }

    fn table(chains: Vec<(&str, Option<Action>, Vec<Rule>)>) -> Table {
        Table {
            tool: "t".into(),
            family: "ipv4".into(),
            name: "filter".into(),
            bases: vec![chains[0].0.to_string()],
            chains: chains
                .into_iter()
                .map(|(n, p, rules)| (n.to_string(), Chain { policy: p, rules }))
                .collect(),
        }
    }

    #[test]
    fn destinations() {
        let a: IpAddr = "10.0.0.5".parse().unwrap();
        let b: IpAddr = "192.168.1.1".parse().unwrap();
        assert_eq!(in_spec(a, "10.0.0.0/8"), Some(true));
        assert_eq!(in_spec(a, "10.0.0.6"), Some(false));
        assert_eq!(in_spec(a, "10.0.0.1-10.0.0.9"), Some(true));
        assert_eq!(in_spec(a, "fd00::/8"), Some(false));
        assert_eq!(in_spec(a, "0.0.0.0/0"), Some(true));
        assert_eq!(in_spec(a, "nonsense"), None);
        assert_eq!(dest_match(&["10.96.0.10/32"], false, &[a, b]), Some(false));
        assert_eq!(dest_match(&["10.0.0.0/8"], false, &[a, b]), None);
        assert_eq!(dest_match(&["10.0.0.0/8"], true, &[a]), Some(false));
        assert_eq!(
            dest_match(&["10.0.0.0/8", "192.168.0.0/16"], false, &[a, b]),
            Some(true)
        );
        assert_eq!(dest_match(&["10.0.0.0/8"], false, &[]), None);
    }

    #[test]
    fn walks_decide_like_the_kernel() {
        use Action::*;
        let t = table(vec![("INPUT", Some(Accept), vec![])]);
        assert_eq!(judge(&t).0, ReachVerdict::Open);
        let t = table(vec![(
            "INPUT",
            Some(Accept),
            vec![rule(&["10.0.0.0/8"], Drop)],
        )]);
        let (v, r) = judge(&t);
        assert_eq!(
            (v, r.len(), r[0].sources.as_str()),
            (ReachVerdict::Partly, 1, "10.0.0.0/8")
        );
        let t = table(vec![(
            "INPUT",
            Some(Drop),
            vec![rule(&["10.0.0.0/8"], Accept)],
        )]);
        let (v, r) = judge(&t);
        assert_eq!(v, ReachVerdict::Partly);
        assert_eq!(
            r.iter().map(|r| r.action.as_str()).collect::<Vec<_>>(),
            ["accept", "drop"]
        );
        let t = table(vec![("INPUT", Some(Drop), vec![])]);
        assert_eq!(judge(&t).0, ReachVerdict::Blocked);
        // A jump into a chain that rejects everyone, behind a condition: partly.
        let t = table(vec![
            (
                "INPUT",
                Some(Accept),
                vec![rule(&["iifname eth0"], Jump("X".into()))],
            ),
            ("X", None, vec![rule(&[], Reject)]),
        ]);
        assert_eq!(judge(&t).0, ReachVerdict::Partly);
        // Unconditional jump, accept inside: open, the later drop never seen.
        let t = table(vec![
            ("INPUT", Some(Drop), vec![rule(&[], Jump("X".into()))]),
            ("X", None, vec![rule(&[], Return), rule(&[], Accept)]),
        ]);
        assert_eq!(
            judge(&t).0,
            ReachVerdict::Blocked,
            "return skips the accept"
        );
        let t = table(vec![
            ("INPUT", Some(Drop), vec![rule(&[], Jump("X".into()))]),
            ("X", None, vec![rule(&[], Accept)]),
        ]);
        assert_eq!(judge(&t).0, ReachVerdict::Open);
        // A loop of jumps ends.
        let t = table(vec![
            ("INPUT", Some(Accept), vec![rule(&[], Jump("X".into()))]),
            ("X", None, vec![rule(&[], Jump("INPUT".into()))]),
        ]);
        assert_eq!(judge(&t).0, ReachVerdict::Open);
    }
}
