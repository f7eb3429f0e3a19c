//! What `check` finds, as values: the statuses, each port's and service's result, the host's
//! checks and the report. The judges (listening, host, plugin) build and read them and `check`
//! runs the judges, so they live here, below all of them, not in `check`.

use crate::model::Proto;
use crate::portset::PortSet;
use crate::reserve::Audit;
use serde::Serialize;

/// Nagios plugin statuses; the discriminant is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// Severity for combining: CRITICAL > WARNING > UNKNOWN > OK (the usual plugin order).
    pub(crate) fn rank(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Unknown => 1,
            Status::Warning => 2,
            Status::Critical => 3,
        }
    }

    #[must_use]
    pub fn worst(self, other: Status) -> Status {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

/// What one declared port looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortState {
    /// The expected process (or any, when none is named) listens.
    Listening,
    /// Something else listens on it.
    ListeningOther,
    /// The expected process listens, and so does another one: a SO_REUSEPORT group (or UDP
    /// sockets bound together) that hands the stranger a share of the traffic.
    ListeningShared,
    /// A listener whose owner portscope cannot see.
    ListeningOwnerHidden,
    /// The expected listener is there but takes no connections (queue full or not draining,
    /// process stopped): clients time out.
    ListeningNotAccepting,
    /// The expected listener's queue is often non-empty: clients wait.
    ListeningSlow,
    /// Nothing listens; free, reserved or outside the ephemeral range.
    Free,
    /// Nothing listens; free but inside the ephemeral range and unreserved.
    FreeAtRisk,
    /// Only TIME_WAIT sockets; a socket with SO_REUSEADDR binds now.
    TimeWait,
    /// Held by a connection or another socket: bind fails.
    Held,
    /// bind fails for another reason (privilege, address).
    BindFails,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortResult {
    pub port: u16,
    pub status: Status,
    pub state: PortState,
    /// Who holds the port (the listener, or who is in the way).
    pub holder: Option<String>,
    /// One line, without the port (so consecutive ports can be shown as one range).
    pub text: String,
    /// The listener's accept queue (the worst listener's, when several share the port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_queue: Option<crate::analyze::listener_health::QueueLook>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listener_health: Option<crate::analyze::listener_health::Health>,
    /// Whether new connections from outside get to the listener (filter rules, addresses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reachability: Option<crate::model::reach::ReachVerdict>,
}

impl PortResult {
    /// A port's outcome, before any listener's queue is attached.
    pub fn new(
        port: u16,
        status: Status,
        state: PortState,
        holder: Option<String>,
        text: String,
    ) -> PortResult {
        PortResult {
            port,
            status,
            state,
            holder,
            text,
            accept_queue: None,
            listener_health: None,
            reachability: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceResult {
    pub name: String,
    pub proto: Proto,
    pub ports: PortSet,
    pub process: Option<String>,
    pub status: Status,
    pub results: Vec<PortResult>,
}

impl ServiceResult {
    pub fn count(&self, f: impl Fn(&PortResult) -> bool) -> usize {
        self.results.iter().filter(|r| f(r)).count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostCheck {
    /// `ephemeral`, `drift`, `sysctl_files`, `sysctls`, `at_risk_listeners`.
    pub check: String,
    pub status: Status,
    pub text: String,
}

pub use super::figures::Figures;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub version: u32,
    pub host: String,
    pub netns: String,
    pub status: Status,
    pub exit_code: u8,
    pub summary: String,
    pub services: Vec<ServiceResult>,
    pub host_checks: Vec<HostCheck>,
    pub figures: Figures,
    pub ephemeral_warn: u32,
    pub ephemeral_crit: u32,
    pub ephemeral_use_warn: u8,
    pub ephemeral_use_crit: u8,
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    pub ephemeral_warn: u32,
    pub ephemeral_crit: u32,
    /// WARNING / CRITICAL from this percentage of the busiest destination's usable local
    /// ports in use (connect() fails at 100).
    pub ephemeral_use_warn: u8,
    pub ephemeral_use_crit: u8,
    /// A declared port nobody listens on is CRITICAL (service monitoring), not judged by the
    /// port alone (guarding).
    pub require_listening: bool,
    /// Judge the host's settings too (ephemeral capacity, drift, sysctl.d problems).
    pub host_checks: bool,
    /// What was read of the listeners' health beyond the snapshot (their processes' states,
    /// `--sample`'s looks); a listener not in it is judged from the snapshot's one look.
    pub listeners: super::health::Book,
    /// The declared listeners' reachability, read beforehand (empty: not read).
    pub reach: Vec<crate::model::reach::Reachability>,
    /// The connection-tracking table, read beforehand.
    pub conntrack: Option<crate::model::reach::Conntrack>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ephemeral_warn: crate::reserve::plan::LOW_USABLE_PORTS,
            ephemeral_crit: 1000,
            ephemeral_use_warn: 80,
            ephemeral_use_crit: 95,
            require_listening: false,
            host_checks: true,
            listeners: Default::default(),
            reach: Vec::new(),
            conntrack: None,
        }
    }
}

/// The boot side of the drift check.
pub enum BootConfig<'a> {
    Audit(&'a Audit),
    /// Configuration files do not apply to this namespace (the reason is shown).
    NotApplicable(super::NotCompared),
}
