//! `portscope check` and `portscope metrics` against real sockets in private network namespaces:
//! each outcome is made for real (a listener of the expected process, a free port at risk, a port
//! stolen by an outgoing connection, a port held by another process, drift against a temporary
//! sysctl tree, bad arguments) and the binary is run as a monitoring system would run it.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
const RESERVED: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";

/// A config file with `[[service]]` tables and an empty sysctl tree, in a temp dir.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new(services: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("config.toml"), services).expect("config");
        std::fs::create_dir_all(dir.path().join("root/etc/sysctl.d")).expect("mkdir");
        Env { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = portscope();
        c.arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .args(args)
            .arg("--sysctl-root")
            .arg(self.root());
        c
    }

    fn check(&self, args: &[&str]) -> (i32, String) {
        let mut a = vec!["check"];
        a.extend_from_slice(args);
        let (code, out, err) = run(&mut self.cmd(&a));
        assert!(err.is_empty(), "check wrote to stderr: {err}");
        (code, out)
    }

    fn check_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let mut a = args.to_vec();
        a.push("--json");
        let (code, out) = self.check(&a);
        let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        (code, v)
    }
}

fn first_line(out: &str) -> &str {
    out.lines().next().unwrap_or("")
}

/// A Nagios threshold range (plugin guidelines): `[@]start:end`, `N` for `0:N`, `N:` for
/// N to infinity, `~:N` from minus infinity; `@` alerts inside instead of outside. Whether
/// `value` alerts against it.
fn range_alerts(range: &str, value: f64) -> bool {
    let (inside, r) = match range.strip_prefix('@') {
        Some(r) => (true, r),
        None => (false, range),
    };
    let (start, end) = match r.split_once(':') {
        Some((s, e)) => (s, e),
        None => ("0", r),
    };
    let num = |t: &str| {
        t.parse::<f64>()
            .unwrap_or_else(|e| panic!("range {range:?}: {e}"))
    };
    let lo = if start == "~" {
        f64::NEG_INFINITY
    } else {
        num(start)
    };
    let hi = if end.is_empty() {
        f64::INFINITY
    } else {
        num(end)
    };
    assert!(lo <= hi, "range {range:?}: start above end");
    let within = lo <= value && value <= hi;
    if inside { within } else { !within }
}

/// The perfdata of a plugin line, checked against the guidelines' grammar
/// (`'label'=value[UOM];[warn];[crit];[min];[max]`): label, value, and for each threshold the
/// status it implies (0 OK, 1 WARNING, 2 CRITICAL).
fn perfdata(line: &str) -> Vec<(String, f64, u8)> {
    let (_, perf) = line.split_once(" | ").expect("perfdata after |");
    perf.split(' ')
        .map(|item| {
            let (label, rest) = item.split_once('=').expect("label=value");
            assert!(!label.is_empty() && !label.contains('\''), "{item}");
            let fields: Vec<&str> = rest.split(';').collect();
            assert!(fields.len() <= 5, "at most value;warn;crit;min;max: {item}");
            let number: String = fields[0]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == '-')
                .collect();
            let uom = &fields[0][number.len()..];
            assert!(
                ["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"].contains(&uom),
                "unit {uom:?} in {item}"
            );
            let v: f64 = number.parse().unwrap_or_else(|e| panic!("{item}: {e}"));
            for bound in fields.iter().skip(3) {
                assert!(
                    bound.is_empty() || bound.parse::<f64>().is_ok(),
                    "min/max {item}"
                );
            }
            let alerts = |i: usize| {
                fields
                    .get(i)
                    .is_some_and(|r| !r.is_empty() && range_alerts(r, v))
            };
            let status = if alerts(2) {
                2
            } else if alerts(1) {
                1
            } else {
                0
            };
            (label.to_string(), v, status)
        })
        .collect()
}

/// The status a metric's thresholds imply, by its label.
fn perf_status(out: &str, label: &str) -> u8 {
    perfdata(first_line(out))
        .into_iter()
        .find(|(l, _, _)| l == label)
        .unwrap_or_else(|| panic!("no {label} in {out}"))
        .2
}

/// The plugin format: `PORTSCOPE STATUS - summary | perfdata`, whose thresholds never imply a
/// worse status than the plugin's own.
fn assert_plugin_line(out: &str, status: &str) {
    let l = first_line(out);
    assert!(
        l.starts_with(&format!("PORTSCOPE {status} - ")),
        "first line {l:?} in\n{out}"
    );
    let code = ["OK", "WARNING", "CRITICAL", "UNKNOWN"]
        .iter()
        .position(|s| *s == status)
        .unwrap();
    for (label, _, implied) in perfdata(l) {
        assert!(
            usize::from(implied) <= code,
            "{label} implies {implied} in {l}"
        );
    }
}

#[test]
fn threshold_ranges_follow_the_guidelines() {
    assert!(range_alerts("10", 11.0) && !range_alerts("10", 10.0) && range_alerts("10", -1.0));
    assert!(range_alerts("10:", 9.0) && !range_alerts("10:", 1e9));
    assert!(!range_alerts("~:10", -5.0) && range_alerts("~:10", 11.0));
    assert!(range_alerts("10:20", 21.0) && !range_alerts("10:20", 15.0));
    assert!(range_alerts("@10:20", 15.0) && !range_alerts("@10:20", 21.0));
    assert_eq!(
        perfdata("X | ephemeral_usable=28232;10000:;1000:;0;28232 drift=1;0"),
        [
            ("ephemeral_usable".into(), 28232.0, 0),
            ("drift".into(), 1.0, 1)
        ]
    );
}

fn write_proc(path: &str, v: &str) {
    std::fs::write(path, format!("{v}\n")).expect("write sysctl");
}

#[test]
fn expected_owner_listening_is_ok() {
    if !private_netns("check_ok") {
        return;
    }
    let env = Env::new("[[service]]\nname = \"api\"\nport = 21080\nprocess = \"sleep\"\n");
    let l = tcp_listen("0.0.0.0:21080");
    let api = hold(&[&l.as_fd()]);
    drop(l);
    let (code, out) = env.check(&[]);
    assert_eq!(code, 0, "{out}");
    assert_plugin_line(&out, "OK");
    // The holder is phrased as why phrases it: the unit or container follows the pid where the
    // test runs inside one (a login session's scope).
    assert!(
        out.contains(&format!("OK: api 21080/tcp: sleep (pid {}", api.pid()))
            && out.contains(") listens"),
        "{out}"
    );
    let (code, v) = env.check_json(&[]);
    assert_eq!(code, 0);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["services"][0]["results"][0]["state"], "listening");
    // ExecStartPre of the service itself: nothing listens yet, the port is free and outside the
    // ephemeral range: the start goes ahead.
    drop(api);
    let (code, out) = env.check(&["--service", "api", "--pre-start"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("nothing listens; free and outside the ephemeral range"),
        "{out}"
    );
    // Monitoring a running service: down is CRITICAL when asked for.
    let (code, out) = env.check(&["--require-listening"]);
    assert_eq!(code, 2, "{out}");
    assert_plugin_line(&out, "CRITICAL");
}

#[test]
fn free_port_inside_the_ephemeral_range_is_a_warning_until_reserved() {
    if !private_netns("check_at_risk") {
        return;
    }
    let env = Env::new("[[service]]\nname = \"pool\"\nport = \"40100-40102\"\n");
    let (code, out) = env.check(&[]);
    assert_eq!(code, 1, "{out}");
    assert_plugin_line(&out, "WARNING");
    assert!(
        first_line(&out).contains("pool 40100-40102/tcp free but at risk"),
        "{out}"
    );
    assert!(first_line(&out).contains("ports_warning=3"), "{out}");
    assert!(
        out.lines()
            .nth(1)
            .unwrap_or("")
            .starts_with("WARNING: pool 40100-40102/tcp: nothing listens"),
        "{out}"
    );
    assert!(out.contains("portscope reserve apply 40100-40102"), "{out}");
    // --pre-start lets a WARNING through (exit 0) but still prints it.
    let (code, out) = env.check(&["--pre-start"]);
    assert_eq!(code, 0);
    assert_plugin_line(&out, "WARNING");
    // Reserved (at runtime and at boot, so there is no drift either): OK.
    write_proc(RESERVED, "40100-40102");
    std::fs::write(
        env.root().join("etc/sysctl.d/60-ports.conf"),
        "net.ipv4.ip_local_reserved_ports = 40100-40102\n",
    )
    .expect("conf");
    let (code, out) = env.check(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("nothing listens; free and reserved"), "{out}");
}

#[test]
fn port_stolen_by_an_outgoing_connection_is_critical_with_the_thief_named() {
    if !private_netns("check_stolen") {
        return;
    }
    let env = Env::new("[[service]]\nname = \"api\"\nport = 40200\nprocess = \"api\"\n");
    let server = tcp_listen("127.0.0.1:21200");
    // The kernel has one ephemeral port to give: the declared one.
    let before = std::fs::read_to_string(RANGE).expect("range");
    write_proc(RANGE, "40200 40200");
    let client = TcpStream::connect("127.0.0.1:21200").expect("connect");
    write_proc(RANGE, before.trim());
    assert_eq!(client.local_addr().expect("addr").port(), 40200);
    let thief = hold(&[&client.as_fd()]);
    drop(client);
    let (accepted, _) = server.accept().expect("accept");
    let (code, out) = env.check(&[]);
    assert_eq!(code, 2, "{out}");
    assert_plugin_line(&out, "CRITICAL");
    let crit = out
        .lines()
        .find(|l| l.starts_with("CRITICAL: api 40200/tcp"))
        .unwrap_or_else(|| panic!("{out}"));
    // Holder and the why explanation, on one line.
    assert!(
        crit.contains(&format!(
            "held by outgoing connection of sleep (pid {}",
            thief.pid()
        )) && crit.contains("127.0.0.1:21200")
            && crit.contains("ephemeral range"),
        "{crit}"
    );
    let (_, v) = env.check_json(&[]);
    let r = &v["services"][0]["results"][0];
    assert_eq!(r["state"], "held");
    assert_eq!(r["status"], "critical");
    drop((accepted, server));
}

#[test]
fn port_held_by_another_process_is_critical() {
    if !private_netns("check_other_owner") {
        return;
    }
    let env = Env::new("[[service]]\nname = \"web\"\nport = 21300\nprocess = \"nginx\"\n");
    let l = tcp_listen("0.0.0.0:21300");
    let squatter = hold(&[&l.as_fd()]);
    drop(l);
    let (code, out) = env.check(&[]);
    assert_eq!(code, 2, "{out}");
    assert_plugin_line(&out, "CRITICAL");
    assert!(
        first_line(&out).contains(&format!(
            "web 21300/tcp held by sleep (pid {}",
            squatter.pid()
        )),
        "{out}"
    );
    let crit = out.lines().nth(1).unwrap_or("");
    assert!(
        crit.starts_with("CRITICAL: web 21300/tcp: held by sleep")
            && crit.contains("not nginx")
            && crit.contains("listens on 0.0.0.0:21300"),
        "{crit}"
    );
    // Ad hoc, without a declaration: any listener will do.
    let (code, out) = env.check(&["--port", "21300"]);
    assert_eq!(code, 2, "declared port keeps its expectation: {out}");
    let (code, out) = env.check(&["--port", "21301-21302/udp"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("port 21301-21302/udp: nothing listens"),
        "{out}"
    );
}

#[test]
fn drift_between_runtime_and_boot_configuration_is_a_warning() {
    if !private_netns("check_drift") {
        return;
    }
    let env = Env::new("");
    std::fs::write(
        env.root().join("etc/sysctl.d/60-ports.conf"),
        "net.ipv4.ip_local_reserved_ports = 9000-9010\n",
    )
    .expect("conf");
    write_proc(RESERVED, "8080,9000-9010");
    let (code, out) = env.check(&[]);
    assert_eq!(code, 1, "{out}");
    assert_plugin_line(&out, "WARNING");
    assert!(first_line(&out).contains(" drift=1;0"), "{out}");
    assert_eq!(perf_status(&out, "drift"), 1, "{out}");
    let drift = out
        .lines()
        .find(|l| l.starts_with("WARNING: host drift"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        drift.contains("8080 reserved now but not at boot") && drift.contains("60-ports.conf:1"),
        "{drift}"
    );
    let (_, v) = env.check_json(&[]);
    assert_eq!(v["figures"]["drift"], true);
    assert_eq!(v["figures"]["drift_ports"], 1);
    write_proc(RESERVED, "9000-9010");
    let (code, out) = env.check(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(first_line(&out).contains(" drift=0;0"), "{out}");
    assert_eq!(perf_status(&out, "drift"), 0, "{out}");
    // A quoted value is rejected by the kernel at boot: said, as a WARNING.
    std::fs::write(
        env.root().join("etc/sysctl.d/70-quoted.conf"),
        "net.ipv4.ip_local_reserved_ports = \"9000-9010\"\n",
    )
    .expect("conf");
    let (code, out) = env.check(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("WARNING: host sysctl_files"), "{out}");
    // Few ephemeral ports left: WARNING, then CRITICAL.
    std::fs::remove_file(env.root().join("etc/sysctl.d/70-quoted.conf")).expect("rm");
    write_proc(RANGE, "40000 45000");
    let (code, out) = env.check(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        first_line(&out).contains("few ephemeral ports usable"),
        "{out}"
    );
    assert!(
        first_line(&out).contains(" ephemeral_usable=5001;10000:;1000:;0;5001"),
        "{out}"
    );
    assert_eq!(perf_status(&out, "ephemeral_usable"), 1, "{out}");
    // -w and -c are the Nagios spellings of the same thresholds.
    for args in [
        &["--ephemeral-crit", "6000", "--ephemeral-warn", "7000"][..],
        &["-c", "6000", "-w", "7000"],
    ] {
        let (code, out) = env.check(args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert_plugin_line(&out, "CRITICAL");
        assert_eq!(perf_status(&out, "ephemeral_usable"), 2, "{out}");
    }
}

/// Plugin guidelines: a check that does not finish in its time says UNKNOWN (exit 3), in the
/// plugin's format, instead of leaving the monitor waiting. `--sample 10m` keeps the check busy
/// far longer than the one-second timeout.
#[test]
fn a_check_past_its_timeout_is_unknown() {
    if !private_netns("check_timeout") {
        return;
    }
    let env = Env::new("[[service]]\nname = \"api\"\nport = 21081\n");
    let _l = tcp_listen("0.0.0.0:21081");
    for json in [false, true] {
        let started = std::time::Instant::now();
        let mut args = vec!["--sample", "10m", "-t", "1s"];
        if json {
            args.push("--json");
        }
        let (code, out) = env.check(&args);
        let took = started.elapsed();
        assert_eq!(code, 3, "{out}");
        assert!(took < std::time::Duration::from_secs(120), "took {took:?}");
        if json {
            let v: serde_json::Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["status"], "unknown", "{out}");
            assert!(
                v["summary"]
                    .as_str()
                    .unwrap()
                    .contains("timed out after 1s"),
                "{out}"
            );
        } else {
            assert_eq!(out.lines().count(), 1, "{out}");
            assert!(
                out.starts_with("PORTSCOPE UNKNOWN - timed out after 1s"),
                "{out}"
            );
        }
    }
}

#[test]
fn bad_arguments_are_unknown_in_plugin_format() {
    if !private_netns("check_bad_args") {
        return;
    }
    let env = Env::new("[[service]]\nname = \"api\"\nport = 8080\n");
    for args in [
        &["--port", "70000"][..],
        &["--port", "80/sctp"],
        &["--bogus"],
        &["--service", "nope"],
        &["--service", "api", "--port", "8080"],
        &["--ephemeral-crit", "9", "--ephemeral-warn", "1"],
        &["-c", "9", "-w", "1"],
        &["--timeout", "0"],
        &["-t", "soon"],
    ] {
        let (code, out) = env.check(args);
        assert_eq!(code, 3, "{args:?}: {out}");
        assert!(out.starts_with("PORTSCOPE UNKNOWN - "), "{args:?}: {out}");
        assert_eq!(out.lines().count(), 1, "{args:?}: {out}");
    }
    let (_, out) = env.check(&["--service", "nope"]);
    assert!(
        out.contains("\"nope\"") && out.contains("declared: api"),
        "{out}"
    );
    // A broken declaration is UNKNOWN too, naming it.
    let bad = Env::new("[[service]]\nname = \"api\"\nport = 0\n");
    let (code, out) = bad.check(&[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("service \"api\""), "{out}");
    // Elsewhere bad input stays exit 2: check is the documented exception.
    let (code, _, _) = run(portscope().args(["why", "70000"]));
    assert_eq!(code, 2);
}

/// Samples of a Prometheus text file, parsed by the reference parser (prometheus_client).
/// `None` (after saying SKIPPED) where python3 or the module is missing; in CI that fails.
fn parse_prometheus(file: &Path) -> Option<Vec<(String, serde_json::Value, f64)>> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    # Gauges, and the kernel's own counters (their samples end in _total).
    assert fam.type == "gauge" or (
        fam.type == "counter" and all(s.name.endswith("_total") for s in fam.samples)
    ), fam
    assert fam.documentation, fam
    for s in fam.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let (code, out, err) = run(Command::new("python3").args(["-c", SCRIPT]).arg(file));
    if code != 0 && (err.contains("No module named") || code == -1 || code == 127) {
        let why = format!(
            "SKIPPED metrics parse: python3 prometheus_client not available ({})",
            err.trim()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        skip_note!("{why}");
        return None;
    }
    assert_eq!(code, 0, "the parser rejected the file: {err}");
    let v: Vec<(String, serde_json::Value, f64)> = serde_json::from_str(&out).expect("json");
    Some(v)
}

fn value(samples: &[(String, serde_json::Value, f64)], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .2
}

#[test]
fn metrics_textfile_parses_is_replaced_atomically_and_matches_the_scenario() {
    if !private_netns("metrics_textfile") {
        return;
    }
    let env = Env::new(
        "[[service]]\nname = \"api\"\nport = 21400\nprocess = \"sleep\"\n\
         [[service]]\nname = \"pool\"\nport = \"40400-40401\"\n\
         [[service]]\nname = \"web\"\nport = 21401\nprocess = \"nginx\"\n",
    );
    std::fs::write(
        env.root().join("etc/sysctl.d/60-ports.conf"),
        "net.ipv4.ip_local_reserved_ports = 21400\n",
    )
    .expect("conf");
    write_proc(RESERVED, "21400,45000-45099");
    let api_l = tcp_listen("0.0.0.0:21400");
    let web_l = tcp_listen("0.0.0.0:21401");
    let api = hold(&[&api_l.as_fd()]);
    let squatter = hold(&[&web_l.as_fd()]);
    drop((api_l, web_l));
    let out_dir = env.dir.path().join("textfile");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let prom = out_dir.join("portscope.prom");
    // A planted link where the file goes is replaced, never written through.
    let victim = env.dir.path().join("victim");
    std::fs::write(&victim, "keep").expect("victim");
    std::os::unix::fs::symlink(&victim, &prom).expect("symlink");

    let out_s = out_dir.to_str().expect("utf-8 temp path").to_string();
    let metrics = || {
        let (code, out, err) = run(&mut env.cmd(&["metrics", "--textfile", &out_s]));
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.is_empty(),
            "with --textfile nothing goes to stdout: {out}"
        );
    };
    metrics();
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep");
    assert!(!std::fs::symlink_metadata(&prom).expect("prom").is_symlink());
    let ino1 = std::fs::metadata(&prom).expect("prom").ino();
    let Some(samples) = parse_prometheus(&prom) else {
        return;
    };
    let svc = |s| [("service", s), ("proto", "tcp")];
    assert_eq!(
        value(&samples, "portscope_service_ports_listening", &svc("api")),
        1.0
    );
    assert_eq!(
        value(&samples, "portscope_service_owner_match", &svc("api")),
        1.0
    );
    assert_eq!(
        value(&samples, "portscope_service_owner_match", &svc("web")),
        0.0
    );
    assert_eq!(
        value(&samples, "portscope_service_ports_blocked", &svc("web")),
        1.0
    );
    assert_eq!(
        value(&samples, "portscope_service_ports", &svc("pool")),
        2.0
    );
    assert_eq!(
        value(&samples, "portscope_service_ports_at_risk", &svc("pool")),
        2.0
    );
    assert_eq!(
        value(&samples, "portscope_service_status", &svc("web")),
        2.0
    );
    assert_eq!(value(&samples, "portscope_check_status", &[]), 2.0);
    assert_eq!(value(&samples, "portscope_reserved_ports", &[]), 101.0);
    let (lo, hi) = {
        let r = std::fs::read_to_string(RANGE).expect("range");
        let mut it = r.split_whitespace().map(|p| p.parse::<f64>().expect("num"));
        (it.next().expect("lo"), it.next().expect("hi"))
    };
    assert_eq!(
        value(&samples, "portscope_ephemeral_ports", &[]),
        hi - lo + 1.0
    );
    assert_eq!(
        value(&samples, "portscope_ephemeral_ports_usable", &[]),
        hi - lo + 1.0 - 100.0
    );
    assert_eq!(value(&samples, "portscope_reserved_ports_drift", &[]), 1.0);
    assert_eq!(
        value(&samples, "portscope_reserved_ports_drift_ports", &[]),
        100.0
    );
    // ss is the ground truth for the socket counts.
    let (_, ss, _) = run(Command::new("ss").args(["-Htln"]));
    assert_eq!(
        value(
            &samples,
            "portscope_sockets",
            &[("proto", "tcp"), ("state", "LISTEN")]
        ),
        ss.lines().count() as f64
    );
    let now = jiff::Timestamp::now().as_second() as f64;
    let last = value(&samples, "portscope_last_run_timestamp_seconds", &[]);
    assert!((now - last).abs() < 120.0, "{last} vs {now}");
    // The scenario changes; the next run replaces the file (a new inode, no temp left behind).
    drop(squatter);
    metrics();
    let ino2 = std::fs::metadata(&prom).expect("prom").ino();
    assert_ne!(ino1, ino2, "replaced by rename, not rewritten in place");
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["portscope.prom"]);
    let samples = parse_prometheus(&prom).expect("parsed once already");
    assert_eq!(
        value(&samples, "portscope_service_ports_listening", &svc("web")),
        0.0
    );
    assert_eq!(
        value(&samples, "portscope_service_owner_match", &svc("web")),
        1.0
    );
    drop(api);
}

#[test]
fn time_wait_only_is_a_warning_when_reuseaddr_binds_and_critical_when_not() {
    if !private_netns("check_time_wait") {
        return;
    }
    let env = Env::new(
        "[[service]]\nname = \"reuse\"\nport = 21800\n\
         [[service]]\nname = \"plain\"\nport = 21801\n",
    );
    let reuse = tcp_listen("127.0.0.1:21800"); // std sets SO_REUSEADDR
    let plain = tcp_listen_plain(21801);
    make_time_wait(&reuse);
    make_time_wait(&plain);
    drop((reuse, plain));
    let states = || {
        let (_, v) = env.check_json(&[]);
        let s = |i: usize| {
            v["services"][i]["results"][0]["state"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        (s(0), s(1))
    };
    assert!(
        wait_until(PATIENCE, || states()
            == ("time_wait".to_string(), "held".to_string())),
        "{:?}",
        states()
    );
    let (code, out) = env.check(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("WARNING: reuse 21800/tcp: nothing listens;"),
        "{out}"
    );
    assert!(out.contains("SO_REUSEADDR can bind now"), "{out}");
    assert!(
        out.contains("CRITICAL: plain 21801/tcp: held by TIME_WAIT (no process)")
            && out.contains("Even SO_REUSEADDR does not"),
        "{out}"
    );
}

#[test]
fn udp_port_held_by_another_process_is_critical() {
    if !private_netns("check_udp") {
        return;
    }
    let env = Env::new(
        "[[service]]\nname = \"dns\"\nport = 21900\nproto = \"udp\"\nprocess = \"unbound\"\n",
    );
    let (code, out) = env.check(&[]);
    assert_eq!(code, 0, "free and outside the ephemeral range: {out}");
    let u = udp_bind("0.0.0.0:21900");
    let other = hold(&[&u.as_fd()]);
    drop(u);
    let (code, out) = env.check(&[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        first_line(&out).contains(&format!("dns 21900/udp held by sleep (pid {}", other.pid())),
        "{out}"
    );
}

#[test]
fn without_root_an_unseen_listener_is_unknown() {
    use std::os::unix::process::CommandExt;
    if !private_netns("check_not_root") {
        return;
    }
    let env = Env::new("[[service]]\nname = \"api\"\nport = 22000\nprocess = \"api\"\n");
    let l = tcp_listen("0.0.0.0:22000");
    let _holder = hold(&[&l.as_fd()]);
    drop(l);
    // Another user runs a copy it can reach (the checkout may be under a 0700 home), with a
    // config it can read.
    let cfg = env.dir.path().join("config.toml");
    let shared =
        std::env::temp_dir().join(format!("portscope-check-cfg-{}.toml", std::process::id()));
    std::fs::copy(&cfg, &shared).unwrap();
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mut cmd = portscope_as_other_user();
    cmd.arg("--config")
        .arg(&shared)
        .args(["check", "--sysctl-root"])
        .arg(env.root());
    cmd.uid(65534).gid(65534).env("HOME", "/nonexistent");
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 3, "{out}{err}");
    assert_plugin_line(&out, "UNKNOWN");
    let _ = std::fs::remove_file(&shared);
    assert!(
        out.contains("api 22000/tcp listener not visible") && out.contains("run as root"),
        "{out}"
    );
}

/// A refusal as the recorder logs it (the fields `metrics` counts by, and what a record needs).
fn refusal(call: &str, errno: &str) -> portscope::watch::failures::Refusal {
    serde_json::from_value(serde_json::json!({
        "time": "2026-12-07T03:12:05Z", "call": call, "errno": errno, "pid": 4242, "tid": 4242,
        "comm": "api", "uid": 0, "user": "root", "why": "port 8080 is held",
    }))
    .expect("a refusal")
}

#[test]
fn metrics_count_refused_calls_from_the_recorders_log_and_its_predecessors() {
    if !private_netns("metrics_refused") {
        return;
    }
    let env = Env::new("");
    let log = env.dir.path().join("failures.log");
    // An older, turned-over log and the current one: both count.
    for (path, list) in [
        (
            portscope::history::rotate::numbered(&log, 1),
            vec![("bind", "EADDRINUSE"), ("connect", "EADDRNOTAVAIL")],
        ),
        (
            log.clone(),
            vec![
                ("bind", "EADDRINUSE"),
                ("bind", "EACCES"),
                ("bind", "ENOBUFS"),
            ],
        ),
    ] {
        let mut rec =
            portscope::history::Recorder::open_as(&path, "recorder", &[]).expect("open log");
        for (c, e) in list {
            rec.append_refusal(&refusal(c, e)).expect("append");
        }
    }
    let out_dir = env.dir.path().join("textfile");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let (code, out, err) = run(&mut env.cmd(&[
        "metrics",
        "--textfile",
        out_dir.to_str().expect("utf-8"),
        "--failures-log",
        log.to_str().expect("utf-8"),
    ]));
    assert_eq!(code, 0, "{out}{err}");
    let Some(samples) = parse_prometheus(&out_dir.join("portscope.prom")) else {
        return;
    };
    let refused = |call, errno| {
        value(
            &samples,
            "portscope_refused_total",
            &[("call", call), ("errno", errno)],
        )
    };
    assert_eq!(refused("bind", "EADDRINUSE"), 2.0);
    assert_eq!(refused("bind", "EACCES"), 1.0);
    assert_eq!(
        refused("bind", "other"),
        1.0,
        "unknown errnos are one bounded label"
    );
    assert_eq!(refused("connect", "EADDRNOTAVAIL"), 1.0);
    assert_eq!(
        refused("connect", "EADDRINUSE"),
        0.0,
        "every pair is written"
    );
    assert_eq!(value(&samples, "portscope_refused_log_readable", &[]), 1.0);
}
