//! Who holds a port's processes are: the holders' context, read from /proc for the person
//! deciding about them (who, started when, supervised by what, how close to trouble).

use crate::analyze::why::Diagnosis;
use crate::collect::process_context::{Clock, read_all};
use crate::model::Snapshot;
use crate::model::process_context::ProcessContext;
use std::collections::HashMap;
use std::sync::Arc;

/// Processes read per diagnosis: holders beyond these many distinct processes get no context
/// (their sockets are listed all the same); the I/O stays bounded on a host where thousands of
/// processes hold connections to the port.
pub const MAX_READ: usize = 32;

/// Reads the context of each holder's process (its first owner) and attaches it to every holder
/// of that process.
pub fn attach(d: &mut Diagnosis, snap: &Snapshot) {
    let mut distinct = Vec::new();
    for o in d.holders.iter().filter_map(|h| h.socket.owners.first()) {
        if distinct.len() >= MAX_READ {
            break;
        }
        if !distinct
            .iter()
            .any(|x: &&Arc<crate::model::Owner>| x.pid == o.pid && x.start_time == o.start_time)
        {
            distinct.push(o);
        }
    }
    let found: HashMap<(u32, u64), Arc<ProcessContext>> = read_all(
        distinct.iter().map(AsRef::as_ref),
        snap,
        None,
        &Clock::system(),
    )
    .into_iter()
    .map(|c| ((c.pid, c.start.ticks), Arc::new(c)))
    .collect();
    for h in &mut d.holders {
        h.process = h
            .socket
            .owners
            .first()
            .and_then(|o| found.get(&(o.pid, o.start_time)).cloned());
    }
    // A group member's age comes from the same read, so "started 3 h ago" matches the
    // Processes section.
    for g in &mut d.reuseport_groups {
        for m in &mut g.members {
            m.age_secs = found
                .get(&(m.pid.unwrap_or(0), m.start_time.unwrap_or(0)))
                .and_then(|c| c.start.age_secs);
        }
    }
}

/// Says when a listener was probably inherited from a process that exited (a `sleep` a script
/// left holding the port): only listeners held by one process are read, and of those only the
/// orphans that do not lead a session get their fds scanned, so this is cheap enough for
/// every TUI refresh.
pub fn inheritance(d: &mut Diagnosis) {
    let found: Vec<_> = d
        .holders
        .iter()
        .filter(|h| h.role == crate::analyze::why::Role::Listener)
        .filter_map(|h| match &*h.socket.owners {
            [o] => crate::collect::held_fd::read(o, h.socket.inode),
            _ => None,
        })
        .collect();
    crate::analyze::why::inherit::annotate(d, &found);
}

/// The run state (`R`, `S`, `T`, `D`, ...) of each TCP listener holder's first owner, read
/// from /proc/PID/stat; a process that exited or whose pid was reused is left out.
pub fn listener_states(d: &Diagnosis) -> Vec<(u32, char)> {
    let mut out: Vec<(u32, char)> = Vec::new();
    for h in d.holders.iter().filter(|h| h.socket.is_listening()) {
        let Some(o) = h.socket.owners.first() else {
            continue;
        };
        if out.iter().any(|(p, _)| *p == o.pid) || out.len() >= MAX_READ {
            continue;
        }
        let stat = i32::try_from(o.pid)
            .ok()
            .and_then(|pid| procfs::process::Process::new(pid).ok())
            .and_then(|p| p.stat().ok());
        if let Some(st) = stat.filter(|st| st.starttime == o.start_time) {
            out.push((o.pid, st.state));
        }
    }
    out
}
