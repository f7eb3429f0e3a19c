//! The filter language and the busy-port summary against real sockets in a private network
//! namespace: each query selects exactly the sockets `ss` selects with the equivalent filter
//! expression.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::model::{Proto, Snapshot, State};
use std::collections::BTreeSet;
use std::net::{IpAddr, TcpStream};
use std::os::fd::AsFd;

/// (protocol, local, peer), addresses normalised as `ss -n` prints them.
type Row = (String, (String, u16), (String, u16));

fn norm_addr(a: &str) -> String {
    let a = a.trim_start_matches('[').trim_end_matches(']');
    let a = a.split('%').next().unwrap_or(a);
    match a.parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => "*".into(),
        Ok(ip) => ip.to_string(),
        Err(_) => a.to_string(),
    }
}

fn endpoint(s: &str) -> (String, u16) {
    let (a, p) = s.rsplit_once(':').expect("endpoint");
    (norm_addr(a), if p == "*" { 0 } else { p.parse().unwrap() })
}

/// The sockets `ss -{t,u}anH EXPR` lists. The local and peer columns are the last two (ss drops
/// the state column when the filter names one state, so columns are counted from the end).
fn ss(expr: &[&str]) -> BTreeSet<Row> {
    let mut rows = BTreeSet::new();
    for (flag, proto) in [("-tanH", "tcp"), ("-uanH", "udp")] {
        let (code, out, err) = run(std::process::Command::new("ss").arg(flag).args(expr));
        assert_eq!(code, 0, "ss {flag} {expr:?}: {err}");
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let n = f.len();
            rows.insert((proto.to_string(), endpoint(f[n - 2]), endpoint(f[n - 1])));
        }
    }
    rows
}

fn snapshot(extra: &[&str]) -> Snapshot {
    let (code, out, err) = run(portscope().args(["snapshot", "--json"]).args(extra));
    assert_eq!(code, 0, "snapshot {extra:?}: {err}");
    serde_json::from_str(&out).expect("a snapshot document")
}

fn portscope_rows(query: &str) -> BTreeSet<Row> {
    snapshot(&["--filter", query])
        .sockets
        .iter()
        .map(|s| {
            (
                s.proto.to_string(),
                (norm_addr(&s.local_addr.to_string()), s.local_port),
                (norm_addr(&s.remote_addr.to_string()), s.remote_port),
            )
        })
        .collect()
}

#[test]
fn queries_select_what_ss_selects_and_bad_ones_are_refused() {
    if !private_netns("filter_vs_ss") {
        return;
    }
    // A narrow ephemeral range, so that outgoing connections to different remotes share a
    // kernel-chosen port (the kernel reuses a connect()-bound port for another 4-tuple).
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009").unwrap();

    let web = tcp_listen("127.0.0.1:20080");
    let web_held = hold(&[&web.as_fd()]);
    let mut conns = Vec::new();
    for _ in 0..3 {
        let c = TcpStream::connect("127.0.0.1:20080").unwrap();
        let (a, _) = web.accept().unwrap();
        conns.push((c, a));
    }
    // CLOSE_WAIT on 20080: the clients close, the server never does.
    let mut leaked = Vec::new();
    for _ in 0..2 {
        let c = TcpStream::connect("127.0.0.1:20080").unwrap();
        let (a, _) = web.accept().unwrap();
        drop(c);
        leaked.push(a);
    }
    let api = tcp_listen("127.0.0.1:20091");
    let db = tcp_listen("127.0.0.1:20095");
    let to_api = TcpStream::connect("127.0.0.1:20091").unwrap();
    let to_db = TcpStream::connect("127.0.0.1:20095").unwrap();
    let (api_side, _) = api.accept().unwrap();
    let (db_side, _) = db.accept().unwrap();
    let tw = tcp_listen("127.0.0.1:20081");
    make_time_wait(&tw);
    let u = udp_bind("0.0.0.0:20085");
    let uc = udp_bind("127.0.0.1:0");
    uc.connect("127.0.0.1:20085").unwrap();
    assert!(wait_until(PATIENCE, || {
        let s = snapshot(&[]);
        let n = |st| s.sockets.iter().filter(|x| x.state == st).count();
        n(State::CloseWait) == 2 && n(State::TimeWait) >= 1
    }));

    let pid = web_held.pid().to_string();
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("sport:20080", vec!["sport = :20080"]),
        ("dport:20080", vec!["dport = :20080"]),
        (
            "sport:20090-20099",
            vec![
                "(", "sport", ">=", ":20090", "and", "sport", "<=", ":20099", ")",
            ],
        ),
        (
            "dport:20091,20095",
            vec!["(", "dport = :20091", "or", "dport = :20095", ")"],
        ),
        ("state:cw", vec!["state", "close-wait"]),
        (
            "state:close-wait,fw2",
            vec!["state", "close-wait", "state", "fin-wait-2"],
        ),
        ("state:est", vec!["state", "established"]),
        ("state:connected", vec!["state", "connected"]),
        ("state:tw", vec!["state", "time-wait"]),
        ("-state:listen", vec!["exclude", "listening"]),
        ("!sport:20080", vec!["not", "sport = :20080"]),
        (
            "state:cw sport:20080",
            vec!["state", "close-wait", "sport = :20080"],
        ),
    ];
    let mut nonempty = 0;
    for (query, expr) in &cases {
        let expr: Vec<&str> = expr.iter().flat_map(|e| e.split(' ')).collect();
        let theirs = ss(&expr);
        nonempty += usize::from(!theirs.is_empty());
        assert_eq!(
            portscope_rows(query),
            theirs,
            "--filter {query:?} vs ss {expr:?}"
        );
    }
    assert_eq!(nonempty, cases.len(), "every case selects something");
    // `auto` is ss's autobound, except for minisockets (TIME_WAIT, orphaned FIN_WAIT2): the
    // kernel keeps no bind lock for them, so ss calls every one in the ephemeral range autobound
    // while portscope says only what it knows (their owner closed them; they are `kernel`).
    let minisocks = ss(&["state", "time-wait", "state", "fin-wait-2"]);
    let auto: BTreeSet<Row> = ss(&["autobound"]).difference(&minisocks).cloned().collect();
    assert_eq!(portscope_rows("auto"), auto);
    assert_eq!(
        auto.len(),
        3 + 2 + 1,
        "3 clients of 20080, api, db, the UDP client"
    );
    // `!auto`: ss (iproute2 6.1)'s `not autobound` selects nothing here (its negated bytecode is
    // broken), so the complement is taken of ss's own sets.
    let est = ss(&["state", "established"]);
    let est_auto = ss(&["state", "established", "autobound"]);
    let not_auto: BTreeSet<Row> = est.difference(&est_auto).cloned().collect();
    assert_eq!(portscope_rows("!auto state:est"), not_auto);
    assert_eq!(not_auto.len(), 3 + 2, "accepted by 20080, api and db");
    // The protocol: ss -u alone.
    let udp: BTreeSet<Row> = ss(&[]).into_iter().filter(|r| r.0 == "udp").collect();
    assert_eq!(portscope_rows("proto:udp"), udp);
    assert_eq!(udp.len(), 2);
    // pid: the sockets ss -p shows for that process (the 20080 listener it inherited).
    let (code, out, err) = run(std::process::Command::new("ss").args(["-tanupH"]));
    assert_eq!(code, 0, "{err}");
    let with_pid: BTreeSet<(String, u16)> = out
        .lines()
        .filter(|l| l.contains(&format!("pid={pid},")))
        .map(|l| endpoint(l.split_whitespace().nth(4).unwrap()))
        .collect();
    let mine: BTreeSet<(String, u16)> = snapshot(&["--filter", &format!("pid:{pid}")])
        .sockets
        .iter()
        .map(|s| (norm_addr(&s.local_addr.to_string()), s.local_port))
        .collect();
    assert_eq!(mine, with_pid);
    assert_eq!(mine.len(), 1);

    // Bad queries: one line naming the term, status 2, nothing on stdout.
    for (bad, named) in [
        ("state:bogus", "state:bogus: unknown state"),
        ("sport:99999", "sport:99999"),
        ("colour:red", "colour:red: unknown field"),
    ] {
        let (code, out, err) = run(portscope().args(["snapshot", "--filter", bad]));
        assert_eq!(code, 2, "{bad}: {err}");
        assert!(out.is_empty(), "{bad}: {out}");
        assert_eq!(err.trim_end().lines().count(), 1, "{bad}: {err}");
        assert!(err.contains(named), "{bad}: {err}");
    }
    drop((
        conns, leaked, to_api, to_db, api_side, db_side, u, uc, web_held,
    ));
}

#[test]
fn group_by_counts_match_ss_and_shared_outgoing_ports_are_not_busy() {
    if !private_netns("group_by_vs_ss") {
        return;
    }
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40009").unwrap();
    let svc = tcp_listen("127.0.0.1:20180");
    let a = tcp_listen("127.0.0.1:20181");
    let b = tcp_listen("127.0.0.1:20182");
    let c = tcp_listen("127.0.0.1:20183");
    let mut keep = Vec::new();
    for _ in 0..4 {
        let c = TcpStream::connect("127.0.0.1:20180").unwrap();
        let (s, _) = svc.accept().unwrap();
        keep.push((c, s));
    }
    for _ in 0..3 {
        let c = TcpStream::connect("127.0.0.1:20180").unwrap();
        let (s, _) = svc.accept().unwrap();
        drop(c);
        keep.push((s, TcpStream::connect("127.0.0.1:20181").unwrap()));
    }
    // Two outgoing connections to different remotes on one kernel-chosen port: with a range of
    // one port the kernel has no other to give, and shares it between distinct 4-tuples.
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40010 40010").unwrap();
    let to_b = TcpStream::connect("127.0.0.1:20182").unwrap();
    let to_c = TcpStream::connect("127.0.0.1:20183").unwrap();
    let (b1, _) = b.accept().unwrap();
    let (c1, _) = c.accept().unwrap();
    // Back to a range holding every kernel-chosen port of this test, as on a real host.
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "40000 40010").unwrap();
    assert!(wait_until(PATIENCE, || {
        snapshot(&["--filter", "state:cw"]).sockets.len() == 3
    }));

    // state-port: each group's count is what ss counts for that state and port.
    let (code, out, err) = run(portscope().args([
        "snapshot",
        "--group-by",
        "state-port",
        "--json",
        "--filter",
        "proto:tcp",
    ]));
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let groups = doc["groups"].as_array().unwrap();
    let total: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(
        total,
        ss(&[]).iter().filter(|r| r.0 == "tcp").count() as u64
    );
    for g in groups {
        let key = &g["key"];
        let state: State = serde_json::from_value(key["state"].clone()).unwrap();
        let port = key["port"].as_u64().unwrap();
        let ss_state = state.ss_name().to_ascii_lowercase();
        let ss_state = match ss_state.as_str() {
            "estab" => "established".to_string(),
            "listen" => "listening".to_string(),
            other => other.to_string(),
        };
        let theirs = ss(&["state", &ss_state, "sport", "=", &format!(":{port}")])
            .into_iter()
            .filter(|r| r.0 == "tcp")
            .count();
        assert_eq!(g["count"].as_u64().unwrap(), theirs as u64, "{g}");
    }
    assert_eq!(groups[0]["label"], "ESTAB on tcp/20180", "{out}");
    assert_eq!(groups[0]["count"], 4);
    assert!(
        groups
            .iter()
            .any(|g| g["label"] == "CLOSE-WAIT on tcp/20180" && g["count"] == 3),
        "{out}"
    );

    // The outgoing connections really share a port, and the summary does not call it busy.
    let snap = snapshot(&[]);
    let port_a = to_b.local_addr().unwrap().port();
    assert_eq!(
        port_a,
        to_c.local_addr().unwrap().port(),
        "one kernel-chosen port"
    );
    let summary = portscope::analyze::conns::summarize(&snap);
    let busy: Vec<(Option<Proto>, u16, usize)> = summary
        .by_port
        .iter()
        .map(|p| (p.proto, p.port, p.connections))
        .collect();
    assert_eq!(
        busy,
        [
            (Some(Proto::Tcp), 20180, 7),
            (Some(Proto::Tcp), 20181, 3),
            (Some(Proto::Tcp), 20182, 1),
            (Some(Proto::Tcp), 20183, 1)
        ],
        "20180 (3 CLOSE_WAIT first), then by connections; not {port_a}"
    );

    // --group-by process in text: one row per process, counts summing to the table.
    let (code, text, err) = run(portscope().args(["snapshot", "--group-by", "process"]));
    assert_eq!(code, 0, "{err}");
    let me = format!("(pid {})", std::process::id());
    let mine = text
        .lines()
        .find(|l| l.contains(&me))
        .unwrap_or_else(|| panic!("{text}"));
    let count: usize = mine.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(count, snap.sockets_of(std::process::id()).count(), "{text}");
    drop((keep, a, to_b, to_c, b1, c1));
}
