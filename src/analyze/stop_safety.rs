//! The one place that decides what portscope may propose to stop or kill (not to be confused
//! with `crate::guard`, the declared service ports that `check` watches).
//!
//! Every surface that offers "stop the unit" or "kill the process" (why's remedies, the K dialog)
//! asks here. Container runtimes, kubelet, their units and PID 1 are never proposed: stopping
//! `docker.service` to free one published port stops every container on the host. What runs in a
//! container is stopped through its runtime (`docker stop web`), a unit inside a container
//! through the container, a user unit through the user's manager.

use crate::model::workload::{Runtime, UserUnit, Workload, user_or_uid};
use crate::model::{Owner, Socket};

/// Processes that are container or cluster infrastructure (by comm; comm is cut at 15 bytes).
const RUNTIME_COMMS: &[&str] = &[
    "dockerd",
    "docker-proxy",
    "containerd",
    "containerd-shim",
    "conmon",
    "crio",
    "kubelet",
    "kube-proxy",
    "k3s",
    "k3s-server",
    "k3s-agent",
    "rke2",
    "podman",
    "rootlesskit",
    "rootlessport",
    "runc",
    "crun",
    "lxc-start",
    "lxcfs",
    "lxd",
    "incusd",
    "systemd-nspawn",
    "systemd-machine",
    "buildkitd",
];

/// Units whose stop takes down every container (or the node's cluster membership).
const RUNTIME_UNITS: &[&str] = &[
    "docker.service",
    "docker.socket",
    "containerd.service",
    "crio.service",
    "cri-o.service",
    "cri-docker.service",
    "kubelet.service",
    "podman.service",
    "podman.socket",
    "k3s.service",
    "k3s-agent.service",
    "rke2-server.service",
    "rke2-agent.service",
    "lxc.service",
    "lxc-monitord.service",
    "lxd.service",
    "incus.service",
    "systemd-machined.service",
    "init.scope",
    "-.slice",
];

/// Why a unit must never be proposed for `systemctl stop`, or `None` when it may be.
pub fn protected_unit(unit: &str) -> Option<String> {
    let runtime = RUNTIME_UNITS.contains(&unit)
        || unit.starts_with("snap.microk8s.")
        || unit.starts_with("snap.lxd.")
        || unit.starts_with("user@")
        || unit.starts_with("containerd-");
    runtime.then(|| {
        if unit.starts_with("user@") {
            format!("{unit} is a user's whole session manager")
        } else {
            format!("{unit} runs the container runtime: stopping it stops every container")
        }
    })
}

fn is_runtime_name(name: &str) -> bool {
    RUNTIME_COMMS.contains(&name) || name.starts_with("containerd-shim")
}

/// The names a process chose for itself (comm, argv[0]): anyone can pick `kubelet`.
fn named_like_runtime(o: &Owner) -> bool {
    let argv0 = o.cmdline.raw().split(' ').next().unwrap_or("");
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    is_runtime_name(o.comm.raw()) || is_runtime_name(base)
}

/// Whether `o` is part of the container runtime by what only root can arrange: its program is
/// a root-owned system file with the runtime's name. Where the program file cannot be read
/// (not root, an old recording) the name decides, on the side of caution.
fn runtime_program(o: &Owner) -> bool {
    match &o.exe {
        Some(exe) => {
            let path = exe.path.raw();
            exe.system && is_runtime_name(path.rsplit('/').next().unwrap_or(path))
        }
        None => named_like_runtime(o),
    }
}

/// A process that calls itself a runtime component but is not one (its program is not the
/// system's): said in the dialogs, never a protection.
pub fn impostor_warning(o: &Owner) -> Option<String> {
    let exe = o.exe.as_ref()?;
    (named_like_runtime(o) && !runtime_program(o)).then(|| {
        format!(
            "{} is named like a container runtime component, but runs {} (not a root-owned \
             system program): it is not the runtime, and is treated as any process",
            o.label(),
            exe.path
        )
    })
}

/// Why a process must never be signalled or stopped as a way to free a port, or `None`.
pub fn protected(o: &Owner) -> Option<String> {
    if o.pid == 1 {
        return Some(format!("{} is PID 1 (the init system)", o.label()));
    }
    if runtime_program(o) {
        return Some(format!(
            "{} is part of the container runtime: stop the container it serves, not the runtime",
            o.label()
        ));
    }
    if let Some(w) = &o.workload
        && w.monitor
    {
        return Some(format!(
            "{} is the runtime's monitor for {}: stop the container instead",
            o.label(),
            w.label
        ));
    }
    if let Some(u) = o.unit.as_ref().map(crate::model::Foreign::raw)
        && let Some(why) = protected_unit(u)
    {
        return Some(format!("{} runs in {u}: {why}", o.label()));
    }
    None
}

/// One proposal: the exact command and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopPlan {
    pub command: String,
    pub text: String,
}

fn user(u: &UserUnit) -> String {
    user_or_uid(u.user_name.as_deref(), u.uid)
}

/// What owns a pod, guessed from its name: `<deployment>-<rs hash>-<5>`,
/// `<daemonset or job>-<5>`, `<statefulset>-<ordinal>`.
fn pod_owner_guess(pod: &str) -> Option<(&'static str, &str)> {
    let parts: Vec<&str> = pod.rsplitn(3, '-').collect();
    // Kubernetes' generated suffixes use this alphabet (no vowels, no 0/1/3).
    let alnum = |s: &str, lo, hi| {
        (lo..=hi).contains(&s.len())
            && s.bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
    };
    match parts.as_slice() {
        [last, hash, base] if alnum(last, 5, 5) && alnum(hash, 6, 10) => Some(("Deployment", base)),
        [last, ..] if last.bytes().all(|b| b.is_ascii_digit()) && !last.is_empty() => {
            let base = &pod[..pod.len() - last.len() - 1];
            Some(("StatefulSet", base))
        }
        [last, ..] if alnum(last, 5, 5) => {
            let base = &pod[..pod.len() - last.len() - 1];
            Some(("DaemonSet", base))
        }
        _ => None,
    }
}

/// How to stop a container (or a unit inside it), safest first.
pub fn stop_workload(w: &Workload, what: &str) -> Vec<StopPlan> {
    let mut out = Vec::new();
    // A claimed identity names someone else's container as often as its own: stopping that
    // would stop a bystander and leave the claimant on the port.
    if w.claimed {
        return out;
    }
    let as_user = |cmd: String| match w.rootless_uid {
        Some(uid) if uid != 0 => format!(
            "sudo -iu {} {cmd}",
            user_or_uid(w.rootless_user.as_deref(), uid)
        ),
        _ => cmd,
    };
    if let Some(pod) = &w.pod
        && let Some(name) = &pod.name
    {
        let ns = pod.namespace.as_deref().unwrap_or("default");
        if let Some((kind, base)) = pod_owner_guess(name) {
            out.push(StopPlan {
                command: format!(
                    "kubectl -n {ns} get pod {name} -o jsonpath='{{.metadata.ownerReferences[*].kind}}/{{.metadata.ownerReferences[*].name}}'"
                ),
                text: format!(
                    "{what} runs in pod {ns}/{name}, probably managed by {kind} {ns}/{base} (check with this command): change or scale that object, or the pod comes back; a hostPort or hostNetwork setting in its spec is what holds the host's port"
                ),
            });
        }
        out.push(StopPlan {
            command: format!("kubectl -n {ns} delete pod {name}"),
            text: format!(
                "delete pod {ns}/{name} that runs {what} (its owning object, if any, recreates it)"
            ),
        });
        return out;
    }
    let Some(handle) = w.handle().map(str::to_string) else {
        return out;
    };
    let (inner, stop) = match w.runtime {
        Runtime::Docker => (None, format!("docker stop {handle}")),
        Runtime::Podman => (None, format!("podman stop {handle}")),
        Runtime::Nerdctl => (None, format!("nerdctl stop {handle}")),
        Runtime::Containerd | Runtime::CriO | Runtime::K8s => {
            (None, format!("crictl stop {handle}"))
        }
        Runtime::Lxc => (
            w.inner_unit
                .as_ref()
                .map(|u| format!("lxc-attach -n {handle} -- systemctl stop {u}")),
            format!("lxc-stop -n {handle}"),
        ),
        Runtime::Nspawn | Runtime::Machine => (
            w.inner_unit
                .as_ref()
                .map(|u| format!("systemctl -M {handle} stop {u}")),
            format!("machinectl stop {handle}"),
        ),
    };
    if let (Some(cmd), Some(u)) = (inner, &w.inner_unit) {
        out.push(StopPlan {
            command: cmd,
            text: format!(
                "stop {u} inside {} (a unit of the container's own systemd, not of this host), which runs {what}",
                w.label
            ),
        });
    }
    out.push(StopPlan {
        command: as_user(stop),
        text: format!(
            "stop {} that runs {what} (killing the process alone may be undone by its restart policy)",
            w.label
        ),
    });
    out
}

/// How to stop what runs `o`, never through a protected unit or process; empty when portscope
/// knows no safe way.
pub fn stop_owner(o: &Owner) -> Vec<StopPlan> {
    let what = o.label();
    if let Some(w) = o.workload.as_ref().filter(|w| !w.claimed) {
        return stop_workload(w, &what);
    }
    if protected(o).is_some() {
        return Vec::new();
    }
    if let Some(u) = &o.user_unit
        && u.unit.ends_with(".service")
        && protected_unit(&u.unit).is_none()
    {
        return vec![StopPlan {
            command: format!("systemctl --user -M {}@ stop {}", user(u), u.unit),
            text: format!(
                "stop {}'s user unit {} that runs {what} (systemd may restart a killed process)",
                user(u),
                u.unit
            ),
        }];
    }
    if let Some(u) = o.unit.as_ref().filter(|u| u.raw().ends_with(".service")) {
        return vec![StopPlan {
            command: format!("systemctl stop {u}"),
            text: format!("stop the unit that runs {what} (systemd may restart a killed process)"),
        }];
    }
    Vec::new()
}

/// Everything that may be stopped to free socket `s`: the container of a published port, else
/// what runs each owner.
pub fn stop_socket(s: &Socket) -> Vec<StopPlan> {
    if let Some(p) = &s.published {
        let Some(w) = &p.workload else {
            return Vec::new();
        };
        let mut plans = stop_workload(w, &format!("port {}", s.local_port));
        if let Some(last) = plans.last_mut()
            && w.pod.is_none()
        {
            last.text = format!(
                "stop {}: port {} is {}; {} only holds it on the container's behalf and must not be killed",
                w.label,
                s.local_port,
                p.describe(),
                p.via.as_str()
            );
        }
        return plans;
    }
    let mut out: Vec<StopPlan> = Vec::new();
    for o in s.owners.iter() {
        for plan in stop_owner(o) {
            if !out.iter().any(|p| p.command == plan.command) {
                out.push(plan);
            }
        }
    }
    out
}

/// Why portscope will not offer to signal a process to free a socket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalRefusal {
    /// A published container port: its holder is the runtime's proxy, the fix stops the
    /// container.
    #[error("{socket} is {published} and held by {via}: {fix}")]
    Published {
        socket: String,
        published: String,
        via: String,
        fix: String,
    },
    /// The process itself is never signalled: the reason from [`protected`].
    #[error("{0}")]
    Protected(String),
}

/// Whether portscope may offer to signal `o` to free `s`.
pub fn may_signal(s: &Socket, o: &Owner) -> Result<(), SignalRefusal> {
    if let Some(p) = &s.published {
        let fix = stop_socket(s)
            .last()
            .map_or("stop that container".to_string(), |p| p.command.clone());
        return Err(SignalRefusal::Published {
            socket: format!("{} {}", s.proto, s.local()),
            published: p.describe(),
            via: p.via.as_str().to_string(),
            fix,
        });
    }
    match protected(o) {
        Some(why) => Err(SignalRefusal::Protected(why)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_owner_guesses() {
        assert_eq!(
            pod_owner_guess("api-7f9c5d8b6-x2k4p"),
            Some(("Deployment", "api"))
        );
        assert_eq!(
            pod_owner_guess("node-agent-x7k2p"),
            Some(("DaemonSet", "node-agent"))
        );
        assert_eq!(pod_owner_guess("db-0"), Some(("StatefulSet", "db")));
        assert_eq!(pod_owner_guess("standalone"), None);
    }

    #[test]
    fn runtime_units_are_protected() {
        for u in [
            "docker.service",
            "containerd.service",
            "kubelet.service",
            "user@1000.service",
        ] {
            assert!(protected_unit(u).is_some(), "{u}");
        }
        assert!(protected_unit("nginx.service").is_none());
        let mut o = Owner {
            pid: 1,
            comm: "systemd".into(),
            ..Owner::default()
        };
        assert!(protected(&o).is_some());
        o.pid = 77;
        assert!(protected(&o).is_none());
        o.comm = "docker-proxy".into();
        assert!(protected(&o).is_some());
        assert!(stop_owner(&o).is_empty());
        // The name protects only where the program file cannot be read; a read one decides.
        o.exe = Some(crate::model::Exe {
            path: "/tmp/x/docker-proxy".into(),
            system: false,
        });
        assert!(protected(&o).is_none(), "a copy named docker-proxy");
        assert!(crate::analyze::stop_safety::impostor_warning(&o).is_some());
        o.exe = Some(crate::model::Exe {
            path: "/usr/bin/docker-proxy".into(),
            system: true,
        });
        assert!(protected(&o).is_some(), "the system's docker-proxy");
        o.exe = Some(crate::model::Exe {
            path: "/usr/bin/python3.11".into(),
            system: true,
        });
        assert!(
            protected(&o).is_none(),
            "python3 calling itself docker-proxy"
        );
        o.exe = None;
        o.comm = "nginx".into();
        o.unit = Some("docker.service".into());
        assert!(protected(&o).is_some());
        assert!(
            stop_owner(&o).is_empty(),
            "never systemctl stop docker.service"
        );
    }
}
