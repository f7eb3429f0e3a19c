//! The state of an IPv6 address in the calling thread's namespace, from /proc/net/if_inet6:
//! an address under duplicate address detection is on the host but not yet bindable.

pub use crate::model::probe::AddressState;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::net::Ipv6Addr;

const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_TENTATIVE: u32 = 0x40;

/// Looks the address up; None when the table cannot be read (IPv6 disabled).
pub fn ipv6_state(want: Ipv6Addr) -> Option<AddressState> {
    let text = crate::kernel_file::read("/proc/thread-self/net/if_inet6").ok()?;
    Some(state_in(&text, want))
}

/// Lines are "ADDR(32 hex) IFINDEX PREFIXLEN SCOPE FLAGS IFNAME", numbers in hex.
pub fn state_in(table: &str, want: Ipv6Addr) -> AddressState {
    let hex = want.octets().iter().fold(String::new(), |mut s, b| {
        _ = write!(s, "{b:02x}");
        s
    });
    for line in table.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[0] != hex {
            continue;
        }
        let flags = u32::from_str_radix(f[4], 16).unwrap_or(0);
        return if flags & IFA_F_DADFAILED != 0 {
            AddressState::DadFailed
        } else if flags & IFA_F_TENTATIVE != 0 {
            AddressState::Tentative
        } else {
            AddressState::Usable
        };
    }
    AddressState::Absent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read() {
        let t = "fd000000000000000000000000000001 02 40 00 c0     veth0\n\
                 00000000000000000000000000000001 01 80 10 80       lo\n";
        assert_eq!(
            state_in(t, "fd00::1".parse().unwrap()),
            AddressState::Tentative
        );
        assert_eq!(state_in(t, "::1".parse().unwrap()), AddressState::Usable);
        assert_eq!(
            state_in(t, "fd00::2".parse().unwrap()),
            AddressState::Absent
        );
    }
}
