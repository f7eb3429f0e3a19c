//! A refusal in words, for the CLI's lines and the TUI's dialog alike.

use super::{Call, Refusal};
use crate::model::Endpoint;
use crate::model::text::{Kind, Line};
use crate::watch::text::{clock, owner_text};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// The refusal's first line: time, call, errno, what was asked, by whom.
pub fn headline(r: &Refusal, watched: Option<u64>) -> String {
    let asked = match &r.request {
        Some(q) => format!(
            "{} {}",
            q.proto.map_or("tcp/udp?".to_string(), |p| p.to_string()),
            Endpoint(q.address, q.port)
        ),
        None => "(address not seen)".to_string(),
    };
    let by = match &r.owner {
        Some(o) => owner_text(o),
        None => format!("{} (pid {}, exited) user {}", r.comm, r.pid, r.user),
    };
    let mut t = format!(
        "{}  refused {}() {} {asked}  by {by}",
        clock(r.time),
        r.call.as_str(),
        r.errno
    );
    if let Some(ns) = r.netns
        && ns != watched.unwrap_or_else(crate::collect::netns::own_inode)
    {
        _ = write!(t, " netns:[{ns}]");
    }
    t
}

/// The refusal as lines: the headline, the options, why, who held the port, notes. The CLI
/// indents all but the first; the TUI's dialog styles them by kind.
pub fn lines(r: &Refusal, watched: Option<u64>) -> Vec<Line> {
    let mut out = vec![Line::heading(headline(r, watched))];
    if let Some(q) = &r.request
        && r.call == Call::Bind
    {
        out.push(Line::note(format!("options: {}", q.options.text())));
    }
    out.push(Line::new(Kind::Plain, format!("why: {}", r.why)));
    for h in &r.holders {
        let remote = if h.remote_port == 0 {
            String::new()
        } else {
            format!(" -> {}", Endpoint(h.remote_addr, h.remote_port))
        };
        let who = match (&h.owner, &h.note) {
            (Some(o), _) => owner_text(o),
            (None, Some(n)) => n.clone(),
            (None, None) => "owner unknown".into(),
        };
        out.push(Line::new(
            Kind::Plain,
            format!(
                "holder: {} {}{remote} {}  {who}",
                h.proto,
                Endpoint(h.local_addr, h.local_port),
                h.state.ss_name()
            ),
        ));
    }
    for n in &r.notes {
        out.push(Line::note(format!("note: {n}")));
    }
    out
}
