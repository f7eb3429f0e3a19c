//! The command line: parsing and dispatch. Each subcommand is a thin surface over the library.

mod confirm;
pub mod reserve_cmd;
pub mod reserve_text;
mod snapshot_cmd;
pub mod table;

use crate::collect::{CollectOptions, NetnsTarget, SourcePref};
use crate::model::{Proto, State};
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

/// Exit status for bad input (a port of 70000, a namespace that does not exist, ...).
pub const EXIT_BAD_INPUT: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "portscope",
    version,
    about = "Port-conflict triage for Linux: who holds a port, why bind fails, and the safe fix",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Look into another network namespace: a PID, a path (/run/netns/NAME) or a name in /run/netns.
    #[arg(long, global = true, value_name = "PID|PATH", value_parser = parse_netns)]
    pub netns: Option<NetnsTarget>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every TCP and UDP socket with its owners (like `ss -tanup`), or one JSON document.
    Snapshot(SnapshotArgs),
    /// Reserved ports (net.ipv4.ip_local_reserved_ports): plan, apply, undo, status.
    Reserve(reserve_cmd::ReserveArgs),
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Print one JSON document (version 1; see README) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Only listeners (and bound, unconnected UDP sockets).
    #[arg(long, short = 'l')]
    pub listening: bool,
    /// Only sockets whose local port is N.
    #[arg(long, value_name = "N", value_parser = parse_port_arg)]
    pub port: Option<u16>,
    /// Only sockets whose remote port is N.
    #[arg(long, value_name = "N", value_parser = parse_port_arg)]
    pub remote_port: Option<u16>,
    /// Only sockets in this state (LISTEN, ESTABLISHED, TIME_WAIT, ...; ss spellings work too).
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    pub state: Option<State>,
    /// Only tcp or udp.
    #[arg(long, value_name = "tcp|udp", value_parser = parse_proto)]
    pub proto: Option<Proto>,
    /// Socket table source: auto (netlink, falling back to /proc/net), netlink, or procfs.
    #[arg(long, value_name = "auto|netlink|procfs", default_value = "auto", value_parser = parse_source)]
    pub source: SourcePref,
    /// Do not scan /proc for owning processes.
    #[arg(long)]
    pub no_owners: bool,
}

pub fn parse_port_arg(s: &str) -> Result<u16, String> {
    crate::portset::parse_port(s).map_err(|e| format!("{:?} is not a port: {}", e.token, e.reason))
}

fn parse_state(s: &str) -> Result<State, String> {
    s.parse()
}

pub fn parse_proto(s: &str) -> Result<Proto, String> {
    s.parse()
}

fn parse_netns(s: &str) -> Result<NetnsTarget, String> {
    NetnsTarget::parse(s).map_err(|e| e.to_string())
}

fn parse_source(s: &str) -> Result<SourcePref, String> {
    match s {
        "auto" => Ok(SourcePref::Auto),
        "netlink" => Ok(SourcePref::Netlink),
        "procfs" => Ok(SourcePref::Procfs),
        _ => Err(format!(
            "unknown source {s:?} (expected auto, netlink or procfs)"
        )),
    }
}

/// Prints one line on stderr and returns the bad-input status.
pub fn bad_input(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("portscope: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// Prints a failure of portscope itself (not of the user's input).
pub fn failed(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("portscope: {msg}");
    ExitCode::from(code)
}

/// Parses the command line; any usage error becomes one line on stderr and exit status 2.
pub fn parse() -> Result<Cli, ExitCode> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return Err(ExitCode::SUCCESS);
            }
            let text = e.render().to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ")
                .to_string();
            Err(bad_input(line))
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let netns = cli.netns.clone().unwrap_or_default();
    match cli.command {
        Some(Command::Snapshot(args)) => snapshot_cmd::run(&args, &netns),
        Some(Command::Reserve(args)) => reserve_cmd::run(&args, &netns),
        None => {
            // Until the TUI lands, the bare command shows the listeners.
            let args = SnapshotArgs {
                json: false,
                listening: true,
                port: None,
                remote_port: None,
                state: None,
                proto: None,
                source: SourcePref::Auto,
                no_owners: false,
            };
            snapshot_cmd::run(&args, &netns)
        }
    }
}

/// Collects a snapshot for a command, mapping failures to exit statuses: a namespace that cannot
/// be entered is the user's input (2 when it does not exist or is not a netns).
pub fn collect_for_cli(opts: &CollectOptions) -> Result<crate::model::Snapshot, ExitCode> {
    use crate::collect::{CollectError, NetnsError};
    crate::collect::collect(opts).map_err(|e| match e {
        CollectError::Netns(NetnsError::NotFound(m))
        | CollectError::Netns(NetnsError::NotANetns(m)) => bad_input(m),
        e => failed(e, 1),
    })
}
