//! `portscope check` (a Nagios plugin) and `portscope metrics` (node_exporter's textfile
//! collector): two faces of one evaluation of the declared service ports.

use super::{ArgError, CliError, CliResult};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::guard::check::Options;
use crate::guard::plugin::plugin_text;
use crate::guard::{Service, Status};
use crate::model::{Proto, Snapshot};
use crate::portset::PortSet;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ThresholdArgs {
    /// WARNING when fewer ephemeral ports than this are usable (perfdata range `N:`).
    #[arg(long, short = 'w', value_name = "N", default_value_t = crate::reserve::plan::LOW_USABLE_PORTS)]
    pub ephemeral_warn: u32,
    /// CRITICAL when fewer ephemeral ports than this are usable (perfdata range `N:`).
    #[arg(long, short = 'c', value_name = "N", default_value_t = 1000)]
    pub ephemeral_crit: u32,
    /// WARNING from this percentage of the busiest destination's usable local ports in use
    /// (connect() to it fails at 100).
    #[arg(long, value_name = "PERCENT", default_value_t = 80,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub ephemeral_use_warn: u8,
    /// CRITICAL from this percentage (and always when no port is left).
    #[arg(long, value_name = "PERCENT", default_value_t = 95,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub ephemeral_use_crit: u8,
    /// Compare the reserved ports with the sysctl configuration below ROOT (a test tree, an
    /// image) instead of the host's files.
    #[arg(long, value_name = "ROOT")]
    pub sysctl_root: Option<PathBuf>,
    /// Skip the host checks (ephemeral capacity, drift, sysctl.d problems).
    #[arg(long)]
    pub no_host_checks: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only this declared service (repeatable).
    #[arg(long, value_name = "NAME", conflicts_with = "port")]
    pub service: Vec<String>,
    /// Check these ports: 8080, 8080/udp, 9000-9010/tcp, 53,5353/udp. Declared ones keep their
    /// expected process; others accept any listener.
    #[arg(long, value_name = "SPEC", value_parser = parse_port_spec)]
    pub port: Option<(PortSet, Proto)>,
    /// Print one JSON document instead of the plugin text.
    #[arg(long)]
    pub json: bool,
    /// A declared port nobody listens on is CRITICAL (monitoring a running service).
    #[arg(long)]
    pub require_listening: bool,
    /// For systemd's ExecStartPre=: WARNING exits 0, so only CRITICAL (a start that would fail
    /// anyway) or UNKNOWN stops the service.
    #[arg(long)]
    pub pre_start: bool,
    /// Look at the declared TCP listeners' accept queues several times over DURATION (e.g.
    /// 5s): a queue that does not drain, and connections dropped meanwhile, are seen only so.
    #[arg(long, value_name = "DURATION", value_parser = super::duration::parse_sample)]
    pub sample: Option<std::time::Duration>,
    /// Answer UNKNOWN (exit 3) when the check has not finished within DURATION (10, 10s, 1m;
    /// default 30s plus --sample).
    #[arg(long, short = 't', value_name = "DURATION", value_parser = super::duration::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Do not read the filter rules (iptables-save, nft) for the declared listeners.
    #[arg(long)]
    pub no_firewall: bool,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// The declared TCP ports, whose listeners' health is read.
fn tcp_ports(services: &[crate::guard::Service]) -> Vec<u16> {
    services
        .iter()
        .filter(|s| s.proto == Proto::Tcp)
        .flat_map(|s| s.ports.iter())
        .collect()
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Write DIR/portscope.prom atomically (node_exporter --collector.textfile.directory);
    /// without it, print to stdout.
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,
    /// The flight recorder's log (watch --failures --record FILE), with its turned-over
    /// predecessors FILE.1 ...: exports portscope_refused_total{call,errno}.
    #[arg(long, value_name = "FILE")]
    pub failures_log: Option<PathBuf>,
    #[command(flatten)]
    pub thresholds: ThresholdArgs,
}

/// Refusals by call and errno over a recorder's log and its turned-over predecessors.
fn refused_counts(path: &Path) -> crate::guard::metrics::RefusedCounts {
    let mut r = crate::guard::metrics::RefusedCounts::default();
    for f in crate::history::rotate::all(path, 100) {
        if let Ok(loaded) = crate::history::log::read(&f) {
            r.readable = true;
            for x in &loaded.refused {
                r.add(x.call.as_str(), &x.errno);
            }
        }
    }
    r
}

/// `8080`, `8080/udp`, `9000-9010,9100/tcp`.
pub fn parse_port_spec(s: &str) -> Result<(PortSet, Proto), ArgError> {
    let (ports, proto) = match s.rsplit_once('/') {
        Some((p, proto)) => (p, proto.parse::<Proto>()?),
        None => (s, Proto::Tcp),
    };
    let set = PortSet::parse(ports)?;
    if set.is_empty() || set.contains(0) {
        return Err(ArgError::PortsOutOfRange(s.to_string()));
    }
    Ok((set, proto))
}

fn options(t: &ThresholdArgs, require_listening: bool) -> Result<Options, ArgError> {
    if t.ephemeral_crit > t.ephemeral_warn {
        return Err(ArgError::Thresholds {
            crit: t.ephemeral_crit,
            warn: t.ephemeral_warn,
        });
    }
    if t.ephemeral_use_crit < t.ephemeral_use_warn {
        return Err(ArgError::Conflict(format!(
            "--ephemeral-use-crit {} is below --ephemeral-use-warn {}",
            t.ephemeral_use_crit, t.ephemeral_use_warn
        )));
    }
    Ok(Options {
        ephemeral_warn: t.ephemeral_warn,
        ephemeral_crit: t.ephemeral_crit,
        ephemeral_use_warn: t.ephemeral_use_warn,
        ephemeral_use_crit: t.ephemeral_use_crit,
        require_listening,
        host_checks: !t.no_host_checks,
        ..Options::default()
    })
}

/// The declared services to check, narrowed by --service or --port.
fn select(
    declared: &[Service],
    names: &[String],
    port: Option<&(PortSet, Proto)>,
    config_shown: &str,
) -> Result<Vec<Service>, ArgError> {
    if !names.is_empty() {
        let mut out = Vec::new();
        for n in names {
            match declared.iter().find(|s| &s.name == n) {
                Some(s) => out.push(s.clone()),
                None => {
                    let known: Vec<&str> = declared.iter().map(|s| s.name.as_str()).collect();
                    return Err(ArgError::NoSuchService {
                        name: n.clone(),
                        config: config_shown.to_string(),
                        declared: if known.is_empty() {
                            "none; see portscope services".to_string()
                        } else {
                            known.join(", ")
                        },
                    });
                }
            }
        }
        return Ok(out);
    }
    let Some((ports, proto)) = port else {
        return Ok(declared.to_vec());
    };
    let mut out = Vec::new();
    let mut rest = ports.clone();
    for s in declared.iter().filter(|s| s.proto == *proto) {
        let mine = s.ports.intersection(ports);
        if !mine.is_empty() {
            rest = rest.difference(&mine);
            out.push(Service {
                ports: mine,
                ..s.clone()
            });
        }
    }
    if !rest.is_empty() {
        out.push(Service {
            name: "port".into(),
            ports: rest,
            proto: *proto,
            process: None,
        });
    }
    Ok(out)
}

fn load_services(
    config: Option<&Path>,
) -> Result<(Vec<Service>, String), crate::config::ConfigError> {
    let shown = config
        .map(Path::to_path_buf)
        .or_else(crate::config::default_path)
        .map_or_else(|| "the config file".into(), |p| p.display().to_string());
    let cfg = crate::config::load(config)?;
    Ok((cfg.services, shown))
}

/// `check` reports any failure to collect as UNKNOWN, a missing namespace included.
fn snapshot(netns: &NetnsTarget) -> Result<Snapshot, crate::collect::CollectError> {
    crate::collect::collect(&CollectOptions {
        netns: netns.clone(),
        ..CollectOptions::default()
    })
}

pub fn run_check(args: &CheckArgs, netns: &NetnsTarget, config: Option<&Path>) -> CliResult {
    let timeout = args
        .timeout
        .unwrap_or(super::deadline::DEFAULT_TIMEOUT + args.sample.unwrap_or_default());
    let deadline = super::deadline::Deadline::start(timeout);
    let judged = judge(args, netns, config);
    deadline.disarm();
    let report = judged?;
    if args.json {
        super::out::print_json(&report);
    } else {
        super::out::print(&plugin_text(&report));
    }
    let code = if args.pre_start && report.status == Status::Warning {
        0
    } else {
        report.status.code()
    };
    Ok(ExitCode::from(code))
}

/// Everything `check` does before it answers: what the watchdog times.
fn judge(
    args: &CheckArgs,
    netns: &NetnsTarget,
    config: Option<&Path>,
) -> Result<crate::guard::check::Report, CliError> {
    let mut opts = match options(&args.thresholds, args.require_listening) {
        Ok(o) => o,
        Err(e) => return Err(CliError::CheckUnknown(e.to_string())),
    };
    let (declared, shown) = match load_services(config) {
        Ok(d) => d,
        Err(e) => return Err(CliError::CheckUnknown(e.to_string())),
    };
    let services = match select(&declared, &args.service, args.port.as_ref(), &shown) {
        Ok(s) => s,
        Err(e) => return Err(CliError::CheckUnknown(e.to_string())),
    };
    let snap = match snapshot(netns) {
        Ok(s) => s,
        Err(e) => return Err(CliError::CheckUnknown(e.to_string())),
    };
    opts.listeners = crate::guard::health::read(&snap, tcp_ports(&services), netns, args.sample);
    opts.conntrack = crate::collect::conntrack::read(netns);
    if !args.no_firewall {
        opts.reach = crate::guard::read_reach(
            &snap,
            &services,
            netns,
            crate::collect::nat::filter::DEFAULT_BUDGET,
        );
    }
    Ok(crate::guard::run_check(
        &snap,
        &services,
        netns,
        args.thresholds.sysctl_root.as_deref(),
        &opts,
    ))
}

pub fn run_metrics(args: &MetricsArgs, netns: &NetnsTarget, config: Option<&Path>) -> CliResult {
    let started = std::time::Instant::now();
    let mut opts = match options(&args.thresholds, false) {
        Ok(o) => o,
        Err(e) => return Err(CliError::bad_input(e)),
    };
    let (services, _) = match load_services(config) {
        Ok(d) => d,
        Err(e) => return Err(CliError::bad_input(e)),
    };
    let snap = super::collect_for_cli(&CollectOptions {
        netns: netns.clone(),
        ..CollectOptions::default()
    })?;
    opts.listeners = crate::guard::health::read(&snap, tcp_ports(&services), netns, None);
    opts.conntrack = crate::collect::conntrack::read(netns);
    let report = crate::guard::run_check(
        &snap,
        &services,
        netns,
        args.thresholds.sysctl_root.as_deref(),
        &opts,
    );
    let mut text = crate::guard::metrics::render(
        &report,
        &snap,
        jiff::Timestamp::now(),
        started.elapsed().as_secs_f64(),
    );
    if let Some(log) = &args.failures_log {
        text.push_str(&crate::guard::metrics::render_refused(&refused_counts(log)));
    }
    match &args.textfile {
        None => {
            super::out::print(&text);
            Ok(ExitCode::SUCCESS)
        }
        Some(dir) => match crate::safefs::check_trusted_dir(dir)
            .and_then(|()| crate::safefs::Dir::open(dir))
            .and_then(|d| d.write_atomic(crate::guard::metrics::FILE_NAME, text.as_bytes(), 0o644))
        {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => Err(CliError::failed(
                format!(
                    "could not write {}: {e}",
                    dir.join(crate::guard::metrics::FILE_NAME).display()
                ),
                1,
            )),
        },
    }
}
