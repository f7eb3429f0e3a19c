//! The one place with `unsafe`: system calls that neither rustix nor nix wraps.
//!
//! Each function is a thin, checked wrapper: the buffers passed to the kernel are owned Rust
//! values of exactly the size the kernel is told, and every return value is checked. `perf`
//! holds the perf_event_open ring buffers and the bpf() calls `portscope watch` needs.
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
            &mut len,
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
