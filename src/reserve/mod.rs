//! The reserved-ports list (`net.ipv4.ip_local_reserved_ports`): plan a change, apply it to a
//! namespace and its persistent configuration all or nothing, undo it, and audit which
//! configuration file wins at boot. The CLI and the TUI both drive these functions; nothing here
//! prints or asks.

pub mod apply;
mod boot_seen;
pub mod fleet;
pub mod journal;
pub mod nodeport;
pub mod plan;
#[cfg(test)]
mod plan_tests;
pub mod runtime;
pub mod sysctld;
#[cfg(test)]
mod sysctld_tests;
mod txn;
pub mod undo;

pub use apply::{ApplyError, ApplyOutcome, ApplyRequest, ErrorKind, apply, finish, refusal};
pub use boot_seen::BootSeen;
pub use fleet::{DROPIN_NAME, ansible_task, dropin_content, manual_commands};
pub use plan::{BootValue, Ephemeral, Plan, at_risk_listeners, at_risk_ports};
pub use sysctld::{Audit, KEY, Setting, SysctlLayout, audit};
pub use undo::{UndoPlan, plan_undo, undo};
