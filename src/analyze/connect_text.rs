//! What to say about a destination's ports, and what to do: ranked, honest remedies.

use super::connect::{ConnectVerdict, PortUse};
use crate::model::{Snapshot, fmt_endpoint};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// "127.0.0.1:5432", or "127.0.0.1 (every port)" for a question about an address.
pub fn dest_words(u: &PortUse) -> String {
    if u.dest_port == 0 {
        format!("{} (every port)", u.dest)
    } else {
        fmt_endpoint(u.dest, u.dest_port)
    }
}

/// The headline sentence.
pub fn summary(u: &PortUse) -> String {
    let mut out = headline(u);
    for n in &u.narrowed {
        _ = write!(
            out,
            "; {} sets IP_LOCAL_PORT_RANGE {}-{} on its sockets ({}-{} inside the namespace's \
             range): {}",
            n.label,
            n.set[0],
            n.set[1],
            n.effective[0],
            n.effective[1],
            if n.available == 0 {
                "none of those ports is left to it, so its connect() fails now".to_string()
            } else {
                format!("{} of those ports are left to it", n.available)
            }
        );
    }
    out
}

fn headline(u: &PortUse) -> String {
    let to = dest_words(u);
    if u.available > 0 && u.narrowed.iter().any(|n| n.available == 0) {
        return format!(
            "connect() to {to} fails for a client whose own port range is used up, while {} \
             of {} usable local ports are left to others",
            u.available, u.usable
        );
    }
    match u.verdict {
        ConnectVerdict::Exhausted => format!(
            "outgoing connections to {to} have used every local port: connect() fails with \
             EADDRNOTAVAIL now (other destinations are not affected: the port only has to be \
             unique per destination)"
        ),
        ConnectVerdict::AtRisk => match u.exhausted_in_s {
            Some(s) => format!(
                "outgoing connections to {to} use {} of {} usable local ports; at {:.1} new \
                 per second the rest last about {s} s",
                u.usable - u.available.min(u.usable),
                u.usable,
                u.rate_per_s.unwrap_or(0.0)
            ),
            None => format!(
                "outgoing connections to {to} use {} of {} usable local ports: connect() fails \
                 once the rest are taken",
                u.usable - u.available.min(u.usable),
                u.usable
            ),
        },
        ConnectVerdict::Ok => format!(
            "connect() to {to} has {} of {} usable local ports left",
            u.available, u.usable
        ),
    }
}

/// How the usable ports come about: "range 40000-40099: 100 ports, 0 reserved, 2 held by bind()".
pub fn range_words(u: &PortUse) -> String {
    format!(
        "range {}-{}: {} ports, {} reserved, {} held by bind() (listeners and bound sockets, \
         never shared with connect())",
        u.range[0], u.range[1], u.range_size, u.reserved, u.bound
    )
}

/// What `tcp_tw_reuse` does for this destination.
pub fn tw_words(u: &PortUse) -> String {
    let setting = match u.tcp_tw_reuse {
        Some(0) => "tcp_tw_reuse=0: connect() never takes over a TIME_WAIT".to_string(),
        Some(1) => "tcp_tw_reuse=1: connect() takes over a TIME_WAIT after 1 s".to_string(),
        Some(2) => "tcp_tw_reuse=2 (the default): connect() takes over a TIME_WAIT after 1 s on \
             loopback only"
            .to_string(),
        Some(n) => format!("tcp_tw_reuse={n}"),
        None => "tcp_tw_reuse could not be read".to_string(),
    };
    format!(
        "TIME_WAIT toward it: {} taken over by connect(), {} holding their port; {setting}",
        u.tw_reusable, u.tw_blocking
    )
}

/// The remedies, most effective and least risky first. Each is a sentence; where a command
/// does it, the command follows after " $ ".
pub fn remedies(u: &PortUse, snap: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(h) = u.holders.iter().find(|h| h.owner.is_some()) {
        out.push(format!(
            "keep connections open and reuse them (a connection pool, HTTP keep-alive): {} \
             holds {} of these ports; each short connection costs a port for {} s of TIME_WAIT \
             after it closes",
            h.label,
            h.ports,
            super::connect::TIME_WAIT_SECS
        ));
    }
    out.push(
        "connect from more source addresses (each adds a whole range toward this destination): \
         add an address and have the client bind it with IP_BIND_ADDRESS_NO_PORT"
            .to_string(),
    );
    let (lo, hi) = (u.range[0], u.range[1]);
    let (new_lo, mut new_hi) = (lo.min(10000), hi.max(65000));
    // ip-sysctl.rst: better with ends of different parity (connect() and bind(0) each start
    // on one parity).
    if new_lo % 2 == new_hi % 2 {
        new_hi -= 1;
    }
    if (new_lo, new_hi) != (lo, hi) {
        let listeners: Vec<String> = snap
            .sockets
            .iter()
            .filter(|s| s.is_listening() && (new_lo..=new_hi).contains(&s.local_port))
            .filter(|s| !(lo..=hi).contains(&s.local_port))
            .map(|s| s.local_port.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut risks = Vec::new();
        if !listeners.is_empty() {
            risks.push(format!(
                "listening ports {} would fall inside it: reserve them (portscope reserve \
                 apply) so a connection cannot take them while they restart",
                listeners.join(",")
            ));
        }
        if let Some([a, b]) = snap.node_port_range
            && a <= new_hi
            && b >= new_lo
        {
            risks.push(format!(
                "it overlaps the NodePort range {a}-{b}: reserve that range first"
            ));
        }
        out.push(format!(
            "widen the ephemeral range (ends of different parity, as the kernel prefers){}{} $ \
             sysctl -w net.ipv4.ip_local_port_range=\"{new_lo} {new_hi}\"",
            if risks.is_empty() { "" } else { "; " },
            risks.join("; ")
        ));
    }
    if u.tw_blocking > 0 && u.tcp_tw_reuse != Some(1) {
        out.push(format!(
            "let connect() take over TIME_WAIT sockets older than 1 s ({} toward this \
             destination now): safe for outgoing connections when TCP timestamps are on \
             (net.ipv4.tcp_timestamps=1, the default); never tcp_tw_recycle (removed in Linux \
             4.12, it broke clients behind NAT) $ sysctl -w net.ipv4.tcp_tw_reuse=1",
            u.tw_blocking
        ));
    }
    out
}

/// What the tables cannot say, for the notes.
pub fn limits() -> Vec<String> {
    vec![
        "a client that bound port 0 itself holds its port from every destination, but the \
         socket tables cannot tell it from connect()'s own choice: it is counted only toward \
         its own destination"
            .to_string(),
        "a socket's own IP_LOCAL_PORT_RANGE (Linux 6.3+) is in no socket table: it is read from \
         the named clients' sockets themselves, for clients running as root only (another \
         user's process could hand portscope a file whose close never returns)"
            .to_string(),
    ]
}

/// One line of the answer about a destination's ports, laid out once: `why --connect` wraps
/// it, the TUI's why field styles it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item<'u> {
    /// "EXHAUSTED  connect() to 127.0.0.1:5432 from 127.0.0.1".
    Verdict(&'u PortUse),
    /// The headline sentence.
    Summary(String),
    /// A fact under it (range, states, TIME_WAIT, a holder, the rate).
    Fact(String),
    Heading(&'static str),
    /// A numbered remedy and the command that does it, if one does.
    Remedy {
        n: usize,
        text: String,
        command: Option<String>,
    },
    /// "... and N more" destinations not shown.
    More(usize),
    Note(String),
    Gap,
}

/// The answer for `uses` (busiest first), the first `shown` of them, then `notes` and the
/// limits of what the tables say.
pub fn outline<'u>(
    uses: &'u [PortUse],
    snap: &Snapshot,
    shown: usize,
    notes: Vec<String>,
) -> Vec<Item<'u>> {
    let mut out = Vec::new();
    for (i, u) in uses.iter().take(shown).enumerate() {
        if i > 0 {
            out.push(Item::Gap);
        }
        out.push(Item::Verdict(u));
        out.push(Item::Summary(summary(u)));
        out.push(Item::Fact(format!(
            "in use {} of {} usable ports ({})",
            u.usable - u.available.min(u.usable),
            u.usable,
            range_words(u)
        )));
        if !u.by_state.is_empty() {
            let states: Vec<String> = u.by_state.iter().map(|(s, n)| format!("{s} {n}")).collect();
            out.push(Item::Fact(format!("by state: {}", states.join(", "))));
        }
        out.push(Item::Fact(tw_words(u)));
        out.extend(
            u.holders
                .iter()
                .map(|h| Item::Fact(format!("{:>6} ports  {}", h.ports, h.label))),
        );
        if let Some(r) = u.rate_per_s {
            out.push(Item::Fact(format!("new connections: {r:.1} per second")));
        }
        if u.verdict != ConnectVerdict::Ok {
            out.push(Item::Gap);
            out.push(Item::Heading("What to do"));
            for (n, r) in remedies(u, snap).into_iter().enumerate() {
                let (text, command) = match r.split_once(" $ ") {
                    Some((t, c)) => (t.to_string(), Some(c.to_string())),
                    None => (r, None),
                };
                out.push(Item::Remedy {
                    n: n + 1,
                    text,
                    command,
                });
            }
        }
    }
    if uses.len() > shown {
        out.push(Item::Gap);
        out.push(Item::More(uses.len() - shown));
    }
    out.push(Item::Gap);
    out.push(Item::Heading("Notes"));
    out.extend(notes.into_iter().chain(limits()).map(Item::Note));
    out
}

/// "{file} sets net.ipv4.tcp_tw_recycle ..." for a sysctl file that still sets it.
pub fn tw_recycle_note(file: &str) -> String {
    format!(
        "{file} sets net.ipv4.tcp_tw_recycle, removed in Linux 4.12 (it broke clients behind \
         NAT): delete that line"
    )
}
