//! `iptables-save -c -t filter` (and ip6tables): the INPUT chain and the chains it reaches,
//! each rule judged for new connections to one port from outside.

use super::rules::{Action, Rule, Table};
use crate::collect::nat::iptables::{ports, words};
use crate::model::Proto;
use std::net::IpAddr;

/// Options whose one argument says nothing about which sources a new connection comes from.
const NEUTRAL_ONE: &[&str] = &[
    "-m",
    "--match",
    "--comment",
    "-o",
    "--out-interface",
    "--icmp-type",
    "--icmpv6-type",
    "--dst-type",
    "--reject-with",
];
/// Options without an argument that match every new TCP connection.
const NEUTRAL_NONE: &[&str] = &["--syn"];

/// Whether a source names only the host itself.
fn loopback(src: &str) -> bool {
    src.starts_with("127.") || src == "::1" || src == "::1/128"
}

fn parse_rule(line: &str, proto: Proto, port: u16, dests: &[IpAddr]) -> Option<(String, Rule)> {
    let (counters, rest) = match line.strip_prefix('[') {
        Some(r) => {
            let (c, rest) = r.split_once("] ")?;
            let (p, b) = c.split_once(':')?;
            (Some((p.parse().ok()?, b.parse().ok()?)), rest)
        }
        None => (None, line),
    };
    let body = rest.strip_prefix("-A ")?;
    let w = words(body);
    let chain = w.first()?.clone();
    let mut r = Rule {
        text: body[chain.len()..].trim().to_string(),
        matches: true,
        conds: Vec::new(),
        action: Action::Continue,
        counters,
    };
    let mut target = None;
    let mut negate = false;
    let mut i = 1;
    while i < w.len() {
        let opt = w[i].as_str();
        let arg = w.get(i + 1).map_or("", String::as_str);
        let not = if negate { "! " } else { "" };
        let mut used = 2;
        match opt {
            "!" => {
                negate = true;
                i += 1;
                continue;
            }
            "-p" | "--protocol" => {
                let same = arg == proto.as_str() || arg == "all";
                if same == negate {
                    r.matches = false;
                }
            }
            "-s" | "--source" | "--src-range" => {
                if negate {
                    r.conds.push(format!("all but {arg}"));
                } else if loopback(arg) {
                    r.matches = false;
                } else {
                    r.conds.push(arg.to_string());
                }
            }
            "-d" | "--destination" | "--dst-range" => {
                let specs: Vec<&str> = arg.split(',').collect();
                match super::rules::dest_match(&specs, negate, dests) {
                    Some(false) => r.matches = false,
                    Some(true) => {}
                    None => r.conds.push(format!("{not}to {arg}")),
                }
            }
            "-i" | "--in-interface" => match (arg, negate) {
                ("lo", false) => r.matches = false,
                ("lo", true) => {}
                _ => r.conds.push(format!("{not}-i {arg}")),
            },
            "--dport" | "--dports" | "--destination-port" | "--destination-ports" => {
                let hit = ports(arg).iter().any(|&(a, b)| (a..=b).contains(&port));
                if hit == negate {
                    r.matches = false;
                }
            }
            "--ctstate" | "--state" => {
                let new = arg.split(',').any(|s| s == "NEW" || s == "UNTRACKED");
                if new == negate {
                    r.matches = false;
                }
            }
            "--match-set" => {
                let flags = w.get(i + 2).map_or("", String::as_str);
                r.conds.push(format!("{not}set {arg} {flags}"));
                used = 3;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                target = Some((opt.starts_with("-g") || opt == "--goto", arg.to_string()));
                break;
            }
            o if NEUTRAL_ONE.contains(&o) => {}
            o if NEUTRAL_NONE.contains(&o) => used = 1,
            o => {
                // Anything else narrows the packets the rule matches: keep it as said.
                let args: Vec<&str> = w[i + 1..]
                    .iter()
                    .take_while(|a| !a.starts_with('-') && *a != "!")
                    .map(String::as_str)
                    .collect();
                used = 1 + args.len();
                r.conds
                    .push(format!("{not}{o} {}", args.join(" ")).trim().to_string());
            }
        }
        negate = false;
        i += used;
    }
    if let Some((goto, t)) = target {
        r.action = match t.as_str() {
            "ACCEPT" => Action::Accept,
            "DROP" => Action::Drop,
            "REJECT" => Action::Reject,
            "RETURN" => Action::Return,
            _ if goto => Action::Goto(t),
            _ => Action::Jump(t),
        };
    }
    Some((chain, r))
}

/// The filter table of one `*-save` dump: `tool` names the program, `family` ipv4 or ipv6.
pub fn table(
    text: &str,
    tool: &str,
    family: &str,
    proto: Proto,
    port: u16,
    dests: &[IpAddr],
) -> Table {
    let mut t = Table {
        tool: tool.into(),
        family: family.into(),
        name: "filter".into(),
        bases: vec!["INPUT".into()],
        ..Table::default()
    };
    for line in text.lines() {
        if let Some(decl) = line.strip_prefix(':') {
            let mut parts = decl.split(' ');
            let (Some(name), Some(policy)) = (parts.next(), parts.next()) else {
                continue;
            };
            t.chains.entry(name.to_string()).or_default().policy = match policy {
                "DROP" => Some(Action::Drop),
                "ACCEPT" => Some(Action::Accept),
                _ => None,
            };
        } else if let Some((chain, r)) = parse_rule(line, proto, port, dests) {
            t.chains.entry(chain).or_default().rules.push(r);
        }
    }
    // A jump to something that is not a chain is a target module (LOG, MARK): the packet
    // goes on.
    let names: Vec<String> = t.chains.keys().cloned().collect();
    for c in t.chains.values_mut() {
        for r in &mut c.rules {
            if let Action::Jump(n) | Action::Goto(n) = &r.action
                && !names.contains(n)
            {
                r.action = Action::Continue;
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::nat::filter::rules::judge;
    use crate::model::reach::ReachVerdict;

    const UFW: &str = r#"*filter
:INPUT DROP [10:600]
:FORWARD DROP [0:0]
:ufw-before-input - [0:0]
:ufw-user-input - [0:0]
:ufw-skip-to-policy-input - [0:0]
[5:300] -A INPUT -j ufw-before-input
[0:0] -A ufw-before-input -i lo -j ACCEPT
[0:0] -A ufw-before-input -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
[0:0] -A ufw-before-input -m conntrack --ctstate INVALID -j DROP
[0:0] -A ufw-before-input -j ufw-user-input
[0:0] -A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT
[0:0] -A ufw-user-input -s 10.0.0.0/8 -p tcp -m multiport --dports 8000:8100 -m comment --comment "a \"quoted\" one" -j ACCEPT
[7:420] -A ufw-user-input -p tcp --dport 9000 -j REJECT --reject-with tcp-reset
[0:0] -A ufw-user-input -m limit --limit 3/min -j LOG --log-prefix "[UFW BLOCK] "
[0:0] -A ufw-user-input -p udp --dport 137 -j ufw-skip-to-policy-input
[0:0] -A ufw-skip-to-policy-input -j DROP
COMMIT
"#;

    #[test]
    fn a_ufw_shaped_table() {
        let judge_port = |p| judge(&table(UFW, "iptables-legacy", "ipv4", Proto::Tcp, p, &[]));
        assert_eq!(judge_port(22).0, ReachVerdict::Open);
        let (v, r) = judge_port(8080);
        assert_eq!(v, ReachVerdict::Partly);
        assert_eq!(r[0].sources, "10.0.0.0/8");
        assert_eq!(r[1].rule, "policy drop");
        let (v, r) = judge_port(9000);
        assert_eq!(v, ReachVerdict::Blocked);
        assert_eq!(
            (r[0].action.as_str(), r[0].packets, r[0].chain.as_str()),
            ("reject", Some(7), "ufw-user-input")
        );
        assert_eq!(
            r[0].rule,
            "-p tcp --dport 9000 -j REJECT --reject-with tcp-reset"
        );
        assert_eq!(judge_port(5000).0, ReachVerdict::Blocked);
        let v = judge(&table(UFW, "iptables", "ipv4", Proto::Udp, 137, &[]));
        assert_eq!(
            (v.0, v.1[0].chain.as_str()),
            (ReachVerdict::Blocked, "ufw-skip-to-policy-input")
        );
    }

    #[test]
    fn negations_and_sources() {
        let text = "*filter\n:INPUT ACCEPT [0:0]\n\
            -A INPUT ! -s 192.168.0.0/16 -p tcp --dport 80 -j DROP\n\
            -A INPUT -p tcp ! --dport 80 -j DROP\n\
            -A INPUT -s 127.0.0.1/32 -j DROP\n\
            -A INPUT -m iprange --src-range 10.0.0.1-10.0.0.9 -j REJECT\n";
        let (v, r) = judge(&table(text, "iptables", "ipv4", Proto::Tcp, 80, &[]));
        assert_eq!(v, ReachVerdict::Partly);
        let s: Vec<&str> = r.iter().map(|r| r.sources.as_str()).collect();
        assert_eq!(s, ["all but 192.168.0.0/16", "10.0.0.1-10.0.0.9"]);
        assert_eq!(
            judge(&table(text, "iptables", "ipv4", Proto::Tcp, 81, &[])).0,
            ReachVerdict::Blocked
        );
    }

    #[test]
    fn a_rule_for_another_destination_does_not_apply() {
        // kube-proxy's "has no endpoints" rejects name service IPs, not this host's address.
        let text = "*filter\n:INPUT ACCEPT [0:0]\n\
            -A INPUT -d 10.96.0.10/32 -p tcp --dport 80 -j REJECT\n\
            -A INPUT -d 192.168.1.0/24 -p tcp --dport 81 -j DROP\n";
        let here: Vec<IpAddr> = vec!["192.168.1.5".parse().unwrap(), "10.0.0.5".parse().unwrap()];
        let v = |port, dests: &[IpAddr]| {
            judge(&table(text, "iptables", "ipv4", Proto::Tcp, port, dests))
        };
        assert_eq!(v(80, &here).0, ReachVerdict::Open);
        let (verdict, r) = v(81, &here);
        assert_eq!(
            (verdict, r[0].sources.as_str()),
            (ReachVerdict::Partly, "to 192.168.1.0/24")
        );
        assert_eq!(
            v(81, &here[..1]).0,
            ReachVerdict::Blocked,
            "a listener bound to 192.168.1.5"
        );
        assert_eq!(
            v(80, &[]).0,
            ReachVerdict::Partly,
            "addresses unknown: a condition"
        );
    }
}
