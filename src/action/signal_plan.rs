//! Whom a signal may be offered to for a socket, for the TUI's `K` and for `why`'s remedies.
//!
//! The holder is chosen among the socket's processes: never the host's init or a service
//! manager (see [`super::target`]); a container's init only when nothing else holds the socket
//! (its workers are what the user sees serving, and a signal to the init is not "this process
//! only"); otherwise the oldest holder, because killing a forked worker alone frees nothing.

use super::{NotOffered, PendingAction, Sig, SignalAction};
pub use crate::analyze::socket_unit::{SignalRemedy, signal_remedies};
use crate::analyze::socket_unit::{SocketUnitHint, guess, managers, stop_socket_unit};
use crate::collect::NetnsTarget;
use crate::model::ProcessRole;
use crate::model::{Owner, Snapshot, Socket};

fn other_sockets(snap: &Snapshot, pid: u32, except: &Socket) -> (Vec<String>, usize) {
    let mut listeners = Vec::new();
    let mut conns = 0;
    for s in snap.sockets_of(pid) {
        if s.key() == except.key() {
            continue;
        }
        if s.is_listening() {
            listeners.push(format!("{} {}", s.proto, s.local()));
        } else {
            conns += 1;
        }
    }
    (listeners, conns)
}

/// The holder a signal would go to, or None (no holder that may be signalled).
pub fn signal_target(s: &Socket) -> Option<&Owner> {
    let allowed = || {
        s.owners
            .iter()
            .filter(|o| !ProcessRole::of_owner(o).never_signalled())
    };
    allowed()
        .filter(|o| ProcessRole::of_owner(o) != ProcessRole::NamespaceInit)
        .min_by_key(|o| (o.start_time, o.pid))
        .or_else(|| allowed().min_by_key(|o| (o.start_time, o.pid)))
        .map(|o| &**o)
}

fn manager_refusal(s: &Socket, managers: &[String], hint: &SocketUnitHint) -> NotOffered {
    NotOffered::Manager {
        socket: format!("{} {}", s.proto, s.local()),
        managers: managers.join(" and "),
        advice: hint.advice(s.proto, s.local_port),
    }
}

/// SIGTERM (or SIGKILL) for the process holding `s`, chosen as the module comment says.
pub fn plan_signal(
    snap: &Snapshot,
    s: &Socket,
    sig: Sig,
    netns: &NetnsTarget,
) -> Result<PendingAction, NotOffered> {
    if s.kernel_held {
        let socket = format!("{} {}", s.proto, s.local());
        return Err(match s.expires_ms {
            Some(ms) => NotOffered::KernelTimeWait {
                socket,
                secs: ms.div_ceil(1000),
            },
            None => NotOffered::KernelHeld { socket },
        });
    }
    let managers = managers(s);
    let hint = (!managers.is_empty()).then(|| guess(s));
    let Some(owner) = signal_target(s) else {
        if let Some(hint) = &hint {
            return Err(manager_refusal(s, &managers, hint));
        }
        return Err(NotOffered::Hidden {
            socket: format!("{} {}", s.proto, s.local()),
        });
    };
    // Never a runtime daemon, its proxy or monitor, kubelet: stop the container instead.
    crate::analyze::stop_safety::may_signal(s, owner)?;
    let (other_listeners, connections) = other_sockets(snap, owner.pid, s);
    Ok(PendingAction::Signal(SignalAction {
        sig,
        owner: owner.clone(),
        socket: format!("{} {}", s.proto, s.local()),
        proto: s.proto,
        addr: s.local_addr,
        port: s.local_port,
        other_listeners,
        connections,
        co_owners: s
            .owners
            .iter()
            .filter(|o| o.pid != owner.pid && !ProcessRole::of_owner(o).never_signalled())
            .map(|o| o.described())
            .collect(),
        netns: netns.clone(),
        inode: s.inode,
        role: ProcessRole::of_owner(owner),
        managers,
        unit_hint: hint,
        grace: None,
    }))
}

/// For a socket a manager holds: (the remedy built from a guess, the same remedy with the unit
/// systemd lists for the socket). None when no manager holds it or systemd does not list it.
/// Runs `systemctl`: for the CLI, not for the UI thread.
pub fn socket_unit_from_systemd(s: &Socket) -> Option<(SignalRemedy, SignalRemedy)> {
    let managers = managers(s);
    if managers.is_empty() {
        return None;
    }
    let listed = super::units::listed(s.proto, s.local_addr, s.local_port)?;
    Some((
        stop_socket_unit(s, &managers, &guess(s)),
        stop_socket_unit(s, &managers, &listed),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, owner, snapshot};
    use std::sync::Arc;

    fn with(nspid: &[u32], pid: u32, comm: &str, start: u64) -> Arc<Owner> {
        let mut o = (*owner(pid, comm)).clone();
        o.nspid = nspid.to_vec();
        o.start_time = start;
        Arc::new(o)
    }

    fn planned(s: &Socket) -> Result<SignalAction, NotOffered> {
        let snap = snapshot(vec![s.clone()]);
        plan_signal(&snap, s, Sig::Term, &NetnsTarget::Current).map(|a| match a {
            PendingAction::Signal(a) => a,
            _ => unreachable!("plan_signal plans signals"),
        })
    }

    #[test]
    fn the_kill_dialog_names_the_containers_own_runtime() {
        use crate::model::workload::{Runtime, Workload};
        for (runtime, want) in [
            (Runtime::Podman, "podman stop db"),
            (Runtime::Docker, "docker stop db"),
        ] {
            let mut s = listener(5432);
            let mut o = (*owner(700, "postgres")).clone();
            let mut w = Workload::new(runtime, Some("0123456789abcdef".into()), Some("db".into()));
            w.relabel();
            o.container = Some(w.tag().into());
            o.workload = Some(Arc::new(w));
            s.owners = Arc::from([Arc::new(o)]);
            let a = planned(&s).unwrap();
            let lines = PendingAction::Signal(a).describe().text();
            let warn = lines
                .iter()
                .find(|l| l.contains("restart policy"))
                .unwrap_or_else(|| panic!("no restart warning in {lines:?}"));
            assert!(warn.ends_with(&format!("to stop it: {want}")), "{warn}");
        }
    }

    #[test]
    fn the_host_init_is_never_picked_even_when_oldest() {
        let mut s = listener(80);
        let mut systemd = (*with(&[1], 1, "systemd", 1)).clone();
        systemd.unit = Some("init.scope".into());
        let mut svc = (*with(&[900], 900, "httpd", 500)).clone();
        svc.unit = Some("httpd.service".into());
        s.owners = Arc::from([Arc::new(systemd), Arc::new(svc)]);
        let a = planned(&s).expect("offered to the service");
        assert_eq!(a.owner.pid, 900);
        assert_eq!(a.managers, ["systemd (pid 1, the host's init)"]);
        let hint = a.unit_hint.expect("hint");
        assert_eq!(hint.unit.as_deref(), Some("httpd.socket"));
        assert!(hint.guessed);
        let text = PendingAction::Signal(planned(&s).expect("a"))
            .describe()
            .text();
        let all = text.join("\n");
        assert!(all.contains("port stays held"), "{all}");
        assert!(
            all.contains("systemctl stop httpd.socket httpd.service"),
            "{all}"
        );

        // Only the manager holds it (the service is not running): nothing is offered.
        s.owners = Arc::from([with(&[1], 1, "systemd", 1)]);
        let err = planned(&s).expect_err("refused");
        assert!(matches!(err, NotOffered::Manager { .. }), "{err:?}");
        let err = err.to_string();
        assert!(
            err.contains("never signals") && err.contains("list-sockets"),
            "{err}"
        );
        let r = signal_remedies(&s);
        assert!(r.iter().all(|r| r.command != "kill 1"), "{r:?}");
        assert_eq!(r[0].action, "stop_socket_unit");
    }

    #[test]
    fn a_container_init_is_chosen_only_alone_and_with_warnings() {
        let mut s = listener(8080);
        s.owners = Arc::from([
            with(&[5000, 1], 5000, "tini", 10),
            with(&[5001, 7], 5001, "node", 20),
        ]);
        let a = planned(&s).expect("offered");
        assert_eq!((a.owner.pid, a.role), (5001, ProcessRole::Ordinary));
        assert!(a.co_owners[0].contains("tini"), "{:?}", a.co_owners);

        s.owners = Arc::from([with(&[5000, 1], 5000, "sleep", 10)]);
        let a = planned(&s).expect("offered");
        assert_eq!(a.role, ProcessRole::NamespaceInit);
        let text = PendingAction::Signal(a.clone()).describe().text();
        let all = text.join("\n");
        assert!(all.contains("ignored"), "{all}");
        assert!(!all.contains("this process only"), "{all}");
        let text = PendingAction::Signal(SignalAction {
            sig: Sig::Kill,
            ..a
        })
        .describe()
        .text();
        assert!(
            text.join("\n")
                .contains("every process of that PID namespace"),
            "{text:?}"
        );
        let r = signal_remedies(&s);
        assert!(r[0].text.contains("SIGKILL ends every process"), "{r:?}");
    }
}
