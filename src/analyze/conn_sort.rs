//! Ordering the Connections table by any of its columns.

use crate::model::{Socket, State};
use std::cmp::Ordering;

/// A column of the Connections table (or of `snapshot`) to sort by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Proto,
    State,
    /// Local address, then port.
    Local,
    /// Local port, then address: "which service port".
    LocalPort,
    /// Remote address, then port.
    Remote,
    RemotePort,
    /// The mark column: kernel-chosen ports first, then by how soon the kernel frees the socket.
    Mark,
    /// The first owner's command, then pid; sockets without a known owner last.
    Process,
    Pid,
    User,
    /// Bytes queued: receive plus send.
    Queue,
}

impl SortKey {
    pub const ALL: [SortKey; 11] = [
        SortKey::Proto,
        SortKey::State,
        SortKey::Local,
        SortKey::LocalPort,
        SortKey::Remote,
        SortKey::RemotePort,
        SortKey::Mark,
        SortKey::Process,
        SortKey::Pid,
        SortKey::User,
        SortKey::Queue,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Proto => "proto",
            SortKey::State => "state",
            SortKey::Local => "local",
            SortKey::LocalPort => "sport",
            SortKey::Remote => "remote",
            SortKey::RemotePort => "dport",
            SortKey::Mark => "mark",
            SortKey::Process => "process",
            SortKey::Pid => "pid",
            SortKey::User => "user",
            SortKey::Queue => "queue",
        }
    }

    /// Compares two sockets by this column alone.
    pub fn compare(self, a: &Socket, b: &Socket) -> Ordering {
        match self {
            SortKey::Proto => a.proto.cmp(&b.proto),
            SortKey::State => state_rank(a.state).cmp(&state_rank(b.state)),
            SortKey::Local => (a.local_addr, a.local_port).cmp(&(b.local_addr, b.local_port)),
            SortKey::LocalPort => (a.local_port, a.local_addr).cmp(&(b.local_port, b.local_addr)),
            SortKey::Remote => (a.remote_addr, a.remote_port).cmp(&(b.remote_addr, b.remote_port)),
            SortKey::RemotePort => {
                (a.remote_port, a.remote_addr).cmp(&(b.remote_port, b.remote_addr))
            }
            SortKey::Mark => mark_rank(a).cmp(&mark_rank(b)),
            SortKey::Process => {
                owner_last(a, b, |s| s.owners.first().map(|o| (o.comm.raw(), o.pid)))
            }
            SortKey::Pid => owner_last(a, b, |s| s.owners.first().map(|o| o.pid)),
            SortKey::User => owner_last(a, b, |s| s.owners.first().map(|o| o.user.raw())),
            SortKey::Queue => (u64::from(a.rx_queue) + u64::from(a.tx_queue))
                .cmp(&(u64::from(b.rx_queue) + u64::from(b.tx_queue))),
        }
    }
}

impl std::str::FromStr for SortKey {
    type Err = crate::model::UnknownName;
    fn from_str(s: &str) -> Result<SortKey, crate::model::UnknownName> {
        let want = s.to_ascii_lowercase();
        let alias = match want.as_str() {
            "peer" => Some(SortKey::Remote),
            "comm" | "proc" => Some(SortKey::Process),
            "lport" => Some(SortKey::LocalPort),
            "rport" => Some(SortKey::RemotePort),
            _ => None,
        };
        alias
            .or_else(|| SortKey::ALL.into_iter().find(|k| k.name() == want))
            .ok_or_else(|| {
                let names: Vec<_> = SortKey::ALL.iter().map(|k| k.name()).collect();
                crate::model::UnknownName::try_one_of("sort column", s, &names)
            })
    }
}

/// Sorts `rows` (indices into `sockets`) by `key`; equal rows keep their order, so sorting by
/// one column and then another groups by the second and orders by the first within it.
pub fn sort_rows(sockets: &[Socket], rows: &mut [usize], key: SortKey, descending: bool) {
    rows.sort_by(|&a, &b| {
        let ord = key.compare(&sockets[a], &sockets[b]);
        if descending { ord.reverse() } else { ord }
    });
}

/// States in the order of a connection's life, not of the enum's spelling.
fn state_rank(s: State) -> u8 {
    match s {
        State::Listen => 0,
        State::Unconn => 1,
        State::BoundInactive => 2,
        State::SynSent => 3,
        State::SynRecv => 4,
        State::Established => 5,
        State::FinWait1 => 6,
        State::FinWait2 => 7,
        State::CloseWait => 8,
        State::Closing => 9,
        State::LastAck => 10,
        State::TimeWait => 11,
        State::Close => 12,
    }
}

fn mark_rank(s: &Socket) -> (u8, u32) {
    match (s.autobound, s.expires_ms) {
        (true, _) => (0, 0),
        (false, Some(ms)) => (1, ms),
        (false, None) => (2, 0),
    }
}

/// Orders by `f`, with sockets whose owner is unknown (kernel-held, hidden) after the rest.
fn owner_last<'a, T: Ord>(
    a: &'a Socket,
    b: &'a Socket,
    f: impl Fn(&'a Socket) -> Option<T>,
) -> Ordering {
    match (f(a), f(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, outgoing, owner, with_state};
    use std::sync::Arc;

    fn sorted(socks: &[Socket], key: SortKey, desc: bool) -> Vec<usize> {
        let mut rows: Vec<usize> = (0..socks.len()).collect();
        sort_rows(socks, &mut rows, key, desc);
        rows
    }

    #[test]
    fn every_column_sorts_and_ties_keep_their_order() {
        let mut a = outgoing(45000, 5432);
        a.owners = Arc::from([owner(300, "zeta")]);
        a.rx_queue = 10;
        let mut b = listener(80);
        b.owners = Arc::from([owner(200, "alpha")]);
        let c = with_state(outgoing(8080, 41000), State::TimeWait);
        let mut d = outgoing(40000, 443);
        d.owners = Arc::from([owner(100, "alpha")]);
        d.remote_addr = "10.0.0.9".parse().expect("an address");
        d.tx_queue = 5;
        let socks = [a, b, c, d];
        assert_eq!(sorted(&socks, SortKey::State, false), [1, 0, 3, 2]);
        assert_eq!(sorted(&socks, SortKey::LocalPort, false), [1, 2, 3, 0]);
        assert_eq!(sorted(&socks, SortKey::LocalPort, true), [0, 3, 2, 1]);
        assert_eq!(sorted(&socks, SortKey::RemotePort, false), [1, 3, 0, 2]);
        assert_eq!(
            sorted(&socks, SortKey::Remote, false),
            [1, 3, 0, 2],
            "0.0.0.0 < 10.0.0.9 < 127.0.0.1"
        );
        assert_eq!(
            sorted(&socks, SortKey::Process, false),
            [3, 1, 0, 2],
            "alpha 100, alpha 200, zeta; the kernel's last"
        );
        assert_eq!(sorted(&socks, SortKey::Pid, false), [3, 1, 0, 2]);
        assert_eq!(sorted(&socks, SortKey::Queue, true), [0, 3, 1, 2]);
        assert_eq!(
            sorted(&socks, SortKey::Mark, false),
            [0, 3, 2, 1],
            "auto, then frees-in, then none"
        );
        assert_eq!(
            sorted(&socks, SortKey::Proto, false),
            [0, 1, 2, 3],
            "all tcp: as given"
        );
        assert_eq!(sorted(&socks, SortKey::User, false), [0, 1, 3, 2]);
        assert_eq!(sorted(&socks, SortKey::Local, false), [1, 2, 3, 0]);
    }

    #[test]
    fn names_parse_back() {
        for k in SortKey::ALL {
            assert_eq!(k.name().parse::<SortKey>(), Ok(k));
        }
        assert_eq!("peer".parse::<SortKey>(), Ok(SortKey::Remote));
        let e = "colour"
            .parse::<SortKey>()
            .expect_err("unknown")
            .to_string();
        assert!(e.contains("\"colour\"") && e.contains("process"), "{e}");
    }
}
