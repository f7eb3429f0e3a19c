//! `portscope fix PORT`: why's plan carried out. Each step is shown and confirmed on its own
//! (default no; a signal needs its own yes, or --yes with --kill), run by the same executor as
//! the TUI (same re-checks, same action log), and followed by a fresh look and a fresh kernel
//! probe: the plan is re-made from what is there now, and it stops as soon as the bind would
//! succeed.

use super::confirm::{Consent, confirm};
use super::why::{ask, resolved};
use super::{CliError, CliResult, FixArgs, wrap};
use crate::action::from_plan::{plan_step, runnable};
use crate::action::{PendingAction, exec};
use crate::analyze::why::RemedyKind;
use crate::analyze::why::{Diagnosis, Remedy};
use crate::collect::NetnsTarget;
use std::process::ExitCode;

/// Enough for any plan; a loop that keeps finding new work is stopped rather than trusted.
const MAX_STEPS: usize = 25;

fn say(text: &str) {
    super::out::print(text);
}

/// The step's identity across rounds, so a declined or finished step is not offered again.
fn step_key(d: &Diagnosis, r: &Remedy) -> String {
    let cause = r
        .cause
        .and_then(|i| d.causes.get(i))
        .map_or(String::new(), |c| format!("{:?} {:?}", c.kind, c.pids));
    format!("{} {} {cause}", r.action, r.command)
}

/// The steps of this round: the plan, and after a step portscope cannot run (stop a unit, a
/// change in code) the first one of the same cause that it can.
fn steps(d: &Diagnosis) -> Vec<Remedy> {
    let mut out = Vec::new();
    for r in &d.plan {
        out.push(r.clone());
        if runnable(r) {
            continue;
        }
        if let Some(c) = r.cause.and_then(|i| d.causes.get(i))
            && let Some(alt) = c.remedies.iter().find(|x| runnable(x))
        {
            let mut alt = alt.clone();
            alt.cause = r.cause;
            out.push(alt);
        }
    }
    out
}

fn show_step(n: usize, r: &Remedy) {
    say(&wrap(&r.text, 80, &format!("\nStep {n}: ")));
    if let Some(c) = &r.change {
        say(&wrap(c, 80, "  change: "));
    } else if !r.command.is_empty() {
        say(&format!("  $ {}\n", r.command));
    }
    if let Some(w) = &r.warning {
        say(&wrap(w, 80, "  warning: "));
    }
}

fn left(d: &Diagnosis) -> String {
    let blocking: Vec<&str> = d
        .causes
        .iter()
        .filter(|c| c.blocks)
        .map(|c| c.summary.as_str())
        .collect();
    if blocking.is_empty() {
        d.explanation.clone()
    } else {
        blocking.join("; ")
    }
}

pub fn run(args: &FixArgs, netns: &NetnsTarget) -> CliResult {
    if let Some(g) = args.grace {
        crate::action::grace::set_grace(g);
    }
    let req = resolved(&args.bind).map_err(CliError::bad_input)?;
    let ctx = crate::ask::session(netns);
    let mut done: Vec<String> = Vec::new();
    let mut no_terminal = false;
    let mut n = 0;
    loop {
        let (snap, d) = ask(&req, &ctx)?;
        if d.would_bind() {
            say(&format!(
                "\n{} port {} on {} is free: the kernel's bind probe succeeded{}\n",
                d.proto,
                d.port,
                d.addr,
                if n > 0 {
                    "; start the service now"
                } else {
                    "; nothing to do"
                }
            ));
            return Ok(ExitCode::SUCCESS);
        }
        if n == 0 {
            say(&format!("{}  {} {}\n", d.verdict.label(), d.proto, d.port));
            say(&wrap(&d.explanation, 80, ""));
            if !d.plan.is_empty() {
                say("\nPlan\n");
                for (i, r) in d.plan.iter().enumerate() {
                    say(&wrap(&r.text, 80, &format!("  {}. ", i + 1)));
                }
            }
        }
        let next = steps(&d)
            .into_iter()
            .find(|r| !done.contains(&step_key(&d, r)) && r.action != RemedyKind::StartService);
        let Some(step) = next else {
            say(&wrap(&format!("still not free: {}", left(&d)), 80, "\n"));
            if no_terminal {
                return Err(CliError::failed(
                    "not asking without a terminal: pass --yes (and --kill to signal processes)",
                    1,
                ));
            }
            return Ok(ExitCode::from(1));
        };
        done.push(step_key(&d, &step));
        n += 1;
        if n > MAX_STEPS {
            say(&wrap(
                &format!(
                    "stopping after {MAX_STEPS} steps; still not free: {}",
                    left(&d)
                ),
                80,
                "\n",
            ));
            return Ok(ExitCode::from(1));
        }
        show_step(n, &step);
        if !runnable(&step) {
            say("  portscope cannot do this step itself: do it by hand, then run fix again\n");
            continue;
        }
        let journal = crate::reserve::journal::default_path();
        let action = match plan_step(&step, &d, &snap, netns, journal) {
            // The grace is asked of systemd now, so the step says which applies.
            Ok(PendingAction::Signal(mut a)) => {
                a.grace = Some(crate::action::grace::resolve(&a.owner));
                PendingAction::Signal(a)
            }
            Ok(a) => a,
            Err(why) => {
                say(&wrap(&format!("cannot do it: {why}"), 80, "  "));
                continue;
            }
        };
        // The next step is offered whether or not this one succeeded.
        let _succeeded = run_confirmed(action, args, &mut no_terminal);
    }
}

/// Shows the action's own description, asks, runs it (and an offered SIGKILL, asked again).
fn run_confirmed(mut action: PendingAction, args: &FixArgs, no_terminal: &mut bool) -> bool {
    let log = crate::action::log::ActionLog::default_location();
    loop {
        // The blocks repeat commands the lines quote already: a terminal shows the lines.
        let described = action.describe();
        say(&format!("  {}\n", described.title));
        for l in &described.lines {
            say(&format!("  {l}\n"));
        }
        // Stopping a unit or container ends processes too: it needs --kill like a signal.
        let signal = matches!(
            action,
            PendingAction::Signal(_) | PendingAction::StopService(_)
        );
        // SIGKILL is never implied: it takes --kill=force, or a person's y.
        let sigkill =
            matches!(&action, PendingAction::Signal(a) if a.sig == crate::action::Sig::Kill);
        let kill = args.kill.is_some();
        let force = args.kill.as_deref() == Some("force");
        let auto = args.yes && (!signal || (kill && (!sigkill || force)));
        if args.yes && sigkill && kill && !force {
            say("  (--kill sends SIGTERM only: SIGKILL takes --kill=force, or answer here)\n");
        }
        if args.yes && signal && !kill {
            say("  (--yes does not stop or signal processes: add --kill, or answer here)\n");
        }
        match confirm(auto, "  Do it?") {
            Consent::Yes => {}
            Consent::No => {
                say("  skipped\n");
                return false;
            }
            Consent::NoTerminal => {
                *no_terminal = true;
                say("  skipped (no terminal to ask)\n");
                return false;
            }
        }
        let outcome = exec::execute(&action, log.as_ref());
        say(&format!(
            "  {}: {}\n",
            if outcome.ok() { "done" } else { "FAILED" },
            outcome.title
        ));
        for l in &outcome.text_lines() {
            say(&format!("    {l}\n"));
        }
        match outcome.follow_up {
            Some(next) => action = next,
            None => return outcome.ok(),
        }
    }
}
