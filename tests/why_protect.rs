//! The config file's `[protect]`: a process it names gets the same warning as sshd on the
//! steps that stop it (why's JSON and text); a wrong `[protect]` is bad input.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;

fn config(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    dir
}

fn why(dir: &tempfile::TempDir, args: &[&str]) -> (i32, String, String) {
    run(portscope()
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("why")
        .args(args))
}

#[test]
fn a_protected_program_gets_the_warning_on_its_kill_step() {
    if !private_netns("why_protect") {
        return;
    }
    let tools = tempfile::tempdir().unwrap();
    let payments = tools.path().join("payments-db");
    copy_executable("/bin/sleep", &payments);
    let l = tcp_listen("0.0.0.0:22050");
    let holder = spawn_holding(std::process::Command::new(&payments).arg("600"), &[&l]);
    drop(l);
    let kill_step = |d: &portscope::analyze::why::Diagnosis| {
        d.plan
            .iter()
            .find(|r| r.command.contains(&holder.pid().to_string()))
            .and_then(|r| r.warning.clone())
    };

    // Without [protect] nothing is said about it.
    let plain = config("");
    let (_, out, err) = why(&plain, &["22050", "--proto", "tcp", "--json"]);
    let d: portscope::analyze::why::Diagnosis = serde_json::from_str(&out).expect(&err);
    assert_eq!(kill_step(&d), None, "{:?}", d.plan);

    let dir = config(&format!(
        "[protect]\nprograms = [{:?}]\nwhy = \"payments database: losing it pages the on-call\"\n",
        payments.display()
    ));
    let (_, out, err) = why(&dir, &["22050", "--proto", "tcp", "--json"]);
    let d: portscope::analyze::why::Diagnosis = serde_json::from_str(&out).expect(&err);
    let w = kill_step(&d).unwrap_or_default();
    assert!(
        w.contains(&format!("its program is {}", payments.display()))
            && w.ends_with("pages the on-call"),
        "{:?}",
        d.plan
    );
    let (_, text, _) = why(&dir, &["22050", "--proto", "tcp"]);
    assert!(text.contains("warning: payments-db"), "{text}");

    // By command name: weaker, and said to be.
    let dir = config("[protect]\nprograms = [\"payments-db\"]\n");
    let (_, out, _) = why(&dir, &["22050", "--proto", "tcp", "--json"]);
    let d: portscope::analyze::why::Diagnosis = serde_json::from_str(&out).unwrap();
    assert!(
        kill_step(&d).is_some_and(|w| w.contains("named payments-db")),
        "{:?}",
        d.plan
    );
}

#[test]
fn a_wrong_protect_section_is_bad_input_in_one_line() {
    for (text, want) in [
        ("[protect]\nprogram = [\"x\"]\n", "unknown field"),
        ("[protect]\nprograms = [\"bin/x\"]\n", "absolute path"),
        ("[protect]\nunits = [\"\"]\n", "empty"),
        ("[protect]\nprograms = \"x\"\n", "invalid type"),
    ] {
        let dir = config(text);
        let (code, out, err) = why(&dir, &["22051"]);
        assert_eq!(code, 2, "{text}: {out} {err}");
        assert!(
            err.contains(want) && err.contains("config.toml"),
            "{text}: {err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{text}: {err}");
    }
}
