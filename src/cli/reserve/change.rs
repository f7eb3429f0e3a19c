//! `portscope reserve apply` and `undo`: the commands that change something. Each shows what
//! will happen, asks (default No), and hands the change to the library's transaction.

use super::text;
use super::{
    ApplyArgs, NEEDS_ROOT, UndoArgs, add_boot_warnings, container_persistence, exit_for,
    journal_path, layout, not_root, prepare, print, root_instructions,
};
use crate::cli::confirm::{Consent, confirm, declined};
use crate::cli::{CliError, CliResult};
use crate::collect::NetnsTarget;
use crate::paths::is_root;
use crate::reserve::fleet::manual_restore;
use crate::reserve::sysctld::override_warnings;
use crate::reserve::{DROPIN_NAME, ErrorKind, audit};
use std::path::Path;
use std::process::ExitCode;

pub fn apply_cmd(args: &ApplyArgs, netns: &NetnsTarget) -> CliResult {
    if args.finish {
        return finish_cmd(args.yes, netns);
    }
    let c = &args.change;
    if c.spec.is_none() && c.remove.is_none() && !c.at_risk {
        return Err(CliError::bad_input(
            "reserve apply needs ports: SPEC (8080,9000-9010), --remove SPEC, --at-risk, or \
             --finish to complete an interrupted apply",
        ));
    }
    let files = layout(&args.files);
    let host = netns.is_host();
    // Boot-time files configure the host's namespace only: for a container's namespace they
    // would replace the host's reservation with the container's list.
    let persist = !args.no_persist && (host || files.explicit);
    let before = audit(&files.layout);
    if persist && let Err(unknown) = before.value_under_dropin(DROPIN_NAME) {
        return Err(CliError::failed(
            format!(
                "{unknown}: a drop-in written now could drop what that file reserves; nothing \
                 was changed (fix that file, or apply with --no-persist)"
            ),
            1,
        ));
    }
    let (snap, mut plan) = prepare(c, netns, persist.then_some(&before), args.force)?;
    if persist {
        add_boot_warnings(&mut plan, &before, &snap, &files.dropin);
    }
    let asked_nothing = c
        .spec
        .as_ref()
        .is_none_or(crate::model::portset::PortSet::is_empty)
        && c.remove
            .as_ref()
            .is_none_or(crate::model::portset::PortSet::is_empty)
        && (!c.at_risk || crate::reserve::at_risk_ports(&snap).is_empty());
    if asked_nothing {
        // Asked for nothing, change nothing: not even the boot value the plan would merge in.
        print(&text::nothing_asked(&plan, netns));
        return Ok(ExitCode::SUCCESS);
    }
    print(&text::plan(&plan, &snap.netns));
    if !plan.refusals.is_empty() {
        return Err(CliError::bad_input(format!(
            "{}; nothing was changed",
            plan.refusals.join("; ")
        )));
    }
    let persisted = before
        .settings
        .iter()
        .rev()
        .find(|s| s.file == files.dropin)
        .and_then(|s| s.value.as_ref())
        == Some(&plan.proposed);
    if !plan.changes_runtime() && (!persist || persisted) {
        print("Nothing to do: the kernel already holds this list");
        print(if persist {
            " and the drop-in persists it.\n"
        } else {
            ".\n"
        });
        return Ok(ExitCode::SUCCESS);
    }
    if !persist && !args.no_persist {
        print(&format!(
            "\nNot persisted: network namespace {} is not the host's, and sysctl.d files \
             configure the host's namespace only.\n{}",
            netns.describe(),
            container_persistence(&plan.proposed)
        ));
    }
    let dropin = persist.then_some(files.dropin.as_path());
    if !is_root() {
        print(&root_instructions(&plan, netns, dropin));
        return Err(not_root(NEEDS_ROOT));
    }
    let journal = journal_path()?;
    let consent = confirm(args.yes, "Apply?");
    if consent != Consent::Yes {
        return Err(declined(consent, "apply"));
    }
    let mut req = crate::reserve::ApplyRequest::from_plan(
        &plan,
        netns.clone(),
        dropin.map(Path::to_path_buf),
        journal,
    );
    req.sysctl_root.clone_from(&files.root);
    req.force = args.force;
    req.boot_seen = persist.then(|| before.seen());
    match crate::reserve::apply(&req) {
        Ok(outcome) => {
            let overrides = match &outcome.entry.dropin {
                Some(_) => override_warnings(
                    &audit(&files.layout).overriding(&files.dropin),
                    DROPIN_NAME,
                    &plan.proposed,
                ),
                None => Vec::new(),
            };
            print(&text::applied(
                &outcome.entry,
                &netns.cli_flag(),
                &overrides,
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.kind == ErrorKind::NotPermitted => {
            print(&root_instructions(&plan, netns, dropin));
            Err(CliError::failed(e, 1))
        }
        Err(e) => Err(exit_for(&e)),
    }
}

/// `apply --finish`: completes the interrupted apply the journal holds for the namespace.
fn finish_cmd(yes: bool, netns: &NetnsTarget) -> CliResult {
    let journal = journal_path()?;
    if !is_root() {
        return Err(not_root(NEEDS_ROOT));
    }
    let consent = confirm(yes, "Finish the interrupted apply?");
    if consent != Consent::Yes {
        return Err(declined(consent, "finish"));
    }
    match crate::reserve::finish(&journal, netns) {
        Ok(entry) => {
            print(&text::applied(&entry, &netns.cli_flag(), &[]));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(exit_for(&e)),
    }
}

pub fn undo_cmd(args: &UndoArgs, netns: &NetnsTarget) -> CliResult {
    let journal = journal_path()?;
    let plan = match crate::reserve::plan_undo(&journal, netns) {
        Ok(p) => p,
        Err(e) if e.kind == ErrorKind::NothingToUndo && !is_root() => {
            // `sudo portscope reserve apply` journals under root's data directory.
            return Err(CliError::failed(
                format!("{e} (changes applied with sudo are undone with sudo)"),
                1,
            ));
        }
        Err(e) => return Err(exit_for(&e)),
    };
    print(&text::undo_plan(&plan));
    if let Some(why) = &plan.blocked {
        // Even under --yes: undo must never overwrite another administrator's change.
        return Err(CliError::failed(format!("cannot undo: {why}"), 1));
    }
    if !is_root() {
        print(&format!(
            "\nRun it as root (sudo {}), or restore by hand:\n\n{}",
            super::original_command(),
            manual_restore(&plan)
        ));
        return Err(not_root(NEEDS_ROOT));
    }
    let consent = confirm(args.yes, "Undo?");
    if consent != Consent::Yes {
        return Err(declined(consent, "undo"));
    }
    match crate::reserve::undo(&plan) {
        Ok(_) => {
            print(&text::undone(&plan));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(exit_for(&e)),
    }
}
