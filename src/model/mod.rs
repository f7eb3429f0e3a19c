//! The snapshot: plain, immutable data shared by every surface (CLI, JSON, TUI).
//!
//! Its serde form *is* the public `snapshot --json` document (version 1), and `--replay` reads it
//! back, so field names here are an interface: add, never rename.

/// Text another process chose, shown escaped: analysis keeps it whole (it reaches `escape` only
/// through the model).
pub use crate::escape::Foreign;
use portset::PortSet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
pub use workload::{NetnsSummary, Published, UserUnit, Workload};

pub mod held_fd;
mod holder;
pub use holder::KERNEL_HOLDER;
mod kind;
pub mod listen_history;
mod netns;
pub mod portset;
pub mod probe;
pub mod process_context;
pub mod protect;
pub mod reach;
pub mod role;
pub mod shell;
/// Builders for tests: in unit tests, and for integration tests through the `test-support`
/// feature (Cargo.toml turns it on for them); never in a release build.
#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod test_support;
#[cfg(test)]
mod tests;
pub mod text;
mod unknown_name;
pub mod workload;

pub use kind::{Family, Proto, State};
pub use netns::NetnsTarget;
pub use role::ProcessRole;
pub use unknown_name::UnknownName;

pub const JSON_VERSION: u32 = 1;

/// A process holding a socket. `pid` + `start_time` identify it across PID reuse.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: u32,
    // Everything the process (or a directory service) chose is `Foreign`: shown escaped.
    pub comm: Foreign,
    pub cmdline: Foreign,
    pub uid: u32,
    pub user: Foreign,
    /// Field 22 of /proc/PID/stat: clock ticks after boot.
    pub start_time: u64,
    /// The systemd unit the process runs in, from /proc/PID/cgroup.
    pub unit: Option<Foreign>,
    /// The container (runtime and short id) the process runs in, from /proc/PID/cgroup.
    #[serde(default)]
    pub container: Option<Foreign>,
    /// The container, with its name and pod, when the process runs in one (`unit` is then
    /// empty: a unit inside a container is not a host unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<Arc<Workload>>,
    /// A systemd user unit (`user@UID.service/.../foo.service`); `unit` is then empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_unit: Option<UserUnit>,
    /// `NSpid:` of /proc/PID/status: the process's PID in each PID namespace from portscope's
    /// down to its own. `[1]` is our namespace's init; `[n, .., 1]` a container's init (PID 1
    /// of a nested namespace). Empty when unknown (older recordings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nspid: Vec<u32>,
    /// The program file the process runs (`/proc/PID/exe`), where it could be read (root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe: Option<Exe>,
}

/// What `/proc/PID/exe` says: the file's path, and whether only root can have put it there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exe {
    pub path: Foreign,
    /// A file owned by root, writable by nobody else, in a system program directory (/usr/bin,
    /// /usr/sbin, /usr/libexec, ...). A name (comm, argv[0]) any process can choose; this it
    /// cannot, which is what lets portscope tell the runtime's kubelet from a copy of python
    /// named kubelet.
    pub system: bool,
}

impl Owner {
    /// "nginx (pid 812)": how a person refers to the process.
    pub fn label(&self) -> String {
        format!("{} (pid {})", self.comm, self.pid)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Socket {
    pub proto: Proto,
    pub family: Family,
    pub state: State,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    pub inode: u64,
    /// The kernel's unique socket id (sock_diag cookie); 0 when read from /proc.
    #[serde(default)]
    pub cookie: u64,
    pub uid: u32,
    pub rx_queue: u32,
    pub tx_queue: u32,
    /// The kernel picked the local port (no explicit bind): the mark of an outgoing connection
    /// that can steal a service's port. As `ss ... autobound`: the kernel's bind-lock test
    /// (INET_DIAG_BC_AUTO) and a port inside the ephemeral range; accepted connections (which
    /// share a listener's port) are excluded. Only known for full sockets read through netlink.
    pub autobound: bool,
    /// For IPv6 sockets: whether `[::]` is restricted to IPv6 (does not cover IPv4).
    /// `None` where the kernel does not report it (IPv4, or IPv6 in states other than LISTEN/CLOSE).
    pub v6only: Option<bool>,
    /// Milliseconds until the kernel frees a TIME_WAIT (or orphaned FIN_WAIT2) socket.
    pub expires_ms: Option<u32>,
    /// No process holds it: TIME_WAIT, request and orphaned sockets (inode 0).
    pub kernel_held: bool,
    /// Some process holds it, but portscope could not see which (permissions, hidepid).
    #[serde(default)]
    pub owner_hidden: bool,
    /// A connection in its listener's accept queue (no fd yet): `owners` are the listener's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accept_queue: bool,
    /// Shared between all sockets with the same holders (a process's sockets share one list),
    /// so 100k sockets cost no allocation each.
    pub owners: Owners,
    /// Held by a container runtime (docker-proxy, dockerd, conmon, ...) for a container's
    /// published port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<Arc<Published>>,
    /// The network namespace (inode) the socket lives in; set in `--all-netns` snapshots.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub netns: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The processes holding a socket.
pub type Owners = Arc<[Arc<Owner>]>;

/// An empty owner list (kernel-held or hidden). One shared list: `Arc::from([])` allocates its
/// counts, and a table of 100k sockets starts with every socket holding one (1.6 MB of heap
/// and 100k allocations at 100k sockets).
pub fn no_owners() -> Owners {
    static EMPTY: std::sync::OnceLock<Owners> = std::sync::OnceLock::new();
    Arc::clone(EMPTY.get_or_init(|| Arc::from([])))
}

/// Identity of a socket across snapshots, for keeping the selection on the same row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketKey {
    pub proto: Proto,
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub inode: u64,
}

/// Where a socket sorts in every table (snapshot, history, JSON): protocol, local port, state,
/// local and remote address, remote port; inode and namespace only break ties.
pub type TableOrder = (Proto, u16, State, IpAddr, IpAddr, u16, u64, u64);

impl Socket {
    pub fn table_order(&self) -> TableOrder {
        (
            self.proto,
            self.local_port,
            self.state,
            self.local_addr,
            self.remote_addr,
            self.remote_port,
            self.inode,
            self.netns,
        )
    }

    pub fn key(&self) -> SocketKey {
        SocketKey {
            proto: self.proto,
            local: (self.local_addr, self.local_port),
            remote: (self.remote_addr, self.remote_port),
            inode: self.inode,
        }
    }

    /// `127.0.0.1:8080`, `[::1]:8080`.
    pub fn local(&self) -> String {
        fmt_endpoint(self.local_addr, self.local_port)
    }

    pub fn remote(&self) -> String {
        if self.remote_port == 0 && self.remote_addr.is_unspecified() {
            "*".to_string()
        } else {
            fmt_endpoint(self.remote_addr, self.remote_port)
        }
    }

    /// A listener, or a bound UDP socket that receives (the UDP equivalent).
    pub fn is_listening(&self) -> bool {
        match self.proto {
            Proto::Tcp => self.state == State::Listen,
            Proto::Udp => self.state == State::Unconn,
        }
    }

    /// An IPv6 wildcard socket that also accepts IPv4 (dual-stack).
    pub fn is_dual_stack(&self) -> bool {
        self.family == Family::Ipv6
            && self.local_addr.is_unspecified()
            && self.v6only == Some(false)
    }
}

pub fn fmt_endpoint(addr: IpAddr, port: u16) -> String {
    Endpoint(addr, port).to_string()
}

/// Displays as `127.0.0.1:8080` or `[::1]:8080` without allocating.
pub struct Endpoint(pub IpAddr, pub u16);

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// NETLINK_SOCK_DIAG inet_diag dumps, as `ss` reads them.
    Netlink,
    /// /proc/net/{tcp,tcp6,udp,udp6} text, the fallback.
    Procfs,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Netlink => "netlink",
            Source::Procfs => "procfs",
        })
    }
}

/// Which network namespace a snapshot describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsInfo {
    /// What the user asked for: "current", a PID, or a path.
    pub target: String,
    /// Inode of the namespace (as in `net:[4026531840]`), its identity.
    pub inode: u64,
    /// Whether this is the namespace portscope itself started in.
    pub is_own: bool,
}

/// The port-space settings of one network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sysctls {
    pub ip_local_port_range: [u16; 2],
    pub ip_local_reserved_ports: PortSet,
    pub ip_unprivileged_port_start: u32,
    pub tcp_tw_reuse: Option<u8>,
    pub bindv6only: Option<bool>,
    /// `net.core.somaxconn`: the cap on every listen() backlog. A listener whose effective
    /// backlog equals it asked for more; raising its backlog alone changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub somaxconn: Option<u32>,
    /// Settings that could not be read (their value above is the kernel default, not a fact).
    /// A change merged with a guessed `ip_local_reserved_ports` would drop real reservations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unread: Vec<String>,
}

impl Default for Sysctls {
    fn default() -> Self {
        Sysctls {
            ip_local_port_range: [32768, 60999],
            ip_local_reserved_ports: PortSet::new(),
            ip_unprivileged_port_start: 1024,
            tcp_tw_reuse: Some(2),
            bindv6only: Some(false),
            somaxconn: None,
            unread: Vec::new(),
        }
    }
}

impl Sysctls {
    pub fn ephemeral(&self) -> (u16, u16) {
        (self.ip_local_port_range[0], self.ip_local_port_range[1])
    }

    pub fn in_ephemeral(&self, port: u16) -> bool {
        let (lo, hi) = self.ephemeral();
        (lo..=hi).contains(&port)
    }

    /// Inside the ephemeral range and not reserved: the kernel may hand it to any outgoing
    /// connection at any moment.
    pub fn at_risk(&self, port: u16) -> bool {
        self.in_ephemeral(port) && !self.ip_local_reserved_ports.contains(port)
    }

    /// Whether a setting (by its /proc/sys/net/ipv4 name) was read from the kernel.
    pub fn known(&self, name: &str) -> bool {
        !self.unread.iter().any(|u| u == name)
    }

    pub fn privileged(&self, port: u16) -> bool {
        u32::from(port) < self.ip_unprivileged_port_start
    }
}

/// What was seen, and what could not be: the honest-degradation counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub sockets: usize,
    pub owned: usize,
    pub kernel_held: usize,
    pub owner_hidden: usize,
    pub processes_scanned: usize,
    /// Processes whose fd table could not be read (another user's, without root).
    pub processes_hidden: usize,
    /// Processes that exited while being scanned.
    pub processes_vanished: usize,
    pub fds_scanned: usize,
    /// Wall time of the whole snapshot, in microseconds.
    pub duration_us: u64,
    pub is_root: bool,
    /// The source reports TCP sockets bound but not listening (netlink on Linux 6.8+).
    #[serde(default)]
    pub bound_inactive_visible: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u32,
    pub taken_at: jiff::Timestamp,
    pub source: Source,
    pub netns: NetnsInfo,
    pub sysctl: Sysctls,
    pub stats: Stats,
    /// Plain-language notes about what is missing or degraded (hidden processes, fallback source).
    #[serde(default)]
    pub warnings: Vec<String>,
    pub sockets: Vec<Socket>,
    /// Every network namespace of an `--all-netns` snapshot (empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NetnsSummary>,
    /// The Kubernetes NodePort range, when kube-apiserver (or k3s) runs on this host
    /// (`--service-node-port-range`, default 30000-32767).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port_range: Option<[u16; 2]>,
}

impl Snapshot {
    /// Every socket held by process `pid`.
    pub fn sockets_of(&self, pid: u32) -> impl Iterator<Item = &Socket> {
        self.sockets
            .iter()
            .filter(move |s| s.owners.iter().any(|o| o.pid == pid))
    }
}
