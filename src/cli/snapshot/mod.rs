//! `portscope snapshot`: the socket table like `ss -tanup`, with portscope's marks, or JSON.

mod allns;
mod groups;

use super::cells::{hidden_labels, push_marks, push_owners, push_user};
use super::{CliError, CliResult};
use super::{SnapshotArgs, collect_for_cli, table};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::filter::SocketFilter;
use crate::model::{Snapshot, Socket};
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: &SnapshotArgs, netns: &NetnsTarget) -> CliResult {
    let opts = CollectOptions {
        netns: netns.clone(),
        source: args.source,
        skip_owners: args.no_owners,
        ..Default::default()
    };
    let collected = if args.all_netns {
        if *netns != NetnsTarget::Current {
            return Err(CliError::bad_input(
                "--all-netns reads every namespace: drop --netns",
            ));
        }
        if args.source == crate::collect::SourcePref::Procfs {
            return Err(CliError::bad_input(
                "--all-netns reads sock_diag: drop --source procfs",
            ));
        }
        crate::collect::allns::collect_all(&crate::collect::allns::AllNetnsOptions {
            skip_owners: args.no_owners,
            // Only listeners are shown: no namespace needs the all-states dump.
            listening_only: args.listening,
            bound_inactive: args.bound_inactive,
            one_shot: true,
            ..Default::default()
        })
        .map_err(|e| CliError::failed(e, 1))
    } else {
        collect_for_cli(&opts)
    };
    let mut snap = collected?;
    let filter = SocketFilter {
        listening: args.listening,
        port: args.port,
        remote_port: args.remote_port,
        state: args.state,
        proto: args.proto,
    };
    snap.sockets.retain(|s| filter.matches(s));
    if let Some(query) = &args.filter {
        let words = query.needs_haystack();
        snap.sockets.retain(|s| {
            let hay = if words {
                crate::filter::haystack(s)
            } else {
                String::new()
            };
            query.matches(&hay, s)
        });
    }
    if let Some(key) = args.sort {
        let mut rows: Vec<usize> = (0..snap.sockets.len()).collect();
        crate::analyze::conn_sort::sort_rows(&snap.sockets, &mut rows, key, args.reverse);
        let mut taken: Vec<Option<Socket>> = std::mem::take(&mut snap.sockets)
            .into_iter()
            .map(Some)
            .collect();
        snap.sockets = rows.iter().filter_map(|&i| taken[i].take()).collect();
    }
    let mut out = super::out::Stdout::new();
    if let Some(by) = args.group_by {
        let written = groups::write(&mut out, &snap, by, args.json);
        super::out::record(written.and_then(|()| out.flush()));
        return Ok(ExitCode::SUCCESS);
    }
    let written = if args.json {
        out.json(&snap)
    } else if args.all_netns {
        allns::write_table(out.text_writer(), &snap)
    } else {
        write_table(out.text_writer(), &snap)
    };
    super::out::record(written.and_then(|()| out.flush()));
    Ok(ExitCode::SUCCESS)
}

/// The command the user ran, under sudo: what shows the owners hidden from them.
pub fn with_sudo() -> String {
    // args_os: an argument that is not UTF-8 must not panic here.
    let words: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .map(|a| {
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,+@%".contains(&b))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect();
    format!("sudo {}", words.join(" "))
}

/// Streams the socket table and its summary to `w`.
pub fn write_table(w: &mut impl Write, snap: &Snapshot) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let (mark, text) = hidden_labels(snap);
    table::write_table(
        w,
        [
            "Netid", "State", "Recv-Q", "Send-Q", "Local", "Peer", "Marks", "User", "Process",
        ],
        &snap.sockets,
        |s, c| {
            c[0].push_str(s.proto.as_str());
            c[1].push_str(s.state.ss_name());
            let _ = write!(c[2], "{}", s.rx_queue);
            let _ = write!(c[3], "{}", s.tx_queue);
            let _ = write!(
                c[4],
                "{}",
                crate::model::Endpoint(s.local_addr, s.local_port)
            );
            if s.remote_port == 0 && s.remote_addr.is_unspecified() {
                c[5].push('*');
            } else {
                let _ = write!(
                    c[5],
                    "{}",
                    crate::model::Endpoint(s.remote_addr, s.remote_port)
                );
            }
            push_marks(&mut c[6], s, mark);
            push_user(&mut c[7], s);
            push_owners(&mut c[8], s, text);
        },
    )?;
    let sys = &snap.sysctl;
    let (lo, hi) = sys.ephemeral();
    let range = if sys.known("ip_local_port_range") {
        format!("{lo}-{hi}")
    } else {
        "unknown".into()
    };
    let reserved = if !sys.known("ip_local_reserved_ports") {
        "unknown".to_string()
    } else if sys.ip_local_reserved_ports.is_empty() {
        "none".to_string()
    } else {
        sys.ip_local_reserved_ports.to_string()
    };
    writeln!(
        w,
        "\n{} sockets ({} kernel-held) from {} in {}; ephemeral {range}, reserved {reserved}",
        snap.sockets.len(),
        snap.sockets.iter().filter(|s| s.kernel_held).count(),
        snap.source,
        netns_words(snap),
    )?;
    for warning in &snap.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    if crate::analyze::hidden_by_permissions(snap) && snap.stats.owner_hidden > 0 {
        writeln!(
            w,
            "other users' processes are hidden without root: {} shows them",
            with_sudo()
        )?;
    }
    Ok(())
}

/// The namespace the table is from, as a person says it: "the host's network namespace
/// (net:[4026531840])", "the network namespace of pid 42 (net:[4026532301])".
fn netns_words(snap: &Snapshot) -> String {
    // Only a namespace known to be pid 1's is called the host's (not a sandbox's own).
    let host = crate::collect::netns::is_host_inode(snap.netns.inode, || false);
    let name = if host {
        "the host's network namespace".to_string()
    } else {
        NetnsTarget::from_description(&snap.netns.target).phrase()
    };
    format!("{name} (net:[{}])", snap.netns.inode)
}
