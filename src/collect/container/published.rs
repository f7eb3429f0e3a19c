//! Ports a runtime component holds for a container: docker-proxy (its command line names the
//! container's address), dockerd itself when the userland proxy is off, podman's conmon, and the
//! rootless port drivers. The socket's owner is then the runtime, the container is the cause.

use super::state::StateCache;
use crate::model::{Owner, Socket};
use crate::workload::{Published, Publisher, Runtime, Workload};
use std::net::{IpAddr, SocketAddr};

/// Which runtime component a process is, from its name.
pub fn publisher_of(o: &Owner) -> Option<Publisher> {
    let argv0 = o.cmdline.raw().split(' ').next().unwrap_or("");
    let base = argv0.rsplit('/').next().unwrap_or(argv0);
    let is = |name: &str| o.comm.raw() == name || base == name;
    if is("docker-proxy") {
        Some(Publisher::DockerProxy)
    } else if is("dockerd") {
        Some(Publisher::Dockerd)
    } else if is("conmon") {
        Some(Publisher::Conmon)
    } else if is("rootlessport") {
        Some(Publisher::Rootlessport)
    } else if is("rootlesskit") {
        Some(Publisher::Rootlesskit)
    } else {
        None
    }
}

/// The value of a Go-style flag (`-name value`, `-name=value`, `--name value`).
pub fn flag<'a>(cmdline: &'a str, name: &str) -> Option<&'a str> {
    let mut words = cmdline.split(' ');
    while let Some(w) = words.next() {
        let bare = w.trim_start_matches('-');
        if !w.starts_with('-') {
            continue;
        }
        if bare == name {
            return words.next();
        }
        if let Some(v) = bare.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v);
        }
    }
    None
}

fn docker_workload(c: &super::state::DockerContainer, rootless: Option<u32>) -> Workload {
    let mut w = Workload::new(Runtime::Docker, Some(c.id.clone()), c.name.clone());
    w.compose.clone_from(&c.compose);
    w.pod.clone_from(&c.pod);
    w.rootless_uid = rootless;
    w.rootless_user = rootless.map(|u| crate::collect::users::user_name(u).raw().to_string());
    w.relabel();
    w
}

/// Docker's container for a published host port, from the containers' `PortBindings`.
fn docker_by_port(s: &Socket, st: &mut StateCache, rootless: Option<u32>) -> Option<Published> {
    let all = st.docker_all(rootless);
    let hit = all
        .iter()
        .filter(|c| c.running)
        .chain(all.iter().filter(|c| !c.running))
        .find_map(|c| {
            c.ports
                .iter()
                .find(|b| {
                    b.proto == s.proto
                        && b.host_port == s.local_port
                        && b.host_ip.is_none_or(|ip| {
                            ip.is_unspecified()
                                || s.local_addr.is_unspecified()
                                || ip == s.local_addr
                        })
                })
                .map(|b| (c, b.container_port))
        });
    let (c, port) = hit?;
    Some(Published {
        via: Publisher::Dockerd,
        target: c.ips.first().map(|ip| SocketAddr::new(*ip, port)),
        workload: Some(docker_workload(c, rootless)),
    })
}

/// Who a socket held by a runtime component is published for. `None` for ordinary owners.
pub fn attribute(s: &Socket, st: &mut StateCache) -> Option<Published> {
    let (o, via) = s
        .owners
        .iter()
        .find_map(|o| publisher_of(o).map(|p| (o, p)))?;
    let rootless = o
        .user_unit
        .as_ref()
        .map(|u| u.uid)
        .or_else(|| (o.uid != 0).then_some(o.uid));
    match via {
        Publisher::DockerProxy => {
            let ip: Option<IpAddr> =
                flag(o.cmdline.raw(), "container-ip").and_then(|v| v.parse().ok());
            let port: Option<u16> =
                flag(o.cmdline.raw(), "container-port").and_then(|v| v.parse().ok());
            let target = ip.zip(port).map(|(ip, port)| SocketAddr::new(ip, port));
            let workload = ip.and_then(|ip| {
                st.docker_all(rootless)
                    .iter()
                    .filter(|c| c.ips.contains(&ip))
                    .max_by_key(|c| c.running)
                    .map(|c| docker_workload(c, rootless))
            });
            Some(Published {
                via,
                workload,
                target,
            })
        }
        Publisher::Dockerd => Some(docker_by_port(s, st, rootless).unwrap_or(Published {
            via,
            workload: None,
            target: None,
        })),
        Publisher::Conmon => {
            // conmon runs in libpod-conmon-<id>.scope and is started with -c <id> -n <name>.
            let mut w = o.workload.as_deref().cloned().or_else(|| {
                flag(o.cmdline.raw(), "c")
                    .map(|id| Workload::new(Runtime::Podman, Some(id.into()), None))
            })?;
            w.monitor = false;
            if w.name.is_none() {
                w.name = flag(o.cmdline.raw(), "n").map(crate::workload::clean);
            }
            if w.name.is_none()
                && let Some(id) = w.id.clone()
            {
                w.name = st.podman_name(&id, w.rootless_uid);
            }
            w.relabel();
            Some(Published {
                via,
                workload: Some(w),
                target: None,
            })
        }
        Publisher::Rootlesskit | Publisher::Rootlessport => {
            let mut p = docker_by_port(s, st, rootless).unwrap_or(Published {
                via,
                workload: None,
                target: None,
            });
            p.via = via;
            Some(p)
        }
    }
}

/// Every host port a running Docker container publishes according to its state files, whether
/// a socket holds it or only NAT rules do.
pub fn state_bindings(st: &mut StateCache) -> Vec<crate::analyze::across::StateBinding> {
    let mut out = Vec::new();
    for c in st.docker_all(None).iter().filter(|c| c.running) {
        for b in &c.ports {
            out.push(crate::analyze::across::StateBinding {
                workload: docker_workload(c, None),
                proto: b.proto,
                host_port: b.host_port,
                target: c
                    .ips
                    .first()
                    .map(|ip| SocketAddr::new(*ip, b.container_port)),
            });
        }
    }
    out
}
