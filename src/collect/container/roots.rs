//! Where the runtimes keep their state on disk. Every root can be pointed elsewhere: tests use a
//! temporary tree, and some hosts move `/var/lib/docker` or run k3s's containerd.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeRoots {
    /// Prepended to every default below (and to users' home directories): `/` normally.
    pub prefix: PathBuf,
    /// Docker data roots (`containers/<id>/config.v2.json`).
    pub docker: Vec<PathBuf>,
    /// containerd state dirs holding `io.containerd.runtime.v2.task/<ns>/<id>/config.json`.
    pub containerd: Vec<PathBuf>,
    /// containers-storage run roots (CRI-O's `overlay-containers/<id>/userdata/config.json`,
    /// podman's `volatile-containers.json`).
    pub containers_run: Vec<PathBuf>,
    /// containers-storage graph roots (podman's `overlay-containers/containers.json`).
    pub containers_storage: Vec<PathBuf>,
    /// The directory holding kubelet's `pods/` and `containers/` log trees.
    pub kubelet_logs: PathBuf,
    /// nerdctl data stores (`<hash>/names/<namespace>/<name>`).
    pub nerdctl: Vec<PathBuf>,
}

fn list(var: &str, prefix: &Path, defaults: &[&str]) -> Vec<PathBuf> {
    match std::env::var_os(var) {
        Some(v) => std::env::split_paths(&v).collect(),
        None => defaults.iter().map(|d| under(prefix, d)).collect(),
    }
}

/// `prefix` + an absolute path.
pub fn under(prefix: &Path, path: impl AsRef<Path>) -> PathBuf {
    let p = path.as_ref();
    prefix.join(p.strip_prefix("/").unwrap_or(p))
}

impl Default for RuntimeRoots {
    fn default() -> Self {
        Self::with_prefix(Path::new("/"))
    }
}

impl RuntimeRoots {
    /// The runtimes' default locations below `prefix`.
    pub fn with_prefix(prefix: &Path) -> Self {
        let p = |d: &str| under(prefix, d);
        RuntimeRoots {
            prefix: prefix.to_path_buf(),
            docker: vec![p("/var/lib/docker")],
            containerd: vec![p("/run/containerd"), p("/run/k3s/containerd")],
            containers_run: vec![p("/run/containers/storage")],
            containers_storage: vec![p("/var/lib/containers/storage")],
            kubelet_logs: p("/var/log"),
            nerdctl: vec![p("/var/lib/nerdctl")],
        }
    }

    /// Defaults, moved by `PORTSCOPE_RUNTIME_ROOT` (a prefix for all of them) and overridden one
    /// by one by `PORTSCOPE_DOCKER_ROOT`, `PORTSCOPE_CONTAINERD_STATE`,
    /// `PORTSCOPE_CONTAINERS_RUN`, `PORTSCOPE_CONTAINERS_STORAGE`, `PORTSCOPE_KUBELET_LOGS` and
    /// `PORTSCOPE_NERDCTL_ROOT` (`:`-separated lists).
    pub fn from_env() -> Self {
        let prefix = std::env::var_os("PORTSCOPE_RUNTIME_ROOT")
            .map_or_else(|| PathBuf::from("/"), PathBuf::from);
        let d = Self::with_prefix(&prefix);
        let strs = |v: &[PathBuf]| -> Vec<String> {
            v.iter().map(|p| p.to_string_lossy().into_owned()).collect()
        };
        let keep = |var: &str, v: &[PathBuf]| {
            let s = strs(v);
            let refs: Vec<&str> = s.iter().map(String::as_str).collect();
            list(var, Path::new("/"), &refs)
        };
        RuntimeRoots {
            docker: keep("PORTSCOPE_DOCKER_ROOT", &d.docker),
            containerd: keep("PORTSCOPE_CONTAINERD_STATE", &d.containerd),
            containers_run: keep("PORTSCOPE_CONTAINERS_RUN", &d.containers_run),
            containers_storage: keep("PORTSCOPE_CONTAINERS_STORAGE", &d.containers_storage),
            kubelet_logs: std::env::var_os("PORTSCOPE_KUBELET_LOGS")
                .map(PathBuf::from)
                .unwrap_or(d.kubelet_logs),
            nerdctl: keep("PORTSCOPE_NERDCTL_ROOT", &d.nerdctl),
            prefix,
        }
    }

    /// A rootless user's home directory (below the prefix), from the password database.
    pub fn home_of(&self, uid: u32) -> Option<PathBuf> {
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok()??;
        Some(under(&self.prefix, user.dir))
    }
}
