//! `watch --binds`: every bind() to a watched port, UDP and bind-only TCP included, with the
//! process that called it and what the kernel answered.
//!
//! `sock:inet_sock_set_state` never fires for UDP or for a TCP socket that only binds. The
//! `syscalls:sys_enter_bind` tracepoint fires for every bind(), but its record holds only a
//! pointer to the address; reading the port needs a BPF program, run in the caller's context.
//! The program is ~40 instructions assembled here (no clang, no BPF toolchain): copy the
//! sockaddr from user memory, compare its port with the watched ones, and for a match send pid,
//! fd, address and comm to a per-CPU perf ring. A plain `sys_exit_bind` tracepoint gives each
//! call's result, joined by thread id.
// Assembles a BPF program and decodes the kernel's fixed-width records: fields are packed
// and reinterpreted bit for bit on purpose (pid_tgid halves, errno from a negative return).
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use super::tracefs::Format;
use super::{EventKind, OwnerVia, TraceError, WatchEvent};
use crate::model::{Family, Owner, Proto, State};
use crate::sys::perf::{self as sys, PerfRing};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::OwnedFd;
use std::path::Path;

use super::bpf_asm::*;

/// The record the program sends (offsets into 72 bytes at r10-80).
const REC_LEN: usize = 72;
const SOCKADDR_MAX: i32 = 28; // sizeof(struct sockaddr_in6)

/// Offsets of `fd`, `umyaddr` and `addrlen` in the sys_enter_bind record.
#[derive(Debug, Clone, Copy)]
pub struct EnterFields {
    pub fd: i16,
    pub umyaddr: i16,
    pub addrlen: i16,
}

/// The program, for the watched ports. Layout on the stack: [-80] pid_tgid, [-72] fd,
/// [-64..-36] sockaddr (zeroed first, so a short address leaves zeros), [-32..-16] comm,
/// [-16] uid_gid (kept, so the user is known even after a short-lived process exits).
pub fn program(f: EnterFields, ports: &[u16], map_fd: i32) -> Vec<u64> {
    let mut p = vec![
        mov_reg(R6, R1),
        st_dw(R10, -64, 0),
        st_dw(R10, -56, 0),
        st_dw(R10, -48, 0),
        st_dw(R10, -40, 0),
        ldx_dw(R2, R6, f.addrlen),
        // size = min(addrlen, 28): the verifier must see the bound.
        jlt_imm(R2, SOCKADDR_MAX + 1, 1),
        mov_imm(R2, SOCKADDR_MAX),
        ldx_dw(R3, R6, f.umyaddr),
        mov_reg(R1, R10),
        add_imm(R1, -64),
        call(HELPER_PROBE_READ_USER),
    ];
    // Everything after here jumps to the final `exit` on no match: patch offsets at the end.
    let bail_read = p.len();
    p.push(0); // if r0 != 0 goto out
    p.push(ldx_h(R1, R10, -62)); // sin_port / sin6_port, network order, loaded as is
    let mut matches = Vec::new();
    for &port in ports {
        matches.push(p.len());
        // The two bytes of the port in memory order, as the u16 load reads them.
        let raw = u16::from_ne_bytes(port.to_be_bytes());
        p.push(jeq_imm(R1, i32::from(raw), 0));
    }
    let bail_port = p.len();
    p.push(0); // goto out
    let matched = p.len();
    p.extend([
        call(HELPER_GET_PID_TGID),
        stx_dw(R10, -80, R0),
        ldx_dw(R1, R6, f.fd),
        stx_dw(R10, -72, R1),
        mov_reg(R1, R10),
        add_imm(R1, -32),
        mov_imm(R2, 16),
        call(HELPER_GET_COMM),
        call(HELPER_GET_UID_GID),
        stx_dw(R10, -16, R0),
        mov_reg(R1, R6),
    ]);
    p.extend(ld_map(R2, map_fd));
    p.extend([
        mov32_imm(R3, -1), // BPF_F_CURRENT_CPU
        mov_reg(R4, R10),
        add_imm(R4, -80),
        mov_imm(R5, REC_LEN as i32),
        call(HELPER_PERF_EVENT_OUTPUT),
    ]);
    let out = p.len();
    p.extend([mov_imm(R0, PASS), exit()]);
    let rel = |from: usize, to: usize| (to as i64 - from as i64 - 1) as i16;
    p[bail_read] = jne_imm(R0, 0, rel(bail_read, out));
    for m in matches {
        p[m] = jeq_imm(R1, (p[m] >> 32) as u32 as i32, rel(m, matched));
    }
    p[bail_port] = ja(rel(bail_port, out));
    p
}

/// A bind() seen entering, waiting for its result.
#[derive(Debug, Clone)]
struct Enter {
    time_ns: i128,
    tgid: u32,
    family: u16,
    port: u16,
    addr: IpAddr,
    comm: String,
    uid: u32,
    /// Protocol, read from /proc/PID/fd/FD while the socket is open.
    proto: Option<Proto>,
    /// The calling thread's network namespace, where the socket is (read with the protocol).
    netns: Option<u64>,
}

pub struct Binds {
    /// Each ring with whether its samples are stamped with CLOCK_REALTIME (the kernel may
    /// refuse that clock for one kind of event and not another).
    outputs: Vec<(PerfRing, bool)>,
    exits: Vec<(PerfRing, bool)>,
    exit_ret: usize,
    mono_offset_ns: i128,
    pending: FxHashMap<u32, Enter>,
    _map: OwnedFd,
    _prog: OwnedFd,
    _attach: OwnedFd,
}

fn rd<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at + N)?.try_into().ok()
}

/// The socket's protocol, read without ever touching a file that is not a socket (the caller
/// may swap the fd for a FUSE file; see `failures::caller`).
fn socket_proto(pid: u32, fd: u64) -> Option<Proto> {
    super::failures::caller::socket_proto(pid, fd)
}

impl Binds {
    pub fn open(tracefs: &Path, ports: &[u16], cpus: i32) -> Result<Binds, TraceError> {
        use std::os::fd::AsRawFd;
        let enter = Format::read(tracefs, "syscalls", "sys_enter_bind")?;
        let exit_fmt = Format::read(tracefs, "syscalls", "sys_exit_bind")?;
        let field = |n: &str| -> Result<i16, TraceError> {
            let (off, _) = enter.field(n)?;
            i16::try_from(off).map_err(|_| TraceError::FieldOffset(n.to_string()))
        };
        let fields = EnterFields {
            fd: field("fd")?,
            umyaddr: field("umyaddr")?,
            addrlen: field("addrlen")?,
        };
        let map = sys::bpf_perf_array(cpus.max(1) as u32).map_err(TraceError::BpfMap)?;
        let mut outputs = Vec::new();
        let mut exits = Vec::new();
        for cpu in 0..cpus {
            match PerfRing::open_bpf_output(cpu, 16) {
                Ok((ring, rt)) => {
                    sys::bpf_map_set(&map, cpu as u32, ring.raw_fd() as u32)
                        .map_err(TraceError::call(format!("BPF map slot for CPU {cpu}")))?;
                    ring.enable().map_err(TraceError::Io)?;
                    outputs.push((ring, rt));
                }
                Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => continue,
                Err(e) => return Err(TraceError::call(format!("BPF output ring on CPU {cpu}"))(e)),
            }
            let (ring, rt) = PerfRing::open_tracepoint(exit_fmt.id, cpu, 16)
                .map_err(TraceError::call(format!("sys_exit_bind on CPU {cpu}")))?;
            ring.enable().map_err(TraceError::Io)?;
            exits.push((ring, rt));
        }
        let insns = program(fields, ports, map.as_raw_fd());
        // The helpers that read user memory and write perf rings are GPL-only in the kernel.
        let prog = sys::bpf_load_tracepoint(&insns, c"GPL")?;
        let attach = sys::attach_tracepoint_prog(enter.id, &prog)
            .map_err(TraceError::call("attaching to syscalls:sys_enter_bind"))?;
        let clock = |c| {
            let t = rustix::time::clock_gettime(c);
            i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec)
        };
        Ok(Binds {
            outputs,
            exits,
            exit_ret: exit_fmt.field("ret")?.0,
            mono_offset_ns: clock(rustix::time::ClockId::Realtime)
                - clock(rustix::time::ClockId::Monotonic),
            pending: FxHashMap::default(),
            _map: map,
            _prog: prog,
            _attach: attach,
        })
    }

    pub fn rings(&self) -> impl Iterator<Item = &PerfRing> {
        self.outputs.iter().chain(self.exits.iter()).map(|(r, _)| r)
    }

    fn stamp(&self, t: u64, realtime: bool) -> i128 {
        if realtime {
            i128::from(t)
        } else {
            i128::from(t) + self.mono_offset_ns
        }
    }

    /// Events for every bind() that both entered and returned since the last call.
    pub fn drain(&mut self) -> (Vec<WatchEvent>, u64) {
        // (time, tid, Some(enter) | None for an exit with its ret)
        let mut items: Vec<(i128, u32, Option<Enter>, i64)> = Vec::new();
        let mut lost = 0;
        // Exits are read before enters: a bind() enters before it returns, so every exit read
        // here has its enter already in a ring when the enters are read next. Read the other
        // way round, a bind that entered just after the enters were read and returned (on
        // another CPU's ring) before the exits were, lost its exit and was never reported; a
        // loaded machine, where threads migrate mid-syscall, made that common.
        let mut exits: Vec<(Vec<u8>, bool)> = Vec::new();
        for (r, rt) in &mut self.exits {
            lost += r.drain(|b| exits.push((b.to_vec(), *rt))).lost;
        }
        let mut bodies: Vec<(Vec<u8>, bool)> = Vec::new();
        for (r, rt) in &mut self.outputs {
            lost += r.drain(|b| bodies.push((b.to_vec(), *rt))).lost;
        }
        for (b, rt) in &bodies {
            if let Some(e) = self.decode_enter(b, *rt) {
                items.push(e);
            }
        }
        for (b, rt) in &exits {
            let (Some(tid), Some(t), Some(size)) = (
                rd::<4>(b, 4).map(u32::from_ne_bytes),
                rd::<8>(b, 8).map(u64::from_ne_bytes),
                rd::<4>(b, 16).map(u32::from_ne_bytes),
            ) else {
                continue;
            };
            let Some(raw) = b.get(20..20 + size as usize) else {
                continue;
            };
            let Some(ret) = rd::<8>(raw, self.exit_ret).map(i64::from_ne_bytes) else {
                continue;
            };
            items.push((self.stamp(t, *rt), tid, None, ret));
        }
        items.sort_by_key(|i| i.0);
        let mut out = Vec::new();
        for (time, tid, enter, ret) in items {
            match enter {
                Some(e) => {
                    self.pending.insert(tid, e);
                }
                None => {
                    if let Some(e) = self.pending.remove(&tid) {
                        out.push(event(&e, ret, time));
                    }
                }
            }
        }
        // A bind whose exit never came (the thread died): forget it after a while.
        if self.pending.len() > 4096 {
            self.pending.clear();
        }
        (out, lost)
    }

    fn decode_enter(&self, body: &[u8], rt: bool) -> Option<(i128, u32, Option<Enter>, i64)> {
        let tid = u32::from_ne_bytes(rd(body, 4)?);
        let t = u64::from_ne_bytes(rd(body, 8)?);
        let size = u32::from_ne_bytes(rd(body, 16)?) as usize;
        let rec = body.get(20..20 + size.min(REC_LEN))?;
        let pid_tgid = u64::from_ne_bytes(rd(rec, 0)?);
        let fd = u64::from_ne_bytes(rd(rec, 8)?);
        let sa = rec.get(16..44)?;
        let family = u16::from_ne_bytes(rd(sa, 0)?);
        let port = u16::from_be_bytes(rd(sa, 2)?);
        let addr = match family {
            2 => IpAddr::V4(Ipv4Addr::from(rd::<4>(sa, 4)?)),
            10 => IpAddr::V6(Ipv6Addr::from(rd::<16>(sa, 8)?)),
            _ => return None,
        };
        let comm_bytes = rec.get(48..64)?;
        let uid = u64::from_ne_bytes(rd(rec, 64)?) as u32;
        let end = comm_bytes.iter().position(|&b| b == 0).unwrap_or(16);
        let tgid = (pid_tgid >> 32) as u32;
        Some((
            self.stamp(t, rt),
            tid,
            Some(Enter {
                time_ns: self.stamp(t, rt),
                tgid,
                family,
                port,
                addr,
                comm: String::from_utf8_lossy(&comm_bytes[..end]).into_owned(),
                uid,
                // Read now, while the socket is most likely still open.
                proto: socket_proto(tgid, fd),
                netns: super::scope::of_task(tgid, tid),
            }),
            0,
        ))
    }
}

fn event(e: &Enter, ret: i64, exit_ns: i128) -> WatchEvent {
    let owner = super::owner::of_pid(e.tgid).unwrap_or_else(|| Owner {
        pid: e.tgid,
        comm: e.comm.clone().into(),
        cmdline: String::new().into(),
        uid: e.uid,
        user: crate::collect::users::user_name(e.uid),
        start_time: 0,
        ..Owner::default()
    });
    let proto = e.proto.unwrap_or(Proto::Udp);
    let errno = (ret < 0).then(|| nix::errno::Errno::from_raw((-ret) as i32));
    let mut note = match errno {
        Some(err) => format!("bind() failed: {}", err.desc()),
        None if proto == Proto::Udp => {
            "bound (UDP: its release is seen only by polling)".to_string()
        }
        None => "bound; not listening (yet)".to_string(),
    };
    if e.proto.is_none() {
        note.push_str("; protocol not read (the socket closed at once): tcp or udp");
    }
    let _ = exit_ns;
    WatchEvent {
        time: jiff::Timestamp::from_nanosecond(e.time_ns)
            .unwrap_or_else(|_| jiff::Timestamp::now()),
        event: if errno.is_some() {
            EventKind::Refused
        } else {
            EventKind::Take
        },
        proto,
        family: if e.family == 10 {
            Family::Ipv6
        } else {
            Family::Ipv4
        },
        local_addr: e.addr,
        local_port: e.port,
        remote_addr: if e.family == 10 {
            IpAddr::V6(Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        },
        remote_port: 0,
        old_state: None,
        state: if proto == Proto::Udp {
            State::Unconn
        } else {
            State::Close
        },
        kernel_chosen: Some(false),
        netns: e.netns,
        owner: Some(owner),
        owner_via: Some(OwnerVia::Bind),
        inode: 0,
        source: "bind".into(),
        note: Some(note),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn jumps_land_on_match_and_exit() {
        let f = super::EnterFields {
            fd: 16,
            umyaddr: 24,
            addrlen: 32,
        };
        let p = super::program(f, &[8080, 53], 7);
        let exit_at = p.len() - 1;
        assert_eq!(p[exit_at] & 0xff, 0x95);
        // Every conditional jump lands inside the program.
        for (i, ins) in p.iter().enumerate() {
            let code = (ins & 0xff) as u8;
            if matches!(code, 0x15 | 0x55 | 0xa5 | 0x05) {
                let off = ((ins >> 16) & 0xffff) as u16 as i16;
                let to = i as i64 + 1 + i64::from(off);
                assert!(
                    to > i as i64 && to <= exit_at as i64,
                    "insn {i} jumps to {to}"
                );
            }
        }
        // The port compare uses network byte order as loaded.
        let want = u64::from(u16::from_ne_bytes(8080u16.to_be_bytes()));
        assert!(p.iter().any(|i| (i & 0xff) == 0x15 && (i >> 32) == want));
    }
}
