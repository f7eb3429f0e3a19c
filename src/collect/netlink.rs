//! NETLINK_SOCK_DIAG inet_diag dumps: what `ss` reads.
//!
//! The message layouts are fixed by the kernel ABI (include/uapi/linux/inet_diag.h). The request
//! is written by hand rather than through a netlink crate because the `autobound` mark needs a
//! bytecode filter (INET_DIAG_REQ_BYTECODE with INET_DIAG_BC_AUTO, `ss`'s `autobound`), which the
//! available crates cannot send, and because parsing in place avoids an allocation per attribute
//! on tables of 100k+ sockets.

use crate::model::{Family, Proto, Socket, State};
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, sendto,
    socket,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const SOCK_DESTROY: u16 = 21;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
const REQ_LEN: usize = 56; // struct inet_diag_req_v2
const MSG_LEN: usize = 72; // struct inet_diag_msg
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const INET_DIAG_BC_AUTO: u8 = 6;
const INET_DIAG_SKV6ONLY: u16 = 11;
// Every TCP state including NEW_SYN_RECV (`ss -a`), plus bit 13, TCP_BOUND_INACTIVE (`ss -B`,
// Linux 6.8): sockets bound but not listening, which hold their port like any other. Older
// kernels ignore the bit.
const ALL_STATES: u32 = 0x3fff;
const TIMER_TIMEWAIT: u8 = 3;
const RECV_BUF: usize = 64 * 1024; // the kernel fills at most ~32 KiB per dump recv

/// Identity used to join the autobound dump with the full one. The cookie is the kernel's unique
/// socket id; together with the protocol it cannot collide.
pub type Cookie = (Proto, u64);

pub struct Dumper {
    fd: OwnedFd,
    buf: Vec<u8>,
    seq: u32,
    /// The TCP states the next dumps ask for.
    states: u32,
}

/// LISTEN only: the dump that skips the host-wide established hash, so it costs microseconds
/// in any namespace.
pub const LISTEN_STATES: u32 = 1 << 10;
/// TCP_BOUND_INACTIVE (Linux 6.8; older kernels ignore the bit): bound, never listening. Its
/// dump walks the host-wide bind hash, tens of milliseconds per namespace on a busy host.
pub const BOUND_INACTIVE: u32 = 1 << 13;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Dumper {
    /// Opens a sock_diag socket in the calling thread's network namespace.
    pub fn open() -> nix::Result<Self> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(Self::from_fd(fd))
    }

    /// Wraps a sock_diag socket opened elsewhere: it keeps dumping the namespace it was created
    /// in, whichever thread uses it.
    pub fn from_fd(fd: OwnedFd) -> Self {
        Dumper {
            fd,
            buf: vec![0; RECV_BUF],
            seq: 0,
            states: ALL_STATES,
        }
    }

    /// The socket itself (to keep it, or to hand it to another thread).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// TCP listeners (and, with `bound`, bound-inactive sockets) and every UDP socket of the
    /// socket's namespace: the cheap view used for namespaces that are not in focus.
    pub fn listening_sockets(&mut self, bound: bool) -> nix::Result<Vec<Socket>> {
        let mut out = Vec::new();
        let tcp = if bound {
            LISTEN_STATES | BOUND_INACTIVE
        } else {
            LISTEN_STATES
        };
        for (proto, states) in [(Proto::Tcp, tcp), (Proto::Udp, ALL_STATES)] {
            self.states = states;
            for family in [Family::Ipv4, Family::Ipv6] {
                let r = self.dump(family, proto, false, |msg| {
                    if let Some(s) = parse_msg(msg, proto) {
                        out.push(s);
                    }
                });
                match r {
                    Ok(()) | Err(nix::Error::ENOENT) | Err(nix::Error::EAFNOSUPPORT) => {}
                    Err(e) => {
                        self.states = ALL_STATES;
                        return Err(e);
                    }
                }
            }
        }
        self.states = ALL_STATES;
        Ok(out)
    }

    /// A netlink header and the first part of an inet_diag_req_v2 (family, protocol, no
    /// extensions, every state); the caller appends the 48-byte socket id and any attributes.
    fn begin(
        &mut self,
        ty: u16,
        flags: u16,
        family: Family,
        proto: Proto,
        total: usize,
        states: u32,
    ) -> Vec<u8> {
        self.seq = self.seq.wrapping_add(1);
        let mut m = Vec::with_capacity(total);
        m.extend_from_slice(&(total as u32).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.push(match family {
            Family::Ipv4 => libc_af::INET,
            Family::Ipv6 => libc_af::INET6,
        });
        m.push(match proto {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        });
        m.push(0); // no extensions: SKV6ONLY is sent unasked for LISTEN/CLOSE sockets
        m.push(0);
        m.extend_from_slice(&states.to_ne_bytes());
        m
    }

    fn request(&mut self, family: Family, proto: Proto, autobound_only: bool) -> nix::Result<()> {
        let filter_len = if autobound_only { 4 + 4 } else { 0 };
        let total = NLMSG_HDRLEN + REQ_LEN + filter_len;
        let mut m = self.begin(
            SOCK_DIAG_BY_FAMILY,
            NLM_F_DUMP,
            family,
            proto,
            total,
            self.states,
        );
        m.extend_from_slice(&[0u8; 48]); // any socket
        if autobound_only {
            // One rtattr holding one inet_diag_bc_op {code, yes, no}: accept when the kernel
            // chose the port (yes jumps to the end), reject otherwise (no jumps past it).
            m.extend_from_slice(&8u16.to_ne_bytes());
            m.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
            m.push(INET_DIAG_BC_AUTO);
            m.push(4);
            m.extend_from_slice(&8u16.to_ne_bytes());
        }
        self.send(&m)
    }

    /// Sends one request to the kernel (netlink port 0).
    fn send(&self, m: &[u8]) -> nix::Result<()> {
        sendto(
            self.fd.as_raw_fd(),
            m,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )?;
        Ok(())
    }

    /// Runs one dump and hands every `inet_diag_msg` (with its attributes) to `f`.
    fn dump(
        &mut self,
        family: Family,
        proto: Proto,
        autobound_only: bool,
        f: impl FnMut(&[u8]),
    ) -> nix::Result<()> {
        self.request(family, proto, autobound_only)?;
        self.receive(f)
    }

    /// Sockets of one protocol whose local port is `port`, in the states of `states` (a mask of
    /// 1 << kernel state). The kernel filters on `idiag_sport` itself, so nothing else is copied
    /// out; a TCP mask without ESTABLISHED-like states (LISTEN only) also skips the walk of the
    /// established hash, which is what makes it cheap on a busy host.
    pub fn port_sockets(
        &mut self,
        family: Family,
        proto: Proto,
        port: u16,
        states: u32,
    ) -> nix::Result<Vec<Socket>> {
        let total = NLMSG_HDRLEN + REQ_LEN;
        let mut m = self.begin(
            SOCK_DIAG_BY_FAMILY,
            NLM_F_DUMP,
            family,
            proto,
            total,
            states,
        );
        m.extend_from_slice(&port.to_be_bytes());
        m.extend_from_slice(&[0u8; 46]);
        self.send(&m)?;
        let mut out = Vec::new();
        match self.receive(|msg| {
            if let Some(s) = parse_msg(msg, proto)
                && s.local_port == port
            {
                out.push(s);
            }
        }) {
            Ok(()) | Err(nix::Error::ENOENT) | Err(nix::Error::EAFNOSUPPORT) => Ok(out),
            Err(e) => Err(e),
        }
    }

    /// Reads the answers to the last request until NLMSG_DONE or an error.
    fn receive(&mut self, mut f: impl FnMut(&[u8])) -> nix::Result<()> {
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())?;
            let buf = &self.buf[..n];
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let len = u32_ne(buf, off) as usize;
                let ty = u16_ne(buf, off + 4);
                let seq = u32_ne(buf, off + 8);
                if len < NLMSG_HDRLEN || off + len > n {
                    return Err(nix::Error::EBADMSG);
                }
                if seq == self.seq {
                    match ty {
                        NLMSG_DONE => return Ok(()),
                        NLMSG_ERROR => {
                            let errno = if len >= NLMSG_HDRLEN + 4 {
                                -(u32_ne(buf, off + NLMSG_HDRLEN) as i32)
                            } else {
                                libc_errno::EPROTO
                            };
                            if errno == 0 {
                                return Ok(());
                            }
                            return Err(nix::Error::from_raw(errno));
                        }
                        SOCK_DIAG_BY_FAMILY => f(&buf[off + NLMSG_HDRLEN..off + len]),
                        _ => {}
                    }
                }
                off += align4(len);
            }
        }
    }

    /// Closes one socket with SOCK_DESTROY (what `ss -K` does): the kernel aborts it as if reset.
    /// The request carries the socket's cookie, so a socket that reuses the same addresses since
    /// the snapshot is not touched (the kernel answers ENOENT/ESTALE).
    pub fn destroy(&mut self, s: &Socket) -> nix::Result<()> {
        let total = NLMSG_HDRLEN + REQ_LEN;
        let mut m = self.begin(
            SOCK_DESTROY,
            NLM_F_ACK,
            s.family,
            s.proto,
            total,
            ALL_STATES,
        );
        m.extend_from_slice(&s.local_port.to_be_bytes());
        m.extend_from_slice(&s.remote_port.to_be_bytes());
        for a in [s.local_addr, s.remote_addr] {
            let mut b = [0u8; 16];
            match a {
                IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
                IpAddr::V6(v6) => b.copy_from_slice(&v6.octets()),
            }
            m.extend_from_slice(&b);
        }
        m.extend_from_slice(&0u32.to_ne_bytes()); // any interface
        m.extend_from_slice(&(s.cookie as u32).to_ne_bytes());
        m.extend_from_slice(&((s.cookie >> 32) as u32).to_ne_bytes());
        self.send(&m)?;
        let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())?;
        let buf = &self.buf[..n];
        if n >= NLMSG_HDRLEN + 4 && u16_ne(buf, 4) == NLMSG_ERROR {
            let errno = -(u32_ne(buf, NLMSG_HDRLEN) as i32);
            return if errno == 0 {
                Ok(())
            } else {
                Err(nix::Error::from_raw(errno))
            };
        }
        Err(nix::Error::EBADMSG)
    }

    /// Every TCP and UDP socket of both families in this namespace.
    pub fn all_sockets(&mut self) -> nix::Result<Vec<Socket>> {
        let mut autobound: Vec<Cookie> = Vec::new();
        // Sized once: growing a 10+ MB vector by doubling copies it on the heap and leaves
        // the old block resident, which was most of the peak memory at 100k sockets.
        let mut out = Vec::with_capacity(sockstat_estimate());
        for proto in [Proto::Tcp, Proto::Udp] {
            for family in [Family::Ipv4, Family::Ipv6] {
                let before = out.len();
                match self.dump(family, proto, false, |msg| {
                    if let Some(s) = parse_msg(msg, proto) {
                        out.push(s);
                    }
                }) {
                    Ok(()) => {}
                    // IPv6 disabled, or UDP diag module missing: that table is simply empty.
                    Err(nix::Error::ENOENT) | Err(nix::Error::EAFNOSUPPORT) => continue,
                    Err(e) => return Err(e),
                }
                // Only a TCP connection held by a process can be autobound. Without one the
                // second dump is skipped: it walks the host-wide established hash, tens of ms
                // on a busy host even for an empty namespace.
                if proto == Proto::Tcp
                    && !out[before..]
                        .iter()
                        .any(|s| s.inode != 0 && s.state != State::Listen)
                {
                    continue;
                }
                match self.dump(family, proto, true, |msg| {
                    if msg.len() >= MSG_LEN {
                        autobound.push((proto, cookie(msg)));
                    }
                }) {
                    Ok(()) | Err(nix::Error::ENOENT) | Err(nix::Error::EAFNOSUPPORT) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        // The two dumps are not atomic; a socket born in between is simply not marked.
        autobound.sort_unstable();
        for s in &mut out {
            // The filter tests the bind lock of full sockets only; TIME_WAIT and request sockets
            // (inode 0) always pass it, so for them it says nothing.
            if s.inode != 0 {
                s.autobound = autobound.binary_search(&(s.proto, s.cookie)).is_ok();
            }
        }
        Ok(out)
    }
}

/// How many sockets the namespace's tables hold now (in use, plus TIME_WAIT), from
/// /proc/net/sockstat{,6} of the calling thread's namespace; a little over, never a bound.
pub fn sockstat_estimate() -> usize {
    let mut n = 64;
    for file in ["sockstat", "sockstat6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/thread-self/net/{file}")) else {
            continue;
        };
        for line in text.lines() {
            let proto = line.split(':').next().unwrap_or("");
            if !matches!(proto, "TCP" | "TCP6" | "UDP" | "UDP6") {
                continue;
            }
            let mut words = line.split_whitespace().skip(1);
            while let (Some(key), Some(val)) = (words.next(), words.next()) {
                if matches!(key, "inuse" | "tw") {
                    n += val.parse::<usize>().unwrap_or(0);
                }
            }
        }
    }
    n + n / 32
}

fn cookie(msg: &[u8]) -> u64 {
    u64::from(u32_ne(msg, 44)) | (u64::from(u32_ne(msg, 48)) << 32)
}

mod libc_af {
    pub const INET: u8 = 2;
    pub const INET6: u8 = 10;
}

mod libc_errno {
    pub const EPROTO: i32 = 71;
}

fn addr(msg: &[u8], at: usize, family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(
            msg[at],
            msg[at + 1],
            msg[at + 2],
            msg[at + 3],
        )),
        Family::Ipv6 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&msg[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(b))
        }
    }
}

fn parse_msg(msg: &[u8], proto: Proto) -> Option<Socket> {
    if msg.len() < MSG_LEN {
        return None;
    }
    let family = match msg[0] {
        libc_af::INET => Family::Ipv4,
        libc_af::INET6 => Family::Ipv6,
        _ => return None,
    };
    let state = State::from_kernel(proto, msg[1])?;
    let timer = msg[2];
    let local_port = u16::from_be_bytes([msg[4], msg[5]]);
    let remote_port = u16::from_be_bytes([msg[6], msg[7]]);
    let expires = u32_ne(msg, 52);
    let inode = u64::from(u32_ne(msg, 68));
    let mut v6only = None;
    let mut off = MSG_LEN;
    while off + 4 <= msg.len() {
        let alen = usize::from(u16_ne(msg, off));
        let aty = u16_ne(msg, off + 2) & 0x3fff;
        if alen < 4 || off + alen > msg.len() {
            break;
        }
        if aty == INET_DIAG_SKV6ONLY && alen >= 5 {
            v6only = Some(msg[off + 4] != 0);
        }
        off += align4(alen);
    }
    Some(Socket {
        proto,
        family,
        state,
        local_addr: addr(msg, 8, family),
        local_port,
        remote_addr: addr(msg, 24, family),
        remote_port,
        inode,
        cookie: cookie(msg),
        uid: u32_ne(msg, 64),
        rx_queue: u32_ne(msg, 56),
        tx_queue: u32_ne(msg, 60),
        autobound: false,
        v6only,
        expires_ms: (timer == TIMER_TIMEWAIT).then_some(expires),
        kernel_held: inode == 0,
        owner_hidden: false,
        accept_queue: false,
        owners: crate::model::no_owners(),
        published: None,
        netns: 0,
    })
}
