//! `portscope check`: every declared service port and the host's port-space settings judged
//! with the Nagios plugin statuses. Pure: the snapshot, the declarations, the sysctl audit and a
//! bind oracle (the kernel probe behind [`super::why_line`]) go in; a [`Report`] comes out.

use super::service::Service;
use super::why_line::WhyLine;
use crate::analyze::why::Verdict;
use crate::model::{Proto, Snapshot, Socket};

pub use super::findings::{
    BootConfig, Figures, HostCheck, Options, PortResult, PortState, Report, ServiceResult, Status,
};

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
    use crate::portset::PortSet;

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
