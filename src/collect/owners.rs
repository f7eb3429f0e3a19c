//! Which processes hold which sockets: one scan of /proc/*/fd per snapshot.
//!
//! No socket table names its process; like `ss -p` and lsof we read every fd link and match
//! `socket:[INODE]`. Unlike `ss -p` (a 256-bucket chained hash, quadratic on big hosts) the map is
//! a flat hash map, and the scan is split over threads because it is pure syscall latency.

use super::container::RuntimeRoots;
use super::users::user_name;
use crate::escape::Foreign;
use crate::model::Owner;
use nix::dir::Dir;
use nix::fcntl::{OFlag, readlinkat};
use nix::sys::stat::Mode;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

#[derive(Debug, Default, Clone)]
pub struct OwnerMap {
    /// (socket inode, index into `procs`), sorted: a flat array is a fraction of the memory of
    /// a map of vectors at 100k+ sockets, and one sort beats 100k hash inserts. Socket inodes
    /// are 32-bit (sockfs numbers them with get_next_ino, and sock_diag reports a u32), which
    /// halves the array: 0.8 MB at 100k sockets. Shared: the TUI's owner cache hands the same
    /// map to every tick while no process changed, and a copy per tick was a tenth of one.
    by_inode: Arc<Vec<(u32, u32)>>,
    pub procs: Vec<Arc<Owner>>,
    pub scanned: usize,
    pub hidden: usize,
    pub vanished: usize,
    pub fds: usize,
    /// nsfs links to network namespaces found among the fds: (namespace inode, `/proc/PID/fd/N`).
    pub netns_fds: Vec<(u64, std::path::PathBuf)>,
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
    Sockets(Vec<u32>, Vec<(u64, std::path::PathBuf)>),
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
        Err(nix::Error::EACCES | nix::Error::EPERM) => return FdScan::Hidden,
        Err(_) => return FdScan::Vanished,
    };
    let mut inodes = Vec::new();
    let mut netns = Vec::new();
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
        if let Some(inode) = socket_inode(b) {
            inodes.extend(u32::try_from(inode).ok());
        } else if let Some(ns) = super::netns::parse_link(b) {
            netns.push((
                ns,
                std::path::PathBuf::from(format!("{path}/{}", name.to_string_lossy())),
            ));
        }
    }
    FdScan::Sockets(inodes, netns)
}

/// The inode of a `socket:[INODE]` fd link.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let num = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(num).ok()?.parse().ok()
}

/// The lowest fd of `pid` that refers to socket `inode`, by the same link scan as the owner map
/// (for one process: a why answer's listener).
pub fn socket_fd(pid: u32, inode: u64) -> Option<u32> {
    let dir = Dir::open(
        format!("/proc/{pid}/fd").as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let mut dir = dir;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .collect();
    names
        .iter()
        .filter_map(|n| Some((n.to_str().ok()?.parse::<u32>().ok()?, n)))
        .filter(|(_, n)| {
            readlinkat(&dir, n.as_c_str()).is_ok_and(|t| socket_inode(t.as_bytes()) == Some(inode))
        })
        .map(|(fd, _)| fd)
        .min()
}

/// Who process `pid` is (command, user, unit, container), or None once it has exited.
pub fn process_info(pid: u32, roots: &RuntimeRoots) -> Option<Owner> {
    let proc = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
    let stat = proc.stat().ok()?;
    let uid = proc.uid().unwrap_or(u32::MAX);
    let cmdline = read_cmdline(pid);
    let cgroup = crate::kernel_file::read_lossy(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let mut id = super::container::identify(pid, &cgroup, roots);
    // Names are looked up here, so analysis that words commands with them does no I/O.
    if let Some(u) = id.user_unit.as_mut() {
        u.user_name = Some(user_name(u.uid).raw().to_string());
    }
    if let Some(w) = id.workload.as_mut()
        && let Some(uid) = w.rootless_uid
    {
        w.rootless_user = Some(user_name(uid).raw().to_string());
    }
    let status = crate::kernel_file::read_lossy(format!("/proc/{pid}/status")).unwrap_or_default();
    Some(Owner {
        pid,
        comm: Foreign::new(stat.comm),
        cmdline: Foreign::new(cmdline),
        uid,
        user: if uid == u32::MAX {
            Foreign::from("?")
        } else {
            user_name(uid)
        },
        start_time: stat.starttime,
        unit: id.unit.map(Foreign::new),
        container: id.workload.as_ref().map(|w| Foreign::new(w.tag())),
        workload: id.workload.map(Arc::new),
        user_unit: id.user_unit,
        nspid: parse_nspid(&status),
        exe: exe_of(pid),
    })
}

/// Directories only root installs programs into.
const SYSTEM_PROGRAM_DIRS: [&str; 9] = [
    "/usr/bin/",
    "/usr/sbin/",
    "/bin/",
    "/sbin/",
    "/usr/libexec/",
    "/usr/lib/",
    "/usr/local/bin/",
    "/usr/local/sbin/",
    "/snap/",
];

/// The process's program file, and whether it is a root-owned system file; `None` where
/// /proc/PID/exe cannot be read (another user's process without root, a kernel thread).
pub fn exe_of(pid: u32) -> Option<crate::model::Exe> {
    use std::os::unix::fs::MetadataExt;
    let link = format!("/proc/{pid}/exe");
    let path = std::fs::read_link(&link).ok()?;
    let shown = path.to_string_lossy().into_owned();
    // The file the process runs, even if it was replaced on disk since: /proc/PID/exe opens
    // the very inode. Its path is the process's own view: in a mount namespace of its own a
    // user can bind root's /bin/sleep onto /usr/local/bin/kubelet. So the same path must
    // reach the same file in portscope's view too.
    let meta = std::fs::metadata(&link).ok();
    let here = std::fs::metadata(&path).ok();
    let system = meta
        .as_ref()
        .is_some_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0)
        && meta
            .zip(here)
            .is_some_and(|(m, h)| (m.dev(), m.ino()) == (h.dev(), h.ino()))
        && SYSTEM_PROGRAM_DIRS.iter().any(|d| shown.starts_with(d))
        && !shown.contains("/../");
    Some(crate::model::Exe {
        path: Foreign::new(shown),
        system,
    })
}

/// The `NSpid:` line of /proc/PID/status (tab-separated PIDs, outermost first).
pub fn parse_nspid(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Longest command line kept: ARG_MAX allows megabytes, nobody reads past this.
const CMDLINE_MAX: u64 = 64 * 1024;

/// The command line as bytes: arguments that are not UTF-8 must not make a process's command
/// line vanish (procfs reads it as a String and fails), so they are read lossily.
fn read_cmdline(pid: u32) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(format!("/proc/{pid}/cmdline")) {
        let _ = f.take(CMDLINE_MAX).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf)
        .split('\0')
        .filter(|a| !a.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Host unit and container tag of a process from its /proc/PID/cgroup text (the tag is
/// `runtime:short-id`, or `runtime:name` where the runtime has no ids). The full story, with
/// names from the runtimes' state, is [`crate::collect::container::identify`].
pub fn parse_cgroup(text: &str) -> (Option<String>, Option<String>) {
    let facts = super::container::cgroup::parse(text);
    (facts.unit, facts.workload.map(|w| w.tag()))
}

/// Scans every process's fd table, split over `threads` threads.
pub fn scan(threads: usize) -> std::io::Result<OwnerMap> {
    scan_pids(&list_pids()?, threads)
}

/// Scans only the processes inside network namespace `netns` (and those whose namespace cannot
/// be read, which may hold its sockets): owners for a view of one namespace need no more.
pub fn scan_in(netns: u64, threads: usize) -> std::io::Result<OwnerMap> {
    scan_in_any(&[netns], threads)
}

/// Scans only the processes inside any of `namespaces` (see [`scan_in`]).
pub fn scan_in_any(namespaces: &[u64], threads: usize) -> std::io::Result<OwnerMap> {
    let pids: Vec<u32> = list_pids()?
        .into_iter()
        .filter(|&pid| namespaces.iter().any(|&ns| in_netns(pid, ns)))
        .collect();
    scan_pids(&pids, threads)
}

fn netns_of(path: &str) -> Option<u64> {
    std::fs::read_link(path)
        .ok()
        .and_then(|l| super::netns::parse_link(l.as_os_str().as_encoded_bytes()))
}

/// Whether any thread of `pid` is in `netns`. /proc/PID/ns/net is the main thread's; another
/// thread may have entered a namespace of its own (setns, unshare), and its sockets are there.
fn in_netns(pid: u32, netns: u64) -> bool {
    match netns_of(&format!("/proc/{pid}/ns/net")) {
        None => true,
        Some(ns) if ns == netns => true,
        Some(_) => {
            // procfs counts threads in the task directory's link count (2 + threads).
            let threads = nix::sys::stat::stat(format!("/proc/{pid}/task").as_str())
                .map_or(1, |st| st.st_nlink.saturating_sub(2));
            threads > 1
                && std::fs::read_dir(format!("/proc/{pid}/task")).is_ok_and(|rd| {
                    rd.filter_map(Result::ok).any(|t| {
                        netns_of(&format!(
                            "/proc/{pid}/task/{}/ns/net",
                            t.file_name().to_string_lossy()
                        ))
                        .is_some_and(|ns| ns == netns)
                    })
                })
        }
    }
}

/// Scans the fd tables of `pids` only.
pub fn scan_pids(pids: &[u32], threads: usize) -> std::io::Result<OwnerMap> {
    let roots = RuntimeRoots::from_env();
    let roots = &roots;
    let threads = threads.clamp(1, 16);
    let chunk = pids.len().div_ceil(threads).max(1);
    let parts: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = pids
            .chunks(chunk)
            .map(|pids| {
                scope.spawn(move || {
                    let mut part = OwnerMap::default();
                    let mut found: Vec<(Owner, Vec<u32>)> = Vec::new();
                    for &pid in pids {
                        part.scanned += 1;
                        match socket_inodes(pid, &mut part.fds) {
                            FdScan::Hidden => part.hidden += 1,
                            FdScan::Vanished => part.vanished += 1,
                            FdScan::Sockets(inodes, netns) if inodes.is_empty() => {
                                part.netns_fds.extend(netns);
                            }
                            FdScan::Sockets(inodes, netns) => match process_info(pid, roots) {
                                Some(owner) => {
                                    part.netns_fds.extend(netns);
                                    found.push((owner, inodes));
                                }
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
    // Sized once: doubling a 1.4 MB array at 100k sockets leaves the old block resident.
    let total = parts
        .iter()
        .map(|(_, found)| found.iter().map(|(_, i)| i.len()).sum::<usize>())
        .sum();
    let mut by_inode = Vec::with_capacity(total);
    for (part, found) in parts {
        map.scanned += part.scanned;
        map.hidden += part.hidden;
        map.vanished += part.vanished;
        map.fds += part.fds;
        map.netns_fds.extend(part.netns_fds);
        for (owner, inodes) in found {
            let idx = u32::try_from(map.procs.len()).unwrap_or(u32::MAX);
            map.procs.push(Arc::new(owner));
            by_inode.extend(inodes.into_iter().map(|i| (i, idx)));
        }
    }
    by_inode.sort_unstable();
    // A process with the same socket on two fds (dup) is one owner.
    by_inode.dedup();
    map.by_inode = Arc::new(by_inode);
    Ok(map)
}

impl OwnerMap {
    /// A map over processes and the socket inodes each holds (counters left at zero).
    pub fn from_entries<'a>(entries: impl Iterator<Item = (Arc<Owner>, &'a [u64])>) -> OwnerMap {
        let mut map = OwnerMap::default();
        let mut by_inode = Vec::new();
        for (owner, inodes) in entries {
            let idx = u32::try_from(map.procs.len()).unwrap_or(u32::MAX);
            map.procs.push(owner);
            by_inode.extend(
                inodes
                    .iter()
                    .filter_map(|&i| Some((u32::try_from(i).ok()?, idx))),
            );
        }
        by_inode.sort_unstable();
        by_inode.dedup();
        map.by_inode = Arc::new(by_inode);
        map
    }

    /// Indices into `procs` of the processes holding socket `inode`.
    pub fn owner_indices(&self, inode: u64) -> impl Iterator<Item = u32> + '_ {
        let key = u32::try_from(inode).ok();
        let from = match key {
            Some(k) => &self.by_inode[self.by_inode.partition_point(|&(i, _)| i < k)..],
            None => &[],
        };
        from.iter()
            .take_while(move |&&(i, _)| Some(i) == key)
            .map(|&(_, p)| p)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cgroup;

    #[test]
    fn cgroup_units_and_container_tags() {
        let id = "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7";
        let cases: Vec<(String, Option<&str>, Option<String>)> = vec![
            (
                "0::/system.slice/nginx.service\n".into(),
                Some("nginx.service"),
                None,
            ),
            (
                format!("0::/system.slice/docker-{id}.scope\n"),
                None,
                Some(format!("docker:{}", &id[..12])),
            ),
            (
                "0::/lxc.payload.mail/system.slice/postfix.service\n".into(),
                None,
                Some("lxc:mail".into()),
            ),
        ];
        for (text, unit, container) in cases {
            let (u, c) = parse_cgroup(&text);
            assert_eq!(u.as_deref(), unit, "{text}");
            assert_eq!(c, container, "{text}");
        }
    }
}
