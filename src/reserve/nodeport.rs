//! The Kubernetes NodePort range against the ephemeral range (kops #6342): NodePorts inside
//! ip_local_port_range and not reserved can be taken by any outgoing connection.

use crate::model::Snapshot;
use crate::portset::PortSet;

/// A warning when the host's NodePort range overlaps the ephemeral range `(lo, hi)` in ports
/// that `reserved` leaves unreserved, with the command that reserves them.
pub fn overlap_warning(
    snap: &Snapshot,
    (lo, hi): (u16, u16),
    reserved: &PortSet,
) -> Option<String> {
    let [a, b] = snap.node_port_range?;
    let exposed = PortSet::from_ranges([(a, b)])
        .intersection(&PortSet::from_ranges([(lo, hi)]))
        .difference(reserved);
    (!exposed.is_empty()).then(|| {
        format!(
            "the Kubernetes NodePort range {a}-{b} (kube-apiserver --service-node-port-range) \
             overlaps the ephemeral range {lo}-{hi}: {} ports ({exposed}) stay unreserved, so \
             outgoing connections can take NodePorts; add them: portscope reserve apply {exposed}",
            exposed.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::collect::container::kube::DEFAULT_NODE_PORTS;

    #[test]
    fn reserve_warns_when_node_ports_overlap_the_ephemeral_range() {
        use crate::portset::PortSet;
        let mut snap = crate::model::test_support::snapshot(vec![]);
        snap.sysctl.ip_local_port_range = [32000, 60999];
        snap.node_port_range = Some(DEFAULT_NODE_PORTS);
        let none = PortSet::new();
        let p = crate::reserve::Plan::new(&none, &PortSet::parse("8080").unwrap(), &none, &snap);
        let w = p.warnings.join("\n");
        assert!(w.contains("NodePort range 30000-32767"), "{w}");
        assert!(w.contains("portscope reserve apply 32000-32767"), "{w}");
        let p =
            crate::reserve::Plan::new(&none, &PortSet::parse("32000-32767").unwrap(), &none, &snap);
        assert!(!p.warnings.join("\n").contains("NodePort"), "reserved now");
        snap.sysctl.ip_local_port_range = [40000, 60999];
        let p = crate::reserve::Plan::new(&none, &PortSet::parse("8080").unwrap(), &none, &snap);
        assert!(!p.warnings.join("\n").contains("NodePort"), "no overlap");
    }
}
