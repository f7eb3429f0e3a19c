//! Socket selection shared by `snapshot` flags and the TUI's `/` filter.

mod query;
#[cfg(test)]
mod tests;

pub use query::{FIELDS, Query, QueryError, TermError};

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

/// The lower-cased text a socket is searched by: protocol, endpoints, state (both spellings),
/// marks, and each owner's command, user and unit or container. Built once per snapshot.
pub fn haystack(s: &Socket) -> String {
    let mut h = format!(
        "{} {} {} {} {}",
        s.proto,
        s.local(),
        s.remote(),
        s.state.name(),
        s.state.ss_name()
    );
    if s.autobound {
        h.push_str(" autobound outgoing");
    }
    if s.kernel_held {
        h.push_str(" kernel");
    }
    for o in s.owners.iter() {
        h.push(' ');
        // As shown (escaped): what a person can read on screen is what they can type.
        h.push_str(&o.comm.shown());
        h.push(' ');
        h.push_str(&o.user.shown());
        if let Some(u) = crate::workload::place(o) {
            h.push(' ');
            h.push_str(&u);
        }
    }
    h.to_lowercase()
}

/// Whether `s` matches `query` (see `Query`): every term must hold; a number alone is a port or
/// pid exactly (8080 is not 18080), other free words substrings of the haystack. Parses on each
/// call; a query that does not parse (a field still being typed) is taken word by word as free
/// text, as the filter was before it had fields.
pub fn text_match(hay: &str, s: &Socket, query: &str) -> bool {
    Query::parse(query)
        .unwrap_or_else(|_| Query::words_only(query))
        .matches(hay, s)
}
