//! What the kernel answered when portscope tried a bind (collect::probe does the trying): plain
//! values, so analysis can reason about them without touching a socket.

use serde::{Deserialize, Serialize};

/// What one bind attempt answered: "ok" or the errno name ("EADDRINUSE", ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Outcome(pub String);

impl Outcome {
    pub fn ok() -> Self {
        Outcome("ok".into())
    }
    pub fn is_ok(&self) -> bool {
        self.0 == "ok"
    }
    pub fn is(&self, errno: &str) -> bool {
        self.0 == errno
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// bind() without SO_REUSEADDR, as most services start.
    pub plain: Option<Outcome>,
    /// bind() with SO_REUSEADDR.
    pub reuseaddr: Option<Outcome>,
    /// Why the probe could not run, when it could not (then the verdict comes from the tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// With `--user`, when the user got EACCES: the same bind with portscope's privileges, which
    /// says whether the port is also in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<Outcome>,
    /// What the namespace says of a specific IPv6 address (tentative while DAD runs, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressState>,
}

impl ProbeResult {
    pub fn not_run(reason: impl Into<String>) -> Self {
        ProbeResult {
            plain: None,
            reuseaddr: None,
            not_run: Some(reason.into()),
            privileged: None,
            address: None,
        }
    }
}

/// How the service creates its socket, so the probe binds the same way: the options that change
/// the kernel's verdict, and the user it runs as (EACCES and SO_REUSEPORT's same-uid rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BindOptions {
    /// IPV6_V6ONLY on an IPv6 socket (`[::]` then leaves IPv4 alone).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub v6only: bool,
    /// SO_REUSEPORT: joins a group of sockets of the same user on the port.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reuseport: bool,
    /// IP_FREEBIND: bind an address that is not (yet) on the host.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub freebind: bool,
    /// Probe with this user's uid, gid and groups, and without capabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<ServiceUser>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceUser {
    pub uid: u32,
    pub gid: u32,
}

/// The state of a specific IPv6 address in a namespace (from /proc/net/if_inet6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressState {
    /// Configured and usable.
    Usable,
    /// Configured, duplicate address detection still running (IFA_F_TENTATIVE).
    Tentative,
    /// Configured, but DAD found another host using it (IFA_F_DADFAILED).
    DadFailed,
    /// Not configured on any interface of this namespace.
    Absent,
}
