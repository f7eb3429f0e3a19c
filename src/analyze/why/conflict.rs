//! The kernel's bind-conflict rules as a what-if on the tables: would this existing socket make
//! the service's bind fail? (net/ipv4/inet_connection_sock.c `inet_bind_conflict` for TCP,
//! net/ipv4/udp.c `udp_lib_lport_inuse` for UDP, with the address overlap of
//! `inet_rcv_saddr_equal`.) Two flags of the old socket are in no table (SO_REUSEADDR and
//! SO_REUSEPORT): where the answer turns on them it is `None`, and the kernel's probe settles it.

use super::BindRequest;
use crate::model::{Family, Proto, Socket, State};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One side of an address claim: the wildcard, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim<A> {
    Any,
    Addr(A),
}

impl<A: PartialEq> Claim<A> {
    fn meets(&self, other: &Claim<A>) -> bool {
        match (self, other) {
            (Claim::Addr(a), Claim::Addr(b)) => a == b,
            _ => true,
        }
    }
}

/// What a bound address claims of the IPv4 and the IPv6 address space, as the kernel sees it:
/// `[::]` claims IPv4 too unless v6only; `::ffff:a.b.c.d` is an IPv4 claim; any other IPv6
/// address is implicitly v6only (inet6_bind sets sk_ipv6only for it).
fn claims(addr: IpAddr, v6only: bool) -> (Option<Claim<Ipv4Addr>>, Option<Claim<Ipv6Addr>>) {
    match addr {
        IpAddr::V4(a) if a.is_unspecified() => (Some(Claim::Any), None),
        IpAddr::V4(a) => (Some(Claim::Addr(a)), None),
        IpAddr::V6(a) if a.is_unspecified() => ((!v6only).then_some(Claim::Any), Some(Claim::Any)),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(m) if m.is_unspecified() => (Some(Claim::Any), None),
            Some(m) => (Some(Claim::Addr(m)), None),
            None => (None, Some(Claim::Addr(a))),
        },
    }
}

fn meet<A: PartialEq>(a: Option<Claim<A>>, b: Option<Claim<A>>) -> bool {
    matches!((a, b), (Some(x), Some(y)) if x.meets(&y))
}

/// Whether socket `s` shares the request's protocol, port and address space.
/// `bindv6only` is the namespace default a new `[::]` socket gets (`--v6only` sets it).
pub fn overlaps(req: &BindRequest, s: &Socket, bindv6only: bool) -> bool {
    if s.proto != req.proto || s.local_port != req.port {
        return false;
    }
    let (r4, r6) = claims(req.addr, req.opts.v6only || bindv6only);
    // An IPv6 socket whose v6only flag the kernel did not report is taken as dual-stack: the
    // kernel's default, and the answer that does not hide a blocker.
    let theirs_v6only = s.family == Family::Ipv6 && s.v6only == Some(true);
    let (s4, s6) = claims(s.local_addr, theirs_v6only);
    meet(r4, s4) || meet(r6, s6)
}

/// The rules' answer for one socket: for a plain bind and for one with SO_REUSEADDR.
/// `None`: turns on a flag of the old socket that no table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    pub plain: Option<bool>,
    pub reuseaddr: Option<bool>,
}

impl Conflict {
    pub const NONE: Conflict = Conflict {
        plain: Some(false),
        reuseaddr: Some(false),
    };
}

/// `uid` is the uid the service's socket would have (SO_REUSEPORT groups need the same uid,
/// except against TIME_WAIT).
pub fn judge(req: &BindRequest, s: &Socket, bindv6only: bool, uid: u32) -> Conflict {
    if !overlaps(req, s, bindv6only) {
        return Conflict::NONE;
    }
    let tw = s.state == State::TimeWait;
    // SO_REUSEPORT on both, same owner (or a TIME_WAIT): no conflict. We know ours; theirs is
    // invisible, so the pairing is possible at best.
    let reuseport_may_pair = req.opts.reuseport && (tw || s.uid == uid);
    let unless_their_reuseport = if reuseport_may_pair { None } else { Some(true) };
    match req.proto {
        Proto::Tcp => {
            let plain = unless_their_reuseport;
            // Both SO_REUSEADDR and the old socket not listening: no conflict. Their flag is
            // invisible (a TIME_WAIT keeps the flag of the socket that left it).
            let reuseaddr = if s.state == State::Listen {
                unless_their_reuseport
            } else {
                None
            };
            Conflict { plain, reuseaddr }
        }
        // UDP: both SO_REUSEADDR share the port in any state.
        Proto::Udp => Conflict {
            plain: unless_their_reuseport,
            reuseaddr: None,
        },
    }
}

/// Folds many sockets' answers into one: certain yes beats unknown beats no.
pub fn any(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (None, _) | (_, None) => None,
        _ => Some(false),
    }
}
