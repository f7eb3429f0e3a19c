//! `--all-netns`: sockets of every network namespace in one snapshot, each socket marked with
//! its namespace, each namespace named.
//!
//! The kernel walks the host-wide established hash for an all-states TCP dump in *any*
//! namespace, so N full dumps cost N host walks. Namespaces out of focus get the dump that skips
//! it (TCP LISTEN + bound-inactive, and UDP): tens of microseconds each. Only the namespace in
//! focus gets every state.

pub mod enumerate;
mod once;
pub mod pool;

use super::container::{self, RuntimeRoots};
use super::{CollectError, finish_table, netns, owners, refine_autobound, sysctl};
use crate::model::{JSON_VERSION, NetnsInfo, NetnsSummary, Snapshot, Socket, Source, Stats};
use enumerate::NsEntry;
use pool::NetnsPool;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct AllNetnsOptions {
    /// The namespace whose every socket is read; `None`: the one portscope runs in.
    pub focus: Option<u64>,
    /// Only these namespaces (by inode); empty: all of them.
    pub only: Vec<u64>,
    /// Listeners (and UDP) only, in the focus too: no all-states dump anywhere.
    pub listening_only: bool,
    /// Also TCP sockets that are bound but not listening (they make a bind fail too) in every
    /// namespace: each such dump walks the host-wide bind hash, so it is opt-in.
    pub bound_inactive: bool,
    pub skip_owners: bool,
    /// Read each namespace once and keep nothing: no sock_diag socket per namespace stays open
    /// for the next refresh (the TUI's pool), and one receive buffer serves them all.
    pub one_shot: bool,
}

/// Kept between refreshes (the TUI collects repeatedly); each socket pins its namespace until
/// the next sync sees the namespace gone.
static POOL: Mutex<Option<NetnsPool>> = Mutex::new(None);

/// How many namespaces the shared pool holds a socket for.
pub fn pooled() -> usize {
    POOL.lock()
        .map_or(0, |p| p.as_ref().map_or(0, NetnsPool::len))
}

/// What a person calls a namespace: its mount name, else the container of its processes.
fn label(entry: &NsEntry, own: bool, host: Option<u64>, roots: &RuntimeRoots) -> String {
    // The host's namespace is pid 1's, not necessarily portscope's own (run inside a netns,
    // its own is just another); where pid 1 cannot be inspected, its own stands in.
    if host.map_or(own, |h| h == entry.inode) {
        return "host".into();
    }
    for m in &entry.mounts {
        let name = m
            .file_name()
            .map(|n| crate::workload::clean(&n.to_string_lossy()))
            .unwrap_or_default();
        let parent = m.parent().map(|p| p.to_string_lossy().into_owned());
        match parent.as_deref() {
            Some(p) if p.ends_with("/docker/netns") => {
                let w = entry
                    .pids
                    .iter()
                    .take(8)
                    .find_map(|pid| workload_of(*pid, roots));
                return w.unwrap_or_else(|| format!("docker sandbox {name}"));
            }
            Some(p) if p.ends_with("/netns") && name.starts_with("cni-") => {
                let w = entry
                    .pids
                    .iter()
                    .take(8)
                    .find_map(|pid| workload_of(*pid, roots));
                return w.unwrap_or_else(|| format!("cni: {name}"));
            }
            Some(p) if p.ends_with("/netns") => return format!("netns: {name}"),
            _ => {}
        }
    }
    if let Some(w) = entry
        .pids
        .iter()
        .take(8)
        .find_map(|pid| workload_of(*pid, roots))
    {
        return w;
    }
    match entry.pids.first() {
        Some(pid) => {
            let comm =
                crate::kernel_file::read_lossy(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("pid {pid} ({})", crate::workload::clean(comm.trim()))
        }
        None => format!("net:[{}]", entry.inode),
    }
}

fn workload_of(pid: u32, roots: &RuntimeRoots) -> Option<String> {
    let cg = crate::kernel_file::read_lossy(format!("/proc/{pid}/cgroup")).ok()?;
    container::identify(pid, &cg, roots)
        .workload
        .map(|w| w.label)
}

/// Why one namespace's table is missing from an all-namespaces snapshot (its summary says so).
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error(transparent)]
    Open(#[from] pool::OpenError),
    #[error("no sock_diag socket")]
    NoSocket,
    #[error("sock_diag: {0}")]
    Dump(nix::Error),
    #[error("not read")]
    NotRead,
}

/// Appends one namespace's sockets, read through the pool's socket, to `out`.
fn dump(
    pool: &mut NetnsPool,
    inode: u64,
    full: bool,
    bound: bool,
    out: &mut Vec<Socket>,
) -> Result<Range<usize>, ReadError> {
    let d = pool.get(inode).ok_or(ReadError::NoSocket)?;
    let start = out.len();
    let r = if full {
        d.all_sockets().map(|all| out.extend(all))
    } else {
        d.listening_into(bound, out)
    };
    if let Err(e) = r {
        out.truncate(start);
        return Err(ReadError::Dump(e));
    }
    for s in &mut out[start..] {
        s.netns = inode;
    }
    Ok(start..out.len())
}

/// Where each namespace's sockets are in the table, or why they are missing.
type Results = BTreeMap<u64, Result<Range<usize>, ReadError>>;

/// One snapshot of every network namespace.
pub fn collect_all(opts: &AllNetnsOptions) -> Result<Snapshot, CollectError> {
    let started = Instant::now();
    let taken_at = jiff::Timestamp::now();
    let threads = crate::collect::cpu::threads();
    // The calling thread's namespace: its sock_diag socket needs no setns.
    let here = netns::current_inode();
    let own = netns::own_inode();
    let focus = opts.focus.unwrap_or(here);
    let mut entries: BTreeMap<u64, NsEntry> = enumerate::enumerate();
    entries.entry(here).or_default().inode = here;
    if !opts.only.is_empty() {
        entries.retain(|i, _| opts.only.contains(i) || *i == focus);
    }
    let (sysctls, mut warnings) = sysctl::read_sysctls();
    // A refreshing caller keeps one socket per namespace; a one-shot read keeps none.
    let mut guard = (!opts.one_shot).then(|| {
        POOL.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    });
    let mut pool = guard
        .as_mut()
        .map(|g| g.get_or_insert_with(NetnsPool::default));

    let mut sockets: Vec<Socket> = Vec::new();
    let mut results = Results::new();
    let full = |inode: u64| inode == focus && !opts.listening_only;
    let sync_and_dump = |pool: Option<&mut NetnsPool>,
                         entries: &BTreeMap<u64, NsEntry>,
                         results: &mut Results,
                         sockets: &mut Vec<Socket>| {
        let Some(pool) = pool else {
            let todo: Vec<once::Todo> = entries
                .values()
                .filter(|e| !results.contains_key(&e.inode))
                .map(|e| once::Todo {
                    inode: e.inode,
                    handles: e.handles(),
                    full: full(e.inode),
                })
                .collect();
            results.extend(once::read_each(here, &todo, opts.bound_inactive, sockets));
            return;
        };
        let wanted: Vec<(u64, Vec<PathBuf>)> =
            entries.values().map(|e| (e.inode, e.handles())).collect();
        for (inode, e) in pool.sync(here, &wanted) {
            results.insert(inode, Err(e.into()));
        }
        for inode in entries.keys() {
            if !results.contains_key(inode) {
                let r = dump(pool, *inode, full(*inode), opts.bound_inactive, sockets);
                results.insert(*inode, r);
            }
        }
    };
    let mut owner_map = std::thread::scope(|scope| {
        // A view of some namespaces needs the owners among their processes only.
        let shown: Vec<u64> = entries.keys().copied().collect();
        let only = !opts.only.is_empty();
        let job = (!opts.skip_owners).then(|| {
            scope.spawn(move || {
                if only {
                    owners::scan_in_any(&shown, threads)
                } else {
                    owners::scan(threads)
                }
            })
        });
        sync_and_dump(pool.as_deref_mut(), &entries, &mut results, &mut sockets);
        job.map(std::thread::ScopedJoinHandle::join)
    });
    // Namespaces that only an open fd keeps alive show up in the owner scan.
    if let Some(Ok(Ok(map))) = owner_map.as_mut() {
        let mut grew = false;
        for (inode, path) in std::mem::take(&mut map.netns_fds) {
            if opts.only.is_empty() || opts.only.contains(&inode) {
                let e = entries.entry(inode).or_default();
                e.inode = inode;
                if !e.fds.contains(&path) {
                    e.fds.push(path);
                    grew = true;
                }
            }
        }
        if grew {
            sync_and_dump(pool, &entries, &mut results, &mut sockets);
        }
    }
    drop(guard);

    let roots = RuntimeRoots::from_env();
    let host = super::netns::host_inode();
    let mut namespaces = Vec::new();
    for (inode, entry) in &entries {
        let r = results.remove(inode).unwrap_or(Err(ReadError::NotRead));
        let (count, error) = match r {
            Ok(range) => {
                if *inode == focus {
                    // Within one namespace only: a listener elsewhere says nothing about it.
                    refine_autobound(&mut sockets[range.clone()], &sysctls);
                }
                (range.len(), None)
            }
            // The summary is the snapshot document: the reason travels as text.
            Err(e) => (0, Some(e.to_string())),
        };
        namespaces.push(NetnsSummary {
            inode: *inode,
            label: label(entry, *inode == own, host, &roots),
            mounts: entry
                .mounts
                .iter()
                .map(|m| crate::workload::clean(&m.to_string_lossy()))
                .collect(),
            pid: entry.pids.first().copied(),
            own: *inode == own,
            full: *inode == focus && !opts.listening_only,
            sockets: count,
            error,
        });
    }
    warnings.extend(unread_warnings(&namespaces));
    let mut stats = Stats {
        is_root: super::is_root(),
        // The focus is read in every state, bound-but-not-listening included where the
        // kernel reports it (6.8+): a diagnosis of the focus sees such holders.
        bound_inactive_visible: !opts.listening_only
            && super::accept_queue::kernel_reports_bound_inactive(),
        ..Stats::default()
    };
    super::attach_owners(&mut sockets, owner_map, &mut stats, &mut warnings);
    finish_table(&mut sockets, &mut stats, &mut warnings, opts.skip_owners);
    stats.duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    Ok(Snapshot {
        version: JSON_VERSION,
        taken_at,
        source: Source::Netlink,
        netns: NetnsInfo {
            target: "all".into(),
            inode: focus,
            is_own: focus == own,
        },
        sysctl: sysctls,
        stats,
        warnings,
        node_port_range: container::kube::node_port_range(&sockets),
        sockets,
        namespaces,
    })
}

/// One sentence per cause for the namespaces whose sockets could not be read, with what fixes
/// it: 1,500 namespaces lost to EMFILE are one warning, not 1,500, and never silence.
pub fn unread_warnings(namespaces: &[NetnsSummary]) -> Vec<String> {
    let mut by_cause: BTreeMap<String, Vec<&NetnsSummary>> = BTreeMap::new();
    for n in namespaces {
        if let Some(e) = &n.error {
            // The cause is the last part of the error; the part before names the handle.
            let cause = e.rsplit(": ").next().unwrap_or(e).to_string();
            by_cause.entry(cause).or_default().push(n);
        }
    }
    by_cause
        .into_iter()
        .map(|(cause, ns)| {
            let shown: Vec<String> = ns.iter().take(3).map(|n| n.label.clone()).collect();
            let more = ns.len().saturating_sub(shown.len());
            // Errors come from std (with "(os error N)") and nix (with "EMFILE: ..."): the
            // kernel's own words are in both.
            let fix = if cause.contains("Too many open files") {
                ": raise the open-files limit (ulimit -n to the hard limit, LimitNOFILE= in a \
                 unit) and run again"
            } else if cause.contains("Operation not permitted")
                || cause.contains("Permission denied")
            {
                ": run as root to read them"
            } else {
                ""
            };
            format!(
                "{} network namespace{} could not be read ({cause}): {}{}; a holder there is not \
                 shown{fix}",
                ns.len(),
                if ns.len() == 1 { "" } else { "s" },
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::unread_warnings;
    use crate::model::NetnsSummary;

    fn unread(inode: u64, error: &str) -> NetnsSummary {
        NetnsSummary {
            inode,
            label: format!("pid {inode} (pause)"),
            mounts: Vec::new(),
            pid: Some(u32::try_from(inode).unwrap()),
            own: false,
            full: false,
            sockets: 0,
            error: Some(error.to_string()),
        }
    }

    /// One sentence per cause, naming a few namespaces and the fix.
    #[test]
    fn unread_namespaces_are_named_with_the_fix() {
        let mut ns: Vec<NetnsSummary> = (1..=5)
            .map(|i| unread(i, "/proc/1/ns/net: Too many open files (os error 24)"))
            .collect();
        ns.push(unread(
            9,
            "entering /proc/9/ns/net: EPERM: Operation not permitted",
        ));
        let w = unread_warnings(&ns);
        assert_eq!(w.len(), 2, "{w:?}");
        // By cause, in its order.
        assert!(
            w[1].starts_with("5 network namespaces could not be read (Too many open files")
                && w[1].contains("pid 1 (pause), pid 2 (pause), pid 3 (pause) and 2 more")
                && w[1].ends_with("raise the open-files limit (ulimit -n to the hard limit, LimitNOFILE= in a unit) and run again"),
            "{w:?}"
        );
        assert!(
            w[0].starts_with("1 network namespace could not be read (Operation not permitted)")
                && w[0].ends_with(": run as root to read them"),
            "{w:?}"
        );
    }
}
