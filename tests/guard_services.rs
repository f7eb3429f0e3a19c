//! `portscope services`: discovery from real listeners in a private namespace and from systemd
//! socket units in a temporary unit tree (`--unit-root`), and `--write` into a config file that is
//! replaced atomically and never through a symbolic link.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use std::os::fd::AsFd;
use std::path::Path;

fn units(root: &Path) {
    let etc = root.join("etc/systemd/system");
    let lib = root.join("usr/lib/systemd/system");
    std::fs::create_dir_all(&etc).expect("mkdir");
    std::fs::create_dir_all(&lib).expect("mkdir");
    std::fs::write(
        lib.join("web.socket"),
        "[Unit]\nDescription=web\n[Socket]\nListenStream=0.0.0.0:21500\nListenStream=[::]:21501\n\
         ListenStream=/run/web.sock\nListenDatagram=21502\n[Install]\nWantedBy=sockets.target\n",
    )
    .expect("unit");
    // A drop-in in /etc resets the streams and names another port.
    std::fs::create_dir_all(etc.join("web.socket.d")).expect("mkdir");
    std::fs::write(
        etc.join("web.socket.d/override.conf"),
        "[Socket]\nListenStream=\nListenStream=21503\n",
    )
    .expect("dropin");
    // Masked in /etc: not proposed.
    std::fs::write(lib.join("old.socket"), "[Socket]\nListenStream=21504\n").expect("unit");
    std::os::unix::fs::symlink("/dev/null", etc.join("old.socket")).expect("mask");
    // Templates have no instance.
    std::fs::write(lib.join("tpl@.socket"), "[Socket]\nListenStream=21505\n").expect("unit");
}

#[test]
fn proposes_from_listeners_and_socket_units_and_writes_the_config() {
    if !private_netns("services_discover") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    units(&dir.path().join("root"));
    let config = dir.path().join("conf/config.toml");
    std::fs::create_dir_all(config.parent().expect("parent")).expect("mkdir");
    std::fs::write(
        &config,
        "# my settings\ninterval_ms = 500\n[[service]]\nname = \"db\"\nport = 21510\n",
    )
    .expect("config");
    let l1 = tcp_listen("0.0.0.0:21511");
    let l2 = tcp_listen("127.0.0.1:21512");
    let u = udp_bind("0.0.0.0:21513");
    let db = tcp_listen("0.0.0.0:21510");
    let app = hold(&[&l1.as_fd(), &l2.as_fd(), &u.as_fd()]);
    drop((l1, l2, u));
    let base = |extra: &[&str]| {
        let mut c = portscope();
        c.arg("--config")
            .arg(&config)
            .arg("services")
            .arg("--unit-root")
            .arg(dir.path().join("root"))
            .args(extra);
        c
    };
    let (code, out, err) = run(&mut base(&["--json"]));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let found: Vec<(String, String, String, String)> = v["found"]
        .as_array()
        .expect("found")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap_or("").to_string(),
                format!(
                    "{}/{}",
                    f["ports"].as_str().unwrap_or(""),
                    f["proto"].as_str().unwrap_or("")
                ),
                f["process"].as_str().unwrap_or("").to_string(),
                f["source"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    assert_eq!(
        found,
        [
            s("web", "21503/tcp", "systemd", "socket_unit"),
            s("web-udp", "21502/udp", "systemd", "socket_unit"),
            s("sleep", "21511-21512/tcp", "sleep", "listener"),
            s("sleep-udp", "21513/udp", "sleep", "listener"),
        ],
        "db is declared already; the test process's own listener {}",
        out
    );
    // The listener of the test binary itself (db) is declared; nothing else is proposed for it.
    let (code, out, err) = run(&mut base(&["--write"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Added 4 services"), "{out}");
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(
        text.starts_with("# my settings\ninterval_ms = 500\n"),
        "kept: {text}"
    );
    // What was written declares exactly that, and check accepts it.
    let (code, out, _) = run(portscope().arg("--config").arg(&config).args([
        "check",
        "--service",
        "sleep",
        "--no-host-checks",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("sleep (pid {}", app.pid())) && out.contains(") listens"),
        "{out}"
    );
    // Run again: nothing new, nothing written.
    let before = std::fs::read_to_string(&config).expect("config");
    let (code, out, _) = run(&mut base(&["--write"]));
    assert_eq!(code, 0);
    assert!(out.contains("Nothing new to declare (5 services"), "{out}");
    assert_eq!(std::fs::read_to_string(&config).expect("config"), before);
    drop(db);
}

#[test]
fn write_refuses_a_config_that_is_a_symbolic_link() {
    if !private_netns("services_symlink") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("elsewhere.toml");
    std::fs::write(&target, "interval_ms = 700\n").expect("target");
    let config = dir.path().join("config.toml");
    std::os::unix::fs::symlink(&target, &config).expect("symlink");
    let l = tcp_listen("0.0.0.0:21520");
    let (code, out, err) = run(portscope()
        .arg("--config")
        .arg(&config)
        .args(["services", "--write", "--unit-root"])
        .arg(dir.path()));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).expect("target"),
        "interval_ms = 700\n"
    );
    assert!(
        std::fs::symlink_metadata(&config)
            .expect("link")
            .is_symlink()
    );
    drop(l);
}
