//! Whether a listening port can be reached: the verdict of the namespace's filter rules on a
//! new inbound connection, and the connection-tracking table's fill (a full table drops new
//! connections whatever the rules say: the kernel logs "nf_conntrack: table full, dropping
//! packet" and clients see time-outs, not refusals).

use serde::{Deserialize, Serialize};

/// How running one tool went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRun {
    pub tool: String,
    /// ok, missing, failed: ..., timed out after N ms, skipped: ...
    pub outcome: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReachVerdict {
    /// No rule read drops or rejects a new connection to the port.
    Open,
    /// Some sources (addresses, interfaces) are dropped or rejected, others get through.
    Partly,
    /// Every new connection from outside is dropped or rejected (or the listener's address
    /// cannot be reached from outside at all).
    Blocked,
    /// No rules could be read.
    Unknown,
}

impl ReachVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReachVerdict::Open => "open",
            ReachVerdict::Partly => "partly",
            ReachVerdict::Blocked => "blocked",
            ReachVerdict::Unknown => "unknown",
        }
    }

    /// The verdict of two independent hurdles a packet must both pass.
    #[must_use]
    pub fn and(self, other: ReachVerdict) -> ReachVerdict {
        use ReachVerdict::*;
        match (self, other) {
            (Blocked, _) | (_, Blocked) => Blocked,
            (Unknown, x) | (x, Unknown) => x,
            (Partly, _) | (_, Partly) => Partly,
            (Open, Open) => Open,
        }
    }
}

/// One rule (or a chain's default policy) that decides some new connections to the port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterRule {
    /// iptables-legacy, iptables-nft, ip6tables-legacy, ip6tables-nft, nft.
    pub tool: String,
    /// ipv4 or ipv6: the packets the rule was judged for.
    pub family: String,
    pub table: String,
    pub chain: String,
    /// The rule as the tool prints it, or `policy drop` for a chain's default.
    pub rule: String,
    /// drop, reject, accept.
    pub action: String,
    /// The packets it decides: `all sources`, `10.99.0.0/24`, `all but 10.0.0.0/8`,
    /// `iifname "eth0"`.
    pub sources: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

impl FilterRule {
    pub fn blocks(&self) -> bool {
        self.action != "accept"
    }

    /// `drops 10.99.0.0/24: iptables-legacy filter INPUT "-s 10.99.0.0/24 … -j DROP" (3 packets)`.
    pub fn describe(&self) -> String {
        let verb = match self.action.as_str() {
            "accept" => "lets in",
            "reject" => "rejects",
            _ => "drops",
        };
        let count = match self.packets {
            Some(p) => format!(" ({p} packet{})", if p == 1 { "" } else { "s" }),
            None => String::new(),
        };
        format!(
            "{verb} {} ({}): {} {} chain {}: {}{count}",
            self.sources, self.family, self.tool, self.table, self.chain, self.rule
        )
    }
}

/// The filter rules' answer for one listening port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachability {
    pub proto: super::Proto,
    pub port: u16,
    pub verdict: ReachVerdict,
    /// The rules that decide, in the order a packet meets them.
    pub rules: Vec<FilterRule>,
    pub tools: Vec<ToolRun>,
    /// Things the verdict rests on: an address unreachable from outside, a budget that ran out.
    pub notes: Vec<String>,
}

impl Reachability {
    /// Plain sentences for `why`, the TUI and the report: the verdict first.
    pub fn sentences(&self) -> Vec<String> {
        let port = self.port;
        let read: Vec<&str> = self
            .tools
            .iter()
            .filter(|t| t.outcome == "ok")
            .map(|t| t.tool.as_str())
            .collect();
        // Blocked by the listeners' addresses alone: no rule was read, the note says why.
        if self.verdict == ReachVerdict::Blocked && self.tools.is_empty() {
            return vec![format!("reachability blocked: {}", self.notes.join("; "))];
        }
        let mut out = vec![match self.verdict {
            ReachVerdict::Open => format!(
                "reachability open: no filter rule drops or rejects new connections to {} port {port} (checked with {})",
                self.proto,
                read.join(", ")
            ),
            ReachVerdict::Partly => format!(
                "reachability partly: some sources are dropped or rejected on their way to {} port {port}",
                self.proto
            ),
            ReachVerdict::Blocked => format!(
                "reachability blocked: new connections from outside never reach {} port {port}",
                self.proto
            ),
            ReachVerdict::Unknown => format!(
                "reachability unknown: no filter rules could be read ({})",
                self.tools
                    .iter()
                    .map(|t| format!("{}: {}", t.tool, t.outcome))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }];
        out.extend(self.rules.iter().map(|r| format!("  {}", r.describe())));
        out.extend(self.notes.iter().cloned());
        out
    }
}

/// The connection-tracking table of one namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conntrack {
    /// nf_conntrack_count: entries now (per network namespace).
    pub count: u64,
    /// nf_conntrack_max: the limit (one for the whole host; namespaces read the host's).
    pub max: u64,
}

impl Conntrack {
    /// Percent of the table in use.
    pub fn percent(&self) -> f64 {
        if self.max == 0 {
            return 0.0;
        }
        self.count as f64 * 100.0 / self.max as f64
    }

    pub fn full(&self) -> bool {
        self.max > 0 && self.count >= self.max
    }

    /// Above 80%: the warning level of `check`.
    pub fn near(&self) -> bool {
        self.percent() > 80.0
    }

    /// One line: the fill and, near or at the limit, what the kernel does then.
    pub fn sentence(&self) -> String {
        let base = format!(
            "connection tracking table: {} of {} entries ({:.0}%)",
            self.count,
            self.max,
            self.percent()
        );
        if self.full() {
            format!(
                "{base}: FULL, the kernel drops new connections (\"nf_conntrack: table full, dropping packet\"); clients time out. Raise net.netfilter.nf_conntrack_max or find who opens so many"
            )
        } else if self.near() {
            format!(
                "{base}: near the limit; at {} the kernel drops new connections (\"nf_conntrack: table full, dropping packet\")",
                self.max
            )
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_combine_worst_first() {
        use ReachVerdict::*;
        assert_eq!(Open.and(Partly), Partly);
        assert_eq!(Partly.and(Blocked), Blocked);
        assert_eq!(Unknown.and(Open), Open);
        assert_eq!(Unknown.and(Unknown), Unknown);
    }

    #[test]
    #[allow(clippy::float_cmp)] // a zero-sized table gives exactly 0.0, not a rounding of it
    fn conntrack_levels() {
        let c = |count| Conntrack { count, max: 1000 };
        assert!(!c(800).near() && c(801).near() && !c(999).full() && c(1000).full());
        assert!(c(1000).sentence().contains("table full, dropping packet"));
        assert!(!c(10).sentence().contains("dropping"));
        assert_eq!(Conntrack { count: 1, max: 0 }.percent(), 0.0);
    }
}
