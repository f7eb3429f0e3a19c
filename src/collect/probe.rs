//! The kernel's own verdict on a bind: a throw-away socket bound to the address and port, once
//! without and once with SO_REUSEADDR, never listened on, closed at once. Whether the sockets in
//! the way set SO_REUSEADDR is invisible in every table; trying is the only exact answer, and it
//! disturbs nothing.

use super::netns::NetnsTarget;
use crate::model::Proto;
pub use crate::model::probe::{BindOptions, BindOutcome, ProbeResult, ServiceUser};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, setsockopt, socket, sockopt,
};
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

fn errno_name(e: nix::Error) -> String {
    // nix's Debug form is the symbolic name (EADDRINUSE); Display adds the description.
    format!("{e:?}")
}

fn try_bind(proto: Proto, addr: IpAddr, port: u16, reuse: bool, opts: &BindOptions) -> BindOutcome {
    let (family, ty) = (
        match addr {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        },
        match proto {
            Proto::Tcp => SockType::Stream,
            Proto::Udp => SockType::Datagram,
        },
    );
    let fd = match socket(family, ty, SockFlag::SOCK_CLOEXEC, None) {
        Ok(fd) => fd,
        Err(e) => return BindOutcome::Errno(errno_name(e)),
    };
    let set = || -> nix::Result<()> {
        if reuse {
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
        }
        if opts.reuseport {
            setsockopt(&fd, sockopt::ReusePort, &true)?;
        }
        // Unasked, the namespace's net.ipv6.bindv6only decides, as for the service.
        if addr.is_ipv6() && opts.v6only {
            setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
        }
        if opts.freebind {
            setsockopt(&fd, sockopt::IpFreebind, &true)?;
        }
        Ok(())
    };
    if let Err(e) = set() {
        return BindOutcome::Errno(errno_name(e));
    }
    let r = match addr {
        IpAddr::V4(a) => bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(a, port)),
        ),
        IpAddr::V6(a) => bind(
            fd.as_raw_fd(),
            &SockaddrIn6::from(SocketAddrV6::new(a, port, 0, 0)),
        ),
    };
    // fd drops here: the socket never listened, so it leaves no trace (not even TIME_WAIT).
    match r {
        Ok(()) => BindOutcome::Ok,
        Err(e) => BindOutcome::Errno(errno_name(e)),
    }
}

/// Both binds, on a thread of their own that takes the service user's credentials: on Linux a
/// thread's credentials are its own (the raw syscalls, not libc's process-wide wrappers), so the
/// rest of portscope keeps root. A new thread inherits its creator's network namespace.
fn both(proto: Proto, addr: IpAddr, port: u16, opts: &BindOptions) -> (BindOutcome, BindOutcome) {
    let Some(user) = opts.user else {
        return (
            try_bind(proto, addr, port, false, opts),
            try_bind(proto, addr, port, true, opts),
        );
    };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                if let Err(e) = become_user(user) {
                    let o = BindOutcome::NotTried(format!("cannot become uid {}: {e}", user.uid));
                    return (o.clone(), o);
                }
                (
                    try_bind(proto, addr, port, false, opts),
                    try_bind(proto, addr, port, true, opts),
                )
            })
            .join()
            .unwrap_or_else(|_| {
                let o = BindOutcome::NotTried("probe thread panicked".into());
                (o.clone(), o)
            })
    })
}

/// Drops this thread to the user: groups, gid, then uid (after which the kernel clears the
/// thread's capabilities, as for a service started as that user).
fn become_user(u: ServiceUser) -> std::io::Result<()> {
    use rustix::process::{Gid, Uid};
    use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};
    let groups: Vec<Gid> = supplementary_groups(u)
        .into_iter()
        .map(Gid::from_raw)
        .collect();
    set_thread_groups(&groups)?;
    let g = Gid::from_raw(u.gid);
    set_thread_res_gid(g, g, g)?;
    let id = Uid::from_raw(u.uid);
    set_thread_res_uid(id, id, id)?;
    Ok(())
}

fn supplementary_groups(u: ServiceUser) -> Vec<u32> {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(u.uid))
        .ok()
        .flatten();
    let Some(user) = user else {
        return vec![u.gid];
    };
    let Ok(name) = std::ffi::CString::new(user.name) else {
        return vec![u.gid];
    };
    nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(u.gid)).map_or_else(
        |_| vec![u.gid],
        |g| g.into_iter().map(nix::unistd::Gid::as_raw).collect(),
    )
}

/// Probes inside the target namespace. A failure to enter it is reported, not raised.
pub fn probe(netns: &NetnsTarget, proto: Proto, addr: IpAddr, port: u16) -> ProbeResult {
    probe_as(netns, proto, addr, port, &BindOptions::default())
}

/// Probes as the service binds. When its user gets EACCES and portscope itself may bind the
/// port, a third bind with portscope's own privileges says whether the port is also in use
/// (the kernel checks privilege before conflicts, so EACCES hides a conflict).
pub fn probe_as(
    netns: &NetnsTarget,
    proto: Proto,
    addr: IpAddr,
    port: u16,
    opts: &BindOptions,
) -> ProbeResult {
    let may_privileged = has_net_bind_service();
    let me = nix::unistd::geteuid();
    if let Some(u) = opts.user
        && u.uid != me.as_raw()
        && !me.is_root()
    {
        return ProbeResult::not_run(format!(
            "probing as uid {} needs root (run with sudo)",
            u.uid
        ));
    }
    match netns.run_in(|| {
        let (plain, reuse) = both(proto, addr, port, opts);
        let privileged = (opts.user.is_some() && plain.is("EACCES") && may_privileged).then(|| {
            let own = BindOptions {
                user: None,
                ..*opts
            };
            try_bind(proto, addr, port, false, &own)
        });
        let address = match addr {
            IpAddr::V6(a) if !a.is_unspecified() && a.to_ipv4_mapped().is_none() => {
                super::addresses::ipv6_state(a)
            }
            _ => None,
        };
        (plain, reuse, privileged, address)
    }) {
        Ok((plain, reuse, privileged, address)) => ProbeResult {
            plain: Some(plain),
            reuseaddr: Some(reuse),
            not_run: None,
            privileged,
            address,
        },
        Err(e) => ProbeResult::not_run(format!("the bind probe could not run: {e}")),
    }
}

/// Whether this process may bind ports below ip_unprivileged_port_start (CAP_NET_BIND_SERVICE
/// in its effective set; root normally has it).
pub fn has_net_bind_service() -> bool {
    const CAP_NET_BIND_SERVICE: u32 = 10;
    crate::kernel_file::read("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << CAP_NET_BIND_SERVICE) != 0)
}

/// The pids of the session this process runs in, parent first, up to (not including) pid 1: a
/// remedy that stops one of them ends the operator's own session.
pub fn session_ancestors() -> Vec<u32> {
    let mut out = Vec::new();
    let mut pid = std::process::id();
    for _ in 0..64 {
        let Ok(stat) = crate::kernel_file::read_lossy(format!("/proc/{pid}/stat")) else {
            break;
        };
        // The fields after the command name (which may hold spaces and parentheses).
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        match ppid {
            Some(p) if p > 1 => {
                out.push(p);
                pid = p;
            }
            _ => break,
        }
    }
    out
}
