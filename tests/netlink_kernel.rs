//! The one-walk TCP dump (TCPDIAG_GETSOCK, both families) against one v2 dump per family, and
//! the autobound marks a memo carries against those of a fresh dump, on real sockets of both
//! families in a private namespace.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::collect::netlink::{AutoboundMemo, Dumper};
use portscope::model::{Proto, Socket};
use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream, UdpSocket};

type Row = (Proto, String, String, u64, bool);

fn rows(sockets: &[Socket]) -> BTreeMap<u64, Row> {
    sockets
        .iter()
        .filter(|s| s.inode != 0)
        .map(|s| {
            (
                s.cookie,
                (
                    s.proto,
                    format!("{}:{}", s.local_addr, s.local_port),
                    format!("{}:{} {:?}", s.remote_addr, s.remote_port, s.state),
                    s.inode,
                    s.autobound,
                ),
            )
        })
        .collect()
}

#[test]
fn one_walk_dump_equals_per_family_dumps_and_memo_marks_equal_fresh_ones() {
    if !private_netns("netlink_one_walk") {
        return;
    }
    let v6 = TcpListener::bind("[::1]:0").is_ok();
    let mut keep_tcp: Vec<TcpStream> = Vec::new();
    let mut listeners = vec![TcpListener::bind("127.0.0.1:0").unwrap()];
    if v6 {
        listeners.push(TcpListener::bind("[::1]:0").unwrap());
    }
    let connect_all = |keep: &mut Vec<TcpStream>| {
        for l in &listeners {
            let addr = l.local_addr().unwrap();
            for _ in 0..20 {
                keep.push(TcpStream::connect(addr).unwrap());
                keep.push(l.accept().unwrap().0);
            }
        }
    };
    connect_all(&mut keep_tcp);
    let udp = [
        UdpSocket::bind("127.0.0.1:0").unwrap(),
        UdpSocket::bind("127.0.0.1:0").unwrap(),
    ];
    // Explicitly bound, then connected: not autobound although its port is ephemeral-looking.
    let fixed = tcp_connect_from(fresh_port(41), listeners[0].local_addr().unwrap());

    let one_walk = Dumper::open().unwrap().all_sockets().unwrap();
    let per_family = Dumper::open()
        .unwrap()
        .without_tcpdiag_getsock()
        .all_sockets()
        .unwrap();
    let (a, b) = (rows(&one_walk), rows(&per_family));
    assert_eq!(a, b, "one TCP walk vs a v2 dump per family");
    let auto = a.values().filter(|r| r.4).count();
    assert!(
        auto >= 20 * listeners.len(),
        "the clients' ends are autobound: {auto} marked"
    );
    let fixed_cookie = one_walk
        .iter()
        .find(|s| s.local_port == fixed.local_addr().unwrap().port() && s.proto == Proto::Tcp)
        .map(|s| (s.cookie, s.autobound));
    assert_eq!(fixed_cookie.map(|c| c.1), Some(false), "explicitly bound");
    if v6 {
        assert!(
            one_walk.iter().any(|s| s.local_addr.is_ipv6()),
            "the one-walk dump includes IPv6"
        );
    }

    // A memo reused over changes: new connections are asked about, old ones keep their mark.
    let mut memo = AutoboundMemo::kept();
    let mut d = Dumper::open().unwrap();
    let first = d.all_sockets_with(&mut memo).unwrap();
    assert_eq!(rows(&first), a);
    let before = first.len();
    connect_all(&mut keep_tcp);
    drop(keep_tcp.drain(..10));
    let again = d.all_sockets_with(&mut memo).unwrap();
    // Both ends of 20 new connections per listener; the closed ones are orphans or TIME_WAIT
    // now (inode 0, nothing to ask) and their peers kept their cookies.
    assert_eq!(
        memo.asked,
        40 * listeners.len(),
        "only the new sockets are asked about ({} sockets now, {before} before)",
        again.len()
    );
    let fresh = Dumper::open().unwrap().all_sockets().unwrap();
    assert_eq!(rows(&again), rows(&fresh), "memo marks vs a fresh dump");
    drop((udp, fixed, listeners));
}
