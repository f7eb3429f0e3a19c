//! What a remedy does, as a type: code matches on it instead of comparing strings, and serde
//! writes the same snake_case names `why --json` always had.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemedyKind {
    Wait,
    Reuseaddr,
    CloseConnection,
    DestroyConnections,
    DestroyTimeWait,
    StopService,
    StopSocketUnit,
    Kill,
    Reserve,
    GrantCapability,
    LowerUnprivilegedStart,
    UseLocalAddress,
    NonlocalBind,
    Freebind,
    SeeOwner,
    StartService,
    /// Give clients back local ports toward a destination (pool, more addresses, wider range,
    /// tcp_tw_reuse): the fix when connect() ran out, not bind().
    EphemeralPorts,
    /// A listener that takes no connections: continue it, see what it waits on, restart it.
    UnblockListener,
    /// A listener's accept queue is too short for its bursts: a bigger listen() backlog (and
    /// net.core.somaxconn where that caps it).
    RaiseBacklog,
}

impl RemedyKind {
    /// The name in JSON and in `fix`'s step keys.
    pub fn as_str(self) -> &'static str {
        match self {
            RemedyKind::Wait => "wait",
            RemedyKind::Reuseaddr => "reuseaddr",
            RemedyKind::CloseConnection => "close_connection",
            RemedyKind::DestroyConnections => "destroy_connections",
            RemedyKind::DestroyTimeWait => "destroy_time_wait",
            RemedyKind::StopService => "stop_service",
            RemedyKind::StopSocketUnit => "stop_socket_unit",
            RemedyKind::Kill => "kill",
            RemedyKind::Reserve => "reserve",
            RemedyKind::GrantCapability => "grant_capability",
            RemedyKind::LowerUnprivilegedStart => "lower_unprivileged_start",
            RemedyKind::UseLocalAddress => "use_local_address",
            RemedyKind::NonlocalBind => "nonlocal_bind",
            RemedyKind::Freebind => "freebind",
            RemedyKind::SeeOwner => "see_owner",
            RemedyKind::StartService => "start_service",
            RemedyKind::EphemeralPorts => "ephemeral_ports",
            RemedyKind::UnblockListener => "unblock_listener",
            RemedyKind::RaiseBacklog => "raise_backlog",
        }
    }
}

impl fmt::Display for RemedyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tests and callers holding a name from JSON compare directly: `r.action == "kill"`.
impl PartialEq<&str> for RemedyKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_display_names() {
        for k in [
            RemedyKind::Wait,
            RemedyKind::Reuseaddr,
            RemedyKind::CloseConnection,
            RemedyKind::DestroyConnections,
            RemedyKind::DestroyTimeWait,
            RemedyKind::StopService,
            RemedyKind::StopSocketUnit,
            RemedyKind::Kill,
            RemedyKind::Reserve,
            RemedyKind::GrantCapability,
            RemedyKind::LowerUnprivilegedStart,
            RemedyKind::UseLocalAddress,
            RemedyKind::NonlocalBind,
            RemedyKind::Freebind,
            RemedyKind::SeeOwner,
            RemedyKind::StartService,
            RemedyKind::EphemeralPorts,
            RemedyKind::UnblockListener,
            RemedyKind::RaiseBacklog,
        ] {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{k}\""));
            assert_eq!(serde_json::from_str::<RemedyKind>(&json).unwrap(), k);
        }
    }
}
