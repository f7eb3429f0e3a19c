//! The flap helper of the watch tests (`tests/suite/watch_kernel.rs`): a separate process, so
//! that its pid is not the test's, that holds a port and lets it go, `cycles` times.
//!
//! PORTSCOPE_FLAP=port,cycles,hold_ms,gap_ms[,kind] says what to do; kind is tcp (listen, the
//! default), udp (bind), connect (a client of the port), refused (a TCP bind to a taken port),
//! each with an optional "-stay" suffix (the process outlives its cycles until the test kills
//! it: an event's namespace is read from /proc when the watch drains it, which a loaded host
//! delays).
//!
//! Built as a `[[test]]` target with `harness = false` rather than a `[[bin]]` (which
//! `cargo install` would install with the product) or an example: a plain `cargo test` builds
//! every test target before it runs any, so the suite always finds it fresh next to itself
//! (see `flap_helper_path` there). `cargo test` also runs it, with no PORTSCOPE_FLAP and
//! perhaps a filter argument: then it does nothing and exits 0.
#![allow(clippy::pedantic)]
#![allow(clippy::unwrap_used)] // a helper that cannot proceed fails right there

use std::time::Duration;

/// How long a "-stay" helper waits at most for the test to kill it: twice the suite's
/// PATIENCE (the test kills it once it has what it waits for; this is only a backstop).
const STAY: Duration = Duration::from_secs(120);

fn main() {
    let Ok(spec) = std::env::var("PORTSCOPE_FLAP") else {
        return;
    };
    let parts: Vec<&str> = spec.split(',').collect();
    let v: Vec<u64> = parts[..4].iter().map(|x| x.parse().unwrap()).collect();
    let (port, cycles, hold_ms, gap_ms) = (v[0] as u16, v[1], v[2], v[3]);
    let kind = parts.get(4).copied().unwrap_or("tcp");
    let (kind, stay) = match kind.strip_suffix("-stay") {
        Some(k) => (k, true),
        None => (kind, false),
    };
    for _ in 0..cycles {
        // The behaviour under test: hold the port for hold_ms.
        match kind {
            "udp" => {
                let u = std::net::UdpSocket::bind(("127.0.0.1", port)).unwrap();
                std::thread::sleep(Duration::from_millis(hold_ms));
                drop(u);
            }
            // A client: connect to the port from a port the kernel chooses.
            "connect" => {
                let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                std::thread::sleep(Duration::from_millis(hold_ms));
                drop(c);
            }
            // A bind the kernel refuses (the port is taken): the attempt is what is watched.
            "refused" => {
                assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_err());
            }
            _ => {
                let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
                std::thread::sleep(Duration::from_millis(hold_ms));
                drop(l);
            }
        }
        std::thread::sleep(Duration::from_millis(gap_ms));
    }
    if stay {
        std::thread::sleep(STAY);
    }
}
