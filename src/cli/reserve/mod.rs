//! `portscope reserve`: plan, apply, undo and audit `net.ipv4.ip_local_reserved_ports`.
//! A thin surface: the library computes and changes; this file parses, asks, and prints.

mod change;
pub mod text;

use super::{CliError, CliResult, collect_for_cli};
use crate::collect::sysctl::RESERVED_PORTS;
use crate::collect::{CollectOptions, NetnsTarget};
use crate::model::{NetnsInfo, Snapshot, Socket};
use crate::portset::PortSet;
use crate::reserve::fleet::shell_quote;
use crate::reserve::journal::Entry;
use crate::reserve::sysctld::{Setting, override_warnings};
use crate::reserve::{
    Audit, DROPIN_NAME, ErrorKind, Plan, SysctlLayout, ansible_task, at_risk_listeners,
    at_risk_ports, audit, dropin_content, journal, manual_commands,
};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ReserveArgs {
    #[command(subcommand)]
    pub command: Option<ReserveCommand>,
}

#[derive(Debug, Subcommand)]
pub enum ReserveCommand {
    /// Show what reserving (or releasing) ports would change; changes nothing.
    Plan(PlanArgs),
    /// Apply the change: runtime value (verified) and a sysctl.d drop-in, all or nothing.
    Apply(ApplyArgs),
    /// Restore the state before the last apply, one step at a time.
    Undo(UndoArgs),
    /// Runtime value vs. what the configuration files set at boot; unprotected listeners.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Ports to reserve, in the kernel's list syntax (8080,9000-9010); merged with the current list.
    #[arg(value_name = "SPEC", value_parser = parse_spec)]
    pub spec: Option<PortSet>,
    /// Ports to take out of the list.
    #[arg(long, value_name = "SPEC", value_parser = PortSet::parse)]
    pub remove: Option<PortSet>,
    /// Also reserve every listener now inside the ephemeral range and not reserved.
    #[arg(long)]
    pub at_risk: bool,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// sysctl.d directory for portscope's drop-in, in place of /etc/sysctl.d.
    #[arg(long, value_name = "DIR")]
    pub sysctl_dir: Option<PathBuf>,
    /// Read and write sysctl configuration below ROOT instead of / (an image, a test tree).
    #[arg(long, value_name = "ROOT")]
    pub sysctl_root: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FleetFormat {
    /// An Ansible task (ansible.posix.sysctl).
    Ansible,
    /// The sysctl.d drop-in file.
    Sysctl,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Print the plan as one JSON document.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Print the change for a fleet: an Ansible task, or the sysctl.d file content.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<FleetFormat>,
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Change the runtime value only; write no drop-in (lost at reboot).
    #[arg(long)]
    pub no_persist: bool,
    /// Apply even if (almost) no ephemeral port is left: every outgoing connection will fail.
    #[arg(long)]
    pub force: bool,
    /// Complete an apply that was interrupted (the journal holds it as unfinished).
    #[arg(long, conflicts_with_all = ["spec", "remove", "at_risk", "force", "no_persist"])]
    pub finish: bool,
    #[command(flatten)]
    pub files: FileArgs,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub files: FileArgs,
}

/// Ports to reserve or remove as typed: the kernel's list syntax, without port 0 (a bind to
/// port 0 asks the kernel to choose; there is nothing to reserve). A port 0 already in the
/// kernel's list is read and kept as it is.
fn parse_spec(s: &str) -> Result<PortSet, crate::portset::PortSpecError> {
    let set = PortSet::parse(s)?;
    if set.contains(0) {
        return Err(crate::portset::PortSpecError {
            token: s.trim().to_string(),
            reason: "port 0 is not a port (bind to port 0 asks the kernel to choose one): \
                     nothing to reserve",
        });
    }
    Ok(set)
}

pub fn run(args: &ReserveArgs, netns: &NetnsTarget) -> CliResult {
    match &args.command {
        Some(ReserveCommand::Plan(a)) => plan_cmd(a, netns),
        Some(ReserveCommand::Apply(a)) => change::apply_cmd(a, netns),
        Some(ReserveCommand::Undo(a)) => change::undo_cmd(a, netns),
        Some(ReserveCommand::Status(a)) => status_cmd(a, netns),
        // clap's own "subcommand required" message is a multi-line help page; keep one line.
        None => Err(CliError::bad_input(
            "reserve needs a subcommand: plan, apply, undo or status (portscope reserve --help)",
        )),
    }
}

/// Text to stdout, escaped; a failed write shows in the exit status (cli::out).
pub(super) fn print(s: &str) {
    super::out::print(s);
}

fn json_out<T: Serialize>(v: &T) -> ExitCode {
    super::out::print_json(v);
    ExitCode::SUCCESS
}

/// Where the flags say sysctl configuration lives.
pub(super) struct Files {
    pub(super) layout: SysctlLayout,
    /// portscope's drop-in.
    pub(super) dropin: PathBuf,
    /// The `--sysctl-root` the drop-in lies under (nothing below it is followed).
    pub(super) root: Option<PathBuf>,
    /// The user named the files (`--sysctl-dir`/`--sysctl-root`): write them even for a
    /// namespace that is not the host's.
    pub(super) explicit: bool,
}

/// The sysctl layout and the drop-in path the flags select.
pub(super) fn layout(files: &FileArgs) -> Files {
    let root = files.sysctl_root.as_deref().unwrap_or(Path::new("/"));
    let mut layout = SysctlLayout::under_root(root);
    if let Some(dir) = &files.sysctl_dir {
        layout = layout.with_admin_dir(dir);
    }
    let dir = layout
        .admin_dir()
        .map_or_else(|| root.join("etc/sysctl.d"), Path::to_path_buf);
    Files {
        layout,
        dropin: dir.join(DROPIN_NAME),
        root: files
            .sysctl_root
            .clone()
            .filter(|_| files.sysctl_dir.is_none()),
        explicit: files.sysctl_dir.is_some() || files.sysctl_root.is_some(),
    }
}

/// The snapshot and the plan for a change, or the exit status when the input is bad. `boot`
/// is the configuration's audit when the change is to be persisted: the plan then keeps what it
/// reserves at boot.
pub(super) fn prepare(
    change: &ChangeArgs,
    netns: &NetnsTarget,
    boot: Option<&Audit>,
    force: bool,
) -> Result<(Snapshot, Plan), CliError> {
    let add_spec = change.spec.clone().unwrap_or_default();
    let remove = change.remove.clone().unwrap_or_default();
    let both = add_spec.intersection(&remove);
    if !both.is_empty() {
        return Err(CliError::bad_input(format!(
            "{both} is both in SPEC and in --remove: reserve it or remove it, not both"
        )));
    }
    let snap = collect_for_cli(&CollectOptions {
        netns: netns.clone(),
        ..CollectOptions::default()
    })?;
    // A plan merged with a guessed current list would drop real reservations.
    if !snap.sysctl.known("ip_local_reserved_ports") {
        return Err(CliError::failed(
            format!(
                "cannot read {RESERVED_PORTS} in {}: no plan can be merged with \
                 it ({})",
                netns.phrase(),
                sudo_hint(netns)
            ),
            1,
        ));
    }
    let current = snap.sysctl.ip_local_reserved_ports.clone();
    let mut add = add_spec;
    if change.at_risk {
        add = add.union(&at_risk_ports(&snap));
    }
    let boot = boot.and_then(|a| a.boot_to_keep(DROPIN_NAME).ok().flatten());
    let plan = Plan::merged(&current, boot.as_ref(), &add, &remove, &snap, force);
    Ok((snap, plan))
}

/// The command that shows what this user cannot see.
pub(super) fn sudo_hint(netns: &NetnsTarget) -> String {
    format!("run as root: sudo {}", original_command_or(netns))
}

fn original_command_or(netns: &NetnsTarget) -> String {
    let cmd = original_command();
    if cmd.is_empty() {
        format!("portscope reserve status{}", netns.cli_flag())
    } else {
        cmd
    }
}

/// How to make a namespace's value survive when its configuration is not the host's files.
pub(super) fn container_persistence(value: &PortSet) -> String {
    let (intro, how) = crate::reserve::fleet::container_persistence(value);
    format!(
        "{intro}:\n{}",
        how.lines().fold(String::new(), |mut o, l| {
            _ = writeln!(o, "  {l}");
            o
        })
    )
}

/// Adds what the configuration files mean for the drop-in to the plan's warnings.
pub(super) fn add_boot_warnings(plan: &mut Plan, audit: &Audit, snap: &Snapshot, dropin: &Path) {
    let after: Vec<&Setting> = audit.after_dropin(DROPIN_NAME);
    plan.warnings
        .extend(override_warnings(&after, DROPIN_NAME, &plan.proposed));
    for s in audit.problems() {
        // Lines after the drop-in were just named, with their problem.
        if after.iter().any(|a| a.file == s.file && a.line == s.line) {
            continue;
        }
        if let Some(p) = &s.problem {
            plan.warnings
                .push(format!("{}:{}: {}", s.file.display(), s.line, p.message()));
        }
    }
    for u in &audit.unreadable {
        plan.warnings.push(format!(
            "could not read {u}: what it sets at boot is unknown"
        ));
    }
    if !crate::collect::netns::snapshot_is_host(snap) {
        plan.warnings.push(format!(
            "network namespace {} is not the host's: {} configures the host namespace at boot, \
             not this one",
            snap.netns.target,
            dropin.display()
        ));
    }
}

#[derive(Serialize)]
struct PlanJson<'a> {
    version: u32,
    netns: &'a NetnsInfo,
    #[serde(flatten)]
    plan: &'a Plan,
    dropin: &'a Path,
}

fn plan_cmd(args: &PlanArgs, netns: &NetnsTarget) -> CliResult {
    let files = layout(&args.files);
    let audit = audit(&files.layout);
    let persist = netns.is_host() || files.explicit;
    let (snap, mut plan) = prepare(&args.change, netns, persist.then_some(&audit), false)?;
    match args.format {
        Some(FleetFormat::Ansible) => {
            print(&ansible_task(&plan.proposed, &files.dropin));
            return Ok(ExitCode::SUCCESS);
        }
        Some(FleetFormat::Sysctl) => {
            print(&dropin_content(&plan.proposed, jiff::Timestamp::now()));
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    add_boot_warnings(&mut plan, &audit, &snap, &files.dropin);
    if args.json {
        return Ok(json_out(&PlanJson {
            version: 1,
            netns: &snap.netns,
            plan: &plan,
            dropin: &files.dropin,
        }));
    }
    let mut out = text::plan(&plan, &snap.netns);
    if plan.added.is_empty() && plan.removed.is_empty() {
        out.push_str(&super::wrap(
            "Nothing to add or remove: name ports (portscope reserve plan 8080,9000-9010), or --at-risk for every listener at risk.",
            80,
            "",
        ));
    } else if plan.refusals.is_empty() {
        _ = writeln!(
            out,
            "Apply with: portscope reserve apply{}{}",
            netns.cli_flag(),
            change_flags(&plan)
        );
    }
    print(&out);
    Ok(ExitCode::SUCCESS)
}

/// The flags that reproduce a plan's change without re-deriving `--at-risk`.
pub(super) fn change_flags(plan: &Plan) -> String {
    let mut s = String::new();
    if !plan.added.is_empty() {
        _ = write!(s, " {}", plan.added);
    }
    if !plan.removed.is_empty() {
        _ = write!(s, " --remove {}", plan.removed);
    }
    s
}

pub(super) fn original_command() -> String {
    std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a user without root can do instead: the same command with sudo, or by hand.
pub(super) fn root_instructions(plan: &Plan, netns: &NetnsTarget, dropin: Option<&Path>) -> String {
    // Blocks are printed flush left so they paste as they are (an indented heredoc end marker
    // would not end the heredoc).
    let file = dropin.map_or_else(
        || Path::new("/etc/sysctl.d").join(DROPIN_NAME),
        Path::to_path_buf,
    );
    format!(
        "\nRun it as root:\n\nsudo {}\n\nOr make the change by hand:\n\n{}\n\
         Or, for a fleet, this Ansible task:\n\n{}",
        original_command(),
        manual_commands(&plan.proposed, netns, dropin),
        ansible_task(&plan.proposed, &file)
    )
}

pub(super) fn not_root(message: &str) -> CliError {
    CliError::failed(format!("{message}; nothing was changed"), 1)
}

pub(super) const NEEDS_ROOT: &str = "changing net.ipv4.ip_local_reserved_ports needs root (CAP_NET_ADMIN \
                          over the network namespace, and write access to the sysctl.d directory)";

pub(super) fn journal_path() -> Result<PathBuf, CliError> {
    journal::default_path().ok_or_else(|| {
        CliError::failed(
            "cannot find a data directory for the undo journal: set HOME or XDG_DATA_HOME",
            1,
        )
    })
}

pub(super) fn exit_for(e: &crate::reserve::ApplyError) -> CliError {
    match e.kind {
        ErrorKind::BadTarget => CliError::bad_input(e),
        _ => CliError::failed(e, 1),
    }
}

#[derive(Serialize)]
struct StatusJson<'a> {
    version: u32,
    netns: &'a NetnsInfo,
    /// Whether boot-time configuration applies to this namespace at all.
    host_netns: bool,
    /// `null` when it could not be read (see `runtime_known`).
    runtime: Option<&'a PortSet>,
    runtime_known: bool,
    /// What the configuration files set at boot (`null`: nothing sets it, or unknown).
    boot: Option<&'a PortSet>,
    boot_file: Option<String>,
    /// False when an unreadable file may set it.
    boot_known: bool,
    ephemeral: [u16; 2],
    dropin: &'a Path,
    /// Assignments applied after portscope's drop-in (they override it).
    dropin_overridden_by: Vec<&'a Setting>,
    audit: &'a Audit,
    /// `null` when unknown (see `at_risk_known`).
    at_risk: Option<Vec<&'a Socket>>,
    at_risk_known: bool,
    /// An apply of this namespace that did not finish (`undo` rolls it back, `apply --finish`
    /// completes it).
    unfinished: Option<Entry>,
}

/// The pending journal entry for the namespace, if any (reading only; no lock).
fn unfinished_entry(netns: &NetnsTarget) -> Option<(Entry, PathBuf)> {
    let path = journal::default_path()?;
    let id = netns.run_in(journal::NetnsId::current).ok()?;
    let j = journal::Journal::load(&path).ok()?;
    let i = j.last_for(&id).ok()??;
    let e = &j.entries[i];
    (e.state == journal::EntryState::Pending).then(|| (e.clone(), path))
}

fn status_cmd(args: &StatusArgs, netns: &NetnsTarget) -> CliResult {
    let snap = collect_for_cli(&CollectOptions {
        netns: netns.clone(),
        ..CollectOptions::default()
    })?;
    let files = layout(&args.files);
    let audit = audit(&files.layout);
    let runtime_known = snap.sysctl.known("ip_local_reserved_ports");
    // Listeners at risk need both sysctls, and sockets whose table could be read.
    let at_risk: Option<Vec<&Socket>> = (runtime_known && snap.sysctl.known("ip_local_port_range"))
        .then(|| at_risk_listeners(&snap, &snap.sysctl).collect());
    let host = crate::collect::netns::snapshot_is_host(&snap);
    let unfinished = unfinished_entry(netns);
    let runtime = runtime_known.then_some(&snap.sysctl.ip_local_reserved_ports);
    if args.json {
        let boot = audit.boot_value();
        return Ok(json_out(&StatusJson {
            version: 1,
            netns: &snap.netns,
            host_netns: host,
            runtime,
            runtime_known,
            boot: boot.and_then(|s| s.value.as_ref()),
            boot_file: boot.map(|s| format!("{}:{}", s.file.display(), s.line)),
            boot_known: audit.boot_known,
            ephemeral: snap.sysctl.ip_local_port_range,
            dropin: &files.dropin,
            dropin_overridden_by: audit.overriding(&files.dropin),
            audit: &audit,
            at_risk_known: at_risk.is_some(),
            at_risk,
            unfinished: unfinished.map(|(e, _)| e),
        }));
    }
    let owned: Option<Vec<Socket>> = at_risk.map(|v| v.into_iter().cloned().collect());
    print(&text::status(&text::StatusView {
        ns: &snap.netns,
        is_host: host,
        runtime,
        audit: &audit,
        dropin: &files.dropin,
        ephemeral: snap.sysctl.ephemeral(),
        at_risk: owned.as_deref(),
        unfinished: unfinished
            .map(|(e, path)| crate::reserve::apply::unfinished_message(&e, &path)),
        hint: sudo_hint(netns),
    }));
    Ok(ExitCode::SUCCESS)
}
