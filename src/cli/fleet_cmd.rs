//! `portscope fleet report FILES...`: the per-host results gathered by the Ansible playbook
//! (assets/ansible/portscope-audit.yml) as one table or one JSON document.

use super::{CliError, CliResult};
use crate::guard::fleet;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// One table (host, service, state, holder, drift, at-risk ports) from per-host result files.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Per-host files: {"host", "check", "reserve_status"} records, or `check --json` output.
    #[arg(value_name = "FILES", required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// One host's result file is a few kilobytes; anything past this is not one.
const MAX_RESULT: u64 = 16 << 20;

pub fn run(args: &FleetArgs) -> CliResult {
    let FleetCommand::Report(a) = &args.command;
    let mut hosts = Vec::new();
    for f in &a.files {
        let shown = f.display().to_string();
        let text = match crate::safefs::read_text(f, crate::safefs::Links::Follow, MAX_RESULT) {
            Ok(t) => t,
            Err(e) => return Err(CliError::bad_input(e.to_string())),
        };
        match fleet::host_row(&shown, &text) {
            Ok(h) => hosts.push(h),
            Err(e) => return Err(CliError::bad_input(e)),
        }
    }
    if let Err(e) = fleet::check_unique(&hosts) {
        return Err(CliError::bad_input(e));
    }
    hosts.sort_by(|a, b| a.host.cmp(&b.host));
    let r = fleet::report(hosts);
    if a.json {
        super::out::print_json(&r);
    } else {
        super::out::print(&fleet::table(&r));
    }
    Ok(ExitCode::SUCCESS)
}
