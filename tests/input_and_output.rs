//! Bad input is refused with one line and status 2; a failed write is portscope's failure
//! (status 1), and a reader that went away (`| head`) gets no complaint. The config file cannot
//! lock the user in, and the keys it binds fire.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::pty::Tui;
use common::*;
use std::process::Stdio;

fn temp_home(test: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portscope-io-{test}-{}", std::process::id()));
    std::fs::create_dir_all(d.join("portscope")).expect("temp dir");
    d
}

#[test]
fn addresses_that_would_be_guessed_at_are_refused_naming_them() {
    for addr in [
        "[::1",
        "::1]",
        "::1:80",
        "127.0.0.1:80",
        "[127.0.0.1]",
        "[::1]:80",
    ] {
        let (code, out, err) = run(portscope().args(["why", "80", "--addr", addr]));
        assert_eq!(code, 2, "{addr}: {err}");
        assert!(out.is_empty(), "{addr}: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{addr}: {err}");
        assert!(err.contains(&format!("{addr:?}")), "{addr}: {err}");
    }
}

#[test]
fn a_full_disk_is_a_failure_not_bad_input() {
    if !std::path::Path::new("/dev/full").exists() {
        skip_note!("SKIPPED full_disk: no /dev/full");
        return;
    }
    for args in [
        &["snapshot"][..],
        &["snapshot", "--json"][..],
        &["why", "20999", "--json"][..],
        &["why", "20999"][..],
        &["reserve", "status"][..],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let (code, _, err) = run(portscope().args(args).stdout(full));
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("cannot write output"), "{args:?}: {err}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly() {
    for args in [&["snapshot"][..], &["why", "20999"][..]] {
        // As `portscope snapshot | head` after head has exited: the read end is already closed.
        let (read, write) = nix::unistd::pipe().expect("pipe");
        drop(read);
        let (code, _, err) = run(portscope()
            .args(args)
            .stdout(Stdio::from(write))
            .stderr(Stdio::piped()));
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: no message for EPIPE: {err}");
    }
}

#[test]
fn the_config_cannot_lock_the_user_in_and_checks_the_interval() {
    let home = temp_home("config");
    let cfg = home.to_str().expect("utf-8");
    for (config, needle) in [
        ("[keys]\nquit = []\n", "no way out"),
        ("[keys]\nback = []\n", "no way out"),
        ("[keys]\nquit = [\"ctrl-enter\"]\n", "cannot be sent"),
        ("[keys]\nhelp = [\"ctrl-i\"]\n", "as tab"),
        ("interval_ms = 10\n", "out of range"),
        ("interval_ms = 0\n", "out of range"),
        ("interval_ms = 3600001\n", "out of range"),
    ] {
        std::fs::write(home.join("portscope/config.toml"), config).expect("write config");
        let (code, out, err) = run(portscope()
            .args(["--replay", "assets/incident.json"])
            .env("XDG_CONFIG_HOME", cfg));
        assert_eq!(code, 2, "{config}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{config}: {err}");
        assert!(
            err.contains(needle) && err.contains("config.toml"),
            "{config}: {err}"
        );
    }
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn ctrl_q_bound_to_quit_fires_even_inside_a_field() {
    let home = temp_home("ctrlq");
    std::fs::write(
        home.join("portscope/config.toml"),
        "[keys]\nquit = [\"ctrl-Q\"]\n",
    )
    .expect("write config");
    let mut tui = Tui::start(
        &["--replay", "assets/incident.json"],
        &[("XDG_CONFIG_HOME", home.to_str().expect("utf-8"))],
        100,
        30,
    );
    let screen = tui.wait_text("kubelet");
    assert!(
        screen.contains("ctrl-q quit"),
        "the footer names it:\n{screen}"
    );
    // Inside the filter field, where q would be typed: ctrl-q still quits.
    tui.keys("/ngi");
    tui.wait_text("filter: ngi");
    tui.keys("\x11");
    assert_eq!(tui.exit_code(), 0);
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn the_why_field_refuses_an_ambiguous_address() {
    let home = temp_home("whyfield");
    let mut tui = Tui::start(
        &["--replay", "assets/incident.json"],
        &[("XDG_CONFIG_HOME", home.to_str().expect("utf-8"))],
        120,
        35,
    );
    tui.wait_text("kubelet");
    tui.keys("4e::1:80\r");
    tui.wait_text("write an IPv6 address and port as [::1]:8080");
    tui.keys("\x1bq");
    assert_eq!(tui.exit_code(), 0);
    let _ = std::fs::remove_dir_all(home);
}

/// Runs `cmd` with `stdout` and a deadline: (status, stderr). A command that outlives the
/// deadline is killed and fails the test (a write error must end it, not leave it hanging).
fn run_bounded(cmd: &mut std::process::Command, stdout: Stdio, what: &str) -> (i32, String) {
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        cmd.stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let mut stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let mut status = None;
    let ended = wait_until(std::time::Duration::from_secs(60), || {
        status = child.try_wait().expect("wait");
        status.is_some()
    });
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{what}: still running 60 s after its output failed");
    }
    let err = reader.join().unwrap_or_default();
    (status.and_then(|s| s.code()).unwrap_or(-1), err)
}

/// Every subcommand that writes to stdout, against a reader that went away and a full disk:
/// a closed pipe is status 1 and no message, a full disk status 1 and one line; for `check`,
/// the monitoring convention's UNKNOWN (3) either way. Never a panic (101), never 0.
#[test]
fn every_subcommand_handles_a_closed_pipe_and_a_full_disk() {
    if !private_netns("output_matrix") {
        return;
    }
    if !std::path::Path::new("/dev/full").exists() {
        skip("output_matrix", "no /dev/full");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("port.log");
    let listener = tcp_listen("127.0.0.1:0");
    let port = port_of(&listener).to_string();
    // A history log with something in it: a short recording of the listener's port.
    let (code, _, err) = run(portscope().args([
        "watch",
        &port,
        "--poll",
        "--for",
        "1s",
        "--record",
        log.to_str().expect("utf-8 path"),
    ]));
    assert_eq!(code, 0, "recording: {err}");
    let log = log.to_str().expect("utf-8 path").to_string();
    let fleet = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fleet/db1.json");
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["snapshot"], 1),
        (vec!["snapshot", "--json"], 1),
        (vec!["why", &port], 1),
        (vec!["why", &port, "--json"], 1),
        (vec!["reserve", "status"], 1),
        (vec!["reserve", "status", "--json"], 1),
        (vec!["reserve", "plan", "8080"], 1),
        (vec!["check", "--port", &port], 3),
        (vec!["check", "--port", &port, "--json"], 3),
        (vec!["metrics"], 1),
        (vec!["services"], 1),
        (vec!["services", "--json"], 1),
        (vec!["fleet", "report", fleet], 1),
        (vec!["completions", "bash"], 1),
        (vec!["man"], 1),
        (vec!["watch", &port, "--poll", "--for", "20s"], 1),
        (vec!["history", &log], 1),
        (vec!["history", &log, "--json"], 1),
    ];
    for (args, want) in &cases {
        let what = format!("{args:?}");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let (code, err) = run_bounded(portscope().args(args), Stdio::from(full), &what);
        assert_eq!(code, *want, "{what} > /dev/full: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{what} > /dev/full: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");

        let (read, write) = nix::unistd::pipe().expect("pipe");
        drop(read);
        let (code, err) = run_bounded(portscope().args(args), Stdio::from(write), &what);
        assert_eq!(code, *want, "{what} | (closed): {err}");
        assert!(err.is_empty(), "{what} | (closed): no message: {err}");
    }
}

/// Files portscope is told to read are read only when they are regular files: a FIFO (which
/// would block the open for ever) and a link to a device (/dev/zero would be read until memory
/// runs out) are refused at once with one line, status 2.
#[test]
fn fifos_and_devices_are_refused_never_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let zero = dir.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    for bad in [&fifo, &zero] {
        let bad = bad.to_str().expect("utf-8 path");
        for args in [
            vec!["history", bad],
            vec!["history", bad, "--json"],
            vec!["fleet", "report", bad],
            vec!["--replay", bad],
            vec!["--config", bad],
            vec!["--config", bad, "check", "--port", "20999"],
        ] {
            let what = format!("{args:?}");
            let (code, err) = run_bounded(portscope().args(&args), Stdio::null(), &what);
            let want = if args.contains(&"check") { 3 } else { 2 };
            assert_eq!(code, want, "{what}: {err}");
            if want == 2 {
                assert_eq!(err.trim_end().lines().count(), 1, "{what}: {err}");
                assert!(
                    err.contains("FIFO") || err.contains("device"),
                    "{what}: names what it is: {err}"
                );
            }
        }
    }
}

/// A recording that cannot start because the disk is full is portscope's failure (status 1),
/// not the user's input (2): the path was fine.
#[test]
fn a_recording_on_a_full_disk_is_a_failure_not_bad_input() {
    if !is_root() {
        skip("record_full_disk", "needs root to mount a small tmpfs");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = format!(
        "mount -t tmpfs -o size=64k tmpfs {d} && \
         (dd if=/dev/zero of={d}/fill bs=4k 2>/dev/null; true) && \
         {bin} watch 20999 --poll --for 1s --record {d}/port.log > /dev/null",
        d = dir.path().display(),
        bin = env!("CARGO_BIN_EXE_portscope"),
    );
    let (code, out, err) = run(std::process::Command::new("unshare").args([
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
    ]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("cannot record to"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

/// A fleet report is made of results it can trust: an unknown status, an exit code that
/// contradicts the status, or one host twice is bad input, named, never a quiet row.
#[test]
fn fleet_report_refuses_results_that_contradict_themselves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fleet/db1.json");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(good).expect("db1")).expect("json");
    let write = |name: &str, status: &str, code: u64| {
        let mut v = doc.clone();
        v["check"]["status"] = status.into();
        v["check"]["exit_code"] = code.into();
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).expect("write");
        p.to_str().expect("utf-8").to_string()
    };
    let bogus = write("bogus.json", "bogus", 0);
    let mismatch = write("mismatch.json", "ok", 2);
    let fine = write("fine.json", "critical", 2);
    for (files, needle) in [
        (vec![bogus.as_str()], "\"bogus\""),
        (vec![mismatch.as_str()], "does not go with status"),
        (vec![fine.as_str(), good], "is in both"),
    ] {
        let mut args = vec!["fleet", "report"];
        args.extend(files.iter().copied());
        let (code, out, err) = run(portscope().args(&args));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let (code, _, err) = run(portscope().args(["fleet", "report", &fine]));
    assert_eq!(code, 0, "{err}");
}

/// `check` is a monitoring plugin: bad arguments are UNKNOWN (3) whichever global option comes
/// before it, including those that take a value (the subcommand is found past their values).
#[test]
fn check_bad_arguments_are_unknown_after_any_global_option() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("h.log");
    let log = log.to_str().unwrap();
    for global in [
        &["--record", log][..],
        &["--interval", "1s"],
        &["--tool-path", "/usr/bin"],
        &["--netns", "1"],
        &[],
    ] {
        let (code, out, err) = run(portscope().args(global).args(["check", "--port", "abc"]));
        assert_eq!(code, 3, "{global:?}: {out}{err}");
        assert!(out.starts_with("PORTSCOPE UNKNOWN - "), "{global:?}: {out}");
    }
}
