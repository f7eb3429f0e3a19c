//! The whole port space classified: what the port map shows.

use crate::model::{Snapshot, Socket};

/// What a port is, most important last (a block of ports shows its most important class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortClass {
    Free,
    /// Inside ip_local_port_range: the kernel may hand it to an outgoing connection.
    Ephemeral,
    /// In the Kubernetes NodePort range: kube-proxy may redirect it without holding a socket.
    NodePort,
    /// In ip_local_reserved_ports.
    Reserved,
    /// Held by a connection (outgoing, accepted elsewhere, or TIME_WAIT) but nobody listens.
    Outgoing,
    Listener,
    /// A listener inside the ephemeral range, unreserved: the next outgoing connection may take
    /// its port while the service restarts.
    Conflict,
}

impl PortClass {
    /// Short name for the legend.
    pub fn short(self) -> &'static str {
        match self {
            PortClass::Free => "free",
            PortClass::Ephemeral => "ephemeral",
            PortClass::NodePort => "nodeport",
            PortClass::Reserved => "reserved",
            PortClass::Outgoing => "connection",
            PortClass::Listener => "listener",
            PortClass::Conflict => "conflict",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            PortClass::Free => "free",
            PortClass::Ephemeral => "ephemeral range",
            PortClass::NodePort => "Kubernetes NodePort range",
            PortClass::Reserved => "reserved",
            PortClass::Outgoing => "held by a connection",
            PortClass::Listener => "listener",
            PortClass::Conflict => "conflict: listener at risk",
        }
    }
}

/// One class per port, 0..=65535, plus what sits on each port.
pub struct PortMap {
    class: Vec<PortClass>,
    /// Base class without sockets (free / ephemeral / reserved).
    base: Vec<PortClass>,
}

fn occupant(s: &Socket) -> Option<PortClass> {
    if s.is_listening() {
        Some(PortClass::Listener)
    } else if s.local_port != 0 {
        Some(PortClass::Outgoing)
    } else {
        None
    }
}

impl PortMap {
    pub fn build(snap: &Snapshot) -> PortMap {
        let sys = &snap.sysctl;
        let (lo, hi) = sys.ephemeral();
        let mut base = vec![PortClass::Free; 65536];
        for p in lo..=hi {
            base[usize::from(p)] = PortClass::Ephemeral;
        }
        if let Some([a, b]) = snap.node_port_range {
            for p in a..=b {
                base[usize::from(p)] = PortClass::NodePort;
            }
        }
        for p in sys.ip_local_reserved_ports.iter() {
            base[usize::from(p)] = PortClass::Reserved;
        }
        let mut class = base.clone();
        for s in &snap.sockets {
            let Some(mut c) = occupant(s) else { continue };
            if c == PortClass::Listener && sys.at_risk(s.local_port) {
                c = PortClass::Conflict;
            }
            let slot = &mut class[usize::from(s.local_port)];
            *slot = (*slot).max(c);
        }
        PortMap { class, base }
    }

    pub fn class(&self, port: u16) -> PortClass {
        self.class[usize::from(port)]
    }

    /// The base class of a block (the most common of free/ephemeral/reserved) and its most
    /// important occupant, with how many ports of the block are occupied.
    pub fn block(&self, lo: u16, hi: u16) -> BlockSummary {
        let (lo, hi) = (usize::from(lo), usize::from(hi.max(lo)));
        let mut counts = [0u32; 4];
        let mut top = None::<PortClass>;
        let mut occupied = 0;
        for p in lo..=hi {
            match self.base[p] {
                PortClass::Free => counts[0] += 1,
                PortClass::Ephemeral => counts[1] += 1,
                PortClass::NodePort => counts[3] += 1,
                _ => counts[2] += 1,
            }
            let c = self.class[p];
            if c >= PortClass::Outgoing {
                occupied += 1;
                top = Some(top.map_or(c, |t| t.max(c)));
            }
        }
        // A reservation is the notable fact: one reserved port marks its whole block, or a
        // single reserved service port would vanish at the top zoom level.
        let base = if counts[2] > 0 {
            PortClass::Reserved
        } else if counts[3] > 0 {
            PortClass::NodePort
        } else if counts[1] > counts[0] {
            PortClass::Ephemeral
        } else {
            PortClass::Free
        };
        BlockSummary {
            base,
            top,
            occupied,
            ports: u32::try_from(hi - lo + 1).unwrap_or(u32::MAX),
            any_reserved: counts[2] > 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockSummary {
    pub base: PortClass,
    pub top: Option<PortClass>,
    pub occupied: u32,
    pub ports: u32,
    pub any_reserved: bool,
}

impl BlockSummary {
    /// The class a cell is painted with.
    pub fn class(&self) -> PortClass {
        self.top.unwrap_or(self.base)
    }
}

/// Ports per cell at each zoom level; level 0 fits the whole space on screen.
pub fn ports_per_cell(level: usize, cells: usize) -> u32 {
    const LEVELS: [u32; 5] = [256, 64, 16, 4, 1];
    if level == 0 {
        (65536u32)
            .div_ceil(u32::try_from(cells.max(1)).unwrap_or(u32::MAX))
            .max(1)
    } else {
        LEVELS[(level - 1).min(LEVELS.len() - 1)]
    }
}

pub const MAX_ZOOM: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, outgoing, snapshot};

    #[test]
    fn classes_follow_ranges_and_sockets() {
        let mut snap = snapshot(vec![listener(8080), listener(40000), outgoing(45000, 5432)]);
        snap.sysctl.ip_local_reserved_ports =
            crate::model::portset::PortSet::parse("9000-9010").unwrap();
        let m = PortMap::build(&snap);
        assert_eq!(m.class(22), PortClass::Free);
        assert_eq!(m.class(8080), PortClass::Listener);
        assert_eq!(m.class(9005), PortClass::Reserved);
        assert_eq!(m.class(40000), PortClass::Conflict);
        assert_eq!(m.class(45000), PortClass::Outgoing);
        assert_eq!(m.class(50000), PortClass::Ephemeral);
        let b = m.block(39936, 40191);
        assert_eq!(
            (b.base, b.top, b.occupied),
            (PortClass::Ephemeral, Some(PortClass::Conflict), 1)
        );
        assert_eq!(m.block(0, 1023).class(), PortClass::Free);
        assert_eq!(m.block(9000, 9015).base, PortClass::Reserved);
        snap.node_port_range = Some([30000, 32767]);
        let m = PortMap::build(&snap);
        assert_eq!(m.class(30080), PortClass::NodePort);
        assert_eq!(m.class(29999), PortClass::Free);
        assert_eq!(m.block(29952, 30207).base, PortClass::NodePort);
    }

    #[test]
    fn zoom_levels() {
        assert_eq!(ports_per_cell(0, 1024), 64);
        assert_eq!(ports_per_cell(0, 1000), 66);
        assert_eq!(ports_per_cell(1, 1000), 256);
        assert_eq!(ports_per_cell(MAX_ZOOM, 1000), 1);
    }
}
