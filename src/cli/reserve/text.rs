//! Text for the `reserve` commands, readable at 80 columns. Pure: every function takes values and
//! returns a string, so the TUI can reuse the wording and tests can check it.

use crate::cli::table;
use crate::model::{NetnsInfo, Socket};
use crate::portset::PortSet;
use crate::reserve::UndoPlan;
use crate::reserve::journal::Entry;
use crate::reserve::sysctld::{Audit, KEY, Setting};
use crate::reserve::{Ephemeral, Plan};
use std::fmt::Write;

const WIDTH: usize = 80;
/// Sockets listed in text before "N more"; `--json` has them all.
const MAX_ROWS: usize = 12;

pub fn shown(p: &PortSet) -> String {
    if p.is_empty() {
        "(none)".into()
    } else {
        p.to_string()
    }
}

/// Greedy word wrap at the report width, with a first-line prefix and a hanging indent.
pub fn wrap(text: &str, first: &str, rest: &str) -> String {
    crate::cli::wrap_hanging(text, WIDTH, first, rest)
}

/// A small socket table, indented, capped at [`MAX_ROWS`].
fn sockets_table(socks: &[Socket]) -> String {
    let rows: Vec<[String; 5]> = socks
        .iter()
        .take(MAX_ROWS)
        .map(|s| {
            [
                s.proto.to_string(),
                s.state.ss_name().to_string(),
                s.local(),
                s.remote(),
                s.holder(),
            ]
        })
        .collect();
    let mut out = String::new();
    for l in table::render(["Netid", "State", "Local", "Peer", "Process"], &rows).lines() {
        let _ = writeln!(out, "  {l}");
    }
    if socks.len() > MAX_ROWS {
        let _ = writeln!(
            out,
            "  ... and {} more (--json lists all)",
            socks.len() - MAX_ROWS
        );
    }
    out
}

fn netns_line(ns: &NetnsInfo) -> String {
    format!("network namespace {} (inode {})", ns.target, ns.inode)
}

fn capacity(e: &Ephemeral) -> String {
    let [lo, hi] = e.range;
    format!(
        "Ephemeral range {lo}-{hi} ({} ports) usable for outgoing connections:\n  \
         now    {:>6} ({:.1}%)\n  after  {:>6} ({:.1}%)\n",
        e.size, e.usable_before, e.percent_before, e.usable_after, e.percent_after
    )
}

fn setting_line(s: &Setting) -> String {
    format!("{}:{}", s.file.display(), s.line)
}

/// The plan as a person reads it before saying yes.
pub fn plan(p: &Plan, ns: &NetnsInfo) -> String {
    let mut out = format!("Reserved ports in {}:\n", netns_line(ns));
    for (label, set) in [
        ("current", &p.current),
        ("proposed", &p.proposed),
        ("added", &p.added),
        ("removed", &p.removed),
    ] {
        out.push_str(&wrap(
            &shown(set),
            &format!("  {label:<9} "),
            "            ",
        ));
    }
    out.push_str(&capacity(&p.ephemeral));
    if !p.held.is_empty() {
        let _ = writeln!(
            out,
            "Held now ({} sockets on proposed ports; they keep them until they close):",
            p.held.len()
        );
        out.push_str(&sockets_table(&p.held));
    }
    if !p.at_risk_after.is_empty() {
        out.push_str(
            "Still at risk (listening in the ephemeral range, unreserved; see --at-risk):\n",
        );
        out.push_str(&sockets_table(&p.at_risk_after));
    }
    if !p.warnings.is_empty() {
        out.push_str("Warnings:\n");
        for w in &p.warnings {
            out.push_str(&wrap(w, "  - ", "    "));
        }
    }
    for r in &p.refusals {
        out.push_str(&wrap(r, "Refused: ", "  "));
    }
    if !p.changes_runtime() {
        out.push_str("No change to the runtime value.\n");
    }
    out
}

/// `reserve apply` asked for no port: nothing is changed, but a difference between the running
/// kernel and the boot configuration is said, with the command that would sync it.
pub fn nothing_asked(p: &Plan, netns: &crate::collect::NetnsTarget) -> String {
    let mut out = format!(
        "No ports asked for: nothing was changed. The kernel holds {}.\n",
        shown(&p.current)
    );
    if let Some(boot) = &p.boot
        && !p.from_boot.is_empty()
    {
        let _ = writeln!(
            out,
            "The boot configuration reserves {} (in all: {}), which the running kernel does not \
             hold; to reserve it now: portscope reserve apply {}{}",
            p.from_boot,
            shown(boot),
            p.from_boot,
            netns.cli_flag()
        );
    }
    out
}

pub fn applied(e: &Entry, ns_cli_flag: &str, overrides: &[String]) -> String {
    let mut out = wrap(
        &format!(
            "{KEY} is now {} in network namespace {} (was {}; read back and verified).",
            shown(&e.applied_runtime),
            e.netns.target,
            shown(&e.previous_runtime)
        ),
        "Applied: ",
        "  ",
    );
    match &e.dropin {
        Some(d) => {
            let _ = writeln!(out, "Persisted in {}.", d.path.display());
        }
        None => out.push_str("Not persisted (--no-persist): the value is lost at reboot.\n"),
    }
    for w in overrides {
        out.push_str(&wrap(w, "warning: ", "  "));
    }
    let _ = writeln!(out, "Undo with: portscope reserve undo{ns_cli_flag}");
    out
}

pub fn undo_plan(u: &UndoPlan) -> String {
    let e = &u.entry;
    let mut out = wrap(
        &format!(
            "the change of {:.0} in network namespace {} (inode {}):",
            e.at, e.netns.target, e.netns.inode
        ),
        "Undo ",
        "  ",
    );
    out.push_str(&wrap(
        &format!("{} -> {}", shown(&u.runtime_now), shown(&u.runtime_after)),
        "  runtime  ",
        "           ",
    ));
    if let Some(effect) = u.dropin_effect() {
        out.push_str(&wrap(&effect, "  drop-in  ", "           "));
    }
    for w in &u.warnings {
        out.push_str(&wrap(w, "warning: ", "  "));
    }
    let _ = writeln!(
        out,
        "{} earlier change(s) stay in the journal after this one.",
        u.remaining
    );
    out
}

pub fn undone(u: &UndoPlan) -> String {
    let mut out = wrap(
        &format!(
            "{KEY} is now {} in network namespace {}.",
            shown(&u.runtime_after),
            u.entry.netns.target
        ),
        "Undone: ",
        "  ",
    );
    if let Some(effect) = u.dropin_effect() {
        let _ = writeln!(out, "{effect}.");
    }
    let _ = writeln!(out, "{} earlier change(s) left to undo.", u.remaining);
    out
}

/// Facts for `reserve status`, gathered by the command.
pub struct StatusView<'a> {
    pub ns: &'a NetnsInfo,
    /// Whether this is the namespace pid 1 lives in, the only one boot-time files configure.
    pub is_host: bool,
    /// `None`: it could not be read.
    pub runtime: Option<&'a PortSet>,
    pub audit: &'a Audit,
    pub dropin: &'a std::path::Path,
    pub ephemeral: (u16, u16),
    /// `None`: the sockets or the sysctls needed to judge could not be read.
    pub at_risk: Option<&'a [Socket]>,
    /// An apply of this namespace that did not finish, as a sentence.
    pub unfinished: Option<String>,
    /// The command that shows what this user cannot see.
    pub hint: String,
}

pub fn status(v: &StatusView) -> String {
    let mut out = format!("{KEY} in {}:\n", netns_line(v.ns));
    if let Some(u) = &v.unfinished {
        out.push_str(&wrap(u, "UNFINISHED: ", "  "));
    }
    match v.runtime {
        Some(r) => out.push_str(&wrap(&shown(r), "  runtime  ", "           ")),
        None => out.push_str(&wrap(
            &format!("unknown: it could not be read ({})", v.hint),
            "  runtime  ",
            "           ",
        )),
    }
    let boot = v.audit.boot_value();
    match boot {
        Some(s) => {
            out.push_str(&wrap(
                &shown(s.value.as_ref().unwrap_or(&PortSet::new())),
                "  at boot  ",
                "           ",
            ));
            let _ = writeln!(out, "           from {}", setting_line(s));
        }
        None if !v.audit.boot_known => out.push_str(&wrap(
            "unknown: a file that could not be read comes after every assignment that could",
            "  at boot  ",
            "           ",
        )),
        None => out.push_str("  at boot  (none: no configuration file sets it)\n"),
    }
    let boot_value = boot.and_then(|s| s.value.clone()).unwrap_or_default();
    if !v.is_host {
        out.push_str(&wrap(
            "this is not the host's network namespace: configuration files apply to the host \
             namespace at boot; a new namespace starts with no reserved ports",
            "  note: ",
            "    ",
        ));
    } else if v.audit.boot_known && v.runtime.is_some_and(|r| *r != boot_value) {
        out.push_str("  differs: the runtime value is lost at the next boot\n");
    }
    if v.audit.settings.is_empty() {
        out.push_str("No configuration file sets it.\n");
    } else {
        out.push_str("Files that set it, in the order sysctl applies them (last valid wins):\n");
        // The line that sets the boot value; a later line the kernel rejects does not.
        let winner = v.audit.boot_value().map(setting_line);
        for (i, s) in v.audit.settings.iter().enumerate() {
            let mark = if Some(setting_line(s)) == winner {
                "  <- wins"
            } else {
                ""
            };
            let _ = writeln!(out, "  {}. {}", i + 1, setting_line(s));
            out.push_str(&wrap(&format!("= {}{mark}", s.raw), "     ", "       "));
            if let Some(p) = &s.problem {
                out.push_str(&wrap(p.message(), "      problem: ", "        "));
            }
        }
    }
    for m in &v.audit.masked {
        out.push_str(&wrap(
            &format!(
                "{} is masked by {} (same name, earlier directory): it never runs",
                m.file.display(),
                m.by.display()
            ),
            "  note: ",
            "    ",
        ));
    }
    for u in &v.audit.unreadable {
        out.push_str(&wrap(&format!("could not read {u}"), "  warning: ", "    "));
    }
    if let Some(name) = v
        .dropin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
    {
        let after = v.audit.after_dropin(&name);
        let exists = v.audit.settings.iter().any(|s| s.file == v.dropin);
        if exists {
            let value = v
                .audit
                .settings
                .iter()
                .rev()
                .find(|s| s.file == v.dropin)
                .and_then(|s| s.value.clone())
                .unwrap_or_default();
            for w in crate::reserve::sysctld::override_warnings(&after, &name, &value) {
                out.push_str(&wrap(&w, "  warning: ", "    "));
            }
        }
    }
    let (lo, hi) = v.ephemeral;
    let Some(at_risk) = v.at_risk else {
        out.push_str(&wrap(
            &format!(
                "Listeners at risk: unknown (the reserved ports or the ephemeral range could not \
                 be read; {})",
                v.hint
            ),
            "",
            "  ",
        ));
        return out;
    };
    if at_risk.is_empty() {
        let _ = writeln!(
            out,
            "No listener sits unreserved inside the ephemeral range {lo}-{hi}."
        );
    } else {
        out.push_str(&wrap(
            &format!(
                "Listeners inside the ephemeral range {lo}-{hi}, not reserved (an outgoing \
                 connection can take their port while they are down):"
            ),
            "",
            "  ",
        ));
        out.push_str(&sockets_table(at_risk));
        out.push_str("  Reserve them with: portscope reserve plan --at-risk\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_at_80_columns_with_hanging_indent() {
        let text = "word ".repeat(40);
        let out = wrap(&text, "  - ", "    ");
        assert!(out.lines().count() > 1);
        for l in out.lines() {
            assert!(l.chars().count() <= WIDTH, "{l:?}");
        }
        assert!(out.starts_with("  - word"));
        assert!(out.lines().nth(1).unwrap().starts_with("    word"));
        assert_eq!(wrap("", "x ", " "), "x\n");
    }
}
