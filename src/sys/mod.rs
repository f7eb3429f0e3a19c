//! The one place with `unsafe`: system calls that neither rustix nor nix wraps.
//!
//! Each function is a thin, checked wrapper: the buffers passed to the kernel are owned Rust
//! values of exactly the size the kernel is told, and every return value is checked. `perf`
//! holds the perf_event_open ring buffers and the bpf() calls `portscope watch` needs.
// The kernel's ABI: sizes of small fixed structs as socklen_t.
#![allow(clippy::cast_possible_truncation)]
#![allow(unsafe_code)]

pub mod perf;

use std::os::fd::{AsFd, AsRawFd};

/// `SO_NETNS_COOKIE` (Linux 5.14): a 64-bit identity of the socket's network namespace that
/// the kernel never hands out twice, unlike the namespace's inode number, which is recycled as
/// soon as the namespace is freed.
const SO_NETNS_COOKIE: i32 = 71;

/// The network-namespace cookie of the namespace `sock` was created in.
pub fn netns_cookie(sock: impl AsFd) -> std::io::Result<u64> {
    let mut value: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as nix::libc::socklen_t;
    // SAFETY: `value` is a live u64 and `len` says exactly its size; the kernel writes at most
    // `len` bytes and updates `len`, which is checked below.
    let rc = unsafe {
        nix::libc::getsockopt(
            sock.as_fd().as_raw_fd(),
            nix::libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<u64>() {
        return Err(std::io::Error::other(
            "SO_NETNS_COOKIE returned a short value",
        ));
    }
    Ok(value)
}

/// `IP_LOCAL_PORT_RANGE` (Linux 6.3): a socket's own ephemeral range, `lo | hi << 16`; 0 (or a
/// zero half) leaves the namespace's range in force.
const IP_LOCAL_PORT_RANGE: i32 = 51;

/// A socket's `IP_LOCAL_PORT_RANGE` as the kernel stores it (`lo | hi << 16`).
pub fn local_port_range(sock: impl AsFd) -> std::io::Result<u32> {
    let mut value: u32 = 0;
    let mut len = std::mem::size_of::<u32>() as nix::libc::socklen_t;
    // SAFETY: `value` is a live u32 and `len` says exactly its size; checked below.
    let rc = unsafe {
        nix::libc::getsockopt(
            sock.as_fd().as_raw_fd(),
            nix::libc::IPPROTO_IP,
            IP_LOCAL_PORT_RANGE,
            (&raw mut value).cast(),
            &raw mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if len as usize != std::mem::size_of::<u32>() {
        return Err(std::io::Error::other(
            "IP_LOCAL_PORT_RANGE returned a short value",
        ));
    }
    Ok(value)
}

/// Sets a socket's own ephemeral range (what a client does to narrow its connect() ports;
/// the tests make that case real with it).
pub fn set_local_port_range(sock: impl AsFd, lo: u16, hi: u16) -> std::io::Result<()> {
    let value: u32 = u32::from(lo) | (u32::from(hi) << 16);
    // SAFETY: `value` is a live u32 and the kernel is told exactly its size.
    let rc = unsafe {
        nix::libc::setsockopt(
            sock.as_fd().as_raw_fd(),
            nix::libc::IPPROTO_IP,
            IP_LOCAL_PORT_RANGE,
            (&raw const value).cast(),
            std::mem::size_of::<u32>() as nix::libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
