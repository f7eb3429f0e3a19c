//! `portscope why --connect DST[:PORT]`: why connect() to a destination fails with
//! EADDRNOTAVAIL (or soon will): its local ports, per destination, the kernel's way.

use crate::analyze::connect::{ConnectVerdict, PortUse, toward_each, unmapped};
use crate::analyze::connect_text as text;
use crate::cli::{CliResult, WhyArgs, collect_for_cli, wrap};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::model::Snapshot;
use crate::target::ConnectTarget;
use std::collections::HashSet;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::net::IpAddr;
use std::process::ExitCode;

pub fn run(args: &WhyArgs, target: &ConnectTarget, netns: &NetnsTarget) -> CliResult {
    let opts = CollectOptions {
        netns: netns.clone(),
        ..CollectOptions::default()
    };
    let mut snap = collect_for_cli(&opts)?;
    let mut uses = uses(&snap, target);
    if let Some(interval) = args.sample {
        // Two looks: connections toward the destination that are new in the second.
        let before = connection_ids(&snap, target);
        std::thread::sleep(interval);
        snap = collect_for_cli(&opts)?;
        let after = connection_ids(&snap, target);
        let secs = interval.as_secs_f64();
        uses = self::uses(&snap, target)
            .into_iter()
            .map(|u| {
                let new = after
                    .iter()
                    .filter(|(d, p, _)| *d == u.dest && *p == u.dest_port)
                    .filter(|id| !before.contains(id))
                    .count();
                u.with_rate(new, secs)
            })
            .collect();
    }
    let uses: Vec<PortUse> = uses.into_iter().map(|u| socket_ranges(&snap, u)).collect();
    let recycle = tw_recycle_settings();
    let exhausted = uses.iter().any(|u| u.verdict == ConnectVerdict::Exhausted);
    if args.json {
        let remedies: Vec<Vec<String>> = uses.iter().map(|u| text::remedies(u, &snap)).collect();
        let v = serde_json::json!({
            "connect": uses,
            "remedies": remedies,
            "notes": text::limits(),
            "tcp_tw_recycle_set_in": recycle,
        });
        crate::cli::out::print_json(&v);
    } else {
        crate::cli::out::print(&render(&uses, &snap, &recycle, args.all));
    }
    Ok(if exhausted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn uses(snap: &Snapshot, target: &ConnectTarget) -> Vec<PortUse> {
    toward_each(snap, &target.addrs, target.port)
}

/// Reads the named clients' own IP_LOCAL_PORT_RANGE from one of their sockets toward the
/// destination (no table has it), and counts what is left to each inside it.
fn socket_ranges(snap: &Snapshot, mut u: PortUse) -> PortUse {
    let owners: Vec<_> = u.holders.iter().filter_map(|h| h.owner.clone()).collect();
    for o in owners {
        let sock = snap.sockets.iter().find(|s| {
            s.inode != 0
                && s.remote_port == u.dest_port
                && unmapped(s.remote_addr) == u.dest
                && unmapped(s.local_addr) == u.source
                && s.owners.iter().any(|x| x.pid == o.pid)
        });
        if let Some(s) = sock
            && let Some(set) = crate::collect::socket_range::of(&o, s.inode)
        {
            u = u.with_socket_range(snap, &o.label(), set);
        }
    }
    u
}

type ConnId = (IpAddr, u16, (u16, u64, u64));

/// Each connection toward the target: its destination and what tells it from a later one
/// on the same port (the socket's inode and cookie).
fn connection_ids(snap: &Snapshot, target: &ConnectTarget) -> HashSet<ConnId> {
    snap.sockets
        .iter()
        .filter(|s| s.proto == crate::model::Proto::Tcp && s.remote_port != 0)
        .filter(|s| {
            target
                .addrs
                .iter()
                .any(|a| unmapped(*a) == unmapped(s.remote_addr))
        })
        .filter(|s| target.port.is_none_or(|p| p == s.remote_port))
        .map(|s| {
            (
                unmapped(s.remote_addr),
                s.remote_port,
                (s.local_port, s.inode, s.cookie),
            )
        })
        .collect()
}

/// Files that still set `net.ipv4.tcp_tw_recycle` (gone since Linux 4.12: sysctl fails on it).
fn tw_recycle_settings() -> Vec<String> {
    let layout = crate::reserve::sysctld::SysctlLayout::system();
    crate::reserve::sysctld::effective_files(&layout)
        .into_iter()
        .filter(|f| {
            crate::safefs::read_text(f, crate::safefs::Links::Follow, 1 << 20).is_ok_and(|t| {
                t.lines().any(|l| {
                    let l = l.trim_start();
                    !l.starts_with('#') && !l.starts_with(';') && l.contains("tcp_tw_recycle")
                })
            })
        })
        .map(|f| f.display().to_string())
        .collect()
}

fn render(uses: &[PortUse], snap: &Snapshot, recycle: &[String], all: bool) -> String {
    use crate::analyze::connect_text::Item;
    let shown = if all { uses.len() } else { uses.len().min(3) };
    let notes = recycle.iter().map(|f| text::tw_recycle_note(f)).collect();
    let mut o = String::new();
    for item in text::outline(uses, snap, shown, notes) {
        match item {
            Item::Verdict(u) => {
                _ = writeln!(
                    o,
                    "{}  connect() to {} from {}",
                    u.verdict.label(),
                    text::dest_words(u),
                    u.source
                );
            }
            Item::Summary(t) => o.push_str(&wrap(&t, 80, "")),
            Item::Fact(t) => o.push_str(&wrap(&t, 80, "  ")),
            Item::Heading(h) => _ = writeln!(o, "{h}"),
            Item::Remedy { n, text, command } => {
                o.push_str(&wrap(&text, 80, &format!("  {n}. ")));
                if let Some(c) = command {
                    // A command is never wrapped: it must paste as one line.
                    _ = writeln!(o, "     $ {c}");
                }
            }
            Item::More(n) => _ = writeln!(o, "... and {n} more (--all lists them)"),
            Item::Note(n) => o.push_str(&wrap(&n, 80, "  - ")),
            Item::Gap => o.push('\n'),
        }
    }
    o
}
