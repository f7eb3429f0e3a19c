//! The unsafe part of `watch`: perf_event_open on a tracepoint and its mmap'd ring buffer.
//!
//! Kept apart from src/sys.rs only so that branches merge cleanly; both are the same kind of
//! code (syscalls no safe crate wraps) and can be folded into one module. Each function checks
//! every return value; the ring is read exactly as perf_event_open(2) prescribes: load
//! `data_head` with acquire ordering, copy the records out, then publish `data_tail` with release
//! ordering so the kernel may reuse the space.
// The kernel's ABI: struct sizes, fds (never negative once opened) and ring offsets go into
// the fixed-width fields it defines.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
#![allow(unsafe_code)]

use perf_event_open_sys as perf;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// One per-CPU tracepoint counter with its ring buffer.
pub struct PerfRing {
    fd: OwnedFd,
    base: *mut u8,
    map_len: usize,
    data_off: usize,
    data_size: usize,
}

// The mapping is owned by this value alone and only touched through &mut self.
unsafe impl Send for PerfRing {}

/// What `drain` found besides samples.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    pub lost: u64,
}

impl PerfRing {
    /// Opens tracepoint `id` on `cpu` for every process (pid -1), disabled, sampling every event
    /// with PERF_SAMPLE_TID | TIME | RAW, timestamps from CLOCK_REALTIME when the kernel allows
    /// it (else CLOCK_MONOTONIC: `realtime` in the result says which). `pages` is a power of two.
    pub fn open_tracepoint(id: u64, cpu: i32, pages: usize) -> io::Result<(PerfRing, bool)> {
        Self::open_ring(perf::bindings::PERF_TYPE_TRACEPOINT, id, cpu, pages)
    }

    /// A ring for `bpf_perf_event_output` on `cpu` (PERF_COUNT_SW_BPF_OUTPUT), sampled the same
    /// way as a tracepoint, so both decode alike.
    pub fn open_bpf_output(cpu: i32, pages: usize) -> io::Result<(PerfRing, bool)> {
        Self::open_ring(
            perf::bindings::PERF_TYPE_SOFTWARE,
            u64::from(perf::bindings::PERF_COUNT_SW_BPF_OUTPUT),
            cpu,
            pages,
        )
    }

    fn open_ring(type_: u32, config: u64, cpu: i32, pages: usize) -> io::Result<(PerfRing, bool)> {
        let mut last = io::Error::from_raw_os_error(nix::libc::EINVAL);
        for (clock, realtime) in [
            (nix::libc::CLOCK_REALTIME, true),
            (nix::libc::CLOCK_MONOTONIC, false),
        ] {
            let mut attr = perf::bindings::perf_event_attr {
                size: std::mem::size_of::<perf::bindings::perf_event_attr>() as u32,
                type_,
                config,
                sample_type: u64::from(
                    perf::bindings::PERF_SAMPLE_TID
                        | perf::bindings::PERF_SAMPLE_TIME
                        | perf::bindings::PERF_SAMPLE_RAW,
                ),
                clockid: clock,
                ..Default::default()
            };
            attr.__bindgen_anon_1.sample_period = 1;
            attr.__bindgen_anon_2.wakeup_events = 1;
            attr.set_disabled(1);
            attr.set_use_clockid(1);
            // SAFETY: `attr` is a fully initialised perf_event_attr whose `size` is its own size;
            // the kernel only reads it (and may write `size` back on E2BIG).
            let fd = unsafe {
                perf::perf_event_open(
                    &raw mut attr,
                    -1,
                    cpu,
                    -1,
                    nix::libc::c_ulong::from(perf::bindings::PERF_FLAG_FD_CLOEXEC),
                )
            };
            if fd < 0 {
                last = io::Error::last_os_error();
                if last.raw_os_error() == Some(nix::libc::EINVAL) {
                    continue; // this clock is refused for tracepoints here: try the next
                }
                return Err(last);
            }
            // SAFETY: perf_event_open returned a new fd that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
                .ok()
                .flatten()
                .map_or(4096, |p| p as usize);
            let map_len = page * (1 + pages);
            // SAFETY: a fresh shared mapping of the perf fd, of the length the ABI asks for
            // (one metadata page plus 2^n data pages); the result is checked against MAP_FAILED.
            let base = unsafe {
                nix::libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    nix::libc::PROT_READ | nix::libc::PROT_WRITE,
                    nix::libc::MAP_SHARED,
                    fd.as_raw_fd(),
                    0,
                )
            };
            if base == nix::libc::MAP_FAILED {
                return Err(io::Error::last_os_error());
            }
            return Ok((
                PerfRing {
                    fd,
                    base: base.cast(),
                    map_len,
                    data_off: page,
                    data_size: page * pages,
                },
                realtime,
            ));
        }
        Err(last)
    }

    /// Installs a kernel-side ftrace filter ("sport == 8080 || ..."): events it rejects are
    /// dropped before they reach the ring.
    pub fn set_filter(&self, filter: &str) -> io::Result<()> {
        let mut c = std::ffi::CString::new(filter)
            .map_err(|_| io::Error::other("filter contains NUL"))?
            .into_bytes_with_nul();
        // SAFETY: `c` is a NUL-terminated buffer alive for the call; the kernel copies it.
        let rc = unsafe { perf::ioctls::SET_FILTER(self.fd.as_raw_fd(), c.as_mut_ptr().cast()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub fn enable(&self) -> io::Result<()> {
        // SAFETY: a plain ioctl on our own perf fd with an integer argument.
        let rc = unsafe { perf::ioctls::ENABLE(self.fd.as_raw_fd(), 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The `data_head`/`data_tail` words of the metadata page (offsets fixed by the ABI).
    fn head_tail(&self) -> (&AtomicU64, &AtomicU64) {
        let head = std::mem::offset_of!(perf::bindings::perf_event_mmap_page, data_head);
        let tail = std::mem::offset_of!(perf::bindings::perf_event_mmap_page, data_tail);
        // SAFETY: both offsets lie in the first (metadata) page of our live mapping, are 8-byte
        // aligned (page-aligned base, ABI layout), and the kernel accesses them atomically too.
        unsafe {
            (
                AtomicU64::from_ptr(self.base.add(head).cast()),
                AtomicU64::from_ptr(self.base.add(tail).cast()),
            )
        }
    }

    /// Hands every PERF_RECORD_SAMPLE body (the bytes after the 8-byte header) to `f`, in order,
    /// and counts PERF_RECORD_LOST. Records that wrap around the ring's end are copied whole.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) -> Drained {
        let (head_a, tail_a) = self.head_tail();
        let head = head_a.load(Ordering::Acquire);
        let mut tail = tail_a.load(Ordering::Relaxed);
        let mut out = Drained::default();
        let mut rec = Vec::new();
        // SAFETY: the data area [data_off, data_off + data_size) is inside our mapping; between
        // the acquire load of data_head and the release store of data_tail the kernel does not
        // write the bytes in [tail, head).
        let data =
            unsafe { std::slice::from_raw_parts(self.base.add(self.data_off), self.data_size) };
        let size = self.data_size as u64;
        while head.wrapping_sub(tail) >= 8 {
            let copy = |from: u64, len: usize, into: &mut Vec<u8>| {
                into.clear();
                let start = (from % size) as usize;
                let first = len.min(self.data_size - start);
                into.extend_from_slice(&data[start..start + first]);
                into.extend_from_slice(&data[..len - first]);
            };
            let mut hdr = Vec::with_capacity(8);
            copy(tail, 8, &mut hdr);
            let ty = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let len = usize::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
            if len < 8 || head.wrapping_sub(tail) < len as u64 {
                break; // never happens with a sane kernel; stop rather than read garbage
            }
            copy(tail + 8, len - 8, &mut rec);
            if ty == perf::bindings::PERF_RECORD_SAMPLE {
                f(&rec);
            } else if ty == perf::bindings::PERF_RECORD_LOST && rec.len() >= 16 {
                out.lost += u64::from_ne_bytes([
                    rec[8], rec[9], rec[10], rec[11], rec[12], rec[13], rec[14], rec[15],
                ]);
            }
            tail = tail.wrapping_add(len as u64);
        }
        tail_a.store(tail, Ordering::Release);
        out
    }
}

/// The ring's fd as the kernel's bpf map wants it.
impl PerfRing {
    pub fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PerfRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for PerfRing {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in open_tracepoint, unmapped once.
        unsafe {
            nix::libc::munmap(self.base.cast(), self.map_len);
        }
    }
}

// ---- bpf(2): a perf-event-array map, one tracepoint program, and its attachment ----

const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_UPDATE_ELEM: i64 = 2;
const BPF_PROG_LOAD: i64 = 5;
const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
/// Size of the `union bpf_attr` we pass: zero beyond the fields set, as the kernel requires.
const ATTR_LEN: usize = 128;

fn put_u32(b: &mut [u8; ATTR_LEN], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u64(b: &mut [u8; ATTR_LEN], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

fn bpf(cmd: i64, attr: &mut [u8; ATTR_LEN]) -> io::Result<i64> {
    // SAFETY: `attr` is a live, zero-padded buffer of ATTR_LEN bytes and the kernel is told that
    // size; every pointer stored in it (set by the callers below) points to a buffer that
    // outlives this call.
    let rc =
        unsafe { nix::libc::syscall(nix::libc::SYS_bpf, cmd, attr.as_mut_ptr(), ATTR_LEN as u32) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

fn owned(fd: i64) -> io::Result<OwnedFd> {
    let fd = i32::try_from(fd).map_err(|_| io::Error::other("fd out of range"))?;
    // SAFETY: the kernel just returned this new fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A BPF_MAP_TYPE_PERF_EVENT_ARRAY with one slot per CPU.
pub fn bpf_perf_array(cpus: u32) -> io::Result<OwnedFd> {
    let mut a = [0u8; ATTR_LEN];
    put_u32(&mut a, 0, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    put_u32(&mut a, 4, 4); // key: u32 cpu
    put_u32(&mut a, 8, 4); // value: u32 perf fd
    put_u32(&mut a, 12, cpus);
    owned(bpf(BPF_MAP_CREATE, &mut a)?)
}

/// Kinds of BPF map portscope creates besides the perf-event array.
pub const BPF_MAP_TYPE_HASH: u32 = 1;
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
const BPF_MAP_LOOKUP_ELEM: i64 = 1;

/// A map of `kind` with `max` entries of the given key and value sizes.
pub fn bpf_map(kind: u32, key_size: u32, value_size: u32, max: u32) -> io::Result<OwnedFd> {
    let mut a = [0u8; ATTR_LEN];
    put_u32(&mut a, 0, kind);
    put_u32(&mut a, 4, key_size);
    put_u32(&mut a, 8, value_size);
    put_u32(&mut a, 12, max);
    owned(bpf(BPF_MAP_CREATE, &mut a)?)
}

/// map[key] of a map with u32 keys and u64 values (a counter array).
pub fn bpf_map_get_u64(map: &OwnedFd, key: u32) -> io::Result<u64> {
    let k = key;
    let mut v = 0u64;
    let mut a = [0u8; ATTR_LEN];
    put_u32(&mut a, 0, map.as_raw_fd() as u32);
    put_u64(&mut a, 8, (&raw const k) as u64);
    put_u64(&mut a, 16, (&raw mut v) as u64);
    bpf(BPF_MAP_LOOKUP_ELEM, &mut a)?;
    Ok(v)
}

/// map[key] = value (both u32).
pub fn bpf_map_set(map: &OwnedFd, key: u32, value: u32) -> io::Result<()> {
    let k = key;
    let v = value;
    let mut a = [0u8; ATTR_LEN];
    put_u32(&mut a, 0, map.as_raw_fd() as u32);
    put_u64(&mut a, 8, (&raw const k) as u64);
    put_u64(&mut a, 16, (&raw const v) as u64);
    bpf(BPF_MAP_UPDATE_ELEM, &mut a)?;
    Ok(())
}

/// The kernel refused a BPF program: its error, and the last line of the verifier's log (empty
/// when the verifier said nothing).
#[derive(Debug, thiserror::Error)]
#[error("{error}{}{verifier}", if .verifier.is_empty() { "" } else { ": " })]
pub struct BpfLoadError {
    pub error: io::Error,
    pub verifier: String,
}

/// Loads a tracepoint program. On refusal, the verifier's log says why.
pub fn bpf_load_tracepoint(
    insns: &[u64],
    license: &std::ffi::CStr,
) -> Result<OwnedFd, BpfLoadError> {
    let mut log = vec![0u8; 64 * 1024];
    let mut a = [0u8; ATTR_LEN];
    put_u32(&mut a, 0, BPF_PROG_TYPE_TRACEPOINT);
    put_u32(&mut a, 4, insns.len() as u32);
    put_u64(&mut a, 8, insns.as_ptr() as u64);
    put_u64(&mut a, 16, license.as_ptr() as u64);
    put_u32(&mut a, 24, 1); // log level: errors
    put_u32(&mut a, 28, log.len() as u32);
    put_u64(&mut a, 32, log.as_mut_ptr() as u64);
    a[48..56].copy_from_slice(b"ps_bind\0");
    match bpf(BPF_PROG_LOAD, &mut a) {
        Ok(fd) => owned(fd).map_err(|error| BpfLoadError {
            error,
            verifier: String::new(),
        }),
        Err(error) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]);
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(BpfLoadError {
                error,
                verifier: last.to_string(),
            })
        }
    }
}

/// Opens tracepoint `id` once (cpu 0, every process) and runs `prog` on every hit, on any CPU:
/// the program hangs off the tracepoint itself, as libbpf attaches tracepoints.
pub fn attach_tracepoint_prog(id: u64, prog: &OwnedFd) -> io::Result<OwnedFd> {
    let mut attr = perf::bindings::perf_event_attr {
        size: std::mem::size_of::<perf::bindings::perf_event_attr>() as u32,
        type_: perf::bindings::PERF_TYPE_TRACEPOINT,
        config: id,
        ..Default::default()
    };
    // A counting event (sample period 0): the program runs on every hit all the same, and
    // since it passes the event on (it returns 1, not to blind other perf users), a sampling
    // event here would try to write each hit to a ring it does not have.
    attr.__bindgen_anon_1.sample_period = 0;
    // SAFETY: as in open_ring: a fully initialised attr of its own size.
    let fd = unsafe {
        perf::perf_event_open(
            &raw mut attr,
            -1,
            0,
            -1,
            nix::libc::c_ulong::from(perf::bindings::PERF_FLAG_FD_CLOEXEC),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = owned(i64::from(fd))?;
    // SAFETY: ioctls on our own perf fd with integer arguments (the program's fd).
    let rc = unsafe { perf::ioctls::SET_BPF(fd.as_raw_fd(), prog.as_raw_fd() as u32) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    let rc = unsafe { perf::ioctls::ENABLE(fd.as_raw_fd(), 0) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}
