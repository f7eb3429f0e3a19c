//! `iptables-save -t nat` text: where rules send a destination port. Covers legacy and
//! iptables-nft rules (whose DNAT targets and comments `nft -j` cannot decode).

use super::Redirect;
use crate::model::Proto;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Default, Clone)]
struct Rule {
    chain: String,
    proto: Option<String>,
    /// `None`: the rule does not look at the destination port.
    dports: Option<Vec<(u16, u16)>>,
    comment: Option<String>,
    target: Option<String>,
    to: Option<String>,
}

/// Splits a rule line like a shell would (double quotes, backslash escapes).
pub(super) fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

pub(super) fn ports(spec: &str) -> Vec<(u16, u16)> {
    spec.split(',')
        .filter_map(|p| match p.split_once(':') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => p.parse().ok().map(|v| (v, v)),
        })
        .collect()
}

fn parse_rule(line: &str) -> Option<Rule> {
    let w = words(line.strip_prefix("-A ")?);
    let mut r = Rule {
        chain: w.first()?.clone(),
        ..Rule::default()
    };
    let mut i = 1;
    let mut negate = false;
    while i < w.len() {
        let next = w.get(i + 1).cloned();
        match w[i].as_str() {
            "!" => {
                negate = true;
                i += 1;
                continue;
            }
            "-p" | "--protocol" if !negate => r.proto = next,
            "--dport" | "--dports" | "--destination-port" | "--destination-ports" => {
                // A negated port match (`! --dport 22`) says nothing useful about one port.
                r.dports = if negate {
                    Some(Vec::new())
                } else {
                    next.map(|n| ports(&n))
                };
            }
            "--comment" => r.comment = next,
            "-j" | "--jump" | "-g" | "--goto" => r.target = next,
            "--to-destination" | "--to-ports" => r.to = next,
            _ => {
                i += 1;
                negate = false;
                continue;
            }
        }
        negate = false;
        i += 2;
    }
    Some(r)
}

fn matches_port(r: &Rule, proto: Proto, port: u16) -> Option<bool> {
    if let Some(p) = &r.proto
        && p != proto.as_str()
        && p != "all"
    {
        return Some(false);
    }
    r.dports
        .as_ref()
        .map(|d| d.iter().any(|&(a, b)| (a..=b).contains(&port)))
}

/// What the rules are for, from their comments and chain names.
fn what(comment: Option<&str>, chain: &str) -> Option<String> {
    if chain.starts_with("KUBE-") {
        let c = comment?;
        let svc = c.split([' ', ':']).next().unwrap_or(c);
        return Some(format!("service {svc}"));
    }
    if chain.starts_with("CNI-") {
        let id = comment
            .and_then(|c| c.split("id: ").nth(1))
            .map(|s| s.trim_matches('"'));
        return Some(match id {
            Some(id) => format!("hostPort of container {}", &id[..id.len().min(12)]),
            None => "CNI hostPort".into(),
        });
    }
    if chain.starts_with("DOCKER") {
        return Some("docker published port".into());
    }
    comment.map(str::to_string)
}

/// Following one matching rule through the chains it jumps to.
struct Walk<'a> {
    chains: &'a HashMap<String, Vec<Rule>>,
    proto: Proto,
    port: u16,
    seen: HashSet<String>,
    to: Vec<String>,
    comment: Option<String>,
}

impl Walk<'_> {
    /// Follows jumps from `chain`, collecting DNAT/REDIRECT destinations for the port.
    fn follow(&mut self, chain: &str, depth: usize) {
        if depth > 8 || !self.seen.insert(chain.to_string()) {
            return;
        }
        let chains = self.chains;
        for r in chains.get(chain).into_iter().flatten() {
            if matches_port(r, self.proto, self.port) == Some(false) {
                continue;
            }
            if self.comment.is_none() {
                self.comment.clone_from(&r.comment);
            }
            self.terminal(r, depth);
        }
    }

    fn terminal(&mut self, r: &Rule, depth: usize) {
        let dest = match (r.target.as_deref(), &r.to) {
            (Some("DNAT"), Some(dest)) => {
                if dest.contains(':') && !dest.starts_with('[') || dest.contains("]:") {
                    dest.clone()
                } else {
                    format!("{dest}:{}", self.port)
                }
            }
            (Some("REDIRECT"), Some(p)) => format!("local port {p}"),
            (Some(t), _) if self.chains.contains_key(t) => {
                return self.follow(t, depth + 1);
            }
            _ => return,
        };
        if !self.to.contains(&dest) {
            self.to.push(dest);
        }
    }
}

/// Every redirect of `proto` port `port` in an iptables-save dump.
pub fn redirects(text: &str, source: &str, proto: Proto, port: u16) -> Vec<Redirect> {
    let mut chains: HashMap<String, Vec<Rule>> = HashMap::new();
    let mut order = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix(':').and_then(|l| l.split(' ').next()) {
            chains.entry(name.to_string()).or_default();
        } else if let Some(r) = parse_rule(line) {
            order.push(r.clone());
            chains.entry(r.chain.clone()).or_default().push(r);
        }
    }
    let mut found: Vec<(Redirect, HashSet<String>)> = Vec::new();
    for r in order
        .iter()
        .filter(|r| matches_port(r, proto, port) == Some(true))
    {
        let mut w = Walk {
            chains: &chains,
            proto,
            port,
            seen: HashSet::from([r.chain.clone()]),
            to: Vec::new(),
            comment: r.comment.clone(),
        };
        w.terminal(r, 0);
        if w.to.is_empty() {
            continue;
        }
        let (to, comment, seen) = (w.to, w.comment, w.seen);
        found.push((
            Redirect {
                source: source.into(),
                table: "nat".into(),
                chain: r.chain.clone(),
                to,
                what: what(comment.as_deref(), &r.chain),
            },
            seen,
        ));
    }
    // A rule reached from another matching rule (CNI-DN-… from CNI-HOSTPORT-DNAT) is part of
    // that redirect, not a second one.
    let entries: Vec<Redirect> = found
        .iter()
        .filter(|(r, _)| {
            !found
                .iter()
                .any(|(o, seen)| o.chain != r.chain && seen.contains(&r.chain))
        })
        .map(|(r, _)| r.clone())
        .collect();
    let mut out: Vec<Redirect> = Vec::new();
    for r in entries {
        if !out.iter().any(|o| o.to == r.to && o.chain == r.chain) {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBE: &str = r#"# Generated by iptables-save
*nat
:PREROUTING ACCEPT [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-EXT-ABC - [0:0]
:KUBE-SVC-ABC - [0:0]
:KUBE-SEP-X1 - [0:0]
:KUBE-SEP-X2 - [0:0]
:DOCKER - [0:0]
:CNI-HOSTPORT-DNAT - [0:0]
:CNI-DN-1 - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/api:http" -m tcp --dport 30080 -j KUBE-EXT-ABC
-A KUBE-EXT-ABC -m comment --comment "masquerade traffic for default/api:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-ABC -j KUBE-SVC-ABC
-A KUBE-SVC-ABC -m comment --comment "default/api:http -> 10.244.1.7:8080" -m statistic --mode random --probability 0.5 -j KUBE-SEP-X1
-A KUBE-SVC-ABC -m comment --comment "default/api:http -> 10.244.2.9:8080" -j KUBE-SEP-X2
-A KUBE-SEP-X1 -p tcp -m comment --comment "default/api:http" -m tcp -j DNAT --to-destination 10.244.1.7:8080
-A KUBE-SEP-X2 -p tcp -m comment --comment "default/api:http" -m tcp -j DNAT --to-destination 10.244.2.9:8080
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
-A DOCKER -p tcp ! --dport 22 -j DNAT --to-destination 1.2.3.4:5
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"cbr0\" id: \"0123456789abcdef\"" -m multiport --dports 443,9000:9100 -j CNI-DN-1
-A CNI-DN-1 -p tcp -m tcp --dport 443 -j DNAT --to-destination 10.22.0.5:443
-A CNI-DN-1 -p tcp -m tcp --dport 9050 -j DNAT --to-destination 10.22.0.5:9050
COMMIT
"#;

    #[test]
    fn kube_proxy_docker_and_portmap_shapes() {
        let r = redirects(KUBE, "iptables", Proto::Tcp, 30080);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].to, vec!["10.244.1.7:8080", "10.244.2.9:8080"]);
        assert_eq!(r[0].what.as_deref(), Some("service default/api"));
        let r = redirects(KUBE, "iptables", Proto::Tcp, 8080);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].to, vec!["172.17.0.2:80"]);
        let r = redirects(KUBE, "iptables", Proto::Tcp, 443);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].to, vec!["10.22.0.5:443"]);
        assert_eq!(
            r[0].what.as_deref(),
            Some("hostPort of container 0123456789ab")
        );
        assert!(redirects(KUBE, "iptables", Proto::Udp, 30080).is_empty());
        assert!(redirects(KUBE, "iptables", Proto::Tcp, 22).is_empty());
        assert!(redirects(KUBE, "iptables", Proto::Tcp, 30081).is_empty());
    }
}
