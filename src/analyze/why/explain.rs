//! The words: the explanation that names the causes that block, the notes, the non-socket
//! causes (privilege, address), and the version-1 flat remedy list.

use super::cause::{Cause, CauseKind};
use super::{BindRequest, Context, Remedy, Verdict};
use crate::analyze::why::RemedyKind;
use crate::model::probe::AddressState;
use crate::model::probe::ProbeResult;
use crate::model::{Snapshot, Sysctls};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

pub fn privilege_cause(req: &BindRequest, sys: &Sysctls) -> Cause {
    let mut c = Cause::new(
        CauseKind::Privilege,
        format!(
            "port {} is below net.ipv4.ip_unprivileged_port_start ({}) and the service lacks CAP_NET_BIND_SERVICE",
            req.port, sys.ip_unprivileged_port_start
        ),
    );
    c.count = 0;
    c
}

pub fn address_cause(req: &BindRequest, state: Option<AddressState>) -> Cause {
    let summary = match state {
        Some(AddressState::Tentative) => format!(
            "{} is on this host but tentative: duplicate address detection has not finished",
            req.addr
        ),
        Some(AddressState::DadFailed) => format!(
            "{} failed duplicate address detection: another host on the link uses it",
            req.addr
        ),
        _ => format!("{} is not an address of this network namespace", req.addr),
    };
    Cause::new(CauseKind::Address, summary)
}

fn list(causes: &[&Cause]) -> String {
    let mut parts: Vec<String> = causes.iter().take(3).map(|c| c.summary.clone()).collect();
    if causes.len() > 3 {
        parts.push(format!("and {} more causes", causes.len() - 3));
    }
    parts.join("; ")
}

pub fn explanation(
    req: &BindRequest,
    verdict: Verdict,
    causes: &[Cause],
    sys: &Sysctls,
    probe: &ProbeResult,
) -> String {
    let what = format!("{} port {}", req.proto, req.port);
    let (lo, hi) = sys.ephemeral();
    let blocking: Vec<&Cause> = causes
        .iter()
        .filter(|c| c.blocks && !matches!(c.kind, CauseKind::Privilege | CauseKind::Address))
        .collect();
    match verdict {
        Verdict::PermissionDenied => {
            let mut e = format!(
                "binding {what} needs privilege: it is below net.ipv4.ip_unprivileged_port_start ({}) and {} CAP_NET_BIND_SERVICE.",
                sys.ip_unprivileged_port_start,
                if req.opts.user.is_some() {
                    "the service's user lacks"
                } else {
                    "this process lacks"
                }
            );
            if !blocking.is_empty() {
                _ = write!(
                    e,
                    " Even with it the bind would fail with EADDRINUSE: {}.",
                    list(&blocking)
                );
            } else if probe.privileged.as_ref().is_some_and(crate::model::probe::BindOutcome::is_ok) {
                e.push_str(" The port itself is free: with the capability the bind succeeds.");
            }
            e
        }
        Verdict::AddressNotAvailable => match probe.address {
            Some(AddressState::Tentative) => format!(
                "{} is on this host but still tentative: duplicate address detection runs for a second or two after an IPv6 address is added, and until it ends bind fails with EADDRNOTAVAIL (the classic boot race).",
                req.addr
            ),
            Some(AddressState::DadFailed) => format!(
                "{} failed duplicate address detection: another host on the link has it, so the kernel will not use it.",
                req.addr
            ),
            _ => format!(
                "{} is not an address of this host's network namespace: bind fails with {} whatever the port. A virtual IP that is added later (keepalived, HAProxy) can still be bound with IP_FREEBIND or net.{}.ip_nonlocal_bind.",
                req.addr,
                probe.plain.as_ref().map_or("EADDRNOTAVAIL", |o| o.as_str()),
                if req.addr.is_ipv4() { "ipv4" } else { "ipv6" }
            ),
        },
        Verdict::Free => {
            let mut e = format!("{what} on {} is free: bind would succeed now.", req.addr);
            if sys.at_risk(req.port) {
                _ = write!(
                    e,
                    " But it lies inside the ephemeral range {lo}-{hi} and is not reserved: any outgoing connection may take it before your service binds."
                );
            }
            e
        }
        Verdict::InUse if blocking.is_empty() => {
            "the kernel refuses the bind but no socket in this namespace's tables overlaps it (a socket opened and closed between probe and scan, a bound-but-inactive socket on a kernel that does not report them, or one bound to a device).".to_string()
        }
        Verdict::InUse => {
            let mut e = format!("{what} cannot be bound: {}.", list(&blocking));
            if blocking.iter().any(|c| c.kind == CauseKind::Outgoing) {
                let reserved = sys.ip_local_reserved_ports.contains(req.port);
                _ = write!(
                    e,
                    " The kernel picks an outgoing connection's port from the ephemeral range {lo}-{hi}, {}",
                    if reserved {
                        format!("and although {} is reserved now, a reservation is not retroactive.", req.port)
                    } else {
                        format!("which does not reserve {}.", req.port)
                    }
                );
            }
            if blocking.iter().all(|c| c.blocks_with_reuseaddr == Some(false)) {
                e.push_str(" A socket with SO_REUSEADDR can bind now (the probe succeeded with it).");
            } else if blocking
                .iter()
                .any(|c| c.kind == CauseKind::TimeWait && c.blocks_with_reuseaddr == Some(true))
            {
                e.push_str(" Even SO_REUSEADDR does not get past the TIME_WAIT sockets (the socket that left them did not set it).");
            }
            let quiet = causes.iter().filter(|c| !c.blocks).count();
            if quiet > 0 {
                _ = write!(
                    e,
                    " {} on the port {} not in the way on {} own.",
                    if quiet == 1 { "One more cause".to_string() } else { format!("{quiet} more causes") },
                    if quiet == 1 { "is" } else { "are" },
                    if quiet == 1 { "its" } else { "their" }
                );
            }
            e
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub fn notes(
    notes: &mut Vec<String>,
    req: &BindRequest,
    snap: &Snapshot,
    ctx: &Context,
    causes: &[Cause],
    privileged: bool,
    lacks_privilege: bool,
    verdict: Verdict,
) {
    let sys = &snap.sysctl;
    let port = req.port;
    if privileged && verdict != Verdict::PermissionDenied {
        notes.push(format!(
            "port {port} is below ip_unprivileged_port_start ({}): a service not running as root needs CAP_NET_BIND_SERVICE to bind it",
            sys.ip_unprivileged_port_start
        ));
    }
    let _ = lacks_privilege;
    if snap.source == crate::model::Source::Procfs {
        notes.push(
            "sockets were read from /proc/net, which does not say which ports the kernel chose: an outgoing connection shows as 'bound'"
                .into(),
        );
    }
    if req.proto == crate::model::Proto::Tcp && !snap.stats.bound_inactive_visible {
        notes.push(
            "these tables do not show TCP sockets that are bound but not listening (sock_diag dumps them from Linux 6.8 on; this read did not have them): one may hold the port unseen"
                .into(),
        );
    }
    if !sys.known("ip_local_port_range") || !sys.known("ip_local_reserved_ports") {
        notes.push(
            "this namespace's ephemeral range and reservations could not be read: 'at risk' is judged on kernel defaults"
                .into(),
        );
    }
    if causes.iter().any(|c| c.hidden) {
        notes.push(format!(
            "{} processes could not be read: run as root ({}) to see who holds the port",
            snap.stats.processes_hidden,
            super::remedy::as_root_command(req, ctx)
        ));
    }
    if causes.iter().any(|c| c.judged_by == "guess") {
        notes.push(
            "some causes could be judged neither by the tables nor by the probe: they are counted as in the way"
                .into(),
        );
    }
}

/// Version 1's single list: the plan's steps, then every cause's other remedies, then the
/// reservation of a free port at risk.
pub fn flat_remedies(
    plan: &[Remedy],
    causes: &[Cause],
    req: &BindRequest,
    ctx: &Context,
    at_risk: bool,
    verdict: Verdict,
) -> Vec<Remedy> {
    let mut out: Vec<Remedy> = Vec::new();
    let mut add = |r: &Remedy| {
        if !out
            .iter()
            .any(|o| o.action == r.action && o.command == r.command && o.change == r.change)
        {
            out.push(r.clone());
        }
    };
    for r in plan {
        add(r);
    }
    for c in causes.iter().filter(|c| c.blocks) {
        c.remedies.iter().for_each(&mut add);
    }
    if verdict == Verdict::Free && at_risk {
        add(&Remedy {
            action: RemedyKind::Reserve,
            command: format!(
                "portscope{} reserve apply {}",
                ctx.netns.cli_flag(),
                req.port
            ),
            text: format!(
                "add {} to net.ipv4.ip_local_reserved_ports so the kernel stops handing it to outgoing connections (not retroactive: existing ones keep it until they close)",
                req.port
            ),
            change: None,
            key: Some("R".into()),
            cause: None,
            warning: None,
        });
    }
    out
}
