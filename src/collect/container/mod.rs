//! Naming what a process runs in, without asking a daemon: its cgroup path, the sources of its
//! bind mounts, and the runtimes' state on disk (see `roots` for where, `state` for what).

pub mod cgroup;
pub mod kube;
pub mod mountinfo;
pub mod published;
pub mod roots;
pub mod state;

use crate::workload::{Pod, Runtime, UserUnit, Workload};
pub use roots::RuntimeRoots;
use state::StateCache;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Where a process runs: at most one of the three is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub unit: Option<String>,
    pub user_unit: Option<UserUnit>,
    pub workload: Option<Workload>,
}

static STATE: Mutex<Option<StateCache>> = Mutex::new(None);
/// Mount hints per mount namespace (all processes of a container share one).
static MOUNTS: Mutex<Option<HashMap<u64, mountinfo::MountHints>>> = Mutex::new(None);

/// The process-wide state cache, pointed at `roots`.
pub fn state(roots: &RuntimeRoots) -> StateGuard {
    let mut g = STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    g.get_or_insert_with(StateCache::default).use_roots(roots);
    StateGuard(g)
}

pub struct StateGuard(MutexGuard<'static, Option<StateCache>>);

impl std::ops::Deref for StateGuard {
    type Target = StateCache;
    fn deref(&self) -> &StateCache {
        self.0.as_ref().expect("initialised by state()")
    }
}

impl std::ops::DerefMut for StateGuard {
    fn deref_mut(&mut self) -> &mut StateCache {
        self.0.as_mut().expect("initialised by state()")
    }
}

fn mnt_ns(pid: u32) -> Option<u64> {
    nix::sys::stat::stat(format!("/proc/{pid}/ns/mnt").as_str())
        .ok()
        .map(|s| s.st_ino)
}

/// Mount hints for a process in another mount namespace (none for processes in ours: our own
/// mounts say nothing about them).
fn mount_hints(pid: u32) -> mountinfo::MountHints {
    let (Some(theirs), Some(ours)) = (mnt_ns(pid), mnt_ns(std::process::id())) else {
        return Default::default();
    };
    if theirs == ours {
        return Default::default();
    }
    let mut g = MOUNTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let map = g.get_or_insert_with(HashMap::new);
    if let Some(h) = map.get(&theirs) {
        return h.clone();
    }
    let h = crate::kernel_file::read_lossy(format!("/proc/{pid}/mountinfo"))
        .map(|t| mountinfo::parse(&t))
        .unwrap_or_default();
    if map.len() > 4096 {
        map.clear(); // namespaces come and go; never grow without bound
    }
    map.insert(theirs, h.clone());
    h
}

/// Whether `pid` runs in the initial user namespace (pid 1's; ours where pid 1 cannot be read).
fn in_initial_userns(pid: u32) -> bool {
    let ino = |p: &str| nix::sys::stat::stat(p).ok().map(|s| s.st_ino);
    let init = ino("/proc/1/ns/user").or_else(|| ino("/proc/self/ns/user"));
    match (ino(&format!("/proc/{pid}/ns/user")), init) {
        (Some(theirs), Some(init)) => theirs == init,
        _ => false,
    }
}

fn from_mounts(h: &mountinfo::MountHints) -> Option<Workload> {
    let mut w = if let Some(id) = &h.docker_id {
        Workload::new(Runtime::Docker, Some(id.clone()), None)
    } else if let Some(id) = &h.storage_id {
        // CRI-O and podman share the layout; a pod UID says which.
        let rt = if h.pod_uid.is_some() {
            Runtime::CriO
        } else {
            Runtime::Podman
        };
        Workload::new(rt, Some(id.clone()), None)
    } else if h.pod_uid.is_some() {
        Workload::new(Runtime::K8s, None, None)
    } else {
        return None;
    };
    if h.pod_uid.is_some() {
        w.pod = Some(Pod {
            uid: h.pod_uid.clone(),
            container: h.pod_container.clone(),
            ..Pod::default()
        });
    }
    Some(w)
}

fn merge_pod(w: &mut Workload, found: Pod) {
    let pod = w.pod.get_or_insert_with(Pod::default);
    pod.namespace = pod.namespace.take().or(found.namespace);
    pod.name = pod.name.take().or(found.name);
    pod.uid = pod.uid.take().or(found.uid);
    pod.container = pod.container.take().or(found.container);
}

/// Adds names from the runtimes' state on disk.
pub fn enrich(w: &mut Workload, st: &mut StateCache) {
    let id = w.id.clone();
    let rootless = w.rootless_uid;
    match w.runtime {
        Runtime::Docker => {
            if let Some(c) = id.as_deref().and_then(|id| st.docker(id, rootless)) {
                w.name = w.name.take().or(c.name.clone());
                w.compose.clone_from(&c.compose);
                if let Some(p) = c.pod.clone() {
                    merge_pod(w, p);
                }
            }
        }
        Runtime::Podman => {
            if let Some(n) = id.as_deref().and_then(|id| st.podman_name(id, rootless)) {
                w.name = Some(n);
            }
        }
        Runtime::Nerdctl => {
            if let Some(id) = id.as_deref() {
                w.name = st.nerdctl_name(id).or_else(|| {
                    st.annotations(id)
                        .and_then(|a| a.get("nerdctl/name")?.as_str().map(crate::workload::clean))
                });
            }
        }
        Runtime::Containerd | Runtime::CriO | Runtime::K8s => {
            let mut found = id.as_deref().and_then(|id| st.pod_of_container(id));
            if found.is_none() && w.runtime == Runtime::K8s {
                // cgroupfs kubepods paths do not name the runtime: Docker (cri-dockerd) labels.
                if let Some(c) = id.as_deref().and_then(|id| st.docker(id, None)) {
                    found.clone_from(&c.pod);
                }
            }
            let uid = w.pod.as_ref().and_then(|p| p.uid.clone());
            if found.as_ref().is_none_or(|p| p.name.is_none())
                && let Some(p) = st.pod_from_logs(id.as_deref(), uid.as_deref())
            {
                found = Some(match found {
                    Some(mut f) => {
                        f.namespace = f.namespace.or(p.namespace);
                        f.name = f.name.or(p.name);
                        f.container = f.container.or(p.container);
                        f
                    }
                    None => p,
                });
            }
            if let Some(p) = found {
                merge_pod(w, p);
            }
        }
        Runtime::Lxc | Runtime::Nspawn | Runtime::Machine => {}
    }
    w.relabel();
}

/// Everything portscope can say about where process `pid` runs, from its cgroup text.
pub fn identify(pid: u32, cgroup_text: &str, roots: &RuntimeRoots) -> Identity {
    let facts = cgroup::parse(cgroup_text);
    let mut workload = facts.workload;
    if workload.is_none() {
        workload = from_mounts(&mount_hints(pid));
        if let Some(w) = workload.as_mut() {
            // Bind mounts prove something only when made by root of the initial user
            // namespace; in a user namespace of its own any user can mount a file named like a
            // runtime's over /etc/hostname.
            w.claimed = !in_initial_userns(pid);
        }
    }
    if let Some(w) = workload.as_mut() {
        enrich(w, &mut state(roots));
        return Identity {
            unit: None,
            user_unit: None,
            workload,
        };
    }
    Identity {
        unit: facts.unit,
        user_unit: facts.user_unit,
        workload: None,
    }
}
