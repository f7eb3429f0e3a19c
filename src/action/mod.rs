//! Destructive actions as values. Each is planned from a snapshot (pure), shown in a dialog whose
//! text comes from [`PendingAction::describe`], confirmed by the user, and carried out by
//! [`exec::execute`], the one place that acts, which re-checks everything before it acts.

mod describe;
pub mod destroy_set;
pub mod exec;
pub mod from_plan;
pub mod grace;
pub mod kill;
pub mod log;
mod not_offered;
pub mod outcome;
pub mod sequence;
mod signal_plan;
pub mod stop;
/// Which processes a signal may be offered to: plain values, in `model`.
pub use crate::model::role as target;
pub mod units;

use crate::collect::NetnsTarget;
use crate::model::{Owner, Proto, Snapshot, Socket, State};
use crate::portset::PortSet;
use crate::reserve::{ApplyRequest, Plan, UndoPlan};
pub use kill::Sig;
pub use signal_plan::{SignalRemedy, plan_signal, signal_remedies, socket_unit_from_systemd};
use std::net::IpAddr;
pub use target::ProcessRole;
pub use units::SocketUnitHint;

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
    /// The socket's inode: the executor signals only while the process still holds it.
    pub inode: u64,
    /// What the process is (a container's init is not "this process only"); the executor
    /// refuses if the live process is something else.
    pub role: ProcessRole,
    /// Holders that are never signalled (the host's init, service managers): with them the
    /// port stays held after the signalled process exits.
    pub managers: Vec<String>,
    /// The socket unit to stop instead, when a manager holds the socket.
    pub unit_hint: Option<SocketUnitHint>,
    /// How long SIGTERM is given, where the planner could ask (`fix`); None: the executor asks
    /// ([`grace::resolve`]) when it runs.
    pub grace: Option<grace::Grace>,
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
    /// Why the change is not persisted, when it is not.
    pub no_persist: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PendingAction {
    Signal(SignalAction),
    CloseConnection(CloseAction),
    ApplyReservation(ReserveAction),
    UndoReservation(UndoPlan),
    /// SOCK_DESTROY on every socket of a cause (why's D, a `fix` step).
    DestroySockets(destroy_set::DestroySetAction),
    /// Why's plan, step after step, stopping once the port binds (the TUI's why view).
    Sequence(sequence::SequenceAction),
    /// Stop the unit or container that runs the listener (`systemctl stop`, `docker stop`).
    StopService(stop::StopAction),
}

pub use not_offered::NotOffered;

static PROTECT: std::sync::OnceLock<std::sync::Arc<crate::model::protect::Protect>> =
    std::sync::OnceLock::new();

/// Sets the config file's `[protect]`, once at start, for every context made after
/// ([`crate::ask::session`]) and for the dialogs, which are described without one.
pub fn set_protect(p: crate::model::protect::Protect) {
    let _ = PROTECT.set(std::sync::Arc::new(p));
}

/// The `[protect]` list in force (empty unless the config file has one).
pub fn protect() -> std::sync::Arc<crate::model::protect::Protect> {
    PROTECT.get().cloned().unwrap_or_default()
}

/// Close one TCP connection with SOCK_DESTROY.
pub fn plan_close(s: &Socket, netns: &NetnsTarget) -> Result<PendingAction, NotOffered> {
    if s.proto != Proto::Tcp {
        return Err(NotOffered::CloseNotTcp);
    }
    if s.state == State::Listen {
        return Err(NotOffered::CloseListener {
            local: s.local().clone(),
        });
    }
    if s.state == State::TimeWait {
        return Err(NotOffered::CloseTimeWait {
            local: s.local().clone(),
            remote: s.remote().clone(),
            secs: s.expires_ms.unwrap_or(0).div_ceil(1000),
        });
    }
    if s.cookie == 0 {
        return Err(NotOffered::NoCookie);
    }
    Ok(PendingAction::CloseConnection(CloseAction {
        socket: s.clone(),
        netns: netns.clone(),
    }))
}

/// A reservation adding `add` (and removing `remove`) to the namespace's list; `boot` is what
/// the configuration sets at boot when the change is persisted (the plan keeps it).
pub fn plan_reservation(
    snap: &Snapshot,
    add: &PortSet,
    remove: &PortSet,
    netns: &NetnsTarget,
    dropin: Option<std::path::PathBuf>,
    boot: Option<&crate::reserve::BootValue>,
    journal: std::path::PathBuf,
) -> ReserveAction {
    let current = &snap.sysctl.ip_local_reserved_ports;
    let plan = Plan::merged(current, boot, add, remove, snap, false);
    let request = ApplyRequest::from_plan(&plan, netns.clone(), dropin, journal);
    ReserveAction {
        plan,
        request,
        no_persist: None,
    }
}
