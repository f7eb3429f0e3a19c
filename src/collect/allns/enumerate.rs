//! Every network namespace on the host, found as `lsns` finds them: the `ns/net` of every
//! process, nsfs file descriptors processes hold (from the owner scan), and nsfs bind mounts in
//! mountinfo (`/run/netns/*`, `/run/docker/netns/*`, `cni-*`).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One namespace and the ways to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsEntry {
    pub inode: u64,
    /// Processes inside it.
    pub pids: Vec<u32>,
    /// nsfs bind mounts of it.
    pub mounts: Vec<PathBuf>,
    /// `/proc/PID/fd/N` links to it held by processes (possibly outside it).
    pub fds: Vec<PathBuf>,
}

impl NsEntry {
    /// Files that open the namespace, best first: a mount outlives any process.
    pub fn handles(&self) -> Vec<PathBuf> {
        let mut out = self.mounts.clone();
        out.extend(
            self.pids
                .iter()
                .take(4)
                .map(|p| PathBuf::from(format!("/proc/{p}/ns/net"))),
        );
        out.extend(self.fds.iter().take(2).cloned());
        out
    }
}

/// mountinfo text → (namespace inode, mount point) for every nsfs mount of a net namespace.
pub fn nsfs_mounts(mountinfo: &str) -> Vec<(u64, PathBuf)> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split(' ').next() != Some("nsfs") {
            continue;
        }
        let f: Vec<&str> = left.split(' ').collect();
        let (Some(root), Some(point)) = (f.get(3), f.get(4)) else {
            continue;
        };
        if let Some(inode) = crate::collect::netns::parse_link(root.as_bytes()) {
            out.push((inode, PathBuf::from(unescape_mount(point))));
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = s.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The namespaces of every process and every nsfs mount.
pub fn enumerate() -> BTreeMap<u64, NsEntry> {
    let mut map: BTreeMap<u64, NsEntry> = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.filter_map(Result::ok) {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(link) = std::fs::read_link(format!("/proc/{pid}/ns/net")) else {
                continue; // exited, or another user's process without root
            };
            if let Some(inode) =
                crate::collect::netns::parse_link(link.as_os_str().as_encoded_bytes())
            {
                let entry = map.entry(inode).or_default();
                entry.inode = inode;
                entry.pids.push(pid);
            }
        }
    }
    if let Ok(text) = crate::kernel_file::read_capped(
        std::path::Path::new("/proc/self/mountinfo"),
        crate::kernel_file::MAX_TABLE,
    ) {
        for (inode, point) in nsfs_mounts(&text) {
            let entry = map.entry(inode).or_default();
            entry.inode = inode;
            if !entry.mounts.contains(&point) {
                entry.mounts.push(point);
            }
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsfs_mounts_from_mountinfo() {
        let text = "\
610 29 0:4 net:[4026532900] /run/netns/blue rw,nosuid - nsfs nsfs rw
611 29 0:4 net:[4026532901] /run/docker/netns/1a2b3c rw - nsfs nsfs rw
612 29 0:4 mnt:[4026532902] /run/mntns/x rw - nsfs nsfs rw
613 29 0:4 net:[4026532903] /run/netns/with\\040space rw - nsfs nsfs rw
25 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
";
        assert_eq!(
            nsfs_mounts(text),
            vec![
                (4_026_532_900, PathBuf::from("/run/netns/blue")),
                (4_026_532_901, PathBuf::from("/run/docker/netns/1a2b3c")),
                (4_026_532_903, PathBuf::from("/run/netns/with space")),
            ]
        );
        assert_eq!(
            crate::collect::netns::parse_link(b"net:[4026531840]"),
            Some(4_026_531_840)
        );
        assert_eq!(crate::collect::netns::parse_link(b"socket:[12]"), None);
    }
}
