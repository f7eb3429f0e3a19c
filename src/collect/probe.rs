//! The kernel's own verdict on a bind: a throw-away socket bound to the address and port, once
//! without and once with SO_REUSEADDR, never listened on, closed at once. Whether the sockets in
//! the way set SO_REUSEADDR is invisible in every table; trying is the only exact answer, and it
//! disturbs nothing.

use super::netns::NetnsTarget;
use crate::model::Proto;
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, setsockopt, socket, sockopt,
};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

/// What one bind attempt answered: "ok" or the errno name ("EADDRINUSE", ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Outcome(pub String);

impl Outcome {
    pub fn ok() -> Self {
        Outcome("ok".into())
    }
    pub fn is_ok(&self) -> bool {
        self.0 == "ok"
    }
    pub fn is(&self, errno: &str) -> bool {
        self.0 == errno
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// bind() without SO_REUSEADDR, as most services start.
    pub plain: Option<Outcome>,
    /// bind() with SO_REUSEADDR.
    pub reuseaddr: Option<Outcome>,
    /// Why the probe could not run, when it could not (then the verdict comes from the tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
}

impl ProbeResult {
    pub fn not_run(reason: impl Into<String>) -> Self {
        ProbeResult {
            plain: None,
            reuseaddr: None,
            not_run: Some(reason.into()),
        }
    }
}

fn errno_name(e: nix::Error) -> String {
    // nix's Debug form is the symbolic name (EADDRINUSE); Display adds the description.
    format!("{e:?}")
}

fn try_bind(proto: Proto, addr: IpAddr, port: u16, reuse: bool) -> Outcome {
    let (family, ty) = (
        match addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        },
        match proto {
            Proto::Tcp => SockType::Stream,
            Proto::Udp => SockType::Datagram,
        },
    );
    let fd = match socket(family, ty, SockFlag::SOCK_CLOEXEC, None) {
        Ok(fd) => fd,
        Err(e) => return Outcome(errno_name(e)),
    };
    if reuse && let Err(e) = setsockopt(&fd, sockopt::ReuseAddr, &true) {
        return Outcome(errno_name(e));
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
    // fd drops here: the socket never listened, so it leaves no trace (not even TIME_WAIT).
    match r {
        Ok(()) => Outcome::ok(),
        Err(e) => Outcome(errno_name(e)),
    }
}

/// Probes inside the target namespace. A failure to enter it is reported, not raised.
pub fn probe(netns: &NetnsTarget, proto: Proto, addr: IpAddr, port: u16) -> ProbeResult {
    match netns.run_in(|| {
        (
            try_bind(proto, addr, port, false),
            try_bind(proto, addr, port, true),
        )
    }) {
        Ok((plain, reuse)) => ProbeResult {
            plain: Some(plain),
            reuseaddr: Some(reuse),
            not_run: None,
        },
        Err(e) => ProbeResult::not_run(format!("the bind probe could not run: {e}")),
    }
}

/// Whether this process may bind ports below ip_unprivileged_port_start (CAP_NET_BIND_SERVICE
/// in its effective set; root normally has it).
pub fn has_net_bind_service() -> bool {
    const CAP_NET_BIND_SERVICE: u32 = 10;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_NET_BIND_SERVICE) != 0)
}
