//! Listening but unreachable: the filter rules of a namespace that drop or reject new inbound
//! connections to a port, read with the same tools, paths, timeouts and output bounds as the
//! NAT rules (`iptables-save -c -t filter` for legacy and iptables-nft rule sets, ip6tables for
//! IPv6, `nft -j list ruleset` for native tables), within one time budget for all of them: a
//! host with 50k kube-proxy rules must not stall `why`.

pub mod ipt;
pub mod nft;
#[cfg(test)]
mod nft_tests;
pub mod rules;

use super::{ToolError, ToolRun, run_with_timeout, saves};
use crate::collect::NetnsTarget;
use crate::model::Proto;
use crate::model::reach::{ReachVerdict, Reachability};
use std::time::{Duration, Instant};

/// The budget `why` gives the rules by default.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(3);

/// Runs each tool with what is left of the budget.
struct Budget {
    start: Instant,
    total: Duration,
    ran_out: Vec<String>,
}

impl Budget {
    fn run(&mut self, tool: &str, path: &std::path::Path, args: &[&str]) -> Result<String, String> {
        let left = self.total.saturating_sub(self.start.elapsed());
        if left.is_zero() {
            self.ran_out.push(tool.to_string());
            return Err(format!(
                "skipped: the time budget of {} ms ran out",
                self.total.as_millis()
            ));
        }
        run_with_timeout(path, args, left).map_err(|e| {
            if matches!(e, ToolError::TimedOut(_)) {
                self.ran_out.push(tool.to_string());
            }
            e.to_string()
        })
    }
}

/// The tables each tool read, judged for `family` packets.
fn judge_family(
    budget: &mut Budget,
    tools: &mut Vec<ToolRun>,
    nft_doc: Option<&serde_json::Value>,
    family: &str,
    proto: Proto,
    port: u16,
) -> (Option<ReachVerdict>, Vec<crate::model::reach::FilterRule>) {
    let prefix = if family == "ipv6" {
        "ip6tables"
    } else {
        "iptables"
    };
    let mut verdict = None::<ReachVerdict>;
    let mut found = Vec::new();
    let mut skip = Vec::new();
    let runs = saves(prefix);
    if runs.is_empty() {
        tools.push(ToolRun {
            tool: format!("{prefix}-save"),
            outcome: "missing".into(),
        });
    }
    for (name, path) in runs {
        let tool = name.trim_end_matches("-save").to_string();
        match budget.run(&name, &path, &["-c", "-t", "filter"]) {
            Ok(text) => {
                let t = ipt::table(&text, &tool, family, proto, port);
                let (v, r) = rules::judge(&t);
                verdict = Some(verdict.map_or(v, |o| o.and(v)));
                found.extend(r);
                if tool.ends_with("-nft") {
                    let fam = if family == "ipv6" { "ip6" } else { "ip" };
                    skip.push((fam.to_string(), "filter".to_string()));
                }
                tools.push(ToolRun {
                    tool: name,
                    outcome: "ok".into(),
                });
            }
            Err(outcome) => tools.push(ToolRun {
                tool: name,
                outcome,
            }),
        }
    }
    if let Some(doc) = nft_doc {
        for t in nft::tables(doc, family, proto, port, &skip) {
            let (v, r) = rules::judge(&t);
            verdict = Some(verdict.map_or(v, |o| o.and(v)));
            found.extend(r);
        }
    }
    (verdict, found)
}

/// Reads the filter rules of `netns` and judges new inbound connections to `proto` `port`
/// arriving as `families` (ipv4, ipv6: the ones the listeners can be reached by).
pub fn reachability(
    netns: &NetnsTarget,
    proto: Proto,
    port: u16,
    families: &[&'static str],
    budget: Duration,
) -> Result<Reachability, crate::collect::NetnsError> {
    netns.run_in(|| {
        let mut b = Budget {
            start: Instant::now(),
            total: budget,
            ran_out: Vec::new(),
        };
        let mut tools = Vec::new();
        let nft_doc = match crate::tools::find("nft") {
            Err(_) => {
                tools.push(ToolRun {
                    tool: "nft".into(),
                    outcome: "missing".into(),
                });
                None
            }
            Ok(path) => match b.run("nft", &path, &["-j", "list", "ruleset"]).and_then(|t| {
                serde_json::from_str::<serde_json::Value>(&t)
                    .map_err(|e| ToolError::Json(e).to_string())
            }) {
                Ok(doc) => {
                    tools.push(ToolRun {
                        tool: "nft".into(),
                        outcome: "ok".into(),
                    });
                    Some(doc)
                }
                Err(outcome) => {
                    tools.push(ToolRun {
                        tool: "nft".into(),
                        outcome,
                    });
                    None
                }
            },
        };
        let mut per_family = Vec::new();
        let mut rules = Vec::new();
        for family in families {
            let (v, r) = judge_family(&mut b, &mut tools, nft_doc.as_ref(), family, proto, port);
            per_family.extend(v);
            rules.extend(r);
        }
        let verdict = match per_family.split_first() {
            None => ReachVerdict::Unknown,
            Some((first, rest)) if rest.iter().all(|v| v == first) => *first,
            Some(_) if per_family.iter().all(|v| *v == ReachVerdict::Blocked) => {
                ReachVerdict::Blocked
            }
            Some(_) => ReachVerdict::Partly,
        };
        let mut notes = Vec::new();
        if !b.ran_out.is_empty() {
            notes.push(format!(
                "the time budget of {} ms ran out before {} finished: the verdict rests on the rules read in time{}",
                budget.as_millis(),
                b.ran_out.join(", "),
                if verdict == ReachVerdict::Unknown { " (none)" } else { "" }
            ));
        }
        if verdict == ReachVerdict::Unknown && b.ran_out.is_empty() {
            notes.push(
                "neither iptables-save nor nft could be run: install iptables or nftables, or give --tool-path".into(),
            );
        }
        Reachability {
            proto,
            port,
            verdict,
            rules,
            tools,
            notes,
        }
    })
}

/// The reachability of `proto` `port` for listeners with `exposure`: by their addresses first
/// (no rule is read for a port only loopback listens on), then by the filter rules.
pub fn for_listeners(
    netns: &NetnsTarget,
    proto: Proto,
    port: u16,
    exposure: &crate::analyze::reach::Exposure,
    budget: Duration,
) -> Result<Reachability, crate::collect::NetnsError> {
    let mut r = if exposure.unreachable() {
        Reachability {
            proto,
            port,
            verdict: ReachVerdict::Blocked,
            rules: Vec::new(),
            tools: Vec::new(),
            notes: Vec::new(),
        }
    } else {
        reachability(netns, proto, port, &exposure.families, budget)?
    };
    let mut notes = exposure.notes.clone();
    notes.append(&mut r.notes);
    r.notes = notes;
    Ok(r)
}
