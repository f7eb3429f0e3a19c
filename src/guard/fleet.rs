//! `portscope fleet report FILES...`: the per-host results the Ansible playbook gathers
//! (`{"host", "check", "reserve_status"}`, or a bare `check --json` document) as one table.
//! Everything in these files came from other machines: it is read as data and every string is
//! flattened to one printable line before it is shown.

use super::why_line::one_line;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceRow {
    pub name: String,
    pub proto: String,
    pub ports: String,
    pub status: String,
    pub state: String,
    pub holder: Option<String>,
    /// Declared ports nobody listens on that an outgoing connection can take.
    pub at_risk_ports: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostRow {
    pub host: String,
    pub file: String,
    pub status: String,
    pub exit_code: Option<u64>,
    pub summary: String,
    /// `null` when it was not compared.
    pub drift: Option<bool>,
    pub runtime: Option<String>,
    pub boot: Option<String>,
    /// Ports of listeners inside the ephemeral range and not reserved.
    pub at_risk_listeners: String,
    pub services: Vec<ServiceRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetReport {
    pub version: u32,
    pub hosts: Vec<HostRow>,
    /// The worst status over all hosts.
    pub worst: String,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(one_line(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn rank(status: &str) -> u8 {
    match status {
        "ok" => 0,
        "unknown" => 1,
        "warning" => 2,
        "critical" => 3,
        _ => 1,
    }
}

fn ports_of_sockets(v: &Value) -> String {
    let mut set = crate::portset::PortSet::new();
    for s in v.as_array().into_iter().flatten() {
        if let Some(p) = s["local_port"].as_u64().and_then(|p| u16::try_from(p).ok()) {
            set.insert(p);
        }
    }
    set.to_string()
}

fn service_row(s: &Value) -> ServiceRow {
    let results: &[Value] = s["results"].as_array().map_or(&[], Vec::as_slice);
    // The worst port decides what the row says.
    let worst = results
        .iter()
        .max_by_key(|r| rank(r["status"].as_str().unwrap_or("unknown")));
    let mut at_risk = crate::portset::PortSet::new();
    for r in results.iter().filter(|r| r["state"] == "free_at_risk") {
        if let Some(p) = r["port"].as_u64().and_then(|p| u16::try_from(p).ok()) {
            at_risk.insert(p);
        }
    }
    ServiceRow {
        name: text(&s["name"]).unwrap_or_default(),
        proto: text(&s["proto"]).unwrap_or_default(),
        ports: text(&s["ports"]).unwrap_or_default(),
        status: text(&s["status"]).unwrap_or_else(|| "unknown".into()),
        state: worst
            .and_then(|r| text(&r["state"]))
            .unwrap_or_else(|| "-".into()),
        holder: worst.and_then(|r| text(&r["holder"])),
        at_risk_ports: at_risk.to_string(),
    }
}

/// Why a host's file cannot be read into the fleet report; both name the file.
#[derive(Debug, thiserror::Error)]
pub enum HostFileError {
    #[error("{file}: not JSON ({error})")]
    NotJson {
        file: String,
        error: serde_json::Error,
    },
    #[error(
        "{0}: neither a `portscope check --json` document nor a {{\"host\", \"check\"}} record"
    )]
    NotACheck(String),
    #[error("{file}: status {status:?} is not ok, warning, critical or unknown")]
    BadStatus { file: String, status: String },
    #[error("{file}: exit_code {code} does not go with status {status:?} (expected {expected})")]
    StatusMismatch {
        file: String,
        status: String,
        code: u64,
        expected: u64,
    },
    #[error("host {host:?} is in both {first} and {second}: one result per host")]
    DuplicateHost {
        host: String,
        first: String,
        second: String,
    },
}

/// The monitoring convention's exit status for each status a check reports.
fn code_of(status: &str) -> Option<u64> {
    match status {
        "ok" => Some(0),
        "warning" => Some(1),
        "critical" => Some(2),
        "unknown" => Some(3),
        _ => None,
    }
}

/// Hosts must be unique across the files of one report: two results for one host would show
/// one and hide the other, or both with contradictory answers.
pub fn check_unique(hosts: &[HostRow]) -> Result<(), HostFileError> {
    let mut seen: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for h in hosts {
        if let Some(first) = seen.insert(&h.host, &h.file) {
            return Err(HostFileError::DuplicateHost {
                host: h.host.clone(),
                first: first.to_string(),
                second: h.file.clone(),
            });
        }
    }
    Ok(())
}

/// Reads one host's file. `Err` names what is wrong with it.
pub fn host_row(file: &str, content: &str) -> Result<HostRow, HostFileError> {
    let v: Value = serde_json::from_str(content).map_err(|error| HostFileError::NotJson {
        file: file.to_string(),
        error,
    })?;
    let (check, status_doc) = if v.get("check").is_some() {
        (&v["check"], &v["reserve_status"])
    } else {
        (&v, &Value::Null)
    };
    if !check.is_object() || check.get("status").is_none() {
        return Err(HostFileError::NotACheck(file.to_string()));
    }
    let host = text(&v["host"])
        .or_else(|| text(&check["host"]))
        .unwrap_or_else(|| file.to_string());
    let services = check["services"]
        .as_array()
        .map(|a| a.iter().map(service_row).collect())
        .unwrap_or_default();
    let drift = check["figures"]["drift"].as_bool().or_else(|| {
        // reserve status knows both sides even when check did not compare them.
        match (status_doc["runtime"].as_str(), &status_doc["boot"]) {
            (Some(r), Value::String(b)) if status_doc["host_netns"] == true => Some(r != b),
            (Some(r), Value::Null) if status_doc["host_netns"] == true => Some(!r.is_empty()),
            _ => None,
        }
    });
    let status = check["status"].as_str().unwrap_or_default().to_string();
    let Some(expected) = code_of(&status) else {
        return Err(HostFileError::BadStatus {
            file: file.to_string(),
            status,
        });
    };
    let exit_code = check["exit_code"].as_u64();
    if let Some(code) = exit_code
        && code != expected
    {
        return Err(HostFileError::StatusMismatch {
            file: file.to_string(),
            status,
            code,
            expected,
        });
    }
    Ok(HostRow {
        host,
        file: file.to_string(),
        status,
        exit_code,
        summary: text(&check["summary"]).unwrap_or_default(),
        drift,
        runtime: text(&status_doc["runtime"]),
        boot: text(&status_doc["boot"]),
        at_risk_listeners: ports_of_sockets(&status_doc["at_risk"]),
        services,
    })
}

pub fn report(hosts: Vec<HostRow>) -> FleetReport {
    let worst = hosts
        .iter()
        .map(|h| h.status.as_str())
        .max_by_key(|s| rank(s))
        .unwrap_or("ok")
        .to_string();
    FleetReport {
        version: 1,
        hosts,
        worst,
    }
}

/// The table: one row per host (its own checks) and one per declared service.
pub fn table(r: &FleetReport) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "HOST".into(),
        "SERVICE".into(),
        "STATUS".into(),
        "STATE".into(),
        "HOLDER".into(),
        "DRIFT".into(),
        "AT RISK".into(),
    ]];
    let dash = || "-".to_string();
    for h in &r.hosts {
        rows.push([
            h.host.clone(),
            "(host)".into(),
            h.status.to_uppercase(),
            h.summary.clone(),
            dash(),
            match h.drift {
                Some(true) => format!(
                    "yes: runtime {} boot {}",
                    h.runtime
                        .as_deref()
                        .filter(|s| !s.is_empty())
                        .unwrap_or("none"),
                    h.boot
                        .as_deref()
                        .filter(|s| !s.is_empty())
                        .unwrap_or("none")
                ),
                Some(false) => "no".into(),
                None => "not compared".into(),
            },
            if h.at_risk_listeners.is_empty() {
                dash()
            } else {
                h.at_risk_listeners.clone()
            },
        ]);
        for s in &h.services {
            rows.push([
                h.host.clone(),
                format!("{} {}/{}", s.name, s.ports, s.proto),
                s.status.to_uppercase(),
                s.state.clone(),
                s.holder.clone().unwrap_or_else(dash),
                dash(),
                if s.at_risk_ports.is_empty() {
                    dash()
                } else {
                    s.at_risk_ports.clone()
                },
            ]);
        }
    }
    // Long free text (the summary) goes last in its column's width budget.
    let widths: Vec<usize> = (0..7)
        .map(|c| rows.iter().map(|r| r[c].width()).max().unwrap_or(0).min(48))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| {
                // Terminal cells, not chars: a host or holder named in CJK takes two per
                // character and must not push the next column out of line.
                let mut c = String::new();
                if cell.width() > *w {
                    for ch in cell.chars() {
                        if c.width() + ch.width().unwrap_or(0) + 1 > *w {
                            break;
                        }
                        c.push(ch);
                    }
                    c.push('…');
                } else {
                    c.push_str(cell);
                }
                let pad = w.saturating_sub(c.width());
                c.extend(std::iter::repeat_n(' ', pad));
                c
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    _ = writeln!(
        out,
        "{} host{}, worst status {}",
        r.hosts.len(),
        if r.hosts.len() == 1 { "" } else { "s" },
        r.worst.to_uppercase()
    );
    out
}
