//! What kind of socket: protocol, address family, and state with the kernel's names.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Proto {
    type Err = super::UnknownName;
    fn from_str(s: &str) -> Result<Self, super::UnknownName> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(super::UnknownName::expected("protocol", s, "tcp or udp")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

/// Socket state with the kernel's TCP state names; `Unconn` is an unconnected UDP socket
/// (the kernel's TCP_CLOSE for UDP), as `ss` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Listen,
    Established,
    SynSent,
    SynRecv,
    #[serde(rename = "FIN_WAIT1")]
    FinWait1,
    #[serde(rename = "FIN_WAIT2")]
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Closing,
    Unconn,
    /// A TCP socket bound but neither listening nor connected (TCP_CLOSE in the bind table):
    /// it holds its port. Reported since Linux 6.8 when asked for (`ss -B`).
    BoundInactive,
}

impl State {
    pub const ALL: [State; 13] = [
        State::Listen,
        State::Established,
        State::SynSent,
        State::SynRecv,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Close,
        State::CloseWait,
        State::LastAck,
        State::Closing,
        State::Unconn,
        State::BoundInactive,
    ];

    /// Maps the kernel's numeric state (include/net/tcp_states.h) for a protocol.
    pub fn from_kernel(proto: Proto, code: u8) -> Option<State> {
        Some(match code {
            1 => State::Established,
            2 => State::SynSent,
            3 | 12 => State::SynRecv, // 12 = TCP_NEW_SYN_RECV, a request socket
            4 => State::FinWait1,
            5 => State::FinWait2,
            6 => State::TimeWait,
            7 if proto == Proto::Udp => State::Unconn,
            // A closed TCP socket is in no hash table: the only ones a dump returns are those
            // still bound (bit 13 of the request, TCP_BOUND_INACTIVE).
            7 => State::BoundInactive,
            8 => State::CloseWait,
            9 => State::LastAck,
            10 => State::Listen,
            11 => State::Closing,
            _ => return None,
        })
    }

    /// The JSON spelling, e.g. `TIME_WAIT`.
    pub fn name(self) -> &'static str {
        match self {
            State::Listen => "LISTEN",
            State::Established => "ESTABLISHED",
            State::SynSent => "SYN_SENT",
            State::SynRecv => "SYN_RECV",
            State::FinWait1 => "FIN_WAIT1",
            State::FinWait2 => "FIN_WAIT2",
            State::TimeWait => "TIME_WAIT",
            State::Close => "CLOSE",
            State::CloseWait => "CLOSE_WAIT",
            State::LastAck => "LAST_ACK",
            State::Closing => "CLOSING",
            State::Unconn => "UNCONN",
            State::BoundInactive => "BOUND_INACTIVE",
        }
    }

    /// The spelling `ss` uses, so the table reads like the tool people know.
    pub fn ss_name(self) -> &'static str {
        match self {
            State::Listen => "LISTEN",
            State::Established => "ESTAB",
            State::SynSent => "SYN-SENT",
            State::SynRecv => "SYN-RECV",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Close => "CLOSE",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Closing => "CLOSING",
            State::Unconn => "UNCONN",
            State::BoundInactive => "BOUND",
        }
    }
}

impl std::str::FromStr for State {
    type Err = super::UnknownName;
    /// Accepts the JSON name, the `ss` name, and common short forms (`estab`, `tw`).
    fn from_str(s: &str) -> Result<Self, super::UnknownName> {
        let norm: String = s
            .trim()
            .to_ascii_uppercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        let alias = match norm.as_str() {
            "ESTAB" => Some(State::Established),
            "TW" => Some(State::TimeWait),
            "LISTENING" => Some(State::Listen),
            "CLOSED" => Some(State::Close),
            "BOUND" | "BOUNDINACTIVE" => Some(State::BoundInactive),
            _ => None,
        };
        alias
            .or_else(|| {
                State::ALL
                    .into_iter()
                    .find(|st| st.name().replace('_', "") == norm)
            })
            .ok_or_else(|| {
                let names: Vec<_> = State::ALL.iter().map(|s| s.name()).collect();
                super::UnknownName::expected("state", s, &format!("one of {}", names.join(", ")))
            })
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
