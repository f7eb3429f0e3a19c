//! Stopping what runs a listener: its systemd unit or its container, through the tool that owns
//! it (`systemctl stop`, `docker stop`, ...), never a runtime daemon (`analyze::stop_safety`
//! chose the command). The command runs without a shell, and only commands of a fixed shape are run: a
//! name taken from a cgroup path or a runtime's state file must not become an option or a
//! second command.

use super::NotOffered;
use super::outcome::ActionOutcome;
use crate::model::Owner;
use crate::model::text::{Block, Described, Line};
use std::time::Duration;

/// How long a stop may take (systemctl waits for the unit's own stop timeout, 90 s by default).
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, PartialEq)]
pub struct StopAction {
    /// The program and its arguments, as shown.
    pub argv: Vec<String>,
    /// What it stops, in words.
    pub text: String,
    /// The processes shown as holding the port, re-checked before acting (pid, start time).
    pub holders: Vec<(u32, u64, String)>,
}

/// The command shapes portscope runs; anything else is shown for a person to run.
const SHAPES: [&[&str]; 6] = [
    &["systemctl", "stop", "*"],
    &["docker", "stop", "*"],
    &["podman", "stop", "*"],
    &["nerdctl", "stop", "*"],
    &["machinectl", "stop", "*"],
    &["lxc-stop", "-n", "*"],
];

/// A name that cannot be read as an option or split into two words.
pub(crate) fn plain_name(w: &str) -> bool {
    !w.is_empty()
        && !w.starts_with('-')
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._:-\\".contains(&b))
}

/// The argv of a stop command, when it has one of the shapes portscope runs.
pub fn argv_of(command: &str) -> Option<Vec<String>> {
    let words: Vec<&str> = command.split_whitespace().collect();
    SHAPES
        .iter()
        .find(|shape| {
            shape.len() == words.len()
                && shape
                    .iter()
                    .zip(&words)
                    .all(|(s, w)| if *s == "*" { plain_name(w) } else { s == w })
        })
        .map(|_| words.iter().map(ToString::to_string).collect())
}

pub fn plan(command: &str, text: &str, owners: &[&Owner]) -> Result<StopAction, NotOffered> {
    let argv = argv_of(command).ok_or_else(|| NotOffered::StopCommand {
        command: command.to_string(),
    })?;
    Ok(StopAction {
        argv,
        text: text.to_string(),
        holders: owners
            .iter()
            .map(|o| (o.pid, o.start_time, o.comm.to_string()))
            .collect(),
    })
}

pub fn describe(a: &StopAction) -> Described {
    let command = a.argv.join(" ");
    let mut lines = vec![
        Line::heading(format!("Run `{command}`?")),
        format!("  {}", a.text).into(),
    ];
    if !a.holders.is_empty() {
        lines.push(Line::from(format!(
            "  it holds the port now: {}",
            a.holders
                .iter()
                .map(|(pid, _, comm)| format!("{comm} (pid {pid})"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    lines.push(Line::warning(
        "  everything that unit or container runs stops with it",
    ));
    lines.push(Line::note(format!(
        "  runs the first {} in {} (never through PATH)",
        a.argv.first().map_or("", String::as_str),
        crate::tools::search_path_text()
    )));
    Described {
        title: format!("Stop: {command}"),
        lines,
        blocks: vec![Block::new("the command", command, "portscope-stop.sh")],
    }
}

/// Whether a holder shown is still the same process (same start time), or gone.
fn still_there(pid: u32, start: u64) -> bool {
    crate::action::kill::start_time(pid) == Some(start)
}

pub fn run(a: &StopAction) -> ActionOutcome {
    let title = format!("stop: {}", a.argv.join(" "));
    if !a.holders.is_empty() && !a.holders.iter().any(|(pid, st, _)| still_there(*pid, *st)) {
        return ActionOutcome::nothing_done(
            title,
            vec!["the processes shown have exited since: nothing was run"],
        );
    }
    let Some((prog, args)) = a.argv.split_first() else {
        return ActionOutcome::nothing_done(title, vec!["no command"]);
    };
    let mut cmd = match crate::tools::command(prog) {
        Ok(c) => c,
        Err(e) => return ActionOutcome::failed(title, vec![format!("{e}; nothing was run")]),
    };
    cmd.args(args);
    let ran = format!("ran {}", cmd.get_program().to_string_lossy());
    let limits = crate::subprocess::Limits::new(STOP_TIMEOUT);
    let f = match crate::subprocess::run(&mut cmd, limits) {
        Ok(f) => f,
        Err(e) => {
            return ActionOutcome::failed(
                title,
                vec![format!("cannot run {prog}: {e}; nothing was run")],
            );
        }
    };
    // What the tool said, stdout then stderr, as a few lines a person reads.
    let mut said = f.stdout.clone();
    said.bytes.extend_from_slice(&f.stderr.bytes);
    said.dropped += f.stderr.dropped;
    let mut lines: Vec<String> = said
        .lines(6, 200)
        .into_iter()
        .map(|l| format!("  {l}"))
        .collect();
    lines.insert(0, format!("  {ran} {}", args.join(" ")));
    if f.left_running {
        lines.push(format!(
            "  {prog} left a process holding its output; that process group was killed"
        ));
    }
    match f.status {
        Some(s) if s.success() => {
            lines.insert(0, format!("{prog} finished"));
            ActionOutcome::done(title, lines)
        }
        Some(s) => {
            lines.insert(0, format!("{prog} failed ({s})"));
            ActionOutcome::failed(title, lines)
        }
        None => {
            lines.insert(
                0,
                format!(
                    "{prog} did not finish within {} s: it was killed with everything it started",
                    STOP_TIMEOUT.as_secs()
                ),
            );
            ActionOutcome::failed(title, lines)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_stop_commands_are_run() {
        assert_eq!(
            argv_of("systemctl stop nginx.service"),
            Some(vec![
                "systemctl".into(),
                "stop".into(),
                "nginx.service".into()
            ])
        );
        assert!(argv_of("docker stop web").is_some());
        assert!(argv_of("systemctl stop web\\x2dapp.service").is_some());
        for bad in [
            "systemctl stop --force x",
            "systemctl stop a b",
            "systemctl stop a;reboot",
            "kubectl -n x delete pod y",
            "sudo -iu bob podman stop db",
            "systemctl --user -M bob@ stop x.service",
            "rm -rf /",
            "systemctl stop $(reboot)",
        ] {
            assert_eq!(argv_of(bad), None, "{bad}");
        }
    }
}
