//! Snapshot benchmark: `portscope snapshot` (every socket with owners) beside `ss -tanup` on the
//! same private network namespace, filled with N sockets spread over P processes.
//!
//!     cargo bench --bench snapshot                      # N = 1k, 10k, 100k, 300k; P = 100
//!     cargo bench --bench snapshot -- 100000 --procs 100 --runs 5
//!
//! Needs root (it creates a network namespace); otherwise it says so and exits. Each command runs
//! under a small wrapper process whose getrusage(RUSAGE_CHILDREN) gives exactly that command's
//! CPU time and peak RSS. Both tools write their full table to /dev/null.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there

#[path = "fill.rs"]
mod fill;
#[path = "measure.rs"]
mod measure;

use std::process::ExitCode;

struct Sample {
    wall_ms: f64,
    cpu_ms: f64,
    rss_mb: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run_measured(me: &str, cmd: &[&str]) -> Sample {
    let m = measure::run(me, cmd);
    Sample {
        wall_ms: m.wall_ms,
        cpu_ms: m.cpu_ms,
        rss_mb: m.rss_mb,
    }
}

fn med(me: &str, cmd: &[&str], runs: usize) -> Sample {
    let s: Vec<Sample> = (0..runs).map(|_| run_measured(me, cmd)).collect();
    Sample {
        wall_ms: median(s.iter().map(|x| x.wall_ms).collect()),
        cpu_ms: median(s.iter().map(|x| x.cpu_ms).collect()),
        rss_mb: median(s.iter().map(|x| x.rss_mb).collect()),
    }
}

fn count_sockets() -> usize {
    let snap = portscope::collect::collect(&portscope::collect::CollectOptions {
        skip_owners: true,
        ..Default::default()
    })
    .expect("snapshot");
    snap.sockets.len()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--measure") {
        return measure::measure_mode(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--child") {
        let n = args[1].parse().expect("n");
        let i = args[2].parse().expect("index");
        return fill::child_mode(n, i);
    }
    if !nix::unistd::geteuid().is_root() {
        println!("benchmark skipped: needs root to create a private network namespace");
        return ExitCode::SUCCESS;
    }
    let mut sizes: Vec<usize> = Vec::new();
    let mut procs = 100usize;
    let mut runs = 3usize;
    let mut it = args.iter().filter(|a| *a != "--bench");
    while let Some(a) = it.next() {
        match a.as_str() {
            "--procs" => procs = it.next().and_then(|v| v.parse().ok()).expect("--procs N"),
            "--runs" => runs = it.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            v => sizes.push(v.parse().expect("socket count")),
        }
    }
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000, 300_000];
    }
    let me = std::env::current_exe().expect("self");
    let me = me.to_str().expect("utf-8 path");
    let portscope = env!("CARGO_BIN_EXE_portscope");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "portscope snapshot vs ss -tanup, {cores} cores, kernel {}, median of {runs}",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "| sockets | procs | ss wall ms | ss cpu ms | ss peak MB | portscope wall ms | portscope cpu ms | portscope peak MB | wall ratio | memory ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // The filter language and grouping on the same sockets (snapshot, then pure passes).
    let mut derived = Vec::new();
    for n in sizes {
        // A fresh namespace per size: the previous one (and its TIME_WAITs) dies with its holders.
        let filled = fill::fill(me, n, procs);
        let total = count_sockets();
        let ss = med(me, &["ss", "-tanup"], runs);
        let ps = med(me, &[portscope, "snapshot"], runs);
        println!(
            "| {total} | {procs} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0} | {:.1} | {:.2}x | {:.2}x |",
            ss.wall_ms,
            ss.cpu_ms,
            ss.rss_mb,
            ps.wall_ms,
            ps.cpu_ms,
            ps.rss_mb,
            ps.wall_ms / ss.wall_ms,
            ps.rss_mb / ss.rss_mb
        );
        let filtered = med(
            me,
            &[
                portscope,
                "snapshot",
                "--filter",
                "state:est,tw -sport:1-1023 127.0.0.1",
            ],
            runs,
        );
        let grouped = med(me, &[portscope, "snapshot", "--group-by", "process"], runs);
        let sorted = med(me, &[portscope, "snapshot", "--sort", "process"], runs);
        // connect()'s ports toward every port of 127.0.0.1 (all the fill's connections), beside
        // what one would run by hand: ss's own filter for the destination.
        let connect = med(me, &[portscope, "why", "--connect", "127.0.0.1"], runs);
        // With -p it names the holders too, as why --connect does.
        let ss_dst = med(me, &["ss", "-tanp", "dst", "127.0.0.1"], runs);
        derived.push((
            total,
            ps.wall_ms,
            filtered.wall_ms,
            grouped.wall_ms,
            sorted.wall_ms,
            connect.wall_ms,
            ss_dst.wall_ms,
        ));
        drop(filled);
    }
    println!(
        "\n| sockets | snapshot wall ms | --filter wall ms | --group-by process wall ms | --sort process wall ms | why --connect 127.0.0.1 wall ms | ss -tanp dst 127.0.0.1 wall ms | ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (total, plain, filtered, grouped, sorted, connect, ss_dst) in derived {
        println!(
            "| {total} | {plain:.0} | {filtered:.0} | {grouped:.0} | {sorted:.0} | {connect:.0} | {ss_dst:.0} | {:.2}x |",
            connect / ss_dst
        );
    }
    ExitCode::SUCCESS
}
