//! `portscope watch --failures [PORTS]`: the flight recorder's face. One block per refused call
//! (text) or one JSON object per line; `--record FILE` keeps them in the history log.

use super::{Line, WatchArgs};
use crate::cli::{CliError, CliResult};
use crate::watch::failures::{self, FailureOptions, FailureReport, Refusal};
use serde::Serialize;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
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

/// The whole block: the headline, then the lines below it indented.
pub fn refusal_text(r: &Refusal, watched: Option<u64>) -> String {
    let lines = failures::text::lines(r, watched);
    let mut t = String::new();
    for (i, l) in lines.iter().enumerate() {
        if i > 0 {
            t.push_str("\n    ");
        }
        t.push_str(&l.text);
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
    let mut recorder = args.recorder("recorder", &ports)?;
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
                    _ = write!(t, "\n  note: {n}");
                }
                Ok(t)
            }
            (FailureReport::Refused(x), false) => Ok(refusal_text(x, watched)),
            (FailureReport::Lost(n), false) => Ok(format!(
                "!! {n} refused calls could not be delivered (ring full): counted, not recorded"
            )),
        };
        let Ok(line) = line else { return false };
        crate::cli::out::record(writeln!(out, "{line}").and_then(|()| out.flush()))
    });
    if let Some(e) = record_error {
        return Err(CliError::failed(format!("recording failed: {e}"), 1));
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CliError::failed(e, 1)),
    }
}
