//! `portscope watch --failures [PORTS]`: the flight recorder's face. One block per refused call
//! (text) or one JSON object per line; `--record FILE` keeps them in the history log.

use super::watch_cmd::{Line, WatchArgs, clock, owner_text};
use super::{CliError, CliResult};
use crate::model::Endpoint;
use crate::watch::failures::{self, FailureOptions, FailureReport, Refusal};
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// `{"type":"event","event":"refused",...}`: a refusal among watch events.
#[derive(Serialize)]
struct Refused<'a> {
    event: &'static str,
    #[serde(flatten)]
    refusal: &'a Refusal,
}

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
        t.push_str(&format!(" netns:[{ns}]"));
    }
    t
}

/// The whole block: the headline, the options, why, and who held the port.
pub fn refusal_text(r: &Refusal, watched: Option<u64>) -> String {
    let mut t = headline(r, watched);
    if let Some(q) = &r.request
        && r.call == failures::Call::Bind
    {
        t.push_str(&format!("\n    options: {}", q.options.text()));
    }
    t.push_str(&format!("\n    why: {}", r.why));
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
        t.push_str(&format!(
            "\n    holder: {} {}{remote} {}  {who}",
            h.proto,
            Endpoint(h.local_addr, h.local_port),
            h.state.ss_name()
        ));
    }
    for n in &r.notes {
        t.push_str(&format!("\n    note: {n}"));
    }
    t
}

pub fn run(args: &WatchArgs, netns: &crate::collect::NetnsTarget) -> CliResult {
    let watched = match netns {
        crate::collect::NetnsTarget::Current => None,
        t => Some(t.inode().ok_or_else(|| {
            CliError::bad_input(format!(
                "cannot read network namespace {}: it is gone or not readable (run as root)",
                t.describe()
            ))
        })?),
    };
    let ports = args.ports.as_ref().map(|p| p.0.clone()).unwrap_or_default();
    let opts = FailureOptions {
        ports: ports.clone(),
        proto: args.proto,
        until: args.duration.map(|d| Instant::now() + d),
    };
    let mut recorder = match &args.record {
        Some(path) => match crate::history::Recorder::open_as(path, "recorder", &ports) {
            Ok(r) => Some(match args.rotation() {
                Some(rot) => r.with_rotation(rot),
                None => r,
            }),
            Err(e) => {
                let msg = format!("cannot record to {}: {e}", path.display());
                return Err(if crate::history::log::is_system_failure(&e) {
                    CliError::failed(msg, 1)
                } else {
                    CliError::bad_input(msg)
                });
            }
        },
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let json = args.json;
    let mut record_error = None;
    let result = failures::run(&opts, &mut |r| {
        if let FailureReport::Refused(x) = &r {
            // `--netns`: only the refusals made inside that namespace.
            if watched.is_some_and(|w| x.netns != Some(w)) {
                return true;
            }
            if let Some(rec) = recorder.as_mut()
                && let Err(err) = rec.append_refusal(x)
            {
                record_error = Some(err.to_string());
                return false;
            }
        }
        let line = match (&r, json) {
            (FailureReport::Source(i), true) => serde_json::to_string(&Line {
                ty: "source",
                body: *i,
            }),
            (FailureReport::Refused(x), true) => serde_json::to_string(&Line {
                ty: "event",
                body: &Refused {
                    event: "refused",
                    refusal: x,
                },
            }),
            (FailureReport::Lost(n), true) => Ok(format!("{{\"type\":\"lost\",\"count\":{n}}}")),
            (FailureReport::Source(i), false) => {
                let mut t = format!(
                    "portscope watch --failures{}: source {}: {}",
                    if ports.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " {}",
                            ports
                                .iter()
                                .map(u16::to_string)
                                .collect::<Vec<_>>()
                                .join(",")
                        )
                    },
                    i.source,
                    i.detail
                );
                for n in &i.notes {
                    t.push_str(&format!("\n  note: {n}"));
                }
                Ok(t)
            }
            (FailureReport::Refused(x), false) => Ok(refusal_text(x, watched)),
            (FailureReport::Lost(n), false) => Ok(format!(
                "!! {n} refused calls could not be delivered (ring full): counted, not recorded"
            )),
        };
        let Ok(line) = line else { return false };
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
