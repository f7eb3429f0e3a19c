//! The sysctl.d configuration as a plan saw it, compared again when the plan is applied.

use super::sysctld::{Setting, SysctlLayout};

/// The configuration files as a plan saw them, to be compared again when the plan is applied
/// (someone may edit the drop-in or another file while `apply` waits at its y/N prompt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootSeen {
    pub layout: SysctlLayout,
    pub settings: Vec<Setting>,
    pub unreadable: Vec<String>,
}

impl BootSeen {
    /// What changed since, in a phrase; `None` when every assignment reads as it did.
    pub fn changed_since(&self) -> Option<String> {
        let now = super::sysctld::audit(&self.layout);
        if now.settings == self.settings && now.unreadable == self.unreadable {
            return None;
        }
        let files: std::collections::BTreeSet<String> = now
            .settings
            .iter()
            .filter(|s| !self.settings.contains(s))
            .chain(self.settings.iter().filter(|s| !now.settings.contains(s)))
            .map(|s| s.file.display().to_string())
            .chain(
                now.unreadable
                    .iter()
                    .filter(|u| !self.unreadable.contains(u))
                    .cloned(),
            )
            .collect();
        Some(format!(
            "the sysctl.d configuration changed since the plan was made ({})",
            files.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }
}
