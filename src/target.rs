//! The port a person names, in the forms operators type: `8080`, `8080/udp`, `:8080`,
//! `127.0.0.1:8080`, `[::1]:8080/tcp`. One parser for the CLI's PORT argument and the TUI's why
//! field, so both take the same words.

use crate::model::Proto;
use std::net::IpAddr;

/// What the words name: the port, and the protocol and address when they say them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub port: u16,
    pub proto: Option<Proto>,
    pub addr: Option<IpAddr>,
}

/// Why the words name no port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Proto(#[from] crate::model::UnknownName),
    /// A bare IPv6 address: is the last group a port or part of the address? Ask.
    #[error("{0:?}: write an IPv6 address and port as [::1]:8080")]
    Ipv6Port(String),
    #[error(transparent)]
    Addr(#[from] crate::addr::AddrError),
    #[error(transparent)]
    Port(#[from] crate::analyze::why::ServicePortError),
}

/// Parses `[ADDR:|[V6]:|:]PORT[/PROTO]`.
pub fn parse_target(t: &str) -> Result<Target, TargetError> {
    let (rest, proto) = match t.rsplit_once('/') {
        Some((r, p)) => (r, Some(p.parse::<Proto>()?)),
        None => (t, None),
    };
    let (addr, port) = if rest.starts_with('[') {
        let (a, p) = rest
            .split_once("]:")
            .ok_or_else(|| TargetError::Ipv6Port(t.to_string()))?;
        (Some(crate::addr::parse_ip(&format!("{a}]"))?), p)
    } else if rest.matches(':').count() > 1 {
        return Err(TargetError::Ipv6Port(t.to_string()));
    } else if let Some(("", p)) = rest.split_once(':') {
        (None, p) // ":8080", as ss prints a wildcard
    } else if let Some((a, p)) = rest.rsplit_once(':') {
        (Some(crate::addr::parse_ip(a)?), p)
    } else {
        (None, rest)
    };
    Ok(Target {
        port: crate::analyze::why::parse_service_port(port)?,
        proto,
        addr,
    })
}

/// `--connect` as typed: the destination's addresses (a name may stand for several) and its
/// port, if one was named.
#[derive(Debug, Clone)]
pub struct ConnectTarget {
    pub addrs: Vec<IpAddr>,
    pub port: Option<u16>,
}

impl ConnectTarget {
    /// The destination as typed back: "127.0.0.1:5432", "127.0.0.1 (every port)".
    pub fn words(&self) -> String {
        let addrs: Vec<String> = self
            .addrs
            .iter()
            .map(|a| match self.port {
                Some(p) => crate::model::fmt_endpoint(*a, p),
                None => a.to_string(),
            })
            .collect();
        match self.port {
            Some(_) => addrs.join(", "),
            None => format!("{} (every port)", addrs.join(", ")),
        }
    }
}

/// `127.0.0.1:5432`, `[::1]:5432`, `db:5432` (a name in /etc/hosts), or an address alone.
pub fn parse_connect(s: &str) -> Result<ConnectTarget, String> {
    if let Ok(t) = parse_target(s)
        && let Some(a) = t.addr
    {
        return Ok(ConnectTarget {
            addrs: vec![a],
            port: Some(t.port),
        });
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && !h.is_empty() => (
            h,
            Some(crate::analyze::why::parse_service_port(p).map_err(|e| e.to_string())?),
        ),
        _ => (s, None),
    };
    let addrs = crate::addr::service_addresses(host).map_err(|e| e.to_string())?;
    Ok(ConnectTarget { addrs, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_operators_type() {
        let t = |s: &str| parse_target(s).unwrap();
        assert_eq!(t("8080").port, 8080);
        assert_eq!(t("5353/udp").proto, Some(Proto::Udp));
        assert_eq!(t(":8080").addr, None);
        assert_eq!(t("127.0.0.1:8080").addr, "127.0.0.1".parse().ok());
        let v6 = t("[::1]:8080/tcp");
        assert_eq!((v6.addr, v6.proto), ("::1".parse().ok(), Some(Proto::Tcp)));
        assert!(parse_target("::1:80").is_err());
        assert!(parse_target("8080/sctp").is_err());
        assert!(parse_target("0").is_err());
    }
}
