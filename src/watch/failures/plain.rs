//! The recorder without BPF: plain perf tracepoints on the syscalls' exits, filtered in the
//! kernel on the refusals' results (CAP_PERFMON, no CAP_BPF). The caller and the errno are
//! known; the address is not (it is in the caller's memory, which only a program can read).

use super::kernel::{BIND_REFUSALS, CONNECT_REFUSALS, Call};
use super::{FailureOptions, FailureReport, Refusal};
use crate::sys::perf::PerfRing;
use crate::watch::tracefs::Format;
use crate::watch::{SourceInfo, TraceError, WatchError};
use std::path::Path;
use std::time::Duration;

fn filter(refusals: &[i32]) -> String {
    refusals
        .iter()
        .map(|e| format!("ret == -{e}"))
        .collect::<Vec<_>>()
        .join(" || ")
}

pub fn run(
    tracefs: &Path,
    cpus: i32,
    opts: &FailureOptions,
    bpf_refused: &TraceError,
    mut notes: Vec<String>,
    sink: &mut dyn FnMut(FailureReport<'_>) -> bool,
) -> Result<(), WatchError> {
    let mut rings: Vec<(PerfRing, bool, Call, usize)> = Vec::new();
    for (event, call, refusals) in [
        ("sys_exit_bind", Call::Bind, &BIND_REFUSALS[..]),
        ("sys_exit_connect", Call::Connect, &CONNECT_REFUSALS[..]),
    ] {
        let f =
            Format::read(tracefs, "syscalls", event).map_err(|e| no_tracing(bpf_refused, &e))?;
        let ret = f.field("ret").map_err(|e| no_tracing(bpf_refused, &e))?.0;
        for cpu in 0..cpus {
            match PerfRing::open_tracepoint(f.id, cpu, 16) {
                Ok((ring, realtime)) => {
                    ring.set_filter(&filter(refusals))
                        .and_then(|()| ring.enable())
                        .map_err(|e| no_tracing(bpf_refused, &TraceError::Io(e)))?;
                    rings.push((ring, realtime, call, ret));
                }
                Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => {}
                Err(e) => return Err(no_tracing(bpf_refused, &TraceError::PerfRefused(e))),
            }
        }
    }
    notes.insert(
        0,
        format!("no BPF ({bpf_refused}): refused calls are seen with their caller and errno, but not the address or port asked for, nor who held it; run as root (CAP_BPF + CAP_PERFMON) for those"),
    );
    let info = SourceInfo {
        source: "tracepoint".into(),
        detail: "syscalls:sys_exit_bind and sys_exit_connect through perf, filtered in the kernel on the refusals' results".into(),
        resolution_ms: None,
        notes,
        netns: None,
    };
    if !sink(FailureReport::Source(&info)) {
        return Ok(());
    }
    let offset = {
        let clock = |c| {
            let t = rustix::time::clock_gettime(c);
            i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
        };
        clock(rustix::time::ClockId::Realtime) - clock(rustix::time::ClockId::Monotonic)
    };
    while crate::watch::wait_rings(
        rings.iter().map(|(r, _, _, _)| r),
        opts.until,
        Duration::from_millis(250),
    )? {
        let mut lost = 0;
        let mut out = Vec::new();
        for (r, realtime, call, ret_at) in &mut rings {
            let (call, ret_at) = (*call, *ret_at);
            let shift = if *realtime { 0 } else { offset };
            lost += r
                .drain(|b| {
                    if let Some(x) = decode(b, call, ret_at, shift) {
                        out.push(x);
                    }
                })
                .lost;
        }
        out.sort_by_key(|r| r.time);
        for r in &out {
            if !opts.ports.is_empty() {
                continue; // the port is not known here: nothing matches a port filter
            }
            if !sink(FailureReport::Refused(r)) {
                return Ok(());
            }
        }
        if lost > 0 && !sink(FailureReport::Lost(lost)) {
            return Ok(());
        }
    }
    Ok(())
}

fn no_tracing(bpf: &TraceError, perf: &TraceError) -> WatchError {
    WatchError::Failed(format!(
        "cannot record refused calls: BPF: {bpf}; tracepoints: {perf}. Run as root (CAP_BPF + CAP_PERFMON)"
    ))
}

fn decode(body: &[u8], call: Call, ret_at: usize, shift: i128) -> Option<Refusal> {
    let rd = |at: usize| body.get(at..at + 4).and_then(|b| b.try_into().ok());
    let pid = u32::from_ne_bytes(rd(0)?);
    let tid = u32::from_ne_bytes(rd(4)?);
    let t = u64::from_ne_bytes(body.get(8..16)?.try_into().ok()?);
    let size = u32::from_ne_bytes(rd(16)?) as usize;
    let raw = body.get(20..20 + size)?;
    let ret = i64::from_ne_bytes(raw.get(ret_at..ret_at + 8)?.try_into().ok()?);
    let owner = super::super::owner::of_pid(pid);
    let errno = i32::try_from(-ret).unwrap_or(0);
    Some(Refusal {
        // Samples stamped with CLOCK_MONOTONIC are shifted to the wall clock.
        time: jiff::Timestamp::from_nanosecond(i128::from(t) + shift)
            .unwrap_or_else(|_| jiff::Timestamp::now()),
        call,
        errno: super::errno_name(errno),
        pid,
        tid,
        comm: owner.as_ref().map(|o| o.comm.clone()).unwrap_or_default(),
        uid: owner.as_ref().map_or(u32::MAX, |o| o.uid),
        user: owner
            .as_ref()
            .map_or_else(|| "?".to_string().into(), |o| o.user.clone()),
        netns: crate::watch::scope::of_task(pid, tid),
        owner,
        request: None,
        holders: Vec::new(),
        privilege: None,
        destination: None,
        why: format!(
            "{}() refused with {} (address and holders need BPF)",
            call.as_str(),
            super::errno_name(errno)
        ),
        notes: Vec::new(),
    })
}
