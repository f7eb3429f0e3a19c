//! One remedy per cause, acting on the whole cause, safest first; and the plan: the remedies
//! that free the port, in the order that works (reserve before closing a thief's connection;
//! TIME_WAIT last, since stopping a process leaves more of it).

use super::cause::{Cause, CauseKind};
use super::{BindRequest, Context, Holder, Remedy};
use crate::analyze::why::RemedyKind;
use crate::model::ProcessRole;
use crate::model::probe::AddressState;
pub use crate::model::shell::shell_quote;
use crate::model::{Owner, Socket, State, Sysctls};
use std::net::IpAddr;

/// A remedy that is a command to run (empty: a step said in words only).
pub(super) fn run(action: RemedyKind, command: String, text: String) -> Remedy {
    Remedy {
        action,
        command,
        text,
        change: None,
        key: None,
        cause: None,
        warning: None,
    }
}

fn change(action: RemedyKind, change: &str, text: String) -> Remedy {
    Remedy {
        change: Some(change.into()),
        ..run(action, String::new(), text)
    }
}

fn with_key(mut r: Remedy, key: &str) -> Remedy {
    r.key = Some(key.into());
    r
}

/// `src 127.0.0.1 and ` when every socket has that local address (`[::1]` for IPv6).
fn ss_src(socks: &[&Socket]) -> String {
    let Some(first) = socks.first() else {
        return String::new();
    };
    if first.local_addr.is_unspecified() || socks.iter().any(|s| s.local_addr != first.local_addr) {
        return String::new();
    }
    match first.local_addr {
        IpAddr::V4(a) => format!("src {a} and "),
        IpAddr::V6(a) => format!("src [{a}] and "),
    }
}

fn ss_addr(a: IpAddr) -> String {
    match a {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// The state names `ss` takes in a filter (not the ones it prints).
fn ss_state(s: State) -> &'static str {
    match s {
        State::Established => "established",
        State::SynSent => "syn-sent",
        State::SynRecv => "syn-recv",
        State::FinWait1 => "fin-wait-1",
        State::FinWait2 => "fin-wait-2",
        State::TimeWait => "time-wait",
        State::CloseWait => "close-wait",
        State::LastAck => "last-ack",
        State::Closing => "closing",
        State::Listen => "listening",
        State::Close | State::Unconn | State::BoundInactive => "closed",
    }
}

/// `ss -tK state close-wait '( sport = :8090 )'`: -t, or ss also walks tables that refuse
/// SOCK_DESTROY and prints "RTNETLINK answers: Invalid argument". A few connections are named
/// by their four addresses; many by state and port.
fn ss_kill(ns: &str, socks: &[&Socket], port: u16) -> String {
    if socks.len() <= 3 && socks.iter().all(|s| s.state != State::TimeWait) {
        let filter = socks
            .iter()
            .map(|s| {
                format!(
                    "src {} and sport = :{} and dst {} and dport = :{}",
                    ss_addr(s.local_addr),
                    s.local_port,
                    ss_addr(s.remote_addr),
                    s.remote_port
                )
            })
            .collect::<Vec<_>>()
            .join(" ) or ( ");
        return format!("{ns}ss -tK '( {filter} )'");
    }
    let mut states: Vec<&str> = socks.iter().map(|s| ss_state(s.state)).collect();
    states.sort_unstable();
    states.dedup();
    let states: String = states.iter().flat_map(|s| [" state ", s]).collect();
    format!("{ns}ss -tK{states} '( {}sport = :{port} )'", ss_src(socks))
}

/// The processes a remedy may stop or signal: never the host's init or a service manager (a
/// socket-activated listener is theirs to hold; see [`manager_remedies`]).
/// What may be stopped or signalled is decided by `analyze::stop_safety` (never a runtime
/// daemon, its proxy, kubelet, PID 1) and the process roles (never a service manager).
fn owners_of<'a>(socks: &[&'a Socket]) -> Vec<&'a Owner> {
    let mut v: Vec<&Owner> = socks
        .iter()
        .flat_map(|s| {
            s.owners
                .iter()
                .map(|o| &**o)
                .filter(|o| crate::analyze::stop_safety::may_signal(s, o).is_ok())
        })
        .filter(|o| !ProcessRole::of_owner(o).never_signalled())
        .collect();
    v.sort_by_key(|o| o.pid);
    v.dedup_by_key(|o| o.pid);
    v
}

/// Stopping what runs the sockets: the container a published port belongs to, the unit or
/// container of each owner; never a runtime daemon (see `analyze::stop_safety`).
fn stop_remedies(out: &mut Vec<Remedy>, socks: &[&Socket]) {
    let mut seen: Vec<String> = Vec::new();
    for s in socks {
        for plan in crate::analyze::stop_safety::stop_socket(s) {
            if !seen.contains(&plan.command) {
                seen.push(plan.command.clone());
                out.push(run(RemedyKind::StopService, plan.command, plan.text));
            }
        }
        if seen.len() >= 2 {
            break;
        }
    }
}

/// When the host's init or a service manager holds the socket (socket activation), the fix is
/// its socket unit, never a signal to it.
fn manager_remedies(out: &mut Vec<Remedy>, socks: &[&Socket]) {
    if let Some(r) = socks
        .iter()
        .flat_map(|s| crate::analyze::socket_unit::signal_remedies(s))
        .find(|r| r.action == RemedyKind::StopSocketUnit)
    {
        out.push(run(r.action, r.command, r.text));
    }
}

fn kill_remedy(owners: &[&Owner], what: &str) -> Remedy {
    let pids: Vec<String> = owners.iter().map(|o| o.pid.to_string()).collect();
    let mut names: Vec<String> = owners.iter().take(3).map(|o| o.label()).collect();
    // The text names every process the command signals: named ones, and how many more.
    if owners.len() > names.len() {
        names.push(format!(
            "{} more process{} ({})",
            owners.len() - names.len(),
            if owners.len() - names.len() == 1 {
                ""
            } else {
                "es"
            },
            pids[names.len()..].join(", ")
        ));
    }
    let init = if owners
        .iter()
        .any(|o| ProcessRole::of_owner(o) == ProcessRole::NamespaceInit)
    {
        "; one is PID 1 of its own PID namespace (a container's init): it ignores SIGTERM unless it handles it, and SIGKILL ends every process of that container"
    } else {
        ""
    };
    let what = format!("{what}{init}");
    with_key(
        run(
            RemedyKind::Kill,
            format!("kill {}", pids.join(" ")),
            format!("send SIGTERM to {}{what}", names.join(", ")),
        ),
        "K",
    )
}

/// "sudo portscope why 8080 --user www-data": the same question, as root.
pub fn as_root_command(req: &BindRequest, ctx: &Context) -> String {
    format!(
        "sudo portscope{} why {}{}",
        ctx.netns.cli_flag(),
        req.port,
        req.cli_flags(ctx.user_name.as_deref())
    )
}

/// Fills in each cause's remedies.
pub fn for_causes(
    causes: &mut [Cause],
    holders: &[Holder],
    req: &BindRequest,
    ctx: &Context,
    address: Option<AddressState>,
) {
    let ns = ctx.ns_prefix();
    let port = req.port;
    for c in causes.iter_mut() {
        let socks: Vec<&Socket> = c.holders.iter().map(|&i| &holders[i].socket).collect();
        let owners = owners_of(&socks);
        let mut r = Vec::new();
        if c.hidden && owners.is_empty() {
            let uids: Vec<String> = socks
                .iter()
                .map(|s| s.uid.to_string())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            r.push(run(
                RemedyKind::SeeOwner,
                as_root_command(req, ctx),
                format!(
                    "run as root to see which process holds it (the socket belongs to uid {}); portscope cannot name or stop it from here",
                    uids.join(", ")
                ),
            ));
        }
        match c.kind {
            CauseKind::Listener => {
                manager_remedies(&mut r, &socks);
                stop_remedies(&mut r, &socks);
                if !owners.is_empty() {
                    let extra = if c.count > 1 {
                        match c.count - 1 {
                            1 => "; its connection closes with it".to_string(),
                            n => format!("; its {n} connections close with it"),
                        }
                    } else {
                        String::new()
                    };
                    r.push(kill_remedy(&owners, &extra));
                }
            }
            CauseKind::TimeWait => {
                if c.blocks_with_reuseaddr == Some(false) {
                    r.push(change(
                        RemedyKind::Reuseaddr,
                        "setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) before bind()",
                        "in the service's code: set SO_REUSEADDR before bind(); the probe shows it binds now despite the TIME_WAIT sockets".into(),
                    ));
                }
                r.push(with_key(
                    run(
                        RemedyKind::DestroyTimeWait,
                        format!(
                            "{ns}ss -tK state time-wait '( {}sport = :{port} )'",
                            ss_src(&socks)
                        ),
                        format!(
                            "destroy the {} now (SOCK_DESTROY; their connections are already closed; needs root)",
                            if c.count == 1 { "TIME_WAIT socket".to_string() } else { format!("{} TIME_WAIT sockets", c.count) }
                        ),
                    ),
                    "D",
                ));
                if let Some(ms) = c.expires_ms {
                    let s = ms.div_ceil(1000);
                    r.push(run(
                        RemedyKind::Wait,
                        format!("sleep {s}"),
                        format!("wait {s} s: the kernel frees them by itself"),
                    ));
                }
            }
            CauseKind::Connections | CauseKind::Outgoing | CauseKind::Closing => {
                let who = if owners.is_empty() {
                    "no process is affected".to_string()
                } else {
                    format!(
                        "{} keeps running",
                        owners
                            .iter()
                            .take(2)
                            .map(|o| o.label())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let n = if c.count == 1 {
                    "the connection".to_string()
                } else {
                    format!("all {} connections", c.count)
                };
                r.push(with_key(
                    run(
                        if c.kind == CauseKind::Outgoing {
                            RemedyKind::CloseConnection
                        } else {
                            RemedyKind::DestroyConnections
                        },
                        ss_kill(&ns, &socks, port),
                        format!("close {n} with SOCK_DESTROY; {who} (needs root)"),
                    ),
                    "D",
                ));
                if c.kind == CauseKind::Closing
                    && let Some(ms) = c.expires_ms
                {
                    r.push(run(
                        RemedyKind::Wait,
                        format!("sleep {}", ms.div_ceil(1000)),
                        "wait: the kernel finishes them".into(),
                    ));
                }
                if !owners.is_empty() {
                    stop_remedies(&mut r, &socks);
                    r.push(kill_remedy(&owners, ""));
                }
            }
            CauseKind::BoundInactive => {
                manager_remedies(&mut r, &socks);
                stop_remedies(&mut r, &socks);
                if !owners.is_empty() {
                    r.push(kill_remedy(
                        &owners,
                        " (a socket that is not connected cannot be closed from outside its process)",
                    ));
                }
            }
            CauseKind::Privilege => {
                r.push(change(
                    RemedyKind::GrantCapability,
                    "AmbientCapabilities=CAP_NET_BIND_SERVICE (systemd unit) or setcap cap_net_bind_service=+ep on the service's binary",
                    "give the service CAP_NET_BIND_SERVICE: in its systemd unit, or on its binary".into(),
                ));
                r.push(run(
                    RemedyKind::LowerUnprivilegedStart,
                    format!("{ns}sysctl -w net.ipv4.ip_unprivileged_port_start={port}"),
                    format!("let every user bind ports from {port} up (the whole namespace)"),
                ));
            }
            CauseKind::Address => address_remedies(&mut r, req, &ns, address),
        }
        for x in &mut r {
            x.cause = None;
        }
        c.remedies = r;
    }
}

fn address_remedies(
    r: &mut Vec<Remedy>,
    req: &BindRequest,
    ns: &str,
    address: Option<AddressState>,
) {
    let v = if req.addr.is_ipv4() { "ipv4" } else { "ipv6" };
    let freebind = || {
        change(
            RemedyKind::Freebind,
            "setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one) before bind(); in a systemd socket unit: FreeBind=yes",
            "in the service: bind with IP_FREEBIND (systemd: FreeBind=yes), so it binds before the address arrives".into(),
        )
    };
    match address {
        Some(AddressState::Tentative) => {
            r.push(run(
                RemedyKind::Wait,
                format!("{ns}ip -6 address show to {}", req.addr),
                format!(
                    "wait a second or two: {} is on the host but duplicate address detection is still running ('tentative' in this listing until it ends); order the service after network-online.target",
                    req.addr
                ),
            ));
            r.push(freebind());
        }
        Some(AddressState::DadFailed) => r.push(run(
            RemedyKind::UseLocalAddress,
            format!("{ns}ip -6 address show to {}", req.addr),
            format!(
                "another host on the link uses {} (duplicate address detection failed): remove the duplicate or pick another address",
                req.addr
            ),
        )),
        // Narrowest first: is the address meant to be here (add it, or bind one that is), then
        // the one socket's option, and only last the namespace-wide sysctl, which lets every
        // program bind any address.
        _ => {
            r.push(run(
                RemedyKind::UseLocalAddress,
                format!("{ns}ip -brief address"),
                format!(
                    "check the addresses this host has: if {} belongs here, add it to its \
                     interface (ip address add {}/{} dev IFACE); otherwise bind the wildcard \
                     ({}) or an address this lists",
                    req.addr,
                    req.addr,
                    if req.addr.is_ipv4() { 32 } else { 128 },
                    if req.addr.is_ipv4() { "0.0.0.0" } else { "::" }
                ),
            ));
            r.push(freebind());
            r.push(run(
                RemedyKind::NonlocalBind,
                format!("{ns}sysctl -w net.{v}.ip_nonlocal_bind=1"),
                "a virtual IP that arrives later (keepalived, HAProxy) and a service that cannot \
                 set IP_FREEBIND: allow binding addresses not on the host yet (the whole \
                 namespace, every program)"
                    .into(),
            ));
        }
    }
}

/// Where a cause's step goes in the plan.
fn plan_rank(k: CauseKind) -> u8 {
    match k {
        CauseKind::Address => 0,
        CauseKind::Privilege => 1,
        CauseKind::Outgoing => 2,
        CauseKind::Connections => 3,
        CauseKind::Closing => 4,
        CauseKind::BoundInactive => 5,
        CauseKind::Listener => 6,
        CauseKind::TimeWait => 7,
    }
}

/// The steps that free the port: for each blocking cause the first remedy that acts (code and
/// configuration changes are left in the cause's list), in an order that works.
pub fn plan(causes: &[Cause], req: &BindRequest, ctx: &Context, sys: &Sysctls) -> Vec<Remedy> {
    let mut order: Vec<usize> = (0..causes.len()).filter(|&i| causes[i].blocks).collect();
    order.sort_by_key(|&i| plan_rank(causes[i].kind));
    let mut steps = Vec::new();
    let thief = order.iter().any(|&i| causes[i].kind == CauseKind::Outgoing);
    if thief && sys.at_risk(req.port) {
        steps.push(with_key(
            run(
                RemedyKind::Reserve,
                format!("portscope{} reserve apply {}", ctx.netns.cli_flag(), req.port),
                format!(
                    "first reserve {} (net.ipv4.ip_local_reserved_ports), so a reconnecting client cannot take it again",
                    req.port
                ),
            ),
            "R",
        ));
    }
    // Listeners in the way whose bind the kernel takes once the service sets SO_REUSEADDR (a
    // resolver on 127.0.0.53:53 and a service wanting 0.0.0.0:53): the fix is the service's
    // option, proven by the probe, and nothing needs to stop. Killing the resolver is the
    // classic way to break a host's DNS, so it stays under "or instead".
    let listeners_only = !order.is_empty()
        && order.iter().all(|&i| {
            causes[i].kind == CauseKind::Listener && causes[i].blocks_with_reuseaddr == Some(false)
        });
    if listeners_only && !thief {
        steps.push(Remedy {
            cause: order.first().copied(),
            ..change(
                RemedyKind::Reuseaddr,
                "setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) before bind()",
                format!(
                    "set SO_REUSEADDR in the service: the kernel's probe binds {} with it now, \
                     beside what holds the other address; nothing needs to stop",
                    req.port
                ),
            )
        });
        return steps;
    }
    for i in order {
        let c = &causes[i];
        // A capability for the one service beats opening privileged ports to every user.
        let pick = if c.kind == CauseKind::Privilege {
            c.remedies.first()
        } else {
            c.remedies
                .iter()
                .find(|r| r.change.is_none() && r.action != RemedyKind::Wait)
                .or(c.remedies.first())
        };
        if let Some(r) = pick {
            let mut r = r.clone();
            r.cause = Some(i);
            steps.push(r);
        }
    }
    if thief {
        steps.push(run(
            RemedyKind::StartService,
            String::new(),
            "then start the service at once".into(),
        ));
    }
    steps
}
