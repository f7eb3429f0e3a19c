//! `portscope reserve` attacked: planted links, FIFOs and devices, SIGKILL at every step and at
//! random moments, recycled namespace inodes, concurrent applies, hostile edits between apply
//! and undo. Every test runs in a private network namespace with a temporary sysctl tree and
//! data directory; the host's /etc and sysctls are never touched.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::reserve::*;
use common::*;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Everything `undo` must restore byte for byte: the runtime value, the drop-in (content, link
/// target or absence, and mode), and the sysctl directory's listing.
#[derive(Debug, PartialEq, Eq)]
struct State {
    runtime: String,
    dropin: Option<(Vec<u8>, u32)>,
    link: Option<PathBuf>,
    names: Vec<String>,
}

fn state(env: &Env) -> State {
    let d = env.dropin();
    let link = std::fs::read_link(&d).ok();
    let dropin = if link.is_some() {
        None
    } else {
        std::fs::read(&d)
            .ok()
            .map(|b| (b, std::fs::metadata(&d).unwrap().mode() & 0o7777))
    };
    State {
        runtime: runtime(),
        dropin,
        link,
        names: env.etc_d_names(),
    }
}

fn journal_json(env: &Env) -> serde_json::Value {
    match std::fs::read_to_string(env.journal()) {
        Ok(t) => serde_json::from_str(&t).unwrap(),
        Err(_) => serde_json::json!({"entries": []}),
    }
}

/// Runs a command, killing it if it does not finish within `limit`: a hang is a failure.
fn run_bounded(cmd: &mut Command, limit: Duration) -> (i32, String, String) {
    let child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let watchdog = std::thread::spawn(move || {
        let end = Instant::now() + limit;
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            if Instant::now() > end {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                return true;
            }
            std::thread::sleep(Duration::from_millis(10)); // watchdog tick
        }
        false
    });
    let out = child.wait_with_output().unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        !watchdog.join().unwrap(),
        "command hung for {limit:?}: {cmd:?}"
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_linked_dropin_is_replaced_never_written_through_and_undo_restores_the_link() {
    if !private_netns("attack_linked_dropin") {
        return;
    }
    let env = Env::new();
    let victim = env.dir.path().join("shadow");
    std::fs::write(&victim, "root:SECRET-HASH:19000::::::\n").unwrap();
    let mut perms = std::fs::metadata(&victim).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&victim, perms).unwrap();
    symlink(&victim, env.dropin()).unwrap();
    // Links at every name the old, predictable temporary-file scheme could pick.
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let next: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    for pid in next.saturating_sub(50)..(next + 2000).min(pid_max) {
        symlink(
            &victim,
            env.etc_d().join(format!(".{DROPIN}.portscope-{pid}.tmp")),
        )
        .unwrap();
    }
    set_runtime("");
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root:SECRET-HASH:19000::::::\n",
        "the link's target was written through"
    );
    let meta = std::fs::symlink_metadata(env.dropin()).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the drop-in is a plain file now"
    );
    assert!(
        std::fs::read_to_string(env.dropin())
            .unwrap()
            .contains("= 8080")
    );
    let journal = std::fs::read_to_string(env.journal()).unwrap();
    assert!(
        !journal.contains("SECRET"),
        "the link's target was copied into the journal: {journal}"
    );
    assert!(journal.contains("symlink"), "{journal}");
    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(std::fs::read_link(env.dropin()).unwrap(), victim);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root:SECRET-HASH:19000::::::\n"
    );
    assert_eq!(runtime(), "");
}

#[test]
fn links_in_the_data_directory_and_the_sysctl_root_are_refused() {
    if !private_netns("attack_links_elsewhere") {
        return;
    }
    let env = Env::new();
    set_runtime("");
    let victim = env.dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    // The journal is a link.
    std::fs::create_dir_all(env.journal().parent().unwrap()).unwrap();
    symlink(&victim, env.journal()).unwrap();
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    assert_eq!(runtime(), "");
    std::fs::remove_file(env.journal()).unwrap();
    // The lock beside it is a link.
    let _ = std::fs::remove_file(env.journal().with_file_name("reserve.lock"));
    symlink(&victim, env.journal().with_file_name("reserve.lock")).unwrap();
    let (code, _, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    std::fs::remove_file(env.journal().with_file_name("reserve.lock")).unwrap();
    // A directory in the sysctl root is a link out of it (a container root pointing at /etc).
    let outside = env.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::remove_dir_all(env.root().join("etc/sysctl.d")).unwrap();
    symlink(&outside, env.root().join("etc/sysctl.d")).unwrap();
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("symbolic link") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(runtime(), "");
    // A data directory that another user can write is not trusted with root's journal.
    let open_dir = env.dir.path().join("open");
    std::fs::create_dir_all(open_dir.join("portscope")).unwrap();
    let mut p = std::fs::metadata(open_dir.join("portscope"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o777);
    std::fs::set_permissions(open_dir.join("portscope"), p).unwrap();
    std::fs::remove_file(env.root().join("etc/sysctl.d")).unwrap();
    std::fs::create_dir_all(env.etc_d()).unwrap();
    let mut cmd = env.cmd(&["apply", "8080", "--yes"]);
    cmd.env("XDG_DATA_HOME", &open_dir);
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("writable by other users"), "{err}");
    assert_eq!(runtime(), "");
}

#[test]
fn fifos_devices_and_odd_bytes_in_sysctl_d_never_hang_or_mislead() {
    if !private_netns("attack_fifo") {
        return;
    }
    let env = Env::new();
    set_runtime("");
    std::fs::write(
        env.etc_d().join("10-vendor.conf"),
        format!("{KEY} = 9000\n"),
    )
    .unwrap();
    nix::unistd::mkfifo(
        &env.etc_d().join("20-fifo.conf"),
        nix::sys::stat::Mode::S_IRWXU,
    )
    .unwrap();
    symlink("/dev/zero", env.etc_d().join("30-zero.conf")).unwrap();
    let limit = Duration::from_secs(20);
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["plan", "8080"],
        &["apply", "8080", "--yes"],
    ] {
        let (code, out, err) = run_bounded(&mut env.cmd(args), limit);
        let all = format!("{out}{err}");
        assert!(all.contains("20-fifo.conf"), "{args:?}: {all}");
        // apply stops at the first file that makes the boot value unknown.
        assert!(
            args[0] == "apply" || all.contains("30-zero.conf"),
            "{args:?}: {all}"
        );
        if args[0] == "apply" {
            // 20- and 30- come before the drop-in, so the value it replaces at boot is unknown:
            // nothing is written.
            assert_eq!(code, 1, "{all}");
            assert!(all.contains("cannot be known"), "{all}");
        }
    }
    assert_eq!(runtime(), "");
    assert!(!env.dropin().exists());
    // A file that is not UTF-8 is still read as sysctl reads it: bytes.
    std::fs::remove_file(env.etc_d().join("20-fifo.conf")).unwrap();
    std::fs::remove_file(env.etc_d().join("30-zero.conf")).unwrap();
    std::fs::write(
        env.etc_d().join("40-latin1.conf"),
        [
            b"# r\xe9serv\xe9\n".as_slice(),
            format!("{KEY} = 9100\n").as_bytes(),
        ]
        .concat(),
    )
    .unwrap();
    let (code, out, err) = env.run(&["status", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["boot"], "9100", "{out}");
    assert_eq!(v["boot_known"], true);
}

#[test]
fn apply_keeps_what_the_configuration_reserves_at_boot() {
    if !private_netns("attack_boot_merge") {
        return;
    }
    let env = Env::new();
    set_runtime("");
    std::fs::write(
        env.etc_d().join("50-vendor.conf"),
        format!("{KEY} = 9000-9010\n"),
    )
    .unwrap();
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("50-vendor.conf"), "{out}");
    assert_eq!(runtime(), "8080,9000-9010");
    let text = std::fs::read_to_string(env.dropin()).unwrap();
    assert_eq!(
        assignment_lines(&text),
        [format!("{KEY} = 8080,9000-9010")],
        "the drop-in must not drop the vendor's reservation at the next boot"
    );
    // An apply with nothing to apply changes nothing and writes nothing.
    let before = state(&env);
    let (code, _, err) = env.run(&["apply", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(state(&env), before);
}

#[test]
fn plans_that_leave_no_ephemeral_port_or_that_the_kernel_cannot_take_are_refused() {
    if !private_netns("attack_refusals") {
        return;
    }
    let env = Env::new();
    set_runtime("");
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "32768 60999\n").unwrap();
    let before = state(&env);
    for spec in ["1-65535", "32768-60999", "32768-60500"] {
        let (code, out, err) = env.run(&["apply", spec, "--yes"]);
        assert_eq!(code, 2, "{spec}: {out}{err}");
        assert!(
            err.contains("every outgoing connection will fail"),
            "{spec}: {err}"
        );
        assert_eq!(state(&env), before, "{spec}");
    }
    // Every other port: far more than the kernel takes in one write.
    let many: Vec<String> = (1000..4000).step_by(2).map(|p| p.to_string()).collect();
    let (code, out, err) = env.run(&["plan", &many.join(",")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("at most 4094"), "{out}");
    let (code, _, err) = env.run(&["apply", &many.join(","), "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("at most 4094"), "{err}");
    assert_eq!(state(&env), before);
    // Forced, the empty range is the user's explicit choice.
    let (code, out, err) = env.run(&["apply", "32768-60999", "--yes", "--force", "--no-persist"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(runtime(), "32768-60999");
}

#[test]
fn undo_keeps_other_administrators_changes_and_never_overwrites_an_edited_dropin() {
    if !private_netns("attack_undo_merge") {
        return;
    }
    let env = Env::new();
    set_runtime("7000");
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // Another administrator adds 9090 and drops 7000 at runtime.
    set_runtime("8080,9090");
    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(runtime(), "9090", "undo takes out 8080 only");
    assert!(!env.dropin().exists());

    let (code, out, err) = env.run(&["apply", "8081", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let edited = format!("# mine now\n{KEY} = 8081,1234\n");
    std::fs::write(env.dropin(), &edited).unwrap();
    let rt = runtime();
    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("changed by someone else"), "{err}");
    assert_eq!(std::fs::read_to_string(env.dropin()).unwrap(), edited);
    assert_eq!(runtime(), rt, "nothing changed, the runtime value included");
}

#[test]
fn a_journal_from_a_newer_portscope_is_refused_and_left_alone() {
    if !private_netns("attack_newer_journal") {
        return;
    }
    let env = Env::new();
    set_runtime("");
    std::fs::create_dir_all(env.journal().parent().unwrap()).unwrap();
    let newer = r#"{"version": 9, "entries": [], "field_from_the_future": {"x": 1}}"#;
    std::fs::write(env.journal(), newer).unwrap();
    for args in [&["apply", "8080", "--yes"][..], &["undo", "--yes"]] {
        let (code, out, err) = env.run(args);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(err.contains("newer portscope"), "{err}");
        assert_eq!(std::fs::read_to_string(env.journal()).unwrap(), newer);
    }
    assert_eq!(runtime(), "");
}

#[test]
fn another_namespace_never_gets_the_hosts_files() {
    if !private_netns("attack_other_netns") {
        return;
    }
    let env = Env::new();
    let ns = idle_in_new_netns();
    // No --sysctl-root here: the default files are the host's /etc, which must not be touched;
    // the data directory is the test's.
    let mut cmd = portscope();
    cmd.env("XDG_DATA_HOME", env.data()).args([
        "--netns",
        &ns.pid().to_string(),
        "reserve",
        "apply",
        "8080",
        "--yes",
    ]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("docker run --sysctl"), "{out}");
    assert!(out.contains("securityContext.sysctls"), "{out}");
    let j = journal_json(&env);
    assert!(j["entries"][0]["dropin"].is_null(), "{j}");
    let theirs = std::fs::read_to_string(format!(
        "/proc/{}/root/proc/sys/net/ipv4/ip_local_reserved_ports",
        ns.pid()
    ));
    // Read it from inside: the value is per namespace.
    let inside =
        run(Command::new("nsenter").args(["-t", &ns.pid().to_string(), "-n", "cat", PROC]));
    assert_eq!(inside.1.trim(), "8080", "{theirs:?}");
}

/// A process in a namespace of its own (for `--netns PID`), killed on drop.
fn idle_in_new_netns() -> Holder {
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let child = Command::new("unshare")
        .args(["-n", "sleep", "600"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let me = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    assert!(
        wait_until(PATIENCE, || {
            std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|l| l != me)
                && std::fs::read_link(format!("/proc/{pid}/exe"))
                    .is_ok_and(|e| e.to_string_lossy().contains("sleep"))
        }),
        "the namespace holder did not start"
    );
    Holder { child }
}

fn ns_inode(pid: u32) -> u64 {
    std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .unwrap()
        .ino()
}

#[test]
fn a_recycled_namespace_inode_is_never_taken_for_the_dead_namespace() {
    if !private_netns("attack_recycled_inode") {
        return;
    }
    let env = Env::new();
    let old = idle_in_new_netns();
    let old_ino = ns_inode(old.pid());
    let apply = |pid: u32, spec: &str| {
        let mut cmd = portscope();
        cmd.env("XDG_DATA_HOME", env.data()).args([
            "--netns",
            &pid.to_string(),
            "reserve",
            "apply",
            spec,
            "--yes",
        ]);
        run(&mut cmd)
    };
    let (code, out, err) = apply(old.pid(), "8080");
    assert_eq!(code, 0, "{out}{err}");
    drop(old);
    // New namespaces until the kernel hands out the dead one's inode again. Parallel tests
    // allocate namespace inodes too and may take it first: after a while, the journal entry is
    // moved onto a new namespace's inode instead, which is exactly what a dead namespace whose
    // inode was reused leaves behind (same inode, another namespace's cookie).
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let new = loop {
        let h = idle_in_new_netns();
        if ns_inode(h.pid()) == old_ino {
            break h;
        }
        if Instant::now() > deadline {
            skip_note!(
                "inode {old_ino} not reused in 20 s: the dead namespace's entry is moved onto a new inode"
            );
            let mut j = journal_json(&env);
            j["entries"][0]["netns"]["inode"] = ns_inode(h.pid()).into();
            std::fs::write(env.journal(), serde_json::to_string(&j).unwrap()).unwrap();
            break h;
        }
        held.push(h);
    };
    drop(held);
    let set = run(Command::new("nsenter").args([
        "-t",
        &new.pid().to_string(),
        "-n",
        "sh",
        "-c",
        &format!("echo 7777 > {PROC}"),
    ]));
    assert_eq!(set.0, 0, "{set:?}");
    let mut cmd = portscope();
    cmd.env("XDG_DATA_HOME", env.data()).args([
        "--netns",
        &new.pid().to_string(),
        "reserve",
        "undo",
        "--yes",
    ]);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no longer exists"), "{err}");
    let now = run(Command::new("nsenter").args(["-t", &new.pid().to_string(), "-n", "cat", PROC]));
    assert_eq!(
        now.1.trim(),
        "7777",
        "the new namespace's reservation was touched"
    );
}

#[test]
fn concurrent_applies_with_different_journals_lose_no_update() {
    if !private_netns("attack_concurrent") {
        return;
    }
    let env = Env::new();
    let other = tempfile::tempdir().unwrap();
    for round in 0..15u16 {
        set_runtime("");
        let a = 20000 + round * 2;
        let b = a + 1;
        let mut c1 = env.cmd(&["apply", &a.to_string(), "--yes", "--no-persist"]);
        let mut c2 = env.cmd(&["apply", &b.to_string(), "--yes", "--no-persist"]);
        c2.env("XDG_DATA_HOME", other.path());
        let spawn = |c: &mut Command| {
            let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            c.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let (mut p1, mut p2) = (spawn(&mut c1), spawn(&mut c2));
        let ok1 = p1.wait().unwrap().success();
        let ok2 = p2.wait().unwrap().success();
        let rt = runtime();
        let set = portscope::portset::PortSet::parse(&rt).unwrap();
        if ok1 {
            assert!(set.contains(a), "round {round}: {rt}");
        }
        if ok2 {
            assert!(set.contains(b), "round {round}: {rt}");
        }
        assert!(ok1 || ok2, "round {round}: both failed");
    }
}

/// The state before, and after a clean apply of `spec`, for the crash tests.
fn reference_states(env: &Env, spec: &str) -> (State, State) {
    let before = state(env);
    let (code, out, err) = env.run(&["apply", spec, "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let after = state(env);
    let (code, out, err) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(state(env), before);
    (before, after)
}

fn killed_at(env: &Env, point: &str, args: &[&str]) {
    let mut cmd = env.cmd(args);
    cmd.env("PORTSCOPE_FAILPOINT", point);
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, -1, "{point}: not killed: {out}{err}");
}

fn setup_crash_env() -> Env {
    let env = Env::new();
    set_runtime("7000");
    // An administrator's earlier drop-in content, with an unusual mode, must come back exactly.
    std::fs::write(env.dropin(), format!("# admin's\n{KEY} = 7000\n")).unwrap();
    let mut p = std::fs::metadata(env.dropin()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o640);
    std::fs::set_permissions(env.dropin(), p).unwrap();
    env
}

#[test]
fn sigkill_at_each_step_of_apply_undo_and_finish_is_recoverable() {
    if !private_netns("attack_failpoints") {
        return;
    }
    let env = setup_crash_env();
    let (before, after) = reference_states(&env, "8080");
    for point in [
        "apply:after-journal",
        "apply:after-runtime",
        "apply:after-dropin",
    ] {
        killed_at(&env, point, &["apply", "8080", "--yes"]);
        let j = journal_json(&env);
        assert_eq!(j["entries"][0]["state"], "pending", "{point}: {j}");
        // Status names it; a new apply refuses until it is dealt with.
        let (_, out, _) = env.run(&["status"]);
        assert!(out.contains("UNFINISHED"), "{point}: {out}");
        let (code, _, err) = env.run(&["apply", "9999", "--yes"]);
        assert_eq!(code, 1, "{point}: {err}");
        assert!(err.contains("did not finish"), "{point}: {err}");
        // Roll it back...
        let (code, out, err) = env.run(&["undo", "--yes"]);
        assert_eq!(code, 0, "{point}: {out}{err}");
        assert_eq!(state(&env), before, "{point}: rolled back");
        assert_eq!(env.journal_entries(), 0);
        // ...or finish it.
        killed_at(&env, point, &["apply", "8080", "--yes"]);
        let (code, out, err) = env.run(&["apply", "--finish", "--yes"]);
        assert_eq!(code, 0, "{point}: {out}{err}");
        let s = state(&env);
        assert_eq!(
            (s.runtime.as_str(), &s.names),
            (after.runtime.as_str(), &after.names)
        );
        assert!(
            s.dropin
                .as_ref()
                .unwrap()
                .0
                .ends_with(format!("{KEY} = 7000,8080\n").as_bytes()),
            "{point}: {s:?}"
        );
        let (code, out, err) = env.run(&["undo", "--yes"]);
        assert_eq!(code, 0, "{point}: {out}{err}");
        assert_eq!(state(&env), before, "{point}: undone after finishing");
    }
    for point in ["undo:after-runtime", "undo:after-dropin"] {
        let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
        assert_eq!(code, 0, "{out}{err}");
        killed_at(&env, point, &["undo", "--yes"]);
        let (code, out, err) = env.run(&["undo", "--yes"]);
        assert_eq!(code, 0, "{point}: {out}{err}");
        assert_eq!(
            state(&env),
            before,
            "{point}: a second undo finishes the first"
        );
        assert_eq!(env.journal_entries(), 0);
    }
}

/// A tiny xorshift generator: no extra crate, and a seed printed for reproduction.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn apply_killed_at_random_moments_is_unchanged_or_recoverable_byte_for_byte() {
    if !private_netns("attack_random_kills") {
        return;
    }
    let env = setup_crash_env();
    let (before, _) = reference_states(&env, "8080");
    // How long an apply takes here, to spread the kills over all of it.
    let t0 = Instant::now();
    let (code, out, err) = env.run(&["apply", "8080", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    let took = t0.elapsed();
    let (code, _, _) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let start_seed = seed;
    // When the change itself starts: the time to the first failpoint, after the journal write.
    let t0 = Instant::now();
    killed_at(&env, "apply:after-journal", &["apply", "8080", "--yes"]);
    let to_journal = t0.elapsed().as_micros() as u64;
    let (code, _, _) = env.run(&["undo", "--yes"]);
    assert_eq!(code, 0);
    let full = took.as_micros() as u64;
    // Half the kills anywhere in an apply's life, half around the change itself (from the
    // journal write to the end, with a margin for the jitter of a busy machine).
    let around = (to_journal.saturating_sub(3000), full.max(to_journal) + 3000);
    let (mut untouched, mut recovered) = (0, 0);
    // At least 200 kills, and enough of them inside the change itself (journal to done) that the
    // test proves something even on a loaded machine where start-up dominates.
    let mut i = 0;
    while i < 200 || (recovered < 10 && i < 2000) {
        i += 1;
        let (lo, hi) = if i % 2 == 0 {
            (0, full * 12 / 10)
        } else {
            around
        };
        let delay = Duration::from_micros(lo + next(&mut seed) % (hi - lo + 1));
        let mut cmd = env.cmd(&["apply", "8080", "--yes"]);
        let mut child = {
            let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let t = Instant::now();
        while t.elapsed() < delay {
            std::hint::spin_loop(); // timing the kill, not waiting for a condition
        }
        let _ = child.kill();
        let _ = child.wait();
        if env.journal_entries() == 0 {
            assert_eq!(
                state(&env),
                before,
                "kill {i} (seed {start_seed}): changed without a journal entry"
            );
            untouched += 1;
        } else {
            let (code, out, err) = env.run(&["undo", "--yes"]);
            assert_eq!(code, 0, "kill {i} (seed {start_seed}): {out}{err}");
            assert_eq!(
                state(&env),
                before,
                "kill {i} (seed {start_seed}): undo did not restore"
            );
            assert_eq!(env.journal_entries(), 0);
            recovered += 1;
        }
    }
    skip_note!(
        "random kills: {untouched} left nothing changed, {recovered} recovered by undo (seed {start_seed})"
    );
    assert_eq!(untouched + recovered, i);
    assert!(
        recovered >= 10,
        "only {recovered} of {i} kills landed after the journal entry (seed {start_seed})"
    );
}

#[test]
fn status_without_root_says_what_it_cannot_know() {
    if !private_netns("attack_status_unprivileged") {
        return;
    }
    let env = Env::new();
    let ns = idle_in_new_netns();
    let Some(bin) = binary_for_nobody(&env) else {
        return;
    };
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args(["--netns", &ns.pid().to_string(), "reserve", "status"])
        .env("HOME", env.dir.path());
    let (code, out, err) = run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("runtime  (none)"), "{out}");
    assert!(out.contains("runtime  unknown"), "{out}");
    assert!(out.contains("sudo"), "{out}");
    assert!(!out.contains("No listener sits unreserved"), "{out}");
}

/// A copy of the binary that uid 65534 can run even when the build tree is in a directory it
/// cannot enter (root's home is 0700).
fn binary_for_nobody(env: &Env) -> Option<PathBuf> {
    if Command::new("setpriv").arg("--version").output().is_err() {
        skip("attack_status_unprivileged", "setpriv is not installed");
        return None;
    }
    let dir = env.dir.path().join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("portscope");
    {
        // No spawn may fork while the copy's write fd is open: the child would keep it until
        // its exec, and running the copy would then fail with ETXTBSY.
        let _quiet = no_spawns();
        std::fs::copy(env!("CARGO_BIN_EXE_portscope"), &bin).unwrap();
    }
    for p in [env.dir.path(), dir.as_path(), bin.as_path()] {
        let mut perms = std::fs::metadata(p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(p, perms).unwrap();
    }
    let mut ancestor: &Path = env.dir.path();
    while let Some(parent) = ancestor.parent() {
        let mode = std::fs::metadata(parent).unwrap().mode();
        if mode & 0o001 == 0 {
            skip(
                "attack_status_unprivileged",
                &format!("{} cannot be entered by other users", parent.display()),
            );
            return None;
        }
        ancestor = parent;
    }
    Some(bin)
}
