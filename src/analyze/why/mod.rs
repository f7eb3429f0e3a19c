//! "Why can't my service bind this port?": a pure function of the request, the snapshot and the
//! kernel's probe answers. The CLI prints it; the TUI shows it in a panel; `fix` carries out its
//! plan.

pub mod cause;
pub mod conflict;
mod destination;
mod explain;
pub mod group;
#[cfg(test)]
mod group_tests;
mod group_text;
pub mod health;
pub mod inherit;
pub mod loss;
pub mod outline;
pub mod remedy;

pub use crate::analyze::remedy_kind::RemedyKind;
use crate::model::NetnsTarget;
use crate::model::probe::ProbeResult;
pub use crate::model::probe::{BindOptions, ServiceUser};
use crate::model::{Proto, Snapshot, Socket, State};
pub use cause::{Cause, CauseKind};
pub use conflict::overlaps;
pub use group::{Evidence, ReuseGroup};
pub use group_text::group_lines;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindRequest {
    pub port: u16,
    pub proto: Proto,
    pub addr: IpAddr,
    /// How the service's socket is set up (v6only, SO_REUSEPORT, IP_FREEBIND, its user).
    pub opts: BindOptions,
}

/// Why text is not a port a service could bind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServicePortError {
    #[error("{:?} is not a port: {}", .0.token, .0.reason)]
    NotAPort(crate::model::portset::PortSpecError),
    /// A verdict on port 0 would say nothing about the service.
    #[error("port 0 asks the kernel for any free port: name the port your service binds (1-65535)")]
    Zero,
}

/// The port a service would bind: 1-65535. Port 0 asks the kernel for any free port, so a
/// verdict on it would say nothing about the service.
pub fn parse_service_port(text: &str) -> Result<u16, ServicePortError> {
    let port = crate::model::portset::parse_port(text).map_err(ServicePortError::NotAPort)?;
    if port == 0 {
        return Err(ServicePortError::Zero);
    }
    Ok(port)
}

impl BindRequest {
    pub fn tcp(port: u16) -> Self {
        BindRequest {
            port,
            proto: Proto::Tcp,
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            opts: BindOptions::default(),
        }
    }

    pub fn udp(port: u16) -> Self {
        BindRequest {
            proto: Proto::Udp,
            ..BindRequest::tcp(port)
        }
    }

    /// The options as `why` takes them (" --proto udp --v6only"), to repeat the question.
    pub fn cli_flags(&self, user: Option<&str>) -> String {
        let mut f = String::new();
        if self.proto != Proto::Tcp {
            _ = write!(f, " --proto {}", self.proto);
        }
        if self.addr != IpAddr::V4(Ipv4Addr::UNSPECIFIED) {
            _ = write!(f, " --addr {}", self.addr);
        }
        for (on, flag) in [
            (self.opts.v6only, " --v6only"),
            (self.opts.reuseport, " --reuseport"),
            (self.opts.freebind, " --freebind"),
        ] {
            if on {
                f.push_str(flag);
            }
        }
        match (self.opts.user, user) {
            (Some(_), Some(name)) => _ = write!(f, " --user {}", remedy::shell_quote(name)),
            (Some(u), None) => _ = write!(f, " --user {}", u.uid),
            _ => {}
        }
        f
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
    /// A TCP socket bound but not listening (TCP_BOUND_INACTIVE).
    BoundInactive,
}

impl Role {
    pub fn of(s: &Socket) -> Role {
        if s.is_listening() {
            Role::Listener
        } else if s.state == State::BoundInactive {
            Role::BoundInactive
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
            Role::BoundInactive => "bound_inactive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    #[serde(flatten)]
    pub socket: Socket,
    pub role: Role,
    /// The holding process (the socket's first owner) as a person deciding about it wants to see
    /// it; filled in by the surface that reads /proc, shared by every holder of that process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<std::sync::Arc<crate::model::process_context::ProcessContext>>,
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
    /// wait, reuseaddr, close_connection, destroy_connections, destroy_time_wait, stop_service,
    /// kill, reserve, grant_capability, lower_unprivileged_start, use_local_address,
    /// nonlocal_bind, freebind, see_owner, start_service.
    pub action: RemedyKind,
    /// A shell command that does it, exactly as it can be pasted; empty when the remedy is a
    /// change to the service's code or configuration (then `change` says what).
    pub command: String,
    pub text: String,
    /// The change to make in the service's code or configuration (never a shell command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    /// The TUI key that carries it out on the whole cause (K, D, R).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// In the plan: which cause (index into `causes`) the step acts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<usize>,
    /// What else breaks when this is done (remote logins, DNS, the operator's own session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
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
    /// What is in the way, grouped the way one acts on it (version 2).
    #[serde(default)]
    pub causes: Vec<Cause>,
    /// The remedies that free the port, in order (version 2).
    #[serde(default)]
    pub plan: Vec<Remedy>,
    /// The options the bind was judged with.
    #[serde(default)]
    pub options: BindOptions,
    /// The other answers to the same question: the other protocol when none was named, the
    /// other addresses a name stands for. This one leads because it is blocked (or first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Also>,
    /// Sockets sharing the port (SO_REUSEPORT groups, UDP sockets bound together).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reuseport_groups: Vec<ReuseGroup>,
    /// Destinations on this port whose clients have run out of local ports (or soon will):
    /// what the operator's "cannot connect" really is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connect: Vec<crate::analyze::connect::PortUse>,
}

/// Another answer to the question, in a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Also {
    pub proto: Proto,
    pub addr: IpAddr,
    pub verdict: Verdict,
    pub would_bind: bool,
    pub explanation: String,
}

impl Also {
    pub fn of(d: &Diagnosis) -> Also {
        Also {
            proto: d.proto,
            addr: d.addr,
            verdict: d.verdict,
            would_bind: d.would_bind(),
            explanation: d.explanation.clone(),
        }
    }
}

impl Diagnosis {
    /// The bind this answers (what `fix` verifies after each step).
    pub fn request(&self) -> BindRequest {
        BindRequest {
            port: self.port,
            proto: self.proto,
            addr: self.addr,
            opts: self.options,
        }
    }

    /// Whether the requested bind would succeed now.
    pub fn would_bind(&self) -> bool {
        self.verdict == Verdict::Free
    }

    /// "kernel probe: bind EADDRINUSE; with SO_REUSEADDR ok", or why the probe did not run.
    pub fn probe_summary(&self) -> String {
        match (&self.probe.plain, &self.probe.reuseaddr) {
            (Some(p), Some(r)) => format!(
                "kernel probe: bind {}; with SO_REUSEADDR {}",
                p.as_str(),
                r.as_str()
            ),
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
    /// The uid the service's socket gets (SO_REUSEPORT groups need the same one).
    pub uid: u32,
    /// The service user's name, when `--user` named one.
    pub user_name: Option<String>,
    /// The pids of the session portscope runs in (parent, grandparent, ...): stopping one of
    /// them ends the operator's own session.
    pub ancestors: Vec<u32>,
    /// Clock ticks per second of process start times (USER_HZ; 0: the usual 100).
    pub hz: u64,
    /// The config file's `[protect]`: processes whose stopping is warned about.
    pub protect: std::sync::Arc<crate::model::protect::Protect>,
}

impl Context {
    /// Prefix for commands that must run inside the target namespace (ss, ip, sysctl).
    pub fn ns_prefix(&self) -> String {
        self.netns.nsenter_prefix()
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
            process: None,
        })
        .collect();
    out.sort_by_key(|h| h.role);
    out
}

fn verdict_from(probe: &ProbeResult) -> Option<Verdict> {
    let plain = probe.plain.as_ref()?;
    Some(match plain.as_str() {
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
    let port = req.port;
    let at_risk = sys.at_risk(port);
    // Without a probe, a service user (or this process) lacking the capability gets EACCES.
    let lacks_privilege = if req.opts.user.is_some() {
        ctx.uid != 0
    } else {
        !ctx.can_bind_privileged
    };
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
        if privileged && lacks_privilege {
            Verdict::PermissionDenied
        } else if holders.is_empty() {
            Verdict::Free
        } else {
            Verdict::InUse
        }
    });

    let bindv6only = sys.bindv6only.unwrap_or(false);
    let mut causes = cause::group(&holders);
    let judged: Vec<conflict::Conflict> = causes
        .iter()
        .map(|c| cause::rules(c, &holders, req, bindv6only, ctx.uid))
        .collect();
    cause::settle(&mut causes, &judged, probe);
    match verdict {
        Verdict::PermissionDenied => causes.insert(0, explain::privilege_cause(req, sys)),
        Verdict::AddressNotAvailable => {
            causes.insert(0, explain::address_cause(req, probe.address));
        }
        _ => {}
    }
    remedy::for_causes(&mut causes, &holders, req, ctx, probe.address);
    let plan = if verdict == Verdict::Free {
        Vec::new()
    } else {
        remedy::plan(&causes, req, ctx, sys)
    };
    let groups = group::groups(req, &holders, probe, ctx.hz);
    let mut explanation = explain::explanation(req, verdict, &causes, sys, probe);
    if verdict != Verdict::Free
        && let Some(s) =
            group::uid_sentence(req, &holders, &groups, ctx.uid, ctx.user_name.as_deref())
    {
        explanation.push(' ');
        explanation.push_str(&s);
    }
    explain::notes(
        &mut notes,
        req,
        snap,
        ctx,
        &causes,
        privileged,
        lacks_privilege,
        verdict,
    );
    let mut plan = plan;
    loss::warn(&mut plan, &mut causes, &holders, ctx);
    group::order_plan(&mut plan, &causes, &groups);
    let connect = if req.proto == Proto::Tcp {
        destination::short_of_ports(snap, port)
    } else {
        Vec::new()
    };
    destination::lead(&connect, &mut explanation, &mut plan, &causes, &mut notes);
    let mut remedies = explain::flat_remedies(&plan, &causes, req, ctx, at_risk, verdict);
    if !connect.is_empty() {
        // What to do is give the clients ports back, never stop what they connect to.
        remedies = destination::remedies(&connect, snap);
        remedies.extend(plan.iter().cloned());
    }
    if verdict == Verdict::Free {
        // No plan runs for a free port; removing a stale member is still what to do.
        let stale = group::stale_remedies(&causes, &groups);
        remedies.splice(0..0, stale);
    }
    let mut d = Diagnosis {
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
        causes,
        plan,
        options: req.opts,
        also: Vec::new(),
        reuseport_groups: groups,
        connect,
    };
    health::apply(
        &mut d,
        health::Known {
            looks: None,
            somaxconn: sys.somaxconn,
            ns_prefix: &ctx.ns_prefix(),
        },
    );
    d
}
