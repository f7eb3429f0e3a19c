//! `portscope history FILE [--port P] [--at TIME]`: who held a port, from a recorded log.

/// A line of output through [`super::out::print`]: escaped, and a failed write (`| head`, a
/// full disk) is the command's status 1, never a panic as `println!` would.
macro_rules! say {
    ($($arg:tt)*) => {
        super::out::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

use super::watch::{clock, owner_text};
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
    /// The refused bind() and connect() calls in the log (`watch --failures --record`), each
    /// with who held the port at that moment.
    #[arg(long)]
    pub failures: bool,
    /// Only what happened after this: a duration back from the recording's end (10m, 2h) or a
    /// time as for --at.
    #[arg(long, value_name = "DURATION|TIME")]
    pub since: Option<String>,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Refusals around a moment: those within this of `--at` are shown with its holders.
const AROUND_AT: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

/// Parses TIME against the recording's span. A bare time of day means the day (in local time)
/// on which it falls inside the recording; when it falls inside on several days the answer
/// would be a guess, so it is refused, naming the days. A local time the clocks skipped (a DST
/// gap) or showed twice (a fold) is refused with what to type instead, never moved silently;
/// an offset outside what any zone uses (±14:00) is refused.
pub fn parse_at(
    s: &str,
    span: Option<(jiff::Timestamp, jiff::Timestamp)>,
) -> Result<jiff::Timestamp, super::ArgError> {
    parse_at_in(s, span, &jiff::tz::TimeZone::system())
}

fn parse_at_in(
    s: &str,
    span: Option<(jiff::Timestamp, jiff::Timestamp)>,
    tz: &jiff::tz::TimeZone,
) -> Result<jiff::Timestamp, super::ArgError> {
    use super::ArgError;
    let t = s.trim();
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        check_offset(s, t)?;
        return Ok(ts);
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        return local(s, tz, dt);
    }
    let time: jiff::civil::Time = t.parse().map_err(|_| ArgError::NotATime(s.to_string()))?;
    let Some((first, last)) = span else {
        let today = jiff::Zoned::now().with_time_zone(tz.clone()).date();
        return local(s, tz, today.to_datetime(time));
    };
    let first_day = first.to_zoned(tz.clone()).date();
    let last_day = last.to_zoned(tz.clone()).date();
    let mut day = first_day;
    let mut inside = Vec::new();
    while day <= last_day {
        let dt = day.to_datetime(time);
        if let Ok(ts) = local(s, tz, dt)
            && ts >= first
            && ts <= last
        {
            inside.push((day, ts));
        }
        // The last day jiff knows: the recording cannot run past it.
        let Ok(next) = day.tomorrow() else { break };
        day = next;
    }
    match inside.as_slice() {
        [(_, ts)] => Ok(*ts),
        [] if first_day == last_day => local(s, tz, first_day.to_datetime(time)),
        [] => Err(ArgError::NotInRecording(s.to_string())),
        days => Err(ArgError::TimeNotOnClock {
            text: s.to_string(),
            reason: format!(
                "falls inside the recording on {} days ({}): give the date too, e.g. \"{} {}\"",
                days.len(),
                days.iter()
                    .map(|(d, _)| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                days[days.len() - 1].0,
                t
            ),
        }),
    }
}

/// A local date and time as an instant, refusing the ones the clock skipped or showed twice.
fn local(
    text: &str,
    tz: &jiff::tz::TimeZone,
    dt: jiff::civil::DateTime,
) -> Result<jiff::Timestamp, super::ArgError> {
    use jiff::tz::AmbiguousOffset;
    let amb = tz.to_ambiguous_zoned(dt);
    let name = tz.iana_name().unwrap_or("the local time zone");
    let reason = match amb.offset() {
        AmbiguousOffset::Unambiguous { .. } => {
            return amb
                .compatible()
                .map(|z| z.timestamp())
                .map_err(|e| super::ArgError::time(text, &e));
        }
        AmbiguousOffset::Gap { before, after } => format!(
            "{dt} does not exist in {name}: the clocks jumped from UTC{before} to UTC{after}; \
             give an RFC 3339 time with its offset"
        ),
        AmbiguousOffset::Fold { before, after } => format!(
            "{dt} happened twice in {name} (UTC{before}, then UTC{after}): give it with its \
             offset, e.g. {}{before}",
            dt.strftime("%Y-%m-%dT%H:%M:%S")
        ),
    };
    Err(super::ArgError::TimeNotOnClock {
        text: text.to_string(),
        reason,
    })
}

/// No zone is more than 14 hours from UTC; jiff takes up to ±25:59, which is a typo here.
fn check_offset(text: &str, t: &str) -> Result<(), super::ArgError> {
    if let Ok(p) = jiff::fmt::temporal::Pieces::parse(t)
        && let Some(jiff::fmt::temporal::PiecesOffset::Numeric(n)) = p.offset()
        && n.offset().seconds().abs() > 14 * 3600
    {
        return Err(super::ArgError::TimeNotOnClock {
            text: text.to_string(),
            reason: format!(
                "offset {} is beyond any time zone's (at most 14 hours from UTC)",
                n.offset()
            ),
        });
    }
    Ok(())
}

/// A moment with its day: a log may span days, and a bare clock time would not say which.
fn moment(t: jiff::Timestamp) -> String {
    format!(
        "{} {}",
        t.to_zoned(jiff::tz::TimeZone::system())
            .strftime("%Y-%m-%d"),
        clock(t)
    )
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
        "{} {:<8} {} {} {} {state}{chosen}  {who}",
        moment(c.at),
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
    if loaded.unknown > 0 {
        notes.push(format!(
            "{} records of a kind this portscope does not read (written by a newer version?) \
             skipped; they are intact",
            loaded.unknown
        ));
    }
    let refused = loaded.refused;
    let history = History::from_changes(loaded.changes);
    let span = match (history.span(), refused.first(), refused.last()) {
        (Some((a, b)), Some(f), Some(l)) => Some((a.min(f.time), b.max(l.time))),
        (None, Some(f), Some(l)) => Some((f.time, l.time)),
        (s, _, _) => s,
    };
    let at = match args.at.as_deref().map(|a| parse_at(a, span)) {
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Err(CliError::bad_input(e)),
        None => None,
    };
    let since = match args.since.as_deref() {
        None => None,
        Some(s) => match super::duration::parse_duration(s) {
            Ok(d) => {
                let end = span.map_or_else(jiff::Timestamp::now, |(_, last)| last);
                let back = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
                Some(end.checked_sub(back).unwrap_or(jiff::Timestamp::MIN))
            }
            Err(_) => match parse_at(s, span) {
                Ok(t) => Some(t),
                Err(e) => return Err(CliError::bad_input(e)),
            },
        },
    };
    let on_port = |r: &&crate::watch::failures::Refusal| {
        args.port.is_none_or(|p| r.port() == Some(p)) && since.is_none_or(|t| r.time >= t)
    };
    if args.failures && at.is_none() {
        let list: Vec<&crate::watch::failures::Refusal> = refused.iter().filter(on_port).collect();
        if args.json {
            super::out::print_json(&serde_json::json!({
                "port": args.port,
                "refused": list,
                "span": span,
                "notes": notes,
            }));
            return Ok(ExitCode::SUCCESS);
        }
        for n in &notes {
            say!("note: {}", foreign(n));
        }
        if list.is_empty() {
            say!(
                "no refused calls{} in {}",
                args.port.map_or(String::new(), |p| format!(" on port {p}")),
                args.file.display()
            );
        }
        for r in list {
            say!("{}", super::watch::failures::refusal_text(r, None));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let around = |t: jiff::Timestamp| -> Vec<&crate::watch::failures::Refusal> {
        refused
            .iter()
            .filter(on_port)
            .filter(|r| r.time.duration_since(t).abs() <= AROUND_AT)
            .collect()
    };
    if args.json {
        let doc = match at {
            Some(t) => {
                let table = history.table_at(t);
                serde_json::json!({
                    "at": t,
                    "port": args.port,
                    "holders": table.on_port(args.port),
                    "refused": around(t),
                    "span": span,
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
                    moment(t),
                    moment(first),
                    moment(last),
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
                say!("nobody held {what} at {}", moment(t));
            } else {
                say!("{what} at {}:", moment(t));
                for c in holders {
                    say!("  {}", change_text(c));
                }
            }
            let near = around(t);
            if !near.is_empty() {
                say!("refused calls on {what} within 60 s of {}:", moment(t));
                for r in near {
                    for l in super::watch::failures::refusal_text(r, None).lines() {
                        say!("  {l}");
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
    }

    fn ts(s: &str) -> jiff::Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_clock_time_on_several_days_of_the_recording_is_refused_naming_them() {
        let span = Some((ts("2026-11-20T08:00:00Z"), ts("2026-11-22T20:00:00Z")));
        let e = parse_at_in("11:00", span, &berlin())
            .unwrap_err()
            .to_string();
        assert!(e.contains("3 days") && e.contains("2026-11-21"), "{e}");
        // On the only day it falls inside, it is that day.
        let span = Some((ts("2026-11-20T20:00:00Z"), ts("2026-11-21T20:00:00Z")));
        let t = parse_at_in("11:00", span, &berlin()).unwrap();
        assert_eq!(t, ts("2026-11-21T10:00:00Z"));
    }

    #[test]
    fn skipped_and_repeated_local_times_are_refused_never_moved() {
        let tz = berlin();
        let e = parse_at_in("2026-03-29 02:30", None, &tz)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
        let e = parse_at_in("2026-10-25 02:30", None, &tz)
            .unwrap_err()
            .to_string();
        assert!(e.contains("happened twice") && e.contains("+02"), "{e}");
        let span = Some((ts("2026-03-28T20:00:00Z"), ts("2026-03-29T20:00:00Z")));
        assert!(parse_at_in("02:30", span, &tz).is_err());
        // With its offset, a repeated time is exact.
        let t = parse_at_in("2026-10-25T02:30:00+01:00", None, &tz).unwrap();
        assert_eq!(t, ts("2026-10-25T01:30:00Z"));
    }

    #[test]
    fn offsets_beyond_any_zone_are_refused() {
        for bad in ["2026-11-22T03:00:00+25:00", "2026-11-22T03:00:00-15:00"] {
            let e = parse_at_in(bad, None, &berlin()).unwrap_err().to_string();
            assert!(e.contains("beyond any time zone"), "{bad}: {e}");
        }
        assert!(parse_at_in("2026-11-22T03:00:00+14:00", None, &berlin()).is_ok());
    }
}
