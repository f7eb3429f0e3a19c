//! Completions, the man page and `--help` come from the one CLI definition; the README's table of
//! commands must list exactly the commands `--help` lists.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use std::process::Command;

/// The subcommands `portscope --help` lists.
fn help_commands() -> Vec<String> {
    let (code, out, err) = run(portscope().arg("--help"));
    assert_eq!(code, 0, "{err}");
    let mut in_commands = false;
    let mut names = Vec::new();
    for line in out.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            if line.trim().is_empty() {
                break;
            }
            let name = line.split_whitespace().next().unwrap().to_string();
            if name != "help" {
                names.push(name);
            }
        }
    }
    assert!(names.len() >= 8, "{out}");
    names
}

#[test]
fn completions_know_every_command_and_parse_in_their_shell() {
    let commands = help_commands();
    for shell in ["bash", "zsh", "fish"] {
        let (code, script, err) = run(portscope().args(["completions", shell]));
        assert_eq!(code, 0, "{shell}: {err}");
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell} completion lacks {c}");
        }
        // Checked by the shell itself where it is installed.
        let check = match shell {
            "bash" => Some(("bash", "-n")),
            "zsh" => Some(("zsh", "-n")),
            _ => Some(("fish", "--no-execute")),
        };
        if let Some((sh, flag)) = check {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("completion");
            std::fs::write(&file, &script).unwrap();
            match Command::new(sh).arg(flag).arg(&file).output() {
                Ok(o) => assert!(
                    o.status.success(),
                    "{sh} rejects the script: {}",
                    String::from_utf8_lossy(&o.stderr)
                ),
                Err(_) if sh != "bash" => {} // zsh and fish are optional; bash is everywhere
                Err(e) => panic!("bash: {e}"),
            }
        }
    }
    let (code, _, err) = run(portscope().args(["completions", "tcsh"]));
    assert_eq!(code, 2);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn the_man_page_is_roff_and_names_every_command() {
    let (code, page, err) = run(portscope().arg("man"));
    assert_eq!(code, 0, "{err}");
    assert!(page.contains(".TH portscope 1"), "{page}");
    for c in help_commands() {
        assert!(page.contains(&c), "the man page lacks {c}");
    }
}

#[test]
fn the_readme_lists_exactly_the_commands_help_lists() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut documented: Vec<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `portscope "))
        .filter_map(|l| l.split([' ', '`']).next())
        .map(String::from)
        .collect();
    documented.sort();
    documented.dedup();
    let mut helped = help_commands();
    helped.sort();
    assert_eq!(
        documented, helped,
        "README's command table vs portscope --help"
    );
}

/// What bash offers after `portscope WORDS <TAB>`, by the generated completion function.
fn bash_complete(words: &[&str]) -> Vec<String> {
    let (code, script, err) = run(portscope().args(["completions", "bash"]));
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("portscope.bash");
    std::fs::write(&file, script).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let driver = format!(
        "source '{}'; COMP_WORDS=(portscope {} ''); COMP_CWORD=${{#COMP_WORDS[@]}}; \
         COMP_CWORD=$((COMP_CWORD-1)); COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
         _portscope portscope '' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display(),
        quoted.join(" "),
        words.last().unwrap()
    );
    let out = Command::new("bash").args(["-c", &driver]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .filter(|l| !l.is_empty())
        .collect();
    got.sort();
    got
}

/// Closed sets are listed by `--help`, offered by completion instead of file names, and a value
/// outside them is one line naming what would do (exit 2; `check`: UNKNOWN 3).
#[test]
fn closed_sets_are_listed_completed_and_refused_in_one_line() {
    let (code, help, err) = run(portscope().args(["snapshot", "--help"]));
    assert_eq!(code, 0, "{err}");
    for listed in [
        "[possible values: tcp, udp]",
        "state-port:",
        "TIME_WAIT",
        "sport, remote, dport",
        "procfs",
    ] {
        assert!(
            help.contains(listed),
            "snapshot --help lacks {listed:?}:\n{help}"
        );
    }
    assert_eq!(bash_complete(&["snapshot", "--proto"]), ["tcp", "udp"]);
    let groups = bash_complete(&["snapshot", "--group-by"]);
    assert_eq!(groups, ["process", "remote", "remote-addr", "state-port"]);
    assert!(bash_complete(&["watch", "--proto"]).contains(&"udp".to_string()));
    assert!(bash_complete(&["why", "--proto"]).contains(&"tcp".to_string()));
    assert!(bash_complete(&["snapshot", "--state"]).contains(&"CLOSE_WAIT".to_string()));
    assert!(bash_complete(&["snapshot", "--source"]).contains(&"netlink".to_string()));
    // The lenient spellings still parse; a wrong one is one line.
    for ok in [
        ["--state", "tw"],
        ["--state", "time-wait"],
        ["--proto", "TCP"],
    ] {
        let (code, _, err) = run(portscope().args(["snapshot", "--no-owners"]).args(ok));
        assert_eq!(code, 0, "{ok:?}: {err}");
    }
    for (args, status) in [
        (&["snapshot", "--proto", "sctp"][..], 2),
        (&["snapshot", "--sort", "size"], 2),
        (&["snapshot", "--group-by", "pod"], 2),
        (&["watch", "8080", "--proto", "icmp"], 2),
        (&["check", "--port", "8080/sctp"], 3),
    ] {
        let (code, out, err) = run(portscope().args(args));
        assert_eq!(code, status, "{args:?}: {out}{err}");
        let text = if status == 3 { out } else { err };
        assert_eq!(text.trim().lines().count(), 1, "{args:?}: {text}");
    }
}
