//! What the kernel answered when portscope tried a bind (collect::probe does the trying): plain
//! values, so analysis can reason about them without touching a socket.

use serde::{Deserialize, Serialize};

/// What one bind attempt answered. In JSON a string, as always: "ok", the errno name
/// ("EADDRINUSE", ...), or why the attempt could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum BindOutcome {
    Ok,
    /// The kernel refused: the symbolic errno name.
    Errno(String),
    /// The attempt itself failed (the probe thread could not take the service's user, ...).
    NotTried(String),
}

impl BindOutcome {
    pub fn ok() -> Self {
        BindOutcome::Ok
    }
    pub fn is_ok(&self) -> bool {
        matches!(self, BindOutcome::Ok)
    }
    /// Whether the kernel answered with this errno ("EADDRINUSE").
    pub fn is(&self, errno: &str) -> bool {
        matches!(self, BindOutcome::Errno(e) if e == errno)
    }
    pub fn as_str(&self) -> &str {
        match self {
            BindOutcome::Ok => "ok",
            BindOutcome::Errno(s) | BindOutcome::NotTried(s) => s,
        }
    }
}

impl From<String> for BindOutcome {
    fn from(s: String) -> Self {
        let errno = s.len() > 1
            && s.starts_with('E')
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        match s.as_str() {
            "ok" => BindOutcome::Ok,
            _ if errno => BindOutcome::Errno(s),
            _ => BindOutcome::NotTried(s),
        }
    }
}

impl From<BindOutcome> for String {
    fn from(o: BindOutcome) -> String {
        o.as_str().to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// bind() without SO_REUSEADDR, as most services start.
    pub plain: Option<BindOutcome>,
    /// bind() with SO_REUSEADDR.
    pub reuseaddr: Option<BindOutcome>,
    /// Why the probe could not run, when it could not (then the verdict comes from the tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// With `--user`, when the user got EACCES: the same bind with portscope's privileges, which
    /// says whether the port is also in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<BindOutcome>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_keep_their_json_strings() {
        for (text, want) in [
            ("ok", BindOutcome::Ok),
            ("EADDRINUSE", BindOutcome::Errno("EADDRINUSE".into())),
            (
                "cannot become uid 7: EPERM",
                BindOutcome::NotTried("cannot become uid 7: EPERM".into()),
            ),
        ] {
            let json = format!("\"{text}\"");
            let o: BindOutcome = serde_json::from_str(&json).unwrap();
            assert_eq!(o, want);
            assert_eq!(serde_json::to_string(&o).unwrap(), json);
        }
        assert!(BindOutcome::Errno("EACCES".into()).is("EACCES"));
        assert!(!BindOutcome::NotTried("EACCES x".into()).is("EACCES"));
    }
}
