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
