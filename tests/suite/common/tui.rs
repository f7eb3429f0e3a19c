//! TUI test data: the incident recording (assets/incident.json), and the same made IPv6-heavy.

use portscope::model::Snapshot;
use portscope::tui::load_replay;
use std::path::Path;
use std::sync::Arc;

pub fn recording() -> Arc<Snapshot> {
    Arc::new(load_replay(Path::new("assets/incident.json")).expect("assets/incident.json"))
}

/// The recording with every IPv4 address turned into a long IPv6 one: unique local
/// (`fd00:1234:5678:9abc::…`) and IPv4-mapped (`::ffff:127.0.0.1`) in turn, as a dual-stack
/// host shows them.
pub fn ipv6_recording() -> Arc<Snapshot> {
    use std::net::{IpAddr, Ipv6Addr};
    let mut snap = (*recording()).clone();
    let widen = |a: IpAddr, n: usize| match a {
        IpAddr::V4(v4) if n.is_multiple_of(2) => {
            let o = v4.octets();
            IpAddr::V6(Ipv6Addr::new(
                0xfd00,
                0x1234,
                0x5678,
                0x9abc,
                0,
                0,
                u16::from(o[2]),
                u16::from(o[3]),
            ))
        }
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    };
    for (n, s) in snap.sockets.iter_mut().enumerate() {
        s.local_addr = widen(s.local_addr, n);
        if !s.remote_addr.is_unspecified() {
            s.remote_addr = widen(s.remote_addr, n + 1);
        }
        s.family = portscope::model::Family::Ipv6;
    }
    Arc::new(snap)
}

/// Timestamps (RFC 3339, as the detail pane and outcomes print them) replaced with a fixed
/// marker, so renders compare across runs.
pub fn redact_times(text: &str) -> String {
    let b = text.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let fits = b.len() - i >= shape.len()
            && shape.iter().zip(&b[i..]).all(|(s, c)| match s {
                b'd' => c.is_ascii_digit(),
                s => s == c,
            });
        if fits {
            out.push_str("<time>");
            i += shape.len();
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Process names as long as the kernel keeps them (15 characters), one per owner in turn.
pub const LONG_NAMES: [&str; 6] = [
    "containerd-shim",
    "systemd-resolve",
    "prometheus-node",
    "kube-controller",
    "grafana-server",
    "elasticsearch",
];

/// Namespace labels as container runtimes make them: long, alike at the start.
pub const LONG_LABELS: [&str; 3] = [
    "docker: payments-api-7f9c",
    "k8s: kube-system/coredns-5d78c9869d-abcde",
    "netns: blue-team-sandbox",
];

/// The IPv6 recording with long process and unit names: what a busy host shows, where a table
/// that keeps room for blank columns cuts names short.
pub fn long_names_recording() -> Arc<Snapshot> {
    use portscope::escape::Foreign;
    let mut snap = (*ipv6_recording()).clone();
    let mut n = 0;
    for s in &mut snap.sockets {
        let owners: Vec<_> = s
            .owners
            .iter()
            .map(|o| {
                let mut o = (**o).clone();
                o.comm = Foreign::new(LONG_NAMES[n % LONG_NAMES.len()]);
                if let Some(u) = &o.unit {
                    o.unit = Some(Foreign::new(
                        u.to_string()
                            .replace(".service", "-with-a-long-name.service"),
                    ));
                }
                n += 1;
                Arc::new(o)
            })
            .collect();
        s.owners = owners.into();
    }
    Arc::new(snap)
}

/// The long-names recording as an all-namespaces snapshot: the host and three namespaces with
/// long labels, the listeners spread over them.
pub fn all_namespaces_recording() -> Arc<Snapshot> {
    use portscope::model::NetnsSummary;
    let mut snap = (*long_names_recording()).clone();
    snap.netns.target = "all".into();
    let own = snap.netns.inode;
    let inode = |i: usize| if i == 0 { own } else { 100 + i as u64 };
    snap.namespaces = std::iter::once("host")
        .chain(LONG_LABELS)
        .enumerate()
        .map(|(i, label)| NetnsSummary {
            inode: inode(i),
            label: label.to_string(),
            mounts: vec![],
            pid: None,
            own: i == 0,
            full: i == 0,
            sockets: 0,
            error: None,
        })
        .collect();
    for (n, s) in snap.sockets.iter_mut().enumerate() {
        s.netns = inode(n % 4);
    }
    Arc::new(snap)
}
