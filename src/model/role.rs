//! Which processes a signal may be offered to, and what it does to them.
//!
//! Three kinds of process are not "this process only":
//! - PID 1 of portscope's own PID namespace (the host's init, usually systemd) and service
//!   managers (a user's `systemd --user`, s6, runit, supervisord, inetd). They hold listening
//!   sockets on behalf of the services they start (socket activation); a signal stops or
//!   re-executes the manager and everything it runs, and the port stays held by it anyway.
//!   They are never offered a signal: the socket's unit is what to stop.
//! - PID 1 of a nested PID namespace (a container's init). The kernel drops signals it has no
//!   handler for, SIGTERM included, even from the host; SIGKILL cannot be dropped and takes
//!   every process of that namespace with it. Offered, with both facts in the dialog.
//! - Ordinary processes.
//!
//! The kind comes from `NSpid:` in /proc/PID/status, which lists the PID in every namespace from
//! the one /proc was mounted for down to the process's own, and from the command name for
//! managers. A name can be chosen by anyone, so a name only ever *removes* the offer.

use crate::model::Owner;
use crate::model::process_context::SERVICE_MANAGERS as MANAGERS;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessRole {
    Ordinary,
    /// PID 1 of a PID namespace below ours: a container's init.
    NamespaceInit,
    /// PID 1 of the PID namespace portscope runs in: the host's init.
    HostInit,
    /// A service manager other than PID 1 (by command name).
    ServiceManager,
}

impl ProcessRole {
    /// From what /proc says: the pid as we see it, the command name, and `NSpid:`.
    pub fn of(pid: u32, comm: &str, nspid: &[u32]) -> ProcessRole {
        // `[1]` alone is our namespace's init; pid 1 is the same fact when NSpid is unknown.
        if pid == 1 || nspid == [1] {
            ProcessRole::HostInit
        } else if MANAGERS.contains(&comm) {
            ProcessRole::ServiceManager
        } else if nspid.len() > 1 && nspid.last() == Some(&1) {
            ProcessRole::NamespaceInit
        } else {
            ProcessRole::Ordinary
        }
    }

    pub fn of_owner(o: &Owner) -> ProcessRole {
        ProcessRole::of(o.pid, o.comm.raw(), &o.nspid)
    }

    /// Host init and service managers: no signal is ever offered or sent to them.
    pub fn never_signalled(self) -> bool {
        matches!(self, ProcessRole::HostInit | ProcessRole::ServiceManager)
    }

    /// "the host's init (PID 1)", for refusals.
    pub fn describe(self) -> &'static str {
        match self {
            ProcessRole::Ordinary => "an ordinary process",
            ProcessRole::NamespaceInit => "PID 1 (the init) of its own PID namespace (a container)",
            ProcessRole::HostInit => "PID 1, the init of this host's PID namespace",
            ProcessRole::ServiceManager => "a service manager",
        }
    }
}

/// Why a holder is never signalled, for the refusal text: "systemd (pid 1, the host's init)".
pub fn manager_label(o: &Owner) -> String {
    match ProcessRole::of_owner(o) {
        ProcessRole::HostInit => format!("{} (pid {}, the host's init)", o.comm, o.pid),
        _ => format!("{} (pid {}, a service manager)", o.comm, o.pid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_from_nspid_and_name() {
        use ProcessRole::*;
        for (pid, comm, nspid, want) in [
            (1, "systemd", &[1][..], HostInit),
            (1, "process_api", &[][..], HostInit),
            (1, "anything", &[1][..], HostInit),
            (812, "nginx", &[812][..], Ordinary),
            (4242, "tini", &[4242, 1][..], NamespaceInit),
            (4242, "sleep", &[4242, 77, 1][..], NamespaceInit),
            (4243, "nginx", &[4243, 7][..], Ordinary),
            (2000, "systemd", &[2000][..], ServiceManager),
            // systemd as a container's init is still a manager: never signalled.
            (3000, "systemd", &[3000, 1][..], ServiceManager),
            (900, "xinetd", &[][..], ServiceManager),
            (900, "systemd-resolve", &[900][..], Ordinary),
        ] {
            assert_eq!(
                ProcessRole::of(pid, comm, nspid),
                want,
                "{pid} {comm} {nspid:?}"
            );
        }
    }
}
