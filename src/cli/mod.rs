//! The command line: parsing and dispatch. Each subcommand is a thin surface over the library.

pub mod arg_error;
pub mod cells;
pub mod check_cmd;
pub mod choices;
mod confirm;
mod deadline;
pub mod docs;
pub mod duration;
pub mod error;
mod fix_cmd;
pub mod fleet_cmd;
pub mod history_cmd;
pub mod out;
pub mod report_cmd;
pub mod reserve;
pub mod services_cmd;
pub mod snapshot;
pub mod table;
pub mod watch;
pub mod why;

use crate::collect::{CollectOptions, NetnsTarget, SourcePref};
use crate::model::{Proto, State};
pub use arg_error::ArgError;
use clap::{Args, Parser, Subcommand};
pub use error::{CliError, CliResult};
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
    /// TUI: refresh interval (e.g. 1s, 500ms, 2.5); default 1s.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse_interval)]
    pub interval: Option<std::time::Duration>,
    /// TUI: open a recorded `snapshot --json` document instead of the live system.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<std::path::PathBuf>,
    /// Config file (default: $XDG_CONFIG_HOME/portscope/config.toml): the TUI's settings,
    /// check's [[service]] declarations, why's and fix's [protect] list.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// TUI: no colours (also when NO_COLOR is set).
    #[arg(long)]
    pub no_color: bool,
    /// TUI: read the whole connection table on its slow cadence instead of keeping it live from
    /// the kernel's TCP state-change events (a host-wide tracepoint; root or CAP_PERFMON).
    #[arg(long)]
    pub no_events: bool,
    /// TUI: sysctl.d directory for staged reservations (default /etc/sysctl.d).
    #[arg(long, value_name = "DIR")]
    pub sysctl_dir: Option<std::path::PathBuf>,
    /// TUI: append every change seen (sockets appearing, changing state, going away, with
    /// owners) to this history log; read it with `portscope history FILE` or `--replay FILE`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,
    /// Where the tools portscope runs (systemctl, docker, iptables-save, nft) are looked up,
    /// in place of /usr/sbin:/usr/bin:/sbin:/bin; never PATH, which under sudo or cron may hold
    /// another user's directory.
    #[arg(long, global = true, value_name = "DIR[:DIR...]", value_parser = crate::tools::parse_tool_path)]
    pub tool_path: Option<crate::tools::ToolPath>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print every TCP and UDP socket with its owners (like `ss -tanup`), or one JSON document.
    Snapshot(SnapshotArgs),
    /// Explain, with the kernel's own verdict, why binding a port fails and what to do.
    ///
    /// Exit status: 0 when the bind would succeed, 1 when it would fail, 2 for bad input.
    Why(WhyArgs),
    /// Carry out why's plan: each step confirmed, re-probed after each, until the port binds.
    ///
    /// Exit status: 0 when the port is free at the end, 1 when not, 2 for bad input.
    Fix(FixArgs),
    /// Reserved ports (net.ipv4.ip_local_reserved_ports): plan, apply, undo, status.
    Reserve(reserve::ReserveArgs),
    /// Check the declared service ports and the host, as a Nagios plugin.
    ///
    /// Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also for bad arguments).
    Check(check_cmd::CheckArgs),
    /// Write the check's findings as Prometheus metrics (node_exporter textfile collector).
    Metrics(check_cmd::MetricsArgs),
    /// Propose [[service]] declarations from listeners and systemd socket units.
    Services(services_cmd::ServicesArgs),
    /// Reports over results gathered from many hosts (assets/ansible).
    Fleet(fleet_cmd::FleetArgs),
    /// Print a shell completion script (bash, zsh or fish), generated from this command line.
    Completions(docs::CompletionsArgs),
    /// Print a man page (roff): portscope man why | man -l -; --dir DIR writes them all.
    Man(docs::ManArgs),
    /// Report every socket that takes, leaves or changes state on ports, as it happens.
    ///
    /// Uses the sock:inet_sock_set_state tracepoint where allowed (root or CAP_PERFMON), else
    /// polls sock_diag; the first line says which, and what it can miss. With --netns
    /// (PID, path or name), only that network namespace's sockets (root).
    Watch(watch::WatchArgs),
    /// Who held a port when: read a log written with --record.
    History(history_cmd::HistoryArgs),
    /// One self-contained HTML file (or JSON) of the host's ports now: listeners, port map,
    /// why and reachability per --port, a timeline per port from --history.
    Report(report_cmd::ReportArgs),
}

#[derive(Debug, Args)]
pub struct WhyArgs {
    #[command(flatten)]
    pub bind: BindFlags,
    /// Instead of a bind: why connect() to DST (127.0.0.1:5432, db:5432, or an address for
    /// every port on it) fails with EADDRNOTAVAIL or soon will: the local ports toward it.
    #[arg(long, value_name = "DST[:PORT]", value_parser = crate::target::parse_connect,
          conflicts_with_all = ["proto", "addr", "user", "v6only", "reuseport", "freebind", "all_netns", "nat"])]
    pub connect: Option<crate::target::ConnectTarget>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
    /// List every socket in the way, not a few examples per cause.
    #[arg(long)]
    pub all: bool,
    /// Also look into every other network namespace: containers that listen on the port in
    /// their own namespace, and which container publishes it.
    #[arg(long)]
    pub all_netns: bool,
    /// Also read the namespace's NAT rules (iptables-save -t nat, nft -j list ruleset): a port
    /// can bind fine and still never receive its traffic (kube-proxy NodePorts, hostPorts).
    #[arg(long)]
    pub nat: bool,
    /// Do not read the filter rules (iptables-save -t filter, nft) for a listening port;
    /// by default they are read within a 3-second budget.
    #[arg(long)]
    pub no_firewall: bool,
    /// Look at the holders' socket counts twice, DURATION apart (e.g. 5s; only their
    /// /proc/PID/fd is read again), and show how fast each grows in sockets per minute.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse_sample)]
    pub sample: Option<std::time::Duration>,
}

/// The bind in question, as the service makes it, so the probe binds the same way (`why` and
/// `fix` take the same words).
#[derive(Debug, Args, Clone)]
pub struct BindFlags {
    /// The port the service wants to bind (1-65535), as operators write it: 8080, 8080/udp,
    /// :8080, 127.0.0.1:8080, [::1]:8080/tcp.
    #[arg(value_name = "PORT", value_parser = crate::target::parse_target)]
    pub port: Option<crate::target::Target>,
    /// tcp or udp (default: both are answered, the blocked one leads; `fix` acts on it).
    #[arg(long, value_name = "PROTO", value_parser = choices::choices::<Proto>())]
    pub proto: Option<Proto>,
    /// The address the service binds (an IPv6 address checks IPv6); default 0.0.0.0. A name
    /// (localhost, or one in /etc/hosts; no DNS) is answered for each of its addresses.
    #[arg(long, value_name = "ADDRESS", value_parser = parse_addrs)]
    pub addr: Option<Addrs>,
    /// Probe as this user (name or uid): its uid, gid and groups, no capabilities.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// The service sets IPV6_V6ONLY on its [::] socket.
    #[arg(long)]
    pub v6only: bool,
    /// The service sets SO_REUSEPORT.
    #[arg(long)]
    pub reuseport: bool,
    /// The service sets IP_FREEBIND (binds addresses not on the host yet).
    #[arg(long)]
    pub freebind: bool,
}

#[derive(Debug, Args)]
pub struct FixArgs {
    #[command(flatten)]
    pub bind: BindFlags,
    /// Answer yes to every step except signals to processes (those need --kill too).
    #[arg(long)]
    pub yes: bool,
    /// With --yes: also send SIGTERM to processes (and stop units and containers) without
    /// asking; `--kill=force` also SIGKILLs what did not exit within the grace period (never
    /// implied by --yes).
    #[arg(long, value_name = "force", num_args = 0..=1, require_equals = true, default_missing_value = "term",
          value_parser = ["term", "force"])]
    pub kill: Option<String>,
    /// How long a process gets to exit after SIGTERM before SIGKILL is offered (default: its
    /// systemd service's TimeoutStopSec, capped at 5min; else 10s).
    #[arg(long, value_name = "DURATION", value_parser = duration::parse_duration)]
    pub grace: Option<std::time::Duration>,
}

/// `--addr` as typed, with the addresses it stands for (`localhost` is two).
#[derive(Debug, Clone)]
pub struct Addrs(pub Vec<std::net::IpAddr>, pub String);

impl Addrs {
    pub fn text(&self) -> &str {
        &self.1
    }
}

fn parse_addrs(s: &str) -> Result<Addrs, crate::addr::AddrError> {
    Ok(Addrs(crate::addr::service_addresses(s)?, s.to_string()))
}

/// Word-wraps `text` to `width` columns; the first line starts with `first`, the others are
/// indented to match it.
pub fn wrap(text: &str, width: usize, first: &str) -> String {
    wrap_hanging(text, width, first, &" ".repeat(table::width(first)))
}

/// Greedy word wrap with a first-line prefix and a prefix for the lines after it.
pub fn wrap_hanging(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && table::width(&line) + 1 + table::width(word) > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Print one JSON document (version 1; see JSON OUTPUT in portscope-snapshot(1)) instead of a
    /// table.
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
    /// Only sockets in this state (any case; ss spellings such as ESTAB or TIME-WAIT, and tw,
    /// work too).
    #[arg(long, value_name = "STATE", value_parser = choices::choices::<State>())]
    pub state: Option<State>,
    /// Only tcp or udp.
    #[arg(long, value_name = "PROTO", value_parser = choices::choices::<Proto>())]
    pub proto: Option<Proto>,
    /// Only sockets matching QUERY: words and fields, all of which must hold, e.g.
    /// `state:cw sport:8080`, `dport:5432,6379 proc:java`, `-state:tw auto`. Fields: sport, dport
    /// (a port, a range 8000-8099 or a comma list), state (ss names, cw, tw, est, ...), proc,
    /// pid, user, unit (unit, container or pod), netns, proto; bare auto (kernel-chosen port)
    /// and kernel (no process holds it); `!term` or `-field:value` negates. A number alone is a
    /// port or pid, other words match anywhere in the row.
    #[arg(long, value_name = "QUERY", value_parser = parse_query, allow_hyphen_values = true)]
    pub filter: Option<crate::filter::Query>,
    /// One row per group instead of one per socket: the count, the group and its states.
    #[arg(long, value_name = "GROUP", value_parser = choices::choices::<crate::analyze::conn_groups::GroupBy>())]
    pub group_by: Option<crate::analyze::conn_groups::GroupBy>,
    /// Order the rows by a column.
    #[arg(long, value_name = "COLUMN", value_parser = choices::choices::<crate::analyze::conn_sort::SortKey>())]
    pub sort: Option<crate::analyze::conn_sort::SortKey>,
    /// With --sort: largest first.
    #[arg(long, requires = "sort")]
    pub reverse: bool,
    /// Socket table source.
    #[arg(long, value_name = "SOURCE", default_value = "auto", value_parser = choices::choices::<SourcePref>())]
    pub source: SourcePref,
    /// Do not scan /proc for owning processes.
    #[arg(long)]
    pub no_owners: bool,
    /// Every network namespace on the host (containers, pods, `ip netns`): listeners and UDP
    /// of each, every socket of portscope's own; a namespace column in text, a `netns` field
    /// per socket in JSON.
    #[arg(long)]
    pub all_netns: bool,
    /// With --all-netns: also TCP sockets bound but never listening (they make bind fail too),
    /// in every namespace. Costs a walk of the host-wide bind hash per namespace.
    #[arg(long, requires = "all_netns")]
    pub bound_inactive: bool,
}

pub fn parse_port_arg(s: &str) -> Result<u16, ArgError> {
    crate::portset::parse_port(s).map_err(|e| ArgError::NotAPort {
        token: e.token,
        reason: e.reason,
    })
}

fn parse_query(s: &str) -> Result<crate::filter::Query, crate::filter::QueryError> {
    crate::filter::Query::parse(s)
}

fn parse_netns(s: &str) -> Result<NetnsTarget, crate::collect::NetnsError> {
    NetnsTarget::parse(s)
}

/// Parses the command line and runs the command; the one place where an error is printed
/// (through [`CliError::report`]) and becomes the exit status.
pub fn main() -> ExitCode {
    raise_open_files_limit();
    let result = match parse() {
        Ok(Some(cli)) => run(cli),
        Ok(None) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e),
    };
    result.unwrap_or_else(CliError::report)
}

/// Raises the soft limit on open files to the hard one, as a tool that opens one handle per
/// network namespace must: with the common soft limit of 1024, a host with 1,500 namespaces
/// would leave some unread (each is then named, never dropped, but better read).
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Parses the command line: `None` once `--help` or `--version` is printed. A usage error is
/// bad input (status 2), for `check` UNKNOWN (3); either way one line.
pub fn parse() -> Result<Option<Cli>, CliError> {
    match Cli::try_parse() {
        Ok(cli) => Ok(Some(cli)),
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return Ok(None);
            }
            // clap spreads some errors over lines ("...not provided:" then "  <PORT>"): join the
            // message's lines up to the usage, so the one line still names what was wrong.
            let text = e.render().to_string();
            let line = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
                .trim_start_matches("error: ")
                .to_string();
            let line = if line.is_empty() {
                "invalid arguments".into()
            } else {
                line
            };
            // `check` is a monitoring plugin: bad arguments are UNKNOWN (3), in its output format.
            if invoked_subcommand(std::env::args().skip(1)).as_deref() == Some("check") {
                return Err(CliError::CheckUnknown(line));
            }
            Err(CliError::BadInput(line))
        }
    }
}

/// The subcommand word of a command line (skipping global options and their values), as far as
/// it can be told from an invalid one.
pub fn invoked_subcommand(args: impl Iterator<Item = String>) -> Option<String> {
    use clap::CommandFactory;
    // The global options that take a value, as clap defines them: a hand-kept list fell
    // behind once (a value taken for the subcommand made `check`'s UNKNOWN a bad-input 2).
    let cmd = Cli::command();
    let with_value: Vec<String> = cmd
        .get_arguments()
        .filter(|a| !a.is_positional() && a.get_action().takes_values())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    let mut args = args;
    while let Some(a) = args.next() {
        if with_value.contains(&a) {
            args.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// Reads the config file's `[protect]` for why and fix (their warnings name what it lists); a
/// config file that is wrong is bad input, as for the TUI.
fn load_protect(config: Option<&std::path::Path>) -> Result<(), CliError> {
    let cfg = crate::config::load(config).map_err(CliError::bad_input)?;
    crate::action::set_protect(cfg.protect);
    Ok(())
}

/// Runs the command the line names: its status, or the error to report.
pub fn run(cli: Cli) -> CliResult {
    let netns = cli.netns.clone().unwrap_or_default();
    if let Some(dirs) = cli.tool_path.clone() {
        crate::tools::set_path(dirs.0);
    }
    match cli.command {
        Some(Command::Snapshot(args)) => out::finish(snapshot::run(&args, &netns)),
        Some(Command::Why(args)) => out::finish(match &args.connect {
            Some(dst) => why::connect::run(&args, dst, &netns),
            None => load_protect(cli.config.as_deref()).and_then(|()| why::run(&args, &netns)),
        }),
        Some(Command::Fix(args)) => out::finish(
            load_protect(cli.config.as_deref()).and_then(|()| fix_cmd::run(&args, &netns)),
        ),
        Some(Command::Reserve(args)) => out::finish(reserve::run(&args, &netns)),
        Some(Command::Check(args)) => {
            out::finish_check(check_cmd::run_check(&args, &netns, cli.config.as_deref()))
        }
        Some(Command::Metrics(args)) => {
            out::finish(check_cmd::run_metrics(&args, &netns, cli.config.as_deref()))
        }
        Some(Command::Services(args)) => {
            out::finish(services_cmd::run(&args, &netns, cli.config.as_deref()))
        }
        Some(Command::Fleet(args)) => out::finish(fleet_cmd::run(&args)),
        Some(Command::Completions(args)) => docs::completions(&args),
        Some(Command::Man(args)) => docs::man(&args),
        Some(Command::Watch(args)) => out::finish(watch::run(&args, &netns)),
        Some(Command::History(args)) => out::finish(history_cmd::run(&args)),
        Some(Command::Report(args)) => out::finish(report_cmd::run(&args, &netns)),
        None => {
            let opts = crate::tui::TuiOptions {
                netns,
                interval: cli.interval,
                replay: cli.replay,
                config: cli.config,
                no_color: cli.no_color,
                no_events: cli.no_events,
                sysctl_dir: cli.sysctl_dir,
                record: cli.record,
            };
            match crate::tui::run(opts) {
                Ok(ending) => Ok(ExitCode::from(ending.exit_status())),
                Err(e) if e.is_bad_input() => Err(CliError::bad_input(e)),
                Err(e) => Err(CliError::failed(e, 1)),
            }
        }
    }
}

/// Collects a snapshot for a command: a namespace that cannot be entered is the user's input
/// (2 when it does not exist or is not a netns), any other failure portscope's.
pub fn collect_for_cli(opts: &CollectOptions) -> Result<crate::model::Snapshot, CliError> {
    Ok(crate::collect::collect(opts)?)
}
