//! Collection: the only part of portscope that reads the kernel's socket tables and /proc.
//! Everything downstream works on the immutable [`Snapshot`] it returns.

pub mod accept_queue;
pub mod addresses;
pub mod allns;
pub mod conntrack;
pub mod container;
pub mod cpu;
pub mod held_fd;
pub mod listen_sample;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod owner_cache;
pub mod owners;
pub mod partial;
pub mod probe;
pub mod process_context;
pub mod procnet;
pub mod socket_growth;
pub mod socket_range;
pub mod sysctl;
pub mod users;

use crate::model::{JSON_VERSION, NetnsInfo, Snapshot, Source, Stats};
pub use netns::{NetnsError, NetnsTarget};
use std::sync::Arc;
use std::time::Instant;

/// Which socket table to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourcePref {
    /// Netlink, falling back to /proc/net when it is unavailable.
    #[default]
    Auto,
    Netlink,
    Procfs,
}

/// Which sockets a collection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coverage {
    /// Every socket.
    #[default]
    All,
    /// What holds a port for others to see: TCP listeners, TCP sockets bound but not listening
    /// (with `bound_inactive`), and every UDP socket. The kernel answers a LISTEN-only TCP dump
    /// without walking its connection table, so at 100k connections this costs microseconds;
    /// the bound-inactive states make it walk the bind table (a per-port walk that grows with
    /// autobound connections).
    Listening { bound_inactive: bool },
}

impl Coverage {
    /// Whether a socket of a full table is one this coverage reads.
    pub fn covers(self, s: &crate::model::Socket) -> bool {
        use crate::model::{Proto, State};
        match self {
            Coverage::All => true,
            Coverage::Listening { bound_inactive } => {
                s.proto == Proto::Udp
                    || s.state == State::Listen
                    || (bound_inactive && s.state == State::BoundInactive)
            }
        }
    }

    fn tcp_states(self) -> u32 {
        match self {
            Coverage::All => netlink::ALL_STATES,
            Coverage::Listening {
                bound_inactive: false,
            } => netlink::LISTEN_STATES,
            Coverage::Listening {
                bound_inactive: true,
            } => netlink::LISTEN_STATES | netlink::BOUND_INACTIVE,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CollectOptions {
    pub netns: NetnsTarget,
    pub source: SourcePref,
    /// Skip the /proc/*/fd scan (sockets only, no owners).
    pub skip_owners: bool,
    /// Every socket (the default), or only the listening kind (the TUI's cheap refresh).
    pub coverage: Coverage,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error(transparent)]
    Read(#[from] TableError),
}

/// Why the socket table could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("reading {dir}: {source}")]
    Procfs { dir: String, source: std::io::Error },
    #[error("netlink sock_diag: {0}")]
    Netlink(nix::Error),
    #[error("netlink sock_diag: {netlink}; /proc/net: {procfs}")]
    Neither {
        netlink: nix::Error,
        procfs: std::io::Error,
    },
}

pub(crate) use crate::paths::is_root;

/// The kernel's INET_DIAG_BC_AUTO test only says "no port was bound explicitly", which is also
/// true of connections accepted from a listener. Like `ss ... autobound` (whose userspace filter
/// adds `is_ephemeral()`), keep the mark only for ports inside the ephemeral range, and drop it
/// where a listener holds the same port: the kernel never auto-assigns a port that has a bound
/// socket, so such a socket must be an accepted child.
pub(crate) fn refine_autobound(
    sockets: &mut [crate::model::Socket],
    sysctls: &crate::model::Sysctls,
) {
    let listening: rustc_hash::FxHashSet<(crate::model::Proto, u16)> = sockets
        .iter()
        .filter(|s| s.state == crate::model::State::Listen)
        .map(|s| (s.proto, s.local_port))
        .collect();
    for s in sockets.iter_mut().filter(|s| s.autobound) {
        s.autobound =
            sysctls.in_ephemeral(s.local_port) && !listening.contains(&(s.proto, s.local_port));
    }
}

type Tables = (
    u64,
    crate::model::Sysctls,
    Vec<String>,
    Result<(Vec<crate::model::Socket>, Source), TableError>,
);

/// Without the right to enter PID's namespace, its socket tables are still readable under
/// /proc/PID/net; its sysctls are not. Say both.
fn unprivileged_tables(pid: u32, why: &str) -> Tables {
    let dir = format!("/proc/{pid}/net");
    let sysctls = crate::model::Sysctls {
        unread: vec![
            "ip_local_port_range".into(),
            "ip_local_reserved_ports".into(),
            "ip_unprivileged_port_start".into(),
        ],
        ..Default::default()
    };
    let warnings = vec![format!(
        "{why}; read its sockets from {dir} instead (autobound and v6only unknown); its sysctls are unknown (kernel defaults shown)"
    )];
    let sockets = procnet::all_sockets_in(&dir)
        .map(|s| (s, Source::Procfs))
        .map_err(|source| TableError::Procfs { dir, source });
    (0, sysctls, warnings, sockets)
}

/// Joins the owner scan's result to the sockets, counting what could not be seen.
pub(crate) fn attach_owners(
    sockets: &mut [crate::model::Socket],
    owners: Option<std::thread::Result<std::io::Result<owners::OwnerMap>>>,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) {
    // Only a scan that ran can say an owner is hidden; without one, owners are simply unknown.
    let scanned = resolve_owners(sockets, owners, None, 1, stats, warnings);
    for s in sockets.iter_mut() {
        s.owner_hidden = scanned && !s.kernel_held && s.owners.is_empty();
    }
    if scanned {
        attribute_published(sockets);
    }
}

/// Names the container behind each listener a runtime component (docker-proxy, dockerd, conmon,
/// rootlesskit) holds for it.
pub(crate) fn attribute_published(sockets: &mut [crate::model::Socket]) {
    let mut st: Option<container::StateGuard> = None;
    // Owner lists are shared (one per distinct set of holders, see `join_owners`): ask once per
    // list, not once per socket (10k UDP sockets of one process, every tick).
    let mut publishes: rustc_hash::FxHashMap<*const [Arc<crate::model::Owner>], bool> =
        rustc_hash::FxHashMap::default();
    for s in sockets.iter_mut() {
        if !s.is_listening()
            || !*publishes.entry(Arc::as_ptr(&s.owners)).or_insert_with(|| {
                s.owners
                    .iter()
                    .any(|o| container::published::publisher_of(o).is_some())
            })
        {
            continue;
        }
        let st = st.get_or_insert_with(|| container::state(&container::RuntimeRoots::from_env()));
        s.published = container::published::attribute(s, st).map(Arc::new);
    }
}

/// Counts, warnings and the table's order, shared by every kind of snapshot.
pub(crate) fn finish_table(
    sockets: &mut Vec<crate::model::Socket>,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
    skip_owners: bool,
) {
    sockets.shrink_to_fit();
    stats.sockets = sockets.len();
    stats.kernel_held = sockets.iter().filter(|s| s.kernel_held).count();
    stats.owner_hidden = sockets.iter().filter(|s| s.owner_hidden).count();
    stats.owned = stats.sockets - stats.kernel_held - stats.owner_hidden;
    if skip_owners {
        warnings.push("owners not collected".into());
    } else if stats.processes_hidden > 0 && stats.owner_hidden > 0 {
        warnings.push(format!(
            "{} processes hidden: {} {} an owner portscope cannot see; run as root (sudo portscope) to see {}",
            stats.processes_hidden,
            stats.owner_hidden,
            if stats.owner_hidden == 1 { "socket has" } else { "sockets have" },
            if stats.owner_hidden == 1 { "it" } else { "them" },
        ));
    } else if stats.owner_hidden > 0 {
        warnings.push(format!(
            "{} {} not found (outside this PID namespace, or exited mid-scan)",
            stats.owner_hidden,
            if stats.owner_hidden == 1 {
                "socket's owner"
            } else {
                "sockets' owners"
            }
        ));
    }
    // In place: a stable sort would allocate a scratch copy of the whole table. The key is total
    // (the inode, or for kernel-held sockets the 4-tuple, is unique), so the order is stable anyway.
    sockets.sort_unstable_by(table_order);
}

/// The order of every socket table.
pub(crate) fn table_order(
    a: &crate::model::Socket,
    b: &crate::model::Socket,
) -> std::cmp::Ordering {
    a.table_order().cmp(&b.table_order())
}

/// Runs `dump` on the sock_diag socket in `slot` when it belongs to namespace `keep_in`, else on
/// a new one, kept in `slot` for the next refresh when `keep_in` names the namespace (0: its
/// inode is unknown, so no socket is reused). A failed dump may leave its answer half-read
/// in the socket: that socket is dropped.
fn dump_with<T>(
    slot: &mut Option<(u64, netlink::Dumper)>,
    keep_in: Option<u64>,
    dump: impl FnOnce(&mut netlink::Dumper) -> nix::Result<T>,
) -> nix::Result<T> {
    let keep_in = keep_in.filter(|&ns| ns != 0);
    let mut d = match slot.take() {
        Some((ns, d)) if Some(ns) == keep_in => d,
        _ => netlink::Dumper::open()?,
    };
    let out = dump(&mut d)?;
    *slot = keep_in.map(|ns| (ns, d));
    Ok(out)
}

/// Takes one snapshot: sockets (netlink, or /proc/net as fallback), owners, and sysctls.
pub fn collect(opts: &CollectOptions) -> Result<Snapshot, CollectError> {
    collect_with(opts, None)
}

/// Gives every socket its owners from `map` (shared lists: one allocation per distinct set).
pub(crate) fn join_owners(sockets: &mut [crate::model::Socket], map: &owners::OwnerMap) {
    let empty = crate::model::no_owners();
    let mut interned: rustc_hash::FxHashMap<Vec<u32>, crate::model::Owners> =
        rustc_hash::FxHashMap::default();
    let mut key = Vec::new();
    for s in sockets.iter_mut() {
        key.clear();
        if s.inode != 0 {
            key.extend(map.owner_indices(s.inode));
        }
        s.owners = if key.is_empty() {
            Arc::clone(&empty)
        } else if let Some(list) = interned.get(&key) {
            Arc::clone(list)
        } else {
            let list: crate::model::Owners = key
                .iter()
                .map(|&i| Arc::clone(&map.procs[i as usize]))
                .collect();
            interned.insert(key.clone(), Arc::clone(&list));
            list
        };
    }
}

/// Like [`collect`], with owners read through `cache` when given: a steady-state refresh reads
/// only the fd tables that changed, and falls back to a full scan when a socket stays unowned.
/// The result equals a full snapshot's (tests/suite/incremental_kernel.rs checks it under churn).
pub fn collect_with(
    opts: &CollectOptions,
    mut cache: Option<&mut owner_cache::OwnerCache>,
) -> Result<Snapshot, CollectError> {
    let started = Instant::now();
    let taken_at = jiff::Timestamp::now();
    let threads = crate::collect::cpu::threads();

    // Lent to the dump while the owner scan has the cache; put back below.
    let mut memo = cache
        .as_deref_mut()
        .map(|c| std::mem::take(&mut c.autobound))
        .unwrap_or_default();
    let keep_socket = cache.is_some();
    let mut sock_diag = cache.as_deref_mut().and_then(|c| c.sock_diag.take());
    // The fd scan and the socket dump are independent: run them side by side.
    let (table, owners) = std::thread::scope(|scope| {
        // The TUI keeps an incremental owner cache; one-shot commands scan once, and only the
        // processes of the namespace looked into when it is not portscope's own.
        let focus = opts.netns.inode();
        let cache_ref = cache.as_deref_mut();
        let owner_job = (!opts.skip_owners).then(|| {
            scope.spawn(move || match (cache_ref, focus) {
                (Some(c), _) => c.scan(threads),
                (None, Some(ns)) => owners::scan_in(ns, threads),
                (None, None) => owners::scan(threads),
            })
        });
        let table = opts.netns.run_in(|| {
            let ns_inode = netns::current_inode();
            let (sysctls, mut warnings) = sysctl::read_sysctls();
            let states = opts.coverage.tcp_states();
            let sockets = match opts.source {
                SourcePref::Procfs => procnet::all_sockets()
                    .map(|s| (s, Source::Procfs))
                    .map_err(|source| TableError::Procfs {
                        dir: "/proc/net".into(),
                        source,
                    }),
                SourcePref::Netlink => {
                    dump_with(&mut sock_diag, keep_socket.then_some(ns_inode), |d| {
                        d.sockets_with(&mut memo, states)
                    })
                    .map(|s| (s, Source::Netlink))
                    .map_err(TableError::Netlink)
                }
                SourcePref::Auto => match dump_with(
                    &mut sock_diag,
                    keep_socket.then_some(ns_inode),
                    |d| d.sockets_with(&mut memo, states),
                ) {
                    Ok(s) => Ok((s, Source::Netlink)),
                    Err(e) => {
                        warnings.push(format!(
                            "netlink sock_diag unavailable ({e}); read /proc/net instead: autobound and v6only are unknown"
                        ));
                        procnet::all_sockets()
                            .map(|s| (s, Source::Procfs))
                            .map_err(|procfs| TableError::Neither { netlink: e, procfs })
                    }
                },
            };
            (ns_inode, sysctls, warnings, sockets)
        });
        let owners = owner_job.map(std::thread::ScopedJoinHandle::join);
        (table, owners)
    });
    if let Some(c) = cache.as_deref_mut() {
        c.autobound = memo;
        c.sock_diag = sock_diag;
    }
    let (ns_inode, sysctls, mut warnings, sockets) = match (table, &opts.netns) {
        (Err(NetnsError::NotPermitted(why)), NetnsTarget::Pid(pid)) => {
            unprivileged_tables(*pid, &why)
        }
        (table, _) => table?,
    };
    let (mut sockets, source) = sockets?;
    // /proc/net has no state filter: cut its table down to what was asked for.
    if source == Source::Procfs && opts.coverage != Coverage::All {
        sockets.retain(|s| opts.coverage.covers(s));
    }
    refine_autobound(&mut sockets, &sysctls);

    let mut stats = Stats {
        is_root: is_root(),
        ..Stats::default()
    };
    let scanned = resolve_owners(
        &mut sockets,
        owners,
        cache,
        threads,
        &mut stats,
        &mut warnings,
    );
    for s in &mut sockets {
        s.owner_hidden = scanned && !s.kernel_held && s.owners.is_empty();
    }
    if scanned {
        attribute_published(&mut sockets);
    }
    accept_queue::attribute(&mut sockets);
    stats.bound_inactive_visible =
        source == Source::Netlink && accept_queue::kernel_reports_bound_inactive();
    if source == Source::Netlink && !stats.bound_inactive_visible {
        warnings.push(
            "this kernel does not report TCP sockets bound but not listening (Linux 6.8+ does): one may hold a port unseen"
                .into(),
        );
    }
    finish_table(&mut sockets, &mut stats, &mut warnings, opts.skip_owners);
    stats.duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    Ok(Snapshot {
        version: JSON_VERSION,
        taken_at,
        source,
        netns: NetnsInfo {
            target: opts.netns.describe(),
            inode: ns_inode,
            is_own: ns_inode == netns::own_inode(),
        },
        sysctl: sysctls,
        stats,
        warnings,
        node_port_range: container::kube::node_port_range(&sockets),
        sockets,
        namespaces: Vec::new(),
    })
}

/// Joins the owner scan's result to the sockets; with the TUI's cache, sockets left without an
/// owner get a second incremental pass, then a full scan. Returns whether a scan ran.
fn resolve_owners(
    sockets: &mut [crate::model::Socket],
    owners: Option<std::thread::Result<std::io::Result<owners::OwnerMap>>>,
    cache: Option<&mut owner_cache::OwnerCache>,
    threads: usize,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) -> bool {
    let mut scanned = false;
    match owners {
        Some(Ok(Ok(map))) => {
            scanned = true;
            stats.processes_scanned = map.scanned;
            stats.processes_hidden = map.hidden;
            stats.processes_vanished = map.vanished;
            stats.fds_scanned = map.fds;
            join_owners(sockets, &map);
            if let Some(c) = cache {
                let unowned = |socks: &[crate::model::Socket]| -> Vec<u64> {
                    socks
                        .iter()
                        .filter(|s| s.inode != 0 && s.owners.is_empty())
                        .map(|s| s.inode)
                        .collect()
                };
                let mut missing = unowned(sockets);
                // Sockets born while the first pass ran: their processes' counts changed, so a
                // second incremental pass finds them; only what it misses needs a full scan.
                if c.needs_full(&missing)
                    && let Ok(again) = c.incremental(threads)
                {
                    join_owners(sockets, &again);
                    stats.processes_scanned += again.scanned;
                    missing = unowned(sockets);
                }
                if c.needs_full(&missing) {
                    match c.full(threads) {
                        Ok(full) => {
                            join_owners(sockets, &full);
                            stats.processes_scanned = full.scanned;
                            stats.processes_hidden = full.hidden;
                            stats.processes_vanished = full.vanished;
                            stats.fds_scanned = full.fds;
                            c.set_unresolvable(unowned(sockets));
                        }
                        Err(e) => {
                            warnings
                                .push(format!("could not list /proc: {e}; owners may be stale"));
                        }
                    }
                } else if c.last.full {
                    c.set_unresolvable(missing);
                }
            }
        }
        Some(Ok(Err(e))) => warnings.push(format!("could not list /proc: {e}; owners unknown")),
        Some(Err(_)) => warnings.push("owner scan failed; owners unknown".into()),
        None => {}
    }
    scanned
}
