//! Kubernetes facts about the host itself, read from the processes that hold sockets.

use crate::collect::container::published::flag;
use crate::model::Socket;

/// kube-apiserver's default `--service-node-port-range`.
pub const DEFAULT_NODE_PORTS: [u16; 2] = [30000, 32767];

/// The NodePort range of a kube-apiserver (or k3s server, which embeds one) among the socket
/// owners: its `--service-node-port-range` flag, or the default.
pub fn node_port_range(sockets: &[Socket]) -> Option<[u16; 2]> {
    let o = sockets.iter().flat_map(|s| s.owners.iter()).find(|o| {
        o.comm.raw() == "kube-apiserver"
            || ((o.comm.raw() == "k3s-server" || o.comm.raw() == "k3s")
                && o.cmdline.raw().contains(" server"))
    })?;
    Some(
        flag(o.cmdline.raw(), "service-node-port-range")
            .and_then(parse_range)
            .unwrap_or(DEFAULT_NODE_PORTS),
    )
}

/// `30000-32767` (kube-apiserver also accepts `30000+2767`).
pub fn parse_range(s: &str) -> Option<[u16; 2]> {
    if let Some((a, b)) = s.split_once('-') {
        let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        return (a <= b).then_some([a, b]);
    }
    let (a, n) = s.split_once('+')?;
    let a: u16 = a.trim().parse().ok()?;
    let n: u16 = n.trim().parse().ok()?;
    Some([a, a.checked_add(n)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("30000-32767"), Some([30000, 32767]));
        assert_eq!(parse_range("30000+2767"), Some([30000, 32767]));
        assert_eq!(parse_range("5-1"), None);
        assert_eq!(parse_range("x"), None);
    }
}
