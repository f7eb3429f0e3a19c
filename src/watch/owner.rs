//! Owners for watch events: from a pid (exact, when the event ran in the process's context) or
//! from a /proc/*/fd scan by socket inode (what a poll has to do).

use crate::collect::owners;
use crate::model::{Owner, Socket};
use std::sync::Arc;

/// The process `pid` as it is now, or None once it has exited. Read at the moment of the event,
/// so even a process that lives a few milliseconds is usually still there.
pub fn of_pid(pid: u32) -> Option<Owner> {
    if pid == 0 {
        return None;
    }
    owners::process_info(pid, &crate::collect::container::RuntimeRoots::from_env())
}

/// Fills `owners` of every socket that has an inode but no owner yet, with one scan of /proc
/// (incremental through `cache`: only processes whose fd tables changed are read, so a poll
/// that sees a new socket finds its owner while a short-lived process may still be there).
/// Returns whether a scan ran.
pub fn attach_with(
    sockets: &mut [Socket],
    cache: &mut crate::collect::owner_cache::OwnerCache,
) -> bool {
    if !sockets.iter().any(|s| s.inode != 0 && s.owners.is_empty()) {
        return false;
    }
    let threads = crate::collect::cpu::threads();
    let Ok(map) = cache.scan(threads) else {
        return false;
    };
    let fill = |sockets: &mut [Socket], map: &owners::OwnerMap| {
        for s in sockets
            .iter_mut()
            .filter(|s| s.inode != 0 && s.owners.is_empty())
        {
            let list: Vec<Arc<Owner>> = map
                .owner_indices(s.inode)
                .map(|i| Arc::clone(&map.procs[i as usize]))
                .collect();
            s.owners = Arc::from(list);
        }
    };
    fill(sockets, &map);
    // Still unowned after an incremental pass (a process closed one socket and opened another,
    // keeping its fd count): look for just these, small processes first, before they are gone.
    let missing: Vec<u64> = sockets
        .iter()
        .filter(|s| s.inode != 0 && s.owners.is_empty())
        .map(|s| s.inode)
        .collect();
    if !missing.is_empty()
        && let Ok(found) = cache.find(&missing)
    {
        fill(sockets, &found);
    }
    true
}

/// As [`attach_with`], with a full scan every time.
pub fn attach(sockets: &mut [Socket]) -> bool {
    if !sockets.iter().any(|s| s.inode != 0 && s.owners.is_empty()) {
        return false;
    }
    let threads = crate::collect::cpu::threads();
    let Ok(map) = owners::scan(threads) else {
        return false;
    };
    for s in sockets
        .iter_mut()
        .filter(|s| s.inode != 0 && s.owners.is_empty())
    {
        let list: Vec<Arc<Owner>> = map
            .owner_indices(s.inode)
            .map(|i| Arc::clone(&map.procs[i as usize]))
            .collect();
        s.owners = Arc::from(list);
    }
    true
}

/// The network namespace inode of process `pid`, if it is still there.
pub fn netns_of(pid: u32) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|m| m.ino())
}
