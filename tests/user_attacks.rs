//! What another user controls may inform what root's portscope shows, never decide what it runs,
//! stops, signals or writes, and never block it. Each test plants an attack as an unprivileged
//! user would and checks root's portscope.
#![allow(clippy::pedantic)]
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
        write_executable(
            &p,
            format!("#!/bin/sh\necho {tool} >> {}\n", marker.display()).as_bytes(),
        );
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

/// A process that calls itself kubelet earns no protection by the name alone: a copy of
/// `sleep` named kubelet, run by nobody from a temporary directory, holding a port, gets a plan
/// like any process, and `fix --kill` stops it.
#[test]
fn a_runtime_name_alone_protects_nothing() {
    if !private_netns("attack_named_kubelet") {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("portscope-kubelet")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let fake = dir.path().join("kubelet");
    copy_executable("/bin/sleep", &fake);
    let l = tcp_listen("0.0.0.0:20452");
    let mut holder = spawn_holding(
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&fake)
            .arg("600")
            .current_dir("/")
            .stdin(std::process::Stdio::null()),
        &[&l],
    );
    drop(l);
    let pid = holder.pid();
    assert!(
        wait_until(PATIENCE, || std::fs::read_to_string(format!(
            "/proc/{pid}/comm"
        ))
        .is_ok_and(|c| c.trim() == "kubelet")),
        "the impostor did not start"
    );
    let (_, d) = why_json(&["20452"]);
    assert!(
        d.remedies
            .iter()
            .any(|r| r.command.contains(&pid.to_string())),
        "a plan to stop pid {pid}: {:?}",
        d.remedies.iter().map(|r| &r.command).collect::<Vec<_>>()
    );
    let (code, out, err) = run(portscope().args(["fix", "20452", "--yes", "--kill"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        wait_until(PATIENCE, || holder
            .child
            .try_wait()
            .is_ok_and(|s| s.is_some())),
        "the impostor still runs: {out}"
    );
}

/// A directory another user owns (root run with that user's XDG_DATA_HOME or XDG_CONFIG_HOME,
/// as `sudo -E` does) is never where root keeps its undo journal or its metrics, and a config
/// file planted there is not obeyed; nothing is changed, and the command still runs.
#[test]
fn another_users_directories_are_never_roots_data_or_config() {
    if !private_netns("attack_user_dirs") {
        return;
    }
    let theirs = tempfile::tempdir().unwrap();
    let nobody = nix::unistd::Uid::from_raw(65534);
    for sub in ["data", "config/portscope", "textfile"] {
        std::fs::create_dir_all(theirs.path().join(sub)).unwrap();
    }
    for sub in ["", "data", "config", "config/portscope", "textfile"] {
        nix::unistd::chown(&theirs.path().join(sub), Some(nobody), None).unwrap();
    }
    let reserved = || common::reserve::runtime();
    common::reserve::set_runtime("9000");
    let (code, out, err) = run(portscope()
        .env("XDG_DATA_HOME", theirs.path().join("data"))
        .args(["reserve", "apply", "8080", "--yes", "--no-persist"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("belongs to uid 65534"),
        "names the directory: {err}"
    );
    assert_eq!(reserved(), "9000", "nothing changed");
    assert!(
        !theirs.path().join("data/portscope").exists(),
        "nothing written there"
    );

    let (code, out, err) = run(portscope().args([
        "metrics",
        "--textfile",
        theirs.path().join("textfile").to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("belongs to uid 65534"), "{err}");

    // A config planted in the default location is ignored (the command runs as without it);
    // named explicitly, it is refused.
    let config = theirs.path().join("config/portscope/config.toml");
    std::fs::write(&config, "this is = not [toml\n").unwrap();
    nix::unistd::chown(&config, Some(nobody), None).unwrap();
    let (code, out, err) = run(portscope()
        .env("XDG_CONFIG_HOME", theirs.path().join("config"))
        .args(["check", "--port", "20453"]));
    assert!(code <= 2, "the planted config blocked check: {out}{err}");
    assert!(!out.contains("UNKNOWN"), "{out}{err}");
    let (code, out, err) = run(portscope().args([
        "--config",
        config.to_str().unwrap(),
        "check",
        "--port",
        "20453",
    ]));
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("belongs to uid 65534"), "{out}{err}");
}

/// The same impostor with root's own program file: in a user and mount namespace of its own,
/// nobody binds /bin/sleep (root-owned, in a system directory) onto /usr/local/bin/kubelet and
/// runs it. Its program path names a system file only in its own view of the filesystem, so it
/// is not the runtime: it gets a plan, and fix stops it.
#[test]
fn roots_program_mounted_under_a_runtime_name_protects_nothing() {
    if !private_netns("attack_mounted_kubelet") {
        return;
    }
    let l = tcp_listen("0.0.0.0:20454");
    let script = "mount -t tmpfs none /usr/local/bin && touch /usr/local/bin/kubelet && \
                  mount --bind /bin/sleep /usr/local/bin/kubelet && \
                  exec /usr/local/bin/kubelet 600";
    let mut holder = spawn_holding(
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(["unshare", "-Urm", "sh", "-c", script])
            .current_dir("/")
            .stdin(std::process::Stdio::null()),
        &[&l],
    );
    drop(l);
    let pid = holder.pid();
    let started = wait_until(PATIENCE, || {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|p| p.to_string_lossy() == "/usr/local/bin/kubelet")
            || holder.child.try_wait().is_ok_and(|s| s.is_some())
    });
    if !started || holder.child.try_wait().is_ok_and(|s| s.is_some()) {
        skip(
            "attack_mounted_kubelet",
            "an unprivileged user namespace with mounts is not allowed here",
        );
        return;
    }
    let (_, d) = why_json(&["20454", "--proto", "tcp"]);
    assert!(
        d.remedies
            .iter()
            .any(|r| r.command.contains(&pid.to_string())),
        "a plan to stop pid {pid}: {:?}",
        d.remedies.iter().map(|r| &r.command).collect::<Vec<_>>()
    );
    let (code, out, err) =
        run(portscope().args(["fix", "20454", "--proto", "tcp", "--yes", "--kill"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        wait_until(PATIENCE, || holder
            .child
            .try_wait()
            .is_ok_and(|s| s.is_some())),
        "the impostor still runs: {out}"
    );
}
