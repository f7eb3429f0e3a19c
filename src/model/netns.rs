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

    /// The target back from what [`describe`](Self::describe) wrote (a snapshot keeps that).
    pub fn from_description(text: &str) -> NetnsTarget {
        if text == "current" {
            return NetnsTarget::Current;
        }
        match text.strip_prefix("pid ").and_then(|p| p.parse().ok()) {
            Some(pid) => NetnsTarget::Pid(pid),
            None => NetnsTarget::Path(PathBuf::from(text)),
        }
    }

    /// How a sentence names it: "this network namespace", "the network namespace of pid 42",
    /// "network namespace /run/netns/blue" (after "in", "of", ...).
    pub fn phrase(&self) -> String {
        match self {
            NetnsTarget::Current => "this network namespace".into(),
            NetnsTarget::Pid(pid) => format!("the network namespace of pid {pid}"),
            NetnsTarget::Path(p) => format!("network namespace {}", p.display()),
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

    /// The prefix for a command that must run inside this namespace (ss, ip, sysctl):
    /// `nsenter --net=PATH ` with the path shell-quoted, empty for the current one. The one
    /// place that builds it.
    pub fn nsenter_prefix(&self) -> String {
        match self.path() {
            Some(p) => format!(
                "nsenter --net={} ",
                super::shell::shell_quote(&p.display().to_string())
            ),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_read_as_a_person_says_them() {
        assert_eq!(
            format!("in {}", NetnsTarget::Current.phrase()),
            "in this network namespace"
        );
        assert_eq!(
            NetnsTarget::Pid(7).phrase(),
            "the network namespace of pid 7"
        );
    }

    #[test]
    fn the_nsenter_prefix_is_quoted() {
        assert_eq!(NetnsTarget::Current.nsenter_prefix(), "");
        assert_eq!(
            NetnsTarget::Pid(42).nsenter_prefix(),
            "nsenter --net=/proc/42/ns/net "
        );
        assert_eq!(
            NetnsTarget::Path("/run/netns/a b".into()).nsenter_prefix(),
            "nsenter --net='/run/netns/a b' "
        );
    }

    #[test]
    fn a_description_reads_back_as_its_target() {
        for t in [
            NetnsTarget::Current,
            NetnsTarget::Pid(42),
            NetnsTarget::Path(std::path::PathBuf::from("/run/netns/blue")),
        ] {
            assert_eq!(NetnsTarget::from_description(&t.describe()), t);
        }
    }
}
