//! Every mark and flag a row shows, and what it means: one text for the help and the detail
//! pane, so the two never explain a mark differently.

use crate::model::{Snapshot, Socket};

/// A mark or flag as a row shows it, and its meaning in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub name: &'static str,
    pub meaning: &'static str,
}

const fn mark(name: &'static str, meaning: &'static str) -> Mark {
    Mark { name, meaning }
}

pub const AT_RISK: Mark = mark(
    "AT RISK",
    "a listener inside the ephemeral range, not reserved: an outgoing connection can take its port while it restarts",
);
pub const RESERVED: Mark = mark(
    "reserved",
    "in ip_local_reserved_ports: the kernel never picks it for outgoing connections",
);
pub const PRIV: Mark = mark(
    "priv",
    "below ip_unprivileged_port_start: binding it needs root or CAP_NET_BIND_SERVICE",
);
pub const DUAL: Mark = mark(
    "4+6",
    "an IPv6 wildcard listener that also accepts IPv4 (dual-stack)",
);
pub const AUTO: Mark = mark(
    "auto",
    "the kernel chose this local port (an outgoing connection that never called bind)",
);
pub const KERNEL: Mark = mark(
    "(kernel)",
    "held by the kernel: no process holds the socket (TIME_WAIT, orphaned), so there is nothing to kill; it goes away by itself",
);
pub const FREES_IN: Mark = mark(
    "frees in",
    "when the kernel frees a TIME_WAIT or FIN-WAIT-2 socket and its port",
);
pub const HIDDEN: Mark = mark(
    "uid N hidden",
    "a process of that uid holds the socket, but portscope cannot see which (another user's process without root, another PID namespace)",
);
pub const SHORTENED: Mark = mark(
    "…",
    "a long address shortened in the middle; the port is always whole",
);

pub const GROUP: Mark = mark(
    "▸ ▾",
    "a folded / unfolded group of connections with its count per state (EST, CW, TW, FW2…)",
);

/// Every mark, in the order the help lists them.
pub const ALL: [Mark; 10] = [
    AT_RISK, RESERVED, PRIV, DUAL, AUTO, KERNEL, FREES_IN, HIDDEN, SHORTENED, GROUP,
];

/// The marks the socket's row shows (Listeners or Connections), by the same tests the rows use.
pub fn of_socket(snap: &Snapshot, s: &Socket) -> Vec<Mark> {
    let mut out = Vec::new();
    // The sysctls are the focus namespace's: they say nothing about another's ports.
    let here = snap.namespaces.is_empty() || s.netns == snap.netns.inode;
    let sys = &snap.sysctl;
    if s.is_listening() && here {
        if sys.ip_local_reserved_ports.contains(s.local_port) {
            out.push(RESERVED);
        } else if sys.at_risk(s.local_port) {
            out.push(AT_RISK);
        }
        if sys.privileged(s.local_port) {
            out.push(PRIV);
        }
    }
    if s.is_listening() && s.is_dual_stack() {
        out.push(DUAL);
    }
    if !s.is_listening() {
        if s.autobound {
            out.push(AUTO);
        } else if s.expires_ms.is_some() {
            out.push(FREES_IN);
        }
    }
    if s.kernel_held {
        out.push(KERNEL);
    } else if s.owners.is_empty() {
        out.push(HIDDEN);
    }
    out
}
