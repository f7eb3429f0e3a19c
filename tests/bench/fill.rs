//! Fills a private network namespace with N sockets over P processes (80% established pairs,
//! 10% TIME_WAIT, 10% UDP), for the benchmarks. The bench binary re-executes itself as the
//! socket-holding children (`--child N INDEX`).
#![allow(clippy::unwrap_used)] // a test that cannot proceed fails right there
#![allow(dead_code)]

use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, setrlimit};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, ExitCode, Stdio};

/// `--child N INDEX`: open about N sockets (mixed states), say "ready", hold them until stdin
/// closes.
pub fn child_mode(n: usize, index: usize) -> ExitCode {
    let _ = setrlimit(Resource::RLIMIT_NOFILE, 1 << 20, 1 << 20);
    let ip = Ipv4Addr::new(127, 1, (index / 250) as u8, (index % 250 + 1) as u8);
    let listener = TcpListener::bind((ip, 5000)).expect("listen");
    let mut keep_tcp: Vec<TcpStream> = Vec::new();
    let mut keep_udp: Vec<UdpSocket> = Vec::new();
    let pairs = n * 4 / 10; // 80% of the sockets: established pairs (client + accepted)
    let tw = n / 10; // 10%: TIME_WAIT, held by the kernel
    let udp = n.saturating_sub(2 * pairs + tw + 1); // the rest: UDP
    for _ in 0..pairs {
        let c = TcpStream::connect((ip, 5000)).expect("connect");
        let (a, _) = listener.accept().expect("accept");
        keep_tcp.push(c);
        keep_tcp.push(a);
    }
    for _ in 0..tw {
        let c = TcpStream::connect((ip, 5000)).expect("connect");
        let (a, _) = listener.accept().expect("accept");
        drop(a);
        drop(c);
    }
    for _ in 0..udp {
        keep_udp.push(UdpSocket::bind((ip, 0)).expect("udp"));
    }
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop((listener, keep_tcp, keep_udp));
    ExitCode::SUCCESS
}

/// Holder processes; dropping them closes their stdin and they exit.
pub struct Filled {
    pub children: Vec<Child>,
}

impl Drop for Filled {
    fn drop(&mut self) {
        for c in &mut self.children {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

/// Moves this thread into a fresh namespace and fills it with about `n` sockets over `procs`
/// processes; returns when every holder says it is ready.
pub fn fill(me: &str, n: usize, procs: usize) -> Filled {
    unshare(CloneFlags::CLONE_NEWNET).expect("unshare");
    assert!(
        Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .is_ok_and(|s| s.success())
    );
    std::fs::write("/proc/sys/net/ipv4/ip_local_port_range", "1024 65000").expect("range");
    let per = n / procs;
    spawn_ready(
        me,
        (0..procs).map(|i| vec!["--child".to_string(), per.to_string(), i.to_string()]),
    )
}

/// Runs `me` once per argument list and returns when each says "ready" on its stdout.
pub fn spawn_ready(me: &str, args: impl Iterator<Item = Vec<String>>) -> Filled {
    let mut children: Vec<Child> = args
        .map(|a| {
            Command::new(me)
                .args(a)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    for c in &mut children {
        let mut line = String::new();
        BufReader::new(c.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("ready");
        assert_eq!(line.trim(), "ready");
    }
    Filled { children }
}
