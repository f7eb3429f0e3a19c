//! The cells a socket row shows in every table (snapshot's, the all-namespace table, why's
//! lines): shared by the commands, so neither imports the other for them.

use crate::model::{Snapshot, Socket};

/// Marks column: what `ss` cannot tell you at a glance.
pub fn push_marks(out: &mut String, s: &Socket, hidden_label: &str) {
    use std::fmt::Write as _;
    let mut sep = "";
    let mut mark = |out: &mut String, m: &str| {
        out.push_str(sep);
        out.push_str(m);
        sep = ",";
    };
    if s.autobound {
        mark(out, "auto");
    }
    if s.kernel_held {
        mark(out, "kernel");
    }
    if s.owner_hidden {
        mark(out, hidden_label);
    }
    if s.v6only == Some(true) {
        mark(out, "v6only");
    }
    if let Some(ms) = s.expires_ms {
        mark(out, "");
        let _ = write!(out, "frees in {}s", ms.div_ceil(1000));
    }
}

pub fn marks(s: &Socket, hidden_label: &str) -> String {
    let mut out = String::new();
    push_marks(&mut out, s, hidden_label);
    out
}

/// What to call a socket whose owner was not seen (mark, and the words after its uid): without
/// root, other users' processes are hidden; as root, the owner lives outside this PID namespace
/// or exited mid-scan.
pub fn hidden_labels(snap: &Snapshot) -> (&'static str, &'static str) {
    if crate::analyze::hidden_by_permissions(snap) {
        ("hidden", "owner hidden")
    } else {
        ("no-owner", "owner not found")
    }
}

pub fn push_owners(out: &mut String, s: &Socket, hidden_text: &str) {
    use std::fmt::Write as _;
    if s.kernel_held {
        out.push_str("(kernel: no process)");
        return;
    }
    if s.owner_hidden {
        // The socket's own uid is known even when its process is not.
        let _ = write!(out, "uid {} ({hidden_text})", s.uid);
        return;
    }
    for (i, o) in s.owners.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}(pid={})", o.comm, o.pid);
        if let Some(tag) = crate::workload::place(o) {
            let _ = write!(out, " [{tag}]");
        }
    }
    if let Some(p) = &s.published {
        let _ = write!(out, " {}", p.describe());
    }
}

pub fn owners_cell(s: &Socket, hidden_text: &str) -> String {
    let mut out = String::new();
    push_owners(&mut out, s, hidden_text);
    out
}

pub fn push_user(out: &mut String, s: &Socket) {
    match s.owners.first() {
        Some(o) => out.push_str(&o.user.shown()),
        None if s.kernel_held => out.push('-'),
        None => out.push_str(&crate::collect::users::user_name(s.uid).shown()),
    }
}

pub fn user_cell(s: &Socket) -> String {
    let mut out = String::new();
    push_user(&mut out, s);
    out
}
