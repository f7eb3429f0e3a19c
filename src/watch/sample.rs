//! The tracepoint's decoded sample and the kernel's TCP state numbers it carries: what the
//! tracer produces and the joiner reads, kept apart from both so neither imports the other.

use crate::model::Family;
use std::net::IpAddr;
use std::time::Duration;

// The kernel's TCP states (include/net/tcp_states.h), as `inet_sock_set_state` reports them.
pub(super) const TCP_SYN_SENT: u8 = 2;
pub(super) const TCP_SYN_RECV: u8 = 3;
pub(super) const TCP_FIN_WAIT1: u8 = 4;
pub(super) const TCP_FIN_WAIT2: u8 = 5;
pub(super) const TCP_CLOSE: u8 = 7;
pub(super) const TCP_LISTEN: u8 = 10;
pub(super) const TCP_CLOSING: u8 = 11;
pub(super) const TCP_NEW_SYN_RECV: u8 = 12;
/// Connects still waiting for their port are forgotten after this (a SYN_SENT rarely lasts
/// longer; the kernel gives up after about two minutes).
pub(super) const PENDING_TTL: Duration = Duration::from_secs(180);
pub(super) const PENDING_MAX: usize = 65_536;

/// One decoded sample.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub(super) time_ns: i128,
    pub(super) pid: u32,
    pub(super) tid: u32,
    pub(super) in_process: bool,
    pub(super) skaddr: u64,
    pub(super) old: u8,
    pub(super) new: u8,
    pub(super) sport: u16,
    pub(super) dport: u16,
    pub(super) family: Family,
    pub(super) saddr: IpAddr,
    pub(super) daddr: IpAddr,
}
