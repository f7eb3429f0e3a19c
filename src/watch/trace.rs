//! The tracepoint source: `sock:inet_sock_set_state` through perf_event_open, no BPF.
//!
//! One ring per CPU, with an ftrace filter installed in the kernel so only transitions on the
//! watched ports (plus connects whose port is not chosen yet) are copied out. listen(), connect()
//! and close() run in the process's own context, so the sample's pid is the process that did it.
//! A kernel-chosen port only shows at SYN_SENT -> ESTABLISHED, which runs in softirq (any pid):
//! like bcc's tcplife, the connect's pid is remembered by socket address and joined there.

use super::sys::PerfRing;
use super::tracefs::{self, Format};
use super::{EventKind, OwnerVia, Report, SourceInfo, WatchError, WatchEvent, WatchOptions};
use crate::model::{Family, Owner, Proto, State};
use rustc_hash::{FxHashMap, FxHashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

const TCP_SYN_SENT: u8 = 2;
const TCP_SYN_RECV: u8 = 3;
const TCP_FIN_WAIT1: u8 = 4;
const TCP_FIN_WAIT2: u8 = 5;
const TCP_CLOSE: u8 = 7;
const TCP_LISTEN: u8 = 10;
const TCP_CLOSING: u8 = 11;
const TCP_NEW_SYN_RECV: u8 = 12;
/// trace_entry common_flags: hard irq, soft irq, NMI. Without them the sample ran in the
/// context of the process that made the change.
const IRQ_FLAGS: u8 = 0x08 | 0x10 | 0x40;
/// Connects still waiting for their port are forgotten after this (a SYN_SENT rarely lasts
/// longer; the kernel gives up after about two minutes).
const PENDING_TTL: Duration = Duration::from_secs(180);
const PENDING_MAX: usize = 65_536;

/// The opened per-CPU rings and the record layout.
pub struct Tracer {
    rings: Vec<PerfRing>,
    fmt: Fields,
    /// Samples are stamped with CLOCK_REALTIME; otherwise CLOCK_MONOTONIC plus this offset.
    realtime: bool,
    mono_offset_ns: i128,
    filter: String,
    tracefs: std::path::PathBuf,
    cpus: i32,
}

#[derive(Debug, Clone, Copy)]
struct Fields {
    flags: usize,
    skaddr: usize,
    oldstate: usize,
    newstate: usize,
    sport: usize,
    dport: usize,
    family: usize,
    saddr: usize,
    daddr: usize,
    saddr_v6: usize,
    daddr_v6: usize,
}

impl Fields {
    fn from(f: &Format) -> Result<Fields, String> {
        Ok(Fields {
            flags: f.field("common_flags")?.0,
            skaddr: f.field("skaddr")?.0,
            oldstate: f.field("oldstate")?.0,
            newstate: f.field("newstate")?.0,
            sport: f.field("sport")?.0,
            dport: f.field("dport")?.0,
            family: f.field("family")?.0,
            saddr: f.field("saddr")?.0,
            daddr: f.field("daddr")?.0,
            saddr_v6: f.field("saddr_v6")?.0,
            daddr_v6: f.field("daddr_v6")?.0,
        })
    }
}

/// The kernel-side filter: TCP only, the watched local ports, and connects that have no port
/// yet (sport 0), whose pid must be remembered for the join.
pub fn filter_for(ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(|p| format!("sport == {p}")).collect();
    format!(
        "protocol == 6 && ({} || (newstate == {TCP_SYN_SENT} && sport == 0))",
        ports.join(" || ")
    )
}

fn clock_ns(clock: rustix::time::ClockId) -> i128 {
    let t = rustix::time::clock_gettime(clock);
    i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
}

impl Tracer {
    /// Opens the tracepoint on every CPU with the filter installed and enabled. Errors say what
    /// is missing in words a user can act on. The notes say what was done to the host.
    pub fn open(ports: &[u16]) -> Result<(Tracer, Vec<String>), String> {
        let mut notes = Vec::new();
        let (dir, mounted) = tracefs::ensure_mounted()?;
        if mounted {
            notes.push(format!(
                "mounted tracefs at {} (as root) to read the tracepoint's id and layout; it stays mounted",
                dir.display()
            ));
        }
        let format = Format::read(&dir, "sock", "inet_sock_set_state")?;
        let fmt = Fields::from(&format)?;
        let filter = filter_for(ports);
        let cpus = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_CONF)
            .ok()
            .flatten()
            .map_or(1, |n| n.max(1) as i32);
        let mut rings = Vec::new();
        let mut realtime = true;
        for cpu in 0..cpus {
            match PerfRing::open_tracepoint(format.id, cpu, 64) {
                Ok((ring, rt)) => {
                    realtime &= rt;
                    ring.set_filter(&filter)
                        .map_err(|e| format!("installing the filter {filter:?}: {e}"))?;
                    rings.push(ring);
                }
                // An offline CPU has nothing to trace.
                Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(nix::libc::EACCES) | Some(nix::libc::EPERM)
                    ) =>
                {
                    return Err(format!(
                        "perf_event_open refused ({e}): needs root or CAP_PERFMON (kernel.perf_event_paranoid)"
                    ));
                }
                Err(e) => return Err(format!("perf_event_open on CPU {cpu}: {e}")),
            }
        }
        if rings.is_empty() {
            return Err("no CPU could be traced".into());
        }
        for r in &rings {
            r.enable()
                .map_err(|e| format!("enabling the tracepoint: {e}"))?;
        }
        let mono_offset_ns =
            clock_ns(rustix::time::ClockId::Realtime) - clock_ns(rustix::time::ClockId::Monotonic);
        Ok((
            Tracer {
                rings,
                fmt,
                realtime,
                mono_offset_ns,
                filter,
                tracefs: dir,
                cpus,
            },
            notes,
        ))
    }
}

/// One decoded sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    time_ns: i128,
    pid: u32,
    in_process: bool,
    skaddr: u64,
    old: u8,
    new: u8,
    sport: u16,
    dport: u16,
    family: Family,
    saddr: IpAddr,
    daddr: IpAddr,
}

fn rd<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

impl Tracer {
    /// Body layout for PERF_SAMPLE_TID | TIME | RAW: pid, tid, time, raw size, raw record.
    fn decode(&self, body: &[u8]) -> Option<Sample> {
        let pid = u32::from_ne_bytes(rd(body, 0)?);
        let time = u64::from_ne_bytes(rd(body, 8)?);
        let size = u32::from_ne_bytes(rd(body, 16)?) as usize;
        let raw = body.get(20..20 + size)?;
        let f = &self.fmt;
        let family = match u16::from_ne_bytes(rd(raw, f.family)?) {
            2 => Family::Ipv4,
            10 => Family::Ipv6,
            _ => return None,
        };
        let (saddr, daddr) = match family {
            Family::Ipv4 => (
                IpAddr::V4(Ipv4Addr::from(rd::<4>(raw, f.saddr)?)),
                IpAddr::V4(Ipv4Addr::from(rd::<4>(raw, f.daddr)?)),
            ),
            Family::Ipv6 => (
                IpAddr::V6(Ipv6Addr::from(rd::<16>(raw, f.saddr_v6)?)),
                IpAddr::V6(Ipv6Addr::from(rd::<16>(raw, f.daddr_v6)?)),
            ),
        };
        let time_ns = if self.realtime {
            i128::from(time)
        } else {
            i128::from(time) + self.mono_offset_ns
        };
        Some(Sample {
            time_ns,
            pid,
            in_process: raw.get(f.flags)? & IRQ_FLAGS == 0,
            skaddr: u64::from_ne_bytes(rd(raw, f.skaddr)?),
            old: i32::from_ne_bytes(rd(raw, f.oldstate)?) as u8,
            new: i32::from_ne_bytes(rd(raw, f.newstate)?) as u8,
            // The tracepoint stores ports in host order (ntohs in the kernel's TP_fast_assign).
            sport: u16::from_ne_bytes(rd(raw, f.sport)?),
            dport: u16::from_ne_bytes(rd(raw, f.dport)?),
            family,
            saddr,
            daddr,
        })
    }
}

/// What we know about a socket (by kernel address) between its events.
#[derive(Debug, Clone)]
struct Known {
    owner: Option<Owner>,
    via: Option<OwnerVia>,
    kernel_chosen: Option<bool>,
}

/// Joins samples into events: the state the tracepoint itself does not carry.
#[derive(Default)]
pub struct Joiner {
    ports: FxHashSet<u16>,
    /// connect()s whose port the kernel has not chosen yet: skaddr -> (owner, when).
    pending: FxHashMap<u64, (Option<Owner>, Instant)>,
    known: FxHashMap<u64, Known>,
    /// Owners of listeners per port, for the connections they accept.
    listeners: FxHashMap<u16, Owner>,
}

impl Joiner {
    fn new(ports: &[u16]) -> Self {
        Joiner {
            ports: ports.iter().copied().collect(),
            ..Default::default()
        }
    }

    fn prune(&mut self) {
        if self.pending.len() >= PENDING_MAX {
            let now = Instant::now();
            self.pending
                .retain(|_, (_, at)| now.duration_since(*at) < PENDING_TTL);
            if self.pending.len() >= PENDING_MAX {
                self.pending.clear(); // a connect storm: forget rather than grow
            }
        }
    }

    fn process(&mut self, s: &Sample) -> Option<WatchEvent> {
        let ctx_owner = || {
            if s.in_process {
                super::owner::of_pid(s.pid)
            } else {
                None
            }
        };
        if s.new == TCP_SYN_SENT && s.sport == 0 {
            self.prune();
            self.pending.insert(s.skaddr, (ctx_owner(), Instant::now()));
            return None;
        }
        if !self.ports.contains(&s.sport) {
            // Passed the kernel filter only as a connect; a later sample with its port comes
            // through sport.
            return None;
        }
        let mut known = self.known.remove(&s.skaddr);
        let mut first = known.is_none();
        let mut joined_connect = false;
        if s.old == TCP_CLOSE {
            // A new life at this address: whatever was pending there belonged to a freed socket.
            self.pending.remove(&s.skaddr);
        }
        // Only the end of a SYN_SENT can be the connect that was waiting for its port; freed
        // memory is reused, so anything else at the same address is another socket.
        if known.is_none()
            && s.old == TCP_SYN_SENT
            && let Some((owner, _)) = self.pending.remove(&s.skaddr)
        {
            joined_connect = true;
            known = Some(Known {
                via: owner.as_ref().map(|_| OwnerVia::Connect),
                owner,
                kernel_chosen: Some(true),
            });
        }
        let mut k = known.unwrap_or(Known {
            owner: None,
            via: None,
            kernel_chosen: None,
        });
        if s.in_process
            && let Some(o) = ctx_owner()
        {
            k.owner = Some(o);
            k.via = Some(OwnerVia::Context);
        }
        let accepted = matches!(s.old, TCP_NEW_SYN_RECV | TCP_LISTEN) && s.new == TCP_SYN_RECV
            || (first && s.old == TCP_SYN_RECV);
        if k.owner.is_none()
            && accepted
            && let Some(o) = self.listeners.get(&s.sport)
        {
            k.owner = Some(o.clone());
            k.via = Some(OwnerVia::Listener);
        }
        if s.old == TCP_CLOSE && s.new == TCP_SYN_SENT {
            k.kernel_chosen = Some(false); // bound before connect: the port was chosen by bind
        }
        let kind = if s.new == TCP_CLOSE {
            EventKind::Leave
        } else if s.old == TCP_CLOSE || joined_connect || accepted {
            EventKind::Take
        } else {
            EventKind::State
        };
        if kind == EventKind::Take {
            first = false;
        }
        let mut note = None;
        if kind == EventKind::Leave && matches!(s.old, TCP_FIN_WAIT1 | TCP_FIN_WAIT2 | TCP_CLOSING)
        {
            note = Some("TIME_WAIT may keep the port for up to 60 s".to_string());
        } else if k.owner.is_none() {
            note = Some(if first {
                "owner unknown: the socket predates the watch and this change ran in softirq"
                    .to_string()
            } else {
                "owner unknown: this change ran in softirq".to_string()
            });
        }
        if s.new == TCP_LISTEN
            && let Some(o) = &k.owner
        {
            self.listeners.insert(s.sport, o.clone());
        }
        let proto = Proto::Tcp;
        let event = WatchEvent {
            time: jiff::Timestamp::from_nanosecond(s.time_ns)
                .unwrap_or_else(|_| jiff::Timestamp::now()),
            event: kind,
            proto,
            family: s.family,
            local_addr: s.saddr,
            local_port: s.sport,
            remote_addr: s.daddr,
            remote_port: s.dport,
            old_state: State::from_kernel(proto, s.old),
            state: State::from_kernel(proto, s.new).unwrap_or(State::Close),
            kernel_chosen: k.kernel_chosen,
            owner: k.owner.clone(),
            owner_via: k.via,
            inode: 0,
            netns: k.owner.as_ref().and_then(|o| super::owner::netns_of(o.pid)),
            source: "tracepoint".into(),
            note,
        };
        if s.new != TCP_CLOSE {
            // A close lost with a full ring would leave its entry forever: bound the map.
            if self.known.len() >= PENDING_MAX {
                self.known.clear();
            }
            self.known.insert(s.skaddr, k);
        }
        Some(event)
    }

    /// Seeds listener owners from the sockets already on the ports.
    fn seed(&mut self, held: &[WatchEvent]) {
        for e in held {
            if e.state == State::Listen
                && let Some(o) = &e.owner
            {
                self.listeners.insert(e.local_port, o.clone());
            }
        }
    }
}

/// Runs the tracepoint source until `opts.until` or the sink says stop. UDP, which has no
/// state tracepoint, is polled alongside when asked for.
pub fn run(
    mut tracer: Tracer,
    opts: &WatchOptions,
    notes: Vec<String>,
    sink: &mut dyn FnMut(Report<'_>) -> bool,
) -> Result<(), WatchError> {
    let udp_too = opts.proto != Some(Proto::Tcp);
    // `--proto udp --binds`: the tracer runs for the bind program's sake; TCP stays unreported.
    let tcp_too = opts.proto != Some(Proto::Udp);
    let mut notes = notes;
    let mut binds = None;
    if opts.binds {
        match super::binds::Binds::open(&tracer.tracefs, &opts.ports, tracer.cpus) {
            Ok(b) => {
                notes.push("--binds: a BPF program on syscalls:sys_enter_bind reports every bind() to the ports (UDP and bind-only TCP too) with its result".into());
                binds = Some(b);
            }
            Err(e) => notes.push(format!("--binds unavailable: {e}")),
        }
    }
    let info = SourceInfo {
        source: "tracepoint".into(),
        detail: format!(
            "sock:inet_sock_set_state via perf_event_open on {} CPUs, kernel filter `{}`: every TCP listen, connect, accept and close on the ports, however short-lived",
            tracer.rings.len(),
            tracer.filter
        ),
        resolution_ms: None,
        notes,
    };
    if !sink(Report::Source(&info)) {
        return Ok(());
    }
    // Tracing is already on, so nothing that happens from here is missed; the held sockets are
    // read after it (a socket may show as both held and taken, never as neither).
    let mut dumper = crate::collect::netlink::Dumper::open()
        .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?;
    let mut held = if tcp_too {
        super::sockets_on(
            &mut dumper,
            &opts.ports,
            Some(Proto::Tcp),
            super::ALL_STATES_AND_BOUND,
        )
        .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?
    } else {
        Vec::new()
    };
    super::owner::attach(&mut held);
    let mut joiner = Joiner::new(&opts.ports);
    let mut udp = super::poll::Differ::default();
    let held_events: Vec<WatchEvent> = held
        .iter()
        .map(|s| WatchEvent::from_socket(s, EventKind::Held, None, "tracepoint"))
        .collect();
    joiner.seed(&held_events);
    for e in &held_events {
        if !sink(Report::Event(e)) {
            return Ok(());
        }
    }
    if udp_too {
        let now = super::sockets_on(&mut dumper, &opts.ports, Some(Proto::Udp), 0x1fff)
            .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?;
        let mut now = now;
        super::owner::attach(&mut now);
        for e in udp.baseline(now, "poll") {
            if !sink(Report::Event(&e)) {
                return Ok(());
            }
        }
    }
    let mut samples: Vec<Sample> = Vec::new();
    let mut bound_by: FxHashMap<(IpAddr, u16), Owner> = FxHashMap::default();
    loop {
        let now = Instant::now();
        if opts.until.is_some_and(|u| now >= u) {
            return Ok(());
        }
        let mut timeout = if udp_too {
            opts.poll_interval
        } else {
            Duration::from_millis(200)
        };
        if let Some(u) = opts.until {
            timeout = timeout.min(u.saturating_duration_since(now));
        }
        {
            let mut fds: Vec<rustix::event::PollFd<'_>> = tracer
                .rings
                .iter()
                .chain(binds.iter().flat_map(|b| b.rings()))
                .map(|r| rustix::event::PollFd::new(r, rustix::event::PollFlags::IN))
                .collect();
            let ts = rustix::time::Timespec {
                tv_sec: timeout.as_secs() as i64,
                tv_nsec: i64::from(timeout.subsec_nanos()),
            };
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(WatchError::Failed(format!("poll: {e}"))),
            }
        }
        // UDP first, then the rings: a TCP change that happened before this UDP look is in the
        // rings by now, so one sort puts both in the order they happened.
        let mut batch: Vec<WatchEvent> = Vec::new();
        if udp_too {
            let now = super::sockets_on(&mut dumper, &opts.ports, Some(Proto::Udp), 0x1fff)
                .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?;
            batch.extend(udp.step(now, "poll"));
        }
        samples.clear();
        let mut lost = 0;
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for ring in tracer.rings.iter_mut() {
            lost += ring.drain(|b| bodies.push(b.to_vec())).lost;
        }
        samples.extend(bodies.iter().filter_map(|b| tracer.decode(b)));
        // Rings are per CPU: merge them into one timeline.
        samples.sort_by_key(|s| s.time_ns);
        if lost > 0 && !sink(Report::Lost(lost)) {
            return Ok(());
        }
        if tcp_too {
            batch.extend(samples.iter().filter_map(|s| joiner.process(s)));
        }
        if let Some(b) = binds.as_mut() {
            let (events, lost) = b.drain();
            if lost > 0 && !sink(Report::Lost(lost)) {
                return Ok(());
            }
            for e in &events {
                if e.event == EventKind::Take
                    && let Some(o) = &e.owner
                {
                    bound_by.insert((e.local_addr, e.local_port), o.clone());
                }
            }
            batch.extend(
                events
                    .into_iter()
                    .filter(|e| opts.proto.is_none_or(|p| p == e.proto)),
            );
            // A UDP socket the poll saw but whose process was gone before its owner could be
            // read: the bind() that made it names the process.
            for e in batch
                .iter_mut()
                .filter(|e| e.proto == Proto::Udp && e.owner.is_none())
            {
                if let Some(o) = bound_by.get(&(e.local_addr, e.local_port)) {
                    e.owner = Some(o.clone());
                    e.owner_via = Some(OwnerVia::Bind);
                }
            }
        }
        batch.sort_by_key(|e| e.time);
        for e in &batch {
            if !sink(Report::Event(e)) {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filter_names_every_port_and_pending_connects() {
        assert_eq!(
            super::filter_for(&[8080, 8081]),
            "protocol == 6 && (sport == 8080 || sport == 8081 || (newstate == 2 && sport == 0))"
        );
    }
}
