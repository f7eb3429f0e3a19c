//! Socket selection shared by `snapshot` flags and the TUI's `/` filter.

use crate::model::{Proto, Socket, State};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocketFilter {
    /// Listeners, and bound unconnected UDP sockets.
    pub listening: bool,
    /// Local port.
    pub port: Option<u16>,
    pub remote_port: Option<u16>,
    pub state: Option<State>,
    pub proto: Option<Proto>,
}

impl SocketFilter {
    pub fn matches(&self, s: &Socket) -> bool {
        (!self.listening || s.is_listening())
            && self.port.is_none_or(|p| s.local_port == p)
            && self.remote_port.is_none_or(|p| s.remote_port == p)
            && self.state.is_none_or(|st| s.state == st)
            && self.proto.is_none_or(|p| s.proto == p)
    }
}

/// Free-text match for the TUI: every whitespace-separated word must occur in the socket's
/// port, addresses, state, or an owner's command, pid, user, unit or container.
pub fn text_matches(s: &Socket, query: &str) -> bool {
    let query = query.trim().to_lowercase();
    if query.is_empty() {
        return true;
    }
    let mut hay = format!(
        "{} {} {} {} {} {}",
        s.proto,
        s.local(),
        s.remote(),
        s.state.name(),
        s.state.ss_name(),
        if s.autobound {
            "autobound outgoing"
        } else {
            ""
        }
    )
    .to_lowercase();
    if s.kernel_held {
        hay.push_str(" kernel");
    }
    for o in s.owners.iter() {
        hay.push_str(&format!(
            " {} {} {} {} {}",
            o.comm.to_lowercase(),
            o.pid,
            o.user.to_lowercase(),
            o.unit.as_deref().unwrap_or("").to_lowercase(),
            o.container.as_deref().unwrap_or("").to_lowercase()
        ));
    }
    query.split_whitespace().all(|w| {
        // A bare number is a port: match it exactly, not as a substring of 18080.
        if w.bytes().all(|b| b.is_ascii_digit()) {
            s.local_port.to_string() == w
                || s.remote_port.to_string() == w
                || s.owners.iter().any(|o| o.pid.to_string() == w)
        } else {
            hay.contains(w)
        }
    })
}
