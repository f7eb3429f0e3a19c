//! `portscope history FILE [--port P] [--at TIME]`: who held a port, from a recorded log.

/// A line of output through [`super::out::print`]: escaped, and a failed write (`| head`, a
/// full disk) is the command's status 1, never a panic as `println!` would.
macro_rules! say {
    ($($arg:tt)*) => {
        super::out::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

use super::watch_cmd::{clock, owner_text};
use super::{CliError, CliResult};
use crate::escape::escape_field as foreign;
use crate::history::{Change, ChangeKind, History};
use crate::model::Endpoint;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A log written by `portscope watch --record FILE` or `portscope --record FILE`.
    #[arg(value_name = "FILE")]
    pub file: std::path::PathBuf,
    /// Only this local port.
    #[arg(long, value_name = "PORT", value_parser = super::parse_port_arg)]
    pub port: Option<u16>,
    /// Who held the port at this moment: 03:12:05 (local time, on the recording's day),
    /// "2026-11-22 03:12:05", or an RFC 3339 timestamp.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses TIME against the recording's span: a bare time of day means the day (in local time)
/// on which it falls inside the recording, or the recording's first day.
pub fn parse_at(
    s: &str,
    span: Option<(jiff::Timestamp, jiff::Timestamp)>,
) -> Result<jiff::Timestamp, super::ArgError> {
    use super::ArgError;
    let tz = jiff::tz::TimeZone::system();
    let t = s.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        return dt
            .to_zoned(tz)
            .map(|z| z.timestamp())
            .map_err(|e| ArgError::time(s, &e));
    }
    let time: jiff::civil::Time = t.parse().map_err(|_| ArgError::NotATime(s.to_string()))?;
    let Some((first, last)) = span else {
        let today = jiff::Zoned::now().with_time_zone(tz.clone()).date();
        return today
            .to_datetime(time)
            .to_zoned(tz)
            .map(|z| z.timestamp())
            .map_err(|e| ArgError::time(s, &e));
    };
    let first_day = first.to_zoned(tz.clone()).date();
    let last_day = last.to_zoned(tz.clone()).date();
    let mut day = first_day;
    let mut fallback = None;
    while day <= last_day {
        let ts = day
            .to_datetime(time)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|e| ArgError::time(s, &e))?;
        fallback.get_or_insert(ts);
        if ts >= first && ts <= last {
            return Ok(ts);
        }
        // The last day jiff knows: the recording cannot run past it.
        let Ok(next) = day.tomorrow() else { break };
        day = next;
    }
    fallback.ok_or_else(|| ArgError::NotInRecording(s.to_string()))
}

fn change_text(c: &Change) -> String {
    let remote = if c.remote_port == 0 && c.remote_addr.is_unspecified() {
        "*".to_string()
    } else {
        Endpoint(c.remote_addr, c.remote_port).to_string()
    };
    let verb = match c.kind {
        ChangeKind::Present => "present",
        ChangeKind::Appeared => "took",
        ChangeKind::Changed => "changed",
        ChangeKind::Gone => "released",
        ChangeKind::Restart => "restart",
    };
    let state = match c.old_state {
        Some(o) if o != c.state && c.kind != ChangeKind::Gone => {
            format!("{}->{}", o.ss_name(), c.state.ss_name())
        }
        _ => c.state.ss_name().to_string(),
    };
    let who = if c.owners.is_empty() {
        "owner unknown".to_string()
    } else {
        c.owners
            .iter()
            .map(|o| owner_text(o))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = if c.kernel_chosen == Some(true) {
        " kernel-chosen port"
    } else {
        ""
    };
    format!(
        "{} {} {:<8} {} {} {} {state}{chosen}  {who}",
        c.at.to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d"),
        clock(c.at),
        verb,
        c.proto,
        Endpoint(c.local_addr, c.local_port),
        remote,
    )
}

pub fn run(args: &HistoryArgs) -> CliResult {
    let loaded = match crate::history::log::read(&args.file) {
        Ok(l) => l,
        Err(e) => return Err(CliError::bad_input(e)),
    };
    let mut notes = Vec::new();
    if loaded.torn_tail {
        notes.push(
            "the last record was cut short (a crash or a kill mid-write) and is ignored"
                .to_string(),
        );
    }
    if loaded.damaged > 0 {
        notes.push(format!(
            "{} damaged records skipped (checksum mismatch)",
            loaded.damaged
        ));
    }
    let history = History::from_changes(loaded.changes);
    let at = match args.at.as_deref().map(|a| parse_at(a, history.span())) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Err(CliError::bad_input(e)),
        None => None,
    };
    if args.json {
        let doc = match at {
            Some(t) => {
                let table = history.table_at(t);
                serde_json::json!({
                    "at": t,
                    "port": args.port,
                    "holders": table.on_port(args.port),
                    "span": history.span(),
                    "notes": notes,
                })
            }
            None => serde_json::json!({
                "port": args.port,
                "changes": history.timeline(args.port).collect::<Vec<_>>(),
                "span": history.span(),
                "notes": notes,
            }),
        };
        super::out::print_json(&doc);
        return Ok(ExitCode::SUCCESS);
    }
    for n in &notes {
        say!("note: {}", foreign(n));
    }
    let what = args
        .port
        .map_or("any port".to_string(), |p| format!("port {p}"));
    match at {
        Some(t) => {
            if let Some((first, last)) = history.span()
                && (t < first || t > last)
            {
                say!(
                    "note: {} is outside the recording ({} to {}): what is shown is the state at its {}",
                    clock(t),
                    clock(first),
                    clock(last),
                    if t < first {
                        "start (nothing yet)"
                    } else {
                        "end"
                    }
                );
            }
            let table = history.table_at(t);
            let holders = table.on_port(args.port);
            if holders.is_empty() {
                say!("nobody held {what} at {}", clock(t));
            } else {
                say!("{what} at {}:", clock(t));
                for c in holders {
                    say!("  {}", change_text(c));
                }
            }
        }
        None => {
            let mut any = false;
            for c in history.timeline(args.port) {
                any = true;
                say!("{}", change_text(c));
            }
            if !any {
                say!("no changes on {what} in {}", args.file.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
