//! Why's plan as one confirmed sequence (the TUI's why view): each step through the executor,
//! the kernel's probe after each, stopping as soon as the service's bind would succeed.

use super::PendingAction;
use super::outcome::ActionOutcome;
use crate::analyze::why::BindRequest;
use crate::collect::NetnsTarget;
use crate::collect::probe::probe_as;
use crate::model::text::{Described, Line};

#[derive(Debug, Clone, PartialEq)]
pub struct SequenceAction {
    pub steps: Vec<PendingAction>,
    /// Steps a person has to do (shown, not run).
    pub manual: Vec<String>,
    pub req: BindRequest,
    pub netns: NetnsTarget,
}

pub fn describe(a: &SequenceAction) -> Described {
    let mut lines = vec![Line::heading(format!(
        "Carry out these {} steps to free {} port {}, stopping as soon as it binds?",
        a.steps.len(),
        a.req.proto,
        a.req.port
    ))];
    let mut blocks = Vec::new();
    for (i, s) in a.steps.iter().enumerate() {
        let step = s.describe();
        lines.push(format!("  {}. {}: {}", i + 1, step.title, step.first()).into());
        blocks.extend(step.blocks);
    }
    for m in &a.manual {
        lines.push(Line::warning(format!("  not done by portscope: {m}")));
    }
    lines.push(Line::note(
        "  every step is re-checked before it runs and logged",
    ));
    Described {
        title: "Fix: run the plan".into(),
        lines,
        blocks,
    }
}

/// The bind probe could not run (the probe's own reason: no such namespace, no such user...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
struct NotProbed(String);

fn bindable(a: &SequenceAction) -> Result<bool, NotProbed> {
    let r = &a.req;
    let p = probe_as(&a.netns, r.proto, r.addr, r.port, &r.opts);
    match p.plain {
        Some(o) => Ok(o.is_ok()),
        None => Err(NotProbed(p.not_run.unwrap_or_default())),
    }
}

/// Runs the steps in order, each through the executor (so each is re-checked and logged on its
/// own), stopping once the port binds or a step fails.
/// `execute` is the executor itself, passed in: a step is any action, so the sequence calls
/// back into it rather than import it (which would make the two modules import each other).
pub fn run(
    a: &SequenceAction,
    log: Option<&super::log::ActionLog>,
    execute: fn(&PendingAction, Option<&super::log::ActionLog>) -> ActionOutcome,
) -> ActionOutcome {
    let mut lines = Vec::new();
    let mut ok = true;
    for (i, step) in a.steps.iter().enumerate() {
        if bindable(a) == Ok(true) {
            lines.push(format!(
                "the port binds now: steps {} on were not needed",
                i + 1
            ));
            break;
        }
        let o = execute(step, log);
        lines.push(format!(
            "{}. {}: {}",
            i + 1,
            if o.ok() { "done" } else { "FAILED" },
            o.title
        ));
        lines.extend(o.lines.iter().map(|l| format!("   {l}")));
        if !o.ok() {
            ok = false;
            lines.push("stopped: the remaining steps were not run".into());
            break;
        }
    }
    let free = bindable(a);
    lines.push(match &free {
        Ok(true) => format!(
            "{} port {} is free: the kernel's bind probe succeeded; start the service now",
            a.req.proto, a.req.port
        ),
        Ok(false) => format!(
            "{} port {} is still not free: look at why again",
            a.req.proto, a.req.port
        ),
        Err(e) => format!("could not check the port: {e}"),
    });
    let title = format!("fix port {}", a.req.port);
    if ok && free == Ok(true) {
        ActionOutcome::done(title, lines)
    } else {
        ActionOutcome::failed(title, lines)
    }
}
