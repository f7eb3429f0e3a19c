//! The one place that acts. Every outcome (success, or the failure in plain words) is returned
//! for the UI and appended to the action log under the user's data directory.

use super::kill::{KillError, Sig, signal_and_wait};
use super::{PendingAction, SignalAction};
use crate::collect::netlink::Dumper;
use crate::collect::probe::probe;
use crate::reserve::{ErrorKind, ansible_task, manual_commands};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// How long a signalled process gets to exit before SIGKILL is offered.
pub const GRACE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub title: String,
    pub lines: Vec<String>,
    /// A next step to offer, again behind a confirmation (SIGKILL after an ignored SIGTERM).
    pub follow_up: Option<PendingAction>,
}

impl Outcome {
    fn done(title: impl Into<String>, lines: Vec<String>) -> Outcome {
        Outcome {
            ok: true,
            title: title.into(),
            lines,
            follow_up: None,
        }
    }

    fn failed(title: impl Into<String>, lines: Vec<String>) -> Outcome {
        Outcome {
            ok: false,
            title: title.into(),
            lines,
            follow_up: None,
        }
    }
}

/// `$XDG_DATA_HOME/portscope/actions.log`.
pub fn log_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "portscope").map(|d| d.data_dir().join("actions.log"))
}

fn log(outcome: &Outcome) {
    let Some(path) = log_path() else { return };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(
            f,
            "{} {} {}: {}",
            jiff::Timestamp::now(),
            if outcome.ok { "ok" } else { "FAILED" },
            outcome.title,
            outcome.lines.join(" | ")
        );
    }
}

/// "port 80 is free now" / "port 80 is still in use (EADDRINUSE)", by asking the kernel.
fn port_state(a: &SignalAction) -> String {
    let r = probe(&a.netns, a.proto, a.addr, a.port);
    match r.plain {
        Some(o) if o.is_ok() => format!(
            "{} port {} is free now (the kernel's bind probe succeeded)",
            a.proto, a.port
        ),
        Some(o) => format!("{} port {} is still not bindable: {}", a.proto, a.port, o.0),
        None => format!(
            "could not check port {}: {}",
            a.port,
            r.not_run.unwrap_or_default()
        ),
    }
}

fn signal(a: &SignalAction) -> Outcome {
    let o = &a.owner;
    let title = format!("{} {} (pid {})", a.sig.name(), o.comm, o.pid);
    match signal_and_wait(o.pid, o.start_time, a.sig, GRACE) {
        Ok(true) => Outcome::done(
            title,
            vec![format!("{} (pid {}) exited", o.comm, o.pid), port_state(a)],
        ),
        Ok(false) => {
            let mut out = Outcome::done(
                title,
                vec![format!(
                    "{} (pid {}) is still running {} s after {}",
                    o.comm,
                    o.pid,
                    GRACE.as_secs(),
                    a.sig.name()
                )],
            );
            if a.sig == Sig::Term {
                out.lines
                    .push("SIGKILL is offered next (it cannot be ignored)".into());
                out.follow_up = Some(PendingAction::Signal(SignalAction {
                    sig: Sig::Kill,
                    ..a.clone()
                }));
            }
            out
        }
        Err(e @ KillError::Reused { .. }) | Err(e @ KillError::Gone) => {
            Outcome::failed(title, vec![format!("refused: {e}"), port_state(a)])
        }
        Err(e) => Outcome::failed(title, vec![e.to_string()]),
    }
}

fn close(a: &super::CloseAction) -> Outcome {
    let s = &a.socket;
    let title = format!("close {} → {}", s.local(), s.remote());
    let result = a
        .netns
        .run_in(|| Dumper::open().and_then(|mut d| d.destroy(s)));
    match result {
        Ok(Ok(())) => Outcome::done(
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
        Ok(Err(nix::Error::EOPNOTSUPP)) => Outcome::failed(
            title,
            vec!["this kernel cannot close single sockets (built without CONFIG_INET_DIAG_DESTROY); stop or kill the client instead".into()],
        ),
        Ok(Err(nix::Error::EPERM)) | Ok(Err(nix::Error::EACCES)) => Outcome::failed(
            title,
            vec!["permission denied: closing a connection needs root (CAP_NET_ADMIN)".into()],
        ),
        Ok(Err(nix::Error::ENOENT)) | Ok(Err(nix::Error::ESTALE)) => Outcome::failed(
            title,
            vec!["the connection is already gone (or another socket reuses its addresses); nothing was closed".into()],
        ),
        Ok(Err(e)) => Outcome::failed(title, vec![format!("SOCK_DESTROY failed: {e}")]),
        Err(e) => Outcome::failed(title, vec![e.to_string()]),
    }
}

fn apply(a: &super::ReserveAction) -> Outcome {
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
            Outcome::done(title, lines)
        }
        Err(e) => {
            let mut lines = vec![e.message.clone(), "nothing was changed".into()];
            if e.kind == ErrorKind::NotPermitted {
                lines.push("Run these as root instead:".into());
                lines.extend(
                    manual_commands(&req.value, &req.netns, req.dropin.as_deref())
                        .lines()
                        .map(String::from),
                );
                lines.push("Or for the fleet (Ansible):".into());
                let file = req.dropin.clone().unwrap_or_else(|| {
                    PathBuf::from("/etc/sysctl.d").join(crate::reserve::DROPIN_NAME)
                });
                lines.extend(ansible_task(&req.value, &file).lines().map(String::from));
            }
            Outcome::failed(title, lines)
        }
    }
}

fn undo(u: &crate::reserve::UndoPlan) -> Outcome {
    match crate::reserve::undo(u) {
        Ok(entry) => Outcome::done(
            "undo reservation",
            vec![format!(
                "net.ipv4.ip_local_reserved_ports is back to {:?}",
                entry.previous_runtime.to_string()
            )],
        ),
        Err(e) => Outcome::failed(
            "undo reservation",
            vec![e.message, "nothing was changed".into()],
        ),
    }
}

/// Carries out a confirmed action and logs the outcome.
pub fn execute(action: &PendingAction) -> Outcome {
    let outcome = match action {
        PendingAction::Signal(a) => signal(a),
        PendingAction::CloseConnection(a) => close(a),
        PendingAction::ApplyReservation(a) => apply(a),
        PendingAction::UndoReservation(u) => undo(u),
        PendingAction::DestroySockets(a) => super::destroy_set::run(a),
        PendingAction::Sequence(a) => super::sequence::run(a),
    };
    log(&outcome);
    outcome
}
