//! Containers without a container runtime: real listeners in a private network namespace, held
//! by processes placed in fake container cgroups (one cgroup directory per fake container, in
//! the v1 name=systemd hierarchy and the unified one), with fake runtime state in the runtimes'
//! real file formats under a temporary root. Checks names, published-port attribution and that
//! no remedy ever stops a runtime.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::*;
use portscope::analyze::why::Diagnosis;
use portscope::model::Snapshot;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const V1: &str = "/sys/fs/cgroup/systemd";
const V2: &str = "/sys/fs/cgroup/unified";

fn id(n: u8) -> String {
    format!("{:02x}", n).repeat(32)
}

/// A process placed in fake cgroups. Drop kills it first, then removes the directories (the
/// deepest first), so a failing test leaves nothing behind.
struct Contained {
    child: Child,
    _stdin: ChildStdin,
    dirs: Vec<PathBuf>,
}

impl Contained {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for d in self.dirs.iter().rev() {
            // A reaped process leaves its cgroup at once; retry briefly all the same.
            wait_until(PATIENCE, || std::fs::remove_dir(d).is_ok() || !d.exists());
        }
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Creates `path` below a unique top directory of `hierarchy`; returns every directory made.
fn make_cgroup(hierarchy: &str, top: &str, path: &str) -> Vec<PathBuf> {
    let mut made = Vec::new();
    let mut cur = Path::new(hierarchy).join(top);
    std::fs::create_dir(&cur).unwrap_or_else(|e| panic!("mkdir {}: {e}", cur.display()));
    made.push(cur.clone());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        cur = cur.join(seg);
        std::fs::create_dir(&cur).unwrap_or_else(|e| panic!("mkdir {}: {e}", cur.display()));
        made.push(cur.clone());
    }
    made
}

/// Runs a script named `name` (its comm), holding `fds`, in cgroup `v1` of name=systemd and
/// `v2` of the unified hierarchy (either may be empty for "stay at the root").
fn spawn_in(
    dir: &Path,
    name: &str,
    args: &[&str],
    fds: &[&dyn AsFd],
    v1: &str,
    v2: &str,
) -> Contained {
    let script = dir.join(name);
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // Written under the lock, so no spawn of this file forks while the write fd is open.
        if !script.exists() {
            std::fs::write(&script, "#!/bin/sh\nread x\n").expect("script");
            std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .expect("chmod");
        }
        for fd in fds {
            nix::fcntl::fcntl(
                fd.as_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )
            .expect("clear cloexec");
        }
        // A fork elsewhere in the process (a Command outside the lock) may still hold a copy
        // of the write fd until its exec: the kernel says ETXTBSY until that copy closes.
        let deadline = std::time::Instant::now() + PATIENCE;
        let c = loop {
            match Command::new(&script)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
            {
                Err(e)
                    if e.raw_os_error() == Some(libc_etxtbsy())
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::yield_now()
                }
                r => break r.expect("spawn"),
            }
        };
        for fd in fds {
            nix::fcntl::fcntl(
                fd.as_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .expect("set cloexec");
        }
        c
    };
    let stdin = child.stdin.take().expect("stdin");
    let mut c = Contained {
        child,
        _stdin: stdin,
        dirs: Vec::new(),
    };
    let top = format!(
        "portscope-test-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    for (hier, path) in [(V1, v1), (V2, v2)] {
        if path.is_empty() {
            continue;
        }
        let made = make_cgroup(hier, &top, path);
        let leaf = made.last().expect("leaf").clone();
        c.dirs.extend(made);
        std::fs::write(leaf.join("cgroup.procs"), c.pid().to_string())
            .unwrap_or_else(|e| panic!("move into {}: {e}", leaf.display()));
    }
    c
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    let mut f = std::fs::File::create(&p).expect("create");
    f.write_all(text.as_bytes()).expect("write");
}

/// Docker's own files for a container: config.v2.json and hostconfig.json.
fn docker_state(root: &Path, id: &str, name: &str, ip: &str, bindings: &str, compose: bool) {
    let labels = if compose {
        r#"{"com.docker.compose.project":"app","com.docker.compose.service":"web"}"#
    } else {
        "{}"
    };
    write(
        root,
        &format!("var/lib/docker/containers/{id}/config.v2.json"),
        &format!(
            r#"{{"ID":"{id}","Name":"/{name}","State":{{"Running":true,"Pid":4242}},
"Config":{{"Hostname":"{short}","Labels":{labels}}},
"NetworkSettings":{{"Networks":{{"bridge":{{"IPAddress":"{ip}","GlobalIPv6Address":""}}}},"Ports":{{}}}}}}"#,
            short = &id[..12]
        ),
    );
    write(
        root,
        &format!("var/lib/docker/containers/{id}/hostconfig.json"),
        &format!(r#"{{"NetworkMode":"bridge","PortBindings":{bindings}}}"#),
    );
}

fn cgroups_usable(test: &str) -> bool {
    if !Path::new(V1).join("cgroup.procs").exists() || !Path::new(V2).join("cgroup.procs").exists()
    {
        let msg = format!(
            "SKIPPED {test}: needs the v1 name=systemd hierarchy at {V1} and cgroup2 at {V2}"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        skip_note!("{msg}");
        return false;
    }
    true
}

fn cli(root: &Path, args: &[&str]) -> (i32, String, String) {
    run(portscope().env("PORTSCOPE_RUNTIME_ROOT", root).args(args))
}

fn snapshot(root: &Path) -> Snapshot {
    let (code, out, err) = cli(root, &["snapshot", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("snapshot json")
}

fn why(root: &Path, port: u16) -> Diagnosis {
    let (_, out, err) = cli(root, &["why", &port.to_string(), "--json"]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"))
}

fn listener_of(snap: &Snapshot, port: u16) -> &portscope::model::Socket {
    snap.sockets
        .iter()
        .find(|s| s.local_port == port && s.is_listening())
        .unwrap_or_else(|| panic!("no listener on {port}"))
}

fn label_of(snap: &Snapshot, port: u16) -> String {
    let s = listener_of(snap, port);
    s.owners
        .iter()
        .find_map(|o| o.workload.as_ref().map(|w| w.label.clone()))
        .unwrap_or_else(|| panic!("no workload on {port}: {:?}", s.owners))
}

/// Remedies must never stop a runtime, kubelet or PID 1, nor kill a runtime process.
fn assert_no_runtime_remedy(d: &Diagnosis, runtime_pids: &[u32]) {
    for r in &d.remedies {
        for unit in [
            "docker.service",
            "containerd.service",
            "kubelet.service",
            "crio.service",
        ] {
            assert!(!r.command.contains(unit), "{r:?} stops a runtime");
        }
        for pid in runtime_pids.iter().chain(&[1]) {
            assert_ne!(r.command, format!("kill {pid}"), "{r:?} kills a runtime");
        }
    }
}

fn commands(d: &Diagnosis) -> Vec<&str> {
    d.remedies.iter().map(|r| r.command.as_str()).collect()
}

#[test]
fn docker_proxy_and_dockerd_publish_for_their_container() {
    if !private_netns("containers_docker_published") || !cgroups_usable("containers_docker") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let web = id(0xa1);
    let api = id(0xb2);
    docker_state(
        &root,
        &web,
        "web",
        "172.17.0.2",
        r#"{"80/tcp":[{"HostIp":"","HostPort":"21080"}]}"#,
        true,
    );
    docker_state(
        &root,
        &api,
        "api",
        "172.17.0.3",
        r#"{"8080/tcp":[{"HostIp":"0.0.0.0","HostPort":"21082"}]}"#,
        false,
    );
    let docker_unit = "/system.slice/docker.service";
    // docker-proxy holds the published port 21080 (Docker 28 hands it the listening fd).
    let published = tcp_listen("0.0.0.0:21080");
    let proxy = spawn_in(
        &bin,
        "docker-proxy",
        &[
            "-proto",
            "tcp",
            "-host-ip",
            "0.0.0.0",
            "-host-port",
            "21080",
            "-container-ip",
            "172.17.0.2",
            "-container-port",
            "80",
            "-use-listen-fd",
        ],
        &[&published.as_fd()],
        docker_unit,
        docker_unit,
    );
    // userland-proxy=false: dockerd itself holds 21082 for container api.
    let held = tcp_listen("0.0.0.0:21082");
    let dockerd = spawn_in(
        &bin,
        "dockerd",
        &["-H", "fd://"],
        &[&held.as_fd()],
        docker_unit,
        docker_unit,
    );
    // The container's own process (docker systemd driver), listening on 21081.
    let inner = tcp_listen("0.0.0.0:21081");
    let scope = format!("/system.slice/docker-{web}.scope");
    let payload = spawn_in(&bin, "nginx", &[], &[&inner.as_fd()], &scope, &scope);
    drop((published, held, inner));

    let snap = snapshot(&root);
    assert_eq!(label_of(&snap, 21081), "docker: web (compose app/web)");
    let s = listener_of(&snap, 21080);
    let p = s.published.as_ref().expect("21080 is published");
    assert_eq!(p.describe(), "published by container web (172.17.0.2:80)");
    assert_eq!(
        p.workload.as_ref().and_then(|w| w.name.as_deref()),
        Some("web")
    );
    let p = listener_of(&snap, 21082)
        .published
        .as_ref()
        .expect("21082 is published by dockerd");
    assert_eq!(p.describe(), "published by container api (172.17.0.3:8080)");
    // docker-proxy's own unit is docker.service: a host unit, but a protected one.
    assert!(s.owners.iter().any(
        |o| o.pid == proxy.pid() && o.unit.as_ref().map(|u| u.raw()) == Some("docker.service")
    ));

    let runtime = [proxy.pid(), dockerd.pid()];
    let d = why(&root, 21080);
    assert!(
        d.explanation
            .contains("published by container web (172.17.0.2:80)"),
        "{}",
        d.explanation
    );
    assert!(
        commands(&d).contains(&"docker stop web"),
        "{:?}",
        commands(&d)
    );
    assert_no_runtime_remedy(&d, &runtime);
    let d = why(&root, 21082);
    assert!(
        commands(&d).contains(&"docker stop api"),
        "{:?}",
        commands(&d)
    );
    assert_no_runtime_remedy(&d, &runtime);
    let d = why(&root, 21081);
    assert!(
        commands(&d).contains(&"docker stop web"),
        "{:?}",
        commands(&d)
    );
    assert!(
        commands(&d).contains(&format!("kill {}", payload.pid()).as_str()),
        "the container's own process may be signalled: {:?}",
        commands(&d)
    );
    assert_no_runtime_remedy(&d, &runtime);
    // The text form says the same.
    let (_, out, _) = cli(&root, &["why", "21080"]);
    assert!(out.contains("docker stop web"), "{out}");
    assert!(!out.contains("docker.service\n       $"), "{out}");

    // The K dialog refuses docker-proxy and points at the container.
    let snap = portscope::collect::collect(&Default::default()).expect("collect");
    let sock = snap
        .sockets
        .iter()
        .find(|s| s.local_port == 21080 && s.is_listening())
        .expect("listener");
    let err = portscope::action::plan_signal(
        &snap,
        sock,
        portscope::action::Sig::Term,
        &Default::default(),
    )
    .expect_err("never signal docker-proxy")
    .to_string();
    assert!(
        err.contains("docker-proxy") || err.contains("container"),
        "{err}"
    );
}

#[test]
fn podman_conmon_kubernetes_lxc_and_user_units() {
    if !private_netns("containers_podman_k8s_lxc") || !cgroups_usable("containers_podman") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let db = id(0xc3);
    let app = id(0xd4);
    let uid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    // podman's containers-storage record, and conmon holding the published port (no -n flag:
    // the name must come from containers.json).
    write(
        &root,
        "var/lib/containers/storage/overlay-containers/containers.json",
        &format!(
            r#"[{{"id":"{db}","names":["db"],"image":"x","layer":"y","metadata":"{{\"image-name\":\"postgres\",\"name\":\"db\"}}","created":"2026-01-01T00:00:00Z"}}]"#
        ),
    );
    let pg = tcp_listen("0.0.0.0:21090");
    let conmon = spawn_in(
        &bin,
        "conmon",
        &[
            "--api-version",
            "1",
            "-c",
            &db,
            "-u",
            &db,
            "-r",
            "/usr/bin/crun",
        ],
        &[&pg.as_fd()],
        &format!("/machine.slice/libpod-conmon-{db}.scope"),
        &format!("/machine.slice/libpod-conmon-{db}.scope"),
    );
    // A Kubernetes pod through containerd's CRI plugin, with the bundle's annotations.
    write(
        &root,
        &format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{app}/config.json"),
        &format!(
            r#"{{"ociVersion":"1.1.0","annotations":{{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.container-name":"app","io.kubernetes.cri.sandbox-name":"api-7f9c5d8b6-x2k4p","io.kubernetes.cri.sandbox-namespace":"default","io.kubernetes.cri.sandbox-uid":"{uid}"}}}}"#
        ),
    );
    let k = tcp_listen("0.0.0.0:21091");
    let pod_cg = format!(
        "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{app}.scope",
        uid.replace('-', "_")
    );
    let _pod = spawn_in(&bin, "api-server", &[], &[&k.as_fd()], &pod_cg, &pod_cg);
    // LXC: a unit inside the container is not a host unit.
    let m = tcp_listen("0.0.0.0:21092");
    let lxc_cg = "/lxc.payload.mail/system.slice/postfix.service";
    let _mail = spawn_in(&bin, "master", &[], &[&m.as_fd()], lxc_cg, lxc_cg);
    // A user unit.
    let u = tcp_listen("0.0.0.0:21093");
    let user_cg = "/user.slice/user-0.slice/user@0.service/app.slice/foo.service";
    let _foo = spawn_in(&bin, "foo", &[], &[&u.as_fd()], user_cg, user_cg);
    // Hybrid host: v1 says docker cgroupfs container, 0:: still says containerd.service.
    let h = tcp_listen("0.0.0.0:21094");
    let hid = id(0xe5);
    docker_state(&root, &hid, "legacy", "172.17.0.9", "{}", false);
    let _hy = spawn_in(
        &bin,
        "legacyd",
        &[],
        &[&h.as_fd()],
        &format!("/docker/{hid}"),
        "/system.slice/containerd.service",
    );
    drop((pg, k, m, u, h));

    let snap = snapshot(&root);
    let p = listener_of(&snap, 21090)
        .published
        .as_ref()
        .expect("conmon publishes");
    assert_eq!(p.describe(), "published by container db");
    assert_eq!(
        label_of(&snap, 21091),
        "k8s: default/api-7f9c5d8b6-x2k4p (container app)"
    );
    assert_eq!(label_of(&snap, 21092), "lxc: mail");
    assert_eq!(label_of(&snap, 21094), "docker: legacy");
    let foo = listener_of(&snap, 21093).owners.first().expect("owner");
    assert_eq!(foo.unit, None, "a user unit is not a host unit");
    assert_eq!(
        foo.user_unit.as_ref().map(|u| u.unit.as_str()),
        Some("foo.service")
    );

    let d = why(&root, 21090);
    assert!(
        commands(&d).contains(&"podman stop db"),
        "{:?}",
        commands(&d)
    );
    assert!(!commands(&d).contains(&format!("kill {}", conmon.pid()).as_str()));
    assert_no_runtime_remedy(&d, &[conmon.pid()]);
    let d = why(&root, 21091);
    let c = commands(&d);
    assert!(
        c.contains(&"kubectl -n default delete pod api-7f9c5d8b6-x2k4p"),
        "{c:?}"
    );
    assert!(
        d.remedies
            .iter()
            .any(|r| r.text.contains("Deployment default/api")),
        "{:?}",
        d.remedies
    );
    let d = why(&root, 21092);
    let c = commands(&d);
    assert!(
        c.contains(&"lxc-attach -n mail -- systemctl stop postfix.service"),
        "{c:?}"
    );
    assert!(c.contains(&"lxc-stop -n mail"), "{c:?}");
    assert!(!c.contains(&"systemctl stop postfix.service"), "{c:?}");
    let d = why(&root, 21093);
    let c = commands(&d);
    assert!(
        c.contains(&"systemctl --user -M root@ stop foo.service"),
        "{c:?}"
    );
    assert!(!c.iter().any(|c| c.starts_with("systemctl stop")), "{c:?}");
    let d = why(&root, 21094);
    let c = commands(&d);
    assert!(c.contains(&"docker stop legacy"), "{c:?}");
    assert!(!c.iter().any(|c| c.contains("containerd.service")), "{c:?}");
}

#[test]
fn mount_sources_name_a_container_whose_cgroup_is_hidden() {
    if !private_netns("containers_mountinfo") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let web = id(0xf6);
    docker_state(&root, &web, "hidden-web", "172.17.0.5", "{}", false);
    let hostname = root.join(format!("var/lib/docker/containers/{web}/hostname"));
    std::fs::write(&hostname, "f6f6f6f6f6f6\n").expect("hostname");
    let script = bin.join("nsweb");
    std::fs::write(
        &script,
        "#!/bin/sh\nmount --bind \"$1\" /etc/hostname || exit 1\necho ready\nread x\n",
    )
    .expect("script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let l = tcp_listen("0.0.0.0:21095");
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        nix::fcntl::fcntl(
            l.as_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
        )
        .expect("cloexec");
        let c = Command::new("unshare")
            .args(["-m", "--propagation", "private"])
            .arg(&script)
            .arg(&hostname)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        nix::fcntl::fcntl(
            l.as_fd(),
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .expect("cloexec");
        c
    };
    let _ = l.as_raw_fd();
    drop(l);
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    std::io::BufRead::read_line(&mut out, &mut line).expect("ready");
    let guard = Holder { child };
    assert_eq!(line.trim(), "ready", "the bind mount failed");
    let snap = snapshot(&root);
    assert_eq!(label_of(&snap, 21095), "docker: hidden-web");
    drop(guard);
}

#[test]
fn why_all_netns_names_listeners_inside_containers_and_publishers() {
    if !private_netns("containers_why_all_netns") || !cgroups_usable("containers_why_all") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let web = id(0x17);
    let api = id(0x28);
    let db = id(0x39);
    docker_state(&root, &web, "web", "172.17.0.2", "{}", false);
    docker_state(
        &root,
        &api,
        "api",
        "172.17.0.3",
        r#"{"8080/tcp":[{"HostIp":"","HostPort":"23090"}]}"#,
        false,
    );
    // db publishes 23091 through NAT rules only: no socket anywhere.
    docker_state(
        &root,
        &db,
        "db",
        "172.17.0.4",
        r#"{"5432/tcp":[{"HostIp":"","HostPort":"23091"}]}"#,
        false,
    );
    // web listens on 23090 inside its own network namespace, not published.
    let (bin2, web_scope) = (bin.clone(), format!("/system.slice/docker-{web}.scope"));
    let (web_proc, web_ns) = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
        let l = tcp_listen("0.0.0.0:23090");
        let c = spawn_in(
            &bin2,
            "webserver",
            &[],
            &[&l.as_fd()],
            &web_scope,
            &web_scope,
        );
        let ns = std::fs::metadata("/proc/thread-self/ns/net")
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("ns");
        (c, ns)
    })
    .join()
    .expect("web thread");
    // On the host (the test's namespace), docker-proxy holds 23090 for api.
    let published = tcp_listen("0.0.0.0:23090");
    let unit = "/system.slice/docker.service";
    let proxy = spawn_in(
        &bin,
        "docker-proxy",
        &[
            "-proto",
            "tcp",
            "-host-port",
            "23090",
            "-container-ip",
            "172.17.0.3",
            "-container-port",
            "8080",
        ],
        &[&published.as_fd()],
        unit,
        unit,
    );
    drop(published);

    let (code, out, err) = cli(&root, &["why", "23090", "--all-netns", "--json"]);
    assert_eq!(code, 1, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let found = v["elsewhere"].as_array().expect("elsewhere");
    let kinds: Vec<(&str, &str)> = found
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or(""),
                e["who"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(kinds.contains(&("published", "docker: api")), "{kinds:?}");
    assert!(
        kinds.contains(&("listens_inside", "docker: web")),
        "{kinds:?}"
    );
    assert!(found.iter().any(|e| e["netns"].as_u64() == Some(web_ns)));
    // Holders are only the host's sockets: web's socket in its own namespace is not one.
    let d: Diagnosis = serde_json::from_str(&out).expect("diagnosis");
    assert!(
        d.holders
            .iter()
            .all(|h| h.socket.owners.iter().all(|o| o.pid != web_proc.pid()))
    );
    assert!(
        commands(&d).contains(&"docker stop api"),
        "{:?}",
        commands(&d)
    );
    assert_no_runtime_remedy(&d, &[proxy.pid()]);
    let (_, text, _) = cli(&root, &["why", "23090", "--all-netns"]);
    assert!(text.contains("Other network namespaces"), "{text}");
    assert!(
        text.contains("docker: web listens on tcp 0.0.0.0:23090 in its own"),
        "{text}"
    );

    let (code, out, _) = cli(&root, &["why", "23091", "--all-netns", "--json"]);
    assert_eq!(code, 0, "nothing holds 23091");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["elsewhere"][0]["kind"], "published_nat_only", "{v}");
    assert_eq!(v["elsewhere"][0]["who"], "docker: db");
    // Without --all-netns nothing changes in the JSON.
    let (_, out, _) = cli(&root, &["why", "23091", "--json"]);
    assert!(!out.contains("elsewhere"));
    drop(web_proc);
}

#[test]
fn kube_apiserver_node_port_range_marks_the_map_and_warns_reserve() {
    if !private_netns("containers_node_ports") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    // The namespace's own ephemeral range overlaps the NodePorts (a sysctl of this namespace).
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "31500 60999").expect("sysctl");
    let l = tcp_listen("0.0.0.0:26443");
    let _api = spawn_in(
        &bin,
        "kube-apiserver",
        &[
            "--secure-port=26443",
            "--service-node-port-range=31000-31999",
        ],
        &[&l.as_fd()],
        "",
        "",
    );
    drop(l);
    let root = tmp.path().join("root");
    let snap = snapshot(&root);
    assert_eq!(snap.node_port_range, Some([31000, 31999]));
    let map = portscope::analyze::portmap::PortMap::build(&snap);
    assert_eq!(
        map.class(31000),
        portscope::analyze::portmap::PortClass::NodePort
    );
    let (code, out, err) = cli(&root, &["reserve", "plan", "8080"]);
    assert_eq!(code, 0, "{err}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("NodePort range 31000-31999")
            && flat.contains("portscope reserve apply 31500-31999"),
        "{out}"
    );
}

/// `fix` stops the unit that runs a listener through `systemctl stop` (here a stand-in on PATH
/// that does what systemd would: end the unit's processes), asks for it like a signal (`--yes`
/// alone does not run it), and the kernel's bind succeeds afterwards.
#[test]
fn fix_stops_the_unit_that_runs_the_listener() {
    fix_stops_the_unit(
        "fix_stops_the_unit_that_runs_the_listener",
        21900,
        "",
        |_| {},
    );
}

/// A stop tool that floods its output (200 KB on one line) and leaves a child holding it:
/// `fix` reads as the tool writes, shows a few bounded lines, does not wait for the child, and
/// still reports the stop and the port freed.
#[test]
fn a_noisy_stop_tool_that_leaves_a_child_behind_does_not_hang_fix() {
    fix_stops_the_unit(
        "a_noisy_stop_tool_that_leaves_a_child_behind_does_not_hang_fix",
        21901,
        "head -c 200000 /dev/zero | tr '\\0' x\nsleep 600 &\n",
        |out| {
            let longest = out.lines().map(|l| l.chars().count()).max().unwrap_or(0);
            assert!(longest < 400, "a line of {longest} characters: {out}");
            assert!(out.contains("xxxx…"), "says what was cut: {out}");
            assert!(out.contains("left a process holding its output"), "{out}");
        },
    );
}

fn fix_stops_the_unit(test: &str, port: u16, extra: &str, check: impl FnOnce(&str)) {
    if !private_netns(test) || !cgroups_usable(test) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let l = tcp_listen(&format!("0.0.0.0:{port}"));
    let unit = "/system.slice/webapp.service";
    let svc = spawn_in(tmp.path(), "webapp", &[], &[&l.as_fd()], unit, unit);
    drop(l);
    // The stand-in systemctl: records its arguments, then ends the unit's process.
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).expect("bin");
    let calls = tmp.path().join("calls");
    write_executable(
        &bin.join("systemctl"),
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\n[ \"$1\" = stop ] && kill {}\n{extra}exit 0\n",
            calls.display(),
            svc.pid()
        )
        .as_bytes(),
    );
    // Tools are never found through PATH: the stand-in is named with --tool-path.
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display());
    let d = why(tmp.path(), port);
    assert!(
        commands(&d).contains(&"systemctl stop webapp.service"),
        "{:?}",
        commands(&d)
    );
    let p = port.to_string();
    // --yes alone does not stop a unit.
    let (code, out, err) = run(portscope().env("PORTSCOPE_RUNTIME_ROOT", tmp.path()).args([
        "--tool-path",
        &path,
        "fix",
        &p,
        "--yes",
    ]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(!calls.exists(), "systemctl ran without --kill: {out}");
    let started = std::time::Instant::now();
    let (code, out, err) = run(portscope().env("PORTSCOPE_RUNTIME_ROOT", tmp.path()).args([
        "--tool-path",
        &path,
        "fix",
        &p,
        "--yes",
        "--kill",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        started.elapsed() < Duration::from_secs(100),
        "fix waited for the tool's leftovers: {:?}",
        started.elapsed()
    );
    assert_eq!(
        std::fs::read_to_string(&calls).expect("called").trim(),
        "stop webapp.service"
    );
    check(&format!("{out}{err}"));
    // The kernel's own answer: the service's bind succeeds now.
    assert!(
        std::net::TcpListener::bind(("0.0.0.0", port)).is_ok(),
        "{out}"
    );
    drop(svc);
}

fn libc_etxtbsy() -> i32 {
    nix::errno::Errno::ETXTBSY as i32
}

/// An unprivileged user forges a container's identity: in a user and mount namespace of their
/// own they bind-mount a file named like a runtime's (docker's `containers/<id>/hostname`,
/// podman's or CRI-O's `overlay-containers/<id>/userdata/hostname`) over /etc/hostname, then
/// listen. Root's portscope may show the claim, but never stops the container it names; `fix`
/// acts on the claimant's process, and the runtime's stand-in is never run.
#[test]
fn a_forged_mount_identity_is_a_claim_never_a_stop() {
    const TEST: &str = "a_forged_mount_identity_is_a_claim_never_a_stop";
    if !private_netns(TEST) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let web = id(0xf7);
    // The real container, as root's runtime state records it.
    docker_state(&root, &web, "web", "172.17.0.5", "{}", false);
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let calls = tmp.path().join("runtime-calls");
    for tool in ["docker", "podman", "crictl"] {
        write_executable(
            &bin.join(tool),
            format!("#!/bin/sh\necho {tool} \"$@\" >> {}\n", calls.display()).as_bytes(),
        );
    }
    let forged = [
        (
            21096,
            format!("var/lib/docker/containers/{web}"),
            "claims docker: web",
        ),
        (
            21097,
            format!("var/lib/containers/storage/overlay-containers/{web}/userdata"),
            "claims podman: ",
        ),
    ];
    for (port, dir, want) in forged {
        let forge = format!(
            "mount -t tmpfs none /mnt && mkdir -p /mnt/{dir} && echo x > /mnt/{dir}/hostname && \
             mount --bind /mnt/{dir}/hostname /etc/hostname && echo ready && exec sleep 600"
        );
        let l = tcp_listen(&format!("0.0.0.0:{port}"));
        let mut attacker = spawn_holding(
            Command::new("setpriv")
                .args([
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "unshare",
                    "-Urm",
                ])
                .args(["sh", "-c", &forge])
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::piped()),
            &[&l],
        );
        drop(l);
        let mut line = String::new();
        let mut out = std::io::BufReader::new(attacker.child.stdout.take().expect("stdout"));
        std::io::BufRead::read_line(&mut out, &mut line).expect("ready");
        if line.trim() != "ready" {
            skip(
                TEST,
                "an unprivileged user namespace with mounts is not allowed here",
            );
            return;
        }
        let label = label_of(&snapshot(&root), port);
        assert!(label.starts_with(want), "{label}");
        let d = why(&root, port);
        let c = commands(&d);
        assert!(!c.iter().any(|c| c.contains(" stop ")), "{c:?}");
        let p = port.to_string();
        let (code, out, err) = run(portscope().env("PORTSCOPE_RUNTIME_ROOT", &root).args([
            "--tool-path",
            bin.to_str().expect("utf-8"),
            "fix",
            &p,
            "--yes",
            "--kill",
        ]));
        assert!(!calls.exists(), "a runtime tool ran: {out}{err}");
        assert_eq!(
            code, 0,
            "the claimant's process is what is stopped: {out}{err}"
        );
        assert!(
            wait_until(PATIENCE, || attacker
                .child
                .try_wait()
                .is_ok_and(|s| s.is_some())),
            "the claimant still runs: {out}"
        );
    }
}

/// Rootless Docker state lives in the user's home, which the user controls. A FIFO there never
/// hangs root's snapshot, a link to root's files or a file the user does not own is not read
/// (no name from it), and the user's own file names the container, stopped as that user (the
/// command is shown, never run as root).
#[test]
fn rootless_state_in_a_users_home_is_read_only_as_that_users() {
    const TEST: &str = "rootless_state_in_a_users_home_is_read_only_as_that_users";
    if !private_netns(TEST) || !cgroups_usable(TEST) {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("root");
    let home = root.join("nonexistent/.local/share/docker/containers");
    let config = |id: &str, name: &str| {
        format!(r#"{{"ID":"{id}","Name":"/{name}","State":{{"Running":true}},"Config":{{}}}}"#)
    };
    let (fifo, link, roots, mine) = (id(0xa1), id(0xa2), id(0xa3), id(0xa4));
    for i in [&fifo, &link, &roots, &mine] {
        std::fs::create_dir_all(home.join(i)).expect("mkdir");
    }
    nix::unistd::mkfifo(
        &home.join(&fifo).join("config.v2.json"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .expect("mkfifo");
    let secret = tmp.path().join("root-only.json");
    std::fs::write(&secret, config(&link, "secret")).expect("secret");
    std::os::unix::fs::symlink(&secret, home.join(&link).join("config.v2.json")).expect("link");
    std::fs::write(
        home.join(&roots).join("config.v2.json"),
        config(&roots, "planted"),
    )
    .expect("root's");
    let own = home.join(&mine).join("config.v2.json");
    std::fs::write(&own, config(&mine, "mine")).expect("mine");
    nix::unistd::chown(&own, Some(nix::unistd::Uid::from_raw(65534)), None).expect("chown");

    let mut held = Vec::new();
    for (n, i) in [&fifo, &link, &roots, &mine].into_iter().enumerate() {
        let port = 21110 + n as u16;
        let l = tcp_listen(&format!("0.0.0.0:{port}"));
        let scope =
            format!("/user.slice/user-65534.slice/user@65534.service/app.slice/docker-{i}.scope");
        held.push(spawn_in(
            tmp.path(),
            "rootless",
            &[],
            &[&l.as_fd()],
            &scope,
            &scope,
        ));
    }
    // Bounded: a FIFO read would block for ever.
    let (code, out, err) = run(Command::new("timeout")
        .args(["60", env!("CARGO_BIN_EXE_portscope"), "snapshot", "--json"])
        .env("PORTSCOPE_RUNTIME_ROOT", &root));
    assert_eq!(code, 0, "snapshot did not finish: {err}");
    let snap: Snapshot = serde_json::from_str(&out).expect("json");
    let names: Vec<String> = (0..4).map(|n| label_of(&snap, 21110 + n)).collect();
    assert!(
        !names[0].contains("web") && names[0].starts_with("docker: "),
        "{names:?}"
    );
    assert!(
        !names[1].contains("secret"),
        "a link to root's file was read: {names:?}"
    );
    assert!(
        !names[2].contains("planted"),
        "a file not the user's was read: {names:?}"
    );
    assert_eq!(names[3], "docker: mine", "{names:?}");
    let d = why(&root, 21113);
    let c = commands(&d);
    assert!(c.contains(&"sudo -iu nobody docker stop mine"), "{c:?}");
    drop(held);
}
