//! The answer to "why was it refused", worked out right after each refusal, in the caller's
//! own network namespace: who holds the port (EADDRINUSE), where the privileged line is and what
//! the caller had (EACCES), whether the address is there (bind EADDRNOTAVAIL), and what is left
//! of the local ports toward the destination (connect EADDRNOTAVAIL).
//!
//! A storm of refusals costs one look per port and namespace per batch, not one per refusal:
//! refusals that arrive together share their holders, and a namespace's table is read for refused connects at
//! most once every [`DEST_TTL`].

use super::caller::Caller;
use super::kernel::{Call, Raw};
use super::{Holder, Privilege, Refusal, Request, SocketOptions};
use crate::collect::allns::pool::NetnsPool;
use crate::collect::owner_cache::OwnerCache;
use crate::model::{Family, Proto, Socket, State};
use std::collections::HashMap;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A namespace's table is read again for refused connects after this.
pub const DEST_TTL: Duration = Duration::from_secs(2);
/// Holders listed per refusal; the rest are counted.
const HOLDERS_SHOWN: usize = 8;
/// Namespaces whose sock_diag socket is kept between batches.
const NAMESPACES_KEPT: usize = 64;

pub struct Answerer {
    pool: NetnsPool,
    own: u64,
    owners: OwnerCache,
    /// Each namespace's socket table, as last read for a refused connect().
    destinations: HashMap<u64, (Instant, Option<crate::model::Snapshot>)>,
    sysctls: HashMap<u64, (Instant, NsSysctls)>,
}

#[derive(Debug, Clone, Copy, Default)]
struct NsSysctls {
    /// Read in portscope's namespace because the caller's was gone.
    assumed: bool,
    unprivileged_port_start: Option<u16>,
    nonlocal_bind: Option<bool>,
}

impl Default for Answerer {
    fn default() -> Self {
        Self::new()
    }
}

impl Answerer {
    pub fn new() -> Answerer {
        Answerer {
            pool: NetnsPool::default(),
            own: crate::collect::netns::current_inode(),
            owners: OwnerCache::default(),
            destinations: HashMap::new(),
            sysctls: HashMap::new(),
        }
    }

    /// Answers a batch of refusals (in time order).
    pub fn answer_all(&mut self, batch: Vec<(&Raw, Caller)>) -> Vec<Refusal> {
        // Holders per (namespace, protocol, port), read once for the batch, owners joined in
        // one pass over /proc for all of them.
        type Key = (Option<u64>, Option<Proto>, u16);
        let mut keys: Vec<Key> = Vec::new();
        let mut read: Vec<Result<Vec<Socket>, String>> = Vec::new();
        for (raw, c) in &batch {
            let key = (c.netns, c.proto, raw.port);
            if raw.call == Call::Bind
                && raw.errno == nix::libc::EADDRINUSE
                && raw.port != 0
                && !keys.contains(&key)
            {
                keys.push(key);
                read.push(self.port_holders(c, raw.port));
            }
        }
        let mut flat: Vec<Socket> = read
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .flatten()
            .cloned()
            .collect();
        super::super::owner::attach_with(&mut flat, &mut self.owners);
        let mut flat = flat.into_iter();
        let holders: HashMap<Key, Result<Vec<Socket>, String>> = keys
            .into_iter()
            .zip(read)
            .map(|(k, r)| {
                let r = r.map(|list| flat.by_ref().take(list.len()).collect());
                (k, r)
            })
            .collect();
        batch
            .into_iter()
            .map(|(raw, c)| {
                let found = holders.get(&(c.netns, c.proto, raw.port)).cloned();
                self.answer(raw, &c, found)
            })
            .collect()
    }

    fn handle(c: &Caller) -> Option<PathBuf> {
        c.ns_file
            .as_ref()
            .map(|f| PathBuf::from(format!("/proc/self/fd/{}", f.as_raw_fd())))
    }

    /// Every socket on `port` in the caller's namespace, both families (a dual-stack socket
    /// on one family blocks the other), in the caller's protocol or both when unknown.
    fn port_holders(&mut self, c: &Caller, port: u16) -> Result<Vec<Socket>, String> {
        let (Some(ns), Some(handle)) = (c.netns, Self::handle(c)) else {
            return Err(super::super::scope::UNKNOWN_NETNS.to_string());
        };
        let d = self
            .pool
            .ensure(self.own, ns, &handle, NAMESPACES_KEPT)
            .map_err(|e| format!("cannot read namespace net:[{ns}]: {e}"))?;
        let mut out = Vec::new();
        for proto in [Proto::Tcp, Proto::Udp] {
            if c.proto.is_some_and(|p| p != proto) {
                continue;
            }
            for family in [Family::Ipv4, Family::Ipv6] {
                let states = if proto == Proto::Tcp {
                    super::super::ALL_STATES_AND_BOUND
                } else {
                    0x1fff
                };
                out.extend(
                    d.port_sockets(family, proto, port, states)
                        .map_err(|e| format!("sock_diag: {e}"))?,
                );
            }
        }
        Ok(out)
    }

    /// The caller's namespace's sysctls; portscope's own when the caller's could not be read
    /// (then `assumed` says so).
    fn sysctls(&mut self, c: &Caller) -> NsSysctls {
        let ns = c.netns.unwrap_or(self.own);
        if let Some((at, v)) = self.sysctls.get(&ns)
            && at.elapsed() < DEST_TTL
        {
            return *v;
        }
        let read = || {
            let num = |p: &str| {
                crate::kernel_file::read_lossy(p)
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
            };
            NsSysctls {
                assumed: false,
                unprivileged_port_start: num("/proc/sys/net/ipv4/ip_unprivileged_port_start")
                    .map(|v| v.min(65535) as u16),
                nonlocal_bind: num("/proc/sys/net/ipv4/ip_nonlocal_bind").map(|v| v != 0),
            }
        };
        let v = match Self::handle(c) {
            Some(h) if c.netns.is_some() && ns != self.own => crate::collect::NetnsTarget::Path(h)
                .run_in(read)
                .unwrap_or_default(),
            _ => read(),
        };
        self.sysctls.insert(ns, (Instant::now(), v));
        NsSysctls {
            assumed: c.netns.is_none(),
            ..v
        }
    }

    fn destination(
        &mut self,
        c: &Caller,
        dest: IpAddr,
        port: u16,
    ) -> Option<crate::analyze::connect::PortUse> {
        let ns = c.netns?;
        // One table read per namespace per DEST_TTL, whatever the number of destinations a
        // storm of refused connects names: each destination is counted from it.
        let fresh = self
            .destinations
            .get(&ns)
            .is_some_and(|(at, _)| at.elapsed() < DEST_TTL);
        if !fresh {
            let netns = match Self::handle(c) {
                Some(h) if ns != self.own => crate::collect::NetnsTarget::Path(h),
                _ => crate::collect::NetnsTarget::Current,
            };
            let snap = crate::collect::collect(&crate::collect::CollectOptions {
                netns,
                ..Default::default()
            })
            .ok();
            if self.destinations.len() > 64 {
                self.destinations.clear();
            }
            self.destinations.insert(ns, (Instant::now(), snap));
        }
        let snap = self.destinations.get(&ns)?.1.as_ref()?;
        crate::analyze::connect::toward(snap, dest, Some(port))
            .into_iter()
            .next()
    }

    fn answer(
        &mut self,
        raw: &Raw,
        c: &Caller,
        holders: Option<Result<Vec<Socket>, String>>,
    ) -> Refusal {
        let family = if raw.addr.is_ipv6() {
            Family::Ipv6
        } else {
            Family::Ipv4
        };
        let options = SocketOptions::from_word(raw.options);
        let mut notes = Vec::new();
        if c.netns.is_none() {
            notes.push(super::super::scope::UNKNOWN_NETNS.to_string());
        }
        if c.proto.is_none() {
            notes.push("protocol not read (the socket was closed at once)".to_string());
        }
        let mut r = Refusal {
            time: jiff::Timestamp::from_nanosecond(raw.time_ns)
                .unwrap_or_else(|_| jiff::Timestamp::now()),
            call: raw.call,
            errno: super::errno_name(raw.errno),
            pid: raw.tgid,
            tid: raw.tid,
            comm: raw.comm.clone().into(),
            uid: raw.uid,
            user: crate::collect::users::user_name(raw.uid),
            owner: c.owner.clone(),
            netns: c.netns,
            request: Some(Request {
                family,
                address: raw.addr,
                port: raw.port,
                proto: c.proto,
                options,
            }),
            holders: Vec::new(),
            privilege: None,
            destination: None,
            why: String::new(),
            notes,
        };
        r.why = match (raw.call, raw.errno) {
            (Call::Bind, nix::libc::EADDRINUSE) => match holders {
                Some(Ok(list)) => {
                    let why = in_use_why(raw, &options, &list);
                    if list.len() > HOLDERS_SHOWN {
                        r.notes.push(format!(
                            "{} more sockets on the port",
                            list.len() - HOLDERS_SHOWN
                        ));
                    }
                    r.holders = list.iter().take(HOLDERS_SHOWN).map(Holder::of).collect();
                    why
                }
                Some(Err(e)) => format!(
                    "port {} is in use; its holders could not be read: {e}",
                    raw.port
                ),
                None if raw.port == 0 => {
                    "bind() to port 0 found no free port: the whole ephemeral range is taken".into()
                }
                None => format!("port {} is in use", raw.port),
            },
            (Call::Bind, nix::libc::EACCES) => {
                let sys = self.sysctls(c);
                r.privilege = Some(Privilege {
                    unprivileged_port_start: sys.unprivileged_port_start,
                    cap_net_bind_service: c.cap_net_bind_service,
                });
                let mut why = eacces_why(raw, sys.unprivileged_port_start, c.cap_net_bind_service);
                if sys.assumed {
                    why.push_str(
                        " (the line as in portscope's own namespace: the caller's was gone)",
                    );
                }
                why
            }
            (Call::Bind, _) => {
                let sys = self.sysctls(c);
                format!(
                    "{} is not an address of the caller's network namespace{}",
                    raw.addr,
                    match (options.freebind, sys.nonlocal_bind) {
                        (Some(true), _) | (_, Some(true)) => String::new(),
                        _ => "; IP_FREEBIND on the socket (or net.ipv4.ip_nonlocal_bind=1) lets a service bind it before the address comes up".into(),
                    }
                )
            }
            (Call::Connect, nix::libc::EADDRNOTAVAIL) => {
                let d = self.destination(c, raw.addr, raw.port);
                let why = connect_why(raw, d.as_ref());
                r.destination = d;
                why
            }
            (Call::Connect, _) => format!(
                "the socket's local address and port already have a connection to {}: it was bound to a fixed port before connect()",
                crate::model::Endpoint(raw.addr, raw.port)
            ),
        };
        r
    }
}

/// The sentence for a bind refused with EADDRINUSE, given what holds the port now.
pub fn in_use_why(raw: &Raw, options: &SocketOptions, list: &[Socket]) -> String {
    let port = raw.port;
    if list.is_empty() {
        return format!(
            "nothing holds port {port} any more: the holder let go before it could be read"
        );
    }
    if list.iter().all(|s| s.state == State::TimeWait) {
        let n = list.len();
        let hint = match options.reuseaddr {
            Some(false) => "; the caller did not set SO_REUSEADDR, which binds through them",
            None => "; SO_REUSEADDR on the caller's socket binds through them",
            Some(true) => "",
        };
        return format!("only {n} TIME_WAIT socket(s) hold port {port} (no process){hint}");
    }
    let main = list
        .iter()
        .find(|s| s.state == State::Listen)
        .or_else(|| list.iter().find(|s| s.state != State::TimeWait))
        .unwrap_or(&list[0]);
    let mut why = format!(
        "port {port} is held by {} ({} {} {})",
        main.holder(),
        main.proto,
        crate::model::Endpoint(main.local_addr, main.local_port),
        main.state.ss_name()
    );
    let others = list.len() - 1;
    if others > 0 {
        _ = write!(why, " and {others} more socket(s)");
    }
    let v4 = raw.addr.is_ipv4();
    if list.iter().all(|s| s.local_addr.is_ipv6() == v4) {
        why.push_str(if v4 {
            "; an IPv6 wildcard socket without IPV6_V6ONLY takes the IPv4 port too"
        } else {
            "; a dual-stack [::] bind needs the IPv4 port as well (IPV6_V6ONLY avoids that)"
        });
    }
    if main.autobound {
        why.push_str("; it is an outgoing connection the kernel gave this port (reserve the port in ip_local_reserved_ports)");
    }
    why
}

fn eacces_why(raw: &Raw, start: Option<u16>, cap: Option<bool>) -> String {
    let port = raw.port;
    match start {
        Some(s) if port < s => format!(
            "port {port} is below net.ipv4.ip_unprivileged_port_start ({s}) and the caller {}",
            match cap {
                Some(true) =>
                    "had CAP_NET_BIND_SERVICE only outside the namespace's user namespace",
                Some(false) =>
                    "lacks CAP_NET_BIND_SERVICE (AmbientCapabilities=CAP_NET_BIND_SERVICE in its unit, or setcap)",
                None =>
                    "had no CAP_NET_BIND_SERVICE it could show (it exited before it could be read)",
            }
        ),
        Some(s) => format!(
            "port {port} is not privileged here (ip_unprivileged_port_start is {s}): a security module (SELinux, AppArmor) or a cgroup BPF program refused the bind"
        ),
        None => format!("bind to port {port} refused: permission denied"),
    }
}

fn connect_why(raw: &Raw, d: Option<&crate::analyze::connect::PortUse>) -> String {
    let dst = crate::model::Endpoint(raw.addr, raw.port);
    let Some(d) = d else {
        return format!("no local port was free toward {dst} (its use could not be read)");
    };
    let busiest = d
        .holders
        .first()
        .map(|h| format!("; busiest: {} with {} ports", h.label, h.ports))
        .unwrap_or_default();
    if d.available == 0 {
        format!(
            "no local port left toward {dst}: {} of {} usable ports in use{busiest}",
            d.in_use, d.usable
        )
    } else {
        format!(
            "{} of {} usable ports toward {dst} in use now, {} still free: the caller may have narrowed its own range (IP_LOCAL_PORT_RANGE) or bound its source address first{busiest}",
            d.in_use, d.usable, d.available
        )
    }
}
