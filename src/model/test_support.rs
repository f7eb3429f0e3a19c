//! Builders for synthetic snapshots, for table tests of the pure derivations.

use super::*;
use std::net::Ipv4Addr;

pub fn snapshot(sockets: Vec<Socket>) -> Snapshot {
    Snapshot {
        version: JSON_VERSION,
        taken_at: jiff::Timestamp::UNIX_EPOCH,
        source: Source::Netlink,
        netns: NetnsInfo {
            target: "current".into(),
            inode: 4_026_531_840,
            is_own: true,
        },
        sysctl: Sysctls::default(),
        stats: Stats::default(),
        warnings: Vec::new(),
        sockets,
        namespaces: Vec::new(),
        node_port_range: None,
    }
}

pub fn owner(pid: u32, comm: &str) -> Arc<Owner> {
    Arc::new(Owner {
        pid,
        comm: comm.into(),
        cmdline: comm.into(),
        uid: 0,
        user: "root".into(),
        start_time: 1000 + u64::from(pid),
        unit: None,
        container: None,
        nspid: vec![pid],
        workload: None,
        user_unit: None,
        exe: None,
    })
}

fn base(local_port: u16, remote_port: u16, state: State) -> Socket {
    Socket {
        proto: Proto::Tcp,
        family: Family::Ipv4,
        state,
        local_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        local_port,
        remote_addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        remote_port,
        inode: 10_000 + u64::from(local_port) * 7 + u64::from(remote_port),
        cookie: 0,
        uid: 0,
        rx_queue: 0,
        tx_queue: 0,
        autobound: false,
        v6only: None,
        expires_ms: None,
        kernel_held: false,
        owner_hidden: false,
        accept_queue: false,
        owners: Arc::from([owner(100 + u32::from(local_port % 50), "svc")]),
        published: None,
        netns: 0,
    }
}

pub fn listener(port: u16) -> Socket {
    let mut s = base(port, 0, State::Listen);
    s.local_addr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    s.remote_addr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    s
}

pub fn outgoing(local: u16, remote: u16) -> Socket {
    let mut s = base(local, remote, State::Established);
    s.autobound = true;
    s
}

pub fn with_state(mut s: Socket, state: State) -> Socket {
    s.state = state;
    if state == State::TimeWait {
        s.kernel_held = true;
        s.inode = 0;
        s.autobound = false;
        s.expires_ms = Some(42_000);
        s.owners = no_owners();
    }
    s
}
