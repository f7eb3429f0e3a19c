//! "Why can't my service bind this port?": a pure function of the request, the snapshot and the
//! kernel's probe answers. The CLI prints it; the TUI shows it in a panel.

use crate::collect::NetnsTarget;
use crate::collect::probe::ProbeResult;
use crate::model::{Family, Owner, Proto, Snapshot, Socket, State};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindRequest {
    pub port: u16,
    pub proto: Proto,
    pub addr: IpAddr,
}

/// The port a service would bind: 1-65535. Port 0 asks the kernel for any free port, so a
/// verdict on it would say nothing about the service.
pub fn parse_service_port(text: &str) -> Result<u16, String> {
    let port = crate::portset::parse_port(text)
        .map_err(|e| format!("{:?} is not a port: {}", e.token, e.reason))?;
    if port == 0 {
        return Err(
            "port 0 asks the kernel for any free port: name the port your service binds (1-65535)"
                .into(),
        );
    }
    Ok(port)
}

impl BindRequest {
    pub fn tcp(port: u16) -> Self {
        BindRequest {
            port,
            proto: Proto::Tcp,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A LISTEN socket (or a bound UDP socket for udp).
    Listener,
    /// A connection whose local port the kernel picked: the classic thief.
    Outgoing,
    /// Any other socket holding the port (an accepted connection, a client that bound it).
    Bound,
    /// Held by the kernel, no process to kill; freed when the timer runs out.
    TimeWait,
}

impl Role {
    pub fn of(s: &Socket) -> Role {
        if s.is_listening() {
            Role::Listener
        } else if (s.kernel_held && s.expires_ms.is_some()) || s.state == State::TimeWait {
            Role::TimeWait
        } else if s.autobound {
            Role::Outgoing
        } else {
            Role::Bound
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Listener => "listener",
            Role::Outgoing => "outgoing",
            Role::Bound => "bound",
            Role::TimeWait => "time_wait",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    #[serde(flatten)]
    pub socket: Socket,
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Free,
    InUse,
    PermissionDenied,
    AddressNotAvailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedy {
    /// wait, reuseaddr, close_connection, stop_service, kill, reserve, grant_capability,
    /// use_local_address.
    pub action: String,
    /// The exact command (or TUI key) that does it.
    pub command: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub port: u16,
    pub proto: Proto,
    pub addr: IpAddr,
    pub verdict: Verdict,
    pub probe: ProbeResult,
    pub holders: Vec<Holder>,
    pub explanation: String,
    pub remedies: Vec<Remedy>,
    /// Inside the ephemeral range and not reserved: an outgoing connection may take it any time.
    pub at_risk: bool,
    /// Secondary facts worth knowing (privileged port, verdict from tables only, ...).
    pub notes: Vec<String>,
}

impl Diagnosis {
    /// Whether the requested bind would succeed now.
    pub fn would_bind(&self) -> bool {
        self.verdict == Verdict::Free
    }

    /// "kernel probe: bind EADDRINUSE; with SO_REUSEADDR ok", or why the probe did not run.
    pub fn probe_summary(&self) -> String {
        match (&self.probe.plain, &self.probe.reuseaddr) {
            (Some(p), Some(r)) => format!("kernel probe: bind {}; with SO_REUSEADDR {}", p.0, r.0),
            _ => self
                .probe
                .not_run
                .clone()
                .unwrap_or_else(|| "the bind probe did not run".into()),
        }
    }
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Free => "FREE",
            Verdict::InUse => "IN USE",
            Verdict::PermissionDenied => "PERMISSION DENIED",
            Verdict::AddressNotAvailable => "ADDRESS NOT AVAILABLE",
        }
    }
}

/// What the diagnosis needs besides data: how to phrase commands, and our privileges.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub netns: NetnsTarget,
    /// This process holds CAP_NET_BIND_SERVICE (so EACCES cannot be observed by the probe).
    pub can_bind_privileged: bool,
}

/// The IPv4 address an IPv6 socket address stands for, if it is v4-mapped.
fn as_v4(addr: IpAddr) -> Option<Ipv4Addr> {
    match addr {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    }
}

/// Whether socket `s` conflicts with binding `req` (same protocol and port, overlapping address).
/// `bindv6only` is the namespace default a new `[::]` socket gets.
pub fn overlaps(req: &BindRequest, s: &Socket, bindv6only: bool) -> bool {
    if s.proto != req.proto || s.local_port != req.port {
        return false;
    }
    let sock_any = s.local_addr.is_unspecified();
    match req.addr {
        IpAddr::V4(want) => match s.family {
            Family::Ipv4 => want.is_unspecified() || sock_any || s.local_addr == IpAddr::V4(want),
            // An IPv6 socket reaches IPv4 only as a dual-stack wildcard or a v4-mapped address.
            Family::Ipv6 => {
                (sock_any && s.v6only != Some(true))
                    || as_v4(s.local_addr).is_some_and(|a| want.is_unspecified() || a == want)
            }
        },
        IpAddr::V6(want) => match s.family {
            Family::Ipv6 => want.is_unspecified() || sock_any || s.local_addr == IpAddr::V6(want),
            // A new dual-stack [::] also claims IPv4; a mapped address claims its IPv4 twin.
            Family::Ipv4 => {
                (want.is_unspecified() && !bindv6only)
                    || want
                        .to_ipv4_mapped()
                        .is_some_and(|w| sock_any || s.local_addr == IpAddr::V4(w))
            }
        },
    }
}

/// Every socket in the way of `req`, listeners first.
pub fn holders(req: &BindRequest, snap: &Snapshot) -> Vec<Holder> {
    let v6only = snap.sysctl.bindv6only.unwrap_or(false);
    let mut out: Vec<Holder> = snap
        .sockets
        .iter()
        .filter(|s| overlaps(req, s, v6only))
        .map(|s| Holder {
            socket: s.clone(),
            role: Role::of(s),
        })
        .collect();
    out.sort_by_key(|h| h.role);
    out
}

/// "nginx (pid 812, unit nginx.service)".
pub fn describe_owner(o: &Owner) -> String {
    crate::analyze::guard::describe_owner(o)
}

fn describe_holder(s: &Socket) -> String {
    if s.kernel_held {
        return "the kernel (no process)".into();
    }
    if s.owner_hidden {
        return "a process portscope cannot see (run as root to see it)".into();
    }
    let mut names: Vec<String> = s.owners.iter().take(2).map(|o| describe_owner(o)).collect();
    if s.owners.len() > 2 {
        names.push(format!("{} more processes", s.owners.len() - 2));
    }
    match &s.published {
        Some(p) => format!("{}, {}", names.join(" and "), p.describe()),
        None => names.join(" and "),
    }
}

fn secs(ms: u32) -> u32 {
    ms.div_ceil(1000)
}

/// Prefix for commands that must run inside the target namespace (ss, ip).
fn in_ns(netns: &NetnsTarget) -> String {
    match netns.path() {
        Some(p) => format!("nsenter --net={} ", p.display()),
        None => String::new(),
    }
}

fn verdict_from(probe: &ProbeResult) -> Option<Verdict> {
    let plain = probe.plain.as_ref()?;
    Some(match plain.0.as_str() {
        "ok" => Verdict::Free,
        "EADDRINUSE" => Verdict::InUse,
        "EACCES" | "EPERM" => Verdict::PermissionDenied,
        _ => Verdict::AddressNotAvailable,
    })
}

pub fn diagnose(
    req: &BindRequest,
    snap: &Snapshot,
    probe: &ProbeResult,
    ctx: &Context,
) -> Diagnosis {
    let holders = holders(req, snap);
    let sys = &snap.sysctl;
    let (lo, hi) = sys.ephemeral();
    let port = req.port;
    let at_risk = sys.at_risk(port);
    let privileged = sys.privileged(port);
    let mut notes = Vec::new();
    let verdict = verdict_from(probe).unwrap_or_else(|| {
        notes.push(format!(
            "{}; this verdict comes from the socket tables",
            probe
                .not_run
                .as_deref()
                .unwrap_or("the bind probe did not run")
        ));
        if privileged && !ctx.can_bind_privileged {
            Verdict::PermissionDenied
        } else if holders.is_empty() {
            Verdict::Free
        } else {
            Verdict::InUse
        }
    });
    let reuse_ok = probe.reuseaddr.as_ref().is_some_and(|o| o.is_ok());
    let what = format!("{} port {port}", req.proto);

    let by_role = |r: Role| holders.iter().filter(move |h| h.role == r);
    let listeners: Vec<&Holder> = by_role(Role::Listener).collect();
    let outgoing: Vec<&Holder> = by_role(Role::Outgoing).collect();
    let bound: Vec<&Holder> = by_role(Role::Bound).collect();
    let tw: Vec<&Holder> = by_role(Role::TimeWait).collect();
    let tw_wait = tw
        .iter()
        .filter_map(|h| h.socket.expires_ms)
        .max()
        .map(secs);

    let explanation = match verdict {
        Verdict::PermissionDenied => format!(
            "binding {what} needs privilege: it is below net.ipv4.ip_unprivileged_port_start ({}) and this process lacks CAP_NET_BIND_SERVICE.",
            sys.ip_unprivileged_port_start
        ),
        Verdict::AddressNotAvailable => format!(
            "{} is not an address of this host's network namespace: bind fails with {} whatever the port.",
            req.addr,
            probe
                .plain
                .as_ref()
                .map_or("EADDRNOTAVAIL", |o| o.0.as_str())
        ),
        Verdict::Free => {
            let mut e = format!("{what} on {} is free: bind would succeed now.", req.addr);
            if at_risk {
                e.push_str(&format!(
                    " But it lies inside the ephemeral range {lo}-{hi} and is not reserved: any outgoing connection may take it before your service binds."
                ));
            }
            e
        }
        Verdict::InUse => {
            if let Some(h) = listeners.first() {
                let more = holders.len() - 1;
                format!(
                    "{what} is in use by a listener: {} {} on {}{}.",
                    describe_holder(&h.socket),
                    if h.socket.proto == Proto::Udp {
                        "has a socket bound"
                    } else {
                        "listens"
                    },
                    h.socket.local(),
                    if more > 0 {
                        format!(" ({more} more sockets hold the port too)")
                    } else {
                        String::new()
                    }
                )
            } else if let Some(h) = outgoing.first() {
                let reserved_now = sys.ip_local_reserved_ports.contains(port);
                format!(
                    "{what} is held by an outgoing connection of {} to {}; its port was picked from the ephemeral range {lo}-{hi}, {}",
                    describe_holder(&h.socket),
                    h.socket.remote(),
                    if reserved_now {
                        format!(
                            "and although {port} is reserved now, a reservation is not retroactive: the connection keeps the port until it closes."
                        )
                    } else {
                        format!("which does not reserve {port}.")
                    }
                )
            } else if let Some(h) = bound.first() {
                format!(
                    "{what} is held by a connection bound to it: {} has {} connected to {} (an accepted connection whose listener is gone, or a client that bound the port itself).",
                    describe_holder(&h.socket),
                    h.socket.local(),
                    h.socket.remote()
                )
            } else if !tw.is_empty() {
                let n = tw.len();
                let wait = tw_wait.unwrap_or(60);
                let mut e = format!(
                    "{what} is held by {n} TIME_WAIT connection{} left by a process that closed them: no process holds {}, the kernel frees {} within {wait} s.",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "it" } else { "them" },
                    if n == 1 { "it" } else { "them" },
                );
                if reuse_ok {
                    e.push_str(
                        " A socket with SO_REUSEADDR can bind now (the probe succeeded with it).",
                    );
                } else {
                    e.push_str(" Even SO_REUSEADDR does not get past them (the old socket did not set it): bind fails until they expire.");
                }
                e
            } else {
                "the kernel refuses the bind but no socket in this namespace's tables overlaps it (a socket opened and closed between probe and scan, or an SO_REUSEPORT group).".to_string()
            }
        }
    };

    if privileged && verdict != Verdict::PermissionDenied {
        notes.push(format!(
            "port {port} is below ip_unprivileged_port_start ({}): a service not running as root needs CAP_NET_BIND_SERVICE to bind it",
            sys.ip_unprivileged_port_start
        ));
    }
    if snap.source == crate::model::Source::Procfs {
        notes.push(
            "sockets were read from /proc/net, which does not say which ports the kernel chose: an outgoing connection shows as 'bound'"
                .into(),
        );
    }
    if !sys.known("ip_local_port_range") || !sys.known("ip_local_reserved_ports") {
        notes.push(
            "this namespace's ephemeral range and reservations could not be read: 'at risk' is judged on kernel defaults"
                .into(),
        );
    }
    if snap.stats.processes_hidden > 0 && holders.iter().any(|h| h.socket.owner_hidden) {
        notes.push(format!(
            "{} processes could not be read: run as root (sudo portscope{} why {port}) to see who holds the port",
            snap.stats.processes_hidden,
            ctx.netns.cli_flag()
        ));
    }

    let remedies = remedies(
        req, ctx, verdict, &holders, tw_wait, reuse_ok, at_risk, privileged, sys,
    );
    Diagnosis {
        port,
        proto: req.proto,
        addr: req.addr,
        verdict,
        probe: probe.clone(),
        holders,
        explanation,
        remedies,
        at_risk,
        notes,
    }
}

#[allow(clippy::too_many_arguments)]
fn remedies(
    req: &BindRequest,
    ctx: &Context,
    verdict: Verdict,
    holders: &[Holder],
    tw_wait: Option<u32>,
    reuse_ok: bool,
    at_risk: bool,
    privileged: bool,
    sys: &crate::model::Sysctls,
) -> Vec<Remedy> {
    let port = req.port;
    let ns = in_ns(&ctx.netns);
    let ps_ns = ctx.netns.cli_flag();
    let mut out = Vec::new();
    let mut add = |action: &str, command: String, text: String| {
        if !out.iter().any(|r: &Remedy| r.command == command) {
            out.push(Remedy {
                action: action.into(),
                command,
                text,
            });
        }
    };
    match verdict {
        Verdict::PermissionDenied => {
            add(
                "grant_capability",
                "setcap cap_net_bind_service=+ep /path/to/service-binary".into(),
                "let the service's binary bind privileged ports (or AmbientCapabilities=CAP_NET_BIND_SERVICE in its systemd unit)".into(),
            );
            add(
                "lower_unprivileged_start",
                format!("{ns}sysctl -w net.ipv4.ip_unprivileged_port_start={port}"),
                format!("let every user bind ports from {port} up (affects the whole namespace)"),
            );
        }
        Verdict::AddressNotAvailable => {
            add(
                "use_local_address",
                format!("{ns}ip -brief address"),
                format!(
                    "{} is not configured here: bind the wildcard ({}) or an address this lists, or add it with ip address add",
                    req.addr,
                    if req.addr.is_ipv4() { "0.0.0.0" } else { "::" }
                ),
            );
        }
        Verdict::Free | Verdict::InUse => {}
    }
    let tw_only = !holders.is_empty() && holders.iter().all(|h| h.role == Role::TimeWait);
    if let Some(wait) = tw_wait
        && verdict == Verdict::InUse
    {
        add(
            "wait",
            format!("sleep {wait}"),
            format!(
                "wait {wait} s: the kernel frees the TIME_WAIT sockets by itself (nothing to kill)"
            ),
        );
    }
    if verdict == Verdict::InUse && reuse_ok {
        add(
            "reuseaddr",
            "setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one)".into(),
            "set SO_REUSEADDR in the service before bind(): the probe shows the bind succeeds with it now".into(),
        );
    }
    if verdict == Verdict::InUse && !tw_only {
        for h in holders.iter().filter(|h| h.role != Role::TimeWait) {
            let s = &h.socket;
            if matches!(h.role, Role::Outgoing | Role::Bound) && s.proto == Proto::Tcp {
                add(
                    "close_connection",
                    format!(
                        "{ns}ss -K src {} sport = :{} dst {} dport = :{}",
                        s.local_addr, s.local_port, s.remote_addr, s.remote_port
                    ),
                    format!(
                        "close just this connection ({} -> {}) with SOCK_DESTROY, leaving {} running (key D in portscope; needs root and CONFIG_INET_DIAG_DESTROY)",
                        s.local(),
                        s.remote(),
                        describe_holder(s)
                    ),
                );
            }
            // What may be stopped or killed is decided in one place (analyze::guard).
            for plan in crate::analyze::guard::stop_socket(s) {
                add("stop_service", plan.command, plan.text);
            }
            for o in s.owners.iter() {
                if crate::analyze::guard::may_signal(s, o).is_err() {
                    continue;
                }
                add(
                    "kill",
                    format!("kill {}", o.pid),
                    format!(
                        "send SIGTERM to {}{} (key K in portscope checks it is still the same process)",
                        describe_owner(o),
                        if o.unit.is_some() || o.container.is_some() || o.user_unit.is_some() {
                            "; its supervisor may start it again"
                        } else {
                            ""
                        }
                    ),
                );
            }
        }
    }
    let outgoing_holder = holders.iter().any(|h| h.role == Role::Outgoing);
    if at_risk || (outgoing_holder && sys.in_ephemeral(port)) {
        add(
            "reserve",
            format!("portscope{ps_ns} reserve apply {port}"),
            format!(
                "add {port} to net.ipv4.ip_local_reserved_ports so the kernel stops handing it to outgoing connections (not retroactive: existing ones keep it until they close)"
            ),
        );
    }
    if privileged && verdict != Verdict::PermissionDenied && !ctx.can_bind_privileged {
        add(
            "grant_capability",
            "setcap cap_net_bind_service=+ep /path/to/service-binary".into(),
            "the port is privileged: a non-root service needs CAP_NET_BIND_SERVICE".into(),
        );
    }
    out
}
