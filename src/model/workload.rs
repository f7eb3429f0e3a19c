//! What an engineer calls the thing a process runs in: a container, a pod, a user unit.
//!
//! Plain data, part of the snapshot (and of its JSON: fields are added, never renamed). It is
//! filled by `collect::container` from cgroup paths, mount sources and the runtimes' state on
//! disk, without asking any daemon.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::net::SocketAddr;

/// The container runtime (or container-like manager) a workload belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Podman,
    /// containerd through its CRI plugin (Kubernetes).
    Containerd,
    #[serde(rename = "cri-o")]
    CriO,
    Nerdctl,
    Lxc,
    Nspawn,
    /// A systemd-machined scope that is not known to be nspawn (a libvirt VM, for instance).
    Machine,
    /// A Kubernetes pod seen through a cgroupfs path that does not name the runtime.
    K8s,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Nerdctl => "nerdctl",
            Runtime::Lxc => "lxc",
            Runtime::Nspawn => "nspawn",
            Runtime::Machine => "machine",
            Runtime::K8s => "k8s",
        }
    }
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Kubernetes pod (and the container in it, when known).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pod {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub uid: Option<String>,
    /// The container's name inside the pod.
    pub container: Option<String>,
}

/// The container a process runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub runtime: Runtime,
    /// The full container id, where the runtime has one.
    pub id: Option<String>,
    /// The container's name (`web`, `db`, an LXC or nspawn machine name).
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Pod>,
    /// docker compose `project/service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compose: Option<String>,
    /// A systemd unit *inside* the container (LXC, nspawn): never a unit of the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inner_unit: Option<String>,
    /// The process is the runtime's monitor for the container (conmon, `lxc.monitor`), not the
    /// container's payload.
    #[serde(default)]
    pub monitor: bool,
    /// The user whose runtime runs it (rootless podman/docker/nerdctl), from `user@UID.service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootless_uid: Option<u32>,
    /// That user's name, looked up when the snapshot was taken (commands say `sudo -iu NAME`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootless_user: Option<String>,
    /// The identity rests on evidence the process itself could have made (the bind mounts of a
    /// mount namespace created inside a user namespace: any user can do that): shown as a
    /// claim, never acted on. A remedy stops or signals the process, not the container it names.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub claimed: bool,
    /// How a person names it: `docker: web (compose app/web)`, `k8s: default/api (container app)`.
    pub label: String,
}

impl Workload {
    /// A workload known from its runtime and id (or name) only; `relabel` after adding facts.
    pub fn new(runtime: Runtime, id: Option<String>, name: Option<String>) -> Self {
        let mut w = Workload {
            runtime,
            id,
            name,
            pod: None,
            compose: None,
            inner_unit: None,
            monitor: false,
            rootless_uid: None,
            rootless_user: None,
            claimed: false,
            label: String::new(),
        };
        w.relabel();
        w
    }

    /// The first 12 characters of the id, as `docker ps` shows it.
    pub fn short_id(&self) -> Option<&str> {
        self.id.as_deref().map(|id| &id[..id.len().min(12)])
    }

    /// The name a runtime's CLI accepts: the name when known, else the short id.
    pub fn handle(&self) -> Option<&str> {
        self.name.as_deref().or_else(|| self.short_id())
    }

    /// The pre-existing `Owner::container` tag: `docker:3f2a9c0d4e5b`, `lxc:mail`.
    pub fn tag(&self) -> String {
        let runtime = match self.runtime {
            Runtime::Nspawn | Runtime::Machine => "machine",
            r => r.as_str(),
        };
        match (self.short_id(), &self.name) {
            (Some(id), _) => format!("{runtime}:{id}"),
            (None, Some(name)) => format!("{runtime}:{name}"),
            (None, None) => runtime.to_string(),
        }
    }

    pub fn relabel(&mut self) {
        let mut label = match (&self.pod, self.runtime) {
            (Some(pod), _) if pod.name.is_some() || pod.uid.is_some() => {
                let who = match (&pod.namespace, &pod.name, &pod.uid) {
                    (Some(ns), Some(name), _) => format!("{ns}/{name}"),
                    (None, Some(name), _) => name.clone(),
                    (_, None, Some(uid)) => format!("pod {uid}"),
                    _ => "pod".into(),
                };
                match &pod.container {
                    Some(c) => format!("k8s: {who} (container {c})"),
                    None => format!("k8s: {who}"),
                }
            }
            (_, runtime) => {
                let name = self.handle().unwrap_or("?");
                format!("{runtime}: {name}")
            }
        };
        if let Some(c) = &self.compose {
            _ = write!(label, " (compose {c})");
        }
        if self.monitor {
            label.push_str(" [monitor]");
        }
        if self.claimed {
            label = format!("claims {label} (unproven: its own mounts say so)");
        }
        self.label = label;
    }
}

/// A systemd *user* unit: `user@UID.service/.../foo.service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUnit {
    pub uid: u32,
    pub unit: String,
    /// The user's name, looked up when the snapshot was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// A user's name as collected, or the number when none was (replays of older snapshots).
pub fn user_or_uid(name: Option<&str>, uid: u32) -> String {
    name.map_or_else(|| uid.to_string(), str::to_string)
}

/// Which runtime component holds a socket on behalf of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Publisher {
    DockerProxy,
    Dockerd,
    Conmon,
    Rootlesskit,
    Rootlessport,
}

impl Publisher {
    pub fn as_str(self) -> &'static str {
        match self {
            Publisher::DockerProxy => "docker-proxy",
            Publisher::Dockerd => "dockerd",
            Publisher::Conmon => "conmon",
            Publisher::Rootlesskit => "rootlesskit",
            Publisher::Rootlessport => "rootlessport",
        }
    }
}

/// A host port published for a container: the socket is held by a runtime component, and
/// the fix is to stop the container, never the component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub via: Publisher,
    /// The container, when portscope could tell which one.
    pub workload: Option<Workload>,
    /// Where the traffic goes inside the container (`172.17.0.2:80`).
    pub target: Option<SocketAddr>,
}

impl Published {
    /// "published by container web (172.17.0.2:80)".
    pub fn describe(&self) -> String {
        let who = match &self.workload {
            Some(w) => format!("container {}", w.handle().unwrap_or(&w.label)),
            None => "a container portscope could not name".into(),
        };
        match self.target {
            Some(t) => format!("published by {who} ({t})"),
            None => format!("published by {who}"),
        }
    }
}

/// Text from the runtimes' files and from other processes, made safe for a terminal: control
/// characters become `?`, and a name is cut at 253 bytes (the longest DNS name).
pub fn clean(text: &str) -> String {
    text.chars()
        .take(253)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The short "where it runs" tag of an owner for tables: the container's label, the user unit,
/// or the host unit.
pub fn place(o: &crate::model::Owner) -> Option<String> {
    // Names come from cgroup paths and runtime state files, which others can write: escaped.
    if let Some(w) = &o.workload {
        return Some(crate::escape::escape_field(&w.label).into_owned());
    }
    if let Some(u) = &o.user_unit {
        return Some(
            crate::escape::escape_field(&format!("user {} {}", u.uid, u.unit)).into_owned(),
        );
    }
    o.unit
        .as_ref()
        .or(o.container.as_ref())
        .map(ToString::to_string)
}

/// One network namespace of an `--all-netns` snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsSummary {
    /// The namespace's inode (`net:[INODE]`), the `netns` field of its sockets.
    pub inode: u64,
    /// `host`, `netns: blue`, `docker: web`, `k8s: default/api`, or `pid 812 (nginx)`.
    pub label: String,
    /// Files it is bind-mounted on (`/run/netns/blue`, `/run/docker/netns/<id>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<String>,
    /// A process inside it (for `nsenter -t PID -n`), if any.
    pub pid: Option<u32>,
    /// The namespace portscope runs in.
    pub own: bool,
    /// Every socket was read (the namespace in focus); otherwise listeners and UDP only.
    pub full: bool,
    pub sockets: usize,
    /// Why its sockets could not be read, if they could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
