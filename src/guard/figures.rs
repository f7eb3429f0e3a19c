//! The numbers a check measures, for perfdata and metrics.

use serde::Serialize;

/// Numbers for perfdata and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub reserved_ports: u32,
    pub ephemeral_size: u32,
    pub ephemeral_usable: u32,
    /// Runtime list differs from the boot configuration (`None`: not compared).
    pub drift: Option<bool>,
    /// Ports in one list and not the other.
    pub drift_ports: u32,
    pub listeners_at_risk: u32,
    /// Local ports in use toward the busiest destination, of how many connect() may use.
    pub ephemeral_in_use: u32,
    pub ephemeral_use_usable: u32,
    /// The busiest destination ("127.0.0.1:5432"), when local clients connect anywhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_busiest: Option<String>,
    /// ListenOverflows of the namespace: connections dropped at full accept queues.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_overflows: Option<u64>,
    /// The connection-tracking table's fill (when nf_conntrack is loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<crate::model::reach::Conntrack>,
}
