//! A listener its process probably did not open: inherited from a parent that exited.
//!
//! The kernel keeps no record of which process created or listened on a socket, and socket
//! inode numbers come from per-CPU batches, so they cannot be ordered against a process's
//! start either. What /proc does show, and what this judges by:
//! - the process's parent is now PID 1, a container's init or a service manager (where the
//!   kernel puts orphans);
//! - it does not lead its own session: a service manager setsid()s what it starts, so a
//!   process started directly by one would; an orphan keeps the session of whatever started
//!   the chain;
//! - the fd has no O_CLOEXEC, so it can have come across an exec (modern runtimes open their
//!   sockets with CLOEXEC; a socket meant to be kept, or a careless one, lacks it).
//!
//! Together these say "reparented, holding an fd that may have been inherited", not proof:
//! a daemon that binds and then double-forks matches too (and did inherit the socket from
//! the process that exited, only the program is the same). So the words say "probably".

use super::Diagnosis;
use super::cause::CauseKind;
use crate::model::held_fd::FdHolding;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// Whether the facts point at an inherited socket (see the module comment for what they
/// cannot tell).
pub fn inherited(h: &FdHolding) -> bool {
    h.parent.kind.adopts_orphans() && !h.session_leader && !h.cloexec
}

/// "probably inherited from a process that exited; sleep (pid 41) holds it as fd 3".
fn words(comm: &str, h: &FdHolding) -> String {
    format!(
        "probably inherited from a process that exited; {comm} (pid {}) holds it as fd {}",
        h.pid, h.fd
    )
}

/// Says so on each listener cause held by one process whose facts in `found` point at an
/// inherited socket: in the cause's summary, the explanation, and a note with the evidence.
pub fn annotate(d: &mut Diagnosis, found: &[FdHolding]) {
    let mut said = Vec::new();
    for c in d
        .causes
        .iter_mut()
        .filter(|c| c.kind == CauseKind::Listener)
    {
        let Some(s) = c.holders.iter().find_map(|&i| d.holders.get(i)) else {
            continue;
        };
        let [o] = &*s.socket.owners else {
            continue; // shared: a forked server's workers, not an orphan's leftover
        };
        let Some(h) = found
            .iter()
            .find(|h| h.inode == s.socket.inode && h.pid == o.pid && inherited(h))
        else {
            continue;
        };
        let w = words(&o.comm.to_string(), h);
        c.summary = format!("{} ({w})", c.summary);
        said.push((w, h.parent.comm.to_string(), h.parent.pid));
    }
    for (w, parent, ppid) in said {
        _ = write!(d.explanation, " The listener was {w}.");
        d.notes.push(format!(
            "{w}: its parent is now {parent} (pid {ppid}), where the kernel puts orphans, it \
             does not lead its own session (what a service manager starts does), and the fd \
             has no O_CLOEXEC, so it can have come across an exec; the kernel does not record \
             who called listen(), so this is evidence, not proof"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::why::{BindRequest, Context, diagnose};
    use crate::model::probe::ProbeResult;
    use crate::model::process_context::{Ancestor, ProcessKind};
    use crate::model::test_support::{listener, owner, snapshot};
    use std::sync::Arc;

    fn holding(kind: ProcessKind, leader: bool, cloexec: bool) -> FdHolding {
        FdHolding {
            pid: 41,
            start_time: 0,
            inode: 0,
            fd: 3,
            cloexec,
            parent: Ancestor {
                pid: 1,
                comm: "init".into(),
                kind,
            },
            session_leader: leader,
        }
    }

    #[test]
    fn an_orphan_holding_an_inheritable_listener_is_named_with_its_fd() {
        let mut s = listener(8080);
        s.owners = Arc::from([owner(41, "sleep")]);
        let snap = snapshot(vec![s.clone()]);
        let probe = ProbeResult::not_run("test");
        let ask = || diagnose(&BindRequest::tcp(8080), &snap, &probe, &Context::default());
        let mut h = holding(ProcessKind::Init, false, false);
        h.inode = s.inode;
        let mut d = ask();
        annotate(&mut d, std::slice::from_ref(&h));
        let want = "inherited from a process that exited; sleep (pid 41) holds it as fd 3";
        assert!(d.causes[0].summary.contains(want), "{:?}", d.causes);
        assert!(d.explanation.contains(want), "{}", d.explanation);
        assert!(
            d.notes.iter().any(|n| n.contains("not proof")),
            "{:?}",
            d.notes
        );

        for other in [
            holding(ProcessKind::Init, true, false),
            holding(ProcessKind::Init, false, true),
            holding(ProcessKind::Shell, false, false),
        ] {
            let mut d = ask();
            annotate(
                &mut d,
                &[FdHolding {
                    inode: s.inode,
                    ..other
                }],
            );
            assert!(!d.causes[0].summary.contains("inherited"), "{:?}", d.causes);
        }
    }
}
