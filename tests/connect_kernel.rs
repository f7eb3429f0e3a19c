//! connect()'s local ports, against the kernel: in a private namespace with a narrowed range,
//! a client pool uses every port toward one destination; portscope's per-destination count is
//! checked against what further real connect() calls do, toward that destination and another,
//! with TIME_WAIT under tcp_tw_reuse 0 and 1. `why PORT` on the exhausted destination leads
//! with the ports and never plans to stop the database; `check` is CRITICAL.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::analyze::connect::{ConnectVerdict, PortUse};
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};

fn sysctl(name: &str, value: &str) {
    // The test thread's own namespace: /proc/sys/net follows the writer's namespace.
    std::fs::write(format!("/proc/sys/net/ipv4/{name}"), value)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

fn connect_json(dst: &str) -> (i32, Vec<PortUse>) {
    let (code, out, err) = run(portscope().args(["why", "--connect", dst, "--json"]));
    let v: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    (code, serde_json::from_value(v["connect"].clone()).unwrap())
}

/// Connects to `port` until the kernel refuses; the connections and the refusal.
fn connect_until_refused(port: u16, max: usize) -> (Vec<TcpStream>, Option<std::io::Error>) {
    let mut held = Vec::new();
    for _ in 0..max {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => held.push(s),
            Err(e) => return (held, Some(e)),
        }
    }
    (held, None)
}

fn not_available(e: &Option<std::io::Error>) -> bool {
    e.as_ref()
        .is_some_and(|e| e.kind() == ErrorKind::AddrNotAvailable)
}

#[test]
fn exhaustion_is_per_destination_and_the_count_is_the_kernels() {
    if !private_netns("connect_exhaustion") {
        return;
    }
    sysctl("ip_local_port_range", "40000 40009");
    sysctl("tcp_tw_reuse", "0");
    let db = TcpListener::bind("127.0.0.1:5432").unwrap();
    let other = TcpListener::bind("127.0.0.1:6432").unwrap();
    let (pool, refused) = connect_until_refused(5432, 50);
    assert!(not_available(&refused), "{refused:?}");
    assert_eq!(pool.len(), 10, "the range is 10 ports");

    let (code, uses) = connect_json("127.0.0.1:5432");
    assert_eq!(code, 1, "exhausted is exit 1");
    let u = &uses[0];
    assert_eq!(
        (u.verdict, u.in_use, u.usable, u.available),
        (ConnectVerdict::Exhausted, 10, 10, 0)
    );
    assert_eq!(u.holders[0].ports, 10);
    assert_eq!(u.holders[0].owner.as_ref().unwrap().pid, std::process::id());

    // Another destination still connects, exactly as many times as portscope says.
    let (code, uses) = connect_json("127.0.0.1:6432");
    assert_eq!(code, 0);
    let predicted = uses[0].available;
    assert_eq!(uses[0].verdict, ConnectVerdict::Ok);
    assert!(predicted > 0);
    let (more, refused) = connect_until_refused(6432, predicted + 1);
    assert_eq!(more.len(), predicted, "portscope's count is connect()'s");
    assert!(not_available(&refused), "{refused:?}");

    // `why 5432`: the operator's "cannot connect to the database" typed as a port.
    let (code, d) = why_json(&["5432", "--proto", "tcp"]);
    assert_eq!(code, 1, "the port is held, by the database");
    assert!(!d.connect.is_empty(), "{:?}", d.explanation);
    assert!(
        d.explanation
            .starts_with("outgoing connections to 127.0.0.1:5432"),
        "{}",
        d.explanation
    );
    assert!(
        d.plan
            .iter()
            .all(|r| r.action != "kill" && r.action != "stop_service"),
        "never stop the database for it: {:?}",
        d.plan
    );
    assert_eq!(d.remedies[0].action, "ephemeral_ports");

    // check: CRITICAL on the busiest destination, with its perfdata.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc/sysctl.d")).unwrap();
    let (code, out, err) = run(portscope()
        .args(["check", "--port", "6432", "--sysctl-root"])
        .arg(root.path()));
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("busiest destination 127.0.0.1"), "{out}");
    assert!(out.contains("ephemeral_in_use=10;7;9;0;10"), "{out}");
    drop((pool, more, db, other));
}

#[test]
fn time_wait_holds_ports_unless_tw_reuse_lets_connect_take_them() {
    if !private_netns("connect_time_wait") {
        return;
    }
    sysctl("ip_local_port_range", "40000 40009");
    sysctl("tcp_tw_reuse", "0");
    let db = TcpListener::bind("127.0.0.1:5432").unwrap();
    let (pool, _) = connect_until_refused(5432, 10);
    assert_eq!(pool.len(), 10);
    let accepted: Vec<TcpStream> = (0..10).map(|_| db.accept().unwrap().0).collect();
    {
        // The client closes first and keeps the TIME_WAIT; no fork may hold a copy meanwhile.
        let _g = no_spawns();
        drop(pool);
        drop(accepted);
    }
    let mut seen = None;
    assert!(
        wait_until(PATIENCE, || {
            let (_, uses) = connect_json("127.0.0.1:5432");
            let done = uses[0].tw_blocking == 10;
            seen = Some(uses);
            done
        }),
        "ten TIME_WAIT toward 5432: {seen:?}"
    );
    let u = &seen.unwrap()[0];
    assert_eq!((u.verdict, u.available), (ConnectVerdict::Exhausted, 0));
    let refused = TcpStream::connect(("127.0.0.1", 5432)).err();
    assert!(not_available(&refused), "{refused:?}");

    // tcp_tw_reuse=1: after their first second the TIME_WAITs are connect()'s again.
    sysctl("tcp_tw_reuse", "1");
    assert!(
        wait_until(PATIENCE, || connect_json("127.0.0.1:5432").1[0].available
            == 10),
        "the TIME_WAITs become reusable"
    );
    let again = TcpStream::connect(("127.0.0.1", 5432));
    assert!(again.is_ok(), "{again:?}");
    drop((again, db));
}

/// A client's own IP_LOCAL_PORT_RANGE (Linux 6.3+) narrows its connect() ports; no table has
/// it, so portscope reads it from the client's socket and counts what is left inside it: when
/// that is nothing, the client's connect() fails while the namespace's range looks roomy.
#[test]
fn a_sockets_own_port_range_runs_out_first() {
    if !private_netns("connect_socket_range") {
        return;
    }
    sysctl("ip_local_port_range", "40000 40099");
    sysctl("tcp_tw_reuse", "0");
    let db = TcpListener::bind("127.0.0.1:5432").unwrap();
    // Each client socket narrows itself to 40010-40012, as a pool configured so would.
    let narrowed = || {
        let s = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Stream,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )
        .unwrap();
        portscope::sys::set_local_port_range(&s, 40010, 40012)?;
        let to = nix::sys::socket::SockaddrIn::new(127, 0, 0, 1, 5432);
        nix::sys::socket::connect(std::os::fd::AsRawFd::as_raw_fd(&s), &to)
            .map(|()| s)
            .map_err(std::io::Error::from)
    };
    let first = narrowed();
    if let Err(e) = &first
        && e.raw_os_error() == Some(nix::libc::ENOPROTOOPT)
    {
        skip(
            "connect_socket_range",
            "IP_LOCAL_PORT_RANGE needs Linux 6.3 or later",
        );
        assert!(!in_ci(), "CI runs a kernel with IP_LOCAL_PORT_RANGE");
        return;
    }
    let mut held = vec![first.unwrap()];
    let refused = loop {
        match narrowed() {
            Ok(s) => held.push(s),
            Err(e) => break e,
        }
        assert!(held.len() <= 3, "the socket's range is 3 ports");
    };
    assert_eq!(held.len(), 3);
    assert_eq!(refused.raw_os_error(), Some(nix::libc::EADDRNOTAVAIL));

    let (code, uses) = connect_json("127.0.0.1:5432");
    assert_eq!(code, 1, "connect() fails for that client now");
    let u = &uses[0];
    assert_eq!(u.verdict, ConnectVerdict::Exhausted);
    assert_eq!(
        u.available, 97,
        "the namespace's range still has room for others"
    );
    assert_eq!(u.narrowed.len(), 1, "{u:?}");
    assert_eq!(
        (
            u.narrowed[0].set,
            u.narrowed[0].effective,
            u.narrowed[0].available
        ),
        ([40010, 40012], [40010, 40012], 0)
    );
    // A client without the option still connects, as the count says.
    let plain = TcpStream::connect(("127.0.0.1", 5432));
    assert!(plain.is_ok(), "{plain:?}");
    drop((held, plain, db));
}
