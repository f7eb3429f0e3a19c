//! `why --nat` against real NAT rules in a private network namespace: legacy iptables,
//! iptables-nft and native nftables tables, in the shapes kube-proxy, CNI portmap and Docker
//! write. Where a tool is missing the test says SKIPPED (a failure under CI=true).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use std::process::{Command, Stdio};

fn have(tool: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(tool).is_file())
}

fn tools_or_skip(test: &str) -> bool {
    let missing: Vec<&str> = [
        "iptables-legacy-restore",
        "iptables-nft-restore",
        "iptables-legacy-save",
        "iptables-nft-save",
        "nft",
    ]
    .into_iter()
    .filter(|t| !have(t))
    .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "SKIPPED {test}: missing {} (apt-get install iptables nftables)",
        missing.join(", ")
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    skip_note!("{msg}");
    false
}

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

const LEGACY_KUBE: &str = r#"*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-EXT-ABC - [0:0]
:KUBE-SVC-ABC - [0:0]
:KUBE-SEP-X1 - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/api:http" -m tcp --dport 30080 -j KUBE-EXT-ABC
-A KUBE-EXT-ABC -j KUBE-SVC-ABC
-A KUBE-SVC-ABC -m comment --comment "default/api:http -> 10.244.1.7:8080" -j KUBE-SEP-X1
-A KUBE-SEP-X1 -p tcp -m comment --comment "default/api:http" -m tcp -j DNAT --to-destination 10.244.1.7:8080
COMMIT
"#;

const NFT_DOCKER: &str = "*nat
:PREROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 30081 -j DNAT --to-destination 172.17.0.2:80
COMMIT
";

/// kube-proxy's nftables mode (a verdict map from proto . port to per-service chains whose
/// names carry namespace/name), loaded as JSON because nft's text syntax cannot name them.
const NATIVE_KUBE: &str = r#"{"nftables":[
{"table":{"family":"ip","name":"kube-proxy"}},
{"chain":{"family":"ip","table":"kube-proxy","name":"nat-prerouting","type":"nat","hook":"prerouting","prio":-100,"policy":"accept"}},
{"chain":{"family":"ip","table":"kube-proxy","name":"nodeports"}},
{"chain":{"family":"ip","table":"kube-proxy","name":"external-ABC-default/web/tcp/"}},
{"chain":{"family":"ip","table":"kube-proxy","name":"service-ABC-default/web/tcp/"}},
{"chain":{"family":"ip","table":"kube-proxy","name":"endpoint-XYZ-default/web/tcp/__10.244.3.4/8080"}},
{"map":{"family":"ip","table":"kube-proxy","name":"service-nodeports","type":["inet_proto","inet_service"],"map":"verdict"}},
{"element":{"family":"ip","table":"kube-proxy","name":"service-nodeports","elem":[[{"concat":["tcp",30082]},{"goto":{"target":"external-ABC-default/web/tcp/"}}]]}},
{"rule":{"family":"ip","table":"kube-proxy","chain":"nat-prerouting","expr":[{"jump":{"target":"nodeports"}}]}},
{"rule":{"family":"ip","table":"kube-proxy","chain":"nodeports","expr":[{"vmap":{"key":{"concat":[{"meta":{"key":"l4proto"}},{"payload":{"protocol":"th","field":"dport"}}]},"data":"@service-nodeports"}}]}},
{"rule":{"family":"ip","table":"kube-proxy","chain":"external-ABC-default/web/tcp/","expr":[{"goto":{"target":"service-ABC-default/web/tcp/"}}]}},
{"rule":{"family":"ip","table":"kube-proxy","chain":"service-ABC-default/web/tcp/","expr":[{"vmap":{"key":{"numgen":{"mode":"random","mod":1}},"data":{"set":[[0,{"goto":{"target":"endpoint-XYZ-default/web/tcp/__10.244.3.4/8080"}}]]}}}]}},
{"rule":{"family":"ip","table":"kube-proxy","chain":"endpoint-XYZ-default/web/tcp/__10.244.3.4/8080","expr":[{"match":{"op":"==","left":{"meta":{"key":"l4proto"}},"right":"tcp"}},{"dnat":{"addr":"10.244.3.4","port":8080}}]}}
]}"#;

const NATIVE_CNI: &str = "table ip cni_hostport {
  chain hostports { tcp dport 30083 dnat to 10.22.0.5:80 comment \"0123456789abcdef\"; }
  chain prerouting { type nat hook prerouting priority dstnat; jump hostports; }
}
";

/// `why PORT --nat --json`; `tool_path` replaces the system directories tools are found in.
fn why_nat(port: u16, tool_path: Option<&str>) -> serde_json::Value {
    let mut cmd = portscope();
    if let Some(p) = tool_path {
        cmd.args(["--tool-path", p]);
    }
    cmd.args(["why", &port.to_string(), "--nat", "--json"]);
    let (_, out, err) = run(&mut cmd);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

fn redirect(v: &serde_json::Value) -> (String, Vec<String>, String) {
    let r = &v["nat"]["redirects"];
    assert_eq!(r.as_array().map(Vec::len), Some(1), "{v}");
    (
        r[0]["source"].as_str().unwrap_or("").into(),
        r[0]["to"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        r[0]["what"].as_str().unwrap_or("").into(),
    )
}

#[test]
fn redirected_ports_are_found_in_every_rule_backend() {
    if !private_netns("nat_redirects") || !tools_or_skip("nat_redirects") {
        return;
    }
    load("iptables-legacy-restore", &[], LEGACY_KUBE);
    load("iptables-nft-restore", &[], NFT_DOCKER);
    load("nft", &["-j", "-f", "-"], NATIVE_KUBE);
    load("nft", &["-f", "-"], NATIVE_CNI);

    let v = why_nat(30080, None);
    assert_eq!(v["verdict"], "free", "nothing holds 30080: {v}");
    assert_eq!(
        redirect(&v),
        (
            "iptables-legacy".into(),
            vec!["10.244.1.7:8080".into()],
            "service default/api".into()
        )
    );
    assert_eq!(
        v["nat"]["summary"][0],
        "bind will succeed, but inbound traffic to 30080 goes to 10.244.1.7:8080 (service default/api) [iptables-legacy KUBE-NODEPORTS]"
    );
    let v = why_nat(30081, None);
    assert_eq!(
        redirect(&v),
        (
            "iptables-nft".into(),
            vec!["172.17.0.2:80".into()],
            "docker published port".into()
        )
    );
    let v = why_nat(30082, None);
    assert_eq!(
        redirect(&v),
        (
            "nft".into(),
            vec!["10.244.3.4:8080".into()],
            "service default/web".into()
        )
    );
    let v = why_nat(30083, None);
    assert_eq!(
        redirect(&v),
        (
            "nft".into(),
            vec!["10.22.0.5:80".into()],
            "hostPort of sandbox 0123456789ab".into()
        )
    );
    let v = why_nat(30090, None);
    assert_eq!(v["nat"]["redirects"].as_array().map(Vec::len), Some(0));
    assert!(
        v["nat"]["summary"][0]
            .as_str()
            .unwrap_or("")
            .starts_with("no NAT rule redirects tcp port 30090")
    );
    // A held port: the rules run before any socket sees the traffic.
    let l = tcp_listen("0.0.0.0:30080");
    let v = why_nat(30080, None);
    assert_eq!(v["verdict"], "in_use");
    assert!(
        v["nat"]["summary"][0]
            .as_str()
            .unwrap_or("")
            .contains("before it reaches any socket here"),
        "{v}"
    );
    drop(l);
    // Text form.
    let (_, out, _) = run(portscope().args(["why", "30080", "--nat"]));
    assert!(out.contains("NAT rules"), "{out}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("inbound traffic to 30080 goes to 10.244.1.7:8080 (service default/api)"),
        "{out}"
    );
    // Neither tool found: said so, nothing else.
    let empty = tempfile::tempdir().expect("tmp");
    let dir = empty.path().to_string_lossy().into_owned();
    let v = why_nat(30080, Some(&dir));
    let s = v["nat"]["summary"][0].as_str().unwrap_or("");
    assert!(
        s.starts_with("NAT rules not checked: neither iptables-save nor nft could be run"),
        "{s}"
    );
    // Through --netns from outside: the rules of that namespace, not ours.
    let holder = idle();
    let pid = holder.pid().to_string();
    let (_, out, err) = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        run(portscope().args(["--netns", &pid, "why", "30082", "--nat", "--json"]))
    })
    .join()
    .expect("thread");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e} {err}"));
    assert_eq!(redirect(&v).1, vec!["10.244.3.4:8080".to_string()]);
}
