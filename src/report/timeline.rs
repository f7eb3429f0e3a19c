//! A history log's records about ports, read as plain JSON records: every kind a writer puts
//! there (held, gone, changed, refused calls, and kinds added later) shows on the timeline,
//! whether or not this portscope knows it. Lines are checked as the log reader checks them
//! (checksum, whole line); headers mark restarts.

use crate::history::log::{MAX_LOG, ReadError, crc32};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub at: jiff::Timestamp,
    pub port: u16,
    /// present, appeared, changed, gone, refused, ...
    pub kind: String,
    /// One line: who, what state.
    pub text: String,
    /// The record as written.
    pub record: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub file: String,
    pub records: usize,
    pub damaged: usize,
    pub since: Option<jiff::Timestamp>,
}

fn port_of(v: &serde_json::Value) -> Option<u16> {
    ["local_port", "port"]
        .iter()
        .find_map(|k| v.get(k)?.as_u64())
        .and_then(|p| u16::try_from(p).ok())
}

/// One line about a record: `appeared LISTEN 0.0.0.0:8080 nginx (pid 7)`.
fn text_of(v: &serde_json::Value, kind: &str) -> String {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
    let owners: Vec<String> = v
        .get("owners")
        .and_then(|o| o.as_array())
        .into_iter()
        .flatten()
        .map(|o| {
            format!(
                "{} (pid {})",
                o.get("comm").and_then(|c| c.as_str()).unwrap_or("?"),
                o.get("pid")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0)
            )
        })
        .collect();
    let mut parts = vec![kind.to_string()];
    for k in ["proto", "state", "error", "errno", "comm"] {
        if !s(k).is_empty() {
            parts.push(s(k).to_string());
        }
    }
    if !s("local_addr").is_empty() {
        parts.push(format!("{}:{}", s("local_addr"), port_of(v).unwrap_or(0)));
    }
    if !owners.is_empty() {
        parts.push(owners.join(", "));
    }
    parts.join(" ")
}

/// The records of the log at `path` (within `since` of now), oldest first.
pub fn read(path: &Path, since: Option<Duration>) -> Result<(Vec<Record>, Summary), ReadError> {
    let bytes = crate::safefs::read_file(path, crate::safefs::Links::Follow, MAX_LOG)
        .map_err(ReadError::Io)?;
    if !crate::history::log::looks_like_log(&bytes) {
        return Err(ReadError::Parse {
            path: path.to_path_buf(),
            error: crate::history::log::ParseError::NoHeader,
        });
    }
    let from = since.and_then(|d| {
        jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::try_from(d).ok()?)
            .ok()
    });
    let mut out = Vec::new();
    let mut damaged = 0;
    for l in bytes.split(|&b| b == b'\n') {
        if l.is_empty() {
            continue;
        }
        let ok = l.len() > 9
            && l[8] == b' '
            && std::str::from_utf8(&l[..8])
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                == Some(crc32(&l[9..]));
        let Some(v) = ok
            .then(|| serde_json::from_slice::<serde_json::Value>(&l[9..]).ok())
            .flatten()
        else {
            damaged += 1;
            continue;
        };
        let (Some(at), Some(port)) = (
            v.get("at")
                .and_then(|a| a.as_str())
                .and_then(|a| a.parse::<jiff::Timestamp>().ok()),
            port_of(&v),
        ) else {
            continue;
        };
        if from.is_some_and(|f| at < f) {
            continue;
        }
        let kind = v
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("record")
            .to_string();
        out.push(Record {
            at,
            port,
            text: text_of(&v, &kind),
            kind,
            record: v,
        });
    }
    out.sort_by_key(|r| r.at);
    let summary = Summary {
        file: path.display().to_string(),
        records: out.len(),
        damaged,
        since: from,
    };
    Ok((out, summary))
}
