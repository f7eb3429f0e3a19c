//! `portscope fix PORT` end to end in private namespaces: each step confirmed (a signal only with
//! its own yes), carried out through the executor (its action log), re-probed, and the port then
//! taken by a real bind().
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::pty::Tui;
use common::sockets::*;
use common::*;
use std::net::TcpStream;
use std::os::fd::AsFd;

/// `portscope fix ARGS` with a private data directory (action log, undo journal).
fn fix(dir: &tempfile::TempDir, args: &[&str]) -> (i32, String, String) {
    let mut cmd = portscope();
    cmd.arg("fix").args(args);
    cmd.env("XDG_DATA_HOME", dir.path()).env("HOME", dir.path());
    run(&mut cmd)
}

fn alive(h: &mut Holder) -> bool {
    h.child.try_wait().ok().flatten().is_none()
}

fn log_of(dir: &tempfile::TempDir) -> String {
    std::fs::read_to_string(dir.path().join("portscope/actions.log")).unwrap_or_default()
}

#[test]
fn fix_frees_a_port_held_by_a_listener_and_its_time_wait() {
    if !private_netns("fix_listener_tw") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let l = tcp_listen("0.0.0.0:24001");
    make_time_wait(&l);
    let mut holder = hold(&[&l.as_fd()]);
    drop(l);
    // --yes alone never signals a process.
    let (code, out, _) = fix(&dir, &["24001", "--yes"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("--yes does not stop or signal processes"),
        "{out}"
    );
    assert!(out.contains("still not free"), "{out}");
    assert!(alive(&mut holder));
    assert!(!binds("0.0.0.0", 24001));
    let (code, out, err) = fix(&dir, &["24001", "--yes", "--kill"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("is free: the kernel's bind probe succeeded"),
        "{out}"
    );
    assert!(!alive(&mut holder), "the listener's process got SIGTERM");
    assert!(binds("0.0.0.0", 24001), "a real bind takes the port");
    let log = log_of(&dir);
    assert!(log.contains("SIGTERM sleep"), "{log}");
    assert!(log.contains("destroy 1 sockets on port 24001"), "{log}");
}

#[test]
fn fix_on_the_thief_reserves_closes_and_keeps_the_client_running() {
    if !private_netns("fix_thief") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = tcp_listen("127.0.0.1:24002");
    let client = TcpStream::connect("127.0.0.1:24002").unwrap();
    let mut thief = hold(&[&client.as_fd()]);
    drop(client);
    let (_accepted, peer) = server.accept().unwrap();
    let port = peer.port();
    let (code, out, err) = fix(&dir, &[&port.to_string(), "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let reserve = out.find("Step 1: first reserve").expect(&out);
    let close = out.find("Step 2: close the connection").expect(&out);
    assert!(reserve < close);
    let reserved = common::reserve::runtime();
    assert_eq!(reserved.trim(), port.to_string());
    assert!(
        alive(&mut thief),
        "closing a connection leaves its process running"
    );
    assert!(binds("0.0.0.0", port));
}

#[test]
fn fix_closes_a_dead_listeners_connections_and_a_bound_socket_needs_a_kill() {
    if !private_netns("fix_close_wait_bound") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let l = tcp_listen("127.0.0.1:24003");
    let clients: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect("127.0.0.1:24003").unwrap())
        .collect();
    let accepted: Vec<_> = (0..20).map(|_| l.accept().unwrap().0).collect();
    let fds: Vec<&dyn AsFd> = accepted.iter().map(|a| a as &dyn AsFd).collect();
    let mut worker = hold(&fds);
    drop((l, accepted, clients));
    assert!(wait_until(PATIENCE, || {
        let (_, out, _) = run(portscope().args(["why", "24003"]));
        out.contains("20 CLOSE-WAIT")
    }));
    let (code, out, err) = fix(&dir, &["24003", "--yes"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("destroyed 20 of 20"), "{out}");
    assert!(alive(&mut worker));
    assert!(binds("0.0.0.0", 24003));

    let fd = tcp_bind("0.0.0.0".parse().unwrap(), 24004, Opts::default()).unwrap();
    let mut holder = hold(&[&fd.as_fd()]);
    drop(fd);
    let (code, out, _) = fix(&dir, &["24004", "--yes", "--kill"]);
    assert_eq!(code, 0, "{out}");
    assert!(!alive(&mut holder));
    assert!(binds("0.0.0.0", 24004));
}

#[test]
fn fix_asks_for_each_step_and_no_means_no() {
    if !private_netns("fix_pty") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let l = tcp_listen("0.0.0.0:24005");
    let mut holder = hold(&[&l.as_fd()]);
    drop(l);
    let env = [("XDG_DATA_HOME", d), ("HOME", d)];
    let mut t = Tui::start(&["fix", "24005"], &env, 100, 40);
    t.wait_text("Do it? [y/N]");
    t.keys("\r"); // the default is no
    t.wait_text("skipped");
    assert_eq!(t.exit_code(), 1);
    assert!(alive(&mut holder));
    let mut t = Tui::start(&["fix", "24005"], &env, 100, 40);
    t.wait_for("the signal's own question", |s| {
        s.contains("Do it? [y/N]") && s.contains("Send SIGTERM to sleep")
    });
    t.keys("y\r");
    t.wait_text("is free");
    assert_eq!(t.exit_code(), 0);
    assert!(!alive(&mut holder));
    assert!(binds("0.0.0.0", 24005));
}

#[test]
fn fix_exit_statuses() {
    if !private_netns("fix_exit") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = fix(&dir, &["24006"]);
    assert_eq!(code, 0);
    assert!(out.contains("nothing to do"), "{out}");
    for args in [
        &["0"][..],
        &["70000"][..],
        &["80", "--user", "no-such-user-here"][..],
        &["80", "--proto", "icmp"][..],
        &["80", "--addr", "nope"][..],
    ] {
        let (code, out, err) = fix(&dir, args);
        assert_eq!(code, 2, "{args:?}: {out} {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    // Without a terminal and without --yes nobody is asked and nothing changes.
    let l = tcp_listen("0.0.0.0:24007");
    let mut holder = hold(&[&l.as_fd()]);
    drop(l);
    let (code, out, err) = fix(&dir, &["24007"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("pass --yes"), "{err}");
    assert!(alive(&mut holder));
}

#[test]
fn the_tui_runs_the_plan_as_one_confirmed_sequence() {
    if !private_netns("fix_tui_sequence") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let l = tcp_listen_plain(24010);
    for _ in 0..3 {
        make_time_wait(&l);
    }
    drop(l);
    let env = [("XDG_DATA_HOME", d), ("HOME", d), ("XDG_CONFIG_HOME", d)];
    let mut t = Tui::start(&["--interval", "200ms"], &env, 120, 40);
    t.wait_text("Listeners");
    t.keys("4e");
    t.keys("24010\r");
    // A frame can be read half drawn: wait for everything it should show.
    t.wait_for("the TIME_WAIT cause and its remedy", |s| {
        s.contains("3 TIME_WAIT sockets") && s.contains("press D")
    });
    t.keys("F");
    t.wait_for("the plan's confirmation", |s| {
        s.contains("Fix: run the plan") && s.contains("stopping as soon as it binds")
    });
    // y is taken once the dialog has been up long enough to read.
    t.wait_text("yes, do it");
    t.keys("y");
    t.wait_text("is free: the kernel's bind probe succeeded");
    assert!(binds("0.0.0.0", 24010), "a real bind takes the port");
    assert!(log_of(&dir).contains("fix port 24010"), "{}", log_of(&dir));
    t.keys("\x1b");
    t.keys("q");
    assert_eq!(t.exit_code(), 0);
}

/// A holder of `l`: `script` run by sh, the listener inherited.
fn shell_holder(l: &std::net::TcpListener, script: &str) -> Holder {
    spawn_holding(
        std::process::Command::new("sh")
            .args(["-c", script])
            .stdin(std::process::Stdio::null()),
        &[l],
    )
}

/// SIGSTOP to `pid`, and wait until the kernel shows it stopped.
fn stop(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGSTOP,
    )
    .unwrap();
    assert!(wait_until(PATIENCE, || std::fs::read_to_string(format!(
        "/proc/{pid}/stat"
    ))
    .is_ok_and(|s| s
        .rsplit_once(") ")
        .is_some_and(|(_, r)| r.starts_with('T')))));
}

/// A stopped holder (a Ctrl-Z'd dev server) is continued after SIGTERM so it can act on it,
/// and the outcome says so.
#[test]
fn a_stopped_holder_is_continued_so_sigterm_takes_effect() {
    if !private_netns("fix_stopped") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let l = tcp_listen("0.0.0.0:24030");
    let mut holder = shell_holder(&l, "exec sleep 600");
    drop(l);
    let pid = holder.pid();
    stop(pid);
    let (code, out, err) = fix(&dir, &["24030", "--proto", "tcp", "--yes", "--kill"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("sent SIGCONT"), "{out}");
    assert!(wait_until(PATIENCE, || !alive(&mut holder)));
}

/// A holder that ignores SIGTERM is given the grace period, then SIGKILL is offered, and taken
/// only with --kill=force: --yes never implies it.
#[test]
fn sigkill_is_never_implied_by_yes() {
    if !private_netns("fix_no_implied_sigkill") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let l = tcp_listen("0.0.0.0:24031");
    // One process, no children: SIGTERM ignored (SIG_IGN survives exec), then it sleeps.
    let mut holder = shell_holder(&l, "trap '' TERM; exec sleep 600");
    drop(l);
    let (code, out, err) = fix(
        &dir,
        &[
            "24031", "--proto", "tcp", "--yes", "--kill", "--grace", "1s",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("still running 1s after SIGTERM"), "{out}");
    assert!(out.contains("SIGKILL takes --kill=force"), "{out}");
    assert!(alive(&mut holder), "SIGKILL was implied by --yes: {out}");
    let (code, out, err) = fix(
        &dir,
        &[
            "24031",
            "--proto",
            "tcp",
            "--yes",
            "--kill=force",
            "--grace",
            "1s",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(wait_until(PATIENCE, || !alive(&mut holder)), "{out}");
}

/// `why` shows a stopped holder as stopped: a Ctrl-Z'd server accepts nothing.
#[test]
fn why_shows_a_stopped_holder_as_stopped() {
    if !private_netns("why_stopped_state") {
        return;
    }
    let l = tcp_listen("0.0.0.0:24032");
    let holder = shell_holder(&l, "exec sleep 600");
    drop(l);
    let pid = holder.pid();
    stop(pid);
    let (_, out, _) = run(portscope().args(["why", "24032", "--proto", "tcp"]));
    assert!(out.contains("STOPPED (state T"), "{out}");
    drop(holder);
}
