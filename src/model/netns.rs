//! Which network namespace a command looks at, as a value. Entering it is I/O and lives in
//! collect::netns.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NetnsTarget {
    /// The namespace portscope runs in.
    #[default]
    Current,
    /// The namespace of a process (`/proc/PID/ns/net`).
    Pid(u32),
    /// A namespace file, e.g. `/run/netns/NAME` or `/var/run/docker/netns/ID`.
    Path(PathBuf),
}

impl NetnsTarget {
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            NetnsTarget::Current => None,
            NetnsTarget::Pid(pid) => Some(PathBuf::from(format!("/proc/{pid}/ns/net"))),
            NetnsTarget::Path(p) => Some(p.clone()),
        }
    }

    /// How the target is named in output: "current", "pid 123", or the path.
    pub fn describe(&self) -> String {
        match self {
            NetnsTarget::Current => "current".into(),
            NetnsTarget::Pid(pid) => format!("pid {pid}"),
            NetnsTarget::Path(p) => p.display().to_string(),
        }
    }

    /// The flag that selects this namespace on a portscope command line ("" for current).
    pub fn cli_flag(&self) -> String {
        match self {
            NetnsTarget::Current => String::new(),
            NetnsTarget::Pid(pid) => format!(" --netns {pid}"),
            NetnsTarget::Path(p) => format!(" --netns {}", p.display()),
        }
    }
}
