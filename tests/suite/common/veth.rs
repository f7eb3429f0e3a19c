//! A second private namespace wired to the test's own by a veth pair, and real connections
//! across it: what "reachable from outside" means, checked by the kernel.
//!
//! The test's namespace (the server) gets `10.200.0.1/24` and `10.201.0.1/24` on `psr0`; the
//! other one (the client, held by a `sleep` child) gets `10.200.0.2/24` and `10.201.0.2/24`
//! on `psr1`, so a connection can come from either source range.

use super::{Holder, PATIENCE, SPAWN_LOCK, spawn_holding, wait_until};
use nix::sched::{CloneFlags, setns};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, setsockopt, socket, sockopt,
};
use nix::sys::time::{TimeVal, TimeValLike};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::time::Duration;

pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
pub const CLIENT_A: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 2);
pub const CLIENT_B: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
/// The server's IPv6 address (the client has `fd00:200::2`; no duplicate detection).
pub const SERVER6: &str = "fd00:200::1";

/// How a connect() ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Connected,
    /// A RST or ICMP port-unreachable: ECONNREFUSED.
    Refused,
    /// ICMP admin-prohibited or host-unreachable.
    Unreachable,
    /// No answer at all: dropped.
    TimedOut,
    Other(String),
}

fn sh(cmd: &str) {
    let out = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new("sh")
            .args(["-c", cmd])
            .stdin(Stdio::null())
            .output()
            .expect("spawn sh")
    };
    assert!(
        out.status.success(),
        "{cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// connect() from `from` (any address when `None`) to `to`, giving up after `patience`.
pub fn connect_from(from: Option<Ipv4Addr>, to: SocketAddrV4, patience: Duration) -> Reach {
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .expect("socket");
    // A blocking connect() gives up after SO_SNDTIMEO (with EINPROGRESS).
    let ms = i64::try_from(patience.as_millis()).unwrap_or(i64::MAX);
    setsockopt(&fd, sockopt::SendTimeout, &TimeVal::milliseconds(ms)).expect("SO_SNDTIMEO");
    if let Some(a) = from {
        bind(fd.as_raw_fd(), &SockaddrIn::from(SocketAddrV4::new(a, 0))).expect("bind source");
    }
    match connect(fd.as_raw_fd(), &SockaddrIn::from(to)) {
        Ok(()) => Reach::Connected,
        Err(nix::Error::ECONNREFUSED) => Reach::Refused,
        Err(nix::Error::EHOSTUNREACH | nix::Error::ENETUNREACH | nix::Error::EACCES) => {
            Reach::Unreachable
        }
        Err(nix::Error::EINPROGRESS | nix::Error::EAGAIN | nix::Error::ETIMEDOUT) => {
            Reach::TimedOut
        }
        Err(e) => Reach::Other(e.to_string()),
    }
}

/// The client namespace across the veth pair.
pub struct Outside {
    _holder: Holder,
    pid: u32,
}

fn netns_of(path: &str) -> String {
    std::fs::read_link(path)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

impl Outside {
    /// Makes the pair; the test thread must already be in its private namespace.
    pub fn new() -> Outside {
        let holder = spawn_holding(
            Command::new("unshare")
                .args(["-n", "sleep", "600"])
                .stdin(Stdio::null())
                .stdout(Stdio::null()),
            &[],
        );
        let pid = holder.pid();
        let ours = netns_of("/proc/thread-self/ns/net");
        let moved = wait_until(PATIENCE, || {
            let theirs = netns_of(&format!("/proc/{pid}/ns/net"));
            !theirs.is_empty() && theirs != ours
        });
        assert!(moved, "unshare -n never entered a namespace of its own");
        sh(&format!(
            "ip link add psr0 type veth peer name psr1 && ip link set psr1 netns {pid} \
             && ip address add {SERVER}/24 dev psr0 && ip address add 10.201.0.1/24 dev psr0 \
             && ip -6 address add {SERVER6}/64 dev psr0 nodad && ip link set psr0 up"
        ));
        let o = Outside {
            _holder: holder,
            pid,
        };
        o.run(|| {
            sh(&format!(
                "ip link set lo up && ip address add {CLIENT_A}/24 dev psr1 \
                 && ip address add {CLIENT_B}/24 dev psr1 \
                 && ip -6 address add fd00:200::2/64 dev psr1 nodad && ip link set psr1 up"
            ))
        });
        o
    }

    /// Runs `f` on a thread inside the client namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let ns = File::open(format!("/proc/{}/ns/net", self.pid)).expect("open client netns");
        std::thread::scope(|s| {
            s.spawn(move || {
                setns(&ns, CloneFlags::CLONE_NEWNET).expect("setns into the client namespace");
                f()
            })
            .join()
            .expect("client thread")
        })
    }

    /// connect() over IPv6 from the client namespace to the server's `port`.
    pub fn connect6(&self, port: u16, patience: Duration) -> Reach {
        let to = std::net::SocketAddr::new(SERVER6.parse().expect("v6"), port);
        self.run(
            || match std::net::TcpStream::connect_timeout(&to, patience) {
                Ok(_) => Reach::Connected,
                Err(e) => match e.raw_os_error().map(nix::Error::from_raw) {
                    Some(nix::Error::ECONNREFUSED) => Reach::Refused,
                    Some(
                        nix::Error::EHOSTUNREACH | nix::Error::ENETUNREACH | nix::Error::EACCES,
                    ) => Reach::Unreachable,
                    _ if e.kind() == std::io::ErrorKind::TimedOut => Reach::TimedOut,
                    _ => Reach::Other(e.to_string()),
                },
            },
        )
    }

    /// connect() from the client namespace, from `from`, to the server's `port`.
    pub fn connect(&self, from: Ipv4Addr, port: u16, patience: Duration) -> Reach {
        self.run(|| connect_from(Some(from), SocketAddrV4::new(SERVER, port), patience))
    }
}

/// Says SKIPPED (a failure under CI=true) unless every tool is in the system directories.
pub fn tools_or_skip(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools
        .iter()
        .filter(|t| {
            !["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .any(|d| std::path::Path::new(d).join(t).is_file())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    super::skip(
        test,
        &format!("missing {missing:?} (apt-get install iptables nftables util-linux)"),
    );
    false
}
