//! Container identity from `/proc/PID/mountinfo`: runtimes bind-mount `/etc/hostname`,
//! `/etc/hosts` and `/etc/resolv.conf` from per-container directories, and kubelet mounts
//! `/etc/hosts` and termination logs from per-pod ones. The mount's root (field 4) keeps those
//! source paths even when a cgroup namespace hides the container's cgroup.

/// What the bind-mount sources name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountHints {
    /// `…/docker/containers/<id>/hostname`.
    pub docker_id: Option<String>,
    /// `…/overlay-containers/<id>/userdata/…` (CRI-O, podman).
    pub storage_id: Option<String>,
    /// `…/kubelet/pods/<uid>/…`.
    pub pod_uid: Option<String>,
    /// `…/kubelet/pods/<uid>/containers/<name>/…`.
    pub pod_container: Option<String>,
}

impl MountHints {
    pub fn is_empty(&self) -> bool {
        *self == MountHints::default()
    }
}

fn hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads the hints from mountinfo text.
pub fn parse(text: &str) -> MountHints {
    let mut h = MountHints::default();
    for line in text.lines() {
        let Some(root) = line.split(' ').nth(3) else {
            continue;
        };
        let segs: Vec<&str> = root.split('/').collect();
        for (i, w) in segs.windows(2).enumerate() {
            match (w[0], w[1]) {
                ("containers", id) if hex64(id) && h.docker_id.is_none() => {
                    if matches!(
                        segs.get(i + 2),
                        Some(&"hostname" | &"hosts" | &"resolv.conf")
                    ) {
                        h.docker_id = Some(id.to_string());
                    }
                }
                (dir, id)
                    if dir.ends_with("-containers")
                        && hex64(id)
                        && segs.get(i + 2) == Some(&"userdata")
                        && h.storage_id.is_none() =>
                {
                    h.storage_id = Some(id.to_string());
                }
                ("pods", uid)
                    if uid.len() == 36
                        && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') =>
                {
                    h.pod_uid.get_or_insert_with(|| uid.to_string());
                    if segs.get(i + 2) == Some(&"containers")
                        && let Some(name) = segs.get(i + 3)
                        && h.pod_container.is_none()
                    {
                        h.pod_container = Some(crate::workload::clean(name));
                    }
                }
                _ => {}
            }
        }
    }
    h
}
