//! `portscope reserve` against the real kernel. Each test moves its thread into a private network
//! namespace (the sysctl is per namespace), and gives portscope a temporary sysctl tree
//! (`--sysctl-root`) and data directory (`XDG_DATA_HOME`): the host's /etc and sysctls are never
//! read or written.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::reserve::*;
use common::*;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn plan_shows_merge_capacity_held_sockets_and_json_fields() {
    if !private_netns("reserve_plan") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let listener = tcp_listen("127.0.0.1:40000");
    // An outgoing connection: the kernel picks its local port from the ephemeral range.
    let client = TcpStream::connect("127.0.0.1:40000").expect("connect");
    let (_accepted, _) = listener.accept().expect("accept");
    let cport = client.local_addr().expect("addr").port();

    let (code, out, err) = env.run(&["plan", "8080"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("current   9000-9010"), "{out}");
    assert!(out.contains("proposed  8080,9000-9010"), "{out}");
    assert!(out.contains("added     8080"), "{out}");
    assert!(out.contains("removed   (none)"), "{out}");
    assert!(
        out.contains("Ephemeral range 32768-60999 (28232 ports)"),
        "{out}"
    );
    assert!(out.contains("8080 outside the ephemeral range"), "{out}");
    // The listener on 40000 is inside the range and unreserved.
    assert!(
        out.contains("Still at risk") && out.contains("127.0.0.1:40000"),
        "{out}"
    );
    for l in out.lines() {
        assert!(l.chars().count() <= 80, "wider than 80 columns: {l:?}");
    }

    let spec = format!("8080,{cport}");
    let (code, json, err) = env.run(&["plan", &spec, "--at-risk", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("plan json");
    assert_eq!(v["current"], "9000-9010");
    let mut want = portscope::portset::PortSet::parse("8080,9000-9010,40000").unwrap();
    want.insert(cport);
    assert_eq!(v["proposed"], want.to_string());
    assert_eq!(v["removed"], "");
    assert_eq!(v["ephemeral"]["range"], serde_json::json!([32768, 60999]));
    assert_eq!(v["ephemeral"]["usable_before"], 28232);
    assert_eq!(
        v["ephemeral"]["usable_after"], 28230,
        "40000 and {cport} reserved"
    );
    let held = v["held"].as_array().expect("held");
    let held_ports: Vec<u64> = held
        .iter()
        .map(|s| s["local_port"].as_u64().expect("port"))
        .collect();
    assert!(held_ports.contains(&40000) && held_ports.contains(&u64::from(cport)));
    let out_sock = held
        .iter()
        .find(|s| s["local_port"] == cport)
        .expect("client socket held");
    assert_eq!(out_sock["state"], "ESTABLISHED");
    assert_eq!(out_sock["autobound"], true);
    assert_eq!(out_sock["owners"][0]["pid"], std::process::id());
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w.as_str().expect("string"))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&format!("port {cport} is held now"))
                && w.contains("until it closes")),
        "{warnings:?}"
    );
    // A plan changes nothing.
    assert_eq!(runtime(), "9000-9010");
    assert!(!env.dropin().exists());
    assert!(!env.journal().exists());
}

#[test]
fn plan_warns_when_little_of_the_ephemeral_range_is_left() {
    if !private_netns("reserve_plan_low") {
        return;
    }
    let env = Env::new();
    let (code, json, err) = env.run(&["plan", "32768-50000", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v["ephemeral"]["usable_after"], 10999);
    assert_eq!(v["ephemeral"]["percent_after"], 39.0);
    assert!(
        v["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("can run out"))),
        "{v}"
    );
}

#[test]
fn apply_merges_writes_verifies_and_persists() {
    if !private_netns("reserve_apply") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Applied:") && out.contains("verified"),
        "{out}"
    );
    // Merged, not replaced: a hand-written `sysctl -w ...=8080` would have dropped 9000-9010.
    assert_eq!(runtime(), "8080,9000-9010");
    let text = std::fs::read_to_string(env.dropin()).expect("drop-in written");
    assert_eq!(assignment_lines(&text), [format!("{KEY} = 8080,9000-9010")]);
    assert!(text.starts_with("# Written by portscope"), "{text}");
    assert_eq!(env.etc_d_names(), [DROPIN], "no temp file left behind");
    assert_eq!(env.journal_entries(), 1);
    // Applying the same again has nothing to do and records nothing.
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Nothing to do"), "{out}");
    assert_eq!(env.journal_entries(), 1);
}

#[test]
fn remove_then_undo_twice_returns_to_the_start() {
    if !private_netns("reserve_undo") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let old = format!("# the administrator's own\n{KEY} = 9000-9010\n");
    std::fs::write(env.dropin(), &old).expect("seed drop-in");

    let (code, _, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{err}");
    let after_first = std::fs::read_to_string(env.dropin()).expect("drop-in");
    let (code, out, err) = env.run(&["apply", "--remove", "9000-9004", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(runtime(), "8080,9005-9010");
    let text = std::fs::read_to_string(env.dropin()).expect("drop-in");
    assert_eq!(assignment_lines(&text), [format!("{KEY} = 8080,9005-9010")]);
    assert_eq!(env.journal_entries(), 2);

    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(runtime(), "8080,9000-9010");
    assert_eq!(
        std::fs::read_to_string(env.dropin()).expect("drop-in"),
        after_first
    );
    assert_eq!(env.journal_entries(), 1);

    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(runtime(), "9000-9010");
    assert_eq!(std::fs::read_to_string(env.dropin()).expect("drop-in"), old);
    assert_eq!(env.journal_entries(), 0);

    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("nothing to undo"), "{err}");
    assert_eq!(runtime(), "9000-9010");
}

#[test]
fn undo_removes_a_drop_in_that_did_not_exist() {
    if !private_netns("reserve_undo_absent") {
        return;
    }
    let env = Env::new();
    let (code, _, err) = env.run(&["apply", "40000-40010", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert!(env.dropin().exists());
    // Without a terminal and without --yes, undo refuses too.
    let (code, _, err) = env.run(&["undo"]);
    assert_eq!(code, 1);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(runtime(), "40000-40010");
    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(runtime(), "");
    assert!(!env.dropin().exists());
    assert!(env.etc_d_names().is_empty());
}

#[test]
fn bad_specs_exit_2_and_change_nothing() {
    if !private_netns("reserve_bad_specs") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let cases: &[(&[&str], &str)] = &[
        (&["apply", "70000", "--yes"], "70000"),
        (&["apply", "80,abc", "--yes"], "abc"),
        (&["apply", "9010-9000", "--yes"], "9010-9000"),
        (&["apply", "\"8080\"", "--yes"], "quotes"),
        (&["apply", "80,,81", "--yes"], "80,,81"),
        (&["apply", "--remove", "1-70000", "--yes"], "1-70000"),
        (&["apply", "8080", "--remove", "8080", "--yes"], "8080"),
        (&["plan", "65536"], "65536"),
        (&["plan", "8080", "--format", "yaml"], "yaml"),
    ];
    for (args, token) in cases {
        let (code, out, err) = env.run(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(token), "{args:?} should name {token}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    assert_eq!(runtime(), "9000-9010");
    assert!(!env.dropin().exists());
    assert!(!env.journal().exists());
}

#[test]
fn apply_without_terminal_or_yes_changes_nothing() {
    if !private_netns("reserve_no_tty") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    // common::run gives the child /dev/null as stdin: no terminal.
    let (code, out, err) = env.run(&["apply", "8080"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("pass --yes"), "{err}");
    assert!(
        out.contains("proposed  8080,9000-9010"),
        "the plan is shown: {out}"
    );
    assert_eq!(runtime(), "9000-9010");
    assert!(!env.dropin().exists());
    assert_eq!(env.journal_entries(), 0);
}

/// Applies 8080 with the drop-in going to `dir`, expecting failure; returns stderr.
fn apply_failing(env: &Env, cmd: &mut Command) -> String {
    let (code, out, err) = run(cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(runtime(), "9000-9010", "runtime value as it was: {err}");
    assert_eq!(env.journal_entries(), 0, "{err}");
    err
}

#[test]
fn unwritable_sysctl_dir_leaves_the_runtime_value_as_it_was() {
    if !private_netns("reserve_unwritable") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let arg = |p: &PathBuf| p.to_str().expect("utf8").to_string();

    // A read-only mount stops root too. The runtime value is written first, so this exercises the
    // roll-back. `unshare -m` forks from this thread and so stays in the test's namespace.
    let ro = env.dir.path().join("ro-sysctl.d");
    std::fs::create_dir_all(&ro).expect("mkdir");
    if run(Command::new("unshare").args(["-m", "true"])).0 == 0 {
        let script = "mount --bind -o ro \"$1\" \"$1\" && exec \"$2\" reserve apply 8080 --yes \
                      --sysctl-root \"$3\" --sysctl-dir \"$1\"";
        let mut cmd = Command::new("unshare");
        cmd.env("XDG_DATA_HOME", env.data())
            .args(["-m", "sh", "-c", script, "sh"])
            .args([
                arg(&ro),
                env!("CARGO_BIN_EXE_portscope").to_string(),
                arg(&env.root()),
            ]);
        let err = apply_failing(&env, &mut cmd);
        assert!(err.contains("cannot write the drop-in"), "{err}");
        assert!(err.contains("Read-only file system"), "{err}");
        assert!(
            err.contains("put back the runtime value 9000-9010"),
            "{err}"
        );
        assert!(std::fs::read_dir(&ro).expect("ro dir").next().is_none());
    } else {
        skip(
            "reserve_unwritable (read-only mount case)",
            "unshare -m is not permitted here",
        );
    }

    // A directory that does not exist is found out before anything changes (the directory is
    // opened first, and everything after that is relative to it).
    let missing = env.dir.path().join("missing/sysctl.d");
    let err = apply_failing(
        &env,
        &mut env.cmd(&["apply", "8080", "--yes", "--sysctl-dir", &arg(&missing)]),
    );
    assert!(err.contains("missing/sysctl.d"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");

    // A path under a regular file fails already when reading the old drop-in: nothing is touched.
    let file = env.dir.path().join("not-a-dir");
    std::fs::write(&file, "").expect("file");
    let err = apply_failing(
        &env,
        &mut env.cmd(&[
            "apply",
            "8080",
            "--yes",
            "--sysctl-dir",
            &arg(&file.join("sysctl.d")),
        ]),
    );
    assert!(err.contains("nothing was changed"), "{err}");
}

#[test]
fn unwritable_journal_changes_nothing() {
    if !private_netns("reserve_bad_journal") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let file = env.dir.path().join("data-file");
    std::fs::write(&file, "").expect("file");
    let mut cmd = env.cmd(&["apply", "8080", "--yes"]);
    cmd.env("XDG_DATA_HOME", file.join("sub"));
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("undo journal"), "{err}");
    assert_eq!(runtime(), "9000-9010");
    assert!(!env.dropin().exists());
}

#[test]
fn a_later_file_that_overrides_the_drop_in_is_reported() {
    if !private_netns("reserve_override") {
        return;
    }
    let env = Env::new();
    std::fs::write(env.etc_d().join("99-local.conf"), format!("{KEY} = 1234\n")).expect("write");
    let run_d = env.root().join("run/sysctl.d");
    std::fs::create_dir_all(&run_d).expect("mkdir");
    std::fs::write(run_d.join("10-quoted.conf"), format!("{KEY} = \"7000\"\n")).expect("write");

    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("99-local.conf:1 sets net.ipv4.ip_local_reserved_ports = 1234")
            && flat.contains("overrides the drop-in"),
        "{out}"
    );
    assert!(flat.contains("quoted value \"7000\""), "{out}");
    assert_eq!(runtime(), "8080");

    let (code, out, err) = env.run(&["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("runtime  8080"), "{out}");
    assert!(out.contains("at boot  1234"), "{out}");
    let order: Vec<&str> = out
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.split_once(". ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    assert_eq!(order.len(), 3, "{out}");
    assert!(order[0].ends_with("10-quoted.conf:1"), "{order:?}");
    assert!(order[1].ends_with(&format!("{DROPIN}:4")), "{order:?}");
    assert!(order[2].ends_with("99-local.conf:1"), "{order:?}");
    assert!(out.contains("= 1234 <- wins"), "{out}");
    assert!(out.contains("problem: quoted value"), "{out}");

    let (code, json, err) = env.run(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("status json");
    assert_eq!(v["runtime"], "8080");
    assert_eq!(v["boot"], "1234");
    let over = v["dropin_overridden_by"].as_array().expect("array");
    assert_eq!(over.len(), 1, "{v}");
    assert!(
        over[0]["file"]
            .as_str()
            .expect("file")
            .ends_with("99-local.conf")
    );
    let settings = v["audit"]["settings"].as_array().expect("settings");
    assert_eq!(settings[0]["problem"]["kind"], "quoted");
}

#[test]
fn status_lists_listeners_at_risk() {
    if !private_netns("reserve_status_at_risk") {
        return;
    }
    let env = Env::new();
    let _l = tcp_listen("0.0.0.0:45000");
    let _u = udp_bind("127.0.0.1:45001");
    let _safe = tcp_listen("127.0.0.1:8080");
    let (code, json, err) = env.run(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let mut ports: Vec<u64> = v["at_risk"]
        .as_array()
        .expect("at_risk")
        .iter()
        .map(|s| s["local_port"].as_u64().expect("port"))
        .collect();
    ports.sort();
    assert_eq!(ports, [45000, 45001]);
    assert!(v["boot"].is_null());
    // Reserving them with --at-risk leaves none.
    let (code, _, err) = env.run(&["apply", "--at-risk", "--yes", "--no-persist"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(runtime(), "45000-45001");
    assert!(!env.dropin().exists(), "--no-persist writes no drop-in");
    let (_, out, _) = env.run(&["status"]);
    assert!(out.contains("No listener sits unreserved"), "{out}");
}

#[test]
fn fleet_outputs_parse_as_ansible_yaml_and_sysctl_d() {
    if !private_netns("reserve_fleet") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let (code, yaml, err) = env.run(&["plan", "8080", "--format", "ansible"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_norway::Value = serde_norway::from_str(&yaml).expect("valid YAML");
    let tasks = v.as_sequence().expect("a list of tasks");
    assert_eq!(tasks.len(), 1);
    let task = &tasks[0];
    assert!(task["name"].as_str().is_some());
    let m = &task["ansible.posix.sysctl"];
    assert_eq!(m["name"].as_str(), Some(KEY));
    assert_eq!(
        m["value"].as_str(),
        Some("8080,9000-9010"),
        "a string, merged"
    );
    let file = m["sysctl_file"].as_str().expect("sysctl_file");
    assert!(file.ends_with(&format!("etc/sysctl.d/{DROPIN}")), "{file}");
    assert_eq!(m["sysctl_set"].as_bool(), Some(true));
    assert_eq!(m["reload"].as_bool(), Some(true));
    assert_eq!(m["state"].as_str(), Some("present"));

    let (code, text, err) = env.run(&["plan", "8080", "--format", "sysctl"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(assignment_lines(&text), [format!("{KEY} = 8080,9000-9010")]);
    assert_eq!(runtime(), "9000-9010");
}

#[test]
fn without_root_it_says_what_is_needed_and_prints_the_commands() {
    if !private_netns("reserve_not_root") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    // Another user runs a copy it can reach (the checkout may be under a 0700 home).
    let mut cmd = portscope_as_other_user();
    cmd.env("XDG_DATA_HOME", env.data())
        .args(["reserve", "apply", "8080", "--yes", "--sysctl-root"])
        .arg(env.root());
    cmd.uid(65534).gid(65534);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("needs root"), "{err}");
    assert!(
        out.contains(&format!("sudo sysctl -w {KEY}=8080,9000-9010")),
        "{out}"
    );
    assert!(
        out.contains(&format!("{KEY} = 8080,9000-9010\nEOF")),
        "{out}"
    );
    assert!(out.contains("ansible.posix.sysctl:"), "{out}");
    assert_eq!(runtime(), "9000-9010");
    assert!(!env.dropin().exists());
}

#[test]
fn netns_flag_changes_only_that_namespace() {
    if !private_netns("reserve_netns") {
        return;
    }
    let env = Env::new();
    set_runtime("9000");
    let other = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Holder {
            child: Command::new("unshare")
                .args(["-n", "sleep", "600"])
                .spawn()
                .expect("unshare"),
        }
    };
    let pid = other.pid().to_string();
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/net")).ok();
    assert!(
        wait_until(PATIENCE, || ns(&pid).is_some()
            && ns(&pid) != ns("thread-self")),
        "child did not enter its own namespace"
    );
    let theirs = || {
        let (code, out, err) = run(Command::new("nsenter")
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .args(["cat", PROC]));
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    };
    let mut cmd = env.cmd(&["apply", "8080", "--yes", "--no-persist"]);
    cmd.args(["--netns", &pid]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(theirs(), "8080");
    assert_eq!(runtime(), "9000", "the test's own namespace is untouched");
    // Undo in our namespace has nothing to undo; in theirs it restores.
    let (code, _, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 1);
    assert!(err.contains("other namespaces"), "{err}");
    let mut cmd = env.cmd(&["undo", "--yes"]);
    cmd.args(["--netns", &pid]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(theirs(), "");
    assert_eq!(runtime(), "9000");
}

/// Runs `portscope reserve ARGS` in a pseudo-terminal, answers the prompt, returns the status.
fn apply_in_pty(env: &Env, args: &[&str], answer: &str) -> (u32, String) {
    apply_in_pty_after(env, args, || {}, answer)
}

/// As [`apply_in_pty`], running `meanwhile` while the prompt waits for the answer.
fn apply_in_pty_after(
    env: &Env,
    args: &[&str],
    meanwhile: impl FnOnce(),
    answer: &str,
) -> (u32, String) {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 100,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("openpty");
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_portscope"));
    cmd.env("XDG_DATA_HOME", env.data());
    cmd.arg("reserve");
    cmd.args(args);
    cmd.arg("--sysctl-root");
    cmd.arg(env.root());
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        pair.slave.spawn_command(cmd).expect("spawn in pty")
    };
    drop(pair.slave);
    let screen = Arc::new(Mutex::new(String::new()));
    let mut reader = pair.master.try_clone_reader().expect("reader");
    let sink = Arc::clone(&screen);
    let pump = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = sink.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
    let asked = wait_until(PATIENCE, || {
        screen.lock().is_ok_and(|s| s.contains("Apply? [y/N]"))
    });
    assert!(
        asked,
        "no prompt: {}",
        screen.lock().map(|s| s.clone()).unwrap_or_default()
    );
    meanwhile();
    let mut w = pair.master.take_writer().expect("writer");
    w.write_all(answer.as_bytes()).expect("type");
    w.flush().expect("flush");
    let status = child.wait().expect("wait");
    drop(w);
    drop(pair.master);
    let _ = pump.join();
    let text = screen.lock().map(|s| s.clone()).unwrap_or_default();
    (status.exit_code(), text)
}

#[test]
fn the_terminal_prompt_defaults_to_no() {
    if !private_netns("reserve_pty") {
        return;
    }
    let env = Env::new();
    set_runtime("9000-9010");
    let (code, screen) = apply_in_pty(&env, &["apply", "8080"], "\r");
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("not confirmed"), "{screen}");
    assert_eq!(runtime(), "9000-9010");
    let (code, screen) = apply_in_pty(&env, &["apply", "8080"], "n\r");
    assert_eq!(code, 1, "{screen}");
    assert_eq!(runtime(), "9000-9010");
    assert!(!env.dropin().exists());
    let (code, screen) = apply_in_pty(&env, &["apply", "8080"], "y\r");
    assert_eq!(code, 0, "{screen}");
    assert_eq!(runtime(), "8080,9000-9010");
    assert!(env.dropin().exists());
}

/// Someone edits the drop-in (or another sysctl.d file) while apply waits at its prompt: the
/// apply refuses, changing nothing, instead of overwriting the edit.
#[test]
fn an_edit_made_while_the_prompt_waits_is_never_overwritten() {
    if !private_netns("reserve_edit_at_prompt") {
        return;
    }
    let env = Env::new();
    set_runtime("9000");
    std::fs::write(env.dropin(), format!("{KEY} = 9000\n")).unwrap();
    let edited = format!("# the administrator's edit\n{KEY} = 9000,9100\n");
    let (code, screen) = apply_in_pty_after(
        &env,
        &["apply", "8080"],
        || std::fs::write(env.dropin(), &edited).unwrap(),
        "y\r",
    );
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("changed since the plan was made"),
        "{screen}"
    );
    assert_eq!(std::fs::read_to_string(env.dropin()).unwrap(), edited);
    assert_eq!(runtime(), "9000");
    // Another file of the layout counts too.
    let vendor = env.root().join("usr/lib/sysctl.d");
    std::fs::create_dir_all(&vendor).unwrap();
    let (code, screen) = apply_in_pty_after(
        &env,
        &["apply", "8080"],
        || std::fs::write(vendor.join("50-vendor.conf"), format!("{KEY} = 5000\n")).unwrap(),
        "y\r",
    );
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("50-vendor.conf"), "{screen}");
    assert_eq!(runtime(), "9000");
}
