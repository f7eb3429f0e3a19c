//! Who holds a socket, in words: the one place that phrases a holder, for `why`, `check`,
//! `reserve`, the dialogs and the TUI. Another phrasing elsewhere would let the same socket read
//! as two different holders in two outputs (#24): use these.

use super::workload::user_or_uid;
use super::{Owner, Socket};

impl Owner {
    /// "nginx (pid 812, unit nginx.service)", "nginx (pid 9, docker: web (compose app/web))":
    /// the process and what supervises it.
    pub fn described(&self) -> String {
        match (&self.workload, &self.container, &self.user_unit, &self.unit) {
            (Some(w), _, _, _) => format!("{} (pid {}, {})", self.comm, self.pid, w.label),
            (None, Some(c), _, _) => format!("{} (pid {}, container {c})", self.comm, self.pid),
            (None, None, Some(u), _) => format!(
                "{} (pid {}, user unit {} of {})",
                self.comm,
                self.pid,
                u.unit,
                user_or_uid(u.user_name.as_deref(), u.uid)
            ),
            (None, None, None, Some(u)) => format!("{} (pid {}, unit {u})", self.comm, self.pid),
            _ => format!("{} (pid {})", self.comm, self.pid),
        }
    }
}

/// Who holds a socket no process holds (TIME_WAIT, orphaned): one phrase for every output.
pub const KERNEL_HOLDER: &str = "the kernel (no process)";

impl Socket {
    /// Who holds the socket: its processes (two named, the rest counted), the kernel, or a
    /// process portscope cannot see, and the container that publishes it. The only phrasing of
    /// a socket's holder: every output that names one calls this.
    pub fn holder(&self) -> String {
        if self.kernel_held {
            return KERNEL_HOLDER.into();
        }
        if self.owner_hidden || self.owners.is_empty() {
            return format!(
                "a process portscope cannot see (the socket's uid is {})",
                self.uid
            );
        }
        // One process holding the socket through several fds (or listed twice) is named once.
        let mut seen = Vec::new();
        let unique: Vec<_> = self
            .owners
            .iter()
            .filter(|o| {
                let new = !seen.contains(&o.pid);
                seen.push(o.pid);
                new
            })
            .collect();
        let mut names: Vec<String> = unique.iter().take(2).map(|o| o.described()).collect();
        if unique.len() > 2 {
            names.push(format!("{} more processes", unique.len() - 2));
        }
        match &self.published {
            Some(p) => format!("{}, {}", names.join(" and "), p.describe()),
            None => names.join(" and "),
        }
    }
}

impl Socket {
    /// How many distinct processes hold the socket: the grammatical number of [`Socket::holder`]
    /// as a sentence's subject ("nginx and 2 more processes listen").
    pub fn holder_count(&self) -> usize {
        if self.kernel_held || self.owner_hidden {
            return 1;
        }
        let mut pids: Vec<u32> = self.owners.iter().map(|o| o.pid).collect();
        pids.sort_unstable();
        pids.dedup();
        pids.len().max(1)
    }
}
