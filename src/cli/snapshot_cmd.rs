//! `portscope snapshot`: the socket table like `ss -tanup`, with portscope's marks, or JSON.

use super::{SnapshotArgs, collect_for_cli, failed, table};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::filter::SocketFilter;
use crate::model::{Snapshot, Socket};
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: &SnapshotArgs, netns: &NetnsTarget) -> ExitCode {
    let opts = CollectOptions {
        netns: netns.clone(),
        source: args.source,
        skip_owners: args.no_owners,
    };
    let mut snap = match collect_for_cli(&opts) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let filter = SocketFilter {
        listening: args.listening,
        port: args.port,
        remote_port: args.remote_port,
        state: args.state,
        proto: args.proto,
    };
    snap.sockets.retain(|s| filter.matches(s));
    let out = if args.json {
        match serde_json::to_string_pretty(&snap) {
            Ok(mut j) => {
                j.push('\n');
                j
            }
            Err(e) => return failed(format!("cannot encode JSON: {e}"), 2),
        }
    } else {
        render_table(&snap)
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = stdout.write_all(out.as_bytes());
    ExitCode::SUCCESS
}

/// Marks column: what `ss` cannot tell you at a glance.
pub fn marks(s: &Socket, hidden_label: &str) -> String {
    let mut m = Vec::new();
    if s.autobound {
        m.push("auto".to_string());
    }
    if s.kernel_held {
        m.push("kernel".to_string());
    }
    if s.owner_hidden {
        m.push(hidden_label.to_string());
    }
    if s.v6only == Some(true) {
        m.push("v6only".to_string());
    }
    if let Some(ms) = s.expires_ms {
        m.push(format!("frees in {}s", ms.div_ceil(1000)));
    }
    m.join(",")
}

/// What to call a socket whose owner was not seen: without root, other users' processes are
/// hidden; as root, the owner lives outside this PID namespace or exited mid-scan.
pub fn hidden_labels(snap: &Snapshot) -> (&'static str, &'static str) {
    if snap.stats.processes_hidden > 0 && !snap.stats.is_root {
        ("hidden", "(hidden: run as root)")
    } else {
        ("no-owner", "(owner not found)")
    }
}

pub fn owners_cell(s: &Socket, hidden_text: &str) -> String {
    if s.kernel_held {
        return "(kernel: no process)".into();
    }
    if s.owner_hidden {
        return hidden_text.into();
    }
    s.owners
        .iter()
        .map(|o| match (&o.unit, &o.container) {
            (_, Some(c)) => format!("{}(pid={}) [{c}]", o.comm, o.pid),
            (Some(u), None) => format!("{}(pid={}) [{u}]", o.comm, o.pid),
            _ => format!("{}(pid={})", o.comm, o.pid),
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub fn user_cell(s: &Socket) -> String {
    match s.owners.first() {
        Some(o) => o.user.clone(),
        None if s.kernel_held => "-".into(),
        None => crate::collect::owners::user_name(s.uid),
    }
}

pub fn render_table(snap: &Snapshot) -> String {
    let (mark, text) = hidden_labels(snap);
    let rows: Vec<Vec<String>> = snap
        .sockets
        .iter()
        .map(|s| {
            vec![
                s.proto.to_string(),
                s.state.ss_name().to_string(),
                s.rx_queue.to_string(),
                s.tx_queue.to_string(),
                s.local(),
                s.remote(),
                marks(s, mark),
                user_cell(s),
                owners_cell(s, text),
            ]
        })
        .collect();
    let mut out = table::render(
        &[
            "Netid", "State", "Recv-Q", "Send-Q", "Local", "Peer", "Marks", "User", "Process",
        ],
        &rows,
    );
    let (lo, hi) = snap.sysctl.ephemeral();
    out.push_str(&format!(
        "\n{} sockets ({} kernel-held) from {} in netns {} [{}]; ephemeral {lo}-{hi}, reserved {}\n",
        snap.sockets.len(),
        snap.sockets.iter().filter(|s| s.kernel_held).count(),
        snap.source,
        snap.netns.inode,
        snap.netns.target,
        if snap.sysctl.ip_local_reserved_ports.is_empty() {
            "none".to_string()
        } else {
            snap.sysctl.ip_local_reserved_ports.to_string()
        },
    ));
    for w in &snap.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}
