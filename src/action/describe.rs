//! The confirmation text of each action: exactly what will happen.

use super::target::ProcessRole;
use super::{PendingAction, Sig, SignalAction};
use crate::model::text::{Block, Described, Line};

/// The grace the executor will give, where it comes from; a service's TimeoutStopSec is asked of
/// systemd only when the action runs (describing does no I/O: the TUI describes on a key press).
fn grace_words(a: &SignalAction) -> String {
    if let Some(g) = &a.grace {
        return g.words();
    }
    let service = a
        .owner
        .unit
        .as_ref()
        .filter(|u| u.raw().ends_with(".service"));
    match (super::grace::grace_flag(), service) {
        (None, Some(u)) => format!(
            "waits up to {u}'s TimeoutStopSec (asked of systemd when it runs; else {}) before offering SIGKILL",
            super::grace::span(super::grace::DEFAULT_GRACE)
        ),
        (Some(g), _) => super::grace::Grace {
            wait: g,
            from: "--grace".into(),
        }
        .words(),
        (None, None) => super::grace::Grace {
            wait: super::grace::DEFAULT_GRACE,
            from: "the default; --grace changes it".into(),
        }
        .words(),
    }
}

fn describe_signal(a: &SignalAction) -> Described {
    let o = &a.owner;
    let mut blocks = Vec::new();
    let mut lines = vec![Line::heading(format!(
        "Send {} to {} (pid {}, user {}{}), which holds {}?",
        a.sig.name(),
        o.comm,
        o.pid,
        o.user,
        o.unit
            .as_ref()
            .or(o.container.as_ref())
            .map_or(String::new(), |u| format!(", {u}")),
        a.socket
    ))];
    lines.push(format!("  command: {}", o.cmdline).into());
    if a.sig == Sig::Term {
        lines.push(Line::from(format!("  {}", grace_words(a))));
    }
    if a.role == ProcessRole::NamespaceInit {
        lines.push(Line::warning(match a.sig {
            Sig::Term => format!(
                "  warning: pid {} is PID 1 (the init) of its own PID namespace, a container: the kernel discards SIGTERM unless that init handles it, so it may be ignored; the SIGKILL offered next would end every process of that PID namespace",
                o.pid
            ),
            Sig::Kill => format!(
                "  warning: pid {} is PID 1 (the init) of its own PID namespace, a container: SIGKILL ends it and every process of that PID namespace (the whole container)",
                o.pid
            ),
        }));
    }
    if !a.other_listeners.is_empty() {
        lines.push(format!("  it also listens on {}", a.other_listeners.join(", ")).into());
    }
    lines.push(format!("  it holds {} other connections", a.connections).into());
    if !a.co_owners.is_empty() {
        lines.push(
            format!(
                "  the socket is shared with {}: they keep it open if only this one exits",
                a.co_owners.join(", ")
            )
            .into(),
        );
    }
    if !a.managers.is_empty() {
        let advice = a
            .unit_hint
            .as_ref()
            .map(|h| format!("; to free the port, {}", h.advice(a.proto, a.port)))
            .unwrap_or_default();
        lines.push(Line::warning(format!(
            "  warning: {} also holds the socket and is never signalled: the port stays held after this process exits, and the service may be started again on the next connection{advice}",
            a.managers.join(" and ")
        )));
    }
    if let Some(u) = o.unit.as_ref().filter(|u| u.raw().ends_with(".service")) {
        lines.push(Line::warning(format!(
            "  warning: systemd may restart it; to stop it for good: systemctl stop {u}"
        )));
        blocks.push(Block::new(
            "to stop it for good",
            format!("systemctl stop {u}"),
            "portscope-stop.sh",
        ));
    }
    if let Some(w) = crate::analyze::why::loss::what_breaks(o, &[], &super::protect()) {
        lines.push(Line::warning(format!("  warning: {w}")));
    }
    if let Some(w) = crate::analyze::stop_safety::impostor_warning(o) {
        lines.push(Line::warning(format!("  warning: {w}")));
    }
    if let Some(w) = o.workload.as_deref().filter(|w| w.claimed) {
        lines.push(Line::warning(format!(
            "  warning: it {}: nothing but this process is acted on",
            w.label
        )));
    }
    if o.container.is_some() && !o.workload.as_deref().is_some_and(|w| w.claimed) {
        // The container's own runtime, as `why` proposes it (podman for podman, not docker).
        let stop = o
            .workload
            .as_deref()
            .and_then(|w| crate::analyze::stop_safety::stop_workload(w, &o.label()).pop())
            .map(|p| crate::escape::escape_field(&p.command).into_owned());
        if let Some(cmd) = &stop {
            blocks.push(Block::new("to stop it", cmd.clone(), "portscope-stop.sh"));
        }
        lines.push(Line::warning(match stop {
            Some(cmd) => format!(
                "  warning: its container's restart policy may start it again; to stop it: {cmd}"
            ),
            None => "  warning: its container's restart policy may start it again; stop the container through its runtime".to_string(),
        }));
    }
    lines.push(Line::note(if a.role == ProcessRole::NamespaceInit {
        format!(
            "  the signal goes to pid {} (started at tick {}), its namespace's init, only while it still holds this socket: a reused PID or a closed socket is refused",
            o.pid, o.start_time
        )
    } else {
        format!(
            "  the signal goes to this process only (pid {}, started at tick {}), and only while it still holds this socket: a reused PID or a closed socket is refused",
            o.pid, o.start_time
        )
    }));
    Described {
        title: format!("{} {}", a.sig.name(), o.comm),
        lines,
        blocks,
    }
}

impl PendingAction {
    /// The dialog's title and text: exactly what will happen.
    pub fn describe(&self) -> Described {
        match self {
            PendingAction::Signal(a) => describe_signal(a),
            PendingAction::DestroySockets(a) => super::destroy_set::describe(a),
            PendingAction::Sequence(a) => super::sequence::describe(a),
            PendingAction::StopService(a) => super::stop::describe(a),
            PendingAction::CloseConnection(a) => {
                let s = &a.socket;
                let who = s
                    .owners
                    .iter()
                    .map(|o| o.described())
                    .collect::<Vec<_>>()
                    .join(", ");
                Described::new(
                    "Close one connection",
                    vec![
                        Line::heading(format!(
                            "Close the TCP connection {} → {} ({}) with SOCK_DESTROY?",
                            s.local(),
                            s.remote(),
                            s.state.ss_name()
                        )),
                        format!(
                            "  {} keeps running; it sees the connection reset (ECONNABORTED){}",
                            if who.is_empty() {
                                "its process".to_string()
                            } else {
                                who
                            },
                            // Only an outgoing connection holds its port alone; an accepted one
                            // shares it with its listener and others.
                            if s.autobound {
                                format!(" and port {} is released", s.local_port)
                            } else {
                                String::new()
                            }
                        )
                        .into(),
                        Line::note(
                            "  needs root (CAP_NET_ADMIN) and a kernel with CONFIG_INET_DIAG_DESTROY",
                        ),
                    ],
                )
            }
            PendingAction::ApplyReservation(a) => {
                let p = &a.plan;
                let e = &p.ephemeral;
                let mut lines: Vec<Line> = vec![
                    Line::heading(format!(
                        "Set net.ipv4.ip_local_reserved_ports to {:?} in {}?",
                        p.proposed.to_string(),
                        a.request.netns.phrase()
                    )),
                    format!(
                        "  now {:?}; adds {:?}, removes {:?}",
                        p.current.to_string(),
                        p.added.to_string(),
                        p.removed.to_string()
                    )
                    .into(),
                    format!(
                        "  ephemeral ports usable: {} → {} of {}",
                        e.usable_before, e.usable_after, e.size
                    )
                    .into(),
                ];
                match &a.request.dropin {
                    Some(d) => lines.push(Line::note(format!(
                        "  persisted in {} (atomic write)",
                        d.display()
                    ))),
                    None => lines.push(Line::warning(match &a.no_persist {
                        Some(why) => format!("  runtime only, not persisted: {why}"),
                        None => "  runtime only (not persisted)".into(),
                    })),
                }
                lines.push(Line::note(format!(
                    "  journalled in {}: U undoes it",
                    a.request.journal.display()
                )));
                lines.extend(
                    p.warnings
                        .iter()
                        .map(|w| Line::warning(format!("  warning: {w}"))),
                );
                let mut d = Described::new("Apply reservation", lines);
                if !a.request.netns.is_host() {
                    let (label, how) = crate::reserve::fleet::container_persistence(&p.proposed);
                    d.blocks
                        .push(Block::new(label, how, "portscope-container-sysctl.txt"));
                }
                d
            }
            PendingAction::UndoReservation(u) => {
                let mut lines: Vec<Line> = vec![
                    Line::heading(format!(
                        "Undo the reservation applied at {} in {}?",
                        u.entry.at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                        u.netns.phrase()
                    )),
                    format!(
                        "  runtime value {:?} -> {:?} (takes out what that apply added)",
                        u.runtime_now.to_string(),
                        u.runtime_after.to_string()
                    )
                    .into(),
                ];
                lines.extend(u.dropin_effect().map(|e| Line::from(format!("  {e}"))));
                if let Some(b) = &u.blocked {
                    lines.push(Line::warning(format!("  cannot undo: {b}")));
                }
                lines.extend(
                    u.warnings
                        .iter()
                        .map(|w| Line::warning(format!("  warning: {w}"))),
                );
                Described::new("Undo reservation", lines)
            }
        }
    }
}
