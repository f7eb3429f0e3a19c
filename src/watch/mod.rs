//! `portscope watch`: every socket that takes, leaves or changes state on a few ports, as it
//! happens.
//!
//! Two sources, the better one first:
//! * [`trace`]: the `sock:inet_sock_set_state` tracepoint through perf_event_open, filtered in
//!   the kernel on the ports (root or CAP_PERFMON, tracefs). Sees every TCP transition, however
//!   short-lived the socket.
//! * [`poll`]: sock_diag dumps of just those ports every few milliseconds (no privileges). Sees
//!   what lives longer than its stated resolution.
//!
//! Both start with the sockets already on the ports ("held") and report [`WatchEvent`]s to a
//! sink; the CLI prints them, `--record` appends them to a history log.

pub mod binds;
mod bound;
mod bpf_asm;
mod error;
pub mod failures;
mod join;
pub mod kept;
pub mod owner;
pub mod poll;
mod sample;
pub mod scope;
pub mod text;
pub mod trace;
pub mod tracefs;

pub use error::{TraceError, WatchError};

use crate::model::{Family, Owner, Proto, Socket, State};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What happened to a socket on a watched port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Already on the port when watching started.
    Held,
    /// The socket took the port (listen, connect, accept, bind seen by a poll).
    Take,
    /// The socket let go of it (closed; a TIME_WAIT may keep the port a while longer).
    Leave,
    /// Still on the port, in another state.
    State,
    /// A bind() to the port that the kernel refused (`--binds`): someone tried to take it.
    Refused,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Held => "held",
            EventKind::Take => "take",
            EventKind::Leave => "leave",
            EventKind::State => "state",
            EventKind::Refused => "refused",
        }
    }
}

/// How the owner of an event was found: says how much to trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OwnerVia {
    /// The process that made the change, in its own context (listen, connect, close): exact.
    Context,
    /// The process whose connect() created this socket, joined by the socket's address.
    Connect,
    /// Accepted by a listener; the listener's owner.
    Listener,
    /// Found in a /proc/*/fd scan by socket inode.
    Scan,
    /// The process that called bind() on the port (`--binds`; it may have exited since).
    Bind,
}

/// One change on a watched port. Its serde form is the `watch --json` line (version 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchEvent {
    pub time: jiff::Timestamp,
    pub event: EventKind,
    pub proto: Proto,
    pub family: Family,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    /// The state before the change (None for held sockets and sockets a poll saw appear).
    pub old_state: Option<State>,
    pub state: State,
    /// The kernel chose the local port (connect without bind). None when unknown.
    pub kernel_chosen: Option<bool>,
    pub owner: Option<Owner>,
    pub owner_via: Option<OwnerVia>,
    /// Socket inode where known (poll source, held sockets), 0 otherwise.
    #[serde(default)]
    pub inode: u64,
    /// The network namespace (its inode, as in `net:[4026531840]`) the socket is in, where
    /// known: without `--netns` the tracepoint sees every namespace on the host, a poll only
    /// portscope's own; with it, only the target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<u64>,
    /// "tracepoint" or "poll".
    pub source: String,
    /// A short note ("TIME_WAIT may keep the port up to 60 s", "pid not known: softirq").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl WatchEvent {
    /// An event describing a socket as sock_diag reports it; `netns` is the namespace the dump
    /// was made in.
    pub fn from_socket(
        s: &Socket,
        event: EventKind,
        old_state: Option<State>,
        source: &str,
        netns: Option<u64>,
    ) -> Self {
        let owner = s.owners.first().map(|o| (**o).clone());
        WatchEvent {
            time: jiff::Timestamp::now(),
            event,
            proto: s.proto,
            family: s.family,
            local_addr: s.local_addr,
            local_port: s.local_port,
            remote_addr: s.remote_addr,
            remote_port: s.remote_port,
            old_state,
            state: s.state,
            kernel_chosen: (s.inode != 0).then_some(s.autobound),
            owner_via: owner.as_ref().map(|_| OwnerVia::Scan),
            owner,
            inode: s.inode,
            netns,
            source: source.into(),
            note: if s.accept_queue {
                Some("waiting in its listener's accept queue (not accepted yet)".to_string())
            } else {
                s.kernel_held
                    .then(|| format!("held by {}", crate::model::KERNEL_HOLDER))
            },
        }
    }
}

/// What to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub ports: Vec<u16>,
    /// None: both TCP and UDP (UDP only on the poll source).
    pub proto: Option<Proto>,
    pub until: Option<Instant>,
    /// Use the polling source even where the tracepoint is available.
    pub force_poll: bool,
    /// Poll interval (10-50 ms is the useful range).
    pub poll_interval: Duration,
    /// Also trace bind() with a BPF program (UDP and bind-only TCP holders).
    pub binds: bool,
    /// The network namespace to watch (`--netns`); Current keeps the behaviour without it.
    pub netns: crate::collect::NetnsTarget,
}

/// Which source is in use and what it can see: the first line of every watch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// "tracepoint" or "poll".
    pub source: String,
    /// One sentence on what it sees and what it may miss.
    pub detail: String,
    /// For polling: the interval; a holder that lives less than this may be missed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution_ms: Option<f64>,
    /// Things worth knowing (tracefs mounted by us, a fallback and why).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// With `--netns`: the namespace watched, as "pid 4123 (net:[4026532301])".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

/// What a sink receives, in order: the source once, then events.
pub enum Report<'a> {
    Source(&'a SourceInfo),
    Event(&'a WatchEvent),
    /// The kernel dropped events (the ring overflowed): say how many.
    Lost(u64),
    /// The poll source fell behind its interval (a busy host): the new effective resolution.
    Resolution(f64),
}

/// Runs a watch until `opts.until` or until `sink` returns false. Picks the tracepoint when
/// the kernel allows it, else polls, and says which through the first report.
pub fn run(
    opts: &WatchOptions,
    sink: &mut dyn FnMut(Report<'_>) -> bool,
) -> Result<(), WatchError> {
    let scope = scope::Scope::new(&opts.netns)?;
    let mut notes = Vec::new();
    let tcp_wanted = opts.proto != Some(Proto::Udp);
    if !opts.force_poll && (tcp_wanted || opts.binds) {
        match trace::Tracer::open(&opts.ports) {
            Ok((tracer, mut trace_notes)) => {
                notes.append(&mut trace_notes);
                if opts.proto != Some(Proto::Tcp) {
                    notes.push(
                        "UDP has no state tracepoint: UDP sockets on these ports are polled alongside"
                            .into(),
                    );
                }
                return trace::run(tracer, opts, &scope, notes, sink);
            }
            Err(why) => notes.push(format!("tracepoint unavailable: {why}; polling instead")),
        }
    } else if opts.force_poll {
        notes.push("polling requested (--poll)".into());
    }
    if opts.binds {
        notes.push("--binds needs the tracepoint source (root or CAP_BPF + CAP_PERFMON, tracefs): not active".into());
    }
    poll::run(opts, &scope, notes, sink)
}

/// Waits until one of `rings` has data, at most `max` and never past `until`. `Ok(false)` once
/// `until` has passed: the watch is over.
pub fn wait_rings<'a>(
    rings: impl Iterator<Item = &'a crate::sys::perf::PerfRing>,
    until: Option<Instant>,
    max: Duration,
) -> Result<bool, WatchError> {
    let now = Instant::now();
    if until.is_some_and(|u| now >= u) {
        return Ok(false);
    }
    let timeout = until.map_or(max, |u| max.min(u.saturating_duration_since(now)));
    let mut fds: Vec<rustix::event::PollFd<'_>> = rings
        .map(|r| rustix::event::PollFd::new(r, rustix::event::PollFlags::IN))
        .collect();
    let ts = rustix::time::Timespec {
        tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(timeout.subsec_nanos()),
    };
    match rustix::event::poll(&mut fds, Some(&ts)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => Ok(true),
        Err(e) => Err(WatchError::Failed(format!("poll: {e}"))),
    }
}

/// The state mask for a full sock_diag dump of one port: every state, plus TCP's
/// bound-but-not-listening sockets (Linux 6.8+, ignored by older kernels).
pub const ALL_STATES_AND_BOUND: u32 = 0x3fff;

/// Every socket on the watched ports now, with owners: the "held" lines, and the baseline the
/// poll source diffs against.
pub fn sockets_on(
    dumper: &mut crate::collect::netlink::Dumper,
    ports: &[u16],
    proto: Option<Proto>,
    states: u32,
) -> nix::Result<Vec<Socket>> {
    let mut out = Vec::new();
    for p in [Proto::Tcp, Proto::Udp] {
        if proto.is_some_and(|want| want != p) {
            continue;
        }
        for family in [Family::Ipv4, Family::Ipv6] {
            for &port in ports {
                out.extend(dumper.port_sockets(family, p, port, states)?);
            }
        }
    }
    Ok(out)
}
