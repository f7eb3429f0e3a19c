//! Native tables as `nft -j` prints them.

use super::nft::tables;
use super::rules::judge;
use crate::model::Proto;
use crate::model::reach::ReachVerdict;

/// A firewalld-shaped table (zones reached through jumps, a final reject) next to a plain
/// `inet filter` table with a default-drop policy, a source set and a port verdict map.
const DOC: &str = r#"{"nftables":[
{"table":{"family":"inet","name":"firewalld"}},
{"chain":{"family":"inet","table":"firewalld","name":"filter_INPUT","type":"filter","hook":"input","prio":10,"policy":"accept"}},
{"chain":{"family":"inet","table":"firewalld","name":"filter_INPUT_ZONES"}},
{"chain":{"family":"inet","table":"firewalld","name":"filter_IN_public"}},
{"chain":{"family":"inet","table":"firewalld","name":"filter_IN_public_allow"}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","expr":[{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","expr":[{"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"lo"}},{"accept":null}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","expr":[{"jump":{"target":"filter_INPUT_ZONES"}}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT","expr":[{"reject":{"type":"icmpx","expr":"admin-prohibited"}}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_INPUT_ZONES","expr":[{"goto":{"target":"filter_IN_public"}}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_IN_public","expr":[{"jump":{"target":"filter_IN_public_allow"}}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_IN_public_allow","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":22}},{"match":{"op":"in","left":{"ct":{"key":"state"}},"right":{"set":["new","untracked"]}}},{"accept":null}]}},
{"rule":{"family":"inet","table":"firewalld","chain":"filter_IN_public_allow","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":{"prefix":{"addr":"10.0.0.0","len":8}}}},{"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":8080}},{"counter":{"packets":3,"bytes":180}},{"accept":null}]}},
{"table":{"family":"ip","name":"plain"}},
{"set":{"family":"ip","table":"plain","name":"bad","type":"ipv4_addr","elem":["192.0.2.1"]}},
{"chain":{"family":"ip","table":"plain","name":"input","type":"filter","hook":"input","prio":0,"policy":"accept"}},
{"rule":{"family":"ip","table":"plain","chain":"input","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"saddr"}},"right":"@bad"}},{"drop":null}]}},
{"rule":{"family":"ip","table":"plain","chain":"input","expr":[{"vmap":{"key":{"payload":{"protocol":"tcp","field":"dport"}},"data":{"set":[[9000,{"drop":null}],[9001,{"accept":null}]]}}}]}}
]}"#;

fn verdict(port: u16, family: &str) -> (ReachVerdict, Vec<String>) {
    let doc: serde_json::Value = serde_json::from_str(DOC).unwrap_or_default();
    let mut v = ReachVerdict::Open;
    let mut why = Vec::new();
    for t in tables(&doc, family, (Proto::Tcp, port), &[], &[]) {
        let (tv, r) = judge(&t);
        v = v.and(tv);
        why.extend(
            r.into_iter()
                .map(|r| format!("{} {}: {}", r.action, r.sources, r.rule)),
        );
    }
    (v, why)
}

#[test]
fn firewalld_and_plain_tables() {
    assert_eq!(verdict(22, "ipv4").0, ReachVerdict::Partly, "the @bad set");
    assert_eq!(verdict(22, "ipv6").0, ReachVerdict::Open);
    let (v, why) = verdict(8080, "ipv4");
    assert_eq!(v, ReachVerdict::Partly);
    assert!(
        why.iter().any(|w| w.starts_with(
            "accept 10.0.0.0/8: ip saddr 10.0.0.0/8 tcp dport 8080 counter packets 3"
        )),
        "{why:?}"
    );
    assert!(
        why.iter()
            .any(|w| w == "reject all sources: reject with admin-prohibited"),
        "{why:?}"
    );
    assert_eq!(verdict(8080, "ipv6").0, ReachVerdict::Blocked);
    assert_eq!(verdict(9000, "ipv4").0, ReachVerdict::Blocked);
    let (_, why) = verdict(9000, "ipv4");
    assert!(why.iter().any(|w| w.starts_with("drop @bad: ")), "{why:?}");
    assert!(
        why.iter()
            .any(|w| w == "drop all sources: tcp dport vmap { 9000 : drop, 9001 : accept }"),
        "{why:?}"
    );
}
