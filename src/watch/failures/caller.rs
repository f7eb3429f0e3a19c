//! The caller of a refused call, read from /proc the moment the refusal arrives: its process,
//! its network namespace (pinned, so the namespace can be read even after the caller exits),
//! its socket's protocol and its capability to bind low ports.
//!
//! The caller is any user's process and its fds are its own: reading through them must never
//! let it block root's recorder. A refused caller can swap the fd for a FUSE file between the
//! call and this read; a getxattr or close on that file would wait on the FUSE daemon, which the
//! user controls. So the fd is opened O_PATH (no open, no flush on close), checked to be a
//! socket with cached attributes only, and only then asked for its protocol, through our own
//! pinned handle.

use super::kernel::Raw;
use crate::model::{Owner, Proto};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

pub struct Caller {
    pub owner: Option<Owner>,
    pub netns: Option<u64>,
    /// The namespace itself, held open: answers are read in it even if the caller is gone.
    pub ns_file: Option<File>,
    pub proto: Option<Proto>,
    pub cap_net_bind_service: Option<bool>,
}

impl Caller {
    pub fn capture(raw: &Raw) -> Caller {
        // Most fleeting first: an exiting process loses its namespaces before its /proc entry.
        let ns_file = File::open(format!("/proc/{}/task/{}/ns/net", raw.tgid, raw.tid))
            .or_else(|_| File::open(format!("/proc/{}/ns/net", raw.tgid)))
            .ok();
        let proto = super::proto_of_word(raw.options).or_else(|| socket_proto(raw.tgid, raw.fd));
        let netns = ns_file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map(|m| m.ino());
        // Read within milliseconds of the call: a pid recycled in between is not a real risk,
        // and nothing is ever signalled on the strength of this record.
        let owner = super::super::owner::of_pid(raw.tgid);
        Caller {
            owner,
            netns,
            ns_file,
            proto,
            cap_net_bind_service: (raw.errno == nix::libc::EACCES)
                .then(|| cap_net_bind_service(raw.tgid, raw.tid))
                .flatten(),
        }
    }
}

/// "TCP", "UDPv6", ... of the socket behind /proc/PID/fd/FD, without ever opening, reading or
/// closing a file that is not a socket (see the module's note).
pub fn socket_proto(pid: u32, fd: u64) -> Option<Proto> {
    use rustix::fs::{AtFlags, Mode, OFlags, StatxFlags};
    let path = format!("/proc/{pid}/fd/{fd}");
    let pinned = rustix::fs::open(&path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let st = rustix::fs::statx(
        &pinned,
        "",
        AtFlags::EMPTY_PATH | AtFlags::STATX_DONT_SYNC,
        StatxFlags::TYPE,
    )
    .ok()?;
    if u32::from(st.stx_mode) & nix::libc::S_IFMT != nix::libc::S_IFSOCK {
        return None;
    }
    let mut buf = [0u8; 32];
    let n = rustix::fs::getxattr(
        format!("/proc/self/fd/{}", pinned.as_raw_fd()),
        "system.sockprotoname",
        &mut buf[..],
    )
    .ok()?;
    let name = String::from_utf8_lossy(&buf[..n.min(32)]).to_ascii_uppercase();
    if name.starts_with("TCP") || name.starts_with("MPTCP") {
        Some(Proto::Tcp)
    } else if name.starts_with("UDP") {
        Some(Proto::Udp)
    } else {
        None
    }
}

/// Whether CAP_NET_BIND_SERVICE (bit 10) is in the calling thread's effective set
/// (capabilities are per thread: the thread that called bind() is the one that counts).
fn cap_net_bind_service(pid: u32, tid: u32) -> Option<bool> {
    let status = crate::kernel_file::read_lossy(format!("/proc/{pid}/task/{tid}/status")).ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let caps = u64::from_str_radix(hex, 16).ok()?;
    Some(caps & (1 << 10) != 0)
}
