//! Completions, the man page and `--help` come from the one CLI definition; the README's table of
//! commands must list exactly the commands `--help` lists.
#![allow(clippy::pedantic)]
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

/// Renders a page as man(1) would, with roff warnings on: `None` (after saying SKIPPED) where
/// groff is not installed; in CI that is a failure (.ci/run installs it).
fn render_page(file: &std::path::Path) -> Option<String> {
    let out = match Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(file)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            skip(
                "man pages render",
                &format!("groff: {e} (apt-get install groff-base)"),
            );
            return None;
        }
    };
    assert!(out.status.success(), "groff fails on {}", file.display());
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.trim().is_empty(), "{}: {warnings}", file.display());
    let text = Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou", "-rLL=100n"])
        .arg(file)
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&text.stdout).into_owned())
}

/// A page per command: each renders cleanly, has the sections a man page is read for, and every
/// portscope-x(1) it refers to is a page that exists.
#[test]
fn every_command_has_a_man_page_that_renders_and_refers_only_to_pages_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(portscope().args(["man", "--dir"]).arg(dir.path()));
    assert_eq!(code, 0, "{err}");
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for c in help_commands() {
        assert!(
            pages.contains(&format!("portscope-{c}.1")),
            "no page for {c}: {pages:?}"
        );
    }
    for nested in ["portscope-reserve-plan.1", "portscope-fleet-report.1"] {
        assert!(pages.contains(&nested.to_string()), "{pages:?}");
    }
    let main = std::fs::read_to_string(dir.path().join("portscope.1")).unwrap();
    assert!(main.contains(".TH portscope 1"), "{main}");
    for c in help_commands() {
        assert!(main.contains(&c), "portscope(1) lacks {c}");
    }
    for page in &pages {
        let roff = std::fs::read_to_string(dir.path().join(page)).unwrap();
        let top_level = page.matches('-').count() <= 1;
        let mut wanted = vec!["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"];
        if top_level {
            wanted.extend(["ENVIRONMENT", "FILES", "EXAMPLES"]);
        }
        for section in wanted {
            assert!(
                roff.contains(&format!(".SH \"{section}\""))
                    || roff.contains(&format!(".SH {section}\n")),
                "{page} lacks {section}"
            );
        }
        let see_also = roff.split(".SH \"SEE ALSO\"").nth(1).unwrap();
        let see_also = see_also.split(".SH").next().unwrap();
        for word in see_also.split([' ', ',', '\n']) {
            if let Some(name) = word
                .strip_prefix("portscope")
                .and_then(|w| w.strip_suffix("(1)"))
            {
                let file = format!("portscope{name}.1");
                assert!(
                    pages.contains(&file),
                    "{page} refers to {word}, which does not exist"
                );
            }
        }
        let Some(text) = render_page(&dir.path().join(page)) else {
            return;
        };
        assert!(
            text.contains("SYNOPSIS") && text.contains("EXIT STATUS"),
            "{page}:\n{text}"
        );
    }
    // The JSON schemas live in their pages; ENVIRONMENT and FILES name what the code reads.
    let snapshot = std::fs::read_to_string(dir.path().join("portscope-snapshot.1")).unwrap();
    assert!(snapshot.contains("JSON OUTPUT") && snapshot.contains("owner_hidden"));
    assert!(main.contains("NO_COLOR") && main.contains("actions.log"));
    assert!(main.contains("reserve\\-journal.json") || main.contains("reserve-journal.json"));
    let check = std::fs::read_to_string(dir.path().join("portscope-check.1")).unwrap();
    assert!(check.contains("PERFORMANCE DATA"), "{check}");
}

#[test]
fn one_man_page_by_name_and_a_wrong_name_is_one_line() {
    for name in ["why", "portscope-why", "reserve-plan"] {
        let (code, page, err) = run(portscope().args(["man", name]));
        assert_eq!(code, 0, "{name}: {err}");
        assert!(page.contains("\n.TH portscope-"), "{name}: {page}");
    }
    let (code, page, _) = run(portscope().arg("man"));
    assert_eq!(code, 0);
    assert!(page.contains("\n.TH portscope 1"));
    let (code, _, err) = run(portscope().args(["man", "nope"]));
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let offered = bash_complete(&["man"]);
    assert!(
        offered.contains(&"why".to_string()) && offered.contains(&"reserve".to_string()),
        "{offered:?}"
    );
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

/// tests/tools/release.sh packages a binary with every man page, the completions, the licence
/// texts and the example config; run here on the test's own binary (no release build).
#[test]
fn the_release_archive_holds_what_a_user_needs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let run_script = Command::new("bash")
        .arg(format!("{root}/tests/tools/release.sh"))
        .env("PORTSCOPE_BIN", env!("CARGO_BIN_EXE_portscope"))
        .env("OUT", out.path())
        .env("CARGO_TARGET_DIR", target.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run_script.stderr);
    assert!(run_script.status.success(), "{stderr}");
    let archive = String::from_utf8_lossy(&run_script.stdout)
        .trim()
        .to_string();
    assert!(archive.ends_with(".tar.gz"), "{archive}");
    assert!(std::path::Path::new(&format!("{archive}.sha256")).exists());
    let list = Command::new("tar")
        .args(["tzf", &archive])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for want in [
        "/portscope",
        "/doc/portscope.1",
        "/doc/portscope-why.1",
        "/doc/portscope-reserve-plan.1",
        "/doc/config.example.toml",
        "/complete/portscope.bash",
        "/complete/_portscope",
        "/complete/portscope.fish",
        "/systemd/portscope-metrics.timer",
        "/LICENSE-MIT",
        "/LICENSE-APACHE",
        "/README.md",
    ] {
        assert!(
            list.lines().any(|l| l.ends_with(want)),
            "archive lacks {want}:\n{list}"
        );
    }
    // What cargo deb installs is there too.
    assert!(target.path().join("release/man/portscope-check.1").exists());
    assert!(
        target
            .path()
            .join("release/complete/portscope.fish")
            .exists()
    );
}

/// The example config shipped in the archive and the package loads.
#[test]
fn the_example_config_loads() {
    let units = tempfile::tempdir().unwrap();
    let (code, out, err) = run(portscope()
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/assets/config.example.toml"),
        ])
        .args(["services", "--no-listeners", "--unit-root"])
        .arg(units.path()));
    assert_eq!(code, 0, "{out}{err}");
}
