//! What another user controls may inform what root's portscope shows, never decide what it runs,
//! stops, signals or writes, and never block it. Each test plants an attack as an unprivileged
//! user would and checks root's portscope.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

/// A tool planted in a directory on root's PATH (sudo or cron keeping a user's PATH) is never
/// run: tools come from the system directories, or from `--tool-path` given on the command line.
#[test]
fn a_tool_planted_on_path_is_never_run() {
    if !private_netns("attack_path_tool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    for tool in [
        "iptables-save",
        "iptables-legacy-save",
        "iptables-nft-save",
        "nft",
        "systemctl",
        "docker",
    ] {
        let p = dir.path().join(tool);
        std::fs::write(
            &p,
            format!("#!/bin/sh\necho {tool} >> {}\n", marker.display()),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let l = tcp_listen("0.0.0.0:20451");
    let (code, out, err) = run(portscope()
        .args(["why", "20451", "--nat"])
        .env("PATH", &path));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        !marker.exists(),
        "a planted tool ran: {}",
        std::fs::read_to_string(&marker).unwrap_or_default()
    );
    // Named on the command line by the person running portscope, the same directory is used.
    let (_, out, err) = run(portscope().args([
        "--tool-path",
        dir.path().to_str().unwrap(),
        "why",
        "20451",
        "--nat",
    ]));
    assert!(marker.exists(), "--tool-path is honoured: {out}{err}");
    drop(l);
}
