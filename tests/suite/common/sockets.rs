//! Sockets made the way services make them: any address family, with or without SO_REUSEADDR,
//! SO_REUSEPORT and IPV6_V6ONLY, bound only or listening. The kernel's own bind() with these is
//! the ground truth the analysis is checked against.

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, listen, setsockopt,
    socket, sockopt,
};
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    pub reuseaddr: bool,
    pub reuseport: bool,
    pub v6only: bool,
}

/// A TCP socket bound to addr:port with the options; the kernel's answer as "ok" or an errno.
pub fn tcp_bind(addr: IpAddr, port: u16, o: Opts) -> Result<OwnedFd, String> {
    let fam = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(fam, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| format!("{e:?}"))?;
    if o.reuseaddr {
        setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| format!("{e:?}"))?;
    }
    if o.reuseport {
        setsockopt(&fd, sockopt::ReusePort, &true).map_err(|e| format!("{e:?}"))?;
    }
    if o.v6only && addr.is_ipv6() {
        setsockopt(&fd, sockopt::Ipv6V6Only, &true).map_err(|e| format!("{e:?}"))?;
    }
    let r = match addr {
        IpAddr::V4(a) => bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(a, port)),
        ),
        IpAddr::V6(a) => bind(
            fd.as_raw_fd(),
            &SockaddrIn6::from(SocketAddrV6::new(a, port, 0, 0)),
        ),
    };
    r.map_err(|e| format!("{e:?}"))?;
    Ok(fd)
}

pub fn tcp_listen_with(addr: IpAddr, port: u16, o: Opts) -> OwnedFd {
    let fd = tcp_bind(addr, port, o).unwrap_or_else(|e| panic!("bind {addr} {port}: {e}"));
    listen(&fd, Backlog::new(64).expect("backlog")).expect("listen");
    fd
}

/// A plain bind to addr:port (no options, as most services start): does the kernel take it?
pub fn binds(addr: &str, port: u16) -> bool {
    tcp_bind(addr.parse().expect("address"), port, Opts::default()).is_ok()
}

/// A UDP socket bound to addr:port with SO_REUSEADDR or not.
pub fn udp_bind_with(addr: IpAddr, port: u16, reuseaddr: bool) -> Result<OwnedFd, String> {
    let fam = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(fam, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| format!("{e:?}"))?;
    if reuseaddr {
        setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| format!("{e:?}"))?;
    }
    let r = match addr {
        IpAddr::V4(a) => bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(a, port)),
        ),
        IpAddr::V6(a) => bind(
            fd.as_raw_fd(),
            &SockaddrIn6::from(SocketAddrV6::new(a, port, 0, 0)),
        ),
    };
    r.map_err(|e| format!("{e:?}"))?;
    Ok(fd)
}
