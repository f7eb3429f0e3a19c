//! The snapshot: plain, immutable data shared by every surface (CLI, JSON, TUI).
//!
//! Its serde form *is* the public `snapshot --json` document (version 1), and `--replay` reads it
//! back, so field names here are an interface: add, never rename.

use crate::escape::Foreign;
use crate::portset::PortSet;
pub use crate::workload::{NetnsSummary, Published, UserUnit, Workload};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

pub const JSON_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(format!("unknown protocol {s:?} (expected tcp or udp)")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// Socket state with the kernel's TCP state names; `Unconn` is an unconnected UDP socket
/// (the kernel's TCP_CLOSE for UDP), as `ss` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Listen,
    Established,
    SynSent,
    SynRecv,
    #[serde(rename = "FIN_WAIT1")]
    FinWait1,
    #[serde(rename = "FIN_WAIT2")]
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Closing,
    Unconn,
    /// A TCP socket bound but neither listening nor connected (TCP_CLOSE in the bind table):
    /// it holds its port. Reported since Linux 6.8 when asked for (`ss -B`).
    BoundInactive,
}

impl State {
    pub const ALL: [State; 13] = [
        State::Listen,
        State::Established,
        State::SynSent,
        State::SynRecv,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Close,
        State::CloseWait,
        State::LastAck,
        State::Closing,
        State::Unconn,
        State::BoundInactive,
    ];

    /// Maps the kernel's numeric state (include/net/tcp_states.h) for a protocol.
    pub fn from_kernel(proto: Proto, code: u8) -> Option<State> {
        Some(match code {
            1 => State::Established,
            2 => State::SynSent,
            3 | 12 => State::SynRecv, // 12 = TCP_NEW_SYN_RECV, a request socket
            4 => State::FinWait1,
            5 => State::FinWait2,
            6 => State::TimeWait,
            7 if proto == Proto::Udp => State::Unconn,
            // A closed TCP socket is in no hash table: the only ones a dump returns are those
            // still bound (bit 13 of the request, TCP_BOUND_INACTIVE).
            7 => State::BoundInactive,
            8 => State::CloseWait,
            9 => State::LastAck,
            10 => State::Listen,
            11 => State::Closing,
            _ => return None,
        })
    }

    /// The JSON spelling, e.g. `TIME_WAIT`.
    pub fn name(self) -> &'static str {
        match self {
            State::Listen => "LISTEN",
            State::Established => "ESTABLISHED",
            State::SynSent => "SYN_SENT",
            State::SynRecv => "SYN_RECV",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::TimeWait => "TIME_WAIT",
            State::Close => "CLOSE",
            State::CloseWait => "CLOSE_WAIT",
            State::LastAck => "LAST_ACK",
            State::Closing => "CLOSING",
            State::Unconn => "UNCONN",
            State::BoundInactive => "BOUND_INACTIVE",
        }
    }

    /// The spelling `ss` uses, so the table reads like the tool people know.
    pub fn ss_name(self) -> &'static str {
        match self {
            State::Listen => "LISTEN",
            State::Established => "ESTAB",
            State::SynSent => "SYN-SENT",
            State::SynRecv => "SYN-RECV",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Close => "CLOSE",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Closing => "CLOSING",
            State::Unconn => "UNCONN",
            State::BoundInactive => "BOUND",
        }
    }
}

impl std::str::FromStr for State {
    type Err = String;
    /// Accepts the JSON name, the `ss` name, and common short forms (`estab`, `tw`).
    fn from_str(s: &str) -> Result<Self, String> {
        let norm: String = s
            .trim()
            .to_ascii_uppercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let alias = match norm.as_str() {
            "ESTAB" => Some(State::Established),
            "TW" => Some(State::TimeWait),
            "LISTENING" => Some(State::Listen),
            "CLOSED" => Some(State::Close),
            "BOUND" | "BOUNDINACTIVE" => Some(State::BoundInactive),
            _ => None,
        };
        alias
            .or_else(|| {
                State::ALL
                    .into_iter()
                    .find(|st| st.name().replace('_', "") == norm)
            })
            .ok_or_else(|| {
                let names: Vec<_> = State::ALL.iter().map(|s| s.name()).collect();
                format!("unknown state {s:?} (expected one of {})", names.join(", "))
            })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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

/// An empty owner list (kernel-held or hidden).
pub fn no_owners() -> Owners {
    Arc::from([])
}

/// Identity of a socket across snapshots, for keeping the selection on the same row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketKey {
    pub proto: Proto,
    pub local: (IpAddr, u16),
    pub remote: (IpAddr, u16),
    pub inode: u64,
}

impl Socket {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_parsing_accepts_ss_and_json_names() {
        for (s, want) in [
            ("TIME_WAIT", State::TimeWait),
            ("time-wait", State::TimeWait),
            ("estab", State::Established),
            ("listen", State::Listen),
            ("fin-wait-1", State::FinWait1),
            ("UNCONN", State::Unconn),
        ] {
            assert_eq!(s.parse::<State>(), Ok(want), "{s}");
        }
        assert!("bogus".parse::<State>().is_err());
    }

    #[test]
    fn kernel_state_codes() {
        assert_eq!(State::from_kernel(Proto::Udp, 7), Some(State::Unconn));
        assert_eq!(
            State::from_kernel(Proto::Tcp, 7),
            Some(State::BoundInactive)
        );
        assert_eq!(State::from_kernel(Proto::Tcp, 12), Some(State::SynRecv));
        assert_eq!(State::from_kernel(Proto::Tcp, 0), None);
    }
}

/// Builders for synthetic snapshots, for table tests of the pure derivations.
#[doc(hidden)]
pub mod test_support {
    use super::*;
    use std::net::Ipv4Addr;

    pub fn snapshot(sockets: Vec<Socket>) -> Snapshot {
        Snapshot {
            version: JSON_VERSION,
            taken_at: jiff::Timestamp::UNIX_EPOCH,
            source: Source::Netlink,
            netns: NetnsInfo {
                target: "current".into(),
                inode: 4026531840,
                is_own: true,
            },
            sysctl: Sysctls::default(),
            stats: Stats::default(),
            warnings: Vec::new(),
            sockets,
            namespaces: Vec::new(),
            node_port_range: None,
        }
    }

    pub fn owner(pid: u32, comm: &str) -> Arc<Owner> {
        Arc::new(Owner {
            pid,
            comm: comm.into(),
            cmdline: comm.into(),
            uid: 0,
            user: "root".into(),
            start_time: 1000 + u64::from(pid),
            unit: None,
            container: None,
            nspid: vec![pid],
            workload: None,
            user_unit: None,
        })
    }

    fn base(local_port: u16, remote_port: u16, state: State) -> Socket {
        Socket {
            proto: Proto::Tcp,
            family: Family::Ipv4,
            state,
            local_addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            local_port,
            remote_addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            remote_port,
            inode: 10_000 + u64::from(local_port) * 7 + u64::from(remote_port),
            cookie: 0,
            uid: 0,
            rx_queue: 0,
            tx_queue: 0,
            autobound: false,
            v6only: None,
            expires_ms: None,
            kernel_held: false,
            owner_hidden: false,
            accept_queue: false,
            owners: Arc::from([owner(100 + u32::from(local_port % 50), "svc")]),
            published: None,
            netns: 0,
        }
    }

    pub fn listener(port: u16) -> Socket {
        let mut s = base(port, 0, State::Listen);
        s.local_addr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        s.remote_addr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        s
    }

    pub fn outgoing(local: u16, remote: u16) -> Socket {
        let mut s = base(local, remote, State::Established);
        s.autobound = true;
        s
    }

    pub fn with_state(mut s: Socket, state: State) -> Socket {
        s.state = state;
        if state == State::TimeWait {
            s.kernel_held = true;
            s.inode = 0;
            s.autobound = false;
            s.expires_ms = Some(42_000);
            s.owners = no_owners();
        }
        s
    }
}
