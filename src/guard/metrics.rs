//! The check's findings as Prometheus text exposition (version 0.0.4) for node_exporter's
//! textfile collector. Labels are bounded: per declared service and protocol, per socket state;
//! never per socket, port or process.

use super::findings::{PortState, Report};
use crate::model::{Proto, Snapshot, State};
use std::fmt::Write as _;

/// The file node_exporter reads (it reads `*.prom` only, so temp names must not end so).
pub const FILE_NAME: &str = "portscope.prom";

fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, help: &str) {
        self.typed(name, help, "gauge");
    }

    fn typed(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// The TCP and UDP states whose series always exist (zero or not), so alerts and graphs see a
/// stable set.
/// Destinations exported by `portscope_ephemeral_ports_in_use`.
const BUSIEST: usize = 3;

fn states_for(proto: Proto) -> Vec<State> {
    match proto {
        Proto::Tcp => State::ALL
            .into_iter()
            .filter(|s| *s != State::Unconn)
            .collect(),
        Proto::Udp => vec![State::Unconn, State::Established],
    }
}

/// A per-service gauge: name, help, and how to read it from the service's results.
type PerService = (
    &'static str,
    &'static str,
    fn(&super::findings::ServiceResult) -> f64,
);

/// Renders the metrics of one run. `duration` is the run's wall time.
pub fn render(report: &Report, snap: &Snapshot, now: jiff::Timestamp, duration: f64) -> String {
    let mut w = Writer { out: String::new() };
    let per_service: [PerService; 9] = [
        (
            "portscope_service_ports",
            "Ports declared for the service.",
            |s| s.results.len() as f64,
        ),
        (
            "portscope_service_ports_listening",
            "Declared ports with a listener now.",
            |s| {
                s.count(|r| {
                    matches!(
                        r.state,
                        PortState::Listening
                            | PortState::ListeningOther
                            | PortState::ListeningShared
                            | PortState::ListeningOwnerHidden
                            | PortState::ListeningNotAccepting
                            | PortState::ListeningSlow
                    )
                }) as f64
            },
        ),
        (
            "portscope_service_owner_match",
            "1 when every listener of every declared port is the expected process, else 0.",
            |s| {
                f64::from(u8::from(
                    s.count(|r| {
                        matches!(
                            r.state,
                            PortState::ListeningOther
                                | PortState::ListeningShared
                                | PortState::ListeningOwnerHidden
                        )
                    }) == 0,
                ))
            },
        ),
        (
            "portscope_service_ports_at_risk",
            "Declared ports nobody listens on, inside the ephemeral range and not reserved.",
            |s| s.count(|r| r.state == PortState::FreeAtRisk) as f64,
        ),
        (
            "portscope_service_ports_blocked",
            "Declared ports another process or connection holds, or that bind() would refuse.",
            |s| {
                s.count(|r| {
                    matches!(
                        r.state,
                        PortState::ListeningOther | PortState::Held | PortState::BindFails
                    )
                }) as f64
            },
        ),
        (
            "portscope_service_accept_queue",
            "Connections waiting in the accept queues of the service's declared TCP listeners.",
            |s| {
                s.results
                    .iter()
                    .filter_map(|r| r.accept_queue)
                    .map(|q| f64::from(q.queued))
                    .sum()
            },
        ),
        (
            "portscope_service_accept_backlog",
            "Effective backlog (min of listen() and net.core.somaxconn) of those listeners; the queue is full above it.",
            |s| {
                s.results
                    .iter()
                    .filter_map(|r| r.accept_queue)
                    .map(|q| f64::from(q.backlog))
                    .sum()
            },
        ),
        (
            "portscope_service_listeners_not_accepting",
            "Declared ports whose listener takes no connections (queue full or not draining, process stopped).",
            |s| s.count(|r| r.state == PortState::ListeningNotAccepting) as f64,
        ),
        (
            "portscope_service_status",
            "Check status of the service: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            |s| f64::from(s.status.code()),
        ),
    ];
    for (name, help, f) in per_service {
        w.family(name, help);
        for s in &report.services {
            w.sample(
                name,
                &[("service", &s.name), ("proto", s.proto.as_str())],
                f(s),
            );
        }
    }
    // The kernel's own counter (since the namespace was made): a counter, so rate() works
    // across portscope runs.
    if let Some(o) = report.figures.listen_overflows {
        w.typed(
            "portscope_listen_overflows_total",
            "Connections this network namespace dropped because a listener's accept queue was full (TcpExt ListenOverflows).",
            "counter",
        );
        w.sample("portscope_listen_overflows_total", &[], o as f64);
    }
    if let Some(c) = report.figures.conntrack {
        w.family(
            "portscope_conntrack_entries",
            "Entries in this network namespace's connection-tracking table (nf_conntrack_count).",
        );
        w.sample("portscope_conntrack_entries", &[], c.count as f64);
        w.family(
            "portscope_conntrack_max",
            "The connection-tracking table's limit (nf_conntrack_max); at it, new connections are dropped.",
        );
        w.sample("portscope_conntrack_max", &[], c.max as f64);
    }
    w.family(
        "portscope_check_status",
        "Overall check status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    );
    w.sample(
        "portscope_check_status",
        &[],
        f64::from(report.status.code()),
    );

    let f = &report.figures;
    if !report.host_checks.is_empty() && f.ephemeral_size > 0 {
        w.family(
            "portscope_reserved_ports",
            "Ports in net.ipv4.ip_local_reserved_ports now.",
        );
        w.sample("portscope_reserved_ports", &[], f64::from(f.reserved_ports));
        w.family(
            "portscope_ephemeral_ports",
            "Ports in net.ipv4.ip_local_port_range.",
        );
        w.sample(
            "portscope_ephemeral_ports",
            &[],
            f64::from(f.ephemeral_size),
        );
        w.family(
            "portscope_ephemeral_ports_usable",
            "Ephemeral ports the kernel may still hand to outgoing connections (range minus reserved).",
        );
        w.sample(
            "portscope_ephemeral_ports_usable",
            &[],
            f64::from(f.ephemeral_usable),
        );
        // Bounded labels: the busiest few destinations by rank, never one series per
        // destination a client ever used.
        let busiest = crate::analyze::connect::destinations(snap, BUSIEST);
        if !busiest.is_empty() {
            w.family(
                "portscope_ephemeral_ports_in_use",
                "Local ports in use toward each of the busiest destinations (connect() fails when it reaches portscope_ephemeral_ports_connect_usable).",
            );
            for (i, u) in busiest.iter().enumerate() {
                let rank = (i + 1).to_string();
                let dst = crate::model::fmt_endpoint(u.dest, u.dest_port);
                let in_use = u.usable - u.available.min(u.usable);
                w.sample(
                    "portscope_ephemeral_ports_in_use",
                    &[("rank", &rank), ("destination", &dst)],
                    in_use as f64,
                );
            }
            w.family(
                "portscope_ephemeral_ports_connect_usable",
                "Local ports connect() may use toward any destination (range minus reserved minus ports bind() holds).",
            );
            w.sample(
                "portscope_ephemeral_ports_connect_usable",
                &[],
                busiest[0].usable as f64,
            );
        }
        w.family(
            "portscope_listeners_at_risk",
            "Listeners inside the ephemeral range whose port is not reserved.",
        );
        w.sample(
            "portscope_listeners_at_risk",
            &[],
            f64::from(f.listeners_at_risk),
        );
        if let Some(d) = f.drift {
            w.family(
                "portscope_reserved_ports_drift",
                "1 when the runtime reserved-ports list differs from what the boot configuration sets.",
            );
            w.sample(
                "portscope_reserved_ports_drift",
                &[],
                f64::from(u8::from(d)),
            );
            w.family(
                "portscope_reserved_ports_drift_ports",
                "Ports reserved at runtime or at boot but not both.",
            );
            w.sample(
                "portscope_reserved_ports_drift_ports",
                &[],
                f64::from(f.drift_ports),
            );
        }
    }

    w.family(
        "portscope_sockets",
        "Sockets in this network namespace by protocol and state.",
    );
    for proto in [Proto::Tcp, Proto::Udp] {
        for st in states_for(proto) {
            let n = snap
                .sockets
                .iter()
                .filter(|s| s.proto == proto && s.state == st)
                .count();
            w.sample(
                "portscope_sockets",
                &[("proto", proto.as_str()), ("state", st.name())],
                n as f64,
            );
        }
    }
    w.family(
        "portscope_last_run_timestamp_seconds",
        "When portscope last ran, in seconds since the Unix epoch.",
    );
    w.sample(
        "portscope_last_run_timestamp_seconds",
        &[],
        now.as_millisecond() as f64 / 1000.0,
    );
    w.family(
        "portscope_run_duration_seconds",
        "How long the last run took.",
    );
    w.sample("portscope_run_duration_seconds", &[], duration);
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

/// What the recorder's logs held (`metrics --failures-log FILE`): refusals by call and errno.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefusedCounts {
    /// The log (or one of its turned-over predecessors) could be read.
    pub readable: bool,
    /// (call, errno) -> count; errno outside the recorded set is "other" (bounded labels).
    pub counts: std::collections::BTreeMap<(String, String), u64>,
}

impl RefusedCounts {
    pub fn add(&mut self, call: &str, errno: &str) {
        let errno = match errno {
            "EADDRINUSE" | "EACCES" | "EADDRNOTAVAIL" => errno,
            _ => "other",
        };
        let call = if call == "bind" { "bind" } else { "connect" };
        *self
            .counts
            .entry((call.to_string(), errno.to_string()))
            .or_default() += 1;
    }
}

/// The refused-call counters. Every (call, errno) pair the recorder keeps is written, zero
/// included, so a rate() over it starts at the first scrape, not at the first refusal.
pub fn render_refused(r: &RefusedCounts) -> String {
    let mut w = Writer { out: String::new() };
    w.family(
        "portscope_refused_log_readable",
        "1 when the flight recorder's log could be read.",
    );
    w.sample(
        "portscope_refused_log_readable",
        &[],
        if r.readable { 1.0 } else { 0.0 },
    );
    if !r.readable {
        return w.out;
    }
    w.typed(
        "portscope_refused_total",
        "bind() and connect() calls the kernel refused, from the flight recorder's log (watch --failures --record).",
        "counter",
    );
    let mut all = r.counts.clone();
    for (call, errnos) in [
        ("bind", &["EADDRINUSE", "EACCES", "EADDRNOTAVAIL"][..]),
        ("connect", &["EADDRNOTAVAIL", "EADDRINUSE"][..]),
    ] {
        for e in errnos {
            all.entry((call.to_string(), e.to_string())).or_default();
        }
    }
    for ((call, errno), n) in &all {
        w.sample(
            "portscope_refused_total",
            &[("call", call), ("errno", errno)],
            *n as f64,
        );
    }
    w.out
}
