//! All-namespace listener view: `portscope snapshot --all-netns --listening` against a loop of
//! `nsenter -t PID -n ss -tlnup` over the same namespaces, on a host where another namespace
//! holds many connections (every all-states TCP dump walks the host-wide established hash).
//!
//!     cargo bench --bench allns                         # 100 namespaces x 50 sockets, 100k conns
//!     cargo bench --bench allns -- --ns 100 --per 50 --conns 100000 --runs 3
//!
//! Needs root (it creates namespaces); otherwise it says so and exits. Not a timed test: it
//! prints a table for the README.
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

#[path = "fill.rs"]
mod fill;
#[path = "measure.rs"]
mod measure;

use nix::sched::{CloneFlags, unshare};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::process::ExitCode;

/// `--ns-child N`: a fresh network namespace with N sockets (4/5 TCP listeners, 1/5 UDP).
fn ns_child(n: usize) -> ExitCode {
    unshare(CloneFlags::CLONE_NEWNET).expect("unshare");
    let tcp = n * 4 / 5;
    let mut keep_tcp = Vec::new();
    let mut keep_udp = Vec::new();
    for i in 0..tcp {
        keep_tcp.push(TcpListener::bind((Ipv4Addr::UNSPECIFIED, 8000 + i as u16)).expect("listen"));
    }
    for i in 0..n - tcp {
        keep_udp.push(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 9000 + i as u16)).expect("udp"));
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop((keep_tcp, keep_udp));
    ExitCode::SUCCESS
}

/// (wall ms, cpu ms) of one run, children included.
fn measure(me: &str, cmd: &[&str]) -> (f64, f64) {
    let m = measure::run(me, cmd);
    (m.wall_ms, m.cpu_ms)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--measure") => return measure::measure_mode(&args[1..]),
        Some("--child") => {
            return fill::child_mode(args[1].parse().expect("n"), args[2].parse().expect("i"));
        }
        Some("--ns-child") => return ns_child(args[1].parse().expect("n")),
        _ => {}
    }
    if !nix::unistd::geteuid().is_root() {
        println!("benchmark skipped: needs root to create network namespaces");
        return ExitCode::SUCCESS;
    }
    let (mut namespaces, mut per, mut conns, mut runs) = (100usize, 50usize, 100_000usize, 3usize);
    let mut it = args.iter().filter(|a| *a != "--bench");
    while let Some(a) = it.next() {
        let mut val = || it.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--ns" => namespaces = val(),
            "--per" => per = val(),
            "--conns" => conns = val(),
            "--runs" => runs = val(),
            other => panic!("unknown argument {other}"),
        }
    }
    let me_path = std::env::current_exe().expect("self");
    let me = me_path.to_str().expect("utf-8 path").to_string();
    let portscope = env!("CARGO_BIN_EXE_portscope");
    // The crowd: `conns` sockets (mostly established pairs) in a namespace of their own.
    let me2 = me.clone();
    let crowd = std::thread::spawn(move || fill::fill(&me2, conns, 20))
        .join()
        .expect("fill");
    let held = fill::spawn_ready(
        &me,
        (0..namespaces).map(|_| vec!["--ns-child".to_string(), per.to_string()]),
    );
    let pids: Vec<String> = held.children.iter().map(|c| c.id().to_string()).collect();
    let script = format!(
        "for p in {}; do nsenter -t $p -n ss -tlnup; done",
        pids.join(" ")
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{namespaces} namespaces x {per} sockets, {conns} sockets in another namespace, {cores} cores, kernel {}, median of {runs}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    let ss: Vec<(f64, f64)> = (0..runs)
        .map(|_| measure(&me, &["sh", "-c", &script]))
        .collect();
    let ps: Vec<(f64, f64)> = (0..runs)
        .map(|_| measure(&me, &[portscope, "snapshot", "--all-netns", "--listening"]))
        .collect();
    let (ss_wall, ss_cpu) = (
        median(ss.iter().map(|s| s.0).collect()),
        median(ss.iter().map(|s| s.1).collect()),
    );
    let (ps_wall, ps_cpu) = (
        median(ps.iter().map(|s| s.0).collect()),
        median(ps.iter().map(|s| s.1).collect()),
    );
    println!("| view | wall ms | cpu ms |");
    println!("|---|---:|---:|");
    println!("| `nsenter -t PID -n ss -tlnup`, one per namespace | {ss_wall:.0} | {ss_cpu:.0} |");
    println!("| `portscope snapshot --all-netns --listening` | {ps_wall:.0} | {ps_cpu:.0} |");
    println!(
        "| ratio (portscope / ss loop) | {:.3}x | {:.3}x |",
        ps_wall / ss_wall,
        ps_cpu / ss_cpu
    );
    drop((held, crowd));
    ExitCode::SUCCESS
}
