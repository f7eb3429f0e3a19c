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
use std::net::IpAddr;
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

/// The rule dumps of one namespace, read once and judged for any number of ports.
#[derive(Debug, Clone, Default)]
pub struct Dumps {
    /// (tool, family, iptables-save text).
    ipt: Vec<(String, &'static str, String)>,
    nft: Option<serde_json::Value>,
    tools: Vec<ToolRun>,
    ran_out: Vec<String>,
    budget: Duration,
    /// The namespace's own addresses (loopback left out): where new connections to a
    /// wildcard listener are sent, so a rule for another destination does not apply.
    local: Vec<IpAddr>,
}

/// The addresses configured in the calling thread's namespace, loopback left out.
fn local_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<IpAddr> = addrs
        .filter_map(|a| {
            let sa = a.address?;
            if let Some(v4) = sa.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                sa.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .filter(|a| !a.is_loopback())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Reads the filter rules of `netns` for `families` (ipv4, ipv6), all tools within `budget`.
pub fn read(
    netns: &NetnsTarget,
    families: &[&'static str],
    budget: Duration,
) -> Result<Dumps, crate::collect::NetnsError> {
    netns.run_in(|| {
        let mut b = Budget {
            start: Instant::now(),
            total: budget,
            ran_out: Vec::new(),
        };
        let mut d = Dumps {
            budget,
            ..Dumps::default()
        };
        d.nft = match crate::tools::find("nft") {
            Err(_) => {
                d.tools.push(ToolRun {
                    tool: "nft".into(),
                    outcome: "missing".into(),
                });
                None
            }
            Ok(path) => match b
                .run("nft", &path, &["-j", "list", "ruleset"])
                .and_then(|t| {
                    serde_json::from_str::<serde_json::Value>(&t)
                        .map_err(|e| ToolError::Json(e).to_string())
                }) {
                Ok(doc) => {
                    d.tools.push(ToolRun {
                        tool: "nft".into(),
                        outcome: "ok".into(),
                    });
                    Some(doc)
                }
                Err(outcome) => {
                    d.tools.push(ToolRun {
                        tool: "nft".into(),
                        outcome,
                    });
                    None
                }
            },
        };
        for family in families {
            let prefix = if *family == "ipv6" {
                "ip6tables"
            } else {
                "iptables"
            };
            let runs = saves(prefix);
            if runs.is_empty() {
                d.tools.push(ToolRun {
                    tool: format!("{prefix}-save"),
                    outcome: "missing".into(),
                });
            }
            for (name, path) in runs {
                match b.run(&name, &path, &["-c", "-t", "filter"]) {
                    Ok(text) => {
                        let tool = name.trim_end_matches("-save").to_string();
                        d.ipt.push((tool, family, text));
                        d.tools.push(ToolRun {
                            tool: name,
                            outcome: "ok".into(),
                        });
                    }
                    Err(outcome) => d.tools.push(ToolRun {
                        tool: name,
                        outcome,
                    }),
                }
            }
        }
        d.ran_out = b.ran_out;
        d.local = local_addresses();
        d
    })
}

impl Dumps {
    /// The verdict on `family` packets and the rules behind it; `None`: no rules read.
    fn judge_family(
        &self,
        family: &str,
        proto: Proto,
        port: u16,
        dests: &[IpAddr],
    ) -> (Option<ReachVerdict>, Vec<crate::model::reach::FilterRule>) {
        let mut verdict = None::<ReachVerdict>;
        let mut found = Vec::new();
        let mut skip = Vec::new();
        for (tool, _, text) in self.ipt.iter().filter(|(_, f, _)| *f == family) {
            let (v, r) = rules::judge(&ipt::table(text, tool, family, proto, port, dests));
            verdict = Some(verdict.map_or(v, |o| o.and(v)));
            found.extend(r);
            // iptables-nft's own table, read above: not again as a native one.
            if tool.ends_with("-nft") {
                let fam = if family == "ipv6" { "ip6" } else { "ip" };
                skip.push((fam.to_string(), "filter".to_string()));
            }
        }
        if let Some(doc) = &self.nft {
            for t in nft::tables(doc, family, (proto, port), &skip, dests) {
                let (v, r) = rules::judge(&t);
                verdict = Some(verdict.map_or(v, |o| o.and(v)));
                found.extend(r);
            }
            if verdict.is_none() {
                verdict = Some(ReachVerdict::Open);
            }
        }
        (verdict, found)
    }

    /// The reachability of `proto` `port` for packets of `families` sent to `dests` (the
    /// listeners' addresses; empty: any).
    pub fn judge(
        &self,
        proto: Proto,
        port: u16,
        families: &[&'static str],
        dests: &[IpAddr],
    ) -> Reachability {
        let mut per_family = Vec::new();
        let mut rules = Vec::new();
        for family in families {
            let of_family: Vec<IpAddr> = dests
                .iter()
                .filter(|a| a.is_ipv4() == (*family == "ipv4"))
                .copied()
                .collect();
            let (v, r) = self.judge_family(family, proto, port, &of_family);
            per_family.extend(v);
            rules.extend(r);
        }
        let verdict = match per_family.split_first() {
            None => ReachVerdict::Unknown,
            Some((first, rest)) if rest.iter().all(|v| v == first) => *first,
            Some(_) => ReachVerdict::Partly,
        };
        let mut notes = Vec::new();
        if !self.ran_out.is_empty() {
            notes.push(format!(
                "the time budget of {} ms ran out before {} finished: the verdict rests on the rules read in time{}",
                self.budget.as_millis(),
                self.ran_out.join(", "),
                if verdict == ReachVerdict::Unknown { " (none)" } else { "" }
            ));
        } else if verdict == ReachVerdict::Unknown {
            notes.push(
                "neither iptables-save nor nft could be run: install iptables or nftables, or give --tool-path".into(),
            );
        }
        Reachability {
            proto,
            port,
            verdict,
            rules,
            tools: self.tools.clone(),
            notes,
        }
    }

    /// The reachability of `proto` `port` for listeners with `exposure`: by their addresses
    /// first (a port only loopback listens on is blocked whatever the rules), then the rules.
    pub fn for_listeners(
        &self,
        proto: Proto,
        port: u16,
        exposure: &crate::analyze::reach::Exposure,
    ) -> Reachability {
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
            let dests = if exposure.wildcard {
                &self.local
            } else {
                &exposure.bound
            };
            self.judge(proto, port, &exposure.families, dests)
        };
        let mut notes = exposure.notes.clone();
        notes.append(&mut r.notes);
        r.notes = notes;
        r
    }
}

/// Reads the rules `exposure` needs and judges `proto` `port` (`why`'s one port).
pub fn for_listeners(
    netns: &NetnsTarget,
    proto: Proto,
    port: u16,
    exposure: &crate::analyze::reach::Exposure,
    budget: Duration,
) -> Result<Reachability, crate::collect::NetnsError> {
    let dumps = if exposure.unreachable() {
        Dumps::default()
    } else {
        read(netns, &exposure.families, budget)?
    };
    Ok(dumps.for_listeners(proto, port, exposure))
}
