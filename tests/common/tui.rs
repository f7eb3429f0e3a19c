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
#[allow(dead_code)] // not every test binary that includes the kit renders
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
