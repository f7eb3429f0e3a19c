//! The `--all-netns` socket table: `snapshot`'s table with a namespace column, and a list of the
//! namespaces under it.

use crate::cli::cells::{hidden_labels, push_marks, push_owners, push_user};
use crate::cli::table;
use crate::model::Snapshot;
use std::collections::HashMap;
use std::io::Write;

pub fn write_table(w: &mut impl Write, snap: &Snapshot) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let (mark, text) = hidden_labels(snap);
    let labels: HashMap<u64, &str> = snap
        .namespaces
        .iter()
        .map(|n| (n.inode, n.label.as_str()))
        .collect();
    table::write_table(
        w,
        [
            "Netns", "Netid", "State", "Recv-Q", "Send-Q", "Local", "Peer", "Marks", "User",
            "Process",
        ],
        &snap.sockets,
        |s, c| {
            match labels.get(&s.netns) {
                Some(l) => c[0].push_str(l),
                None => {
                    let _ = write!(c[0], "{}", s.netns);
                }
            }
            c[1].push_str(s.proto.as_str());
            c[2].push_str(s.state.ss_name());
            let _ = write!(c[3], "{}", s.rx_queue);
            let _ = write!(c[4], "{}", s.tx_queue);
            let _ = write!(c[5], "{}", s.local());
            c[6].push_str(&s.remote());
            push_marks(&mut c[7], s, mark);
            push_user(&mut c[8], s);
            push_owners(&mut c[9], s, text);
        },
    )?;
    let unread = snap.namespaces.iter().filter(|n| n.error.is_some()).count();
    writeln!(
        w,
        "\n{} sockets in {} network namespaces (every socket of the one in focus, listeners and UDP elsewhere){}",
        snap.sockets.len(),
        snap.namespaces.len() - unread,
        if unread > 0 {
            format!("; {unread} more could not be read (see the warnings)")
        } else {
            String::new()
        }
    )?;
    for n in &snap.namespaces {
        writeln!(
            w,
            "  net:[{}] {}{}: {} sockets{}{}",
            n.inode,
            n.label,
            n.pid.map_or(String::new(), |p| format!(" (pid {p})")),
            n.sockets,
            if n.full { ", all states" } else { "" },
            n.error
                .as_ref()
                .map_or(String::new(), |e| format!(", unreadable: {e}")),
        )?;
    }
    for warning in &snap.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    Ok(())
}
