//! The shipped monitoring assets agree with the binary: every metric an example alert rule uses
//! is one `portscope metrics` writes, and the rules file is valid YAML in Prometheus's shape.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use std::collections::BTreeSet;

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("portscope_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn alert_rules_use_only_metrics_portscope_writes() {
    if !private_netns("assets_alerts") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[[service]]\nname = \"api\"\nport = 21700\n",
    )
    .expect("config");
    std::fs::create_dir_all(dir.path().join("root/etc/sysctl.d")).expect("mkdir");
    // A client connection, so the per-destination port metrics have a destination.
    let server = tcp_listen("127.0.0.1:0");
    let _client = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
    // A recorder's log (empty but for its header): the refused-call counters are written.
    let log = dir.path().join("failures.log");
    drop(portscope::history::Recorder::open_as(&log, "recorder", &[]).expect("log"));
    let (code, prom, err) = run(portscope()
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .args(["metrics", "--failures-log"])
        .arg(&log)
        .arg("--sysctl-root")
        .arg(dir.path().join("root")));
    assert_eq!(code, 0, "{err}");
    let written: BTreeSet<String> = prom
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(String::from)
        .collect();
    let rules_text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("assets/prometheus/portscope-alerts.yml"),
    )
    .expect("rules");
    let rules: serde_norway::Value = serde_norway::from_str(&rules_text).expect("YAML");
    let mut used = BTreeSet::new();
    let groups = rules["groups"].as_sequence().expect("groups");
    for g in groups {
        for r in g["rules"].as_sequence().expect("rules") {
            assert!(r["alert"].as_str().is_some(), "{r:?}");
            let expr = r["expr"].as_str().expect("expr");
            used.extend(metric_names(expr));
        }
    }
    assert!(used.len() >= 6, "{used:?}");
    let missing: Vec<&String> = used.difference(&written).collect();
    assert!(
        missing.is_empty(),
        "rules use metrics portscope does not write: {missing:?}\n{prom}"
    );
}
