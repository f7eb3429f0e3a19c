//! The process context `why` reports, against the real kernel: a process started from a shell
//! with a lowered RLIMIT_NOFILE and a known number of sockets, its listener's accept queue
//! overflowing in a private network namespace (ListenOverflows compared with nstat run in that
//! namespace), and two processes with the same name told apart by their command lines.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::{SPAWN_LOCK, portscope, private_netns, run, wait_until, why_json};
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, connect, listen, socket,
};
use portscope::model::process_context::{Level, ProcessKind, Supervisor};
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

/// A `sleep` started by `bash` (which waits for it, so it stays the parent) after `ulimit -n
/// LIMIT`, holding `fds`; both are killed and reaped on drop.
struct ShellHeld {
    shell: Child,
}

impl ShellHeld {
    fn start(fds: &[&dyn AsFd], limit: u32, seconds: u32) -> ShellHeld {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        for fd in fds {
            fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
        }
        // sleep runs in the background so the shell stays its parent (no exec), and the shell
        // closes its own copies of the sockets: only sleep holds them.
        let close: String = fds
            .iter()
            .map(|fd| format!(" {}<&-", fd.as_fd().as_raw_fd()))
            .collect();
        let shell = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "ulimit -n {limit} && {{ sleep {seconds} & }} && exec{close} && wait"
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        for fd in fds {
            fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        }
        ShellHeld { shell }
    }

    /// The sleep's pid, once the shell has forked it and closed its copies of the sockets.
    fn sleeper(&self) -> u32 {
        let sh = self.shell.id();
        let mut found = None;
        let ok = wait_until(common::PATIENCE, || {
            found = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next().and_then(|p| p.parse().ok()));
            found.is_some_and(|p: u32| {
                std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c == "sleep\n")
            }) && std::fs::read_dir(format!("/proc/{sh}/fd")).is_ok_and(|d| {
                !d.filter_map(Result::ok).any(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
                })
            })
        });
        assert!(
            ok,
            "shell {sh} did not start sleep and let go of the sockets"
        );
        found.unwrap()
    }
}

impl Drop for ShellHeld {
    fn drop(&mut self) {
        let sh = self.shell.id();
        if let Ok(c) = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")) {
            for p in c.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = self.shell.kill();
        let _ = self.shell.wait();
    }
}

fn tcp_listener(port: u16, backlog: i32) -> OwnedFd {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    nix::sys::socket::bind(
        fd.as_raw_fd(),
        &SockaddrIn::from(SocketAddrV4::new([127, 0, 0, 1].into(), port)),
    )
    .unwrap();
    listen(&fd, Backlog::new(backlog).unwrap()).unwrap();
    fd
}

/// A non-blocking connect: the handshake completes in the kernel, or the SYN is dropped when
/// the accept queue is full (which is what ListenOverflows counts).
fn connect_nonblocking(port: u16) -> OwnedFd {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .unwrap();
    let to = SockaddrIn::from(SocketAddrV4::new([127, 0, 0, 1].into(), port));
    match connect(fd.as_raw_fd(), &to) {
        Ok(()) | Err(nix::Error::EINPROGRESS) => fd,
        Err(e) => panic!("connect: {e}"),
    }
}

/// ListenOverflows of this thread's namespace as the kernel's own tool reads it there: nstat
/// (`-s`: no history written), or /proc/net/netstat read by a child (/proc/net is the reader's
/// namespace) where nstat is missing.
fn overflows_by_nstat() -> u64 {
    let (code, out, _) = run(Command::new("nstat").args(["-saz", "TcpExtListenOverflows"]));
    if code == 0 {
        return out
            .lines()
            .find_map(|l| l.strip_prefix("TcpExtListenOverflows"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("nstat said: {out}"));
    }
    let (_, text, _) = run(Command::new("cat").arg("/proc/net/netstat"));
    portscope::model::process_context::parse_listen_stats(&text)
        .unwrap()
        .overflows
}

#[test]
fn a_listeners_process_shows_its_limits_chain_queue_and_overflows() {
    if !private_netns("process_context_listener") {
        return;
    }
    let port = 23101;
    let listener = tcp_listener(port, 1);
    // The queue admits backlog + 1 connections; the rest are dropped and counted.
    let clients: Vec<OwnedFd> = (0..4).map(|_| connect_nonblocking(port)).collect();
    assert!(
        wait_until(common::PATIENCE, || overflows_by_nstat() > 0),
        "ListenOverflows never moved"
    );
    let udp: Vec<UdpSocket> = (0..29)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let mut fds: Vec<&dyn AsFd> = vec![&listener];
    fds.extend(udp.iter().map(|u| u as &dyn AsFd));
    let held = ShellHeld::start(&fds, 40, 600);
    let sleeper = held.sleeper();
    drop((listener, udp));

    let before = overflows_by_nstat();
    let (code, d) = why_json(&[&port.to_string()]);
    let after = overflows_by_nstat();
    assert_eq!(code, 1);
    let h = d
        .holders
        .iter()
        .find(|h| h.socket.state == portscope::model::State::Listen)
        .unwrap();
    let p = h
        .process
        .as_ref()
        .unwrap_or_else(|| panic!("no process: {h:?}"));
    assert_eq!(p.pid, sleeper);
    assert_eq!(p.comm.raw(), "sleep");
    assert_eq!(p.cmdline.raw(), "sleep 600");
    // sleep's fds as the kernel lists them: 0, 1, 2, the 30 sockets, and whatever else the
    // test runner leaves inheritable (a jobserver pipe).
    let fdu = p.fds.unwrap();
    let listing: Vec<String> = std::fs::read_dir(format!("/proc/{sleeper}/fd"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| {
            std::fs::read_link(e.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        listing.iter().filter(|l| l.starts_with("socket:")).count(),
        30
    );
    assert_eq!(
        (fdu.open, fdu.soft),
        (listing.len() as u64, Some(40)),
        "{listing:#?}"
    );
    assert!(fdu.level() >= Level::Warning, "{} of 40 fds", fdu.open);
    assert_eq!(p.sockets.now, 30, "the listener and 29 UDP sockets");
    assert_eq!(p.sockets.per_min, None, "one look cannot tell a growth");
    // The shell is the parent, and what started the process.
    let sh = &p.parents[0];
    assert_eq!(
        (sh.pid, sh.comm.raw(), sh.kind),
        (held.shell.id(), "bash", ProcessKind::Shell)
    );
    assert!(p.parents.len() <= portscope::model::process_context::MAX_HOPS);
    assert_eq!(
        p.supervisor,
        Supervisor::Parent {
            pid: held.shell.id(),
            comm: sh.comm.clone(),
            what: ProcessKind::Shell
        }
    );
    let q = p.listeners.first().unwrap();
    assert_eq!((q.port, q.queued, q.backlog), (port, 2, 1));
    assert!(q.full());
    let stats = p.listen_stats.unwrap();
    assert!(
        before <= stats.overflows && stats.overflows <= after && stats.overflows > 0,
        "nstat {before}..{after}, portscope {}",
        stats.overflows
    );
    assert!(p.start.age_secs.is_none_or(|a| (0..600).contains(&a)));

    let (_, text, err) = run(portscope().args(["why", &port.to_string()]));
    // A screenful: the answer, the process, the plan, and the reachability section (a
    // listener on 127.0.0.1 is unreachable from outside by its address).
    assert!(text.lines().count() < 44, "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    for want in [
        "$ sleep 600",
        &format!("sleep ({sleeper}) ← bash ({}, shell)", held.shell.id()),
        &format!("fds {}/40 ({}%) ", fdu.open, fdu.open * 100 / 40),
        "accept queue 2/1, FULL",
        "ListenOverflows",
    ] {
        assert!(text.contains(want), "no {want:?} in:\n{text}\n{err}");
    }
    drop((held, clients));
}

#[test]
fn two_processes_with_one_name_differ_by_command_line() {
    if !private_netns("process_context_same_name") {
        return;
    }
    let port = 23102;
    let l = common::tcp_listen(&format!("127.0.0.1:{port}"));
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (accepted, _) = l.accept().unwrap();
    let a = ShellHeld::start(&[&l], 1024, 600);
    let b = ShellHeld::start(&[&accepted], 1024, 601);
    let (pa, pb) = (a.sleeper(), b.sleeper());
    drop((l, accepted));
    let (_, d) = why_json(&[&port.to_string()]);
    let cmd_of = |pid| {
        d.holders
            .iter()
            .filter_map(|h| h.process.as_deref())
            .find(|p| p.pid == pid)
            .map(|p| (p.comm.raw().to_string(), p.cmdline.raw().to_string()))
            .unwrap_or_else(|| panic!("no process {pid} in {:?}", d.holders))
    };
    assert_eq!(cmd_of(pa), ("sleep".into(), "sleep 600".into()));
    assert_eq!(cmd_of(pb), ("sleep".into(), "sleep 601".into()));
    let (_, text, _) = run(portscope().args(["why", &port.to_string()]));
    for want in [
        format!("sleep (pid {pa})"),
        format!("sleep (pid {pb})"),
        "$ sleep 600".into(),
        "$ sleep 601".into(),
    ] {
        assert!(text.contains(&want), "no {want:?} in:\n{text}");
    }
    drop((a, b, client));
}

/// Sockets process `pid` has open, as its fd table lists them (`ls -l /proc/PID/fd`).
fn socket_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Whether process `pid` is asleep in nanosleep: `why --sample` waiting between its looks.
fn in_nanosleep(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/wchan")).is_ok_and(|w| w.contains("nanosleep"))
}

#[test]
fn why_sample_shows_the_growth_between_two_looks() {
    use std::io::Write;
    if !private_netns("process_context_sample") {
        return;
    }
    let port = 23103;
    let listener = std::net::TcpListener::from(tcp_listener(port, 64));
    let client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    // A holder that exits between the looks gets no growth figure.
    let leaving = common::hold(&[&accepted]);
    // bash holds the listener and, once told, opens NEW connections to it (its own sockets).
    const NEW: usize = 10;
    let mut grower = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        fcntl(listener.as_fd(), FcntlArg::F_SETFD(FdFlag::empty())).unwrap();
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "read go || exit 1; for i in $(seq {NEW}); do exec {{fd}}<>/dev/tcp/127.0.0.1/{port} || exit 1; done; read end"
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        fcntl(listener.as_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).unwrap();
        child
    };
    let bash = grower.id();
    drop((listener, accepted));
    assert_eq!(socket_fds(bash), 1, "bash holds the listener only");

    let why = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        portscope()
            .args(["why", &port.to_string(), "--sample", "3s", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Between the looks: portscope sleeps its interval, then bash grows and `leaving` leaves.
    assert!(
        wait_until(common::PATIENCE, || in_nanosleep(why.id())),
        "why --sample never started waiting"
    );
    writeln!(grower.stdin.as_mut().unwrap(), "go").unwrap();
    assert!(
        wait_until(common::PATIENCE, || socket_fds(bash) == 1 + NEW),
        "bash did not open its connections: {} sockets",
        socket_fds(bash)
    );
    let left = leaving.pid();
    drop(leaving);
    assert!(
        in_nanosleep(why.id()),
        "the interval ended before the growth: the test cannot tell"
    );
    let out = why.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["sample"]["interval_ms"], 3000, "{v}");
    let d: portscope::analyze::why::Diagnosis = serde_json::from_value(v).unwrap();
    let of = |pid: u32| {
        d.holders
            .iter()
            .filter_map(|h| h.process.as_deref())
            .find(|p| p.pid == pid)
            .unwrap_or_else(|| panic!("no process {pid} in {:?}", d.holders))
    };
    // NEW sockets in a little over 3 s (the looks take their time too): NEW * 60 / 3 at most.
    let per_min = of(bash).sockets.per_min.unwrap();
    let most = (NEW * 60 / 3) as i64;
    assert!(
        (most * 3 / 4..=most).contains(&per_min),
        "{per_min}/min for {NEW} sockets in 3 s"
    );
    assert_eq!(
        of(left).sockets.per_min,
        None,
        "a process gone by the second look has no growth"
    );

    // Without --sample the text says how to get the growth; with it, the figure.
    let (_, plain, _) = run(portscope().args(["why", &port.to_string()]));
    assert!(
        plain.contains("socket growth needs two looks: add --sample 5s"),
        "{plain}"
    );
    assert!(!plain.contains("sockets/min"), "{plain}");
    let (_, sampled, _) = run(portscope().args(["why", &port.to_string(), "--sample", "100ms"]));
    for want in [
        "11 sockets · ±0 sockets/min",
        "socket growth from two looks 100 ms apart",
    ] {
        assert!(sampled.contains(want), "no {want:?} in:\n{sampled}");
    }
    let (code, _, err) = run(portscope().args(["why", &port.to_string(), "--sample", "5x"]));
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.trim(),
        "portscope: invalid value '5x' for '--sample <DURATION>': \"5x\" is not a duration (e.g. 30s, 500ms, 2m, 1h)"
    );
    writeln!(grower.stdin.as_mut().unwrap(), "end").unwrap();
    let _ = grower.kill();
    let _ = grower.wait();
    drop(client);
}
