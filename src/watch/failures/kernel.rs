//! Loading the recorder's programs and reading what they send: raw refusals, decoded, with
//! the count of those the kernel could not deliver.
// Decodes the kernel's fixed-width records: pid_tgid and uid_gid halves, a negative return,
// and CPU numbers (never negative) as the map keys the kernel wants.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use super::programs::{self, EnterFields, Maps, SetsockoptFields};
use crate::sys::perf::{self as sys, PerfRing};
use crate::watch::TraceError;
use crate::watch::tracefs::Format;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Which call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Call {
    Bind,
    Connect,
}

impl Call {
    pub fn as_str(self) -> &'static str {
        match self {
            Call::Bind => "bind",
            Call::Connect => "connect",
        }
    }
}

/// The errnos recorded for each call: the refusals that mean "a port is in the way" or "no
/// port/address to be had", not ordinary failures (ECONNREFUSED, EINPROGRESS).
pub const BIND_REFUSALS: [i32; 3] = [
    nix::libc::EADDRINUSE,
    nix::libc::EACCES,
    nix::libc::EADDRNOTAVAIL,
];
pub const CONNECT_REFUSALS: [i32; 2] = [nix::libc::EADDRNOTAVAIL, nix::libc::EADDRINUSE];

/// One refused call as the program saw it in the caller's context.
#[derive(Debug, Clone)]
pub struct Raw {
    pub time_ns: i128,
    pub call: Call,
    pub errno: i32,
    pub tgid: u32,
    pub tid: u32,
    pub fd: u64,
    pub addr: IpAddr,
    pub port: u16,
    pub comm: String,
    pub uid: u32,
    /// The options word (see `programs::OPT_*`); 0 when the socket was never seen.
    pub options: u64,
}

pub struct Kernel {
    rings: Vec<(PerfRing, bool)>,
    missed: OwnedFd,
    missed_seen: u64,
    mono_offset_ns: i128,
    _maps: Vec<OwnedFd>,
    _progs: Vec<OwnedFd>,
    _attached: Vec<OwnedFd>,
}

fn off(f: &Format, name: &str) -> Result<i16, TraceError> {
    let (o, _) = f.field(name)?;
    i16::try_from(o).map_err(|_| TraceError::FieldOffset(name.to_string()))
}

fn enter_fields(f: &Format, addr: &str) -> Result<EnterFields, TraceError> {
    Ok(EnterFields {
        fd: off(f, "fd")?,
        addr: off(f, addr)?,
        addrlen: off(f, "addrlen")?,
    })
}

impl Kernel {
    pub fn open(tracefs: &Path, cpus: i32) -> Result<Kernel, TraceError> {
        let fmt = |e: &str| Format::read(tracefs, "syscalls", e);
        let bind_in = fmt("sys_enter_bind")?;
        let bind_out = fmt("sys_exit_bind")?;
        let connect_in = fmt("sys_enter_connect")?;
        let connect_out = fmt("sys_exit_connect")?;
        let sso = fmt("sys_enter_setsockopt")?;
        let socket_out = fmt("sys_exit_socket")?;
        let socket_in = fmt("sys_enter_socket")?;
        let map = |kind, k, v, n| sys::bpf_map(kind, k, v, n).map_err(TraceError::BpfMap);
        // Calls in flight at once across the host: far below this even in a storm.
        let pending = map(sys::BPF_MAP_TYPE_HASH, 4, programs::REC_LEN as u32, 16_384)?;
        // Sockets whose options are followed; the least recently used go first.
        let options = map(sys::BPF_MAP_TYPE_LRU_HASH, 8, 8, 262_144)?;
        let missed = map(sys::BPF_MAP_TYPE_ARRAY, 4, 8, 1)?;
        let kinds = map(sys::BPF_MAP_TYPE_HASH, 4, 8, 16_384)?;
        let ring_map = sys::bpf_perf_array(cpus.max(1) as u32).map_err(TraceError::BpfMap)?;
        let mut rings = Vec::new();
        for cpu in 0..cpus {
            match PerfRing::open_bpf_output(cpu, 64) {
                Ok((ring, rt)) => {
                    sys::bpf_map_set(&ring_map, cpu as u32, ring.raw_fd() as u32)
                        .map_err(TraceError::call(format!("BPF map slot for CPU {cpu}")))?;
                    ring.enable().map_err(TraceError::Io)?;
                    rings.push((ring, rt));
                }
                // An offline CPU has no ring to open; the others still report.
                Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => {}
                Err(e) => return Err(TraceError::call(format!("BPF output ring on CPU {cpu}"))(e)),
            }
        }
        if rings.is_empty() {
            return Err(TraceError::NoCpu);
        }
        let m = Maps {
            pending: pending.as_raw_fd(),
            options: options.as_raw_fd(),
            ring: ring_map.as_raw_fd(),
            missed: missed.as_raw_fd(),
            kinds: kinds.as_raw_fd(),
        };
        let sso_fields = SetsockoptFields {
            fd: off(&sso, "fd")?,
            level: off(&sso, "level")?,
            optname: off(&sso, "optname")?,
            optval: off(&sso, "optval")?,
        };
        // Options and the socket mark first, so a call entering as the recorder starts finds
        // them; the exits before the enters, so no enter is left without its exit.
        let plan: Vec<(&Format, Vec<u64>)> = vec![
            (
                &socket_out,
                programs::socket_created(off(&socket_out, "ret")?, m),
            ),
            (
                &socket_in,
                programs::socket_enter(off(&socket_in, "family")?, off(&socket_in, "type")?, m),
            ),
            (&sso, programs::setsockopt(sso_fields, m)),
            (
                &bind_out,
                programs::exit_side(off(&bind_out, "ret")?, &BIND_REFUSALS, m),
            ),
            (
                &connect_out,
                programs::exit_side(off(&connect_out, "ret")?, &CONNECT_REFUSALS, m),
            ),
            (
                &bind_in,
                programs::enter(enter_fields(&bind_in, "umyaddr")?, 0, m),
            ),
            (
                &connect_in,
                programs::enter(enter_fields(&connect_in, "uservaddr")?, 1, m),
            ),
        ];
        let mut progs = Vec::new();
        let mut attached = Vec::new();
        for (f, insns) in plan {
            // The helpers that read user memory and write perf rings are GPL-only.
            let prog = sys::bpf_load_tracepoint(&insns, c"GPL")?;
            attached.push(
                sys::attach_tracepoint_prog(f.id, &prog).map_err(TraceError::call(format!(
                    "attaching to tracepoint {}",
                    f.id
                )))?,
            );
            progs.push(prog);
        }
        let clock = |c| {
            let t = rustix::time::clock_gettime(c);
            i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
        };
        Ok(Kernel {
            rings,
            missed,
            missed_seen: 0,
            mono_offset_ns: clock(rustix::time::ClockId::Realtime)
                - clock(rustix::time::ClockId::Monotonic),
            _maps: vec![pending, options, ring_map, kinds],
            _progs: progs,
            _attached: attached,
        })
    }

    pub fn rings(&self) -> impl Iterator<Item = &PerfRing> {
        self.rings.iter().map(|(r, _)| r)
    }

    /// Every refusal sent since the last call, oldest first, and how many were lost (ring
    /// overflow, or a call the program could not keep in flight).
    pub fn drain(&mut self) -> (Vec<Raw>, u64) {
        let mut out = Vec::new();
        let mut lost = 0;
        let offset = self.mono_offset_ns;
        for (r, rt) in &mut self.rings {
            let rt = *rt;
            lost += r
                .drain(|b| {
                    if let Some(raw) = decode(b, rt, offset) {
                        out.push(raw);
                    }
                })
                .lost;
        }
        if let Ok(n) = sys::bpf_map_get_u64(&self.missed, 0) {
            lost += n.saturating_sub(self.missed_seen);
            self.missed_seen = n;
        }
        out.sort_by_key(|r| r.time_ns);
        (out, lost)
    }
}

fn rd<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

/// A PERF_RECORD_SAMPLE body: pid, tid, time, size, then the program's record.
fn decode(body: &[u8], realtime: bool, mono_offset_ns: i128) -> Option<Raw> {
    use programs::*;
    let t = u64::from_ne_bytes(rd(body, 8)?);
    let size = u32::from_ne_bytes(rd(body, 16)?) as usize;
    let rec = body.get(20..20 + size.min(REC_LEN as usize))?;
    let u64_at = |o: usize| rd::<8>(rec, o).map(u64::from_ne_bytes);
    let pid_tgid = u64_at(OFF_PID_TGID)?;
    let sa = rec.get(OFF_SOCKADDR..OFF_SOCKADDR + 28)?;
    let family = u16::from_ne_bytes(rd(sa, 0)?);
    let addr = match family {
        2 => IpAddr::V4(Ipv4Addr::from(rd::<4>(sa, 4)?)),
        10 => IpAddr::V6(Ipv6Addr::from(rd::<16>(sa, 8)?)),
        _ => return None,
    };
    let comm = rec.get(OFF_COMM..OFF_COMM + 16)?;
    let end = comm.iter().position(|&b| b == 0).unwrap_or(16);
    let ret = u64_at(OFF_RET)? as i64;
    Some(Raw {
        time_ns: if realtime {
            i128::from(t)
        } else {
            i128::from(t) + mono_offset_ns
        },
        call: if u64_at(OFF_CALL)? == 1 {
            Call::Connect
        } else {
            Call::Bind
        },
        errno: i32::try_from(-ret).unwrap_or(0),
        tgid: (pid_tgid >> 32) as u32,
        tid: pid_tgid as u32,
        fd: u64_at(OFF_FD)?,
        addr,
        port: u16::from_be_bytes(rd(sa, 2)?),
        comm: String::from_utf8_lossy(&comm[..end]).into_owned(),
        uid: u64_at(OFF_UID_GID)? as u32,
        options: u64_at(OFF_OPTS)?,
    })
}
