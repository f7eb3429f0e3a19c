//! `portscope check`: every declared service port and the host's port-space settings judged
//! with the Nagios plugin statuses. Pure: the snapshot, the declarations, the sysctl audit and a
//! bind oracle (the kernel probe behind [`super::why_line`]) go in; a [`Report`] comes out.

use super::service::Service;
use super::why_line::WhyLine;
use crate::analyze::why::Verdict;
use crate::model::{Proto, Snapshot, Socket};
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

fn listeners_on(snap: &Snapshot, port: u16, proto: Proto) -> Vec<&Socket> {
    snap.sockets
        .iter()
        .filter(|s| s.proto == proto && s.local_port == port && s.is_listening() && !s.autobound)
        .collect()
}

fn judge_port(
    svc: &Service,
    port: u16,
    snap: &Snapshot,
    opts: &Options,
    why: &mut dyn FnMut(u16, Proto) -> WhyLine,
) -> PortResult {
    let sys = &snap.sysctl;
    let (lo, hi) = sys.ephemeral();
    let listeners = listeners_on(snap, port, svc.proto);
    let result = |status, state, holder, text| PortResult::new(port, status, state, holder, text);
    if !listeners.is_empty() {
        let r = super::listening::judge(svc, port, &listeners, snap, why);
        let r = super::listening::with_health(r, &listeners, &opts.listeners, snap);
        return super::listening::with_reach(r, svc.proto, &opts.reach);
    }
    let w = why(port, svc.proto);
    let down = if opts.require_listening {
        Status::Critical
    } else {
        Status::Ok
    };
    match w.verdict {
        Verdict::Free if sys.at_risk(port) => result(
            Status::Warning.worst(down),
            PortState::FreeAtRisk,
            None,
            format!(
                "nothing listens; free but inside the ephemeral range {lo}-{hi} and not reserved: an outgoing connection can take it"
            ),
        ),
        Verdict::Free => result(
            down,
            PortState::Free,
            None,
            format!(
                "nothing listens; free and {}: bind would succeed",
                if sys.ip_local_reserved_ports.contains(port) {
                    "reserved"
                } else {
                    "outside the ephemeral range"
                }
            ),
        ),
        Verdict::InUse if w.reusable_time_wait => result(
            Status::Warning.worst(down),
            PortState::TimeWait,
            w.holder,
            format!("nothing listens; {}", w.line),
        ),
        Verdict::InUse => result(
            Status::Critical,
            PortState::Held,
            w.holder.clone(),
            format!(
                "held by {}: {}",
                w.holder.as_deref().unwrap_or("an unseen socket"),
                w.line
            ),
        ),
        Verdict::PermissionDenied | Verdict::AddressNotAvailable => result(
            Status::Critical,
            PortState::BindFails,
            None,
            format!("bind would fail: {}", w.line),
        ),
    }
}

/// Judges `services` and the host. `why` answers for a port nobody expected listens on.
pub fn evaluate(
    snap: &Snapshot,
    services: &[Service],
    boot: &BootConfig,
    opts: &Options,
    host: &str,
    why: &mut dyn FnMut(u16, Proto) -> WhyLine,
) -> Report {
    let mut figures = Figures::default();
    let mut status = Status::Ok;
    let mut results = Vec::new();
    for svc in services {
        let ports: Vec<PortResult> = svc
            .ports
            .iter()
            .map(|p| judge_port(svc, p, snap, opts, why))
            .collect();
        let st = ports.iter().fold(Status::Ok, |a, r| a.worst(r.status));
        status = status.worst(st);
        results.push(ServiceResult {
            name: svc.name.clone(),
            proto: svc.proto,
            ports: svc.ports.clone(),
            process: svc.process.clone(),
            status: st,
            results: ports,
        });
    }
    let hosts = if opts.host_checks {
        super::host::host_checks(snap, boot, opts, &mut figures)
    } else {
        Vec::new()
    };
    for h in &hosts {
        status = status.worst(h.status);
    }
    let summary = super::plugin::summarize(&results, &hosts);
    Report {
        version: 1,
        host: host.to_string(),
        netns: snap.netns.target.clone(),
        status,
        exit_code: status.code(),
        summary,
        services: results,
        host_checks: hosts,
        figures,
        ephemeral_warn: opts.ephemeral_warn,
        ephemeral_crit: opts.ephemeral_crit,
        ephemeral_use_warn: opts.ephemeral_use_warn,
        ephemeral_use_crit: opts.ephemeral_use_crit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::plugin::{grouped, plugin_text};
    use crate::model::test_support::{listener, outgoing, snapshot};

    fn svc(name: &str, ports: &str, process: Option<&str>) -> Service {
        Service {
            name: name.into(),
            ports: PortSet::parse(ports).unwrap(),
            proto: Proto::Tcp,
            process: process.map(String::from),
        }
    }

    fn free(_: u16, _: Proto) -> WhyLine {
        WhyLine {
            verdict: Verdict::Free,
            holder: None,
            line: "free".into(),
            reusable_time_wait: false,
        }
    }

    fn run(
        snap: &Snapshot,
        services: &[Service],
        why: &mut dyn FnMut(u16, Proto) -> WhyLine,
    ) -> Report {
        evaluate(
            snap,
            services,
            &BootConfig::NotApplicable(super::super::NotCompared::NotTheHost {
                netns: "test".into(),
            }),
            &Options::default(),
            "h",
            why,
        )
    }

    #[test]
    fn outcomes_per_port() {
        // 8080 listened on by "svc" (the test owner), 40000 free at risk, 20000 free and safe.
        let snap = snapshot(vec![listener(8080), outgoing(40001, 80)]);
        let r = run(
            &snap,
            &[
                svc("api", "8080", Some("svc")),
                svc("other", "20000", None),
                svc("pool", "40000", None),
            ],
            &mut free,
        );
        let st: Vec<_> = r
            .services
            .iter()
            .map(|s| (s.status, s.results[0].state))
            .collect();
        assert_eq!(
            st,
            [
                (Status::Ok, PortState::Listening),
                (Status::Ok, PortState::Free),
                (Status::Warning, PortState::FreeAtRisk)
            ]
        );
        assert_eq!(r.status, Status::Warning);
        assert!(
            r.summary.contains("pool 40000/tcp free but at risk"),
            "{}",
            r.summary
        );
        let text = plugin_text(&r);
        assert!(text.starts_with("PORTSCOPE WARNING - "), "{text}");
        assert!(
            text.lines()
                .next()
                .unwrap()
                .contains(" | ports_ok=2 ports_warning=1")
        );
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .starts_with("WARNING: pool 40000/tcp")
        );
    }

    #[test]
    fn wrong_owner_and_held_are_critical_and_ranges_group() {
        let snap = snapshot(vec![listener(8080)]);
        let mut held = |p: u16, _: Proto| WhyLine {
            verdict: if p == 9001 {
                Verdict::InUse
            } else {
                Verdict::Free
            },
            holder: (p == 9001).then(|| "outgoing connection of curl (pid 9)".into()),
            line: "explained".into(),
            reusable_time_wait: false,
        };
        let r = run(
            &snap,
            &[
                svc("api", "8080", Some("nginx")),
                svc("pool", "9000-9003", None),
            ],
            &mut held,
        );
        assert_eq!(r.services[0].results[0].state, PortState::ListeningOther);
        assert_eq!(r.services[1].status, Status::Critical);
        let groups: Vec<String> = grouped(&r.services[1])
            .iter()
            .map(|(s, p)| format!("{s}:{:?}", p.state))
            .collect();
        assert_eq!(groups, ["9000:Free", "9001:Held", "9002-9003:Free"]);
        assert_eq!(r.exit_code, 2);
        assert!(
            r.summary
                .contains("held by outgoing connection of curl (pid 9)")
        );
    }

    #[test]
    fn require_listening_makes_a_down_service_critical() {
        let snap = snapshot(vec![]);
        let r = evaluate(
            &snap,
            &[svc("api", "20000", None)],
            &BootConfig::NotApplicable(super::super::NotCompared::NotTheHost { netns: "t".into() }),
            &Options {
                require_listening: true,
                ..Options::default()
            },
            "h",
            &mut free,
        );
        assert_eq!(r.status, Status::Critical);
    }
}
