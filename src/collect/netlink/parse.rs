//! One `inet_diag_msg` (and its attributes) as a [`Socket`].

use super::abi::{self, InetDiagMsg};
use crate::model::{Family, Proto, Socket, State};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const INET_DIAG_SKV6ONLY: u16 = 11;
const TIMER_TIMEWAIT: u8 = 3;

pub(super) mod libc_af {
    pub const INET: u8 = 2;
    pub const INET6: u8 = 10;
}

pub(super) mod libc_errno {
    pub const EPROTO: i32 = 71;
}

fn addr(b: &[u8; 16], family: Family) -> IpAddr {
    match family {
        Family::Ipv4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::Ipv6 => IpAddr::V6(Ipv6Addr::from(*b)),
    }
}

pub(super) fn parse_msg(msg: &[u8], proto: Proto) -> Option<Socket> {
    let m = InetDiagMsg::read(msg)?;
    let family = match m.family {
        libc_af::INET => Family::Ipv4,
        libc_af::INET6 => Family::Ipv6,
        _ => return None,
    };
    let state = State::from_kernel(proto, m.state)?;
    let v6only = abi::attrs(msg.get(InetDiagMsg::SIZE..).unwrap_or(&[]))
        .find(|(ty, _)| *ty == INET_DIAG_SKV6ONLY)
        .and_then(|(_, p)| p.first().map(|b| *b != 0));
    let inode = u64::from(m.inode);
    Some(Socket {
        proto,
        family,
        state,
        local_addr: addr(&m.id.src, family),
        local_port: m.id.sport,
        remote_addr: addr(&m.id.dst, family),
        remote_port: m.id.dport,
        inode,
        cookie: m.id.cookie(),
        uid: m.uid,
        rx_queue: m.rqueue,
        tx_queue: m.wqueue,
        autobound: false,
        v6only,
        expires_ms: (m.timer == TIMER_TIMEWAIT).then_some(m.expires),
        kernel_held: inode == 0,
        owner_hidden: false,
        accept_queue: false,
        owners: crate::model::no_owners(),
        published: None,
        netns: 0,
    })
}

pub(super) fn addr_bytes(a: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}
