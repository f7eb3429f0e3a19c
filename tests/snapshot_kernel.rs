//! The snapshot engine against the real kernel, in private network namespaces.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::collect::{CollectOptions, NetnsTarget, SourcePref, collect};
use portscope::model::{Family, Proto, Snapshot, Socket, State};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, TcpStream};
use std::os::fd::AsFd;

fn snap() -> Snapshot {
    collect(&CollectOptions::default()).expect("snapshot")
}

fn snap_with(source: SourcePref) -> Snapshot {
    collect(&CollectOptions {
        source,
        ..CollectOptions::default()
    })
    .expect("snapshot")
}

fn find(snap: &Snapshot, f: impl Fn(&Socket) -> bool) -> Vec<&Socket> {
    snap.sockets.iter().filter(|s| f(s)).collect()
}

fn owner_pids(s: &Socket) -> BTreeSet<u32> {
    s.owners.iter().map(|o| o.pid).collect()
}

fn me() -> u32 {
    std::process::id()
}

#[test]
fn listeners_of_every_kind_are_found_with_marks_and_owners() {
    if !private_netns("listeners_of_every_kind") {
        return;
    }
    let v4 = tcp_listen("127.0.0.1:20001");
    let v6 = tcp_listen("[::1]:20002");
    let any4 = tcp_listen("0.0.0.0:20003");
    let dual = tcp_listen("[::]:20004");
    let v6only = tcp_listen_v6only(20005);
    let udp = udp_bind("127.0.0.1:20006");
    let udp6 = udp_bind("[::1]:20006");
    let s = snap();
    assert_eq!(s.source, portscope::model::Source::Netlink);
    let one = |port: u16, proto: Proto, family: Family| {
        let v = find(&s, |x| {
            x.local_port == port && x.proto == proto && x.family == family
        });
        assert_eq!(v.len(), 1, "port {port} {proto:?} {family:?}: {v:?}");
        v[0].clone()
    };
    let a = one(20001, Proto::Tcp, Family::Ipv4);
    assert_eq!(a.state, State::Listen);
    assert_eq!(a.local_addr, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(owner_pids(&a), BTreeSet::from([me()]));
    assert!(!a.autobound && !a.kernel_held && !a.owner_hidden);
    assert_eq!(a.v6only, None);
    let owner = &a.owners[0];
    assert_eq!(owner.uid, 0);
    assert_eq!(owner.user, "root");
    assert!(owner.start_time > 0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let start: u64 = after_comm.split(' ').nth(19).unwrap().parse().unwrap();
    assert_eq!(owner.start_time, start, "field 22 of /proc/PID/stat");

    let b = one(20002, Proto::Tcp, Family::Ipv6);
    assert_eq!(b.local(), "[::1]:20002");
    // The kernel sets ipv6only itself when a socket binds a specific non-mapped IPv6 address.
    assert_eq!(b.v6only, Some(true));
    let c = one(20003, Proto::Tcp, Family::Ipv4);
    assert!(c.local_addr.is_unspecified());
    let d = one(20004, Proto::Tcp, Family::Ipv6);
    assert!(d.is_dual_stack(), "[::] without V6ONLY covers IPv4: {d:?}");
    let e = one(20005, Proto::Tcp, Family::Ipv6);
    assert_eq!(e.v6only, Some(true));
    assert!(!e.is_dual_stack());
    let u = one(20006, Proto::Udp, Family::Ipv4);
    assert_eq!(u.state, State::Unconn);
    assert!(u.is_listening());
    let u6 = one(20006, Proto::Udp, Family::Ipv6);
    assert_eq!(u6.state, State::Unconn);
    // Nothing else: a private namespace starts empty.
    assert_eq!(s.sockets.len(), 7, "{:#?}", s.sockets);
    drop((v4, v6, any4, dual, v6only, udp, udp6));
}

#[test]
fn outgoing_connections_are_marked_autobound_and_accepted_ones_are_not() {
    if !private_netns("outgoing_autobound") {
        return;
    }
    let l = tcp_listen("127.0.0.1:20010");
    let client = TcpStream::connect("127.0.0.1:20010").unwrap();
    let (accepted, _) = l.accept().unwrap();
    let bound_client = tcp_connect_from(20011, "127.0.0.1:20010".parse().unwrap());
    let (accepted2, _) = l.accept().unwrap();
    let udp_auto = udp_bind("127.0.0.1:0");
    let s = snap();
    let cport = client.local_addr().unwrap().port();
    let out = find(&s, |x| x.local_port == cport && x.proto == Proto::Tcp);
    assert_eq!(out.len(), 1);
    assert!(
        out[0].autobound,
        "kernel-assigned client port: {:?}",
        out[0]
    );
    assert_eq!(out[0].state, State::Established);
    assert_eq!(out[0].remote_port, 20010);
    let acc = find(&s, |x| {
        x.local_port == 20010 && x.state == State::Established
    });
    assert_eq!(acc.len(), 2);
    assert!(
        acc.iter().all(|x| !x.autobound),
        "accepted sockets: {acc:?}"
    );
    let explicit = find(&s, |x| x.local_port == 20011);
    assert_eq!(explicit.len(), 1);
    assert!(
        !explicit[0].autobound,
        "client that called bind(): {:?}",
        explicit[0]
    );
    let listener = find(&s, |x| x.state == State::Listen);
    assert!(!listener[0].autobound);
    let uport = udp_auto.local_addr().unwrap().port();
    let u = find(&s, |x| x.proto == Proto::Udp && x.local_port == uport);
    assert!(
        u[0].autobound,
        "UDP bound to port 0 got a kernel-chosen port"
    );
    drop((client, accepted, bound_client, accepted2, udp_auto));
}

#[test]
fn time_wait_is_kernel_held_with_expiry() {
    if !private_netns("time_wait") {
        return;
    }
    let l = tcp_listen("127.0.0.1:20020");
    make_time_wait(&l);
    drop(l);
    let mut last = None;
    assert!(
        wait_until(PATIENCE, || {
            let s = snap();
            let tw: Vec<Socket> = find(&s, |x| x.state == State::TimeWait && x.local_port == 20020)
                .into_iter()
                .cloned()
                .collect();
            let ok = tw.len() == 1;
            last = Some(tw);
            ok
        }),
        "no TIME_WAIT on 20020: {last:?}"
    );
    let tw = &last.unwrap()[0];
    assert!(tw.kernel_held && tw.owners.is_empty() && !tw.owner_hidden);
    assert_eq!(tw.inode, 0);
    let ms = tw.expires_ms.expect("TIME_WAIT has a timer");
    assert!(ms > 0 && ms <= 60_000, "expires_ms {ms}");
}

#[test]
fn sockets_held_by_a_child_and_by_two_processes() {
    if !private_netns("shared_owners") {
        return;
    }
    let only_child = tcp_listen("127.0.0.1:20030");
    let a = hold(&[&only_child.as_fd()]);
    drop(only_child); // now only the child holds it
    let shared = tcp_listen("127.0.0.1:20031");
    let b = hold(&[&shared.as_fd()]);
    let c = hold(&[&shared.as_fd()]);
    let s = snap();
    let x = find(&s, |x| x.local_port == 20030);
    assert_eq!(owner_pids(x[0]), BTreeSet::from([a.pid()]));
    assert_eq!(x[0].owners[0].comm, "sleep");
    assert_eq!(x[0].owners[0].cmdline, "sleep 600");
    let y = find(&s, |x| x.local_port == 20031);
    assert_eq!(owner_pids(y[0]), BTreeSet::from([me(), b.pid(), c.pid()]));
}

#[test]
fn without_an_owner_scan_no_socket_is_called_hidden() {
    if !private_netns("no_owners") {
        return;
    }
    let l = tcp_listen("127.0.0.1:20045");
    let s = collect(&CollectOptions {
        skip_owners: true,
        ..CollectOptions::default()
    })
    .expect("snapshot");
    assert_eq!(s.sockets.len(), 1);
    assert!(s.sockets[0].owners.is_empty());
    assert!(
        !s.sockets[0].owner_hidden,
        "nobody looked: unknown, not hidden"
    );
    assert_eq!(s.stats.owner_hidden, 0);
    assert!(
        s.warnings.iter().any(|w| w == "owners not collected"),
        "{:?}",
        s.warnings
    );
    drop(l);
}

#[test]
fn procfs_fallback_sees_the_same_sockets() {
    if !private_netns("procfs_fallback") {
        return;
    }
    let l = tcp_listen("127.0.0.1:20040");
    let c = TcpStream::connect("127.0.0.1:20040").unwrap();
    let (acc, _) = l.accept().unwrap();
    let u = udp_bind("[::1]:20041");
    let nl = snap_with(SourcePref::Netlink);
    let pf = snap_with(SourcePref::Procfs);
    assert_eq!(pf.source, portscope::model::Source::Procfs);
    let key = |s: &Snapshot| -> BTreeSet<(String, String, String, Vec<u32>)> {
        s.sockets
            .iter()
            .map(|x| {
                (
                    x.state.name().to_string(),
                    x.local(),
                    x.remote(),
                    owner_pids(x).into_iter().collect(),
                )
            })
            .collect()
    };
    assert_eq!(key(&nl), key(&pf));
    assert_eq!(nl.sockets.len(), 4);
    drop((l, c, acc, u));
}

#[test]
fn sysctls_are_those_of_the_namespace() {
    if !private_netns("sysctls") {
        return;
    }
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 50000").unwrap();
    std::fs::write(
        "/proc/sys/net/ipv4/ip_local_reserved_ports",
        "8080,9000-9010",
    )
    .unwrap();
    let s = snap();
    assert_eq!(s.sysctl.ip_local_port_range, [40000, 50000]);
    assert_eq!(
        s.sysctl.ip_local_reserved_ports.to_string(),
        "8080,9000-9010"
    );
    assert_eq!(s.sysctl.ip_unprivileged_port_start, 1024);
    let own = std::fs::metadata("/proc/thread-self/ns/net").unwrap();
    assert_eq!(s.netns.inode, std::os::unix::fs::MetadataExt::ino(&own));
    assert!(
        !s.netns.is_own,
        "the test thread is not in the process's namespace"
    );
}

#[test]
fn netns_flag_looks_into_another_namespace_by_pid_and_path() {
    if !private_netns("netns_flag") {
        return;
    }
    let l = tcp_listen("127.0.0.1:20050");
    let anchor = idle();
    let ns_path = format!("/proc/{}/ns/net", anchor.pid());
    // Read from a thread that is in the *host* namespace: only --netns can reach our listener.
    let (by_pid, by_path) = std::thread::scope(|sc| {
        sc.spawn(|| {
            // Threads spawned from this test thread inherit its namespace; step back to the
            // process's own namespace first.
            let own = std::fs::File::open("/proc/self/ns/net").unwrap();
            nix::sched::setns(own, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let by_pid = collect(&CollectOptions {
                netns: NetnsTarget::parse(&anchor.pid().to_string()).unwrap(),
                ..Default::default()
            })
            .unwrap();
            let by_path = collect(&CollectOptions {
                netns: NetnsTarget::parse(&ns_path).unwrap(),
                ..Default::default()
            })
            .unwrap();
            (by_pid, by_path)
        })
        .join()
        .unwrap()
    });
    for s in [&by_pid, &by_path] {
        assert_eq!(s.sockets.len(), 1, "{:?}", s.sockets);
        assert_eq!(s.sockets[0].local_port, 20050);
        assert_eq!(owner_pids(&s.sockets[0]), BTreeSet::from([me()]));
    }
    drop(l);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let cases: &[&[&str]] = &[
        &["snapshot", "--port", "70000"],
        &["snapshot", "--port", "http"],
        &["snapshot", "--state", "SLEEPING"],
        &["snapshot", "--proto", "sctp"],
        &["snapshot", "--netns", "999999999"],
        &["snapshot", "--netns", "/nonexistent/ns"],
        &["snapshot", "--netns", "/etc/hostname"],
        &["snapshot", "--bogus"],
    ];
    for args in cases {
        let (code, out, err) = run(portscope().args(*args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        let bad = args.last().unwrap();
        assert!(
            err.contains(bad.trim_start_matches("--")),
            "{args:?} should name {bad}: {err}"
        );
    }
}

/// One socket line of `ss -tanupH`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SsRow {
    netid: String,
    state: String,
    local: (String, u16),
    peer: (String, u16),
    pids: Vec<u32>,
}

fn norm_addr(a: &str) -> String {
    let a = a.trim_start_matches('[').trim_end_matches(']');
    let a = a.split('%').next().unwrap_or(a);
    match a.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => "*".into(),
        Ok(ip) => ip.to_string(),
        Err(_) => a.to_string(), // "*"
    }
}

fn split_endpoint(s: &str) -> (String, u16) {
    let (a, p) = s.rsplit_once(':').expect("endpoint");
    (norm_addr(a), if p == "*" { 0 } else { p.parse().unwrap() })
}

fn parse_ss(text: &str) -> Vec<SsRow> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let mut pids: Vec<u32> = l
                .split("pid=")
                .skip(1)
                .map(|p| p.split(',').next().unwrap().parse().unwrap())
                .collect();
            pids.sort();
            pids.dedup();
            SsRow {
                netid: f[0].to_string(),
                state: f[1].to_string(),
                local: split_endpoint(f[4]),
                peer: split_endpoint(f[5]),
                pids,
            }
        })
        .collect()
}

#[test]
fn json_matches_ss_socket_by_socket_and_owner_by_owner() {
    if !private_netns("ss_reference") {
        return;
    }
    let l4 = tcp_listen("127.0.0.1:20060");
    let l6 = tcp_listen("[::]:20061");
    let l6only = tcp_listen_v6only(20062);
    let held = tcp_listen("0.0.0.0:20063");
    let holder = hold(&[&held.as_fd()]);
    let shared = tcp_listen("[::1]:20064");
    let holder2 = hold(&[&shared.as_fd()]);
    let mut conns = Vec::new();
    for _ in 0..3 {
        let c = TcpStream::connect("127.0.0.1:20060").unwrap();
        let (a, _) = l4.accept().unwrap();
        conns.push((c, a));
    }
    let c6 = TcpStream::connect("[::ffff:127.0.0.1]:20061").unwrap();
    let (a6, _) = l6.accept().unwrap();
    let tw_listener = tcp_listen("127.0.0.1:20065");
    make_time_wait(&tw_listener);
    let u = udp_bind("0.0.0.0:20066");
    let u6 = udp_bind("[::]:20067");
    let uc = udp_bind("127.0.0.1:0");
    uc.connect("127.0.0.1:20066").unwrap();
    assert!(wait_until(PATIENCE, || {
        snap().sockets.iter().any(|s| s.state == State::TimeWait)
    }));

    let (code, json, err) = run(portscope().args(["snapshot", "--json"]));
    assert_eq!(code, 0, "{err}");
    let ours: Snapshot = serde_json::from_str(&json).expect("JSON parses as a snapshot");
    let (code, ss_out, err) = run(std::process::Command::new("ss").arg("-tanupH"));
    assert_eq!(code, 0, "ss: {err}");
    let mut theirs = parse_ss(&ss_out);
    theirs.sort();
    let mut mine: Vec<SsRow> = ours
        .sockets
        .iter()
        .map(|s| SsRow {
            netid: s.proto.to_string(),
            state: s.state.ss_name().to_string(),
            local: (norm_addr(&s.local_addr.to_string()), s.local_port),
            peer: (norm_addr(&s.remote_addr.to_string()), s.remote_port),
            pids: owner_pids(s).into_iter().collect(),
        })
        .collect();
    mine.sort();
    // TIME_WAIT timers tick but rows must agree; both views were taken of a still namespace.
    assert_eq!(mine, theirs, "portscope vs ss -tanupH");
    assert!(mine.len() >= 18, "scenario made {} sockets", mine.len());
    // ss prints dual-stack [::] as "*" and v6only as "[::]": check we agree on which is which.
    let by_port: BTreeMap<u16, &Socket> = ours
        .sockets
        .iter()
        .filter(|s| s.state == State::Listen)
        .map(|s| (s.local_port, s))
        .collect();
    assert!(ss_out.contains("*:20061") && by_port[&20061].is_dual_stack());
    assert!(ss_out.contains("[::]:20062") && by_port[&20062].v6only == Some(true));
    // The autobound mark is ss's `autobound` filter.
    let (code, ss_auto, err) = run(std::process::Command::new("ss").args(["-tanuH", "autobound"]));
    assert_eq!(code, 0, "ss: {err}");
    let theirs: BTreeSet<((String, u16), (String, u16))> = ss_auto
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (split_endpoint(f[4]), split_endpoint(f[5]))
        })
        .collect();
    let mine: BTreeSet<((String, u16), (String, u16))> = ours
        .sockets
        .iter()
        .filter(|s| s.autobound)
        .map(|s| {
            (
                (norm_addr(&s.local_addr.to_string()), s.local_port),
                (norm_addr(&s.remote_addr.to_string()), s.remote_port),
            )
        })
        .collect();
    assert_eq!(mine, theirs, "autobound vs ss autobound");
    assert_eq!(
        mine.len(),
        5,
        "4 outgoing TCP clients and 1 connected UDP client"
    );
    drop((l6only, holder, holder2, conns, c6, a6, u, u6, uc));
}
