//! Table tests over every runtime's cgroup path format (sources in
//! shared/containers-and-tracing.md B1).

use super::*;

const ID: &str = "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
const UID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

#[derive(Clone, Copy)]
struct Want {
    unit: Option<&'static str>,
    user_unit: Option<(u32, &'static str)>,
    runtime: Option<Runtime>,
    id: bool,
    name: Option<&'static str>,
    pod_uid: bool,
    inner: Option<&'static str>,
    monitor: bool,
}

const NONE: Want = Want {
    unit: None,
    user_unit: None,
    runtime: None,
    id: false,
    name: None,
    pod_uid: false,
    inner: None,
    monitor: false,
};

fn container(runtime: Runtime) -> Want {
    Want {
        runtime: Some(runtime),
        id: true,
        ..NONE
    }
}

fn check(text: &str, want: Want) {
    let f = parse(text);
    assert_eq!(f.unit.as_deref(), want.unit, "unit of {text}");
    assert_eq!(
        f.user_unit.as_ref().map(|u| (u.uid, u.unit.as_str())),
        want.user_unit,
        "user unit of {text}"
    );
    let w = f.workload.as_ref();
    assert_eq!(w.map(|w| w.runtime), want.runtime, "runtime of {text}");
    if let Some(w) = w {
        assert_eq!(w.id.as_deref(), want.id.then_some(ID), "id of {text}");
        assert_eq!(w.name.as_deref(), want.name, "name of {text}");
        assert_eq!(
            w.pod.as_ref().and_then(|p| p.uid.as_deref()),
            want.pod_uid.then_some(UID),
            "pod of {text}"
        );
        assert_eq!(w.inner_unit.as_deref(), want.inner, "inner unit of {text}");
        assert_eq!(w.monitor, want.monitor, "monitor of {text}");
    }
}

#[test]
fn host_units() {
    let unit = |u| Want {
        unit: Some(u),
        ..NONE
    };
    check("0::/system.slice/nginx.service\n", unit("nginx.service"));
    check(
        "0::/user.slice/user-0.slice/session-3.scope\n",
        unit("session-3.scope"),
    );
    check("0::/init.scope\n", unit("init.scope"));
    check("0::/\n", NONE);
    check("", NONE);
    // The user's manager itself runs in its user@ unit.
    check(
        "0::/user.slice/user-1000.slice/user@1000.service/init.scope\n",
        unit("user@1000.service"),
    );
}

#[test]
fn user_units_are_not_host_units() {
    check(
        "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n",
        Want {
            user_unit: Some((1000, "foo.service")),
            ..NONE
        },
    );
}

#[test]
fn docker_both_drivers_and_hybrid_hosts() {
    check(
        &format!("0::/system.slice/docker-{ID}.scope\n"),
        container(Runtime::Docker),
    );
    check(
        &format!("12:pids:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/\n"),
        container(Runtime::Docker),
    );
    // Hybrid host: v1 name=systemd names the container, 0:: still names the unit that
    // started it. The unit must not win (it was `systemctl stop containerd.service`).
    check(
        &format!(
            "9:name=systemd:/docker/{ID}\n4:memory:/docker/{ID}\n0::/system.slice/containerd.service\n"
        ),
        container(Runtime::Docker),
    );
    // Hybrid host where only the v1 controllers know (no name=systemd path).
    check(
        &format!("4:memory:/docker/{ID}\n0::/system.slice/containerd.service\n"),
        container(Runtime::Docker),
    );
    // name=systemd disagrees with 0:: about the unit: name=systemd wins.
    check(
        "1:name=systemd:/system.slice/nginx.service\n0::/system.slice/containerd.service\n",
        Want {
            unit: Some("nginx.service"),
            ..NONE
        },
    );
}

#[test]
fn kubernetes_formats() {
    let uid_ = UID.replace('-', "_");
    let k8s = |runtime| Want {
        pod_uid: true,
        ..container(runtime)
    };
    check(
        &format!(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/cri-containerd-{ID}.scope\n"
        ),
        k8s(Runtime::Containerd),
    );
    check(
        &format!("0::/kubepods.slice/kubepods-pod{uid_}.slice/crio-{ID}.scope\n"),
        k8s(Runtime::CriO),
    );
    check(
        &format!("0::/kubepods.slice/kubepods-pod{uid_}.slice/crio-conmon-{ID}.scope\n"),
        Want {
            monitor: true,
            ..k8s(Runtime::CriO)
        },
    );
    // cgroupfs driver: /kubepods/<qos>/pod<uid>/<id> and Guaranteed /kubepods/pod<uid>/<id>.
    check(
        &format!("0::/kubepods/burstable/pod{UID}/{ID}\n"),
        k8s(Runtime::K8s),
    );
    check(&format!("0::/kubepods/pod{UID}/{ID}\n"), k8s(Runtime::K8s));
    // Rootless kubelet.
    check(
        &format!(
            "0::/user.slice/user-1001.slice/user@1001.service/user.slice/cri-containerd-{ID}.scope\n"
        ),
        container(Runtime::Containerd),
    );
}

#[test]
fn podman_nerdctl() {
    check(
        &format!("0::/machine.slice/libpod-{ID}.scope\n"),
        container(Runtime::Podman),
    );
    check(
        &format!("0::/machine.slice/libpod-{ID}.scope/container\n"),
        container(Runtime::Podman),
    );
    check(
        &format!("0::/machine.slice/libpod-conmon-{ID}.scope\n"),
        Want {
            monitor: true,
            ..container(Runtime::Podman)
        },
    );
    check(
        &format!("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope\n"),
        container(Runtime::Podman),
    );
    assert_eq!(
        parse(&format!(
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope\n"
        ))
        .workload
        .and_then(|w| w.rootless_uid),
        Some(1000)
    );
    check(
        &format!("0::/libpod_parent/libpod-{ID}\n"),
        container(Runtime::Podman),
    );
    check(
        &format!("0::/system.slice/nerdctl-{ID}.scope\n"),
        container(Runtime::Nerdctl),
    );
}

#[test]
fn lxc_and_nspawn_units_inside_are_not_host_units() {
    let named = |runtime, name| Want {
        runtime: Some(runtime),
        name: Some(name),
        ..NONE
    };
    check(
        "0::/lxc.payload.mail/system.slice/postfix.service\n",
        Want {
            inner: Some("postfix.service"),
            ..named(Runtime::Lxc, "mail")
        },
    );
    check(
        "0::/lxc.payload.mail/init.scope\n",
        named(Runtime::Lxc, "mail"),
    );
    check(
        "0::/lxc.monitor.mail\n",
        Want {
            monitor: true,
            ..named(Runtime::Lxc, "mail")
        },
    );
    check(
        "0::/lxc/web01/system.slice/x.service\n",
        Want {
            inner: Some("x.service"),
            ..named(Runtime::Lxc, "web01")
        },
    );
    check(
        "0::/machine.slice/systemd-nspawn@build.service/payload/system.slice/postfix.service\n",
        Want {
            inner: Some("postfix.service"),
            ..named(Runtime::Nspawn, "build")
        },
    );
    check(
        "0::/machine.slice/systemd-nspawn@build.service/supervisor\n",
        Want {
            monitor: true,
            ..named(Runtime::Nspawn, "build")
        },
    );
    check(
        "0::/machine.slice/machine-build.scope/payload/system.slice/sshd.service\n",
        Want {
            inner: Some("sshd.service"),
            ..named(Runtime::Nspawn, "build")
        },
    );
    check(
        "0::/machine.slice/machine-qemu\\x2d1\\x2dvm.scope/libvirt/emulator\n",
        named(Runtime::Machine, "qemu-1-vm"),
    );
}
