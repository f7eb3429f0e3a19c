//! `portscope report`: the host's ports at this moment as one self-contained HTML file (or
//! one JSON document), for a ticket or a postmortem; `--keep N` rotates the files a timer
//! writes.

use super::{CliError, CliResult, collect_for_cli};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::model::Proto;
use crate::portset::PortSet;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// More asked ports than this is a range typed by mistake: each is a why answer.
const MAX_PORTS: usize = 64;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Ports to answer for (why, reachability, plan, timeline): 8080, 8080/udp, 9000-9010/tcp;
    /// repeatable.
    #[arg(long, value_name = "PORTS", value_parser = super::check_cmd::parse_port_spec)]
    pub port: Vec<(PortSet, Proto)>,
    /// A history log (`--record`, `watch --record`): a timeline per port of who held it and
    /// the refused calls.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Only history records this recent (30m, 2h, 1d is 24h).
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Where to write the report (required for html; json goes to stdout without it).
    #[arg(long, value_name = "FILE.html")]
    pub out: Option<PathBuf>,
    /// html or json.
    #[arg(long, value_name = "html|json", default_value = "html",
          value_parser = ["html", "json"])]
    pub format: String,
    /// Write OUT's name with the time in it (report-20260101T120000Z.html) and keep only the
    /// newest N such files (for a timer).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub keep: Option<u32>,
    /// Do not read the filter rules for the asked ports.
    #[arg(long)]
    pub no_firewall: bool,
}

/// The asked ports, one by one.
fn ports(args: &ReportArgs) -> Result<Vec<(u16, Proto)>, String> {
    let mut out: Vec<(u16, Proto)> = Vec::new();
    for (set, proto) in &args.port {
        for p in set.iter() {
            if !out.contains(&(p, *proto)) {
                out.push((p, *proto));
            }
            if out.len() > MAX_PORTS {
                return Err(format!(
                    "--port asks about more than {MAX_PORTS} ports: a report answers each; name fewer"
                ));
            }
        }
    }
    Ok(out)
}

/// Splits OUT into its directory and file name (refusing a path that names no file).
fn dir_and_name(out: &Path) -> Result<(PathBuf, String), String> {
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("--out {} names no file", out.display()))?;
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_string()))
}

/// `report.html` at `now` → `report-20260101T120000Z.html`.
fn stamped(name: &str, now: jiff::Timestamp) -> (String, String, String) {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    let t = now.strftime("%Y%m%dT%H%M%SZ").to_string();
    (format!("{stem}-{t}{ext}"), format!("{stem}-"), ext)
}

/// Removes the oldest `PREFIX<time>EXT` files beyond `keep` (the names sort by time).
fn rotate(dir: &Path, prefix: &str, ext: &str, keep: usize) -> std::io::Result<usize> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            n.strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(ext))
                .is_some_and(|t| t.len() == 16 && t.ends_with('Z') && t.as_bytes()[8] == b'T')
        })
        .collect();
    names.sort();
    let extra = names.len().saturating_sub(keep);
    let d = crate::safefs::Dir::open(dir).map_err(std::io::Error::other)?;
    for n in &names[..extra] {
        d.remove(n).map_err(std::io::Error::other)?;
    }
    Ok(extra)
}

pub fn run(args: &ReportArgs, netns: &NetnsTarget) -> CliResult {
    let ports = ports(args).map_err(CliError::bad_input)?;
    if args.format == "html" && args.out.is_none() {
        return Err(CliError::bad_input(
            "report writes HTML to a file: give --out FILE.html (or --format json for stdout)",
        ));
    }
    if args.since.is_some() && args.history.is_none() {
        return Err(CliError::bad_input(
            "--since limits the history records: give --history FILE too",
        ));
    }
    let target = match &args.out {
        Some(out) => Some(dir_and_name(out).map_err(CliError::bad_input)?),
        None => None,
    };
    let snap = collect_for_cli(&CollectOptions {
        netns: netns.clone(),
        ..CollectOptions::default()
    })?;
    let req = crate::report::Request {
        ports,
        history: args.history.clone(),
        since: args.since,
        firewall: !args.no_firewall,
        live: true,
    };
    let report = crate::report::gather(&snap, netns, &req).map_err(CliError::bad_input)?;
    let text = if args.format == "json" {
        serde_json::to_string_pretty(&report)
            .map_err(|e| CliError::failed(format!("cannot encode JSON: {e}"), 1))?
            + "\n"
    } else {
        crate::report::html::render(&report)
    };
    let Some((dir, name)) = target else {
        super::out::print_json(&report);
        return Ok(ExitCode::SUCCESS);
    };
    let (name, rotation) = match args.keep {
        Some(n) => {
            let (stamped, prefix, ext) = stamped(&name, report.generated_at);
            (stamped, Some((prefix, ext, n as usize)))
        }
        None => (name, None),
    };
    let write = crate::safefs::check_trusted_dir(&dir)
        .and_then(|()| crate::safefs::Dir::open(&dir))
        .and_then(|d| d.write_atomic(&name, text.as_bytes(), 0o640));
    if let Err(e) = write {
        return Err(CliError::failed(
            format!("could not write {}: {e}", dir.join(&name).display()),
            1,
        ));
    }
    if let Some((prefix, ext, keep)) = rotation
        && let Err(e) = rotate(&dir, &prefix, &ext, keep)
    {
        return Err(CliError::failed(
            format!(
                "wrote {}, but rotating the old reports failed: {e}",
                dir.join(&name).display()
            ),
            1,
        ));
    }
    super::out::print(&format!("wrote {}\n", dir.join(&name).display()));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stamped_names_sort_by_time() {
        let t: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap_or_default();
        let (n, prefix, ext) = super::stamped("report.html", t);
        assert_eq!(
            (n.as_str(), prefix.as_str(), ext.as_str()),
            ("report-20260102T030405Z.html", "report-", ".html")
        );
        assert_eq!(super::stamped("r", t).0, "r-20260102T030405Z");
    }
}
