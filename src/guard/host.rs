//! The host's own checks: ephemeral capacity, drift between the runtime reserved-ports list
//! and the boot configuration, sysctl.d lines the kernel will reject, listeners at risk.

use super::findings::{BootConfig, Figures, HostCheck, Options, Status};
use super::why_line::one_line;
use crate::model::Snapshot;

pub fn host_checks(
    snap: &Snapshot,
    boot: &BootConfig,
    opts: &Options,
    figures: &mut Figures,
) -> Vec<HostCheck> {
    let sys = &snap.sysctl;
    let mut out = Vec::new();
    let mut add = |check: &str, status, text: String| {
        out.push(HostCheck {
            check: check.into(),
            status,
            text,
        });
    };
    let unread: Vec<&str> = ["ip_local_port_range", "ip_local_reserved_ports"]
        .into_iter()
        .filter(|n| !sys.known(n))
        .collect();
    if !unread.is_empty() {
        add(
            "sysctls",
            Status::Unknown,
            format!(
                "could not read {} in this namespace: run as root",
                unread.join(", ")
            ),
        );
        return out;
    }
    let (lo, hi) = sys.ephemeral();
    let eph = crate::reserve::Ephemeral::new(
        (lo, hi),
        &sys.ip_local_reserved_ports,
        &sys.ip_local_reserved_ports,
    );
    figures.ephemeral_size = eph.size;
    figures.ephemeral_usable = eph.usable_before;
    figures.reserved_ports = sys.ip_local_reserved_ports.len();
    let usable_status = if eph.usable_before < opts.ephemeral_crit {
        Status::Critical
    } else if eph.usable_before < opts.ephemeral_warn {
        Status::Warning
    } else {
        Status::Ok
    };
    add(
        "ephemeral",
        usable_status,
        format!(
            "{} of {} ephemeral ports usable ({lo}-{hi}, {} reserved; warn below {}, critical below {})",
            eph.usable_before,
            eph.size,
            eph.size - eph.usable_before,
            opts.ephemeral_warn,
            opts.ephemeral_crit
        ),
    );
    let (status, text) = ephemeral_use(snap, opts, figures);
    add("ephemeral_use", status, text);
    match boot {
        BootConfig::NotApplicable(why) => {
            add("drift", Status::Ok, format!("not compared: {why}"));
        }
        BootConfig::Audit(audit) => {
            let boot_set = audit
                .boot_value()
                .and_then(|s| s.value.clone())
                .unwrap_or_default();
            let from = audit.boot_value().map_or_else(
                || "no configuration file sets it".to_string(),
                |s| format!("{}:{}", s.file.display(), s.line),
            );
            let runtime = &sys.ip_local_reserved_ports;
            let only_runtime = runtime.difference(&boot_set);
            let only_boot = boot_set.difference(runtime);
            figures.drift = Some(!only_runtime.is_empty() || !only_boot.is_empty());
            figures.drift_ports = only_runtime.len() + only_boot.len();
            if figures.drift == Some(true) {
                let mut parts = Vec::new();
                if !only_runtime.is_empty() {
                    parts.push(format!(
                        "{only_runtime} reserved now but not at boot (lost at reboot)"
                    ));
                }
                if !only_boot.is_empty() {
                    parts.push(format!("{only_boot} set at boot but not reserved now"));
                }
                add(
                    "drift",
                    Status::Warning,
                    format!(
                        "reserved ports drift: runtime {:?}, boot {:?} ({from}): {}",
                        runtime.to_string(),
                        boot_set.to_string(),
                        parts.join("; ")
                    ),
                );
            } else {
                add(
                    "drift",
                    Status::Ok,
                    format!(
                        "reserved ports {:?} match the boot configuration ({from})",
                        runtime.to_string()
                    ),
                );
            }
            let problems: Vec<String> = audit
                .problems()
                .filter_map(|s| {
                    s.problem
                        .as_ref()
                        .map(|p| format!("{}:{}: {}", s.file.display(), s.line, p.message()))
                })
                .chain(audit.unreadable.iter().map(|u| format!("unreadable {u}")))
                .collect();
            if !problems.is_empty() {
                add(
                    "sysctl_files",
                    Status::Warning,
                    one_line(&problems.join("; ")),
                );
            }
        }
    }
    if let Some(c) = opts.conntrack {
        figures.conntrack = Some(c);
        let status = if c.full() {
            Status::Critical
        } else if c.near() {
            Status::Warning
        } else {
            Status::Ok
        };
        add("conntrack", status, c.sentence());
    }
    let at_risk = crate::reserve::at_risk_listeners(snap, sys).count();
    figures.listeners_at_risk = u32::try_from(at_risk).unwrap_or(u32::MAX);
    add(
        "at_risk_listeners",
        Status::Ok,
        format!(
            "{at_risk} listener{} inside the ephemeral range and not reserved",
            if at_risk == 1 { "" } else { "s" }
        ),
    );
    out
}

/// The busiest destination's local ports: what decides whether the next connect() fails,
/// which the range's size alone does not say (a pool can use a whole range toward one
/// database while the range looks roomy).
fn ephemeral_use(snap: &Snapshot, opts: &Options, figures: &mut Figures) -> (Status, String) {
    use crate::analyze::connect::{ConnectVerdict, destinations};
    let Some(u) = destinations(snap, 1).into_iter().next() else {
        return (
            Status::Ok,
            "no outgoing connection uses an ephemeral port".to_string(),
        );
    };
    let in_use = u.usable - u.available.min(u.usable);
    let dst = crate::model::fmt_endpoint(u.dest, u.dest_port);
    figures.ephemeral_in_use = u32::try_from(in_use).unwrap_or(u32::MAX);
    figures.ephemeral_use_usable = u32::try_from(u.usable).unwrap_or(u32::MAX);
    figures.ephemeral_busiest = Some(dst.clone());
    let pct = u.share() * 100.0;
    let status =
        if u.verdict == ConnectVerdict::Exhausted || pct >= f64::from(opts.ephemeral_use_crit) {
            Status::Critical
        } else if pct >= f64::from(opts.ephemeral_use_warn) {
            Status::Warning
        } else {
            Status::Ok
        };
    let fails = if u.verdict == ConnectVerdict::Exhausted {
        format!(": connect() to it fails with EADDRNOTAVAIL (see portscope why --connect {dst})")
    } else {
        String::new()
    };
    (
        status,
        format!(
            "busiest destination {dst}: {in_use} of {} usable local ports in use ({pct:.0}%; \
             warn at {}%, critical at {}%){fails}",
            u.usable, opts.ephemeral_use_warn, opts.ephemeral_use_crit
        ),
    )
}
