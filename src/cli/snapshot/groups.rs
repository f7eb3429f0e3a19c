//! `portscope snapshot --group-by`: one row per group of sockets, with its count and states.

use crate::analyze::conn_groups::{self, Group, GroupBy};
use crate::cli::out::Stdout;
use crate::model::Snapshot;
use serde::Serialize;
use std::io::{self, Write};

/// The `--group-by --json` document.
#[derive(Serialize)]
struct Grouped<'a> {
    group_by: &'static str,
    /// Sockets grouped (after the filters).
    sockets: usize,
    groups: &'a [Group],
}

pub fn write(out: &mut Stdout, snap: &Snapshot, by: GroupBy, json: bool) -> io::Result<()> {
    let rows: Vec<usize> = (0..snap.sockets.len()).collect();
    let groups = conn_groups::group(&snap.sockets, &rows, by);
    if json {
        return out.json(&Grouped {
            group_by: by.name(),
            sockets: snap.sockets.len(),
            groups: &groups,
        });
    }
    let w = out.text_writer();
    crate::cli::table::write_table(w, ["Count", "Group", "States"], &groups, |g, c| {
        use std::fmt::Write as _;
        let _ = write!(c[0], "{}", g.count);
        c[1].push_str(&g.label);
        for (i, (st, n)) in g.states.iter().enumerate() {
            let sep = if i > 0 { ", " } else { "" };
            let _ = write!(c[2], "{sep}{} {n}", st.ss_name());
        }
    })?;
    writeln!(
        w,
        "\n{} {} in {} {} (by {})",
        snap.sockets.len(),
        if snap.sockets.len() == 1 {
            "socket"
        } else {
            "sockets"
        },
        groups.len(),
        if groups.len() == 1 { "group" } else { "groups" },
        by.name()
    )
}
