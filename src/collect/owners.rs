//! Which processes hold which sockets: one scan of /proc/*/fd per snapshot.
//!
//! No socket table names its process; like `ss -p` and lsof we read every fd link and match
//! `socket:[INODE]`. Unlike `ss -p` (a 256-bucket chained hash, quadratic on big hosts) the map is
//! a flat hash map, and the scan is split over threads because it is pure syscall latency.

use crate::model::Owner;
use nix::dir::Dir;
use nix::fcntl::{OFlag, readlinkat};
use nix::sys::stat::Mode;
use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct OwnerMap {
    /// (socket inode, index into `procs`), sorted: a flat array is a fraction of the memory of
    /// a map of vectors at 100k+ sockets, and one sort beats 100k hash inserts.
    by_inode: Vec<(u64, u32)>,
    pub procs: Vec<Arc<Owner>>,
    pub scanned: usize,
    pub hidden: usize,
    pub vanished: usize,
    pub fds: usize,
}

/// Numeric entries of /proc: every process visible in our PID namespace.
pub(crate) fn list_pids() -> std::io::Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        if let Some(pid) = std::str::from_utf8(entry.file_name().as_bytes())
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
        {
            pids.push(pid);
        }
    }
    Ok(pids)
}

enum FdScan {
    Sockets(Vec<u64>),
    Hidden,
    Vanished,
}

fn socket_inodes(pid: u32, fds: &mut usize) -> FdScan {
    let path = format!("/proc/{pid}/fd");
    let mut dir = match Dir::open(
        path.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(nix::Error::EACCES) | Err(nix::Error::EPERM) => return FdScan::Hidden,
        Err(_) => return FdScan::Vanished,
    };
    let mut inodes = Vec::new();
    // Collect names first: readlinkat needs the directory fd while the iterator borrows it.
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .collect();
    *fds += names.len();
    for name in &names {
        let Ok(target) = readlinkat(&dir, name.as_c_str()) else {
            continue; // fd closed since the listing
        };
        let b = target.as_bytes();
        if let Some(rest) = b.strip_prefix(b"socket:[")
            && let Some(num) = rest.strip_suffix(b"]")
            && let Some(inode) = std::str::from_utf8(num).ok().and_then(|s| s.parse().ok())
        {
            inodes.push(inode);
        }
    }
    FdScan::Sockets(inodes)
}

thread_local! {
    /// NSS lookups cost tens of microseconds; a table of 100k ownerless rows asks for the same
    /// few uids over and over.
    static USER_NAMES: std::cell::RefCell<HashMap<u32, String>> = Default::default();
}

/// The login name for a uid, or the number when there is none (containers often have none).
pub fn user_name(uid: u32) -> String {
    USER_NAMES.with(|cache| {
        cache
            .borrow_mut()
            .entry(uid)
            .or_insert_with(
                || match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
                    Ok(Some(u)) => u.name,
                    _ => uid.to_string(),
                },
            )
            .clone()
    })
}

/// Who process `pid` is (command, user, unit, container), or None once it has exited.
pub fn process_info(pid: u32) -> Option<Owner> {
    let proc = procfs::process::Process::new(pid as i32).ok()?;
    let stat = proc.stat().ok()?;
    let uid = proc.uid().unwrap_or(u32::MAX);
    let cmdline = proc.cmdline().map(|v| v.join(" ")).unwrap_or_default();
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let (unit, container) = parse_cgroup(&cgroup);
    Some(Owner {
        pid,
        comm: stat.comm,
        cmdline,
        uid,
        user: if uid == u32::MAX {
            "?".into()
        } else {
            user_name(uid)
        },
        start_time: stat.starttime,
        unit,
        container,
    })
}

/// Systemd unit and container of a process from its /proc/PID/cgroup text.
///
/// Container scopes (`docker-<id>.scope`, `cri-containerd-<id>.scope`, `libpod-<id>.scope`,
/// `crio-<id>.scope`, cgroup v1 `/docker/<id>`) name the container; otherwise the deepest
/// `.service` (or a `.scope` such as a login session) is the unit that supervises the process.
pub fn parse_cgroup(text: &str) -> (Option<String>, Option<String>) {
    // cgroup v2 has one "0::" line; under v1 the name=systemd hierarchy carries the unit path.
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .or_else(|| {
            text.lines()
                .find_map(|l| l.split_once(":name=systemd:").map(|(_, p)| p))
        })
        .unwrap_or("");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut container = None;
    for (i, seg) in segments.iter().enumerate() {
        let scoped = seg.strip_suffix(".scope").unwrap_or(seg);
        for (prefix, runtime) in [
            ("docker-", "docker"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
            ("libpod-", "podman"),
        ] {
            if let Some(id) = scoped.strip_prefix(prefix)
                && id.len() >= 12
                && id.bytes().all(|b| b.is_ascii_hexdigit())
            {
                container = Some(format!("{runtime}:{}", &id[..12]));
            }
        }
        if *seg == "docker"
            && let Some(id) = segments.get(i + 1)
            && id.len() >= 12
        {
            container = Some(format!("docker:{}", &id[..12]));
        }
        if let Some(name) = seg.strip_prefix("machine-")
            && let Some(name) = name.strip_suffix(".scope")
        {
            container = Some(format!("machine:{name}"));
        }
    }
    let unit = if container.is_some() {
        None
    } else {
        segments
            .iter()
            .rev()
            .find(|s| s.ends_with(".service"))
            .or_else(|| segments.iter().rev().find(|s| s.ends_with(".scope")))
            .map(|s| s.to_string())
    };
    (unit, container)
}

/// Scans every process's fd table, split over `threads` threads.
pub fn scan(threads: usize) -> std::io::Result<OwnerMap> {
    let pids = list_pids()?;
    let threads = threads.clamp(1, 16);
    let chunk = pids.len().div_ceil(threads).max(1);
    let parts: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|pids| {
                scope.spawn(move || {
                    let mut part = OwnerMap::default();
                    let mut found: Vec<(Owner, Vec<u64>)> = Vec::new();
                    for &pid in pids {
                        part.scanned += 1;
                        match socket_inodes(pid, &mut part.fds) {
                            FdScan::Hidden => part.hidden += 1,
                            FdScan::Vanished => part.vanished += 1,
                            FdScan::Sockets(inodes) if inodes.is_empty() => {}
                            FdScan::Sockets(inodes) => match process_info(pid) {
                                Some(owner) => found.push((owner, inodes)),
                                None => part.vanished += 1,
                            },
                        }
                    }
                    (part, found)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut map = OwnerMap::default();
    for (part, found) in parts {
        map.scanned += part.scanned;
        map.hidden += part.hidden;
        map.vanished += part.vanished;
        map.fds += part.fds;
        for (owner, inodes) in found {
            let idx = map.procs.len() as u32;
            map.procs.push(Arc::new(owner));
            map.by_inode.extend(inodes.into_iter().map(|i| (i, idx)));
        }
    }
    map.by_inode.sort_unstable();
    // A process with the same socket on two fds (dup) is one owner.
    map.by_inode.dedup();
    Ok(map)
}

impl OwnerMap {
    /// A map over processes and the socket inodes each holds (counters left at zero).
    pub fn from_entries<'a>(entries: impl Iterator<Item = (Arc<Owner>, &'a [u64])>) -> OwnerMap {
        let mut map = OwnerMap::default();
        for (owner, inodes) in entries {
            let idx = map.procs.len() as u32;
            map.procs.push(owner);
            map.by_inode.extend(inodes.iter().map(|&i| (i, idx)));
        }
        map.by_inode.sort_unstable();
        map.by_inode.dedup();
        map
    }

    /// Indices into `procs` of the processes holding socket `inode`.
    pub fn owner_indices(&self, inode: u64) -> impl Iterator<Item = u32> + '_ {
        let start = self.by_inode.partition_point(|&(i, _)| i < inode);
        self.by_inode[start..]
            .iter()
            .take_while(move |&&(i, _)| i == inode)
            .map(|&(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cgroup;

    #[test]
    fn cgroup_units_and_containers() {
        let id = "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
        let cases: Vec<(String, Option<&str>, Option<String>)> = vec![
            (
                "0::/system.slice/nginx.service\n".into(),
                Some("nginx.service"),
                None,
            ),
            (
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service\n".into(),
                Some("foo.service"),
                None,
            ),
            (
                "0::/user.slice/user-0.slice/session-3.scope\n".into(),
                Some("session-3.scope"),
                None,
            ),
            (
                format!("0::/system.slice/docker-{id}.scope\n"),
                None,
                Some(format!("docker:{}", &id[..12])),
            ),
            (
                format!("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-{id}.scope\n"),
                None,
                Some(format!("containerd:{}", &id[..12])),
            ),
            (
                format!("12:pids:/docker/{id}\n1:name=systemd:/docker/{id}\n"),
                None,
                Some(format!("docker:{}", &id[..12])),
            ),
            ("0::/\n".into(), None, None),
            (String::new(), None, None),
        ];
        for (text, unit, container) in cases {
            let (u, c) = parse_cgroup(&text);
            assert_eq!(u.as_deref(), unit, "{text}");
            assert_eq!(c, container, "{text}");
        }
    }
}
