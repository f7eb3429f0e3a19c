//! Unit tests of [`super::plan`].

use super::plan::*;
use crate::model::{Family, NetnsInfo, Owner, Source, State, Stats};
use crate::model::{Proto, Snapshot, Socket, Sysctls};
use crate::portset::PortSet;
use std::sync::Arc;

fn ps(s: &str) -> PortSet {
    PortSet::parse(s).unwrap()
}

fn sock(proto: Proto, state: State, port: u16, autobound: bool) -> Socket {
    Socket {
        proto,
        family: Family::Ipv4,
        state,
        local_addr: "127.0.0.1".parse().unwrap(),
        local_port: port,
        remote_addr: if state == State::Listen || state == State::Unconn {
            "0.0.0.0".parse().unwrap()
        } else {
            "127.0.0.1".parse().unwrap()
        },
        remote_port: if state == State::Listen { 0 } else { 5432 },
        inode: 1,
        cookie: 0,
        uid: 0,
        rx_queue: 0,
        tx_queue: 0,
        autobound,
        accept_queue: false,
        v6only: None,
        expires_ms: None,
        kernel_held: state == State::TimeWait,
        owner_hidden: false,
        published: None,
        netns: 0,
        owners: if state == State::TimeWait {
            crate::model::no_owners()
        } else {
            Arc::from([Arc::new(Owner {
                pid: 42,
                comm: "curl".into(),
                cmdline: "curl".into(),
                uid: 0,
                user: "root".into(),
                start_time: 1,
                unit: None,
                container: None,
                nspid: vec![42],
                ..Owner::default()
            })])
        },
    }
}

fn snap(range: [u16; 2], reserved: &str, sockets: Vec<Socket>) -> Snapshot {
    Snapshot {
        version: 1,
        taken_at: jiff::Timestamp::UNIX_EPOCH,
        source: Source::Netlink,
        netns: NetnsInfo {
            target: "current".into(),
            inode: 1,
            is_own: true,
        },
        sysctl: Sysctls {
            ip_local_port_range: range,
            ip_local_reserved_ports: ps(reserved),
            ..Sysctls::default()
        },
        stats: Stats::default(),
        warnings: vec![],
        sockets,
        namespaces: Vec::new(),
        node_port_range: None,
    }
}

#[test]
fn merge_remove_and_arithmetic() {
    // (range, current, add, remove) -> (proposed, added, removed, before, after)
    let cases = [
        (
            [32768, 60999],
            "9000-9010",
            "8080",
            "",
            ("8080,9000-9010", "8080", "", 28232, 28232),
        ),
        (
            [32768, 60999],
            "40000-40009",
            "40005-40019",
            "",
            ("40000-40019", "40010-40019", "", 28222, 28212),
        ),
        (
            [32768, 60999],
            "8080,40000-40009",
            "",
            "40005-40009,8080",
            ("40000-40004", "", "8080,40005-40009", 28222, 28227),
        ),
        (
            [1000, 1009],
            "",
            "1000-1004",
            "",
            ("1000-1004", "1000-1004", "", 10, 5),
        ),
        (
            [1000, 1009],
            "1000-1009",
            "",
            "",
            ("1000-1009", "", "", 0, 0),
        ),
        ([0, 65535], "", "", "", ("", "", "", 65536, 65536)),
        (
            [60999, 32768],
            "",
            "32768",
            "",
            ("32768", "32768", "", 28232, 28231),
        ),
    ];
    for (range, cur, add, rem, (prop, added, removed, before, after)) in cases {
        let s = snap(range, cur, vec![]);
        let p = Plan::new(&ps(cur), &ps(add), &ps(rem), &s);
        let got = (
            p.proposed.to_string(),
            p.added.to_string(),
            p.removed.to_string(),
            p.ephemeral.usable_before,
            p.ephemeral.usable_after,
        );
        assert_eq!(
            got,
            (
                prop.to_string(),
                added.to_string(),
                removed.to_string(),
                before,
                after
            ),
            "range {range:?} current {cur:?} add {add:?} remove {rem:?}"
        );
    }
}

#[test]
#[allow(clippy::float_cmp)] // percent_after is rounded to one decimal, so it equals the literal
fn percentages_and_low_capacity_warning() {
    let cases = [
        // (range, add, percent_after, low)
        ([32768, 60999], "32768-40000", 74.4, false),
        ([32768, 60999], "32768-50000", 39.0, true),
        ([50000, 65535], "50000-50999", 93.6, false),
        ([50000, 59999], "", 100.0, false),
        ([50000, 58999], "", 100.0, true), // 9000 ports: too few whatever the share
    ];
    for (range, add, pct, low) in cases {
        let p = Plan::new(
            &PortSet::new(),
            &ps(add),
            &PortSet::new(),
            &snap(range, "", vec![]),
        );
        assert_eq!(p.ephemeral.percent_after, pct, "{range:?} {add}");
        assert_eq!(p.ephemeral.is_low_after(), low, "{range:?} {add}");
        assert_eq!(
            p.warnings.iter().any(|w| w.contains("can run out")),
            low,
            "{:?}",
            p.warnings
        );
    }
}

#[test]
fn outside_range_and_noop_warnings() {
    let s = snap([32768, 60999], "9000", vec![]);
    let p = Plan::new(&ps("9000"), &ps("8080,9000,40000"), &ps("7000"), &s);
    let clear = Plan::new(&ps("9000"), &PortSet::new(), &ps("0-65535"), &s);
    assert!(
        clear
            .warnings
            .iter()
            .all(|w| !w.contains("nothing to remove"))
    );
    assert_eq!(clear.proposed.to_string(), "");
    assert_eq!(p.added.to_string(), "8080,40000");
    let joined = p.warnings.join("\n");
    assert!(
        joined.contains("8080 outside the ephemeral range 32768-60999"),
        "{joined}"
    );
    assert!(!joined.contains("40000 outside"), "{joined}");
    assert!(joined.contains("9000 already reserved"), "{joined}");
    assert!(joined.contains("7000 not reserved now"), "{joined}");
}

#[test]
fn held_sockets_are_listed_and_only_intruders_warned() {
    let sockets = vec![
        sock(Proto::Tcp, State::Listen, 40000, false),
        sock(Proto::Tcp, State::Established, 40000, false), // accepted child
        sock(Proto::Tcp, State::Established, 40001, true),  // outgoing, stole the port
        sock(Proto::Tcp, State::TimeWait, 40002, false),
        sock(Proto::Tcp, State::Established, 45000, true), // not in the proposal
    ];
    let s = snap([32768, 60999], "", sockets);
    let p = Plan::new(&PortSet::new(), &ps("40000-40002"), &PortSet::new(), &s);
    let ports: Vec<u16> = p.held.iter().map(|s| s.local_port).collect();
    assert_eq!(ports, [40000, 40000, 40001, 40002]);
    let held: Vec<&String> = p
        .warnings
        .iter()
        .filter(|w| w.contains("held now"))
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    assert!(held[0].contains("port 40001") && held[0].contains("curl (pid 42)"));
    assert!(held[1].contains("port 40002") && held[1].contains("the kernel"));
}

#[test]
fn at_risk_listeners_skip_reserved_outside_and_autobound() {
    let sockets = vec![
        sock(Proto::Tcp, State::Listen, 40000, false),
        sock(Proto::Tcp, State::Listen, 40001, false), // reserved
        sock(Proto::Tcp, State::Listen, 8080, false),  // outside the range
        sock(Proto::Udp, State::Unconn, 40002, false),
        sock(Proto::Udp, State::Unconn, 40003, true), // a client's kernel-chosen port
        sock(Proto::Tcp, State::Established, 40004, true),
    ];
    let s = snap([32768, 60999], "40001", sockets);
    assert_eq!(at_risk_ports(&s).to_string(), "40000,40002");
    let p = Plan::new(&ps("40001"), &ps("40000"), &PortSet::new(), &s);
    let left: Vec<u16> = p.at_risk_after.iter().map(|s| s.local_port).collect();
    assert_eq!(left, [40002]);
}

#[test]
fn json_has_the_public_fields() {
    let s = snap([32768, 60999], "9000-9010", vec![]);
    let p = Plan::new(&ps("9000-9010"), &ps("8080"), &PortSet::new(), &s);
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["current"], "9000-9010");
    assert_eq!(v["proposed"], "8080,9000-9010");
    assert_eq!(v["added"], "8080");
    assert_eq!(v["removed"], "");
    assert_eq!(v["ephemeral"]["range"], serde_json::json!([32768, 60999]));
    assert_eq!(v["ephemeral"]["usable_before"], 28232);
    assert_eq!(v["ephemeral"]["usable_after"], 28232);
    assert!(v["held"].as_array().unwrap().is_empty());
    assert!(v["warnings"].is_array());
}
