//! Reading /proc/PID/cgroup: the host unit, the user unit, or the container a process runs in.
//!
//! Every runtime names its cgroups its own way (see docs in the module's tests). The rule that
//! matters most: a unit found *below* a container boundary (`lxc.payload.mail/system.slice/
//! postfix.service`) belongs to the container's own systemd, never to the host's.

use crate::workload::{Pod, Runtime, UserUnit, Workload};

/// What the cgroup path says about a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupFacts {
    /// A unit of the host's system manager (`nginx.service`, `session-3.scope`).
    pub unit: Option<String>,
    /// A unit of a user's manager (`user@1000.service/.../foo.service`).
    pub user_unit: Option<UserUnit>,
    pub workload: Option<Workload>,
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// systemd escapes `-` and other bytes in unit names as `\xNN` (machine-qemu\x2d1\x2dvm.scope).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(hex) = s.get(i + 2..i + 4)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    crate::workload::clean(&String::from_utf8_lossy(&out))
}

/// The pod UID in `kubepods-besteffort-pod<uid_with_underscores>.slice` or `pod<uid>`.
fn pod_uid(seg: &str) -> Option<String> {
    let s = seg.strip_suffix(".slice").unwrap_or(seg);
    let at = s.rfind("pod")?;
    if at > 0 && !s[..at].ends_with('-') {
        return None;
    }
    let uid = &s[at + 3..];
    let ok = uid.len() >= 32
        && uid
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_');
    ok.then(|| uid.replace('_', "-"))
}

/// A container boundary at segment `i`: the workload, and how many segments it spans.
fn boundary(segs: &[&str], i: usize, pod: Option<&String>) -> Option<(Workload, usize)> {
    let seg = segs[i];
    let scope = seg.strip_suffix(".scope");
    let k8s = |runtime: Runtime, id: &str| {
        let mut w = Workload::new(runtime, Some(id.to_string()), None);
        if let Some(uid) = pod {
            w.pod = Some(Pod {
                uid: Some(uid.clone()),
                ..Pod::default()
            });
            w.relabel();
        }
        w
    };
    if let Some(s) = scope {
        for (prefix, runtime, monitor) in [
            ("crio-conmon-", Runtime::CriO, true),
            ("libpod-conmon-", Runtime::Podman, true),
            ("docker-", Runtime::Docker, false),
            ("cri-containerd-", Runtime::Containerd, false),
            ("crio-", Runtime::CriO, false),
            ("libpod-", Runtime::Podman, false),
            ("nerdctl-", Runtime::Nerdctl, false),
            ("cri-dockerd-", Runtime::Docker, false),
        ] {
            if let Some(id) = s.strip_prefix(prefix)
                && is_hex_id(id)
            {
                let mut w = k8s(runtime, id);
                w.monitor = monitor;
                w.relabel();
                return Some((w, 1));
            }
        }
        if let Some(name) = s.strip_prefix("machine-") {
            let name = unescape(name);
            let runtime = if name.starts_with("qemu-") || name.starts_with("lxc-") {
                Runtime::Machine
            } else {
                Runtime::Nspawn
            };
            return Some((Workload::new(runtime, None, Some(name)), 1));
        }
    }
    if let Some(name) = seg.strip_prefix("lxc.payload.") {
        return Some((Workload::new(Runtime::Lxc, None, Some(unescape(name))), 1));
    }
    if let Some(name) = seg.strip_prefix("lxc.monitor.") {
        let mut w = Workload::new(Runtime::Lxc, None, Some(unescape(name)));
        w.monitor = true;
        w.relabel();
        return Some((w, 1));
    }
    // LXC before 4.0: /lxc/<name>; LXD before that: /lxc/<name> as well.
    if seg == "lxc"
        && let Some(name) = segs.get(i + 1)
    {
        return Some((Workload::new(Runtime::Lxc, None, Some(unescape(name))), 2));
    }
    if let Some(name) = seg
        .strip_prefix("systemd-nspawn@")
        .and_then(|s| s.strip_suffix(".service"))
    {
        let mut w = Workload::new(Runtime::Nspawn, None, Some(unescape(name)));
        // Outside `payload` is nspawn itself, the container's supervisor.
        w.monitor = segs.get(i + 1) != Some(&"payload");
        w.relabel();
        let span = if w.monitor { 1 } else { 2 };
        return Some((w, span));
    }
    // cgroupfs drivers: /docker/<id>, /libpod_parent/libpod-<id>, /kubepods/<qos>/pod<uid>/<id>.
    if let Some(next) = segs.get(i + 1) {
        if seg == "docker" && is_hex_id(next) {
            return Some((k8s(Runtime::Docker, next), 2));
        }
        if seg == "libpod_parent"
            && let Some(id) = next.strip_prefix("libpod-")
            && is_hex_id(id)
        {
            return Some((Workload::new(Runtime::Podman, Some(id.into()), None), 2));
        }
        if pod.is_some() && is_hex_id(seg) && !seg.contains('.') {
            return Some((k8s(Runtime::K8s, seg), 1));
        }
    }
    if pod.is_some() && is_hex_id(seg) && i + 1 == segs.len() {
        return Some((k8s(Runtime::K8s, seg), 1));
    }
    None
}

/// Facts from one cgroup path.
pub fn parse_path(path: &str) -> CgroupFacts {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut facts = CgroupFacts::default();
    let mut pod: Option<String> = None;
    let mut user_manager: Option<u32> = None;
    let mut host_unit: Option<&str> = None;
    let mut user_unit: Option<&str> = None;
    let mut i = 0;
    while i < segs.len() {
        let seg = segs[i];
        if (seg.starts_with("kubepods")
            || (seg.starts_with("pod") && segs[..i].iter().any(|s| s.starts_with("kubepods"))))
            && let Some(uid) = pod_uid(seg)
        {
            pod = Some(uid);
        }
        if let Some((mut w, span)) = boundary(&segs, i, pod.as_ref()) {
            w.rootless_uid = user_manager;
            // Inside the container: its own manager's units, never the host's.
            w.inner_unit = segs[i + span..]
                .iter()
                .rev()
                .find(|s| s.ends_with(".service"))
                .map(|s| unescape(s));
            facts.workload = Some(w);
            return facts;
        }
        if let Some(uid) = seg
            .strip_prefix("user@")
            .and_then(|s| s.strip_suffix(".service"))
            .and_then(|s| s.parse::<u32>().ok())
        {
            user_manager = Some(uid);
            host_unit = Some(seg);
        } else if seg.ends_with(".service") || seg.ends_with(".scope") {
            match user_manager {
                // The manager's own init.scope: the process is `systemd --user` itself.
                Some(_) if seg == "init.scope" => {}
                Some(_) => user_unit = Some(seg),
                None => host_unit = Some(seg),
            }
        }
        i += 1;
    }
    // A pod with no container segment (the pod's own slice, the pause process's parent).
    if let Some(uid) = pod {
        let mut w = Workload::new(Runtime::K8s, None, None);
        w.pod = Some(Pod {
            uid: Some(uid),
            ..Pod::default()
        });
        w.relabel();
        facts.workload = Some(w);
        return facts;
    }
    match (user_manager, user_unit) {
        (Some(uid), Some(u)) => {
            facts.user_unit = Some(UserUnit {
                uid,
                unit: unescape(u),
                user_name: None,
            });
        }
        // The user's manager itself (`systemd --user`) runs in user@UID.service/init.scope.
        _ => facts.unit = host_unit.map(unescape),
    }
    facts
}

/// Facts from the whole /proc/PID/cgroup text.
///
/// On a hybrid host (cgroup v1 with a v2 hierarchy beside it) the v1 `name=systemd` line is the
/// one systemd and the runtimes keep up to date; a v1-only runtime (docker with cgroupfs) never
/// touches the `0::` line, which then still names the unit the process was started from
/// (`containerd.service`). So `name=systemd` wins where the two disagree, and any path that
/// names a container wins over one that does not.
pub fn parse(text: &str) -> CgroupFacts {
    let mut systemd = None;
    let mut unified = None;
    let mut others = Vec::new();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctrl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if path.is_empty() || path == "/" {
            continue;
        }
        match ctrl {
            "name=systemd" => systemd = Some(path),
            "" => unified = Some(path),
            _ => others.push(path),
        }
    }
    let ordered: Vec<&str> = systemd.into_iter().chain(unified).collect();
    let parsed: Vec<CgroupFacts> = ordered.iter().map(|p| parse_path(p)).collect();
    if let Some(f) = parsed.iter().find(|f| f.workload.is_some()) {
        return f.clone();
    }
    // v1 controllers only (no name=systemd hierarchy): they can still name a container.
    if let Some(f) = others
        .iter()
        .map(|p| parse_path(p))
        .find(|f| f.workload.is_some())
    {
        return f;
    }
    parsed.into_iter().next().unwrap_or_default()
}

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
