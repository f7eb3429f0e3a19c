//! NETLINK_SOCK_DIAG inet_diag dumps: what `ss` reads.
//!
//! The message layouts are fixed by the kernel ABI (include/uapi/linux/inet_diag.h). The request
//! is written by hand rather than through a netlink crate because the `autobound` mark needs a
//! bytecode filter (INET_DIAG_REQ_BYTECODE with INET_DIAG_BC_AUTO, `ss`'s `autobound`), which the
//! available crates cannot send, and because parsing in place avoids an allocation per attribute
//! on tables of 100k+ sockets.

mod abi;
pub mod autobound;
mod exact;
mod parse;

use crate::model::{Family, Proto, Socket};
use abi::{InetDiagMsg, InetDiagReq, InetDiagReqV2, InetDiagSockId, NlMsgHdr, RtAttr};
pub use autobound::AutoboundMemo;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, sendto,
    socket,
};
use parse::{addr_bytes, libc_af, libc_errno, parse_msg};
use std::os::fd::{AsRawFd, OwnedFd};

/// The original inet_diag request type (TCP only): both address families in one walk.
const TCPDIAG_GETSOCK: u16 = 18;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const SOCK_DESTROY: u16 = 21;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
// Every TCP state including NEW_SYN_RECV (`ss -a`), plus bit 13, TCP_BOUND_INACTIVE (`ss -B`,
// Linux 6.8): sockets bound but not listening, which hold their port like any other. Older
// kernels ignore the bit.
pub const ALL_STATES: u32 = 0x3fff;
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
    /// Whether this kernel answers TCPDIAG_GETSOCK (unknown until tried).
    compat: Option<bool>,
}

/// LISTEN only: the dump that skips the host-wide established hash, so it costs microseconds
/// in any namespace.
pub const LISTEN_STATES: u32 = 1 << 10;
/// TCP_BOUND_INACTIVE (Linux 6.8; older kernels ignore the bit): bound, never listening. Its
/// dump walks the host-wide bind hash, tens of milliseconds per namespace on a busy host.
pub const BOUND_INACTIVE: u32 = 1 << 13;

fn family_code(family: Family) -> u8 {
    match family {
        Family::Ipv4 => libc_af::INET,
        Family::Ipv6 => libc_af::INET6,
    }
}

fn proto_code(proto: Proto) -> u8 {
    match proto {
        Proto::Tcp => 6,
        Proto::Udp => 17,
    }
}

/// `bytecode` as an INET_DIAG_REQ_BYTECODE attribute.
fn put_filter(m: &mut Vec<u8>, bytecode: &[u8]) {
    RtAttr {
        len: u16::try_from(RtAttr::SIZE + bytecode.len()).unwrap_or(u16::MAX),
        ty: INET_DIAG_REQ_BYTECODE,
    }
    .write(m);
    m.extend_from_slice(bytecode);
}

/// A missing table (IPv6 disabled, UDP diag module not loaded) is an empty one.
fn absent_is_empty(r: nix::Result<()>) -> nix::Result<()> {
    match r {
        Err(nix::Error::ENOENT | nix::Error::EAFNOSUPPORT) => Ok(()),
        r => r,
    }
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
            compat: None,
        }
    }

    /// Dumps TCP with one v2 request per family, as on kernels that dropped TCPDIAG_GETSOCK
    /// (for the test that compares both ways).
    #[doc(hidden)]
    #[must_use]
    pub fn without_tcpdiag_getsock(mut self) -> Self {
        self.compat = Some(false);
        self
    }

    /// The socket itself (to keep it, or to hand it to another thread).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// Points this dumper and its receive buffer at another sock_diag socket (the one before
    /// is closed): reading many namespaces once needs one buffer, not one each.
    pub fn set_fd(&mut self, fd: OwnedFd) {
        self.fd = fd;
    }

    /// TCP listeners (and, with `bound`, bound-inactive sockets) and every UDP socket of the
    /// socket's namespace: the cheap view used for namespaces that are not in focus.
    pub fn listening_sockets(&mut self, bound: bool) -> nix::Result<Vec<Socket>> {
        let mut out = Vec::new();
        self.listening_into(bound, &mut out).map(|()| out)
    }

    /// [`Dumper::listening_sockets`], appended to `out`.
    pub fn listening_into(&mut self, bound: bool, out: &mut Vec<Socket>) -> nix::Result<()> {
        let tcp = if bound {
            LISTEN_STATES | BOUND_INACTIVE
        } else {
            LISTEN_STATES
        };
        for (proto, states) in [(Proto::Tcp, tcp), (Proto::Udp, ALL_STATES)] {
            self.states = states;
            for family in [Family::Ipv4, Family::Ipv6] {
                let r = self.dump(family, proto, None, |msg| {
                    if let Some(s) = parse_msg(msg, proto) {
                        out.push(s);
                    }
                });
                if let Err(e) = absent_is_empty(r) {
                    self.states = ALL_STATES;
                    return Err(e);
                }
            }
        }
        self.states = ALL_STATES;
        Ok(())
    }

    /// A netlink header of type `ty` for a message of `total` bytes; the caller appends the rest.
    fn header(&mut self, ty: u16, flags: u16, total: usize) -> Vec<u8> {
        self.seq = self.seq.wrapping_add(1);
        let mut m = Vec::with_capacity(total);
        NlMsgHdr {
            len: u32::try_from(total).unwrap_or(u32::MAX),
            ty,
            flags: NLM_F_REQUEST | flags,
            seq: self.seq,
            pid: 0,
        }
        .write(&mut m);
        m
    }

    /// A complete inet_diag_req_v2 message: no extensions (SKV6ONLY is sent unasked for
    /// LISTEN/CLOSE sockets), the given states and socket id, and an optional filter.
    fn request_v2(
        &mut self,
        ty: u16,
        flags: u16,
        (family, proto): (Family, Proto),
        states: u32,
        id: InetDiagSockId,
        bytecode: Option<&[u8]>,
    ) -> Vec<u8> {
        let filter = bytecode.map_or(0, |b| RtAttr::SIZE + b.len());
        let mut m = self.header(ty, flags, NlMsgHdr::SIZE + InetDiagReqV2::SIZE + filter);
        InetDiagReqV2 {
            family: family_code(family),
            protocol: proto_code(proto),
            ext: 0,
            pad: 0,
            states,
            id,
        }
        .write(&mut m);
        if let Some(b) = bytecode {
            put_filter(&mut m, b);
        }
        m
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

    /// Runs one dump of one family and hands every `inet_diag_msg` (with its attributes) to `f`.
    fn dump(
        &mut self,
        family: Family,
        proto: Proto,
        bytecode: Option<&[u8]>,
        f: impl FnMut(&[u8]),
    ) -> nix::Result<()> {
        let m = self.request_v2(
            SOCK_DIAG_BY_FAMILY,
            NLM_F_DUMP,
            (family, proto),
            self.states,
            InetDiagSockId::default(),
            bytecode,
        );
        self.send(&m)?;
        self.receive(f)
    }

    /// Every TCP socket of both families. One TCPDIAG_GETSOCK request walks the kernel's TCP
    /// hash tables once for both; where the kernel no longer answers it, one v2 dump per family.
    fn dump_tcp(&mut self, bytecode: Option<&[u8]>, mut f: impl FnMut(&[u8])) -> nix::Result<()> {
        if self.compat != Some(false) {
            let filter = bytecode.map_or(0, |b| RtAttr::SIZE + b.len());
            let mut m = self.header(
                TCPDIAG_GETSOCK,
                NLM_F_DUMP,
                NlMsgHdr::SIZE + InetDiagReq::SIZE + filter,
            );
            InetDiagReq {
                family: libc_af::INET,
                states: self.states,
                ..Default::default()
            }
            .write(&mut m);
            if let Some(b) = bytecode {
                put_filter(&mut m, b);
            }
            self.send(&m)?;
            let mut got = 0usize;
            match self.receive(|msg| {
                got += 1;
                f(msg);
            }) {
                Ok(()) => {
                    self.compat = Some(true);
                    return Ok(());
                }
                // Refused before anything was sent: this kernel dropped the old request.
                Err(nix::Error::EINVAL | nix::Error::EOPNOTSUPP | nix::Error::ENOENT)
                    if got == 0 && self.compat.is_none() =>
                {
                    self.compat = Some(false);
                }
                Err(e) => return Err(e),
            }
        }
        for family in [Family::Ipv4, Family::Ipv6] {
            absent_is_empty(self.dump(family, Proto::Tcp, bytecode, &mut f))?;
        }
        Ok(())
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
        let id = InetDiagSockId {
            sport: port,
            ..Default::default()
        };
        let m = self.request_v2(
            SOCK_DIAG_BY_FAMILY,
            NLM_F_DUMP,
            (family, proto),
            states,
            id,
            None,
        );
        self.send(&m)?;
        let mut out = Vec::new();
        absent_is_empty(self.receive(|msg| {
            if let Some(s) = parse_msg(msg, proto)
                && s.local_port == port
            {
                out.push(s);
            }
        }))?;
        Ok(out)
    }

    /// Reads the answers to the last request until NLMSG_DONE or an error.
    fn receive(&mut self, mut f: impl FnMut(&[u8])) -> nix::Result<()> {
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())?;
            let mut rest = &self.buf[..n];
            while let Some(h) = NlMsgHdr::read(rest) {
                let len = h.len as usize;
                if len < NlMsgHdr::SIZE || len > rest.len() {
                    return Err(nix::Error::EBADMSG);
                }
                if h.seq == self.seq {
                    let body = &rest[NlMsgHdr::SIZE..len];
                    match h.ty {
                        NLMSG_DONE => return Ok(()),
                        NLMSG_ERROR => return nlmsg_error(body),
                        SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => f(body),
                        _ => {}
                    }
                }
                rest = rest.get(abi::align4(len)..).unwrap_or(&[]);
            }
        }
    }

    /// Closes one socket with SOCK_DESTROY (what `ss -K` does): the kernel aborts it as if reset.
    /// The request carries the socket's cookie, so a socket that reuses the same addresses since
    /// the snapshot is not touched (the kernel answers ENOENT/ESTALE).
    pub fn destroy(&mut self, s: &Socket) -> nix::Result<()> {
        let mut id = InetDiagSockId {
            sport: s.local_port,
            dport: s.remote_port,
            src: addr_bytes(s.local_addr),
            dst: addr_bytes(s.remote_addr),
            ifindex: 0, // any interface
            cookie: [0; 2],
        };
        id.set_cookie(s.cookie);
        let m = self.request_v2(
            SOCK_DESTROY,
            NLM_F_ACK,
            (s.family, s.proto),
            ALL_STATES,
            id,
            None,
        );
        self.send(&m)?;
        let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())?;
        let buf = &self.buf[..n];
        match NlMsgHdr::read(buf) {
            Some(h) if h.ty == NLMSG_ERROR => nlmsg_error(&buf[NlMsgHdr::SIZE..]),
            _ => Err(nix::Error::EBADMSG),
        }
    }

    /// Every TCP and UDP socket of both families in this namespace.
    pub fn all_sockets(&mut self) -> nix::Result<Vec<Socket>> {
        self.all_sockets_with(&mut AutoboundMemo::default())
    }

    /// Like [`Dumper::all_sockets`], with the autobound marks of sockets seen before taken from
    /// `memo` (see [`autobound`]): a refresh asks the kernel only about new sockets.
    pub fn all_sockets_with(&mut self, memo: &mut AutoboundMemo) -> nix::Result<Vec<Socket>> {
        self.sockets_with(memo, ALL_STATES)
    }

    /// Every UDP socket and the TCP sockets in `tcp_states` (a mask of 1 << kernel state), with
    /// autobound marks as in [`Dumper::all_sockets_with`]. A mask of LISTEN alone makes the
    /// kernel skip its established hash, so this costs what the listeners cost, not what the
    /// connections do. The memo keeps the marks of TCP sockets such a partial dump did not see.
    pub fn sockets_with(
        &mut self,
        memo: &mut AutoboundMemo,
        tcp_states: u32,
    ) -> nix::Result<Vec<Socket>> {
        let partial = tcp_states != ALL_STATES;
        // Sized once: growing a 10+ MB vector by doubling copies it on the heap and leaves
        // the old block resident, which was most of the peak memory at 100k sockets.
        let mut out = if partial {
            Vec::new()
        } else {
            Vec::with_capacity(sockstat_estimate())
        };
        let r = self.sockets_into(memo, tcp_states, &mut out);
        self.states = ALL_STATES;
        r.map(|()| out)
    }

    fn sockets_into(
        &mut self,
        memo: &mut AutoboundMemo,
        tcp_states: u32,
        out: &mut Vec<Socket>,
    ) -> nix::Result<()> {
        let partial = tcp_states != ALL_STATES;
        // The mask is TCP's: every UDP socket is wanted (unconnected ones are in CLOSE).
        self.states = tcp_states;
        self.dump_tcp(None, |msg| {
            if let Some(s) = parse_msg(msg, Proto::Tcp) {
                out.push(s);
            }
        })?;
        self.states = ALL_STATES;
        for family in [Family::Ipv4, Family::Ipv6] {
            absent_is_empty(self.dump(family, Proto::Udp, None, |msg| {
                if let Some(s) = parse_msg(msg, Proto::Udp) {
                    out.push(s);
                }
            }))?;
        }
        let (tcp, udp) = memo.apply_known(out);
        // Without a new socket that can be autobound, no second dump: for TCP it walks the
        // host-wide established hash, tens of ms on a busy host even for an empty namespace.
        // Its answers mark the sockets in place (no list of cookies beside the table).
        let asked = autobound::asked_states(tcp_states);
        if let Some((lo, hi)) = tcp.range
            && asked != 0
        {
            let filter = autobound::filter(lo, hi);
            self.states = asked;
            let r = self.dump_tcp(Some(&filter), |msg| {
                if let Some(m) = InetDiagMsg::read(msg) {
                    memo.mark(out, (Proto::Tcp, m.id.cookie()));
                }
            });
            self.states = ALL_STATES;
            r?;
        }
        if let Some((lo, hi)) = udp.range {
            let filter = autobound::filter(lo, hi);
            for family in [Family::Ipv4, Family::Ipv6] {
                absent_is_empty(self.dump(family, Proto::Udp, Some(&filter), |msg| {
                    if let Some(m) = InetDiagMsg::read(msg) {
                        memo.mark(out, (Proto::Udp, m.id.cookie()));
                    }
                }))?;
            }
        }
        memo.learn(out, !partial);
        Ok(())
    }
}

/// The errno of an NLMSG_ERROR payload (0 is an acknowledgement).
fn nlmsg_error(body: &[u8]) -> nix::Result<()> {
    let errno = match body.first_chunk::<4>() {
        Some(b) => -i32::from_ne_bytes(*b),
        None => libc_errno::EPROTO,
    };
    if errno == 0 {
        Ok(())
    } else {
        Err(nix::Error::from_raw(errno))
    }
}

/// How many sockets the namespace's tables hold now (in use, plus TIME_WAIT), from
/// /proc/net/sockstat{,6} of the calling thread's namespace; a little over, never a bound.
pub fn sockstat_estimate() -> usize {
    let mut n = 64;
    for file in ["sockstat", "sockstat6"] {
        let Ok(text) = crate::kernel_file::read(format!("/proc/thread-self/net/{file}")) else {
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
