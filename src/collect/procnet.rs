//! Fallback source: /proc/net/{tcp,tcp6,udp,udp6} text, read from /proc/thread-self so that a
//! thread inside another namespace reads that namespace's tables. Slower than netlink and blind
//! to `autobound` and `v6only`; used only when sock_diag is unavailable.

use crate::model::{Family, Proto, Socket, State};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn hex_u32(s: &str) -> Option<u32> {
    u32::from_str_radix(s, 16).ok()
}

/// Addresses are printed as the in-memory (network order) words read as host integers.
fn parse_addr(hex: &str, family: Family) -> Option<IpAddr> {
    match family {
        Family::Ipv4 => Some(IpAddr::V4(Ipv4Addr::from(hex_u32(hex)?.to_ne_bytes()))),
        Family::Ipv6 => {
            if hex.len() != 32 {
                return None;
            }
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4]
                    .copy_from_slice(&hex_u32(&hex[i * 8..i * 8 + 8])?.to_ne_bytes());
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
    }
}

fn parse_endpoint(s: &str, family: Family) -> Option<(IpAddr, u16)> {
    let (a, p) = s.split_once(':')?;
    Some((parse_addr(a, family)?, u16::from_str_radix(p, 16).ok()?))
}

/// Parses one table line; `ticks_per_sec` converts the timer column to milliseconds.
pub fn parse_line(line: &str, proto: Proto, family: Family, ticks_per_sec: u64) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 || !f[0].ends_with(':') {
        return None;
    }
    let (local_addr, local_port) = parse_endpoint(f[1], family)?;
    let (remote_addr, remote_port) = parse_endpoint(f[2], family)?;
    let state = State::from_kernel(proto, u8::from_str_radix(f[3], 16).ok()?)?;
    let (tx, rx) = f[4].split_once(':')?;
    let (timer, when) = f[5].split_once(':')?;
    let inode: u64 = f[9].parse().ok()?;
    let expires_ms = (timer == "03").then(|| {
        u32::try_from(u64::from(hex_u32(when).unwrap_or(0)) * 1000 / ticks_per_sec.max(1))
            .unwrap_or(u32::MAX)
    });
    Some(Socket {
        proto,
        family,
        state,
        local_addr,
        local_port,
        remote_addr,
        remote_port,
        inode,
        cookie: 0,
        uid: f[7].parse().ok()?,
        rx_queue: hex_u32(rx)?,
        tx_queue: hex_u32(tx)?,
        autobound: false,
        v6only: None,
        expires_ms,
        kernel_held: inode == 0,
        owner_hidden: false,
        accept_queue: false,
        owners: crate::model::no_owners(),
        published: None,
        netns: 0,
    })
}

/// Reads all four tables of the calling thread's namespace.
pub fn all_sockets() -> std::io::Result<Vec<Socket>> {
    all_sockets_in("/proc/thread-self/net")
}

/// Reads the four tables under `dir`: `/proc/PID/net` is PID's namespace, readable by anyone.
pub fn all_sockets_in(dir: &str) -> std::io::Result<Vec<Socket>> {
    let ticks = procfs::ticks_per_second();
    let mut out = Vec::new();
    for (file, proto, family) in [
        ("tcp", Proto::Tcp, Family::Ipv4),
        ("tcp6", Proto::Tcp, Family::Ipv6),
        ("udp", Proto::Udp, Family::Ipv4),
        ("udp6", Proto::Udp, Family::Ipv6),
    ] {
        let text = match crate::kernel_file::read_capped(
            std::path::Path::new(&format!("{dir}/{file}")),
            crate::kernel_file::MAX_TABLE,
        ) {
            Ok(t) => t,
            // IPv6 disabled: no table, no sockets.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.extend(
            text.lines()
                .skip(1)
                .filter_map(|l| parse_line(l, proto, family, ticks)),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_lines() {
        let l = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0";
        let s = parse_line(l, Proto::Tcp, Family::Ipv4, 100).unwrap();
        assert_eq!(s.local(), "127.0.0.1:8080");
        assert_eq!(s.state, State::Listen);
        assert_eq!((s.inode, s.rx_queue), (12345, 2));
        let tw = "   1: 0100007F:1F90 0100007F:D431 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3 0000000000000000";
        let s = parse_line(tw, Proto::Tcp, Family::Ipv4, 100).unwrap();
        assert_eq!(s.state, State::TimeWait);
        assert_eq!(s.expires_ms, Some(30_000));
        assert!(s.kernel_held);
        let v6 = "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0";
        let s = parse_line(v6, Proto::Tcp, Family::Ipv6, 100).unwrap();
        assert_eq!(s.local(), "[::1]:8080");
        let udp = "  10: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 777 2 0";
        let s = parse_line(udp, Proto::Udp, Family::Ipv4, 100).unwrap();
        assert_eq!((s.state, s.uid), (State::Unconn, 101));
        assert!(parse_line("  sl  local_address", Proto::Tcp, Family::Ipv4, 100).is_none());
    }
}
