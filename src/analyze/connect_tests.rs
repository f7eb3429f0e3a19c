use super::*;
use crate::model::test_support::{listener, outgoing, snapshot, with_state};

/// A namespace whose range is 40000-40009 (10 ports).
fn narrow(sockets: Vec<Socket>) -> Snapshot {
    let mut s = snapshot(sockets);
    s.sysctl.ip_local_port_range = [40000, 40009];
    s.sysctl.tcp_tw_reuse = Some(0);
    s
}

#[test]
fn exhaustion_is_per_destination() {
    let mut socks: Vec<Socket> = (40000..40010).map(|p| outgoing(p, 5432)).collect();
    socks.push(outgoing(40000, 6432));
    let snap = narrow(socks);
    let db = &toward(&snap, "127.0.0.1".parse().unwrap(), Some(5432))[0];
    assert_eq!(
        (db.usable, db.in_use, db.available, db.verdict),
        (10, 10, 0, ConnectVerdict::Exhausted)
    );
    // The same local port toward another destination is a different 4-tuple.
    let other = &toward(&snap, "127.0.0.1".parse().unwrap(), Some(6432))[0];
    assert_eq!((other.in_use, other.verdict), (1, ConnectVerdict::Ok));
    assert_eq!(destinations(&snap, 1)[0].dest_port, 5432, "busiest first");
}

#[test]
fn reserved_and_bound_ports_are_never_connects() {
    let mut socks: Vec<Socket> = (40000..40005).map(|p| outgoing(p, 5432)).collect();
    socks.push(listener(40007));
    // A client that bound its port (no autobound mark) holds it from every destination.
    socks.push(outgoing(40008, 9999));
    socks[6].autobound = false;
    let mut snap = narrow(socks);
    snap.sysctl.ip_local_reserved_ports = crate::model::portset::PortSet::parse("40009").unwrap();
    let u = &toward(&snap, "127.0.0.1".parse().unwrap(), Some(5432))[0];
    assert_eq!((u.reserved, u.bound), (1, 2));
    assert_eq!((u.usable, u.in_use, u.available), (7, 5, 2));
    assert_eq!(u.verdict, ConnectVerdict::Ok, "5 of 7 is under 80%");
}

#[test]
fn time_wait_counts_unless_tw_reuse_lets_connect_take_it() {
    let tw = |p| with_state(outgoing(p, 5432), State::TimeWait);
    let mut snap = narrow((40000..40010).map(tw).collect());
    let dest: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(
        toward(&snap, dest, Some(5432))[0].verdict,
        ConnectVerdict::Exhausted
    );
    assert_eq!(toward(&snap, dest, Some(5432))[0].tw_blocking, 10);
    // 2 (the default): loopback only, which this is.
    snap.sysctl.tcp_tw_reuse = Some(2);
    let u = &toward(&snap, dest, Some(5432))[0];
    assert_eq!(
        (u.tw_reusable, u.available, u.verdict),
        (10, 10, ConnectVerdict::Ok)
    );
    // Not in its first second of TIME_WAIT.
    snap.sockets[0].expires_ms = Some(59_800);
    assert_eq!(toward(&snap, dest, Some(5432))[0].tw_reusable, 9);
}

#[test]
fn a_rate_that_runs_out_within_a_time_wait_is_at_risk() {
    let snap = narrow((40000..40005).map(|p| outgoing(p, 5432)).collect());
    let u = toward(&snap, "127.0.0.1".parse().unwrap(), Some(5432))
        .remove(0)
        .with_rate(10, 2.0);
    assert_eq!(u.rate_per_s, Some(5.0));
    assert_eq!(u.exhausted_in_s, Some(1), "5 left at 5 per second");
    assert_eq!(u.verdict, ConnectVerdict::AtRisk);
    let slow = toward(&snap, "127.0.0.1".parse().unwrap(), Some(5432))
        .remove(0)
        .with_rate(1, 60.0);
    assert_eq!(
        (slow.exhausted_in_s, slow.verdict),
        (None, ConnectVerdict::Ok)
    );
}

#[test]
fn holders_are_counted_per_process() {
    let pool = crate::model::test_support::owner(4711, "pgbouncer");
    let mut socks: Vec<Socket> = (40000..40006)
        .map(|p| {
            let mut s = outgoing(p, 5432);
            s.owners = Arc::from([Arc::clone(&pool)]);
            s
        })
        .collect();
    socks.push(with_state(outgoing(40006, 5432), State::TimeWait));
    let snap = narrow(socks);
    let u = &toward(&snap, "127.0.0.1".parse().unwrap(), Some(5432))[0];
    let total: usize = u.holders.iter().map(|h| h.ports).sum();
    assert_eq!(total, 7);
    assert_eq!(
        (u.holders[0].label.as_str(), u.holders[0].ports),
        ("pgbouncer (pid 4711)", 6)
    );
    assert!(u.holders.iter().any(|h| h.label.starts_with("TIME_WAIT")));
    assert_eq!(u.by_state.get("TIME-WAIT"), Some(&1));
}

#[test]
fn a_sockets_own_range_is_counted_inside_the_namespaces() {
    let mut snap = narrow((40000..40003).map(|p| outgoing(p, 5432)).collect());
    snap.sysctl.ip_local_port_range = [40000, 40099];
    let dest: IpAddr = "127.0.0.1".parse().unwrap();
    let u = toward(&snap, dest, Some(5432)).remove(0);
    assert_eq!(u.verdict, ConnectVerdict::Ok);
    let u = u.with_socket_range(&snap, "pool (pid 1)", [40000, 40002]);
    assert_eq!(u.verdict, ConnectVerdict::Exhausted);
    assert_eq!(u.narrowed[0].available, 0);
    // An end outside the namespace's range is the namespace's end.
    let u = toward(&snap, dest, Some(5432)).remove(0).with_socket_range(
        &snap,
        "pool (pid 1)",
        [39000, 40009],
    );
    assert_eq!(u.narrowed[0].effective, [40000, 40009]);
    assert_eq!(u.narrowed[0].available, 7);
    // The namespace's own range is no narrowing.
    let u =
        toward(&snap, dest, Some(5432))
            .remove(0)
            .with_socket_range(&snap, "pool (pid 1)", [0, 0]);
    assert!(u.narrowed.is_empty());
}
