//! One TCP socket by its four addresses: the kernel's exact lookup (a hash probe), what a table
//! kept from events asks instead of a dump whenever a socket changed.

use super::abi::{InetDiagSockId, NlMsgHdr};
use super::parse::{addr_bytes, parse_msg};
use super::{Dumper, NLMSG_ERROR, SOCK_DIAG_BY_FAMILY, nlmsg_error};
use crate::model::{Family, Proto, Socket};
use nix::sys::socket::{MsgFlags, recv};
use std::net::IpAddr;
use std::os::fd::AsRawFd;

/// Every TCP state the lookup may answer with (the request's mask is not consulted by an
/// exact lookup, but a listener the kernel falls back to is filtered out below).
const ANY: u32 = super::ALL_STATES;

impl Dumper {
    /// The TCP socket of this namespace with exactly these addresses (a connection, a TIME_WAIT
    /// or a request socket), or None. The kernel's lookup falls back to a listener on the local
    /// port when no connection matches: such an answer is not the socket asked about.
    pub fn exact_tcp(
        &mut self,
        family: Family,
        local: (IpAddr, u16),
        remote: (IpAddr, u16),
    ) -> nix::Result<Option<Socket>> {
        let mut id = InetDiagSockId {
            sport: local.1,
            dport: remote.1,
            src: addr_bytes(local.0),
            dst: addr_bytes(remote.0),
            ifindex: 0,
            cookie: [0; 2],
        };
        // INET_DIAG_NOCOOKIE: any socket with these addresses, whatever its cookie.
        id.set_cookie(u64::MAX);
        let m = self.request_v2(SOCK_DIAG_BY_FAMILY, 0, (family, Proto::Tcp), ANY, id, None);
        self.send(&m)?;
        // One answer: the socket, or an error (ENOENT when there is none). Answers to earlier
        // requests cannot be waiting: every request on this socket reads its reply whole.
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty())?;
            let buf = &self.buf[..n];
            let Some(h) = NlMsgHdr::read(buf) else {
                return Err(nix::Error::EBADMSG);
            };
            if h.seq != self.seq {
                continue;
            }
            let body = buf
                .get(NlMsgHdr::SIZE..(h.len as usize).min(n))
                .unwrap_or(&[]);
            return match h.ty {
                NLMSG_ERROR => match nlmsg_error(body) {
                    Err(nix::Error::ENOENT) => Ok(None),
                    Err(e) => Err(e),
                    Ok(()) => Ok(None),
                },
                SOCK_DIAG_BY_FAMILY => Ok(parse_msg(body, Proto::Tcp).filter(|s| {
                    s.local_port == local.1
                        && s.remote_port == remote.1
                        && s.local_addr == local.0
                        && s.remote_addr == remote.0
                })),
                _ => Err(nix::Error::EBADMSG),
            };
        }
    }
}
