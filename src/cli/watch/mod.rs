//! `portscope watch PORT[,PORT...]`: who takes, leaves or changes state on a port, as it happens.

pub mod failures;

use super::{CliError, CliResult};
use crate::model::{Endpoint, Proto};
use crate::watch::{Report, SourceInfo, WatchEvent, WatchOptions};
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct PortList(pub Vec<u16>);

/// "8080", "8080,8443": at most 64 ports (the kernel filter grows with each).
pub fn parse_ports(s: &str) -> Result<PortList, super::ArgError> {
    let mut out = Vec::new();
    for tok in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let p = super::parse_port_arg(tok)?;
        if p == 0 {
            return Err(super::ArgError::PortZero);
        }
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.is_empty() {
        return Err(super::ArgError::NoPort(s.to_string()));
    }
    if out.len() > 64 {
        return Err(super::ArgError::TooManyPorts(out.len()));
    }
    Ok(PortList(out))
}

pub use super::duration::parse_duration;

fn parse_poll_interval(s: &str) -> Result<Duration, super::duration::DurationError> {
    super::duration::parse_within(
        s,
        Duration::from_millis(5),
        Duration::from_secs(10),
        "5ms to 10s",
    )
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The ports to watch, comma-separated (at most 64). With --failures: only refusals on
    /// these ports (bind's local port, connect's destination port); without, every one.
    #[arg(value_name = "PORT[,PORT...]", value_parser = parse_ports,
          required_unless_present = "failures")]
    pub ports: Option<PortList>,
    /// The flight recorder: every bind() and connect() the kernel refuses on the host, in every
    /// network namespace, with the caller, what it asked for and who held the port at that
    /// moment (root, or CAP_BPF + CAP_PERFMON).
    #[arg(long, conflicts_with_all = ["poll", "binds"])]
    pub failures: bool,
    /// Only tcp or only udp (UDP is always polled: it has no state tracepoint).
    #[arg(long, value_name = "PROTO", value_parser = super::choices::choices::<crate::model::Proto>())]
    pub proto: Option<Proto>,
    /// Stop after this long (30s, 5m, 1h); default: until interrupted.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// One JSON object per line (the first says which source is in use).
    #[arg(long)]
    pub json: bool,
    /// Poll sock_diag even where the tracepoint is available.
    #[arg(long)]
    pub poll: bool,
    /// Interval of the polling source (default 20ms).
    #[arg(long, value_name = "DURATION", default_value = "20ms", value_parser = parse_poll_interval)]
    pub poll_interval: Duration,
    /// Also trace bind() with a small BPF program: UDP and bind-only TCP holders, and binds
    /// the kernel refused (root or CAP_BPF + CAP_PERFMON).
    #[arg(long)]
    pub binds: bool,
    /// Also append every change to this history log (read it with `portscope history FILE`).
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
    /// With --record: turn the log over past this many megabytes (it becomes FILE.1).
    #[arg(long, value_name = "MB", requires = "record",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub record_max_mb: Option<u64>,
    /// With --record: turn the log over once it is this old (12h, 7d).
    #[arg(long, value_name = "DURATION", requires = "record", value_parser = parse_duration)]
    pub record_max_age: Option<Duration>,
    /// With --record-max-mb or --record-max-age: how many old logs to keep (FILE.1 ..).
    #[arg(long, value_name = "N", default_value_t = 5, requires = "record",
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub record_keep: u32,
}

impl WatchArgs {
    /// The history log of `--record`, opened for `writer` with its rotation: a path that cannot
    /// be used is the user's input (2), a full disk or an I/O error the system's (1).
    pub fn recorder(
        &self,
        writer: &str,
        ports: &[u16],
    ) -> Result<Option<crate::history::Recorder>, CliError> {
        let Some(path) = &self.record else {
            return Ok(None);
        };
        match crate::history::Recorder::open_as(path, writer, ports) {
            Ok(r) => Ok(Some(match self.rotation() {
                Some(rot) => r.with_rotation(rot),
                None => r,
            })),
            Err(e) => {
                let msg = format!("cannot record to {}: {e}", path.display());
                Err(if crate::history::log::is_system_failure(&e) {
                    CliError::failed(msg, 1)
                } else {
                    CliError::bad_input(msg)
                })
            }
        }
    }

    /// The recorder's log rotation, when asked for.
    pub fn rotation(&self) -> Option<crate::history::rotate::Rotation> {
        (self.record_max_mb.is_some() || self.record_max_age.is_some()).then(|| {
            crate::history::rotate::Rotation {
                max_bytes: self.record_max_mb.map_or(u64::MAX, |m| m * 1_000_000),
                max_age: self.record_max_age.unwrap_or(Duration::MAX),
                keep: self.record_keep,
            }
        })
    }
}

#[derive(Serialize)]
pub(super) struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    pub(super) ty: &'a str,
    #[serde(flatten)]
    pub(super) body: &'a T,
}

pub use crate::watch::text::{clock, owner_text};

/// One event as a line. `watched` is the namespace named with `--netns` (its events need no
/// label); without it, an event outside portscope's own namespace names its namespace.
pub fn event_text(e: &WatchEvent, watched: Option<u64>) -> String {
    let remote = if e.remote_port == 0 && e.remote_addr.is_unspecified() {
        "*".to_string()
    } else {
        Endpoint(e.remote_addr, e.remote_port).to_string()
    };
    let state = match e.old_state {
        Some(old) if old != e.state => format!("{}->{}", old.ss_name(), e.state.ss_name()),
        _ => e.state.ss_name().to_string(),
    };
    let mut t = format!(
        "{}  {:<5} {} {} {} {}",
        clock(e.time),
        e.event.as_str(),
        e.proto,
        Endpoint(e.local_addr, e.local_port),
        remote,
        state
    );
    if e.kernel_chosen == Some(true) {
        t.push_str(" kernel-chosen port");
    }
    match &e.owner {
        Some(o) => {
            t.push_str("  ");
            t.push_str(&owner_text(o));
            match e.owner_via {
                Some(crate::watch::OwnerVia::Connect) => t.push_str(" (its connect)"),
                Some(crate::watch::OwnerVia::Listener) => t.push_str(" (accepted by its listener)"),
                Some(crate::watch::OwnerVia::Scan) => t.push_str(" (by fd scan)"),
                _ => {}
            }
        }
        None => t.push_str("  owner unknown"),
    }
    if let Some(ns) = e.netns
        && ns != watched.unwrap_or_else(crate::collect::netns::own_inode)
    {
        _ = write!(t, " netns:[{ns}]");
    }
    if let Some(n) = &e.note {
        _ = write!(t, " [{n}]");
    }
    t
}

fn source_text(ports: &[u16], info: &SourceInfo) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    let place = info
        .netns
        .as_ref()
        .map(|n| format!(" in network namespace {n}"))
        .unwrap_or_default();
    let mut t = format!(
        "portscope watch {}{place}: source {}: {}\n",
        ports.join(","),
        info.source,
        info.detail
    );
    for n in &info.notes {
        _ = writeln!(t, "  note: {n}");
    }
    t
}

pub fn run(args: &WatchArgs, netns: &crate::collect::NetnsTarget) -> CliResult {
    if args.failures {
        return failures::run(args, netns);
    }
    let Some(PortList(ports)) = &args.ports else {
        return Err(CliError::bad_input(
            "watch needs PORT[,PORT...] (or --failures)",
        ));
    };
    // Events in the watched namespace carry no label in text: it is named once, on top.
    let watched = match netns {
        crate::collect::NetnsTarget::Current => None,
        t => t.inode(),
    };
    let opts = WatchOptions {
        netns: netns.clone(),
        ports: ports.clone(),
        proto: args.proto,
        until: args.duration.map(|d| Instant::now() + d),
        force_poll: args.poll,
        poll_interval: args.poll_interval,
        binds: args.binds,
    };
    let mut recorder = args.recorder("watch", ports)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let json = args.json;
    let ports = ports.clone();
    let mut record_error = None;
    let result = crate::watch::run(&opts, &mut |r| {
        if let Some(rec) = recorder.as_mut()
            && let Report::Event(e) = &r
            && let Err(err) = rec.append_event(e)
        {
            record_error = Some(err.to_string());
            return false;
        }
        let line = match (&r, json) {
            (Report::Source(i), true) => serde_json::to_string(&Line {
                ty: "source",
                body: *i,
            }),
            (Report::Event(e), true) => serde_json::to_string(&Line {
                ty: "event",
                body: *e,
            }),
            (Report::Lost(n), true) => Ok(format!("{{\"type\":\"lost\",\"count\":{n}}}")),
            (Report::Resolution(ms), true) => Ok(format!(
                "{{\"type\":\"resolution\",\"resolution_ms\":{ms:.1}}}"
            )),
            (Report::Source(i), false) => Ok(source_text(&ports, i).trim_end().to_string()),
            (Report::Event(e), false) => Ok(event_text(e, watched)),
            (Report::Lost(n), false) => Ok(format!(
                "!! the kernel dropped {n} events (ring full): some changes are missing"
            )),
            (Report::Resolution(ms), false) => Ok(format!(
                "!! polling fell behind: now one look every {ms:.0} ms; shorter holders may be missed"
            )),
        };
        let Ok(line) = line else { return false };
        // A failed write ends the watch; `out::finish` makes it status 1, quietly for a
        // closed pipe (| head).
        super::out::record(writeln!(out, "{line}").and_then(|()| out.flush()))
    });
    if let Some(e) = record_error {
        return Err(CliError::failed(format!("recording failed: {e}"), 1));
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CliError::failed(e, 1)),
    }
}
