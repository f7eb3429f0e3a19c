//! Reachability of a listening port against real filter rules in private namespaces, each
//! verdict checked by real connections over a veth pair: from outside (the client namespace,
//! from two source ranges) and from inside (the server's own namespace). iptables legacy and
//! nft backends, native nftables with ufw-like and firewalld-like tables, a DROP by source
//! range, a REJECT, a default-drop policy with an accept rule. Tools missing: SKIPPED (a
//! failure under CI=true).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::veth::{CLIENT_A, CLIENT_B, Outside, Reach, SERVER, connect_from, tools_or_skip};
use common::*;
use serde_json::Value;
use std::net::SocketAddrV4;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Long enough for a connection that should succeed on a loaded machine.
const ANSWER: Duration = Duration::from_secs(10);
/// How long an unanswered SYN is waited for before calling it dropped (the first SYN
/// retransmission is at 1 s, so a drop shows as no answer well before this).
const SILENCE: Duration = Duration::from_millis(1500);

fn load(tool: &str, args: &[&str], input: &str) {
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new(tool)
            .args(args)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
    };
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input.as_bytes())
        .expect("write rules");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn why(args: &[&str]) -> Value {
    let mut cmd = portscope();
    cmd.arg("why").args(args).arg("--json");
    let (_, out, err) = run(&mut cmd);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

fn inside(port: u16) -> Reach {
    connect_from(Some(SERVER), SocketAddrV4::new(SERVER, port), ANSWER)
}

fn set_up(test: &str, tools: &[&str]) -> Option<Outside> {
    if !private_netns(test) || !tools_or_skip(test, tools) {
        return None;
    }
    Some(Outside::new())
}

fn rules(v: &Value) -> Vec<(String, String, String)> {
    v["reachability"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["tool"].as_str().unwrap_or("").to_string(),
                r["action"].as_str().unwrap_or("").to_string(),
                r["sources"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn legacy_drop_by_source_range_is_partly() {
    let Some(out) = set_up(
        "reach_legacy_drop",
        &["iptables-legacy-restore", "iptables-legacy-save", "nft"],
    ) else {
        return;
    };
    load(
        "iptables-legacy-restore",
        &[],
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.201.0.0/24 -p tcp -m tcp --dport 7001 -j DROP\n\
         -A INPUT -d 10.96.0.10/32 -p tcp -m tcp --dport 7001 -j REJECT\nCOMMIT\n",
    );
    let _l = tcp_listen("0.0.0.0:7001");
    let v = why(&["7001"]);
    assert_eq!(v["reachability"]["verdict"], "partly", "{v}");
    // The REJECT names a service IP, not an address of this namespace: it is not listed.
    assert_eq!(
        rules(&v),
        [(
            "iptables-legacy".into(),
            "drop".into(),
            "10.201.0.0/24".into()
        )]
    );
    assert_eq!(out.connect(CLIENT_A, 7001, ANSWER), Reach::Connected);
    assert_eq!(out.connect(CLIENT_B, 7001, SILENCE), Reach::TimedOut);
    assert_eq!(inside(7001), Reach::Connected);
    // The dropped SYNs were counted by the very rule named.
    let v = why(&["7001"]);
    assert!(
        v["reachability"]["rules"][0]["packets"].as_u64() >= Some(1),
        "{v}"
    );
    let text = run(portscope().args(["why", "7001"])).1;
    assert!(
        text.contains("drops 10.201.0.0/24 (ipv4): iptables-legacy filter chain INPUT"),
        "{text}"
    );
}

#[test]
fn nft_backed_reject_is_blocked() {
    let Some(out) = set_up(
        "reach_nft_reject",
        &["iptables-nft-restore", "iptables-nft-save", "nft"],
    ) else {
        return;
    };
    load(
        "iptables-nft-restore",
        &[],
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 7002 -j REJECT --reject-with tcp-reset\nCOMMIT\n",
    );
    let _l = tcp_listen("0.0.0.0:7002");
    let v = why(&["7002"]);
    assert_eq!(v["reachability"]["verdict"], "blocked", "{v}");
    // Read once, through iptables-nft-save (the nft table it manages is not read twice).
    assert_eq!(
        rules(&v),
        [("iptables-nft".into(), "reject".into(), "all sources".into())]
    );
    assert_eq!(out.connect(CLIENT_A, 7002, ANSWER), Reach::Refused);
    assert_eq!(out.connect(CLIENT_B, 7002, ANSWER), Reach::Refused);
    assert_eq!(inside(7002), Reach::Refused);
    // A port the rule does not name is open.
    let _m = tcp_listen("0.0.0.0:7003");
    assert_eq!(why(&["7003"])["reachability"]["verdict"], "open");
    assert_eq!(out.connect(CLIENT_A, 7003, ANSWER), Reach::Connected);
}

const UFW_LIKE: &str = "table inet ufwlike {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif lo accept
    ct state invalid drop
    jump user_input
  }
  chain user_input {
    tcp dport 7004 ip saddr 10.200.0.0/24 counter accept
    tcp dport { 7006, 7015 } accept
  }
}
";

#[test]
fn ufw_like_default_drop_with_an_accept_rule() {
    let Some(out) = set_up("reach_ufw_like", &["nft"]) else {
        return;
    };
    load("nft", &["-f", "-"], UFW_LIKE);
    let (_a, _b, _c) = (
        tcp_listen("0.0.0.0:7004"),
        tcp_listen("0.0.0.0:7005"),
        tcp_listen("0.0.0.0:7006"),
    );
    let v = why(&["7004"]);
    assert_eq!(v["reachability"]["verdict"], "partly", "{v}");
    assert_eq!(
        rules(&v),
        [
            ("nft".into(), "accept".into(), "10.200.0.0/24".into()),
            ("nft".into(), "drop".into(), "all sources".into())
        ]
    );
    assert_eq!(v["reachability"]["rules"][1]["rule"], "policy drop");
    assert_eq!(out.connect(CLIENT_A, 7004, ANSWER), Reach::Connected);
    assert_eq!(out.connect(CLIENT_B, 7004, SILENCE), Reach::TimedOut);
    assert_eq!(inside(7004), Reach::Connected, "loopback is let in");

    let v = why(&["7005"]);
    assert_eq!(v["reachability"]["verdict"], "blocked", "{v}");
    assert_eq!(out.connect(CLIENT_A, 7005, SILENCE), Reach::TimedOut);
    assert_eq!(inside(7005), Reach::Connected);

    assert_eq!(why(&["7006"])["reachability"]["verdict"], "open");
    assert_eq!(out.connect(CLIENT_B, 7006, ANSWER), Reach::Connected);

    // check: a declared listener the rules block is a WARNING, with the rule named (fresh
    // listeners: the ones above hold unaccepted connections, which check calls slow).
    let (_d, _e) = (tcp_listen("0.0.0.0:7014"), tcp_listen("0.0.0.0:7015"));
    let (code, text, _) = run(portscope().args(["check", "--port", "7014,7015", "--json"]));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!((code, &v["status"]), (1, &Value::from("warning")), "{v}");
    let results = &v["services"][0]["results"];
    assert_eq!(results[0]["reachability"], "blocked", "{v}");
    assert!(
        results[0]["text"]
            .as_str()
            .unwrap_or("")
            .contains("firewall blocks it from outside (drops all sources"),
        "{v}"
    );
    assert_eq!(results[1]["reachability"], "open", "{v}");
    let (code, text, _) = run(portscope().args(["check", "--port", "7014", "--no-firewall"]));
    assert_eq!(code, 0, "--no-firewall reads no rules: {text}");
    // This namespace's connection-tracking table holds the connections made above (the ct
    // rules track them), and why, check and metrics say so.
    let v = why(&["7004"]);
    assert!(v["conntrack"]["count"].as_u64() >= Some(1), "{v}");
    let (_, text, _) = run(portscope().args(["check", "--port", "7015"]));
    assert!(text.contains(" conntrack_entries="), "{text}");
    let (_, text, _) = run(portscope().args(["metrics"]));
    assert!(text.contains("\nportscope_conntrack_entries "), "{text}");
    assert!(text.contains("\nportscope_conntrack_max "), "{text}");
}

const FIREWALLD_LIKE: &str = "table inet firewalldlike {
  chain filter_INPUT {
    type filter hook input priority filter + 10; policy accept;
    ct state { established, related } accept
    ct status dnat accept
    iifname \"lo\" accept
    ct state invalid drop
    jump filter_INPUT_ZONES
    reject with icmpx admin-prohibited
  }
  chain filter_INPUT_ZONES {
    iifname \"psr0\" goto filter_IN_public
    goto filter_IN_public
  }
  chain filter_IN_public {
    jump filter_IN_public_deny
    jump filter_IN_public_allow
  }
  chain filter_IN_public_deny {
    ip saddr 10.201.0.0/24 tcp dport 7008 reject
  }
  chain filter_IN_public_allow {
    tcp dport { 7007, 7008 } ct state { new, untracked } accept
  }
}
";

#[test]
fn firewalld_like_zones() {
    let Some(out) = set_up("reach_firewalld_like", &["nft"]) else {
        return;
    };
    load("nft", &["-f", "-"], FIREWALLD_LIKE);
    let (_a, _b, _c) = (
        tcp_listen("0.0.0.0:7007"),
        tcp_listen("0.0.0.0:7008"),
        tcp_listen("0.0.0.0:7009"),
    );
    assert_eq!(why(&["7007"])["reachability"]["verdict"], "open");
    assert_eq!(out.connect(CLIENT_A, 7007, ANSWER), Reach::Connected);
    assert_eq!(out.connect(CLIENT_B, 7007, ANSWER), Reach::Connected);

    let v = why(&["7008"]);
    assert_eq!(v["reachability"]["verdict"], "partly", "{v}");
    assert!(
        rules(&v).contains(&("nft".into(), "reject".into(), "10.201.0.0/24".into())),
        "{v}"
    );
    assert_eq!(out.connect(CLIENT_A, 7008, ANSWER), Reach::Connected);
    assert_eq!(out.connect(CLIENT_B, 7008, ANSWER), Reach::Refused);

    let v = why(&["7009"]);
    assert_eq!(v["reachability"]["verdict"], "blocked", "{v}");
    assert_eq!(out.connect(CLIENT_A, 7009, ANSWER), Reach::Unreachable);
    assert_eq!(inside(7009), Reach::Connected);
}

#[test]
fn ip6tables_drop_makes_a_dual_stack_listener_partly_reachable() {
    let Some(out) = set_up(
        "reach_ip6tables",
        &["ip6tables-legacy-restore", "ip6tables-legacy-save", "nft"],
    ) else {
        return;
    };
    load(
        "ip6tables-legacy-restore",
        &[],
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p tcp -m tcp --dport 7030 -j DROP\nCOMMIT\n",
    );
    // [::] without IPV6_V6ONLY takes IPv4 too: the IPv6 rule blocks only half of it.
    let _l = std::net::TcpListener::bind("[::]:7030").unwrap();
    let v = why(&["7030"]);
    assert_eq!(v["reachability"]["verdict"], "partly", "{v}");
    let r = &v["reachability"]["rules"][0];
    assert_eq!(
        (r["tool"].as_str(), r["family"].as_str()),
        (Some("ip6tables-legacy"), Some("ipv6")),
        "{v}"
    );
    assert_eq!(out.connect(CLIENT_A, 7030, ANSWER), Reach::Connected);
    assert_eq!(out.connect6(7030, SILENCE), Reach::TimedOut);
    // The IPv6 path itself works: a port the rule does not name connects.
    let _m = std::net::TcpListener::bind("[::]:7031").unwrap();
    assert_eq!(why(&["7031"])["reachability"]["verdict"], "open");
    assert_eq!(out.connect6(7031, ANSWER), Reach::Connected);
}

#[test]
fn addresses_budget_and_missing_tools() {
    let Some(out) = set_up("reach_addresses", &["nft"]) else {
        return;
    };
    // Loopback only: unreachable by its address, whatever the rules.
    let _lo = tcp_listen("127.0.0.1:7010");
    let v = why(&["7010"]);
    assert_eq!(v["reachability"]["verdict"], "blocked", "{v}");
    assert!(
        v["reachability"]["notes"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("unreachable from outside by its address"),
        "{v}"
    );
    assert_eq!(out.connect(CLIENT_A, 7010, ANSWER), Reach::Refused);
    // IPv6-only: IPv4 clients cannot reach it by its address.
    let _v6 = tcp_listen_v6only(7011);
    let v = why(&["7011"]);
    assert!(
        v["reachability"]["notes"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("unreachable from IPv4"),
        "{v}"
    );
    assert_eq!(out.connect(CLIENT_A, 7011, ANSWER), Reach::Refused);
    // --no-firewall reads nothing.
    let _open = tcp_listen("0.0.0.0:7012");
    assert!(
        why(&["7012", "--no-firewall"])
            .get("reachability")
            .is_none()
    );
    // Neither tool: said so, verdict unknown.
    let empty = tempfile::tempdir().unwrap();
    let v = why(&["--tool-path", empty.path().to_str().unwrap(), "7012"]);
    assert_eq!(v["reachability"]["verdict"], "unknown", "{v}");
    let text =
        run(portscope().args(["--tool-path", empty.path().to_str().unwrap(), "why", "7012"])).1;
    assert!(
        text.contains("neither iptables-save nor nft could be run"),
        "{text}"
    );
    // A tool slower than the budget: the budget ends it, and says so.
    write_executable(&empty.path().join("nft"), b"#!/bin/sh\nexec sleep 30\n");
    let started = std::time::Instant::now();
    let v = why(&["--tool-path", empty.path().to_str().unwrap(), "7012"]);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the budget did not hold"
    );
    let notes = v["reachability"]["notes"].to_string();
    assert!(
        notes.contains("time budget of 3000 ms ran out before nft"),
        "{v}"
    );
    assert_eq!(out.connect(CLIENT_A, 7012, ANSWER), Reach::Connected);
}
