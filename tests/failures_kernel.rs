//! `portscope watch --failures`, the flight recorder, against the real kernel: refused binds
//! and connects made in private network namespaces by real sockets, each recorded once with
//! the right caller, request, errno and holders (the holders compared with `ss`), inside a fake
//! container attributed to it, and kept in the history log.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

mod common;

use common::sockets::{Opts, tcp_bind, tcp_listen_with};
use common::{PATIENCE, SPAWN_LOCK, portscope, private_netns, run, skip};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

/// A running `portscope watch --failures ... --json`, its lines on a channel.
struct Recorder {
    child: Child,
    lines: Receiver<Value>,
    source: Value,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Recorder {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Recorder {
        let mut cmd = portscope();
        cmd.args(["watch", "--failures", "--json", "--for", "300s"])
            .args(args)
            .envs(env.iter().copied());
        Recorder::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Recorder {
        let mut child = {
            let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        };
        let out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let source = rx.recv_timeout(PATIENCE).expect("no source line");
        assert_eq!(source["type"], "source", "{source}");
        Recorder {
            child,
            lines: rx,
            source,
        }
    }

    fn bpf_or_skip(&self, test: &str) -> bool {
        if self.source["source"] == "bpf" {
            return true;
        }
        skip(test, &format!("BPF unavailable: {}", self.source["notes"]));
        false
    }

    /// Refusal events until `done` holds or the deadline passes; fails on a `lost` record.
    fn until(&self, mut done: impl FnMut(&[Value]) -> bool) -> Vec<Value> {
        let end = Instant::now() + PATIENCE;
        let mut got = Vec::new();
        while !done(&got) {
            match self
                .lines
                .recv_timeout(end.saturating_duration_since(Instant::now()))
            {
                Ok(v) if v["type"] == "event" => got.push(v),
                Ok(v) => panic!("unexpected record: {v}"),
                Err(_) => break,
            }
        }
        got
    }
}

fn thread_netns() -> u64 {
    std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino()
}

fn gettid() -> u32 {
    nix::unistd::gettid().as_raw() as u32
}

/// Events of this thread's calls on `port`.
fn mine(evs: &[Value], tid: u32, port: u16) -> Vec<&Value> {
    evs.iter()
        .filter(|e| e["tid"] == tid && e["request"]["port"] == port)
        .collect()
}

/// `ss`'s sockets on the port in this thread's namespace: "STATE local" pairs, sorted.
fn ss_on(port: u16) -> Vec<String> {
    let (code, out, err) =
        run(Command::new("ss").args(["-Htan", "state", "all", "sport", "=", &format!(":{port}")]));
    assert_eq!(code, 0, "ss: {err}");
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4).then(|| format!("{} {}", f[0], f[3]))
        })
        .collect();
    v.sort();
    v
}

fn holders_of(e: &Value) -> Vec<String> {
    let mut v: Vec<String> = e["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let addr: IpAddr = h["local_addr"].as_str().unwrap().parse().unwrap();
            let local = match addr {
                IpAddr::V4(a) => format!("{a}:{}", h["local_port"]),
                IpAddr::V6(a) if a.is_unspecified() => format!("*:{}", h["local_port"]),
                IpAddr::V6(a) => format!("[{a}]:{}", h["local_port"]),
            };
            // ss's spelling of states and of [::]:P (as *:P).
            let st = match h["state"].as_str().unwrap() {
                "ESTABLISHED" => "ESTAB".to_string(),
                s => s.replace('_', "-"),
            };
            format!("{st} {local}")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn refused_binds_are_recorded_once_with_caller_request_and_the_holders_ss_shows() {
    let test = "refused_binds_are_recorded_once_with_caller_request_and_the_holders_ss_shows";
    if !private_netns(test) {
        return;
    }
    let (p_listen, p_tw, p_dual) = (47901, 47902, 47903);
    let rec = Recorder::start(
        &[&format!("{p_listen},{p_tw},{p_dual}"), "--proto", "tcp"],
        &[],
    );
    if !rec.bpf_or_skip(test) {
        return;
    }
    let me = std::process::id();
    let tid = gettid();
    let ns = thread_netns();
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let any4: IpAddr = "0.0.0.0".parse().unwrap();
    let any6: IpAddr = "::".parse().unwrap();

    // 1. Two listeners: a plain second bind to a listened port.
    let _l = tcp_listen_with(lo, p_listen, Opts::default());
    assert!(tcp_bind(any4, p_listen, Opts::default()).is_err());
    // 2. TIME_WAIT: a connection closed first by our side of it, then a bind without
    //    SO_REUSEADDR.
    {
        let l = tcp_listen_with(lo, p_tw, Opts::default());
        let l = std::net::TcpListener::from(l);
        common::make_time_wait(&l);
    }
    assert!(tcp_bind(lo, p_tw, Opts::default()).is_err());
    // 3. Dual-stack overlap: [::]:P without V6ONLY takes the IPv4 port too.
    let _d = tcp_listen_with(any6, p_dual, Opts::default());
    assert!(
        tcp_bind(
            any4,
            p_dual,
            Opts {
                reuseaddr: true,
                ..Opts::default()
            }
        )
        .is_err()
    );

    let ss = (ss_on(p_listen), ss_on(p_tw), ss_on(p_dual));
    let evs = rec.until(|e| {
        [p_listen, p_tw, p_dual]
            .iter()
            .all(|&p| !mine(e, tid, p).is_empty())
    });
    for (port, want_ss) in [(p_listen, &ss.0), (p_tw, &ss.1), (p_dual, &ss.2)] {
        let got = mine(&evs, tid, port);
        assert_eq!(got.len(), 1, "port {port} recorded once: {evs:#?}");
        let e = got[0];
        assert_eq!(e["event"], "refused", "{e}");
        assert_eq!(e["call"], "bind", "{e}");
        assert_eq!(e["errno"], "EADDRINUSE", "{e}");
        assert_eq!(e["pid"], me, "{e}");
        assert_eq!(e["owner"]["pid"], me, "{e}");
        assert_eq!(e["netns"], ns, "the caller's namespace: {e}");
        assert_eq!(e["request"]["proto"], "tcp", "{e}");
        assert_eq!(e["request"]["options"]["known"], true, "{e}");
        assert_eq!(holders_of(e), *want_ss, "holders as ss shows them: {e}");
    }
    let l = mine(&evs, tid, p_listen)[0];
    assert_eq!(l["request"]["address"], "0.0.0.0");
    assert_eq!(l["request"]["options"]["reuseaddr"], false);
    assert_eq!(l["holders"][0]["owner"]["pid"], me, "{l}");
    let tw = mine(&evs, tid, p_tw)[0];
    assert!(
        tw["holders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["state"] == "TIME_WAIT"),
        "{tw}"
    );
    assert!(tw["why"].as_str().unwrap().contains("TIME_WAIT"), "{tw}");
    assert!(tw["why"].as_str().unwrap().contains("SO_REUSEADDR"), "{tw}");
    let d = mine(&evs, tid, p_dual)[0];
    assert_eq!(d["request"]["options"]["reuseaddr"], true, "{d}");
    assert!(d["why"].as_str().unwrap().contains("IPV6_V6ONLY"), "{d}");
}

#[test]
fn eacces_names_the_namespaces_line_and_the_missing_capability() {
    let test = "eacces_names_the_namespaces_line_and_the_missing_capability";
    if !private_netns(test) {
        return;
    }
    // This namespace's own line, above the host's 1024: the answer must be read here.
    std::fs::write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "2000").unwrap();
    let port = 1500;
    let rec = Recorder::start(&[&port.to_string()], &[]);
    if !rec.bpf_or_skip(test) {
        return;
    }
    // A caller running as uid 65534 (its capabilities cleared by the change from root), kept
    // alive until the refusal is seen, as a service that logs its error would be.
    let Some(python) = ["/usr/bin/python3", "/bin/python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        skip(test, "needs /usr/bin/python3 to bind as another user");
        return;
    };
    let script = format!(
        "import socket,sys\ns=socket.socket()\ntry:\n  s.bind(('0.0.0.0',{port}))\n  print('bound')\nexcept OSError as e:\n  print(e.errno)\nsys.stdout.flush()\nsys.stdin.read()\n"
    );
    let mut child = {
        let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Command::new(python)
            .args(["-c", &script])
            .uid(65534)
            .gid(65534)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut said = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said.trim(), nix::libc::EACCES.to_string(), "bind as nobody");
    let pid = child.id();
    let evs = rec.until(|e| e.iter().any(|x| x["pid"] == pid));
    drop(child.stdin.take());
    let _ = child.wait();
    let got: Vec<&Value> = evs.iter().filter(|x| x["pid"] == pid).collect();
    assert_eq!(got.len(), 1, "{evs:#?}");
    let e = got[0];
    assert_eq!(e["errno"], "EACCES", "{e}");
    assert_eq!(e["uid"], 65534, "{e}");
    assert_eq!(e["privilege"]["unprivileged_port_start"], 2000, "{e}");
    assert_eq!(e["privilege"]["cap_net_bind_service"], false, "{e}");
    assert!(
        e["why"].as_str().unwrap().contains("CAP_NET_BIND_SERVICE"),
        "{e}"
    );
}

#[test]
fn connect_exhaustion_toward_one_destination_is_recorded_with_its_use() {
    let test = "connect_exhaustion_toward_one_destination_is_recorded_with_its_use";
    if !private_netns(test) {
        return;
    }
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "41000 41003").unwrap();
    let port = 47905;
    let rec = Recorder::start(&[&port.to_string()], &[]);
    if !rec.bpf_or_skip(test) {
        return;
    }
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..6 {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => held.push(c),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(nix::libc::EADDRNOTAVAIL), "{e}");
                refused += 1;
            }
        }
    }
    assert!(refused >= 1, "the range must run out");
    let tid = gettid();
    let evs = rec.until(|e| mine(e, tid, port).len() >= refused);
    let got = mine(&evs, tid, port);
    assert_eq!(got.len(), refused, "each refused connect once: {evs:#?}");
    for e in got {
        assert_eq!(e["call"], "connect", "{e}");
        assert_eq!(e["errno"], "EADDRNOTAVAIL", "{e}");
        assert_eq!(e["request"]["address"], "127.0.0.1", "{e}");
        assert_eq!(e["destination"]["in_use"], held.len(), "{e}");
        assert_eq!(e["destination"]["available"], 0, "{e}");
        assert!(
            e["why"].as_str().unwrap().contains("no local port left"),
            "{e}"
        );
    }
    drop(l);
}

/// A fake Docker container: a cgroup directory named as Docker names its scopes and Docker's
/// own state file under a temporary data root. Removed on drop, even when the test fails.
struct FakeContainer {
    dirs: Vec<std::path::PathBuf>,
    root: tempfile::TempDir,
    id: String,
}

impl FakeContainer {
    fn new(test: &str, name: &str) -> Option<FakeContainer> {
        let v2 = std::path::Path::new("/sys/fs/cgroup/unified");
        if !v2.join("cgroup.procs").exists() {
            skip(test, "needs cgroup2 at /sys/fs/cgroup/unified");
            return None;
        }
        let id = "5e".repeat(32);
        let top = v2.join(format!("portscope-test-{}-failures", std::process::id()));
        let slice = top.join("system.slice");
        let scope = slice.join(format!("docker-{id}.scope"));
        let mut dirs = Vec::new();
        for d in [&top, &slice, &scope] {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
            dirs.push(d.clone());
        }
        let root = tempfile::tempdir().unwrap();
        let state = root.path().join(format!("var/lib/docker/containers/{id}"));
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(
            state.join("config.v2.json"),
            format!(
                r#"{{"ID":"{id}","Name":"/{name}","State":{{"Running":true,"Pid":4242}},"Config":{{"Hostname":"{}","Labels":{{}}}},"NetworkSettings":{{"Networks":{{}},"Ports":{{}}}}}}"#,
                &id[..12]
            ),
        )
        .unwrap();
        std::fs::write(
            state.join("hostconfig.json"),
            r#"{"NetworkMode":"bridge","PortBindings":{}}"#,
        )
        .unwrap();
        Some(FakeContainer { dirs, root, id })
    }

    fn enter(&self, pid: u32) {
        let leaf = self.dirs.last().unwrap();
        std::fs::write(leaf.join("cgroup.procs"), pid.to_string()).unwrap();
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        for d in self.dirs.iter().rev() {
            common::wait_until(PATIENCE, || std::fs::remove_dir(d).is_ok() || !d.exists());
        }
    }
}

/// A python caller that binds `port` when told to (a line on stdin), says the errno, and
/// stays until its stdin closes.
fn caller(test: &str, port: u16) -> Option<Child> {
    let Some(python) = ["/usr/bin/python3", "/bin/python3"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        skip(test, "needs /usr/bin/python3 as the refused caller");
        return None;
    };
    let script = format!(
        "import socket,sys\nsys.stdin.readline()\ns=socket.socket()\ntry:\n  s.bind(('0.0.0.0',{port}))\n  print('bound')\nexcept OSError as e:\n  print(e.errno)\nsys.stdout.flush()\nsys.stdin.read()\n"
    );
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    Some(
        Command::new(python)
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

#[test]
fn a_refusal_inside_a_container_is_attributed_to_it_and_kept_in_the_history_log() {
    let test = "a_refusal_inside_a_container_is_attributed_to_it_and_kept_in_the_history_log";
    if !private_netns(test) {
        return;
    }
    let Some(ct) = FakeContainer::new(test, "web-1") else {
        return;
    };
    let port = 47907;
    let log = tempfile::tempdir().unwrap();
    let log_path = log.path().join("failures.log");
    let root = ct.root.path().to_str().unwrap().to_string();
    let rec = Recorder::start(
        &[&port.to_string(), "--record", log_path.to_str().unwrap()],
        &[("PORTSCOPE_RUNTIME_ROOT", &root)],
    );
    if !rec.bpf_or_skip(test) {
        return;
    }
    let _l = tcp_listen_with("127.0.0.1".parse().unwrap(), port, Opts::default());
    let Some(mut child) = caller(test, port) else {
        return;
    };
    let pid = child.id();
    ct.enter(pid);
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"go\n").unwrap();
    let mut said = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said.trim(), nix::libc::EADDRINUSE.to_string());
    let evs = rec.until(|e| e.iter().any(|x| x["pid"] == pid));
    drop(stdin);
    let _ = child.wait();
    let got: Vec<&Value> = evs.iter().filter(|x| x["pid"] == pid).collect();
    assert_eq!(got.len(), 1, "{evs:#?}");
    let e = got[0];
    let tag = e["owner"]["container"].as_str().unwrap_or_default();
    assert!(
        tag.contains(&ct.id[..12]),
        "attributed to the container: {e}"
    );
    assert_eq!(e["owner"]["workload"]["name"], "web-1", "{e}");
    assert_eq!(e["netns"], thread_netns(), "{e}");
    drop(rec); // ends the recorder; its log is synced on exit

    // The log keeps the refusal with its holder; history lists it and shows it around --at.
    let (code, out, err) = run(portscope().args([
        "history",
        log_path.to_str().unwrap(),
        "--failures",
        "--port",
        &port.to_string(),
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let kept = doc["refused"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{doc}");
    assert_eq!(kept[0]["pid"], pid);
    assert_eq!(kept[0]["holders"][0]["state"], "LISTEN");
    let at = e["time"].as_str().unwrap();
    let (code, out, err) = run(portscope().args([
        "history",
        log_path.to_str().unwrap(),
        "--port",
        &port.to_string(),
        "--at",
        at,
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("refused bind() EADDRINUSE"), "{out}");
    assert!(out.contains(&format!("pid {pid}")), "{out}");
}

/// A setting of the shipped recorder unit.
fn unit_setting(unit: &str, key: &str) -> Option<String> {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim().to_string())
}

#[test]
fn the_recorder_unit_is_hardened_and_records_with_only_its_capabilities() {
    let test = "the_recorder_unit_is_hardened_and_records_with_only_its_capabilities";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/systemd/portscope-recorder.service");
    let unit = std::fs::read_to_string(&path).unwrap();
    for (k, v) in [
        ("ProtectSystem", "strict"),
        ("NoNewPrivileges", "yes"),
        ("StateDirectory", "portscope"),
        ("ReadWritePaths", "/var/lib/portscope"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(unit_setting(&unit, k).as_deref(), Some(v), "{k} in {unit}");
    }
    let exec = unit_setting(&unit, "ExecStart").unwrap();
    let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
    for want in [
        "--failures",
        "--record-max-mb",
        "--record-max-age",
        "--record-keep",
    ] {
        assert!(args.contains(&want), "{exec}");
    }
    let caps = unit_setting(&unit, "CapabilityBoundingSet").unwrap();
    // Where systemd's own judge is installed, its verdict on the unit as shipped.
    if let Ok(out) = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&path)
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        let score: f64 = text
            .lines()
            .find_map(|l| l.split("exposure level for ").nth(1))
            .and_then(|l| l.split(": ").nth(1))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level: {text}"));
        assert!(score <= 5.0, "exposure {score}: {text}");
    }
    if !private_netns(test) {
        return;
    }
    // The unit's command, with exactly the unit's capabilities (root's others dropped from
    // the bounding set, as systemd does), records a refusal with its holder.
    let bounding: Vec<String> = caps
        .split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect();
    let port = 47909;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("failures.log");
    let mut cmd_args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let at = cmd_args.iter().position(|a| a == "--record").unwrap();
    cmd_args[at + 1] = log.to_str().unwrap().to_string();
    let mut cmd = Command::new("setpriv");
    cmd.arg(format!("--bounding-set=-all,{}", bounding.join(",")))
        .arg("--no-new-privs")
        .arg(env!("CARGO_BIN_EXE_portscope"))
        .args(&cmd_args)
        .args([&port.to_string(), "--json", "--for", "300s"]);
    let rec = Recorder::spawn(cmd);
    if !rec.bpf_or_skip(test) {
        return;
    }
    let _l = tcp_listen_with("127.0.0.1".parse().unwrap(), port, Opts::default());
    assert!(tcp_bind("127.0.0.1".parse().unwrap(), port, Opts::default()).is_err());
    let me = std::process::id();
    let evs = rec.until(|e| e.iter().any(|x| x["pid"] == me));
    drop(rec);
    let event = evs.iter().find(|x| x["pid"] == me).expect("the refusal");
    assert_eq!(event["errno"], "EADDRINUSE", "{event}");
    assert_eq!(event["holders"][0]["state"], "LISTEN", "{event}");
    assert_eq!(event["holders"][0]["owner"]["pid"], me, "{event}");
    let kept = portscope::history::log::read(&log).unwrap();
    assert_eq!(kept.refused.len(), 1);
}

#[test]
fn without_bpf_the_first_line_says_so_and_refusals_still_name_caller_and_errno() {
    let test = "without_bpf_the_first_line_says_so_and_refusals_still_name_caller_and_errno";
    if !private_netns(test) {
        return;
    }
    // A full recorder beside it: its BPF programs on the same tracepoints must not hide the
    // event from other perf users (a program's 0 would drop it for all of them).
    let beside = Recorder::start(&["47911"], &[]);
    if !beside.bpf_or_skip(test) {
        return;
    }
    // Perf allowed, BPF not: root's other capabilities dropped, CAP_BPF among them.
    let mut cmd = Command::new("setpriv");
    cmd.arg("--bounding-set=-all,+perfmon,+sys_ptrace,+dac_read_search")
        .arg("--no-new-privs")
        .arg(env!("CARGO_BIN_EXE_portscope"))
        .args(["watch", "--failures", "--json", "--for", "300s"]);
    let rec = Recorder::spawn(cmd);
    assert_eq!(rec.source["source"], "tracepoint", "{}", rec.source);
    let notes = rec.source["notes"].to_string();
    assert!(
        notes.contains("no BPF"),
        "the first line says what is missing: {notes}"
    );
    let port = 47911;
    let _l = tcp_listen_with("127.0.0.1".parse().unwrap(), port, Opts::default());
    assert!(tcp_bind("127.0.0.1".parse().unwrap(), port, Opts::default()).is_err());
    let tid = gettid();
    let evs = rec.until(|e| e.iter().any(|x| x["tid"] == tid));
    let e = evs
        .iter()
        .find(|x| x["tid"] == tid)
        .unwrap_or_else(|| panic!("no refusal of thread {tid}: {evs:#?}"));
    assert_eq!(e["call"], "bind", "{e}");
    assert_eq!(e["errno"], "EADDRINUSE", "{e}");
    assert_eq!(e["pid"], std::process::id(), "{e}");
    assert!(
        e["request"].is_null(),
        "the address is not visible without BPF: {e}"
    );
}
