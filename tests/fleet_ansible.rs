//! The fleet: `portscope fleet report` on recorded per-host files, and the Ansible playbooks in
//! assets/ansible: syntax, and real runs against inventory hosts on this machine
//! (`ansible_connection=local`), each host pointed at its own private network namespace through
//! `portscope_netns`. Where ansible-playbook is missing the Ansible tests say SKIPPED (in CI,
//! where .ci/run installs it, that is a failure).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn recorded() -> Vec<PathBuf> {
    let dir = repo().join("tests/data/fleet");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/fleet")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

#[test]
fn fleet_report_on_recorded_host_files() {
    let files = recorded();
    assert!(files.len() >= 2, "{files:?}");
    let (code, out, err) = run(portscope().args(["fleet", "report"]).args(&files));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("HOST") && lines[0].contains("HOLDER"),
        "{out}"
    );
    let row = |host: &str, svc: &str| {
        lines
            .iter()
            .find(|l| {
                l.strip_prefix(host)
                    .is_some_and(|rest| rest.trim_start().starts_with(svc))
            })
            .unwrap_or_else(|| panic!("no row {host} {svc} in\n{out}"))
            .to_string()
    };
    assert!(row("db1", "api 21600/tcp").contains("OK"), "{out}");
    let crit = row("db2", "api 21600/tcp");
    assert!(
        crit.contains("CRITICAL")
            && crit.contains("listening_other")
            && crit.contains("sleep (pid"),
        "{crit}"
    );
    assert!(
        row("db2", "(host)").contains("yes: runtime none boot 9000"),
        "{out}"
    );
    assert!(row("db1", "(host)").contains("not compared"), "{out}");
    assert!(
        row("db2", "pool 40600-40601/tcp").contains("40600-40601"),
        "{out}"
    );
    assert!(
        out.trim_end().ends_with("2 hosts, worst status CRITICAL"),
        "{out}"
    );

    let (code, out, _) = run(portscope().args(["fleet", "report", "--json"]).args(&files));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["worst"], "critical");
    let hosts = v["hosts"].as_array().expect("hosts");
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[1]["host"], "db2");
    assert_eq!(hosts[1]["drift"], true);
    assert_eq!(hosts[1]["services"][0]["state"], "listening_other");
    assert_eq!(hosts[1]["services"][1]["at_risk_ports"], "40600-40601");

    // Bad input: one line naming the file, exit 2.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"hello\": 1}").expect("write");
    let (code, _, err) = run(portscope().args(["fleet", "report"]).arg(&bad));
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.json") && err.lines().count() == 1,
        "{err}"
    );
    std::fs::write(&bad, "not json").expect("write");
    let (code, _, err) = run(portscope().args(["fleet", "report"]).arg(&bad));
    assert_eq!((code, err.contains("not JSON")), (2, true), "{err}");
}

/// `ansible-playbook`, or None after saying SKIPPED (a failure when CI=true).
fn ansible(test: &str) -> Option<()> {
    let found = Command::new("ansible-playbook")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(());
    }
    let why = format!("SKIPPED {test}: ansible-playbook not found (pip install ansible)");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    skip_note!("{why}");
    None
}

/// Local hosts run modules with the Python that runs Ansible (interpreter discovery can find a
/// python3.x shim that does not work).
const LOCAL_PYTHON: &str = "ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n";

/// The host paths the playbooks write by default: a test run must leave them as they were.
fn host_defaults() -> Vec<Option<std::time::SystemTime>> {
    [
        "/usr/local/bin/portscope",
        "/etc/sysctl.d/90-portscope-reserved-ports.conf",
    ]
    .iter()
    .map(|p| std::fs::symlink_metadata(p).and_then(|m| m.modified()).ok())
    .collect()
}

fn playbook(tmp: &Path) -> Command {
    let mut c = Command::new("ansible-playbook");
    // Everything Ansible writes for itself stays in the test's temp dir.
    c.env("ANSIBLE_HOME", tmp.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", tmp.join("ansible-local"))
        .env("ANSIBLE_REMOTE_TEMP", tmp.join("ansible-remote"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
        .env("ANSIBLE_LOCALHOST_WARNING", "0");
    c
}

#[test]
fn playbooks_pass_syntax_check() {
    if ansible("ansible_syntax").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    for book in ["portscope-audit.yml", "portscope-reserve.yml"] {
        let (code, out, err) = run(playbook(tmp.path())
            .arg("-i")
            .arg(repo().join("assets/ansible/inventory.example.ini"))
            .arg("--syntax-check")
            .arg(repo().join("assets/ansible").join(book)));
        assert_eq!(code, 0, "{book}: {out}{err}");
    }
}

/// A private namespace of its own, with a listener on `port` held by a `sleep`; that process's
/// PID names the namespace (`--netns PID`). Made on a thread so the test's own stays as it is.
fn host_namespace(name: &'static str, port: u16, reserved: &'static str) -> Option<Holder> {
    std::thread::spawn(move || {
        if !private_netns(name) {
            return None;
        }
        std::fs::write("/proc/sys/net/ipv4/ip_local_reserved_ports", reserved).expect("sysctl");
        let l = tcp_listen(&format!("0.0.0.0:{port}"));
        let h = hold(&[&l.as_fd()]);
        drop(l);
        Some(h)
    })
    .join()
    .expect("thread")
}

/// Runs the audit playbook against two hosts, each in its own namespace; returns the results dir.
#[test]
fn audit_playbook_runs_against_two_hosts_in_their_own_namespaces() {
    if ansible("ansible_audit").is_none() || !private_netns("ansible_audit") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (Some(ns1), Some(ns2)) = (
        host_namespace("ansible_audit_db1", 21600, ""),
        host_namespace("ansible_audit_db2", 21600, ""),
    ) else {
        return;
    };
    for h in ["db1", "db2"] {
        std::fs::create_dir_all(t.join(h)).expect("mkdir");
    }
    std::fs::write(
        t.join("db1/config.toml"),
        "[[service]]\nname = \"api\"\nport = 21600\nprocess = \"sleep\"\n",
    )
    .expect("config");
    std::fs::write(
        t.join("db2/config.toml"),
        "[[service]]\nname = \"api\"\nport = 21600\nprocess = \"api\"\n\
         [[service]]\nname = \"pool\"\nport = \"40600-40601\"\n",
    )
    .expect("config");
    // db2's boot configuration reserves 9000, its runtime list is empty: drift.
    std::fs::create_dir_all(t.join("db2/root/etc/sysctl.d")).expect("mkdir");
    std::fs::write(
        t.join("db2/root/etc/sysctl.d/60-ports.conf"),
        "net.ipv4.ip_local_reserved_ports = 9000\n",
    )
    .expect("conf");
    let inventory = format!(
        "[fleet]\n\
         db1 portscope_netns={} portscope_dest={} portscope_config={}\n\
         db2 portscope_netns={} portscope_dest={} portscope_config={} portscope_sysctl_root={}\n\
         [fleet:vars]\nansible_connection=local\n{LOCAL_PYTHON}",
        ns1.pid(),
        t.join("db1/bin-portscope").display(),
        t.join("db1/config.toml").display(),
        ns2.pid(),
        t.join("db2/bin-portscope").display(),
        t.join("db2/config.toml").display(),
        t.join("db2/root").display(),
    );
    std::fs::write(t.join("inventory.ini"), inventory).expect("inventory");
    let results = t.join("results");
    let before = host_defaults();
    let (code, out, err) = run(playbook(t)
        .arg("-i")
        .arg(t.join("inventory.ini"))
        .arg(repo().join("assets/ansible/portscope-audit.yml"))
        .arg("-e")
        .arg(format!(
            "portscope_binary={}",
            env!("CARGO_BIN_EXE_portscope")
        ))
        .arg("-e")
        .arg(format!("portscope_results={}", results.display())));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(host_defaults(), before, "the host's own paths were written");
    assert!(
        out.contains("db1") && out.contains("db2") && out.contains("failed=0"),
        "{out}"
    );
    // Each host got its own copy of the binary.
    for h in ["db1", "db2"] {
        assert!(t.join(h).join("bin-portscope").is_file(), "{h}");
    }
    let record = |h: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(results.join(format!("{h}.json"))).expect("record");
        serde_json::from_str(&text).expect("json")
    };
    let (r1, r2) = (record("db1"), record("db2"));
    assert_eq!(r1["host"], "db1");
    assert_eq!(r1["check"]["status"], "ok", "{r1}");
    assert_eq!(
        r1["check"]["services"][0]["results"][0]["holder"],
        format!("sleep (pid {})", ns1.pid())
    );
    assert_eq!(r2["check"]["status"], "critical", "{r2}");
    assert_eq!(
        r2["check"]["services"][0]["results"][0]["state"],
        "listening_other"
    );
    assert_eq!(r2["check"]["figures"]["drift"], true);
    assert_eq!(r2["reserve_status"]["boot"], "9000");
    // Each host's check looked into its own namespace: its netns is the PID it was given.
    assert_eq!(r1["check"]["netns"], format!("pid {}", ns1.pid()));
    assert_eq!(r2["check"]["netns"], format!("pid {}", ns2.pid()));
    // The last play printed the fleet table.
    assert!(out.contains("2 hosts, worst status CRITICAL"), "{out}");

    // Keep a recording for the fleet report test when asked to.
    if let Ok(dir) = std::env::var("PORTSCOPE_RECORD_FLEET") {
        for h in ["db1", "db2"] {
            std::fs::copy(
                results.join(format!("{h}.json")),
                Path::new(&dir).join(format!("{h}.json")),
            )
            .expect("record");
        }
    }
}

#[test]
fn reserve_playbook_checks_first_then_applies_canonically_and_is_idempotent() {
    if ansible("ansible_reserve").is_none() || !private_netns("ansible_reserve") {
        return;
    }
    // Ansible runs in this test's private namespace: ansible.posix.sysctl writes only its sysctl,
    // and the drop-in goes to a temp dir.
    const PROC: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";
    std::fs::write(PROC, "9000-9010").expect("sysctl");
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let dropin = t.join("sysctl.d/90-portscope-reserved-ports.conf");
    std::fs::create_dir_all(dropin.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        t.join("inventory.ini"),
        format!(
            "[fleet]\nh1 ansible_connection=local portscope_dest={} portscope_sysctl_file={}\n\
             [fleet:vars]\n{LOCAL_PYTHON}",
            env!("CARGO_BIN_EXE_portscope"),
            dropin.display()
        ),
    )
    .expect("inventory");
    let play = |extra: &[&str]| {
        let (code, out, err) = run(playbook(t)
            .arg("-i")
            .arg(t.join("inventory.ini"))
            .arg(repo().join("assets/ansible/portscope-reserve.yml"))
            // Spaces and disorder are what people type; the value written is canonical.
            .args(["-e", "portscope_reserve=' 8081, 8080 '"])
            .args(extra));
        assert_eq!(code, 0, "{out}{err}");
        out
    };
    let runtime = || common::reserve::runtime();
    let before = host_defaults();
    // Default: check mode. Reports the change, makes none.
    let out = play(&[]);
    assert!(out.contains("changed=1"), "{out}");
    assert_eq!(runtime(), "9000-9010");
    assert!(!dropin.exists());
    // --check wins over portscope_apply=true: nothing changes; --diff shows before and after.
    let out = play(&["-e", "portscope_apply=true", "--check", "--diff"]);
    assert!(out.contains("changed=1"), "{out}");
    assert!(
        out.contains("before: 9000-9010") && out.contains("after:  8080-8081,9000-9010"),
        "{out}"
    );
    assert_eq!(runtime(), "9000-9010");
    assert!(!dropin.exists());
    // Applied: merged with the host's list, sorted, no spaces.
    let out = play(&["-e", "portscope_apply=true"]);
    assert!(out.contains("changed=1"), "{out}");
    assert_eq!(runtime(), "8080-8081,9000-9010");
    let text = std::fs::read_to_string(&dropin).expect("drop-in");
    assert!(
        text.lines()
            .any(|l| l.replace(' ', "") == "net.ipv4.ip_local_reserved_ports=8080-8081,9000-9010"),
        "{text}"
    );
    // Again: nothing to change.
    let out = play(&["-e", "portscope_apply=true"]);
    assert!(out.contains("changed=0"), "{out}");
    assert_eq!(runtime(), "8080-8081,9000-9010");
    assert_eq!(host_defaults(), before, "the host's own paths were written");
}

/// A trial against localhost with the playbook's defaults: the binary is found in
/// `$CARGO_TARGET_DIR/release` (not `target/` of the checkout), runs from a temporary directory
/// that is removed afterwards, and nothing lands in /usr/local/bin.
#[test]
fn audit_playbook_defaults_leave_a_localhost_trial_clean() {
    if ansible("ansible_audit_defaults").is_none() || !private_netns("ansible_audit_defaults") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let target = t.join("elsewhere-target");
    std::fs::create_dir_all(target.join("release")).expect("mkdir");
    std::fs::copy(
        env!("CARGO_BIN_EXE_portscope"),
        target.join("release/portscope"),
    )
    .expect("copy the binary");
    let scratch = t.join("scratch");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    std::fs::write(
        t.join("inventory.ini"),
        format!("[fleet]\nlocalhost ansible_connection=local\n[fleet:vars]\n{LOCAL_PYTHON}"),
    )
    .expect("inventory");
    let results = t.join("results");
    let before = host_defaults();
    let (code, out, err) = run(playbook(t)
        .env("CARGO_TARGET_DIR", &target)
        .arg("-v")
        .arg("-i")
        .arg(t.join("inventory.ini"))
        .arg(repo().join("assets/ansible/portscope-audit.yml"))
        .arg("-e")
        .arg(format!("portscope_results={}", results.display()))
        .arg("-e")
        .arg(format!("portscope_tmp={}", scratch.display())));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("failed=0"), "{out}");
    // The binary ran from a directory made there (the tempfile task's result says where).
    assert!(
        out.contains(&format!("{}/portscope-audit.", scratch.display())),
        "{out}"
    );
    assert!(results.join("localhost.json").is_file(), "{out}");
    assert_eq!(host_defaults(), before, "the host's own paths were written");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .expect("scratch")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().starts_with("portscope-audit."))
        .collect();
    assert!(
        left.is_empty(),
        "the temporary binary was left behind: {left:?}\n{out}"
    );
}
