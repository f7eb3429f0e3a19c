//! The executor against real processes and sockets: signals reach the process that was shown
//! or nobody, one connection closes while its process lives, reservations apply and undo.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::action::exec::{ActionOutcome, Logged, Status};
use portscope::action::kill::{KillError, Shown, start_time, verify};
use portscope::action::log::ActionLog;
use portscope::action::{
    PendingAction, ProcessRole, Sig, plan_close, plan_reservation, plan_signal,
};
use portscope::collect::{CollectOptions, NetnsTarget, collect};
use portscope::model::{Snapshot, Socket};
use portscope::portset::PortSet;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

fn snap() -> Snapshot {
    collect(&CollectOptions::default()).expect("snapshot")
}

fn on_port(s: &Snapshot, port: u16) -> Socket {
    s.sockets
        .iter()
        .find(|x| x.local_port == port)
        .cloned()
        .unwrap_or_else(|| panic!("nothing on {port}: {:?}", s.sockets))
}

fn alive(pid: u32) -> bool {
    start_time(pid).is_some()
}

/// Runs the executor with a log in a temp dir (never the user's) and checks it was logged.
fn execute(action: &PendingAction) -> ActionOutcome {
    let dir = temp("log");
    let log = ActionLog::at(dir.join("actions.log"));
    let outcome = portscope::action::exec::execute(action, Some(&log));
    assert_eq!(outcome.logged, Logged::Yes(log.path().to_path_buf()));
    let _ = std::fs::remove_dir_all(dir);
    outcome
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("portscope-act-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn a_recycled_pid_is_refused_and_not_signalled() {
    let child = idle();
    let pid = child.pid();
    let real = start_time(pid).expect("start time");
    // The snapshot's record says another process owned this PID (a different start time).
    let shown = |start_time| Shown {
        pid,
        start_time,
        inode: 1,
        role: ProcessRole::Ordinary,
    };
    match verify(&shown(real + 1)) {
        Err(KillError::Reused { now_start_time }) => assert_eq!(now_start_time, real),
        other => panic!("expected a refusal, got {:?}", other.err()),
    }
    assert!(alive(pid), "the refused process was not touched");
    // The right process, but it does not hold the socket that was shown.
    assert!(matches!(
        verify(&shown(real)),
        Err(KillError::NotHolding { inode: 1 })
    ));

    // A process that exited: its PID is not signalled either.
    let mut gone = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("true").spawn().expect("spawn")
    };
    let gone_pid = gone.id();
    let gone_start = start_time(gone_pid).unwrap_or(0);
    gone.wait().expect("reap");
    assert!(matches!(
        verify(&Shown {
            pid: gone_pid,
            start_time: gone_start,
            inode: 1,
            role: ProcessRole::Ordinary
        }),
        Err(KillError::Gone) | Err(KillError::Reused { .. })
    ));
}

#[test]
fn sigterm_reaches_the_shown_process_and_the_port_is_free_after() {
    if !private_netns("act_sigterm") {
        return;
    }
    let l = tcp_listen("0.0.0.0:20200");
    let holder = hold(&[&l.as_fd()]);
    drop(l);
    let s = snap();
    let sock = on_port(&s, 20200);
    let action = plan_signal(&s, &sock, Sig::Term, &NetnsTarget::Current).expect("offered");
    let PendingAction::Signal(a) = &action else {
        panic!()
    };
    assert_eq!((a.owner.pid, a.sig), (holder.pid(), Sig::Term));
    let described = action.describe();
    let (title, text) = (described.title.clone(), described.text());
    assert!(title.contains("SIGTERM sleep"), "{title}");
    assert!(
        text[0].contains(&format!("pid {}", holder.pid())) && text[0].contains("tcp 0.0.0.0:20200"),
        "{text:?}"
    );
    let outcome = execute(&action);
    assert!(outcome.ok(), "{outcome:?}");
    assert!(
        outcome.lines.iter().any(|l| l.text.contains("exited")),
        "{outcome:?}"
    );
    assert!(
        outcome
            .lines
            .iter()
            .any(|l| l.text.contains("port 20200 is free now")),
        "{outcome:?}"
    );
    assert!(wait_until(PATIENCE, || !alive(holder.pid()) || {
        // A zombie until reaped by Holder's drop: check its state.
        std::fs::read_to_string(format!("/proc/{}/stat", holder.pid()))
            .is_ok_and(|t| t.contains(") Z "))
    }));
}

#[test]
fn a_process_that_ignores_sigterm_gets_sigkill_offered() {
    if !private_netns("act_ignore_term") {
        return;
    }
    let l = tcp_listen("0.0.0.0:20230");
    let child = {
        use nix::fcntl::{FcntlArg, FdFlag, fcntl};
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        fcntl(l.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).expect("clear cloexec");
        let c = Command::new("sh")
            .args(["-c", "trap '' TERM; while :; do sleep 1; done"])
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn sh");
        fcntl(l.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).expect("set cloexec");
        c
    };
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(&l)
        ))
        .expect("socket inode")
        .ino()
    };
    drop(l);
    let mut holder = Holder { child };
    let pid = holder.pid();
    // Wait until the shell has installed the trap: SIGTERM (15) is bit 14 of SigIgn.
    let ignores_term = || {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .is_some_and(|mask| mask & (1 << 14) != 0)
        })
    };
    assert!(wait_until(PATIENCE, ignores_term));
    let owner = portscope::model::Owner {
        pid,
        comm: "sh".into(),
        cmdline: "sh".into(),
        uid: 0,
        user: "root".into(),
        start_time: start_time(pid).expect("start"),
        unit: None,
        container: None,
        nspid: vec![pid],
        ..Default::default()
    };
    let action = PendingAction::Signal(portscope::action::SignalAction {
        sig: Sig::Term,
        owner,
        socket: "tcp 0.0.0.0:1".into(),
        proto: portscope::model::Proto::Tcp,
        addr: "0.0.0.0".parse().expect("addr"),
        port: 1,
        other_listeners: vec![],
        connections: 0,
        co_owners: vec![],
        netns: NetnsTarget::Current,
        inode,
        role: ProcessRole::Ordinary,
        managers: vec![],
        unit_hint: None,
        grace: None,
    });
    let outcome = execute(&action);
    assert_eq!(outcome.status, Status::NoEffect, "{outcome:?}");
    assert!(
        outcome.lines[0].text.contains("still running"),
        "{outcome:?}"
    );
    let Some(PendingAction::Signal(next)) = &outcome.follow_up else {
        panic!("SIGKILL should be offered: {outcome:?}")
    };
    assert_eq!((next.sig, next.owner.pid), (Sig::Kill, pid));
    let outcome = execute(outcome.follow_up.as_ref().expect("follow-up"));
    assert_eq!(outcome.status, Status::Done, "{outcome:?}");
    assert!(outcome.lines[0].text.contains("exited"), "{outcome:?}");
    let _ = holder.child.wait();
}

#[test]
fn closing_one_outgoing_connection_keeps_its_process() {
    if !private_netns("act_close") {
        return;
    }
    let server = tcp_listen("127.0.0.1:20210");
    let client = TcpStream::connect("127.0.0.1:20210").expect("connect");
    let thief = hold(&[&client.as_fd()]);
    let port = client.local_addr().expect("addr").port();
    drop(client);
    let (_accepted, _) = server.accept().expect("accept");
    let s = snap();
    let sock = on_port(&s, port);
    assert!(sock.autobound);
    let action = plan_close(&sock, &NetnsTarget::Current).expect("offered");
    let outcome = execute(&action);
    assert!(outcome.ok(), "{outcome:?}");
    let after = snap();
    assert!(
        !after
            .sockets
            .iter()
            .any(|x| x.local_port == port && x.state == portscope::model::State::Established),
        "the connection is gone: {:?}",
        after.sockets
    );
    assert!(alive(thief.pid()), "the client process lives on");
    // Closing it again finds nothing: the cookie pins the exact socket.
    let again = execute(&action);
    assert!(
        !again.ok() && again.lines[0].text.contains("already gone"),
        "{again:?}"
    );
    // A listener is not a connection.
    let l = on_port(&s, 20210);
    let l = s
        .sockets
        .iter()
        .find(|x| x.local_port == 20210 && x.is_listening())
        .unwrap_or(&l);
    assert!(plan_close(l, &NetnsTarget::Current).is_err());
}

#[test]
fn time_wait_has_nothing_to_kill() {
    if !private_netns("act_tw") {
        return;
    }
    let l = tcp_listen("127.0.0.1:20220");
    make_time_wait(&l);
    drop(l);
    let mut tw = None;
    assert!(wait_until(PATIENCE, || {
        tw = snap()
            .sockets
            .into_iter()
            .find(|x| x.state == portscope::model::State::TimeWait);
        tw.is_some()
    }));
    let err = plan_signal(&snap(), &tw.expect("tw"), Sig::Term, &NetnsTarget::Current)
        .expect_err("refused");
    assert!(
        matches!(
            err,
            portscope::action::NotOffered::KernelTimeWait { secs: 1..=60, .. }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.contains("no process to kill") && err.contains("freed in"),
        "{err}"
    );
}

#[test]
fn a_reservation_applies_and_undoes_through_the_executor() {
    if !private_netns("act_reserve") {
        return;
    }
    let dir = temp("reserve");
    let l = tcp_listen("0.0.0.0:40123");
    let s = snap();
    let journal = dir.join("journal.json");
    let a = plan_reservation(
        &s,
        &PortSet::parse("40123").expect("spec"),
        &PortSet::new(),
        &NetnsTarget::Current,
        Some(dir.join("90-portscope-reserved-ports.conf")),
        None,
        journal.clone(),
    );
    assert_eq!(a.plan.proposed.to_string(), "40123");
    assert_eq!(a.plan.held.len(), 1, "the listener holds it now");
    let outcome = execute(&PendingAction::ApplyReservation(a));
    assert!(outcome.ok(), "{outcome:?}");
    let proc = || common::reserve::runtime();
    assert_eq!(proc(), "40123");
    let undo = portscope::reserve::plan_undo(&journal, &NetnsTarget::Current).expect("undo plan");
    let outcome = execute(&PendingAction::UndoReservation(undo));
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(proc(), "");
    drop(l);
    let _ = std::fs::remove_dir_all(dir);
}
