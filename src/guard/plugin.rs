//! The Nagios plugin output of a [`Report`]: `PORTSCOPE STATUS - summary | perfdata`, then one
//! line per finding, worst first.

use super::findings::{HostCheck, PortResult, PortState, Report, ServiceResult, Status};
use super::why_line::one_line;
use crate::portset::PortSet;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// Consecutive ports with the same outcome, as (ports, representative result).
pub fn grouped(svc: &ServiceResult) -> Vec<(PortSet, &PortResult)> {
    let mut out: Vec<(PortSet, &PortResult)> = Vec::new();
    for r in &svc.results {
        if let Some((set, first)) = out.last_mut()
            && first.status == r.status
            && first.state == r.state
            && first.holder == r.holder
            && first.text == r.text
        {
            set.insert(r.port);
            continue;
        }
        out.push((PortSet::from_ranges([(r.port, r.port)]), r));
    }
    out
}

fn short_state(r: &PortResult) -> String {
    match r.state {
        PortState::Listening => "listening".into(),
        PortState::ListeningOther | PortState::Held => format!(
            "held by {}",
            r.holder.as_deref().unwrap_or("an unseen socket")
        ),
        PortState::ListeningShared => format!(
            "shared with {}",
            r.holder.as_deref().unwrap_or("another process")
        ),
        PortState::ListeningOwnerHidden => "listener not visible".into(),
        PortState::ListeningNotAccepting => "listener not accepting".into(),
        PortState::ListeningSlow => "listener slow to accept".into(),
        PortState::Free => "not listening".into(),
        PortState::FreeAtRisk => "free but at risk".into(),
        PortState::TimeWait => "TIME_WAIT only".into(),
        PortState::BindFails => "bind would fail".into(),
    }
}

pub fn summarize(services: &[ServiceResult], hosts: &[HostCheck]) -> String {
    const SHOWN: usize = 3;
    let mut problems: Vec<(Status, String)> = Vec::new();
    for s in services {
        for (set, r) in grouped(s) {
            if r.status != Status::Ok {
                problems.push((
                    r.status,
                    format!("{} {set}/{} {}", s.name, s.proto, short_state(r)),
                ));
            }
        }
    }
    for h in hosts.iter().filter(|h| h.status != Status::Ok) {
        let what = match h.check.as_str() {
            "drift" => "reserved ports drift from boot configuration".to_string(),
            "ephemeral" => "few ephemeral ports usable".to_string(),
            "sysctl_files" => "sysctl.d files the kernel will reject".to_string(),
            other => format!("{other}: {}", h.text),
        };
        problems.push((h.status, what));
    }
    problems.sort_by_key(|(s, _)| std::cmp::Reverse(s.rank()));
    if problems.is_empty() {
        let ports: usize = services.iter().map(|s| s.results.len()).sum();
        let listening: usize = services
            .iter()
            .map(|s| s.count(|r| r.state == PortState::Listening))
            .sum();
        return if services.is_empty() {
            "no service ports declared; host checks OK".into()
        } else {
            format!(
                "{} service{}, {ports} port{} guarded, {listening} listening",
                services.len(),
                if services.len() == 1 { "" } else { "s" },
                if ports == 1 { "" } else { "s" },
            )
        };
    }
    let mut text: Vec<String> = problems
        .iter()
        .take(SHOWN)
        .map(|(_, t)| t.clone())
        .collect();
    if problems.len() > SHOWN {
        text.push(format!("and {} more", problems.len() - SHOWN));
    }
    one_line(&text.join("; "))
}

/// Nagios perfdata (plugin guidelines, "Performance data"): `label=value;warn;crit;min;max`,
/// each threshold a range outside which the value alerts. `N` alerts above N, `N:` below N, so
/// a threshold states exactly when portscope raises the status: usable ports alert below
/// `--ephemeral-warn` (`10000:`), ports in use from the percentage of the usable ones (`N` is
/// the last count still OK), drift from any at all (`0`).
pub fn perfdata(r: &Report) -> String {
    let mut by = [0usize; 4];
    for s in &r.services {
        for p in &s.results {
            by[p.status.code() as usize] += 1;
        }
    }
    let f = &r.figures;
    let mut out = format!(
        "ports_ok={} ports_warning={} ports_critical={} ports_unknown={}",
        by[0], by[1], by[2], by[3]
    );
    // Each declared listener's accept queue against its backlog (the maximum).
    for s in &r.services {
        for p in &s.results {
            if let Some(q) = p.accept_queue {
                _ = write!(
                    out,
                    " accept_queue_{}={};;;0;{}",
                    p.port, q.queued, q.backlog
                );
            }
        }
    }
    if let Some(o) = r.figures.listen_overflows {
        _ = write!(out, " listen_overflows={o};;;0");
    }
    if !r.host_checks.is_empty() {
        _ = write!(
            out,
            " ephemeral_usable={};{}:;{}:;0;{} reserved_ports={};;;0;65535 listeners_at_risk={};;;0",
            f.ephemeral_usable,
            r.ephemeral_warn,
            r.ephemeral_crit,
            f.ephemeral_size,
            f.reserved_ports,
            f.listeners_at_risk
        );
        if f.ephemeral_use_usable > 0 {
            // The status rises once the percentage in use reaches the threshold: the count
            // one below that is the last one still OK.
            let ok_up_to = |pct: u8| {
                (u64::from(f.ephemeral_use_usable) * u64::from(pct))
                    .div_ceil(100)
                    .saturating_sub(1)
            };
            _ = write!(
                out,
                " ephemeral_in_use={};{};{};0;{}",
                f.ephemeral_in_use,
                ok_up_to(r.ephemeral_use_warn),
                ok_up_to(r.ephemeral_use_crit),
                f.ephemeral_use_usable
            );
        }
        if let Some(d) = f.drift {
            _ = write!(out, " drift={};0", u8::from(d));
        }
        if let Some(c) = f.conntrack {
            // WARNING above 80% of the table, CRITICAL at the limit.
            _ = write!(
                out,
                " conntrack_entries={};{};{};0;{}",
                c.count,
                c.max * 8 / 10,
                c.max,
                c.max
            );
        }
    }
    out
}

/// The plugin output: `PORTSCOPE STATUS - summary | perfdata`, then one line per finding.
pub fn plugin_text(r: &Report) -> String {
    let mut out = format!(
        "PORTSCOPE {} - {} | {}\n",
        r.status.label(),
        r.summary,
        perfdata(r)
    );
    let mut lines: Vec<(Status, String)> = Vec::new();
    for s in &r.services {
        for (set, p) in grouped(s) {
            let fix = if p.state == PortState::FreeAtRisk {
                format!(" (portscope reserve apply {set})")
            } else {
                String::new()
            };
            lines.push((
                p.status,
                format!(
                    "{}: {} {set}/{}: {}{fix}",
                    p.status.label(),
                    s.name,
                    s.proto,
                    p.text
                ),
            ));
        }
    }
    for h in &r.host_checks {
        lines.push((
            h.status,
            format!("{}: host {}: {}", h.status.label(), h.check, h.text),
        ));
    }
    // Worst first: a journal or a monitoring UI may show only the first few lines.
    lines.sort_by_key(|(s, _)| std::cmp::Reverse(s.rank()));
    for (_, l) in lines {
        out.push_str(&one_line(&l));
        out.push('\n');
    }
    out
}
