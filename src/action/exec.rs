//! The one place that acts. Every outcome (success, or the failure in plain words) is returned
//! for the UI and appended to the action log the caller names; the outcome says whether that
//! write happened.

use super::kill::{Shown, Sig, verify};
use super::log::ActionLog;
/// What `execute` returns, named where it is returned (the TUI and the tests import it from here).
pub use super::outcome::{ActionOutcome, Logged, Status};
use super::target::ProcessRole;
use super::{PendingAction, SignalAction};
use crate::collect::netlink::Dumper;
use crate::collect::probe::probe;
use crate::model::text::{Block, Line};
use crate::reserve::{ErrorKind, ansible_task, manual_commands};
use std::path::PathBuf;
use std::time::Duration;

/// "port 80 is free now" / "port 80 is still in use (EADDRINUSE)", by asking the kernel.
fn port_state(a: &SignalAction) -> String {
    let r = probe(&a.netns, a.proto, a.addr, a.port);
    match r.plain {
        Some(o) if o.is_ok() => format!(
            "{} port {} is free now (the kernel's bind probe succeeded)",
            a.proto, a.port
        ),
        Some(o) => format!(
            "{} port {} is still not bindable: {}",
            a.proto,
            a.port,
            o.as_str()
        ),
        None => format!(
            "could not check port {}: {}",
            a.port,
            r.not_run.unwrap_or_default()
        ),
    }
}

fn signal(a: &SignalAction) -> ActionOutcome {
    let o = &a.owner;
    let title = format!("{} {}", a.sig.name(), o.label());
    let shown = Shown {
        pid: o.pid,
        start_time: o.start_time,
        inode: a.inode,
        role: a.role,
    };
    let (target, live) = match verify(&shown) {
        Ok(v) => v,
        Err(e) if e.is_refusal() => {
            return ActionOutcome::new(
                Status::Refused,
                title,
                vec![format!("refused: {e}"), port_state(a)],
            );
        }
        Err(e) => return ActionOutcome::failed(title, vec![e.to_string()]),
    };
    if let Err(e) = target.signal(a.sig) {
        let status = if e.is_refusal() {
            Status::Refused
        } else {
            Status::Failed
        };
        return ActionOutcome::new(status, title, vec![e.to_string()]);
    }
    // A stopped process (Ctrl-Z, SIGSTOP) keeps a SIGTERM pending until it runs again: let it
    // run, as systemd does, so it can act on it.
    let mut woke = None;
    if a.sig == Sig::Term && matches!(target.state(), Some('T' | 't')) {
        woke = Some(match target.cont() {
            Ok(()) => format!(
                "{} was stopped (state T): sent SIGCONT so it can act on SIGTERM",
                o.label()
            ),
            Err(e) => format!("{} is stopped (state T) and SIGCONT failed: {e}", o.label()),
        });
    }
    let grace = if a.sig == Sig::Kill {
        Duration::from_secs(3) // SIGKILL cannot be handled: only the kernel's teardown is waited for
    } else {
        a.grace
            .clone()
            .unwrap_or_else(|| super::grace::resolve(o))
            .wait
    };
    if target.wait_exit(grace) {
        let mut lines: Vec<String> = woke.into_iter().collect();
        lines.push(format!("{} exited", o.label()));
        if live.role == ProcessRole::NamespaceInit {
            lines.push(
                "it was the init of its PID namespace: the kernel ended every process in that namespace"
                    .into(),
            );
        }
        lines.push(port_state(a));
        return ActionOutcome::done(title, lines);
    }
    let mut first: Vec<String> = woke.into_iter().collect();
    first.push(format!(
        "{} is still running {} after {}",
        o.label(),
        super::grace::span(grace),
        a.sig.name()
    ));
    let mut out = ActionOutcome::new(Status::NoEffect, title, first);
    match a.sig {
        Sig::Term => {
            if live.role == ProcessRole::NamespaceInit && !live.handles_term {
                out.lines.push(
                    "it is the init of its PID namespace and has no SIGTERM handler: the kernel discarded the signal"
                        .into(),
                );
            }
            out.lines
                .push("SIGKILL is offered next (it cannot be ignored)".into());
            out.follow_up = Some(PendingAction::Signal(SignalAction {
                sig: Sig::Kill,
                ..a.clone()
            }));
        }
        Sig::Kill => out.lines.push(match target.state() {
            Some('D') => "it is in uninterruptible sleep (state D, usually stuck in the kernel on I/O or a hung mount): it dies when that returns".into(),
            Some(s) => format!("its state is {s}: the kernel has not delivered the kill yet").into(),
            None => "its state cannot be read".into(),
        }),
    }
    out
}

fn close(a: &super::CloseAction) -> ActionOutcome {
    let s = &a.socket;
    let title = format!("close {} → {}", s.local(), s.remote());
    let result = a
        .netns
        .run_in(|| Dumper::open().and_then(|mut d| d.destroy(s)));
    match result {
        Ok(Ok(())) => ActionOutcome::done(
            title,
            vec![if s.autobound {
                format!(
                    "closed: the kernel aborted the connection; port {} is released and its process keeps running",
                    s.local_port
                )
            } else {
                "closed: the kernel aborted the connection; its process keeps running".to_string()
            }],
        ),
        Ok(Err(nix::Error::EOPNOTSUPP)) => ActionOutcome::failed(
            title,
            vec![
                "this kernel cannot close single sockets (built without CONFIG_INET_DIAG_DESTROY); stop or kill the client instead",
            ],
        ),
        Ok(Err(nix::Error::EPERM | nix::Error::EACCES)) => ActionOutcome::failed(
            title,
            vec!["permission denied: closing a connection needs root (CAP_NET_ADMIN)"],
        ),
        Ok(Err(nix::Error::ENOENT | nix::Error::ESTALE)) => ActionOutcome::failed(
            title,
            vec![
                "the connection is already gone (or another socket reuses its addresses); nothing was closed",
            ],
        ),
        Ok(Err(e)) => ActionOutcome::failed(title, vec![format!("SOCK_DESTROY failed: {e}")]),
        Err(e) => ActionOutcome::failed(title, vec![e.to_string()]),
    }
}

fn apply(a: &super::ReserveAction) -> ActionOutcome {
    let req = &a.request;
    let title = format!("reserve {}", a.plan.proposed);
    match crate::reserve::apply(req) {
        Ok(done) => {
            let mut lines = vec![format!(
                "net.ipv4.ip_local_reserved_ports is now {:?} (read back and verified)",
                done.entry.applied_runtime.to_string()
            )];
            if let Some(d) = &done.entry.dropin {
                lines.push(format!("persisted in {}", d.path.display()));
            }
            lines.push("U undoes it".into());
            ActionOutcome::done(title, lines)
        }
        Err(e) => {
            let mut out = ActionOutcome::failed(
                title,
                vec![
                    Line::from(e.message.clone()),
                    Line::note("nothing was changed"),
                ],
            );
            if e.kind == ErrorKind::NotPermitted {
                out.blocks.push(Block::new(
                    "Run these as root instead:",
                    manual_commands(&req.value, &req.netns, req.dropin.as_deref()),
                    "portscope-reservation.sh",
                ));
                let file = req.dropin.clone().unwrap_or_else(|| {
                    PathBuf::from("/etc/sysctl.d").join(crate::reserve::DROPIN_NAME)
                });
                out.blocks.push(Block::new(
                    "Or for the fleet (Ansible):",
                    ansible_task(&req.value, &file),
                    "portscope-reservation.yml",
                ));
            }
            out
        }
    }
}

fn undo(u: &crate::reserve::UndoPlan) -> ActionOutcome {
    match crate::reserve::undo(u) {
        Ok(entry) => ActionOutcome::done(
            "undo reservation",
            vec![format!(
                "net.ipv4.ip_local_reserved_ports is back to {:?}",
                entry.previous_runtime.to_string()
            )],
        ),
        Err(e) => ActionOutcome::failed(
            "undo reservation",
            vec![Line::from(e.message), Line::note("nothing was changed")],
        ),
    }
}

/// Carries out a confirmed action and appends the outcome to `log` (None: nowhere to log).
pub fn execute(action: &PendingAction, log: Option<&ActionLog>) -> ActionOutcome {
    let mut outcome = match action {
        PendingAction::Signal(a) => signal(a),
        PendingAction::CloseConnection(a) => close(a),
        PendingAction::ApplyReservation(a) => apply(a),
        PendingAction::UndoReservation(u) => undo(u),
        PendingAction::DestroySockets(a) => super::destroy_set::run(a),
        PendingAction::Sequence(a) => super::sequence::run(a, log, execute),
        PendingAction::StopService(a) => super::stop::run(a),
    };
    outcome.logged = match log {
        None => Logged::No("no data directory for the action log".into()),
        Some(l) => match l.append(&outcome) {
            Ok(()) => Logged::Yes(l.path().to_path_buf()),
            Err(e) => Logged::No(e.to_string()),
        },
    };
    outcome
}
