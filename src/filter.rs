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

/// Every word of the (lower-cased) query must match: a number as a port or pid exactly (8080
/// is not 18080), anything else as a substring of the haystack.
pub fn text_match(hay: &str, s: &Socket, query: &str) -> bool {
    query.split_whitespace().all(|w| {
        if let Ok(n) = w.parse::<u32>() {
            u32::from(s.local_port) == n
                || u32::from(s.remote_port) == n
                || s.owners.iter().any(|o| o.pid == n)
        } else {
            hay.contains(w)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::{listener, outgoing, with_state};

    fn hit(s: &Socket, q: &str) -> bool {
        text_match(&haystack(s), s, &q.to_lowercase())
    }

    #[test]
    fn numbers_are_exact_ports_or_pids_and_words_are_substrings() {
        let l = listener(8080);
        assert!(hit(&l, "8080"));
        assert!(!hit(&listener(18080), "8080"), "8080 is not 18080");
        assert!(hit(&l, &l.owners[0].pid.to_string()));
        assert!(hit(&l, "SVC listen"), "case-insensitive, every word");
        assert!(!hit(&l, "svc estab"));
        let out = outgoing(45000, 5432);
        assert!(
            hit(&out, "outgoing 5432"),
            "remote port and the autobound mark"
        );
        assert!(hit(
            &with_state(outgoing(8080, 41000), State::TimeWait),
            "kernel time-wait"
        ));
    }
}
