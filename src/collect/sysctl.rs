//! The port-space sysctls of the calling thread's network namespace.

use crate::model::Sysctls;
use crate::portset::PortSet;

pub const RESERVED_PORTS: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";
pub const PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
pub const UNPRIVILEGED_START: &str = "/proc/sys/net/ipv4/ip_unprivileged_port_start";
const TW_REUSE: &str = "/proc/sys/net/ipv4/tcp_tw_reuse";
const BINDV6ONLY: &str = "/proc/sys/net/ipv6/bindv6only";
const SOMAXCONN: &str = "/proc/sys/net/core/somaxconn";

fn read(path: &str) -> Option<String> {
    crate::kernel_file::read_trimmed(path).ok()
}

/// Reads the settings; a value that cannot be read keeps the kernel default and is reported in
/// the returned warnings, so the map never silently shows a guess as fact.
pub fn read_sysctls() -> (Sysctls, Vec<String>) {
    let mut s = Sysctls::default();
    let mut warnings = Vec::new();
    match read(PORT_RANGE).and_then(|v| {
        let mut it = v.split_whitespace().map(str::parse::<u16>);
        match (it.next(), it.next()) {
            (Some(Ok(lo)), Some(Ok(hi))) => Some([lo, hi]),
            _ => None,
        }
    }) {
        Some(r) => s.ip_local_port_range = r,
        None => warnings.push(format!("could not read {PORT_RANGE}; assuming 32768-60999")),
    }
    match read(RESERVED_PORTS).map(|v| PortSet::parse(&v)) {
        Some(Ok(set)) => s.ip_local_reserved_ports = set,
        _ => warnings.push(format!("could not read {RESERVED_PORTS}; assuming none")),
    }
    match read(UNPRIVILEGED_START).and_then(|v| v.parse().ok()) {
        Some(v) => s.ip_unprivileged_port_start = v,
        None => warnings.push(format!(
            "could not read {UNPRIVILEGED_START}; assuming 1024"
        )),
    }
    s.tcp_tw_reuse = read(TW_REUSE).and_then(|v| v.parse().ok());
    s.bindv6only = read(BINDV6ONLY)
        .and_then(|v| v.parse::<u8>().ok())
        .map(|v| v != 0);
    s.somaxconn = read(SOMAXCONN).and_then(|v| v.parse().ok());
    (s, warnings)
}
