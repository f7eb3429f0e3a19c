//! Destructive actions as values. Each is planned from a snapshot (pure), shown in a dialog whose
//! text comes from [`PendingAction::describe`], confirmed by the user, and carried out by
//! [`exec::execute`], the one place that acts, which re-checks everything before it acts.

pub mod exec;
pub mod kill;

use crate::analyze::why::describe_owner;
use crate::collect::NetnsTarget;
use crate::model::{Owner, Proto, Snapshot, Socket, State};
use crate::portset::PortSet;
use crate::reserve::{ApplyRequest, Plan, UndoPlan};
pub use kill::Sig;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq)]
pub struct SignalAction {
    pub sig: Sig,
    pub owner: Owner,
    /// The socket the user acted on, as it was shown ("tcp 0.0.0.0:80").
    pub socket: String,
    pub proto: Proto,
    pub addr: IpAddr,
    pub port: u16,
    /// What else the process holds: its other listeners, and how many connections.
    pub other_listeners: Vec<String>,
    pub connections: usize,
    /// Other processes that share the socket (a forked server's workers keep it open).
    pub co_owners: Vec<String>,
    pub netns: NetnsTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloseAction {
    pub socket: Socket,
    pub netns: NetnsTarget,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReserveAction {
    pub plan: Plan,
    pub request: ApplyRequest,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PendingAction {
    Signal(SignalAction),
    CloseConnection(CloseAction),
    ApplyReservation(ReserveAction),
    UndoReservation(UndoPlan),
}

/// Why an action cannot even be offered for the selection.
pub type NotOffered = String;

fn other_sockets(snap: &Snapshot, pid: u32, except: &Socket) -> (Vec<String>, usize) {
    let mut listeners = Vec::new();
    let mut conns = 0;
    for s in snap.sockets_of(pid) {
        if s.key() == except.key() {
            continue;
        }
        if s.is_listening() {
            listeners.push(format!("{} {}", s.proto, s.local()));
        } else {
            conns += 1;
        }
    }
    (listeners, conns)
}

/// SIGTERM (or SIGKILL) for the process holding `s`. With several holders (a master and its
/// workers) the oldest is chosen: killing a worker alone frees nothing.
pub fn plan_signal(
    snap: &Snapshot,
    s: &Socket,
    sig: Sig,
    netns: &NetnsTarget,
) -> Result<PendingAction, NotOffered> {
    if s.kernel_held {
        return Err(match s.expires_ms {
            Some(ms) => format!(
                "{} {} is held by the kernel (TIME_WAIT): there is no process to kill; it is freed in {} s",
                s.proto,
                s.local(),
                ms.div_ceil(1000)
            ),
            None => format!(
                "{} {} is held by the kernel: there is no process to kill",
                s.proto,
                s.local()
            ),
        });
    }
    let Some(owner) = s.owners.iter().min_by_key(|o| (o.start_time, o.pid)) else {
        return Err(format!(
            "the process holding {} {} is hidden: run portscope as root to see and signal it",
            s.proto,
            s.local()
        ));
    };
    crate::analyze::guard::may_signal(s, owner)?;
    let (other_listeners, connections) = other_sockets(snap, owner.pid, s);
    Ok(PendingAction::Signal(SignalAction {
        sig,
        owner: Owner::clone(owner),
        socket: format!("{} {}", s.proto, s.local()),
        proto: s.proto,
        addr: s.local_addr,
        port: s.local_port,
        other_listeners,
        connections,
        co_owners: s
            .owners
            .iter()
            .filter(|o| o.pid != owner.pid)
            .map(|o| describe_owner(o))
            .collect(),
        netns: netns.clone(),
    }))
}

/// Close one TCP connection with SOCK_DESTROY.
pub fn plan_close(s: &Socket, netns: &NetnsTarget) -> Result<PendingAction, NotOffered> {
    if s.proto != Proto::Tcp {
        return Err("only TCP connections can be closed one by one".into());
    }
    if s.state == State::Listen {
        return Err(format!(
            "{} is a listener, not a connection: closing it would stop the service (use K to signal its process)",
            s.local()
        ));
    }
    if s.state == State::TimeWait {
        return Err(format!(
            "{} → {} is in TIME_WAIT: already closed, the kernel frees it in {} s",
            s.local(),
            s.remote(),
            s.expires_ms.unwrap_or(0).div_ceil(1000)
        ));
    }
    if s.cookie == 0 {
        return Err("this socket was read from /proc/net, which gives no socket cookie: SOCK_DESTROY needs the netlink source".into());
    }
    Ok(PendingAction::CloseConnection(CloseAction {
        socket: s.clone(),
        netns: netns.clone(),
    }))
}

/// A reservation adding `add` (and removing `remove`) to the namespace's list.
pub fn plan_reservation(
    snap: &Snapshot,
    add: &PortSet,
    remove: &PortSet,
    netns: &NetnsTarget,
    dropin: Option<std::path::PathBuf>,
    journal: std::path::PathBuf,
) -> ReserveAction {
    let plan = Plan::new(&snap.sysctl.ip_local_reserved_ports, add, remove, snap);
    let request = ApplyRequest::from_plan(&plan, netns.clone(), dropin, journal);
    ReserveAction { plan, request }
}

impl PendingAction {
    /// The dialog's title and text: exactly what will happen.
    pub fn describe(&self) -> (String, Vec<String>) {
        match self {
            PendingAction::Signal(a) => {
                let o = &a.owner;
                let mut lines = vec![format!(
                    "Send {} to {} (pid {}, user {}{}), which holds {}?",
                    a.sig.name(),
                    o.comm,
                    o.pid,
                    o.user,
                    o.workload
                        .as_ref()
                        .map(|w| &w.label)
                        .or(o.unit.as_ref())
                        .or(o.container.as_ref())
                        .map_or(String::new(), |u| format!(", {u}")),
                    a.socket
                )];
                lines.push(format!("  command: {}", o.cmdline));
                if !a.other_listeners.is_empty() {
                    lines.push(format!(
                        "  it also listens on {}",
                        a.other_listeners.join(", ")
                    ));
                }
                lines.push(format!("  it holds {} other connections", a.connections));
                if !a.co_owners.is_empty() {
                    lines.push(format!(
                        "  the socket is shared with {}: they keep it open if only this one exits",
                        a.co_owners.join(", ")
                    ));
                }
                if let Some(stop) = crate::analyze::guard::stop_owner(o).last() {
                    lines.push(if o.workload.is_some() {
                        format!(
                            "  warning: its container's restart policy may start it again; to stop it: {}",
                            stop.command
                        )
                    } else {
                        format!(
                            "  warning: systemd may restart it; to stop it for good: {}",
                            stop.command
                        )
                    });
                }
                lines.push(format!(
                    "  the signal goes to this process only (pid {} started at tick {}); a reused PID is refused",
                    o.pid, o.start_time
                ));
                (format!("{} {}", a.sig.name(), o.comm), lines)
            }
            PendingAction::CloseConnection(a) => {
                let s = &a.socket;
                let who = s
                    .owners
                    .iter()
                    .map(|o| describe_owner(o))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    "Close one connection".into(),
                    vec![
                        format!(
                            "Close the TCP connection {} → {} ({}) with SOCK_DESTROY?",
                            s.local(),
                            s.remote(),
                            s.state.ss_name()
                        ),
                        format!(
                            "  {} keeps running; it sees the connection reset (ECONNABORTED) and port {} is released",
                            if who.is_empty() {
                                "its process".to_string()
                            } else {
                                who
                            },
                            s.local_port
                        ),
                        "  needs root (CAP_NET_ADMIN) and a kernel with CONFIG_INET_DIAG_DESTROY"
                            .into(),
                    ],
                )
            }
            PendingAction::ApplyReservation(a) => {
                let p = &a.plan;
                let e = &p.ephemeral;
                let mut lines = vec![
                    format!(
                        "Set net.ipv4.ip_local_reserved_ports to {:?} in network namespace {}?",
                        p.proposed.to_string(),
                        a.request.netns.describe()
                    ),
                    format!(
                        "  now {:?}; adds {:?}, removes {:?}",
                        p.current.to_string(),
                        p.added.to_string(),
                        p.removed.to_string()
                    ),
                    format!(
                        "  ephemeral ports usable: {} → {} of {}",
                        e.usable_before, e.usable_after, e.size
                    ),
                ];
                match &a.request.dropin {
                    Some(d) => lines.push(format!("  persisted in {} (atomic write)", d.display())),
                    None => lines.push("  runtime only (not persisted)".into()),
                }
                lines.push(format!(
                    "  journalled in {}: U undoes it",
                    a.request.journal.display()
                ));
                lines.extend(p.warnings.iter().map(|w| format!("  warning: {w}")));
                ("Apply reservation".into(), lines)
            }
            PendingAction::UndoReservation(u) => {
                let mut lines = vec![
                    format!(
                        "Undo the reservation applied at {} in network namespace {}?",
                        u.entry.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                        u.netns.describe()
                    ),
                    format!(
                        "  runtime value back to {:?} (now {:?})",
                        u.entry.previous_runtime.to_string(),
                        u.runtime_now.to_string()
                    ),
                ];
                if let Some(d) = &u.entry.dropin {
                    lines.push(match &d.previous {
                        Some(_) => {
                            format!("  {} restored to its previous content", d.path.display())
                        }
                        None => format!("  {} removed (it did not exist before)", d.path.display()),
                    });
                }
                lines.extend(u.warnings.iter().map(|w| format!("  warning: {w}")));
                ("Undo reservation".into(), lines)
            }
        }
    }
}
