//! Signals attacked for real: a PID recycled within the same clock tick (inside a private PID
//! namespace, with ns_last_pid), a frozen row whose process closed the socket, a container's init
//! (PID 1 of a nested PID namespace), a socket shared with an init, PID 1 of portscope's own PID
//! namespace, and the action log's injected path (symlink and FIFO planted where it should be).
//!
//! Tests that need portscope to run *inside* a PID namespace re-run this one test, alone, from
//! the suite's binary under `unshare --pid --fork --mount-proc`, with PORTSCOPE_TEST_INNER set;
//! the inner run does the work and the outer one checks that it passed.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

use crate::common::*;
use portscope::action::exec::{ActionOutcome, Logged, Status, execute};
use portscope::action::log::ActionLog;
use portscope::action::{PendingAction, ProcessRole, Sig, SignalAction, plan_signal};
use portscope::collect::{CollectOptions, NetnsTarget, collect};
use portscope::model::{Snapshot, Socket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const INNER: &str = "PORTSCOPE_TEST_INNER";

fn snap() -> Snapshot {
    collect(&CollectOptions::default()).expect("snapshot")
}

fn listener_on(s: &Snapshot, port: u16) -> Option<Socket> {
    s.sockets
        .iter()
        .find(|x| x.local_port == port && x.is_listening())
        .cloned()
}

fn start_time(pid: u32) -> Option<u64> {
    portscope::action::kill::start_time(pid)
}

/// Alive, not a zombie, and no SIGTERM waiting for it: nothing was sent to it.
fn untouched(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(u64::MAX)
    };
    let zombie = status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains('Z'));
    !zombie && field("SigPnd:") & (1 << 14) == 0 && field("ShdPnd:") & (1 << 14) == 0
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("portscope-sig-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn signal_of(a: &PendingAction) -> &SignalAction {
    match a {
        PendingAction::Signal(s) => s,
        other => panic!("not a signal: {other:?}"),
    }
}

fn skip(test: &str, why: &str) -> bool {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} cannot run on CI: {why}");
    }
    skip_note!("SKIPPED {test}: {why}");
    false
}

/// Outer half of a test that runs inside a fresh PID namespace (with its own /proc).
/// Returns true when called in the inner run (go on with the test there).
fn inside_pid_namespace(test: &str) -> bool {
    if std::env::var_os(INNER).is_some() {
        return true;
    }
    if !is_root() {
        skip(test, "needs root to create a PID namespace");
        return false;
    }
    let exe = std::env::current_exe().expect("test binary");
    // The suite's name for the test: this module's path without the crate's name.
    let name = format!("{}::{test}", module_path!().split_once("::").unwrap().1);
    // Not `run`, which holds the spawn lock until the child exits: the whole suite's spawns
    // would wait for the inner run.
    // At a real-time priority where the kernel allows it: the recycle test must fork, read a
    // snapshot, kill and fork again inside one clock tick, which other tests of the suite (and a
    // shared runner's other work) on both cores would otherwise stretch past it.
    let realtime = Command::new("chrt")
        .args(["--fifo", "10", "true"])
        .status()
        .is_ok_and(|s| s.success());
    let mut cmd = if realtime {
        let mut c = Command::new("chrt");
        c.args(["--fifo", "10", "unshare"]);
        c
    } else {
        Command::new("unshare")
    };
    let done = output(
        cmd.args(["--pid", "--fork", "--mount-proc"])
            .arg(exe)
            .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(INNER, "1"),
    )
    .expect("spawn unshare");
    let code = done.status.code().unwrap_or(-1);
    let out = String::from_utf8_lossy(&done.stdout);
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(
        code == 0 && out.contains("1 passed"),
        "inner run of {test} failed ({code}):\n{out}\n{err}"
    );
    false
}

/// Spawns `program args` holding `fds` (inherited, same numbers).
fn spawn_holding(fds: &[&dyn AsFd], program: &str, args: &[&str]) -> Holder {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    for fd in fds {
        fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).expect("clear cloexec");
    }
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    for fd in fds {
        fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("set cloexec");
    }
    Holder { child }
}

/// Returns just after the clock tick that process start times count in has turned over, so
/// that what follows has the whole tick to itself.
fn just_after_a_tick() {
    let tick_ns = 1_000_000_000 / procfs::ticks_per_second();
    let phase = || {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
        (t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64) % tick_ns
    };
    let start = std::time::Instant::now();
    // A turn comes every tick; the limit only stops a broken clock from hanging the test.
    while start.elapsed() < std::time::Duration::from_secs(1) {
        let p = phase();
        if p < tick_ns / 10 {
            return;
        }
        // Poll until the phase wraps (a condition on the clock, not a guess of how long).
        std::thread::sleep(std::time::Duration::from_nanos(
            (tick_ns - p).min(tick_ns / 20),
        ));
    }
}

fn refused_because(o: &ActionOutcome, words: &str) -> bool {
    o.status == Status::Refused && o.lines.iter().any(|l| l.text.contains(words))
}

#[test]
fn a_pid_recycled_in_the_same_tick_is_refused_and_the_newcomer_untouched() {
    const TEST: &str = "a_pid_recycled_in_the_same_tick_is_refused_and_the_newcomer_untouched";
    if !inside_pid_namespace(TEST) || !private_netns(TEST) {
        return;
    }
    let dir = temp("recycle");
    let log = ActionLog::at(dir.join("actions.log"));
    let l = tcp_listen("0.0.0.0:20400");
    let mut reproduced = 0;
    // Under load a same-tick recycle is rarer: keep trying for a while rather than a count.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while std::time::Instant::now() < deadline {
        just_after_a_tick();
        let mut victim = hold(&[&l.as_fd()]);
        let pid = victim.pid();
        let s = snap();
        let sock = listener_on(&s, 20400).expect("listener in the snapshot");
        // The test itself holds the listener too, but it is PID 1 here: never the target.
        let action = plan_signal(&s, &sock, Sig::Term, &NetnsTarget::Current).expect("offered");
        let shown = signal_of(&action).owner.clone();
        assert_eq!(shown.pid, pid, "the victim is the one offered");
        // The victim goes; a newcomer takes its PID.
        let _ = victim.child.kill();
        let _ = victim.child.wait();
        std::fs::write("/proc/sys/kernel/ns_last_pid", format!("{}", pid - 1))
            .expect("ns_last_pid (this PID namespace's own)");
        let newcomer = spawn_holding(&[], "sleep", &["600"]);
        if newcomer.pid() != pid || start_time(pid) != Some(shown.start_time) {
            continue; // not within the same tick this time: again
        }
        reproduced += 1;
        // Same PID, same start time: the start-time check alone would signal the newcomer.
        let outcome = execute(&action, Some(&log));
        assert!(
            refused_because(&outcome, "no longer holds the socket"),
            "{outcome:?}"
        );
        assert!(untouched(newcomer.pid()), "the newcomer was not signalled");
        assert!(matches!(outcome.logged, Logged::Yes(_)), "{outcome:?}");
        if reproduced == 3 {
            break;
        }
    }
    assert!(
        reproduced > 0,
        "could not recycle a PID within one tick in 90 s of attempts"
    );
    println!("recycled a PID within its tick {reproduced} times");
    let text = std::fs::read_to_string(dir.join("actions.log")).expect("log");
    assert_eq!(text.lines().count(), reproduced, "{text}");
    assert!(text.lines().all(|l| l.contains(" REFUSED ")), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_frozen_row_whose_process_closed_the_socket_is_refused() {
    if !private_netns("frozen_row_closed") {
        return;
    }
    let dir = temp("frozen");
    let log = ActionLog::at(dir.join("actions.log"));
    let l = tcp_listen("0.0.0.0:20410");
    let raw = std::os::fd::AsRawFd::as_raw_fd(&l);
    // bash closes the inherited listener when told to (a line on stdin), and keeps running.
    let script = format!("read -r _; exec {raw}>&-; echo closed; exec sleep 600");
    let mut holder = spawn_holding(&[&l.as_fd()], "bash", &["-c", &script]);
    drop(l);
    let s = snap();
    let sock = listener_on(&s, 20410).expect("listener");
    let action = plan_signal(&s, &sock, Sig::Term, &NetnsTarget::Current).expect("offered");
    assert_eq!(signal_of(&action).owner.pid, holder.pid());
    {
        use std::io::Write;
        let stdin = holder.child.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("tell it to close");
    }
    let pid = holder.pid();
    assert!(wait_until(PATIENCE, || {
        snap().sockets.iter().all(|x| x.local_port != 20410)
    }));
    assert_eq!(start_time(pid), Some(signal_of(&action).owner.start_time));
    let outcome = execute(&action, Some(&log));
    assert!(
        refused_because(&outcome, "no longer holds the socket"),
        "{outcome:?}"
    );
    assert!(
        untouched(pid),
        "the process that closed the socket lives on"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The host pid of the single child of `pid`.
fn only_child(pid: u32) -> Option<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[test]
fn a_container_init_is_warned_about_and_sigkill_takes_its_namespace() {
    if !private_netns("container_init") {
        return;
    }
    let dir = temp("init");
    let log = ActionLog::at(dir.join("actions.log"));
    // PID 1 of a new PID namespace listens itself (no handler for SIGTERM), with one child.
    let perl = "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalAddr => '0.0.0.0:20420', Listen => 5, ReuseAddr => 1) or die $!; if (fork() == 0) { close $s; exec 'sleep', '600' } sleep 600";
    let _unshare = spawn_holding(
        &[],
        "unshare",
        &["--pid", "--fork", "--kill-child", "perl", "-e", perl],
    );
    let mut sock = None;
    assert!(wait_until(PATIENCE, || {
        sock = listener_on(&snap(), 20420).filter(|s| !s.owners.is_empty());
        sock.is_some()
    }));
    let sock = sock.expect("listener");
    let s = snap();
    let action = plan_signal(&s, &sock, Sig::Term, &NetnsTarget::Current).expect("offered");
    let a = signal_of(&action).clone();
    assert_eq!(a.role, ProcessRole::NamespaceInit, "{:?}", a.owner);
    assert_eq!(a.owner.nspid.last(), Some(&1));
    let init = a.owner.pid;
    let described = action.describe();
    let (_, text) = (described.title.clone(), described.text());
    let all = text.join("\n");
    assert!(
        all.contains("PID 1 (the init) of its own PID namespace") && all.contains("may be ignored"),
        "{all}"
    );
    assert!(!all.contains("this process only"), "{all}");
    let mut child = None;
    assert!(wait_until(PATIENCE, || {
        child = only_child(init);
        child.is_some()
    }));
    let child = child.expect("the init's child");

    // SIGTERM: the kernel drops it (no handler), and says so; SIGKILL is offered next.
    let outcome = execute(&action, Some(&log));
    assert_eq!(outcome.status, Status::NoEffect, "{outcome:?}");
    assert!(
        outcome.lines.iter().any(|l| l.text.contains("discarded")),
        "{outcome:?}"
    );
    let next = outcome.follow_up.expect("SIGKILL offered");
    let described = next.describe();
    let (_, text) = (described.title.clone(), described.text());
    assert!(
        text.join("\n")
            .contains("every process of that PID namespace (the whole container)"),
        "{text:?}"
    );
    assert!(start_time(child).is_some(), "the child still runs");

    // SIGKILL: the init and every process of its namespace end, as the dialog said.
    let outcome = execute(&next, Some(&log));
    assert_eq!(outcome.status, Status::Done, "{outcome:?}");
    assert!(
        outcome
            .lines
            .iter()
            .any(|l| l.text.contains("ended every process in that namespace")),
        "{outcome:?}"
    );
    assert!(wait_until(PATIENCE, || start_time(child).is_none()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_socket_shared_with_a_namespace_init_never_signals_the_init() {
    if !private_netns("shared_with_init") {
        return;
    }
    let dir = temp("shared");
    let log = ActionLog::at(dir.join("actions.log"));
    let l = tcp_listen("0.0.0.0:20430");
    // unshare (ordinary) and its child, PID 1 of the new namespace, both hold the listener.
    let unshare = spawn_holding(
        &[&l.as_fd()],
        "unshare",
        &["--pid", "--fork", "--kill-child", "sleep", "600"],
    );
    drop(l);
    let mut sock = None;
    assert!(wait_until(PATIENCE, || {
        sock = listener_on(&snap(), 20430).filter(|s| s.owners.len() == 2);
        sock.is_some()
    }));
    let sock = sock.expect("listener");
    let init = sock
        .owners
        .iter()
        .find(|o| ProcessRole::of_owner(o) == ProcessRole::NamespaceInit)
        .map(|o| (**o).clone())
        .expect("the namespace's init holds it");
    let s = snap();
    let action = plan_signal(&s, &sock, Sig::Kill, &NetnsTarget::Current).expect("offered");
    let a = signal_of(&action);
    assert_eq!(
        (a.owner.pid, a.role),
        (unshare.pid(), ProcessRole::Ordinary)
    );
    assert!(init.start_time >= a.owner.start_time);

    // An action aimed at the init that does not say so (a stale or forged plan) is refused.
    let forged = PendingAction::Signal(SignalAction {
        owner: init.clone(),
        role: ProcessRole::Ordinary,
        ..a.clone()
    });
    let outcome = execute(&forged, Some(&log));
    assert!(
        refused_because(&outcome, "not an ordinary process"),
        "{outcome:?}"
    );
    assert!(untouched(init.pid));
    // why's remedies for it say what a signal would do to that init.
    let remedies = portscope::action::signal_remedies(&sock);
    let on_init = remedies
        .iter()
        .find(|r| r.command == format!("kill {}", init.pid))
        .expect("remedy");
    assert!(
        on_init.text.contains("SIGKILL ends every process"),
        "{on_init:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn pid_1_of_our_own_namespace_is_never_signalled() {
    const TEST: &str = "pid_1_of_our_own_namespace_is_never_signalled";
    if !inside_pid_namespace(TEST) || !private_netns(TEST) {
        return;
    }
    assert_eq!(std::process::id(), 1, "this run is its namespace's init");
    let dir = temp("pid1");
    let log = ActionLog::at(dir.join("actions.log"));
    // PID 1 (this test, standing in for systemd) holds a listener, shared with a service.
    let l = tcp_listen("0.0.0.0:20440");
    let service = hold(&[&l.as_fd()]);
    let s = snap();
    let sock = listener_on(&s, 20440).expect("listener");
    assert!(sock.owners.iter().any(|o| o.pid == 1 && o.nspid == [1]));
    let action = plan_signal(&s, &sock, Sig::Term, &NetnsTarget::Current).expect("offered");
    let a = signal_of(&action);
    assert_eq!(a.owner.pid, service.pid(), "the service, never PID 1");
    let described = action.describe();
    let (_, text) = (described.title.clone(), described.text());
    assert!(
        text.iter()
            .any(|l| l.contains("pid 1, the host's init") && l.contains("port stays held")),
        "{text:?}"
    );

    // PID 1 alone: nothing is offered, and the socket unit is what to stop.
    drop(service);
    let s = snap();
    let sock = listener_on(&s, 20440).expect("listener");
    let err = plan_signal(&s, &sock, Sig::Term, &NetnsTarget::Current)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("never signals") && err.contains("socket unit"),
        "{err}"
    );
    // A plan aimed at PID 1 anyway is refused by the executor, which reads the process live.
    let me = sock.owners[0].clone();
    let forged = PendingAction::Signal(SignalAction {
        owner: (*me).clone(),
        role: ProcessRole::Ordinary,
        ..a.clone()
    });
    let outcome = execute(&forged, Some(&log));
    assert!(refused_because(&outcome, "never signals"), "{outcome:?}");

    // The CLI's why says the same: no `kill 1`, the socket unit instead.
    let (code, out, err) = run(portscope().args(["why", "20440"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(!out.contains("kill 1"), "{out}");
    assert!(out.contains("socket unit"), "{out}");
    // Where systemd lists the socket, its unit is named instead of guessed. systemd does not run
    // in this namespace: a stand-in systemctl prints what `list-sockets` prints.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let fake = bin.join("systemctl");
    crate::common::write_executable(
        &fake,
        b"#!/bin/sh\n[ \"$1\" = list-sockets ] || exit 1\necho '/run/x.sock Stream x.socket x.service'\necho '0.0.0.0:20440 Stream web.socket web.service'\n",
    );
    // Tools are never found through PATH: the stand-in is named with --tool-path.
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    let (_, out, _) = run(portscope().args(["--tool-path", &path, "why", "20440"]));
    assert!(
        out.contains("$ systemctl stop web.socket web.service"),
        "{out}"
    );
    assert!(out.contains("systemd lists it"), "{out}");
    assert!(!out.contains("kill 1"), "{out}");
    drop(l);
    let _ = std::fs::remove_dir_all(dir);
}

fn sample_outcome() -> PendingAction {
    // An action that is refused at once (a PID that cannot exist): it still gets logged.
    PendingAction::Signal(SignalAction {
        sig: Sig::Term,
        owner: portscope::model::Owner {
            pid: u32::MAX,
            comm: "ghost\nFAKE ok line".into(),
            cmdline: String::new().into(),
            uid: 0,
            user: "root".into(),
            start_time: 1,
            unit: None,
            container: None,
            nspid: vec![],
            ..Default::default()
        },
        socket: "tcp 127.0.0.1:1".into(),
        proto: portscope::model::Proto::Tcp,
        addr: "127.0.0.1".parse().expect("addr"),
        port: 1,
        other_listeners: vec![],
        connections: 0,
        co_owners: vec![],
        netns: NetnsTarget::Current,
        inode: 1,
        role: ProcessRole::Ordinary,
        managers: vec![],
        unit_hint: None,
        grace: None,
    })
}

#[test]
fn the_action_log_goes_where_it_is_told_and_never_through_a_link() {
    let dir = temp("log");
    let action = sample_outcome();

    let path = dir.join("sub").join("actions.log");
    let outcome = execute(&action, Some(&ActionLog::at(&path)));
    assert_eq!(outcome.status, Status::Refused, "{outcome:?}");
    assert_eq!(outcome.logged, Logged::Yes(path.clone()));
    let text = std::fs::read_to_string(&path).expect("log written");
    assert_eq!(text.lines().count(), 1, "one line, newline escaped: {text}");
    assert!(
        (text.contains("ghost\\x0aFAKE") || text.contains("ghost\\nFAKE"))
            && text.contains(" REFUSED "),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // A symlink where the log should be: refused, its target untouched.
    let target = dir.join("precious");
    std::fs::write(&target, "keep me\n").expect("write");
    let link = dir.join("link.log");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let outcome = execute(&action, Some(&ActionLog::at(&link)));
    assert!(
        matches!(&outcome.logged, Logged::No(why) if why.contains("symbolic link")),
        "{outcome:?}"
    );
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep me\n");

    // A symlinked directory: refused too.
    let linked_dir = dir.join("linkdir");
    std::os::unix::fs::symlink(dir.join("sub"), &linked_dir).expect("symlink dir");
    let outcome = execute(
        &action,
        Some(&ActionLog::at(linked_dir.join("actions.log"))),
    );
    assert!(matches!(&outcome.logged, Logged::No(_)), "{outcome:?}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("log").lines().count(),
        1
    );

    // A FIFO: refused at once, no hang.
    let fifo = dir.join("fifo.log");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let outcome = execute(&action, Some(&ActionLog::at(&fifo)));
    assert!(matches!(&outcome.logged, Logged::No(_)), "{outcome:?}");

    // A hard link to another file: refused.
    let other = dir.join("other");
    std::fs::write(&other, "x\n").expect("write");
    let hard = dir.join("hard.log");
    std::fs::hard_link(&other, &hard).expect("hard link");
    let outcome = execute(&action, Some(&ActionLog::at(&hard)));
    assert!(
        matches!(&outcome.logged, Logged::No(why) if why.contains("hard links")),
        "{outcome:?}"
    );
    assert_eq!(std::fs::read_to_string(&other).expect("read"), "x\n");

    // Nowhere to log: said so, never a default path.
    let outcome = execute(&action, None);
    assert!(matches!(outcome.logged, Logged::No(_)), "{outcome:?}");
    let _ = std::fs::remove_dir_all(dir);
}
