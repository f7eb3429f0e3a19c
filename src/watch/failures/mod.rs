//! `portscope watch --failures`: the flight recorder. Every bind() and connect() the kernel
//! refuses, host-wide and in every network namespace, with the caller, what it asked for, and
//! who held the port at that moment.
//!
//! bcc's bindsnoop reads the port after bind() returns, so a refused bind shows port 0, exactly
//! for the events that matter. Here the address is copied on entry, kept in a BPF map keyed by
//! thread, and sent to userspace on exit only when the result is a refusal: successful calls
//! never leave the kernel ([`programs`]). Each refusal is then answered in userspace while the
//! caller most likely still runs ([`caller`], [`answer`]).

pub mod answer;
pub mod caller;
pub mod kernel;
mod plain;
pub mod programs;
pub mod text;

pub use kernel::Call;

use crate::escape::Foreign;
use crate::model::{Family, Owner, Proto, Socket, State};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The socket options that decide a bind conflict, as the caller had set them. `None`: not
/// known (the socket was made before the recorder started, or inherited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketOptions {
    /// Whether the socket was followed from its creation: each option is then known.
    pub known: bool,
    pub reuseaddr: Option<bool>,
    pub reuseport: Option<bool>,
    pub v6only: Option<bool>,
    pub freebind: Option<bool>,
    pub bind_address_no_port: Option<bool>,
}

impl SocketOptions {
    /// From the programs' options word.
    pub fn from_word(w: u64) -> SocketOptions {
        use programs::*;
        let created = w & CREATED != 0;
        let opt = |k: u32| {
            let seen = w & (1 << (2 * k)) != 0;
            let set = w & (1 << (2 * k + 1)) != 0;
            if seen {
                Some(set)
            } else if created {
                Some(false)
            } else {
                None
            }
        };
        SocketOptions {
            known: created,
            reuseaddr: opt(OPT_REUSEADDR),
            reuseport: opt(OPT_REUSEPORT),
            v6only: opt(OPT_V6ONLY),
            freebind: opt(OPT_FREEBIND),
            bind_address_no_port: opt(OPT_BIND_ADDRESS_NO_PORT),
        }
    }

    /// "SO_REUSEADDR SO_REUSEPORT" for the options set; "options unknown" when none is known.
    pub fn text(&self) -> String {
        let named = [
            (self.reuseaddr, "SO_REUSEADDR"),
            (self.reuseport, "SO_REUSEPORT"),
            (self.v6only, "IPV6_V6ONLY"),
            (self.freebind, "IP_FREEBIND"),
            (self.bind_address_no_port, "IP_BIND_ADDRESS_NO_PORT"),
        ];
        if named.iter().all(|(v, _)| v.is_none()) {
            return "options unknown (socket made before the recorder started)".into();
        }
        let set: Vec<&str> = named
            .iter()
            .filter(|(v, _)| *v == Some(true))
            .map(|(_, n)| *n)
            .collect();
        if set.is_empty() {
            "no options".into()
        } else {
            set.join(" ")
        }
    }
}

/// The protocol from the options word's socket type, when the socket was made while recording.
pub fn proto_of_word(w: u64) -> Option<Proto> {
    match (w >> programs::TYPE_SHIFT) & 0xf {
        1 => Some(Proto::Tcp),
        2 => Some(Proto::Udp),
        _ => None,
    }
}

/// What the refused call asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub family: Family,
    /// bind: the local address; connect: the destination.
    pub address: IpAddr,
    pub port: u16,
    /// None when the socket was closed before its protocol could be read.
    pub proto: Option<Proto>,
    pub options: SocketOptions,
}

/// A socket on the port at the moment of the refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holder {
    pub proto: Proto,
    pub local_addr: IpAddr,
    pub local_port: u16,
    pub remote_addr: IpAddr,
    pub remote_port: u16,
    pub state: State,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    /// "TIME_WAIT: no process, the kernel keeps it", "kernel".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Holder {
    pub fn of(s: &Socket) -> Holder {
        Holder {
            proto: s.proto,
            local_addr: s.local_addr,
            local_port: s.local_port,
            remote_addr: s.remote_addr,
            remote_port: s.remote_port,
            state: s.state,
            owner: s.owners.first().map(|o| (**o).clone()),
            note: if s.state == State::TimeWait {
                Some("TIME_WAIT: no process, the kernel keeps it".into())
            } else if s.kernel_held {
                Some(format!("held by {}", crate::model::KERNEL_HOLDER))
            } else {
                None
            },
        }
    }
}

/// For EACCES: the privileged-port line and what the caller had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Privilege {
    /// `net.ipv4.ip_unprivileged_port_start` of the caller's namespace.
    pub unprivileged_port_start: Option<u16>,
    /// Whether the caller's effective capabilities held CAP_NET_BIND_SERVICE.
    pub cap_net_bind_service: Option<bool>,
}

/// One refused call. Its serde form is the `watch --failures --json` line (after `"type"`)
/// and, with `"kind":"refused"`, the history log's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub time: jiff::Timestamp,
    pub call: Call,
    /// "EADDRINUSE", "EACCES", "EADDRNOTAVAIL".
    pub errno: String,
    pub pid: u32,
    pub tid: u32,
    /// The caller's name as the kernel had it at the call (kept when the process is gone).
    pub comm: Foreign,
    pub uid: u32,
    pub user: Foreign,
    /// The caller as it was read right after the call (None: it had already exited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<u64>,
    /// None only in the fallback without BPF, where the address cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<Holder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privilege: Option<Privilege>,
    /// For connect(): the use of local ports toward the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<crate::analyze::connect::PortUse>,
    /// The answer to "why", in one sentence.
    pub why: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Refusal {
    /// The port in question: bind's local port, connect's destination port.
    pub fn port(&self) -> Option<u16> {
        self.request.as_ref().map(|r| r.port)
    }
}

/// What to record.
#[derive(Debug, Clone)]
pub struct FailureOptions {
    /// Only these ports (bind: the local port; connect: the destination's). Empty: every one.
    pub ports: Vec<u16>,
    pub proto: Option<Proto>,
    pub until: Option<Instant>,
}

/// What a sink receives: the source once, then refusals and losses.
pub enum FailureReport<'a> {
    Source(&'a super::SourceInfo),
    Refused(&'a Refusal),
    /// Refusals the kernel could not deliver (a ring overflowed, the in-flight map was full).
    Lost(u64),
}

/// errno's symbolic name for the refusals recorded.
pub fn errno_name(errno: i32) -> String {
    match errno {
        nix::libc::EADDRINUSE => "EADDRINUSE".into(),
        nix::libc::EACCES => "EACCES".into(),
        nix::libc::EADDRNOTAVAIL => "EADDRNOTAVAIL".into(),
        e => format!("errno {e}"),
    }
}

/// Runs the recorder until `opts.until` or until `sink` returns false. With BPF: every refusal
/// with its address and answer. Without (no CAP_BPF, but perf allowed): the refusals with
/// their callers only, said on the first line. Without either: an error saying what is needed.
pub fn run(
    opts: &FailureOptions,
    sink: &mut dyn FnMut(FailureReport<'_>) -> bool,
) -> Result<(), super::WatchError> {
    let (tracefs, mounted) = super::tracefs::ensure_mounted()
        .map_err(|e| super::WatchError::Failed(format!("cannot trace: {e}")))?;
    let mut notes = Vec::new();
    if mounted {
        notes.push(format!(
            "mounted tracefs at {} (as root); it stays mounted",
            tracefs.display()
        ));
    }
    let cpus = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_CONF)
        .ok()
        .flatten()
        .map_or(1, |n| i32::try_from(n.max(1)).unwrap_or(i32::MAX));
    let mut k = match kernel::Kernel::open(&tracefs, cpus) {
        Ok(k) => k,
        Err(why) => return plain::run(&tracefs, cpus, opts, &why, notes, sink),
    };
    let info = super::SourceInfo {
        source: "bpf".into(),
        detail: "BPF programs on syscalls:sys_{enter,exit}_{bind,connect}: every refused bind() (EADDRINUSE, EACCES, EADDRNOTAVAIL) and connect() (EADDRNOTAVAIL, EADDRINUSE) on the host, in every network namespace; successful calls are filtered out in the kernel".into(),
        resolution_ms: None,
        notes,
        netns: None,
    };
    if !sink(FailureReport::Source(&info)) {
        return Ok(());
    }
    let mut answers = answer::Answerer::new();
    // portscope's own bind probes (why, check, fix) are refused by design: not incidents. Told
    // apart by the program file (a path only root can put this binary at), never by a name a
    // process chooses.
    let own_exe = std::fs::read_link("/proc/self/exe").ok();
    let is_own = |c: &caller::Caller| {
        own_exe.as_ref().is_some_and(|mine| {
            c.owner
                .as_ref()
                .and_then(|o| o.exe.as_ref())
                .is_some_and(|e| std::path::Path::new(e.path.raw()) == mine.as_path())
        })
    };
    while super::wait_rings(k.rings(), opts.until, Duration::from_millis(250))? {
        let (raws, lost) = k.drain();
        // The callers first, all of them, before any answer is worked out: a caller that
        // exits right after its refused call is read while it is still there.
        let callers: Vec<caller::Caller> = raws.iter().map(caller::Caller::capture).collect();
        let mut refusals = Vec::new();
        for (raw, c) in raws.iter().zip(callers) {
            if (!opts.ports.is_empty() && !opts.ports.contains(&raw.port)) || is_own(&c) {
                continue;
            }
            if opts
                .proto
                .is_some_and(|p| c.proto.is_some_and(|have| have != p))
            {
                continue;
            }
            refusals.push((raw, c));
        }
        for r in answers.answer_all(refusals) {
            if !sink(FailureReport::Refused(&r)) {
                return Ok(());
            }
        }
        if lost > 0 && !sink(FailureReport::Lost(lost)) {
            return Ok(());
        }
    }
    Ok(())
}
