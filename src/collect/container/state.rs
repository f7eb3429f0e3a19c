//! The runtimes' own state files, read without asking a daemon and cached by mtime: a refresh
//! rereads only the files that changed.

use super::roots::RuntimeRoots;
use crate::model::Proto;
use crate::workload::{Pod, clean};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

/// Larger state files than this are not runtime state (a docker config is a few KiB).
const MAX_STATE_FILE: u64 = 8 << 20;

/// A port a container publishes (`hostconfig.json` `PortBindings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub proto: Proto,
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
}

/// One Docker container, from `containers/<id>/config.v2.json` and `hostconfig.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerContainer {
    pub id: String,
    pub name: Option<String>,
    pub compose: Option<String>,
    pub ips: Vec<IpAddr>,
    pub ports: Vec<PortBinding>,
    pub running: bool,
    pub pod: Option<Pod>,
}

type Stamp = (SystemTime, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Parsed files, each kept with the mtime and size it had when read.
#[derive(Default)]
struct Files<V> {
    by_path: HashMap<PathBuf, (Stamp, Option<Arc<V>>)>,
}

impl<V> Files<V> {
    /// The parsed file at `path`, which must be a regular file of `owner`'s (the user whose
    /// runtime wrote it: root for the system's, the user for a rootless one).
    fn get(
        &mut self,
        path: &Path,
        owner: u32,
        parse: impl FnOnce(&[u8]) -> Option<V>,
    ) -> Option<Arc<V>> {
        let Some(now) = stamp(path) else {
            self.by_path.remove(path);
            return None;
        };
        if let Some((st, v)) = self.by_path.get(path)
            && *st == now
        {
            return v.clone();
        }
        let v = if now.1 <= MAX_STATE_FILE {
            // A FIFO or device planted where a state file should be is refused unread, never
            // waited on; so is a link (runtimes write these files themselves).
            crate::safefs::read_file_owned(
                path,
                crate::safefs::Links::Refuse,
                MAX_STATE_FILE,
                Some(owner),
            )
            .ok()
            .and_then(|b| parse(&b))
            .map(Arc::new)
        } else {
            None
        };
        self.by_path.insert(path.to_path_buf(), (now, v.clone()));
        v
    }
}

/// A directory listing, kept with the directory's mtime (it changes when entries come and go).
#[derive(Default)]
struct Dirs {
    by_path: HashMap<PathBuf, (SystemTime, Arc<Vec<String>>)>,
}

impl Dirs {
    fn list(&mut self, dir: &Path) -> Arc<Vec<String>> {
        let Some(mtime) = std::fs::metadata(dir).ok().and_then(|m| m.modified().ok()) else {
            self.by_path.remove(dir);
            return Arc::default();
        };
        if let Some((st, v)) = self.by_path.get(dir)
            && *st == mtime
        {
            return Arc::clone(v);
        }
        let names: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let v = Arc::new(names);
        self.by_path
            .insert(dir.to_path_buf(), (mtime, Arc::clone(&v)));
        v
    }
}

/// Every cache of runtime state, for one set of roots.
#[derive(Default)]
pub struct StateCache {
    roots: Option<RuntimeRoots>,
    docker: Files<DockerContainer>,
    json: Files<Value>,
    dirs: Dirs,
    podman: Files<HashMap<String, String>>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

fn parse_bindings(v: Option<&Value>, out: &mut Vec<PortBinding>) {
    let Some(map) = v.and_then(Value::as_object) else {
        return;
    };
    for (key, list) in map {
        let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let (Ok(container_port), Ok(proto)) = (port.parse::<u16>(), proto.parse::<Proto>()) else {
            continue;
        };
        for b in list.as_array().into_iter().flatten() {
            let Some(host_port) = str_at(b, &["HostPort"]).and_then(|p| p.parse().ok()) else {
                continue;
            };
            let binding = PortBinding {
                proto,
                host_ip: str_at(b, &["HostIp"]).and_then(|ip| ip.parse().ok()),
                host_port,
                container_port,
            };
            if !out.contains(&binding) {
                out.push(binding);
            }
        }
    }
}

/// Kubernetes labels as kubelet sets them on containers (cri-dockerd, CRI-O annotations).
fn pod_from_labels(get: impl Fn(&str) -> Option<String>) -> Option<Pod> {
    let pod = Pod {
        namespace: get("io.kubernetes.pod.namespace")
            .or_else(|| get("io.kubernetes.cri.sandbox-namespace")),
        name: get("io.kubernetes.pod.name").or_else(|| get("io.kubernetes.cri.sandbox-name")),
        uid: get("io.kubernetes.pod.uid").or_else(|| get("io.kubernetes.cri.sandbox-uid")),
        container: get("io.kubernetes.container.name")
            .or_else(|| get("io.kubernetes.cri.container-name")),
    };
    (pod.name.is_some() || pod.uid.is_some()).then_some(pod)
}

fn parse_docker(id: &str, config: &[u8]) -> Option<DockerContainer> {
    let v: Value = serde_json::from_slice(config).ok()?;
    let labels = v.pointer("/Config/Labels");
    let label = |k: &str| {
        labels
            .and_then(|l| l.get(k))
            .and_then(Value::as_str)
            .map(clean)
    };
    let compose = match (
        label("com.docker.compose.project"),
        label("com.docker.compose.service"),
    ) {
        (Some(p), Some(s)) => Some(format!("{p}/{s}")),
        _ => None,
    };
    let mut ips = Vec::new();
    if let Some(nets) = v
        .pointer("/NetworkSettings/Networks")
        .and_then(Value::as_object)
    {
        for net in nets.values() {
            for key in ["IPAddress", "GlobalIPv6Address"] {
                if let Some(ip) = str_at(net, &[key]).and_then(|s| s.parse().ok()) {
                    ips.push(ip);
                }
            }
        }
    }
    let mut ports = Vec::new();
    parse_bindings(v.pointer("/NetworkSettings/Ports"), &mut ports);
    Some(DockerContainer {
        id: id.to_string(),
        name: str_at(&v, &["Name"]).map(|n| clean(n.trim_start_matches('/'))),
        compose,
        ips,
        ports,
        running: v
            .pointer("/State/Running")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        pod: pod_from_labels(label),
    })
}

impl StateCache {
    /// Starts over when the roots change (a test pointing elsewhere).
    pub fn use_roots(&mut self, roots: &RuntimeRoots) {
        if self.roots.as_ref() != Some(roots) {
            *self = StateCache {
                roots: Some(roots.clone()),
                ..StateCache::default()
            };
        }
    }

    fn roots(&self) -> RuntimeRoots {
        self.roots.clone().unwrap_or_default()
    }

    /// Docker's data roots, each with the uid its files must belong to.
    fn docker_roots(&self, rootless_uid: Option<u32>) -> Vec<(PathBuf, u32)> {
        let roots = self.roots();
        let mut out: Vec<(PathBuf, u32)> = roots.docker.iter().map(|r| (r.clone(), 0)).collect();
        if let Some((uid, home)) = rootless_uid.and_then(|u| roots.home_of(u).map(|h| (u, h))) {
            out.insert(0, (home.join(".local/share/docker"), uid));
        }
        out
    }

    fn docker_in(&mut self, root: &Path, owner: u32, id: &str) -> Option<Arc<DockerContainer>> {
        let dir = root.join("containers").join(id);
        let base = self
            .docker
            .get(&dir.join("config.v2.json"), owner, |b| parse_docker(id, b))?;
        // hostconfig.json holds the requested bindings, also while the container is stopped.
        let host = self.json.get(&dir.join("hostconfig.json"), owner, |b| {
            serde_json::from_slice(b).ok()
        });
        let mut c = DockerContainer::clone(&base);
        if let Some(h) = host {
            parse_bindings(h.get("PortBindings"), &mut c.ports);
        }
        Some(Arc::new(c))
    }

    /// A Docker container by full id.
    pub fn docker(&mut self, id: &str, rootless_uid: Option<u32>) -> Option<Arc<DockerContainer>> {
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        for (root, owner) in self.docker_roots(rootless_uid) {
            if let Some(c) = self.docker_in(&root, owner, id) {
                return Some(c);
            }
        }
        None
    }

    /// Every Docker container on the host (for the publishers: by IP, by host port).
    pub fn docker_all(&mut self, rootless_uid: Option<u32>) -> Vec<Arc<DockerContainer>> {
        let mut out = Vec::new();
        for (root, owner) in self.docker_roots(rootless_uid) {
            let ids = self.dirs.list(&root.join("containers"));
            for id in ids.iter() {
                if id.bytes().all(|b| b.is_ascii_hexdigit())
                    && let Some(c) = self.docker_in(&root, owner, id)
                {
                    out.push(c);
                }
            }
        }
        out
    }

    /// A podman (containers-storage) container's first name, by id.
    pub fn podman_name(&mut self, id: &str, rootless_uid: Option<u32>) -> Option<String> {
        let roots = self.roots();
        let mut stores: Vec<(PathBuf, u32)> = Vec::new();
        if let Some((uid, home)) = rootless_uid.and_then(|u| roots.home_of(u).map(|h| (u, h))) {
            stores.push((home.join(".local/share/containers/storage"), uid));
        }
        stores.extend(roots.containers_storage.iter().map(|s| (s.clone(), 0)));
        stores.extend(roots.containers_run.iter().map(|s| (s.clone(), 0)));
        for (store, owner) in stores {
            for entry in self.dirs.list(&store).iter() {
                if !entry.ends_with("-containers") {
                    continue;
                }
                for file in ["containers.json", "volatile-containers.json"] {
                    let names = self.podman.get(&store.join(entry).join(file), owner, |b| {
                        let v: Value = serde_json::from_slice(b).ok()?;
                        let mut m = HashMap::new();
                        for c in v.as_array()? {
                            if let (Some(id), Some(name)) = (
                                str_at(c, &["id"]),
                                c.get("names")
                                    .and_then(Value::as_array)
                                    .and_then(|n| n.first())
                                    .and_then(Value::as_str),
                            ) {
                                m.insert(id.to_string(), clean(name));
                            }
                        }
                        Some(m)
                    });
                    if let Some(n) = names.and_then(|m| m.get(id).cloned()) {
                        return Some(n);
                    }
                }
            }
        }
        None
    }

    /// A nerdctl container's name, from its name store (`<hash>/names/<namespace>/<name>`,
    /// each file holding the id).
    pub fn nerdctl_name(&mut self, id: &str) -> Option<String> {
        for root in self.roots().nerdctl {
            for hash in self.dirs.list(&root).iter() {
                let names = root.join(hash).join("names");
                for ns in self.dirs.list(&names).iter() {
                    let dir = names.join(ns);
                    for name in self.dirs.list(&dir).iter() {
                        let held = self.json.get(&dir.join(name), 0, |b| {
                            Some(Value::String(String::from_utf8_lossy(b).trim().to_string()))
                        });
                        if held.as_deref().and_then(Value::as_str) == Some(id) {
                            return Some(clean(name));
                        }
                    }
                }
            }
        }
        None
    }

    /// OCI `config.json` annotations: the containerd bundle (CRI and nerdctl) or CRI-O's
    /// userdata copy.
    pub fn annotations(&mut self, id: &str) -> Option<Arc<Value>> {
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let roots = self.roots();
        let mut candidates = Vec::new();
        for state in &roots.containerd {
            let tasks = state.join("io.containerd.runtime.v2.task");
            for ns in self.dirs.list(&tasks).iter() {
                candidates.push(tasks.join(ns).join(id).join("config.json"));
            }
        }
        for run in &roots.containers_run {
            for entry in self.dirs.list(run).iter() {
                if entry.ends_with("-containers") {
                    candidates.push(run.join(entry).join(id).join("userdata/config.json"));
                }
            }
        }
        for path in candidates {
            let ann = self.json.get(&path, 0, |b| {
                let v: Value = serde_json::from_slice(b).ok()?;
                Some(v.get("annotations").cloned().unwrap_or(Value::Null))
            });
            if ann.is_some() {
                return ann;
            }
        }
        None
    }

    /// The pod (and container) of a container id from its OCI annotations.
    pub fn pod_of_container(&mut self, id: &str) -> Option<Pod> {
        let ann = self.annotations(id)?;
        pod_from_labels(|k| ann.get(k).and_then(Value::as_str).map(clean))
    }

    /// kubelet's log trees: `/var/log/containers/<pod>_<ns>_<container>-<id>.log` by container
    /// id, then `/var/log/pods/<ns>_<pod>_<uid>/` by pod UID.
    pub fn pod_from_logs(&mut self, id: Option<&str>, uid: Option<&str>) -> Option<Pod> {
        let logs = self.roots().kubelet_logs;
        if let Some(id) = id {
            for f in self.dirs.list(&logs.join("containers")).iter() {
                let Some((head, cid)) = f.strip_suffix(".log").and_then(|s| s.rsplit_once('-'))
                else {
                    continue;
                };
                if cid != id {
                    continue;
                }
                let mut p = head.splitn(3, '_');
                if let (Some(pod), Some(ns), Some(c)) = (p.next(), p.next(), p.next()) {
                    return Some(Pod {
                        namespace: Some(clean(ns)),
                        name: Some(clean(pod)),
                        uid: None,
                        container: Some(clean(c)),
                    });
                }
            }
        }
        let uid = uid?;
        let pods = logs.join("pods");
        for d in self.dirs.list(&pods).iter() {
            let mut p = d.splitn(3, '_');
            if let (Some(ns), Some(pod), Some(u)) = (p.next(), p.next(), p.next())
                && u == uid
            {
                let containers = self.dirs.list(&pods.join(d));
                return Some(Pod {
                    namespace: Some(clean(ns)),
                    name: Some(clean(pod)),
                    uid: Some(uid.to_string()),
                    container: (containers.len() == 1).then(|| clean(&containers[0])),
                });
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
