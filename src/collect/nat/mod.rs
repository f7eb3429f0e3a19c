//! Redirected ports: NAT rules that send a port's inbound traffic elsewhere while no socket
//! holds it (kube-proxy NodePorts since 1.24, CNI portmap hostPorts, Docker without its proxy).
//! A bind succeeds, and the service never sees its traffic.
//!
//! Read on request only, with the tools' own dumps run as subprocesses inside the namespace
//! (`iptables-save -t nat` for legacy and iptables-nft rules, `nft -j list ruleset` for native
//! tables), each with a timeout.

pub mod filter;
pub mod iptables;
pub mod nft;

use super::NetnsTarget;
use crate::model::Proto;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// One redirect of the port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    /// iptables-legacy, iptables-nft, iptables or nft.
    pub source: String,
    pub table: String,
    /// The chain of the rule that matches the port.
    pub chain: String,
    /// Where the traffic goes (`10.244.1.7:8080`, several when load-balanced).
    pub to: Vec<String>,
    /// What it is for: `service default/api`, `hostPort of container 0123…`.
    pub what: Option<String>,
}

impl Redirect {
    /// "10.244.1.7:8080 (service default/api)".
    pub fn describe(&self) -> String {
        let to = match self.to.len() {
            0..=3 => self.to.join(", "),
            n => format!("{} and {} more", self.to[..2].join(", "), n - 2),
        };
        match &self.what {
            Some(w) => format!("{to} ({w})"),
            None => format!("{to} ({} {} chain {})", self.source, self.table, self.chain),
        }
    }
}

pub use crate::model::reach::ToolRun;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatReport {
    pub proto: Proto,
    pub port: u16,
    pub redirects: Vec<Redirect>,
    pub tools: Vec<ToolRun>,
}

impl NatReport {
    /// Whether any tool could read rules.
    pub fn read_any(&self) -> bool {
        self.tools.iter().any(|t| t.outcome == "ok")
    }

    /// Plain sentences for `why`: `bind_ok` says whether the bind itself would succeed.
    pub fn sentences(&self, bind_ok: bool) -> Vec<String> {
        let port = self.port;
        if !self.read_any() {
            return vec![format!(
                "NAT rules not checked: neither iptables-save nor nft could be run ({})",
                self.tools
                    .iter()
                    .map(|t| format!("{}: {}", t.tool, t.outcome))
                    .collect::<Vec<_>>()
                    .join("; ")
            )];
        }
        if self.redirects.is_empty() {
            return vec![format!(
                "no NAT rule redirects {} port {port} (checked with {})",
                self.proto,
                self.tools
                    .iter()
                    .filter(|t| t.outcome == "ok")
                    .map(|t| t.tool.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )];
        }
        self.redirects
            .iter()
            .map(|r| {
                if bind_ok {
                    format!(
                        "bind will succeed, but inbound traffic to {port} goes to {} [{} {}]",
                        r.describe(),
                        r.source,
                        r.chain
                    )
                } else {
                    format!(
                        "inbound traffic to {port} goes to {} before it reaches any socket here [{} {}]",
                        r.describe(),
                        r.source,
                        r.chain
                    )
                }
            })
            .collect()
    }
}

/// How a tool run failed: its Display is the tool's `outcome` in the report (and JSON).
#[derive(Debug, thiserror::Error)]
enum ToolError {
    #[error("failed: {0}")]
    Run(std::io::Error),
    #[error("failed: more than {0} bytes of output")]
    TooLong(usize),
    #[error("timed out after {} ms", .0.as_millis())]
    TimedOut(Duration),
    /// The tool's exit status and the first line of its stderr (cleaned), if any.
    #[error("failed: {status}{}", if .stderr.is_empty() { String::new() } else { format!(" ({})", .stderr) })]
    Exited {
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("failed: unreadable JSON ({0})")]
    Json(serde_json::Error),
}

/// Runs `tool args` with a deadline; stdout on success.
fn run_with_timeout(tool: &Path, args: &[&str], timeout: Duration) -> Result<String, ToolError> {
    // A ruleset of 50k kube-proxy rules is a few MB; past this it is not read whole.
    let limits = crate::subprocess::Limits {
        max_bytes: 64 << 20,
        ..crate::subprocess::Limits::new(timeout)
    };
    let f =
        crate::subprocess::run(Command::new(tool).args(args), limits).map_err(ToolError::Run)?;
    let Some(status) = f.status else {
        return Err(ToolError::TimedOut(timeout));
    };
    if !status.success() {
        let msg = f.stderr.text();
        let first = msg.lines().next().unwrap_or("").trim();
        return Err(ToolError::Exited {
            status,
            stderr: if first.is_empty() {
                String::new()
            } else {
                crate::workload::clean(first)
            },
        });
    }
    if f.stdout.dropped > 0 {
        return Err(ToolError::TooLong(limits.max_bytes));
    }
    Ok(f.stdout.text())
}

/// The `iptables-save` programs of `family` (`iptables` or `ip6tables`) to run: legacy and
/// nft-backed iptables keep separate rule sets, so both where both exist.
fn saves(family: &str) -> Vec<(String, PathBuf)> {
    let mut saves: Vec<(String, PathBuf)> = ["legacy-save", "nft-save"]
        .iter()
        .map(|t| format!("{family}-{t}"))
        .filter_map(|t| crate::tools::find(&t).ok().map(|p| (t, p)))
        .collect();
    let plain = format!("{family}-save");
    if saves.is_empty()
        && let Ok(p) = crate::tools::find(&plain)
    {
        saves.push((plain, p));
    }
    saves
}

/// Reads the NAT rules of `netns` and finds every redirect of `proto` port `port`.
pub fn check(
    netns: &NetnsTarget,
    proto: Proto,
    port: u16,
    timeout: Duration,
) -> Result<NatReport, super::NetnsError> {
    netns.run_in(|| {
        let mut report = NatReport {
            proto,
            port,
            redirects: Vec::new(),
            tools: Vec::new(),
        };
        let saves = saves("iptables");
        if saves.is_empty() {
            report.tools.push(ToolRun {
                tool: "iptables-save".into(),
                outcome: "missing".into(),
            });
        }
        for (name, path) in saves {
            let name = name.as_str();
            let source = name.trim_end_matches("-save");
            match run_with_timeout(&path, &["-t", "nat"], timeout) {
                Ok(text) => {
                    report
                        .redirects
                        .extend(iptables::redirects(&text, source, proto, port));
                    report.tools.push(ToolRun {
                        tool: name.into(),
                        outcome: "ok".into(),
                    });
                }
                Err(e) => report.tools.push(ToolRun {
                    tool: name.into(),
                    outcome: e.to_string(),
                }),
            }
        }
        match crate::tools::find("nft").ok() {
            None => report.tools.push(ToolRun {
                tool: "nft".into(),
                outcome: "missing".into(),
            }),
            Some(path) => match run_with_timeout(&path, &["-j", "list", "ruleset"], timeout)
                .and_then(|t| {
                    serde_json::from_str::<serde_json::Value>(&t).map_err(ToolError::Json)
                }) {
                Ok(doc) => {
                    report.redirects.extend(nft::redirects(&doc, proto, port));
                    report.tools.push(ToolRun {
                        tool: "nft".into(),
                        outcome: "ok".into(),
                    });
                }
                Err(e) => report.tools.push(ToolRun {
                    tool: "nft".into(),
                    outcome: e.to_string(),
                }),
            },
        }
        report
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_that_fails_says_how_in_its_outcome() {
        let sh = Path::new("/bin/sh");
        let run = |script: &str, ms| {
            run_with_timeout(sh, &["-c", script], Duration::from_millis(ms))
                .map_err(|e| e.to_string())
        };
        assert_eq!(run("echo rules", 5000), Ok("rules\n".into()));
        assert_eq!(
            run("echo 'no table nat' >&2; exit 3", 5000),
            Err("failed: exit status: 3 (no table nat)".into())
        );
        assert_eq!(run("exit 1", 5000), Err("failed: exit status: 1".into()));
        assert_eq!(run("exec sleep 5", 50), Err("timed out after 50 ms".into()));
        let missing = run_with_timeout(Path::new("/nonexistent/nft"), &[], Duration::from_secs(1));
        assert!(
            matches!(&missing, Err(ToolError::Run(e)) if e.kind() == std::io::ErrorKind::NotFound),
            "{missing:?}"
        );
    }
}
