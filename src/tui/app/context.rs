//! Where reservations go and how actions reach the system: set at start, read by the planners.

use crate::collect::NetnsTarget;
use std::path::PathBuf;

/// Where reservations go and how actions reach the system.
#[derive(Debug, Clone)]
pub struct ActionContext {
    pub netns: NetnsTarget,
    /// The sysctl.d directory for the drop-in (`--sysctl-dir`, config `sysctl_dir`).
    pub sysctl_dir: PathBuf,
    pub journal: Option<PathBuf>,
    pub is_root: bool,
    /// What the configuration sets at boot, read when the planner opens: a drop-in replaces it,
    /// so the plan keeps it.
    pub boot: Option<crate::reserve::BootValue>,
    /// The configuration files as the planner read them: apply refuses if they changed since.
    pub boot_seen: Option<crate::reserve::BootSeen>,
    /// Why no drop-in is written: another namespace, or a boot value that cannot be known.
    pub no_persist: Option<String>,
    /// Where the executor logs what it did (None: no data directory).
    pub action_log: Option<crate::action::log::ActionLog>,
}

impl ActionContext {
    /// Re-reads the configuration the planner merges with; file reads happen here, on a key
    /// press, never while drawing.
    pub fn refresh_boot(&mut self) {
        self.boot = None;
        self.boot_seen = None;
        self.no_persist = None;
        if !self.netns.is_host() {
            self.no_persist = Some(format!(
                "network namespace {} is not the host's: sysctl.d files configure the host, so \
                 only the runtime value is changed",
                self.netns.describe()
            ));
            return;
        }
        let layout = crate::reserve::SysctlLayout::system().with_admin_dir(&self.sysctl_dir);
        let audit = crate::reserve::audit(&layout);
        match audit.boot_to_keep(crate::reserve::DROPIN_NAME) {
            Ok(boot) => {
                self.boot = boot;
                self.boot_seen = Some(audit.seen());
            }
            Err(unknown) => {
                self.no_persist = Some(format!("{unknown}: only the runtime value is changed"));
            }
        }
    }
}

impl Default for ActionContext {
    fn default() -> Self {
        ActionContext {
            netns: NetnsTarget::Current,
            sysctl_dir: PathBuf::from("/etc/sysctl.d"),
            journal: crate::reserve::journal::default_path(),
            is_root: crate::paths::is_root(),
            boot: None,
            boot_seen: None,
            no_persist: None,
            action_log: crate::action::log::ActionLog::default_location(),
        }
    }
}
