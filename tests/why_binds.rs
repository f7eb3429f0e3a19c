//! Binding the way services bind: the address-overlap matrix (IPv4, IPv6, dual-stack, v6only,
//! v4-mapped) with and without SO_REUSEPORT, judged by portscope's rules and compared with the
//! kernel's own bind for every case; a privileged port as a named user; a tentative IPv6 address
//! under duplicate address detection; a virtual IP that is not on the host yet.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::sockets::*;
use common::why_json as why;
use common::*;
use portscope::analyze::why::conflict::judge;
use portscope::analyze::why::{BindOptions, BindRequest, CauseKind, Context, Verdict, diagnose};
use portscope::collect::addresses::AddressState;
use portscope::collect::probe::probe_as;
use portscope::collect::{CollectOptions, NetnsTarget, collect};
use portscope::model::{Proto, State};
use std::net::IpAddr;
use std::os::fd::AsFd;

fn paste(cmd: &str) {
    let (code, out, err) = run(std::process::Command::new("sh").args(["-c", cmd]));
    assert_eq!(code, 0, "{cmd}: {out} {err}");
}

/// Seven ways to hold a port: (address, v6only).
const SEVEN: [(&str, bool); 7] = [
    ("0.0.0.0", false),
    ("127.0.0.1", false),
    ("127.0.0.2", false),
    ("::", false),
    ("::", true),
    ("::1", false),
    ("::ffff:127.0.0.1", false),
];

#[test]
fn overlap_matrix_matches_the_kernel() {
    if !private_netns("why_overlap_matrix") {
        return;
    }
    let mut port = 23000u16;
    let mut checked = 0;
    let mut unknown = 0;
    // (listener has SO_REUSEPORT, request has SO_REUSEPORT)
    for (theirs_rp, ours_rp) in [(false, false), (true, true), (false, true)] {
        for (held, held_v6only) in SEVEN {
            for (want, want_v6only) in SEVEN {
                // The kernel's answers below follow closes of this case's own sockets.
                let _quiet = no_spawns();
                port += 1;
                let case = format!(
                    "held {held}{} reuseport={theirs_rp} / bind {want}{} reuseport={ours_rp}",
                    if held_v6only { " v6only" } else { "" },
                    if want_v6only { " v6only" } else { "" }
                );
                let held_addr: IpAddr = held.parse().unwrap();
                let want_addr: IpAddr = want.parse().unwrap();
                let theirs = tcp_listen_with(
                    held_addr,
                    port,
                    Opts {
                        reuseaddr: true,
                        reuseport: theirs_rp,
                        v6only: held_v6only,
                    },
                );
                let snap = collect(&CollectOptions {
                    skip_owners: true,
                    ..CollectOptions::default()
                })
                .expect("collect");
                let sock = snap
                    .sockets
                    .iter()
                    .find(|s| s.local_port == port && s.state == State::Listen)
                    .unwrap_or_else(|| panic!("{case}: listener not in the snapshot"));
                let opts = BindOptions {
                    v6only: want_v6only,
                    reuseport: ours_rp,
                    ..BindOptions::default()
                };
                let req = BindRequest {
                    port,
                    proto: Proto::Tcp,
                    addr: want_addr,
                    opts,
                };
                let rules = judge(&req, sock, false, 0);
                for reuseaddr in [false, true] {
                    let kernel = tcp_bind(
                        want_addr,
                        port,
                        Opts {
                            reuseaddr,
                            reuseport: ours_rp,
                            v6only: want_v6only,
                        },
                    );
                    if let Err(e) = &kernel {
                        assert_eq!(e, "EADDRINUSE", "{case}");
                    }
                    let blocked = kernel.is_err();
                    let said = if reuseaddr {
                        rules.reuseaddr
                    } else {
                        rules.plain
                    };
                    match said {
                        Some(b) => assert_eq!(b, blocked, "{case} reuseaddr={reuseaddr}"),
                        // Only SO_REUSEPORT's pairing turns on the holder's invisible flag.
                        None => {
                            assert!(ours_rp, "{case}: unknown without SO_REUSEPORT");
                            unknown += 1;
                        }
                    }
                    checked += 1;
                }
                // With the probe, the whole diagnosis agrees with the kernel.
                let probe = probe_as(&NetnsTarget::default(), Proto::Tcp, want_addr, port, &opts);
                let ctx = Context {
                    can_bind_privileged: true,
                    ..Context::default()
                };
                let d = diagnose(&req, &snap, &probe, &ctx);
                let kernel_plain = tcp_bind(
                    want_addr,
                    port,
                    Opts {
                        reuseport: ours_rp,
                        v6only: want_v6only,
                        ..Opts::default()
                    },
                )
                .is_err();
                assert_eq!(d.verdict == Verdict::InUse, kernel_plain, "{case}");
                assert_eq!(
                    d.causes.iter().any(|c| c.blocks),
                    kernel_plain,
                    "{case}: {:?}",
                    d.causes
                );
                drop(theirs);
            }
        }
    }
    assert_eq!(checked, 3 * 49 * 2);
    assert!(unknown > 0 && unknown < checked / 2, "{unknown} unknown");
}

#[test]
fn reuseport_is_judged_for_the_services_user() {
    if !private_netns("why_reuseport_user") {
        return;
    }
    let l = tcp_listen_with(
        "0.0.0.0".parse().unwrap(),
        23600,
        Opts {
            reuseaddr: true,
            reuseport: true,
            v6only: false,
        },
    );
    let (code, d) = why(&["23600", "--reuseport"]);
    assert_eq!(
        (code, d.verdict),
        (0, Verdict::Free),
        "same uid joins the group"
    );
    let (code, d) = why(&["23600"]);
    assert_eq!(
        (code, d.verdict),
        (1, Verdict::InUse),
        "without SO_REUSEPORT"
    );
    let (code, d) = why(&["23600", "--reuseport", "--user", "nobody"]);
    assert_eq!(
        (code, d.verdict),
        (1, Verdict::InUse),
        "another user cannot join root's group"
    );
    assert!(d.options.reuseport && d.options.user.is_some_and(|u| u.uid == 65534));
    drop(l);
}

#[test]
fn privileged_port_as_a_named_user() {
    if !private_netns("why_privileged_user") {
        return;
    }
    let (code, d) = why(&["80", "--user", "nobody"]);
    assert_eq!((code, d.verdict), (1, Verdict::PermissionDenied));
    assert_eq!(d.probe.plain.as_ref().unwrap().as_str(), "EACCES");
    assert!(d.probe.privileged.as_ref().unwrap().is_ok());
    assert!(
        d.explanation.contains("The port itself is free"),
        "{}",
        d.explanation
    );
    assert_eq!(d.causes[0].kind, CauseKind::Privilege);
    let grant = &d.causes[0].remedies[0];
    assert!(
        grant.command.is_empty() && grant.change.is_some(),
        "{grant:?}"
    );
    // Root's listener holds it: after setcap the bind would still fail, and why says so.
    let l = tcp_listen("0.0.0.0:80");
    let holder = hold(&[&l.as_fd()]);
    drop(l);
    let (_, d) = why(&["80", "--user", "nobody"]);
    assert_eq!(d.verdict, Verdict::PermissionDenied);
    assert_eq!(d.probe.privileged.as_ref().unwrap().as_str(), "EADDRINUSE");
    assert!(
        d.explanation.contains("Even with it the bind would fail"),
        "{}",
        d.explanation
    );
    let listener = d
        .causes
        .iter()
        .find(|c| c.kind == CauseKind::Listener)
        .expect("listener cause");
    assert!(listener.blocks && listener.pids == vec![holder.pid()]);
    // The printed sysctl, pasted, lets the user bind; the listener is then the only problem.
    let lower = d
        .remedies
        .iter()
        .find(|r| r.action == "lower_unprivileged_start")
        .expect("sysctl remedy");
    paste(&lower.command);
    let (_, d) = why(&["80", "--user", "nobody"]);
    assert_eq!(d.verdict, Verdict::InUse);
    drop(holder);
    let (code, d) = why(&["80", "--user", "nobody"]);
    assert_eq!((code, d.verdict), (0, Verdict::Free));
    let (code, _, err) = run(portscope().args(["why", "80", "--user", "no-such-user-here"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("no such user") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_tentative_ipv6_address_is_recognised() {
    if !private_netns("why_tentative") {
        return;
    }
    for cmd in [
        "ip link add psv0 type veth peer name psv1",
        "ip link set psv0 up",
        "ip address add fd00:10::1/64 dev psv0",
    ] {
        paste(cmd);
    }
    // The peer is down: no carrier, so DAD cannot finish and the address stays tentative.
    let (code, d) = why(&["8080", "--addr", "fd00:10::1"]);
    assert_eq!((code, d.verdict), (1, Verdict::AddressNotAvailable));
    assert_eq!(d.probe.address, Some(AddressState::Tentative));
    assert!(d.explanation.contains("tentative"), "{}", d.explanation);
    assert!(
        !d.explanation.contains("not an address"),
        "{}",
        d.explanation
    );
    assert_eq!(d.causes[0].kind, CauseKind::Address);
    let actions: Vec<&str> = d.remedies.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions[..2], ["wait", "freebind"], "{actions:?}");
    let (code, d) = why(&["8080", "--addr", "fd00:10::1", "--freebind"]);
    assert_eq!(
        (code, d.verdict),
        (0, Verdict::Free),
        "IP_FREEBIND binds it now"
    );
    // Carrier up: DAD finishes and the same question is answered "free".
    paste("ip link set psv1 up");
    let ok = wait_until(PATIENCE, || {
        why(&["8080", "--addr", "fd00:10::1"]).1.verdict == Verdict::Free
    });
    assert!(ok, "DAD never finished");
    assert!(binds("fd00:10::1", 8080));
}

#[test]
fn a_virtual_ip_not_on_the_host_gets_the_vip_fixes() {
    if !private_netns("why_vip") {
        return;
    }
    let (code, d) = why(&["80", "--addr", "192.0.2.7"]);
    assert_eq!((code, d.verdict), (1, Verdict::AddressNotAvailable));
    assert!(d.explanation.contains("IP_FREEBIND"), "{}", d.explanation);
    // Narrowest first: check (and add) the address; the namespace-wide sysctl comes last.
    let order: Vec<&str> = d.remedies.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(order.first(), Some(&"use_local_address"), "{order:?}");
    assert_eq!(
        d.plan.first().map(|r| r.action.as_str()),
        Some("use_local_address")
    );
    assert_eq!(order.last(), Some(&"nonlocal_bind"), "{order:?}");
    let nonlocal = d
        .remedies
        .iter()
        .find(|r| r.action == "nonlocal_bind")
        .expect("ip_nonlocal_bind remedy");
    assert_eq!(nonlocal.command, "sysctl -w net.ipv4.ip_nonlocal_bind=1");
    let fb = d.remedies.iter().find(|r| r.action == "freebind").unwrap();
    assert!(fb.change.as_deref().unwrap().contains("FreeBind=yes"));
    let (code, _) = why(&["80", "--addr", "192.0.2.7", "--freebind"]);
    assert_eq!(code, 0);
    paste(&nonlocal.command);
    let (code, d) = why(&["80", "--addr", "192.0.2.7"]);
    assert_eq!((code, d.verdict), (0, Verdict::Free));
    assert!(binds("192.0.2.7", 80));
}

#[test]
fn udp_sharing_by_so_reuseaddr_matches_the_kernel() {
    if !private_netns("why_udp_reuse") {
        return;
    }
    let mut port = 23700u16;
    for theirs_reuse in [false, true] {
        for (held, want) in [
            ("0.0.0.0", "0.0.0.0"),
            ("127.0.0.1", "0.0.0.0"),
            ("::", "127.0.0.1"),
        ] {
            let _quiet = no_spawns();
            port += 1;
            let case = format!("udp {held} reuseaddr={theirs_reuse} / {want}");
            let theirs = udp_bind_with(held.parse().unwrap(), port, theirs_reuse).unwrap();
            let snap = collect(&CollectOptions {
                skip_owners: true,
                ..CollectOptions::default()
            })
            .unwrap();
            let sock = snap
                .sockets
                .iter()
                .find(|s| s.local_port == port && s.proto == Proto::Udp)
                .expect(&case);
            let req = BindRequest {
                port,
                proto: Proto::Udp,
                addr: want.parse().unwrap(),
                opts: BindOptions::default(),
            };
            let rules = judge(&req, sock, false, 0);
            for reuseaddr in [false, true] {
                let blocked = udp_bind_with(req.addr, port, reuseaddr).is_err();
                match if reuseaddr {
                    rules.reuseaddr
                } else {
                    rules.plain
                } {
                    Some(b) => assert_eq!(b, blocked, "{case} reuseaddr={reuseaddr}"),
                    None => assert!(reuseaddr, "{case}: only SO_REUSEADDR is unknown"),
                }
            }
            // The probe settles what the rules cannot.
            let probe = probe_as(
                &NetnsTarget::default(),
                Proto::Udp,
                req.addr,
                port,
                &req.opts,
            );
            let d = diagnose(&req, &snap, &probe, &Context::default());
            let with_reuse = udp_bind_with(req.addr, port, true).is_err();
            assert_eq!(
                d.causes[0].blocks_with_reuseaddr,
                Some(with_reuse),
                "{case}"
            );
            drop(theirs);
        }
    }
}
