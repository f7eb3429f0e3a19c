//! All-namespace listener view: `portscope snapshot --all-netns --listening` against a loop of
//! `nsenter -t PID -n ss -tlnup` over the same namespaces, on a host where another namespace
//! holds many connections (every all-states TCP dump walks the host-wide established hash);
//! wall time, CPU and peak RSS of each.
//!
//!     cargo bench --bench allns                         # 100 namespaces x 50 sockets, 100k conns
//!     cargo bench --bench allns -- --ns 100 --per 50 --conns 100000 --runs 3
//!     cargo bench --bench allns -- --ns 10000 --per 5 --per-holder 100 --conns 0 --runs 1 --no-ss
//!
//! `--per-holder K` makes each holder process create K namespaces (reached through the nsfs
//! descriptors it holds, as a runtime does) instead of living in one: thousands of namespaces
//! without thousands of processes. The `ss` loop needs a process per namespace, so it runs only
//! with K = 1 and without `--no-ss` (at 1,000 namespaces it takes about 15 minutes).
//!
//! Needs root (it creates namespaces); otherwise it says so and exits. Not a timed test: it
//! prints a table for the README.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

#[path = "fill.rs"]
mod fill;
#[path = "measure.rs"]
mod measure;

use nix::sched::{CloneFlags, unshare};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::process::ExitCode;

/// `--ns-child N [K]`: K (default 1) fresh network namespaces with N sockets each (4/5 TCP
/// listeners, 1/5 UDP). With K > 1 each namespace is also held by an nsfs descriptor, which is
/// how portscope finds a namespace no process lives in.
fn ns_child(n: usize, k: usize) -> ExitCode {
    let _ = nix::sys::resource::setrlimit(
        nix::sys::resource::Resource::RLIMIT_NOFILE,
        1 << 20,
        1 << 20,
    );
    let mut keep_tcp = Vec::new();
    let mut keep_udp = Vec::new();
    let mut keep_ns = Vec::new();
    for _ in 0..k {
        unshare(CloneFlags::CLONE_NEWNET).expect("unshare");
        if k > 1 {
            keep_ns.push(std::fs::File::open("/proc/thread-self/ns/net").expect("nsfs"));
        }
        let tcp = n * 4 / 5;
        for i in 0..tcp {
            keep_tcp
                .push(TcpListener::bind((Ipv4Addr::UNSPECIFIED, 8000 + i as u16)).expect("listen"));
        }
        for i in 0..n - tcp {
            keep_udp.push(UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 9000 + i as u16)).expect("udp"));
        }
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop((keep_tcp, keep_udp, keep_ns));
    ExitCode::SUCCESS
}

/// (wall ms, cpu ms, peak RSS MB) of one run, children included.
fn measure(me: &str, cmd: &[&str]) -> (f64, f64, f64) {
    let m = measure::run(me, cmd);
    (m.wall_ms, m.cpu_ms, m.rss_mb)
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
        Some("--ns-child") => {
            let k = args.get(2).map_or(1, |k| k.parse().expect("k"));
            return ns_child(args[1].parse().expect("n"), k);
        }
        _ => {}
    }
    if !nix::unistd::geteuid().is_root() {
        println!("benchmark skipped: needs root to create network namespaces");
        return ExitCode::SUCCESS;
    }
    let (mut namespaces, mut per, mut conns, mut runs) = (100usize, 50usize, 100_000usize, 3usize);
    let (mut per_holder, mut no_ss) = (1usize, false);
    let mut it = args.iter().filter(|a| *a != "--bench");
    while let Some(a) = it.next() {
        if a == "--no-ss" {
            no_ss = true;
            continue;
        }
        let mut val = || it.next().and_then(|v| v.parse().ok()).expect("a number");
        match a.as_str() {
            "--ns" => namespaces = val(),
            "--per" => per = val(),
            "--conns" => conns = val(),
            "--runs" => runs = val(),
            "--per-holder" => per_holder = val(),
            other => panic!("unknown argument {other}"),
        }
    }
    let per_holder = per_holder.max(1);
    let me_path = std::env::current_exe().expect("self");
    let me = me_path.to_str().expect("utf-8 path").to_string();
    let portscope = env!("CARGO_BIN_EXE_portscope");
    // The crowd: `conns` sockets (mostly established pairs) in a namespace of their own.
    let me2 = me.clone();
    let crowd = std::thread::spawn(move || fill::fill(&me2, conns, 20))
        .join()
        .expect("fill");
    let holders = namespaces.div_ceil(per_holder);
    let held = fill::spawn_ready(
        &me,
        (0..holders).map(|h| {
            let k = per_holder.min(namespaces - h * per_holder);
            vec!["--ns-child".to_string(), per.to_string(), k.to_string()]
        }),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{namespaces} namespaces x {per} sockets ({per_holder} per holder process), {conns} sockets in another namespace, {cores} cores, kernel {}, median of {runs}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    let med = |v: &[(f64, f64, f64)]| {
        (
            median(v.iter().map(|s| s.0).collect()),
            median(v.iter().map(|s| s.1).collect()),
            median(v.iter().map(|s| s.2).collect()),
        )
    };
    let ps: Vec<_> = (0..runs)
        .map(|_| measure(&me, &[portscope, "snapshot", "--all-netns", "--listening"]))
        .collect();
    let (ps_wall, ps_cpu, ps_rss) = med(&ps);
    println!("| view | wall ms | cpu ms | peak MB |");
    println!("|---|---:|---:|---:|");
    if per_holder == 1 && !no_ss {
        let pids: Vec<String> = held.children.iter().map(|c| c.id().to_string()).collect();
        let script = format!(
            "for p in {}; do nsenter -t $p -n ss -tlnup; done",
            pids.join(" ")
        );
        let ss: Vec<_> = (0..runs)
            .map(|_| measure(&me, &["sh", "-c", &script]))
            .collect();
        let (ss_wall, ss_cpu, ss_rss) = med(&ss);
        println!(
            "| `nsenter -t PID -n ss -tlnup`, one per namespace | {ss_wall:.0} | {ss_cpu:.0} | {ss_rss:.1} |"
        );
        println!(
            "| `portscope snapshot --all-netns --listening` | {ps_wall:.0} | {ps_cpu:.0} | {ps_rss:.1} |"
        );
        println!(
            "| ratio (portscope / ss loop) | {:.3}x | {:.3}x | |",
            ps_wall / ss_wall,
            ps_cpu / ss_cpu
        );
    } else {
        println!(
            "| `portscope snapshot --all-netns --listening` | {ps_wall:.0} | {ps_cpu:.0} | {ps_rss:.1} |"
        );
    }
    drop((held, crowd));
    ExitCode::SUCCESS
}
