//! Incremental owner scans: a refresh reads the fd tables of only the processes that can hold
//! sockets the last scan did not see.
//!
//! A full scan readlinks every fd of every process: at 100k sockets that is most of a refresh.
//! Between refreshes, most processes' fd tables did not change. Each process seen is kept with an
//! open fd of its /proc/PID/fd directory:
//! * `fstat` on it reports the number of open fds (Linux 6.2+); while that number is unchanged,
//!   the inodes read last time are reused;
//! * on a process that has exited it fails (ENOENT): the directory belongs to that process, not
//!   to its pid, so a recycled pid can never inherit another process's sockets.
//!
//! What a count cannot see (a socket closed and another opened between two refreshes, an fd
//! passed while both counts stay level) shows up as a socket nobody owns: the caller then asks
//! for a full scan ([`OwnerCache::needs_full`]), and one runs periodically anyway: every 30 s,
//! or where a full scan is dear (half a CPU-second at 100k sockets) as often as keeps it under
//! 1% of a core.

use super::owners::{self, OwnerMap};
use crate::model::Owner;
use rustc_hash::{FxHashMap, FxHashSet};
use rustix::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Entry {
    dir: OwnedFd,
    count: i64,
    owner: Option<Arc<Owner>>,
    inodes: Vec<u64>,
}

/// What the last scan did (for benchmarks and the equality test).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanKind {
    pub full: bool,
    /// Processes whose fd table was read this time.
    pub read: usize,
    /// Processes whose sockets were reused unread.
    pub reused: usize,
}

pub struct OwnerCache {
    procs: FxHashMap<u32, Entry>,
    last_full: Option<Instant>,
    /// What the last full scan cost (CPU).
    last_full_cost: Duration,
    /// A full scan at least this often, so nothing can drift for long...
    pub full_every: Duration,
    /// ...unless that would take more than this share of one core: on a host where a full scan
    /// costs half a CPU-second (100k sockets) it then runs every 50 s instead of every 30.
    pub full_share: f64,
    /// Inodes that even a full scan left ownerless (hidden processes, sockets of processes
    /// outside our PID namespace): not a reason for another full scan.
    unresolvable: FxHashSet<u64>,
    pub last: ScanKind,
    /// Kernels before 6.2 report 0 as the size of /proc/PID/fd: then every scan is full.
    counts_work: Option<bool>,
    /// Autobound marks of the sockets seen so far, so that a refresh asks the kernel only about
    /// new ones (see `netlink::autobound`). Kept here because this is what a refresh carries.
    pub autobound: super::netlink::AutoboundMemo,
    /// The sock_diag socket of the namespace last read, with that namespace's inode, reused by
    /// the next refresh. One opened per refresh was a socket of portscope's own that changed
    /// on every tick: the scan saw its holder change each time, and every reader of the cache
    /// rebuilt and rejoined 100k sockets for it.
    pub sock_diag: Option<(u64, super::netlink::Dumper)>,
    /// Moves whenever a scan changed what is known of some process (read anew, or gone): a
    /// table joined at one generation has the owners of every later one until this moves.
    generation: u64,
    /// The socket inodes whose holders changed, with the generation of the change: complete
    /// for every generation after `log_base` (a full scan or an overlong log starts it anew).
    log: Vec<(u64, u64)>,
    log_base: u64,
    /// The map last built, and the generation it was built at: a tick that changed nothing
    /// gets it again instead of sorting 100k inodes anew.
    built: Option<(u64, OwnerMap)>,
}

/// Past this many logged changes the log starts again (its readers rejoin everything).
const LOG_MAX: usize = 1 << 18;

impl Default for OwnerCache {
    fn default() -> Self {
        OwnerCache {
            procs: FxHashMap::default(),
            last_full: None,
            last_full_cost: Duration::ZERO,
            full_every: Duration::from_secs(30),
            full_share: 0.01,
            unresolvable: FxHashSet::default(),
            last: ScanKind::default(),
            counts_work: None,
            autobound: super::netlink::AutoboundMemo::kept(),
            sock_diag: None,
            generation: 0,
            log: Vec::new(),
            log_base: 0,
            built: None,
        }
    }
}

enum Read {
    Ok(Entry),
    Hidden,
    Vanished,
}

fn open_fd_dir(pid: u32) -> Result<OwnedFd, rustix::io::Errno> {
    rustix::fs::open(
        format!("/proc/{pid}/fd"),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
}

/// The socket inodes among the fds listed in `dir`, and how many fds there were.
fn read_sockets(dir: &OwnedFd) -> Option<(Vec<u64>, usize)> {
    let mut listing = rustix::fs::Dir::read_from(dir).ok()?;
    let mut inodes = Vec::new();
    let mut fds = 0;
    while let Some(entry) = listing.read() {
        let Ok(entry) = entry else { return None };
        let name = entry.file_name();
        if !name.to_bytes().first().is_some_and(u8::is_ascii_digit) {
            continue;
        }
        fds += 1;
        let Ok(target) = rustix::fs::readlinkat(dir, name, Vec::new()) else {
            continue; // closed since the listing
        };
        let b = std::ffi::OsStr::from_bytes(target.as_bytes()).as_bytes();
        if let Some(rest) = b.strip_prefix(b"socket:[")
            && let Some(num) = rest.strip_suffix(b"]")
            && let Some(inode) = std::str::from_utf8(num).ok().and_then(|s| s.parse().ok())
        {
            inodes.push(inode);
        }
    }
    Some((inodes, fds))
}

fn read_process(pid: u32) -> Read {
    let dir = match open_fd_dir(pid) {
        Ok(d) => d,
        Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => return Read::Hidden,
        Err(_) => return Read::Vanished,
    };
    // The count first: an fd opened after it makes the next refresh read this process again.
    let Ok(st) = rustix::fs::fstat(&dir) else {
        return Read::Vanished;
    };
    let Some((inodes, _)) = read_sockets(&dir) else {
        return Read::Vanished;
    };
    let owner = if inodes.is_empty() {
        None
    } else {
        match owners::process_info(pid, &crate::collect::container::RuntimeRoots::from_env()) {
            Some(o) => Some(Arc::new(o)),
            None => return Read::Vanished,
        }
    };
    Read::Ok(Entry {
        dir,
        count: st.st_size,
        owner,
        inodes,
    })
}

impl OwnerCache {
    /// Whether a socket table joined with the last scan calls for a full scan: some socket with
    /// an inode found no owner that a full scan could have found.
    pub fn needs_full<'a>(&self, unowned: impl IntoIterator<Item = &'a u64>) -> bool {
        !self.last.full && unowned.into_iter().any(|i| !self.unresolvable.contains(i))
    }

    /// After a full scan was joined: these inodes stay ownerless whatever we scan.
    pub fn set_unresolvable(&mut self, unowned: impl IntoIterator<Item = u64>) {
        self.unresolvable = unowned.into_iter().collect();
    }

    /// The owner map, read incrementally unless a full scan is due (first call, periodic, or
    /// fd counts not available on this kernel).
    pub fn scan(&mut self, threads: usize) -> std::io::Result<OwnerMap> {
        let every =
            super::cpu::budgeted_every(self.full_every, self.last_full_cost, self.full_share);
        let due =
            self.last_full.is_none_or(|t| t.elapsed() >= every) || self.counts_work == Some(false);
        if due {
            self.full(threads)
        } else {
            self.incremental(threads)
        }
    }

    /// Makes the next [`OwnerCache::scan`] a full one, and stops the periodic ones: for a caller
    /// that schedules its own (the kept table's verifications, which compare owners anyway).
    pub fn full_on_demand(&mut self) {
        self.last_full = None;
        self.full_every = Duration::MAX;
    }

    /// Reads every process again.
    pub fn full(&mut self, threads: usize) -> std::io::Result<OwnerMap> {
        let cpu0 = super::cpu::process_time();
        self.procs.clear();
        self.built = None;
        let map = self.read_pids(&owners::list_pids()?, threads, true);
        // Everything was read again: readers of the log rejoin everything.
        self.generation += 1;
        self.log.clear();
        self.log_base = self.generation;
        self.last_full = Some(Instant::now());
        self.last_full_cost = super::cpu::process_time().saturating_sub(cpu0);
        if self.counts_work.is_none() {
            // A process with open fds and a size of 0 means the kernel does not count (< 6.2).
            self.counts_work = Some(self.procs.values().any(|e| e.count > 0));
        }
        Ok(map)
    }

    /// Reads only new processes and those whose fd count changed; reuses the rest.
    pub fn incremental(&mut self, threads: usize) -> std::io::Result<OwnerMap> {
        let pids = owners::list_pids()?;
        let listed: FxHashSet<u32> = pids.iter().copied().collect();
        let mut gone: Vec<u64> = Vec::new();
        self.procs.retain(|pid, e| {
            let keep = listed.contains(pid);
            if !keep {
                gone.extend(&e.inodes);
            }
            keep
        });
        self.changed(gone);
        let mut stale = Vec::new();
        let mut reused = 0;
        for &pid in &pids {
            match self.procs.get(&pid) {
                Some(e) => match rustix::fs::fstat(&e.dir) {
                    Ok(st) if st.st_size == e.count => reused += 1,
                    // Changed, or exited (and perhaps the pid reused): read it afresh.
                    _ => stale.push(pid),
                },
                None => stale.push(pid),
            }
        }
        // Read again in place: `store` logs only what changed, `read_pids` drops the gone.
        let mut map = self.read_pids(&stale, threads, false);
        map.scanned += reused;
        self.last.reused = reused;
        Ok(map)
    }

    /// Finds the holders of `inodes` without a full scan's cost where it can: processes are read
    /// smallest fd table first (new ones before all), and reading stops once every inode has a
    /// holder. For a watch, which wants *a* holder of a few new sockets before a short-lived
    /// process is gone; a snapshot, which wants *every* holder, uses [`OwnerCache::full`].
    pub fn find(&mut self, inodes: &[u64]) -> std::io::Result<OwnerMap> {
        let mut want: FxHashSet<u64> = inodes.iter().copied().collect();
        let mut order: Vec<(i64, u32)> = owners::list_pids()?
            .into_iter()
            .map(|p| (self.procs.get(&p).map_or(-1, |e| e.count), p))
            .collect();
        order.sort_unstable();
        for (_, pid) in order {
            if want.is_empty() {
                break;
            }
            if let Read::Ok(e) = read_process(pid) {
                for i in &e.inodes {
                    want.remove(i);
                }
                self.store(pid, e);
            }
        }
        let mut map = self.map();
        map.scanned = self.procs.len();
        Ok(map)
    }

    /// Reads `pids` again whatever their fd counts say (a socket closed and another opened
    /// leaves the count level), and builds the map over every kept process.
    pub fn reread(&mut self, pids: &[u32], threads: usize) -> OwnerMap {
        self.read_pids(pids, threads, false)
    }

    /// See the field: compare two to know whether owners may have changed in between.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The socket inodes whose holders may have changed after generation `since`; None when
    /// that is no longer known (a full scan since: everything may have).
    pub fn changed_since(&self, since: u64) -> Option<FxHashSet<u64>> {
        (since >= self.log_base).then(|| {
            let from = self.log.partition_point(|&(g, _)| g <= since);
            self.log[from..].iter().map(|&(_, i)| i).collect()
        })
    }

    /// A change to the holders of `inodes`: a new generation, logged.
    fn changed(&mut self, inodes: Vec<u64>) {
        if inodes.is_empty() {
            return;
        }
        self.generation += 1;
        if self.log.len() + inodes.len() > LOG_MAX {
            self.log.clear();
            self.log_base = self.generation;
            return;
        }
        let g = self.generation;
        self.log.extend(inodes.into_iter().map(|i| (g, i)));
    }

    /// Drops what is known of `pids` (to read them afresh).
    fn forget(&mut self, pids: &[u32]) {
        let mut gone = Vec::new();
        for pid in pids {
            if let Some(e) = self.procs.remove(pid) {
                gone.extend(e.inodes);
            }
        }
        self.changed(gone);
    }

    /// Keeps what was read of `pid`; the holders changed of the sockets it took or dropped (of
    /// all it holds, if it is another process or was renamed). A process whose fd count moved
    /// for a file (a daemon writing its log) changed no socket's holders: logging its sockets
    /// anyway made every reader rejoin its whole table, tick after tick.
    fn store(&mut self, pid: u32, e: Entry) {
        let touched = match self.procs.get(&pid) {
            Some(old) if old.owner == e.owner => {
                let was: FxHashSet<u64> = old.inodes.iter().copied().collect();
                let now: FxHashSet<u64> = e.inodes.iter().copied().collect();
                was.symmetric_difference(&now).copied().collect()
            }
            Some(old) => old.inodes.iter().chain(&e.inodes).copied().collect(),
            None => e.inodes.clone(),
        };
        self.procs.insert(pid, e);
        self.changed(touched);
    }

    /// The holders of each of `inodes` (of every socket when None) as of the last scan, without
    /// scanning: a few changed sockets are joined without building the whole map.
    pub fn holders(&self, inodes: Option<&FxHashSet<u64>>) -> FxHashMap<u64, Vec<Arc<Owner>>> {
        let mut out: FxHashMap<u64, Vec<Arc<Owner>>> = FxHashMap::default();
        for e in self.procs.values() {
            let Some(o) = &e.owner else { continue };
            for i in &e.inodes {
                if inodes.is_none_or(|want| want.contains(i)) {
                    out.entry(*i).or_default().push(Arc::clone(o));
                }
            }
        }
        out
    }

    /// The owners of every socket as of the last scan, without scanning (the map built last
    /// time, while nothing changed since).
    pub fn map(&mut self) -> OwnerMap {
        if let Some((g, m)) = &self.built
            && *g == self.generation
        {
            return m.clone();
        }
        let map = OwnerMap::from_entries(self.procs.values().filter_map(|e| {
            e.owner
                .as_ref()
                .map(|o| (Arc::clone(o), e.inodes.as_slice()))
        }));
        self.built = Some((self.generation, map.clone()));
        map
    }

    /// Reads `pids` (in parallel), stores them, and builds the map over every kept process.
    fn read_pids(&mut self, pids: &[u32], threads: usize, full: bool) -> OwnerMap {
        let threads = threads.clamp(1, 16);
        let chunk = pids.len().div_ceil(threads).max(1);
        let parts: Vec<Vec<(u32, Read)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = pids
                .chunks(chunk)
                .map(|pids| {
                    scope.spawn(move || pids.iter().map(|&p| (p, read_process(p))).collect())
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        let (mut hidden, mut vanished, mut read) = (0, 0, 0);
        for (pid, r) in parts.into_iter().flatten() {
            read += 1;
            match r {
                // A full scan starts the log anew: nothing to note per process.
                Read::Ok(e) if full => {
                    self.procs.insert(pid, e);
                }
                Read::Ok(e) => self.store(pid, e),
                Read::Hidden => {
                    hidden += 1;
                    self.forget(&[pid]);
                }
                Read::Vanished => {
                    vanished += 1;
                    self.forget(&[pid]);
                }
            }
        }
        self.last = ScanKind {
            full,
            read,
            reused: 0,
        };
        let mut map = self.map();
        map.scanned = read;
        map.hidden = hidden;
        map.vanished = vanished;
        map.fds = self
            .procs
            .values()
            .map(|e| usize::try_from(e.count).unwrap_or(0))
            .sum();
        map
    }
}
