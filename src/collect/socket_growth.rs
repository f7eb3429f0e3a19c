//! `why --sample`: the growth of the shown processes' socket counts, from two looks at their
//! /proc/PID/fd a set interval apart. Nothing else is read: a look at a few fd tables is cheap
//! where a second snapshot of the socket tables is not (a host with 100k connections).

use crate::model::process_context::Observations;
use std::collections::HashSet;
use std::time::Duration;

/// The sockets process `pid` holds open now (distinct sockets: a dup'd fd counts once), or
/// `None` when it has exited or its pid now belongs to another process (its start time is not
/// `start` any more).
pub fn sockets_open(pid: u32, start: u64) -> Option<usize> {
    let proc = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
    if proc.stat().ok()?.starttime != start {
        return None;
    }
    let mut inodes = HashSet::new();
    for fd in proc.fd().ok()?.flatten() {
        if let procfs::process::FDTarget::Socket(inode) = fd.target {
            inodes.insert(inode);
        }
    }
    // Read again after the walk: a pid reused while its table was read is not this process.
    if proc.stat().ok()?.starttime != start {
        return None;
    }
    Some(inodes.len())
}

/// Looks at each process (pid, start ticks) now and again `interval` later. A process seen only
/// once (exited, or its pid reused by the second look) has one sample, hence no growth:
/// [`Observations::per_min`] is the one growth formula, the TUI's too.
pub fn sample(procs: &[(u32, u64)], interval: Duration) -> Observations {
    let mut obs = Observations::new();
    if procs.is_empty() {
        return obs; // nothing to wait for
    }
    let look = |obs: &mut Observations| {
        for &(pid, start) in procs {
            if let Some(n) = sockets_open(pid, start) {
                obs.record(pid, start, jiff::Timestamp::now(), n);
            }
        }
    };
    look(&mut obs);
    std::thread::sleep(interval);
    look(&mut obs);
    obs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_start_time_is_another_process() {
        let me = std::process::id();
        let Some(start) = procfs::process::Process::myself()
            .ok()
            .and_then(|p| p.stat().ok())
            .map(|s| s.starttime)
        else {
            return; // no /proc: nothing to read
        };
        let held = std::net::UdpSocket::bind("127.0.0.1:0");
        if held.is_ok() {
            // Other tests of this binary open sockets at the same time: ours is at least one.
            assert!(sockets_open(me, start).is_some_and(|n| n >= 1));
        }
        assert_eq!(sockets_open(me, start.wrapping_add(1)), None);
        assert_eq!(
            sample(&[(me, start.wrapping_add(1))], Duration::ZERO).len(),
            0
        );
    }
}
