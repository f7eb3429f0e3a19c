//! `portscope why` against real sockets in private network namespaces: each scenario is made
//! for real and the binary is run as a user would, checking verdict, roles, owners and exit code.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::why_json as why;
use common::*;
use portscope::analyze::why::{Diagnosis, Role, Verdict};
use std::collections::BTreeSet;
use std::net::TcpStream;
use std::os::fd::AsFd;

fn roles(d: &Diagnosis) -> Vec<Role> {
    d.holders.iter().map(|h| h.role).collect()
}

fn pids(d: &Diagnosis) -> BTreeSet<u32> {
    d.holders
        .iter()
        .flat_map(|h| h.socket.owners.iter().map(|o| o.pid))
        .collect()
}

#[test]
fn wildcard_listener_blocks_the_port() {
    if !private_netns("why_wildcard_listener") {
        return;
    }
    let l = tcp_listen("0.0.0.0:21001");
    let holder = hold(&[&l.as_fd()]);
    drop(l);
    let (code, d) = why(&["21001"]);
    assert_eq!(code, 1);
    assert_eq!(d.verdict, Verdict::InUse);
    assert_eq!(d.probe.plain.as_ref().unwrap().as_str(), "EADDRINUSE");
    assert_eq!(d.probe.reuseaddr.as_ref().unwrap().as_str(), "EADDRINUSE");
    assert_eq!(roles(&d), vec![Role::Listener]);
    assert_eq!(pids(&d), BTreeSet::from([holder.pid()]));
    assert!(
        d.explanation.contains("listens on 0.0.0.0:21001"),
        "{}",
        d.explanation
    );
    assert!(
        d.remedies
            .iter()
            .any(|r| r.command == format!("kill {}", holder.pid()))
    );
    // A specific address overlaps the wildcard too.
    let (code, d) = why(&["21001", "--addr", "127.0.0.1"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    // The plain-text form leads with the verdict.
    let (code, out, _) = run(portscope().args(["why", "21001"]));
    assert_eq!(code, 1);
    assert!(out.starts_with("IN USE  tcp 0.0.0.0:21001"), "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
}

#[test]
fn specific_address_listener_blocks_only_overlapping_binds() {
    if !private_netns("why_specific_listener") {
        return;
    }
    let l = tcp_listen("127.0.0.1:21002");
    let (code, d) = why(&["21002", "--addr", "127.0.0.1"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(roles(&d), vec![Role::Listener]);
    assert_eq!(pids(&d), BTreeSet::from([std::process::id()]));
    let (code, d) = why(&["21002"]);
    assert_eq!(
        (code, d.verdict),
        (1, Verdict::InUse),
        "the wildcard overlaps it"
    );
    // 127.0.0.2 is local (all of 127/8 is) and does not overlap 127.0.0.1.
    let (code, d) = why(&["21002", "--addr", "127.0.0.2"]);
    assert_eq!((code, d.verdict), (0, Verdict::Free));
    assert!(d.holders.is_empty());
    drop(l);
}

#[test]
fn dual_stack_listener_blocks_ipv4_and_v6only_does_not() {
    if !private_netns("why_dual_stack") {
        return;
    }
    let dual = tcp_listen("[::]:21003");
    let v6only = tcp_listen_v6only(21004);
    let (code, d) = why(&["21003"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse), "[::] covers IPv4");
    assert_eq!(roles(&d), vec![Role::Listener]);
    assert!(d.holders[0].socket.is_dual_stack());
    let (code, d) = why(&["21004"]);
    assert_eq!(
        (code, d.verdict),
        (0, Verdict::Free),
        "v6only [::] leaves IPv4 free"
    );
    assert!(d.holders.is_empty(), "{:?}", d.holders);
    let (code, d) = why(&["21004", "--addr", "::"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(roles(&d), vec![Role::Listener]);
    drop((dual, v6only));
}

#[test]
fn outgoing_connection_is_named_as_the_thief() {
    if !private_netns("why_outgoing") {
        return;
    }
    let server = tcp_listen("127.0.0.1:21005");
    let client = TcpStream::connect("127.0.0.1:21005").unwrap();
    let thief = hold(&[&client.as_fd()]);
    drop(client);
    let (accepted, peer) = server.accept().unwrap();
    let stolen = peer.port();
    let (code, d) = why(&[&stolen.to_string()]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    // Even SO_REUSEADDR cannot bind over an established outgoing connection.
    assert_eq!(d.probe.reuseaddr.as_ref().unwrap().as_str(), "EADDRINUSE");
    assert_eq!(roles(&d), vec![Role::Outgoing]);
    assert_eq!(pids(&d), BTreeSet::from([thief.pid()]));
    assert_eq!(d.holders[0].socket.remote_port, 21005);
    assert!(
        d.explanation.contains("outgoing connection of sleep")
            && d.explanation.contains("127.0.0.1:21005")
            && d.explanation.contains("ephemeral range"),
        "{}",
        d.explanation
    );
    assert!(d.at_risk);
    let actions: Vec<&str> = d.remedies.iter().map(|r| r.action.as_str()).collect();
    let close = actions.iter().position(|a| *a == "close_connection");
    let kill = actions.iter().position(|a| *a == "kill");
    assert!(
        close.is_some() && close < kill,
        "close before kill: {actions:?}"
    );
    assert!(actions.contains(&"reserve"), "{actions:?}");
    drop((accepted, server));
}

fn wait_for_time_wait(port: u16) {
    let ok = wait_until(PATIENCE, || {
        let (_, d) = why(&[&port.to_string(), "--addr", "127.0.0.1"]);
        d.holders.iter().any(|h| h.role == Role::TimeWait)
    });
    assert!(ok, "no TIME_WAIT on {port}");
}

#[test]
fn time_wait_after_a_server_with_reuseaddr() {
    if !private_netns("why_tw_reuse") {
        return;
    }
    let l = tcp_listen("127.0.0.1:21006"); // std sets SO_REUSEADDR
    make_time_wait(&l);
    drop(l);
    wait_for_time_wait(21006);
    let (code, d) = why(&["21006"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(d.probe.plain.as_ref().unwrap().as_str(), "EADDRINUSE");
    assert_eq!(d.probe.reuseaddr.as_ref().unwrap().as_str(), "ok");
    assert_eq!(roles(&d), vec![Role::TimeWait]);
    assert!(pids(&d).is_empty(), "TIME_WAIT has no process");
    let s = &d.holders[0].socket;
    assert!(s.kernel_held && s.expires_ms.unwrap() <= 60_000);
    assert!(
        d.explanation.contains("SO_REUSEADDR can bind now"),
        "{}",
        d.explanation
    );
    let actions: Vec<&str> = d.remedies.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(d.plan[0].action, "destroy_time_wait", "{:?}", d.plan);
    assert!(
        actions.contains(&"wait") && actions.contains(&"reuseaddr"),
        "{actions:?}"
    );
    assert!(!actions.contains(&"kill"), "nothing to kill: {actions:?}");
    // A change to the service's code is shown as one, never as a shell command.
    let reuse = d.remedies.iter().find(|r| r.action == "reuseaddr").unwrap();
    assert!(
        reuse.command.is_empty() && reuse.change.is_some(),
        "{reuse:?}"
    );
    assert_eq!(d.causes[0].blocks_with_reuseaddr, Some(false));
    let (_, text, _) = run(portscope().args(["why", "21006"]));
    assert!(
        text.contains("change: setsockopt(fd, SOL_SOCKET, SO_REUSEADDR"),
        "{text}"
    );
    assert!(!text.contains("$ setsockopt"), "{text}");
}

#[test]
fn time_wait_after_a_server_without_reuseaddr() {
    if !private_netns("why_tw_plain") {
        return;
    }
    let l = tcp_listen_plain(21007);
    make_time_wait(&l);
    drop(l);
    wait_for_time_wait(21007);
    let (code, d) = why(&["21007"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(d.probe.reuseaddr.as_ref().unwrap().as_str(), "EADDRINUSE");
    assert_eq!(roles(&d), vec![Role::TimeWait]);
    assert!(
        d.explanation.contains("Even SO_REUSEADDR does not"),
        "{}",
        d.explanation
    );
    let actions: Vec<&str> = d.remedies.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions.first(), Some(&"destroy_time_wait"), "{actions:?}");
    assert!(actions.contains(&"wait"), "{actions:?}");
    assert!(!actions.contains(&"reuseaddr") && !actions.contains(&"kill"));
    assert_eq!(d.causes[0].blocks_with_reuseaddr, Some(true));
}

#[test]
fn udp_is_checked_with_proto_udp_and_not_confused_with_tcp() {
    if !private_netns("why_udp") {
        return;
    }
    let u = udp_bind("0.0.0.0:21008");
    let (code, d) = why(&["21008", "--proto", "udp"]);
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert_eq!(roles(&d), vec![Role::Listener]);
    assert_eq!(d.holders[0].socket.proto, portscope::model::Proto::Udp);
    let (code, d) = why(&["21008", "--proto", "tcp"]);
    assert_eq!((code, d.verdict), (0, Verdict::Free), "TCP 21008 is free");
    assert!(d.holders.is_empty());
    let t = tcp_listen("0.0.0.0:21009");
    let (code, d) = why(&["21009", "--proto", "udp"]);
    assert_eq!((code, d.verdict), (0, Verdict::Free), "UDP 21009 is free");
    drop((u, t));
}

#[test]
fn free_ports_inside_and_outside_the_ephemeral_range() {
    if !private_netns("why_free") {
        return;
    }
    let (code, d) = why(&["21010"]);
    assert_eq!((code, d.verdict, d.at_risk), (0, Verdict::Free, false));
    assert!(d.remedies.is_empty());
    let (code, d) = why(&["40000"]);
    assert_eq!((code, d.verdict, d.at_risk), (0, Verdict::Free, true));
    assert!(
        d.explanation.contains("ephemeral range 32768-60999"),
        "{}",
        d.explanation
    );
    assert_eq!(d.remedies[0].action, "reserve");
    assert_eq!(d.remedies[0].command, "portscope reserve apply 40000");
    std::fs::write("/proc/sys/net/ipv4/ip_local_reserved_ports", "40000").unwrap();
    let (_, d) = why(&["40000"]);
    assert!(!d.at_risk, "a reserved port is not at risk");
}

#[test]
fn privileged_port_checked_by_an_unprivileged_user() {
    if !private_netns("why_privileged") {
        return;
    }
    let (code, out, err) = run(std::process::Command::new("setpriv").args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        portscope_for_other_users().to_str().expect("utf-8 path"),
        "why",
        "80",
        "--json",
    ]));
    let d: Diagnosis = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!((code, d.verdict), (1, Verdict::PermissionDenied));
    assert_eq!(d.probe.plain.as_ref().unwrap().as_str(), "EACCES");
    assert!(d.remedies.iter().any(|r| r.action == "grant_capability"));
    // Root may bind it.
    let (code, d) = why(&["80"]);
    assert_eq!((code, d.verdict), (0, Verdict::Free));
    assert!(d.notes.iter().any(|n| n.contains("CAP_NET_BIND_SERVICE")));
}

#[test]
fn an_address_that_is_not_local() {
    if !private_netns("why_not_local") {
        return;
    }
    let (code, d) = why(&["8080", "--addr", "192.0.2.7"]);
    assert_eq!((code, d.verdict), (1, Verdict::AddressNotAvailable));
    assert_eq!(d.probe.plain.as_ref().unwrap().as_str(), "EADDRNOTAVAIL");
    assert!(d.explanation.contains("192.0.2.7"));
}

#[test]
fn without_root_another_namespace_is_judged_from_its_tables_and_says_so() {
    if !private_netns("why_unprivileged_netns") {
        return;
    }
    let l = tcp_listen("0.0.0.0:21020");
    let holder = hold(&[&l.as_fd()]);
    drop(l);
    let (code, out, err) = run(std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            portscope_for_other_users().to_str().expect("utf-8 path"),
            "why",
            "21020",
            "--netns",
            &holder.pid().to_string(),
            "--json",
        ])
        .env("HOME", "/tmp"));
    let d: Diagnosis = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!((code, d.verdict), (1, Verdict::InUse));
    assert!(
        d.probe.plain.is_none(),
        "the probe cannot enter the namespace"
    );
    assert!(
        d.probe
            .not_run
            .as_deref()
            .unwrap_or("")
            .contains("needs root"),
        "{:?}",
        d.probe
    );
    assert_eq!(roles(&d), vec![Role::Listener]);
    assert!(
        d.holders[0].socket.owner_hidden,
        "a root process's owner is hidden from nobody"
    );
    let notes = d.notes.join("\n");
    assert!(notes.contains("comes from the socket tables"), "{notes}");
    assert!(notes.contains("/proc/net"), "{notes}");
    assert!(notes.contains("could not be read"), "{notes}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    // The line names what was wrong, even where clap spreads it over several lines.
    for (args, needle) in [
        (&["why"][..], "name the PORT"),
        (&["why", "0"][..], "any free port"),
    ] {
        let (code, _, err) = run(portscope().args(args));
        assert_eq!(code, 2, "{args:?}");
        assert!(
            err.contains(needle) && err.trim_end().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    for args in [
        &["why", "70000"][..],
        &["why", "http"][..],
        &["why", "-1"][..],
        &["why", "80", "--addr", "300.1.1.1"][..],
        &["why", "80", "--proto", "icmp"][..],
        &["why", "80", "--netns", "/nonexistent"][..],
        &["why"][..],
    ] {
        let (code, out, err) = run(portscope().args(args));
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

/// Without --proto, `why` answers the service's question for both protocols: a port held only
/// for UDP (mDNS on 5353, a resolver on 53) is not called free; the blocked protocol leads and
/// the other is one line. With --proto, only that one is asked.
#[test]
fn without_proto_a_udp_holder_is_not_missed() {
    if !private_netns("why_both_protocols") {
        return;
    }
    let u = udp_bind("0.0.0.0:20460");
    let holder = hold(&[&u]);
    drop(u);
    let (code, d) = why_json(&["20460"]);
    assert_eq!(code, 1, "{}", d.explanation);
    assert_eq!(d.proto, portscope::model::Proto::Udp);
    assert!(
        d.notes.iter().any(|n| n.contains("tcp 20460 is free")),
        "{:?}",
        d.notes
    );
    let (code, d) = why_json(&["20460", "--proto", "tcp"]);
    assert_eq!((code, d.proto), (0, portscope::model::Proto::Tcp));
    // A TCP holder leads, and the free UDP side is said in one line.
    let l = tcp_listen("0.0.0.0:20461");
    let (code, d) = why_json(&["20461"]);
    assert_eq!((code, d.proto), (1, portscope::model::Proto::Tcp));
    assert!(
        d.notes.iter().any(|n| n.contains("udp 20461 is free")),
        "{:?}",
        d.notes
    );
    drop((holder, l));
}

/// `why` takes the port the way operators write it, as the TUI's why field does: `PORT/udp`,
/// `ADDR:PORT`, `[V6]:PORT`, `:PORT`; words that contradict each other are bad input.
#[test]
fn the_port_is_taken_in_the_forms_operators_type() {
    if !private_netns("why_port_forms") {
        return;
    }
    let u = udp_bind("127.0.0.1:20470");
    for (arg, proto, addr) in [
        ("20470/udp", portscope::model::Proto::Udp, "0.0.0.0"),
        (
            "127.0.0.1:20470/udp",
            portscope::model::Proto::Udp,
            "127.0.0.1",
        ),
        ("[::1]:20470/tcp", portscope::model::Proto::Tcp, "::1"),
        (":20470/tcp", portscope::model::Proto::Tcp, "0.0.0.0"),
    ] {
        let (_, d) = why_json(&[arg]);
        assert_eq!(
            (d.proto, d.addr.to_string()),
            (proto, addr.to_string()),
            "{arg}"
        );
    }
    let (code, d) = why_json(&["127.0.0.1:20470/udp"]);
    assert_eq!(code, 1, "{}", d.explanation);
    for bad in [
        &["20470/udp", "--proto", "tcp"][..],
        &["127.0.0.1:20470", "--addr", "::1"],
    ] {
        let mut args = vec!["why"];
        args.extend_from_slice(bad);
        let (code, _, err) = run(portscope().args(&args));
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(err.contains("name one"), "{err}");
    }
    drop(u);
}
