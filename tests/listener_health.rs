//! Listener health against the real kernel, each verdict compared with what a real client sees:
//! a listener that never accepts (its backlog of 4 full, SYNs dropped, ListenOverflows climbing,
//! a new client's connect times out), one that accepts slowly (a client still gets in), and one
//! whose process is stopped (a client's request gets no answer until SIGCONT).
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, bind, connect, listen, socket,
};
use portscope::analyze::listener_health::Health;
use portscope::analyze::why::{CauseKind, Diagnosis};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

/// A listener on 127.0.0.1:`port` with the listen() backlog `backlog`.
fn listen_backlog(port: u16, backlog: i32) -> TcpListener {
    let fd: OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReuseAddr, &true).unwrap();
    bind(
        fd.as_raw_fd(),
        &SockaddrIn::from_str(&format!("127.0.0.1:{port}")).unwrap(),
    )
    .unwrap();
    listen(&fd, Backlog::new(backlog).unwrap()).unwrap();
    TcpListener::from(fd)
}

/// A client whose connect() is started and not waited for (a dropped SYN does not block).
fn connect_nonblocking(port: u16) -> OwnedFd {
    let fd: OwnedFd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    match connect(
        fd.as_raw_fd(),
        &SockaddrIn::from_str(&format!("127.0.0.1:{port}")).unwrap(),
    ) {
        Ok(()) | Err(nix::Error::EINPROGRESS) => fd,
        Err(e) => panic!("connect: {e}"),
    }
}

/// ListenOverflows of this thread's network namespace.
fn overflows() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").unwrap();
    portscope::model::process_context::parse_listen_stats(&text)
        .unwrap()
        .overflows
}

/// What a new client gets: whether its connect() completes within a short timeout.
fn client_connects(port: u16) -> bool {
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&to, Duration::from_millis(500)).is_ok()
}

fn listener_cause(d: &Diagnosis) -> &portscope::analyze::why::Cause {
    d.causes
        .iter()
        .find(|c| c.kind == CauseKind::Listener)
        .unwrap_or_else(|| panic!("no listener cause: {:#?}", d.causes))
}

fn health(d: &Diagnosis) -> &portscope::analyze::listener_health::ListenerHealth {
    listener_cause(d)
        .listener_health
        .as_ref()
        .unwrap_or_else(|| panic!("no listener_health: {:#?}", d.causes))
}

#[test]
fn a_listener_that_never_accepts_is_not_accepting_and_leads_the_answer() {
    if !private_netns("health_never_accepts") {
        return;
    }
    let port = 22601;
    let l = listen_backlog(port, 4);
    let holder = hold(&[&l.as_fd()]);
    drop(l);
    let before = overflows();
    let _clients: Vec<OwnedFd> = (0..8).map(|_| connect_nonblocking(port)).collect();
    // The queue holds backlog + 1; the handshakes beyond it are dropped and counted.
    assert!(
        wait_until(PATIENCE, || overflows() > before),
        "ListenOverflows never grew"
    );
    // What a real client sees: no connection within half a second.
    assert!(!client_connects(port), "a client got in past a full queue");

    let (code, d) = why_json(&[&port.to_string()]);
    assert_eq!(code, 1);
    let h = health(&d);
    assert_eq!(h.verdict, Health::NotAccepting, "{h:?}");
    assert!(h.full && h.queued == 5 && h.backlog == 4, "{h:?}");
    assert_eq!(h.looks, 1);
    assert!(
        d.explanation.starts_with(
            "the port is held by a listener that is not accepting: 5 waiting, backlog 4"
        ),
        "{}",
        d.explanation
    );
    assert!(
        d.explanation.contains("needs two looks"),
        "{}",
        d.explanation
    );
    let first = &d.plan[0];
    assert_eq!(first.action.as_str(), "unblock_listener", "{:#?}", d.plan);
    assert!(
        first
            .text
            .contains("is not accepting (5 waiting, backlog 4)"),
        "{}",
        first.text
    );
    assert!(
        first
            .command
            .starts_with(&format!("ps -o pid,stat,wchan:32,cmd -p {}", holder.pid())),
        "{}",
        first.command
    );
    let kill = d.plan.iter().position(|r| r.action.as_str() == "kill");
    assert!(kill.is_none_or(|k| k > 0), "{:#?}", d.plan);

    // Two looks: drops counted over the interval (the waiting clients' SYN retries).
    let (_, d) = why_json(&[&port.to_string(), "--sample", "3s"]);
    let h = health(&d);
    assert_eq!(h.verdict, Health::NotAccepting, "{h:?}");
    assert!(h.looks >= 2 && h.dropped.is_some(), "{h:?}");
    assert!(
        d.explanation.contains("dropped in the last"),
        "{}",
        d.explanation
    );
    let text = String::from_utf8(
        portscope()
            .args(["why", &port.to_string()])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("listener not accepting · accept queue 5/4, full"),
        "{text}"
    );
}

#[test]
fn a_listener_that_accepts_slowly_lets_clients_in() {
    if !private_netns("health_slow") {
        return;
    }
    let port = 22602;
    let l = listen_backlog(port, 4);
    l.set_nonblocking(true).unwrap();
    let mut clients: Vec<OwnedFd> = (0..3).map(|_| connect_nonblocking(port)).collect();
    let child = {
        let _g = no_spawns();
        portscope()
            .args(["why", &port.to_string(), "--sample", "2s", "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = child;
    let mut accepted = Vec::new();
    // A slow server: one accept, one new client, then a pause; the pause is the server's pace
    // (what makes it slow), not a wait for anything.
    while child.try_wait().unwrap().is_none() {
        if let Ok((s, _)) = l.accept() {
            accepted.push(s);
        }
        clients.push(connect_nonblocking(port));
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = child.wait_with_output().unwrap();
    let d: Diagnosis = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let h = health(&d);
    assert!(
        matches!(h.verdict, Health::Slow | Health::Accepting),
        "{h:?}"
    );
    assert!(h.looks >= 2, "{h:?}");
    assert!(
        !d.explanation.contains("not accepting"),
        "{}",
        d.explanation
    );
    // Drain what waits: a client then gets in, as the verdict says.
    while l.accept().is_ok() {}
    assert!(client_connects(port), "a client could not connect");
    assert!(!accepted.is_empty());
}

#[test]
fn a_stopped_listener_is_not_accepting_until_continued() {
    if !private_netns("health_stopped") {
        return;
    }
    let port = 22603;
    let l = listen_backlog(port, 16);
    let fd = l.as_raw_fd();
    // A server that answers each client with "hi": what a real client waits for.
    let server = format!(
        "import socket\ns = socket.socket(fileno={fd})\nwhile True:\n    c, _ = s.accept()\n    c.sendall(b'hi')\n    c.close()\n"
    );
    let holder = spawn_holding(Command::new("python3").args(["-c", &server]), &[&l.as_fd()]);
    drop(l);
    let pid = nix::unistd::Pid::from_raw(holder.pid() as i32);
    let answered = |port: u16| {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).is_ok()
    };
    assert!(
        wait_until(PATIENCE, || answered(port)),
        "the server never answered"
    );
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
    assert!(
        wait_until(PATIENCE, || portscope::collect::listen_sample::state_of(
            holder.pid()
        ) == Some('T')),
        "never stopped"
    );
    // What a real client sees: connected (the kernel completed it), never answered.
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).unwrap();
    waiting.write_all(b"x").unwrap();
    assert!(!answered(port), "a stopped server answered");

    let (_, d) = why_json(&[&port.to_string()]);
    let h = health(&d);
    assert_eq!(h.verdict, Health::NotAccepting, "{h:?}");
    assert_eq!(h.state, Some('T'));
    assert!(!h.full);
    assert!(
        d.explanation.contains("its process is stopped (state T)"),
        "{}",
        d.explanation
    );
    assert_eq!(d.plan[0].command, format!("kill -CONT {}", holder.pid()));
    // The TUI's why field asks the same engine without reading whole processes (its pane
    // reads them on demand): the run state alone still says stopped.
    let snap = portscope::collect::collect(&portscope::collect::CollectOptions::default()).unwrap();
    let session = portscope::ask::session(&Default::default());
    let q = portscope::tui::app::parse_bind(&port.to_string()).unwrap();
    let tui = portscope::ask::answer(
        &q.resolve().unwrap(),
        &snap,
        &session,
        portscope::ask::Reads::Live { processes: false },
    );
    assert_eq!(
        health(&tui).verdict,
        Health::NotAccepting,
        "{:?}",
        health(&tui)
    );
    assert_eq!(health(&tui).state, Some('T'));

    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert!(
        wait_until(PATIENCE, || answered(port)),
        "no answer once continued"
    );
    let (_, d) = why_json(&[&port.to_string()]);
    assert_eq!(health(&d).verdict, Health::Accepting, "{:?}", health(&d));
    drop(waiting);
}

#[test]
fn check_calls_a_declared_listener_that_never_accepts_critical() {
    if !private_netns("health_check") {
        return;
    }
    let port = 22604;
    let l = listen_backlog(port, 4);
    let _holder = hold(&[&l.as_fd()]);
    drop(l);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[[service]]\nname = \"api\"\nport = {port}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("root/etc/sysctl.d")).unwrap();
    let check = |extra: &[&str]| {
        let mut c = portscope();
        c.arg("--config")
            .arg(dir.path().join("config.toml"))
            .arg("check")
            .args(extra)
            .arg("--sysctl-root")
            .arg(dir.path().join("root"));
        run(&mut c)
    };
    let (code, out, _) = check(&[]);
    assert_eq!(code, 0, "an idle listener is fine: {out}");
    assert!(
        out.contains(&format!(" accept_queue_{port}=0;;;0;4")),
        "{out}"
    );

    let before = overflows();
    let _clients: Vec<OwnedFd> = (0..8).map(|_| connect_nonblocking(port)).collect();
    assert!(wait_until(PATIENCE, || overflows() > before));
    assert!(!client_connects(port));
    let (code, out, err) = check(&[]);
    assert_eq!(code, 2, "{out}{err}");
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("PORTSCOPE CRITICAL - api 22604/tcp listener not accepting"),
        "{out}"
    );
    assert!(
        first.contains(&format!(" accept_queue_{port}=5;;;0;4")),
        "{out}"
    );
    assert!(first.contains(" listen_overflows="), "{out}");
    assert!(
        out.contains("is not accepting: 5 waiting, backlog 4"),
        "{out}"
    );

    let (code, prom, err) = run(portscope()
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .args(["metrics", "--sysctl-root"])
        .arg(dir.path().join("root")));
    assert_eq!(code, 0, "{err}");
    for want in [
        "portscope_service_accept_queue{service=\"api\",proto=\"tcp\"} 5",
        "portscope_service_accept_backlog{service=\"api\",proto=\"tcp\"} 4",
        "portscope_service_listeners_not_accepting{service=\"api\",proto=\"tcp\"} 1",
        "# TYPE portscope_listen_overflows_total counter",
    ] {
        assert!(prom.contains(want), "{want} not in\n{prom}");
    }

    let (code, out, _) = check(&["--sample", "1s", "--json"]);
    assert_eq!(code, 2, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &v["services"][0]["results"][0];
    assert_eq!(r["state"], "listening_not_accepting", "{r}");
    assert_eq!(r["listener_health"], "not_accepting", "{r}");
    assert!(r["text"].as_str().unwrap().contains("looks over"), "{r}");
}
