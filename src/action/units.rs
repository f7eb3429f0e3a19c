//! The socket unit behind a socket a service manager holds (systemd socket activation).
//!
//! When PID 1 (or another manager) holds a listener, signalling the service it started frees
//! nothing: the manager keeps the socket and starts the service again on the next connection.
//! What frees the port is stopping the socket unit (and the service it activates).
//!
//! Two sources, best first:
//! 1. `systemctl list-sockets --all --show-types` maps each listen address to its unit and the
//!    units it activates. It asks systemd over D-Bus: the truth, when systemd runs. Only the
//!    callers that may do I/O use it ([`listed`]).
//! 2. A guess from the snapshot: a service that shares the socket runs in `foo.service` (or a
//!    per-connection instance `foo@….service`), and systemd's convention pairs it with
//!    `foo.socket` (the default `Service=` of a socket unit is the unit of the same name). Said to
//!    be a guess, with the command that confirms it.

pub use crate::analyze::socket_unit::{SocketUnitHint, guess};
use crate::model::Proto;
use std::net::{IpAddr, SocketAddr};

/// One row of `systemctl list-sockets --all --show-types --full --no-legend --plain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub listen: String,
    pub kind: String,
    pub unit: String,
    pub activates: Vec<String>,
}

/// Parses list-sockets rows: LISTEN TYPE UNIT ACTIVATES (activated units comma-separated).
pub fn parse_list_sockets(text: &str) -> Vec<Listed> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let listen = f.next()?.to_string();
            let kind = f.next()?.to_string();
            let unit = f.next()?.to_string();
            if !unit.ends_with(".socket") {
                return None;
            }
            let activates = f
                .flat_map(|a| a.split(','))
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect();
            Some(Listed {
                listen,
                kind,
                unit,
                activates,
            })
        })
        .collect()
}

/// The listed unit for a socket: same type, same port, same address (an IPv4 address also
/// matches its IPv4-mapped IPv6 form, as systemd may print it).
pub fn find(rows: &[Listed], proto: Proto, addr: IpAddr, port: u16) -> Option<&Listed> {
    let kind = match proto {
        Proto::Tcp => "Stream",
        Proto::Udp => "Datagram",
    };
    let canon = |a: IpAddr| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        IpAddr::V4(_) => a,
    };
    rows.iter().find(|r| {
        r.kind == kind
            && r.listen
                .parse::<SocketAddr>()
                .is_ok_and(|sa| sa.port() == port && canon(sa.ip()) == canon(addr))
    })
}

/// Asks systemd which socket unit listens on (proto, addr, port). None when systemctl is
/// missing, systemd does not run, or no unit lists it.
pub fn listed(proto: Proto, addr: IpAddr, port: u16) -> Option<SocketUnitHint> {
    let mut cmd = crate::tools::command("systemctl").ok()?;
    cmd.args([
        "list-sockets",
        "--all",
        "--show-types",
        "--full",
        "--no-legend",
        "--no-pager",
        "--plain",
    ]);
    // systemd that does not answer (a hung dbus) must not hold up `why`.
    let out = crate::subprocess::run(
        &mut cmd,
        crate::subprocess::Limits::new(std::time::Duration::from_secs(5)),
    )
    .ok()?;
    if !out.status.is_some_and(|s| s.success()) {
        return None;
    }
    let rows = parse_list_sockets(&out.stdout.text());
    let row = find(&rows, proto, addr, port)?;
    Some(SocketUnitHint {
        unit: Some(row.unit.clone()),
        activates: row.activates.first().cloned(),
        guessed: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTED: &str = "\
/run/dbus/system_bus_socket Stream dbus.socket dbus.service
[::]:22 Stream sshd.socket sshd.service
127.0.0.1:631 Stream cups.socket cups.service
0.0.0.0:5353 Datagram avahi.socket avahi-daemon.service,avahi-extra.service
[::]:9000 Stream echo.socket
";

    #[test]
    fn list_sockets_rows_map_addresses_to_units() {
        let rows = parse_list_sockets(LISTED);
        assert_eq!(rows.len(), 5);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(
            find(&rows, Proto::Tcp, ip("::"), 22).map(|r| r.unit.as_str()),
            Some("sshd.socket")
        );
        assert_eq!(
            find(&rows, Proto::Tcp, ip("127.0.0.1"), 631).map(|r| r.unit.as_str()),
            Some("cups.socket")
        );
        assert!(find(&rows, Proto::Tcp, ip("0.0.0.0"), 631).is_none());
        assert!(find(&rows, Proto::Tcp, ip("0.0.0.0"), 5353).is_none());
        let avahi = find(&rows, Proto::Udp, ip("0.0.0.0"), 5353).expect("avahi");
        assert_eq!(
            avahi.activates,
            ["avahi-daemon.service", "avahi-extra.service"]
        );
        assert!(find(&rows, Proto::Tcp, ip("::"), 9000).is_some_and(|r| r.activates.is_empty()));
    }
}
