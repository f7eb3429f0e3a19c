//! Connections waiting in a listener's accept queue have no file yet (inode 0), so the fd scan
//! finds no process for them; they belong to the listener's process all the same, and killing
//! that process is what frees them. Also: whether this kernel reports bound-but-inactive sockets.

use crate::model::{Proto, Socket, State};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Gives request and not-yet-accepted sockets (SYN_RECV, or ESTABLISHED with inode 0) the
/// owners of the listener they arrived on. Orphans of a closed connection (FIN_WAIT*, LAST_ACK,
/// CLOSING, TIME_WAIT) stay the kernel's.
pub fn attribute(sockets: &mut [Socket]) {
    let mut listeners: FxHashMap<u16, Vec<(IpAddr, usize)>> = FxHashMap::default();
    for (i, s) in sockets.iter().enumerate() {
        if s.proto == Proto::Tcp && s.state == State::Listen {
            listeners
                .entry(s.local_port)
                .or_default()
                .push((s.local_addr, i));
        }
    }
    if listeners.is_empty() {
        return;
    }
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (i, s) in sockets.iter().enumerate() {
        if s.proto != Proto::Tcp
            || s.inode != 0
            || !matches!(s.state, State::SynRecv | State::Established)
        {
            continue;
        }
        let Some(cands) = listeners.get(&s.local_port) else {
            continue;
        };
        // The most specific listener that accepts this address wins, as in the kernel's lookup.
        let best = cands
            .iter()
            .filter(|(a, _)| covers(*a, s.local_addr))
            .max_by_key(|(a, _)| !a.is_unspecified());
        if let Some(&(_, l)) = best {
            found.push((i, l));
        }
    }
    for (i, l) in found {
        let (owners, hidden) = (sockets[l].owners.clone(), sockets[l].owner_hidden);
        let s = &mut sockets[i];
        s.accept_queue = true;
        s.kernel_held = false;
        s.owner_hidden = hidden;
        s.owners = owners;
    }
}

fn covers(listener: IpAddr, local: IpAddr) -> bool {
    if listener.is_unspecified() {
        return match (listener, local) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), _) => true,
            (IpAddr::V4(_), IpAddr::V6(l)) => l.to_ipv4_mapped().is_some(),
        };
    }
    listener == local
        || match (listener, local) {
            (IpAddr::V4(a), IpAddr::V6(b)) => b.to_ipv4_mapped() == Some(a),
            (IpAddr::V6(a), IpAddr::V4(b)) => a.to_ipv4_mapped() == Some(b),
            _ => false,
        }
}

/// Linux 6.8 added TCP_BOUND_INACTIVE to sock_diag; older kernels ignore the request bit.
pub fn kernel_reports_bound_inactive() -> bool {
    crate::kernel_file::read("/proc/sys/kernel/osrelease").is_ok_and(|r| release_at_least_6_8(&r))
}

fn release_at_least_6_8(release: &str) -> bool {
    let mut it = release.trim().split(['.', '-']);
    let num = |p: Option<&str>| p.and_then(|x| x.parse::<u32>().ok());
    matches!((num(it.next()), num(it.next())), (Some(a), Some(b)) if (a, b) >= (6, 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases() {
        assert!(release_at_least_6_8("6.18.0-1-amd64\n"));
        assert!(release_at_least_6_8("6.8.0"));
        assert!(!release_at_least_6_8("6.7.12"));
        assert!(!release_at_least_6_8("5.15.0-91-generic"));
        assert!(!release_at_least_6_8("garbage"));
    }
    use crate::model::test_support::*;

    #[test]
    fn queued_connections_get_the_listeners_owner() {
        let l = listener(8080);
        let mut q = with_state(outgoing(8080, 50000), State::Established);
        q.autobound = false;
        q.inode = 0;
        q.kernel_held = true;
        q.owners = crate::model::no_owners();
        let mut orphan = q.clone();
        orphan.state = State::FinWait2;
        let mut socks = vec![l.clone(), q, orphan];
        attribute(&mut socks);
        assert!(socks[1].accept_queue && !socks[1].kernel_held);
        assert_eq!(socks[1].owners, l.owners);
        assert!(socks[2].kernel_held && !socks[2].accept_queue);
    }
}
