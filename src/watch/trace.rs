//! The tracepoint source: `sock:inet_sock_set_state` through perf_event_open, no BPF.
//!
//! One ring per CPU, with an ftrace filter installed in the kernel so only transitions on the
//! watched ports (plus connects whose port is not chosen yet) are copied out. listen(), connect()
//! and close() run in the process's own context, so the sample's pid is the process that did it.
//! A kernel-chosen port only shows at SYN_SENT -> ESTABLISHED, which runs in softirq (any pid):
//! like bcc's tcplife, the connect's pid is remembered by socket address and joined there.

use super::sample::{Sample, TCP_SYN_SENT};
use super::scope::Scope;
use super::tracefs::{self, Format};
use super::{
    EventKind, OwnerVia, Report, SourceInfo, TraceError, WatchError, WatchEvent, WatchOptions,
};
use crate::model::{Family, Owner, Proto};
use crate::sys::perf::PerfRing;
use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// trace_entry common_flags: hard irq, soft irq, NMI. Without them the sample ran in the
/// context of the process that made the change.
const IRQ_FLAGS: u8 = 0x08 | 0x10 | 0x40;
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
    fn from(f: &Format) -> Result<Fields, TraceError> {
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
    pub fn open(ports: &[u16]) -> Result<(Tracer, Vec<String>), TraceError> {
        Tracer::open_with(filter_for(ports), |_| 64)
    }

    /// Every TCP state change of the host, in every namespace (the kept table's source). A
    /// busy host makes ten events per connection, 10,000+ a second: the rings share 8 MiB
    /// between the CPUs (2 MiB each at most), which holds more than a second of that.
    pub fn open_all_tcp() -> Result<(Tracer, Vec<String>), TraceError> {
        Tracer::open_with("protocol == 6".into(), |cpus| {
            (2048 / usize::try_from(cpus.max(1)).unwrap_or(1))
                .clamp(64, 512)
                .next_power_of_two()
        })
    }

    /// `pages(cpus)`: the data pages of each CPU's ring (a power of two).
    fn open_with(
        filter: String,
        pages: impl Fn(i32) -> usize,
    ) -> Result<(Tracer, Vec<String>), TraceError> {
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
        let cpus = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_CONF)
            .ok()
            .flatten()
            .map_or(1, |n| i32::try_from(n.max(1)).unwrap_or(i32::MAX));
        let mut rings = Vec::new();
        let mut realtime = true;
        for cpu in 0..cpus {
            match PerfRing::open_tracepoint(format.id, cpu, pages(cpus)) {
                Ok((ring, rt)) => {
                    realtime &= rt;
                    ring.set_filter(&filter).map_err(TraceError::call(format!(
                        "installing the filter {filter:?}"
                    )))?;
                    rings.push(ring);
                }
                // An offline CPU has nothing to trace.
                Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => {}
                Err(e)
                    if matches!(e.raw_os_error(), Some(nix::libc::EACCES | nix::libc::EPERM)) =>
                {
                    return Err(TraceError::PerfRefused(e));
                }
                Err(e) => return Err(TraceError::call(format!("perf_event_open on CPU {cpu}"))(e)),
            }
        }
        if rings.is_empty() {
            return Err(TraceError::NoCpu);
        }
        for r in &rings {
            r.enable()
                .map_err(TraceError::call("enabling the tracepoint"))?;
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

fn rd<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

impl Tracer {
    /// Body layout for PERF_SAMPLE_TID | TIME | RAW: pid, tid, time, raw size, raw record.
    fn decode(&self, body: &[u8]) -> Option<Sample> {
        let pid = u32::from_ne_bytes(rd(body, 0)?);
        let tid = u32::from_ne_bytes(rd(body, 4)?);
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
            tid,
            in_process: raw.get(f.flags)? & IRQ_FLAGS == 0,
            skaddr: u64::from_ne_bytes(rd(raw, f.skaddr)?),
            // TCP states are 1-13: anything else is not a state this code knows (0xff).
            old: u8::try_from(i32::from_ne_bytes(rd(raw, f.oldstate)?)).unwrap_or(u8::MAX),
            new: u8::try_from(i32::from_ne_bytes(rd(raw, f.newstate)?)).unwrap_or(u8::MAX),
            // The tracepoint stores ports in host order (ntohs in the kernel's TP_fast_assign).
            sport: u16::from_ne_bytes(rd(raw, f.sport)?),
            dport: u16::from_ne_bytes(rd(raw, f.dport)?),
            family,
            saddr,
            daddr,
        })
    }
}

impl Tracer {
    /// Replaces `out` with every sample waiting in the rings, in the order they happened;
    /// returns how many the kernel lost because a ring was full.
    pub(super) fn drain(&mut self, out: &mut Vec<Sample>) -> u64 {
        out.clear();
        let mut lost = 0;
        let mut bodies: Vec<Vec<u8>> = Vec::new();
        for ring in &mut self.rings {
            lost += ring.drain(|b| bodies.push(b.to_vec())).lost;
        }
        out.extend(bodies.iter().filter_map(|b| self.decode(b)));
        // Rings are per CPU: merge them into one timeline.
        out.sort_by_key(|s| s.time_ns);
        lost
    }
}

/// Runs the tracepoint source until `opts.until` or the sink says stop. UDP, which has no
/// state tracepoint, is polled alongside when asked for.
pub fn run(
    mut tracer: Tracer,
    opts: &WatchOptions,
    scope: &Scope,
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
    let detail = if tcp_too {
        format!(
            "sock:inet_sock_set_state via perf_event_open on {} CPUs, kernel filter `{}`: every TCP listen, connect, accept and close on the ports, however short-lived{}",
            tracer.rings.len(),
            tracer.filter,
            if opts.binds {
                ""
            } else {
                "; bound-only holders (bind() without listen()) change no state: add --binds to see them"
            }
        )
    } else {
        "UDP sockets on the ports polled through sock_diag; every bind() to them traced by the --binds program, which names the process".into()
    };
    let info = SourceInfo {
        source: "tracepoint".into(),
        detail,
        resolution_ms: None,
        notes,
        netns: scope.describe(),
    };
    // Tracing is already on, so nothing that happens from here is missed; the held sockets are
    // read after it (a socket may show as both held and taken, never as neither). The source
    // line is sent once they are read: whatever a reader starts after seeing it shows up as an
    // event, never in the held baseline.
    // In the target namespace: held sockets, the UDP poll and softirq lookups read its tables.
    let mut dumper = scope.dumper()?;
    let dumped_ns = scope.dumped_inode();
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
    // Connections not yet accepted belong to their listener's process.
    crate::collect::accept_queue::attribute(&mut held);
    let mut joiner = super::join::Joiner::new(&opts.ports, scope.only);
    let mut udp = super::poll::Differ::new(dumped_ns);
    let held_events: Vec<WatchEvent> = held
        .iter()
        .map(|s| WatchEvent::from_socket(s, EventKind::Held, None, "tracepoint", dumped_ns))
        .collect();
    joiner.seed(&held_events);
    let udp_now = if udp_too {
        let mut now = super::sockets_on(&mut dumper, &opts.ports, Some(Proto::Udp), 0x1fff)
            .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?;
        super::owner::attach(&mut now);
        // Connections not yet accepted belong to their listener's process.
        crate::collect::accept_queue::attribute(&mut now);
        Some(now)
    } else {
        None
    };
    if !sink(Report::Source(&info)) {
        return Ok(());
    }
    for e in &held_events {
        if !sink(Report::Event(e)) {
            return Ok(());
        }
    }
    if let Some(now) = udp_now {
        for e in udp.baseline(now, "poll") {
            if !sink(Report::Event(&e)) {
                return Ok(());
            }
        }
    }
    let mut samples: Vec<Sample> = Vec::new();
    let mut bound_by: FxHashMap<(IpAddr, u16), Owner> = FxHashMap::default();
    let mut bound_only = super::bound::BoundOnly::default();
    let mut udp_binds = super::bound::UdpBinds::default();
    loop {
        let wait = if udp_too {
            opts.poll_interval
        } else {
            Duration::from_millis(200)
        };
        let rings = tracer
            .rings
            .iter()
            .chain(binds.iter().flat_map(super::binds::Binds::rings));
        if !super::wait_rings(rings, opts.until, wait)? {
            return Ok(());
        }
        // UDP first, then the rings: a TCP change that happened before this UDP look is in the
        // rings by now, so one sort puts both in the order they happened.
        let mut batch: Vec<WatchEvent> = Vec::new();
        if udp_too {
            let now = super::sockets_on(&mut dumper, &opts.ports, Some(Proto::Udp), 0x1fff)
                .map_err(|e| WatchError::Failed(format!("netlink sock_diag: {e}")))?;
            if binds.is_some() {
                batch.extend(udp_binds.polled(&now));
            }
            batch.extend(udp.step(now, "poll"));
        }
        let lost = tracer.drain(&mut samples);
        if lost > 0 && !sink(Report::Lost(lost)) {
            return Ok(());
        }
        if tcp_too {
            // A change in softirq on a socket not seen before: is it in the target's table?
            let mut in_target = |s: &Sample| {
                dumper
                    .port_sockets(s.family, Proto::Tcp, s.sport, super::ALL_STATES_AND_BOUND)
                    .is_ok_and(|found| {
                        found.iter().any(|k| {
                            k.local_addr == s.saddr
                                && k.remote_addr == s.daddr
                                && k.remote_port == s.dport
                        })
                    })
            };
            batch.extend(
                samples
                    .iter()
                    .filter_map(|s| joiner.process(s, &mut in_target)),
            );
        }
        if let Some(b) = binds.as_mut() {
            let (mut events, lost) = b.drain();
            if lost > 0 && !sink(Report::Lost(lost)) {
                return Ok(());
            }
            // bind() runs in the caller's context: its namespace is the thread's.
            events.retain(|e| scope.admits(e.netns));
            if scope.only.is_some() {
                for e in events.iter_mut().filter(|e| e.netns.is_none()) {
                    let unknown = super::scope::UNKNOWN_NETNS;
                    e.note = Some(match e.note.take() {
                        Some(n) if !n.is_empty() => format!("{n}; {unknown}"),
                        _ => unknown.to_string(),
                    });
                }
            }
            for e in &events {
                if e.event == EventKind::Take
                    && let Some(o) = &e.owner
                {
                    bound_by.insert((e.local_addr, e.local_port), o.clone());
                }
            }
            if tcp_too {
                bound_only.note(&events);
            }
            // A UDP bind is reported once: the poll's sight of it is folded in.
            if udp_too {
                udp_binds.fold(&events, &mut batch);
            }
            batch.extend(
                events
                    .into_iter()
                    .filter(|e| opts.proto.is_none_or(|p| p == e.proto)),
            );
            batch.extend(bound_only.releases(&mut dumper));
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
