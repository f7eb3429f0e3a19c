//! The processes behind a diagnosis, as the person deciding about them needs them: which one it
//! is (command line, user, start), what supervises it, and how close it is to trouble (fds,
//! socket growth, a full accept queue).

use crate::analyze::why::Diagnosis;
use crate::cli::wrap;
use crate::human;
use crate::model::process_context::{Level, ProcessContext};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::sync::Arc;

/// Process blocks in the text output without `--all`: the screenful budget.
const MAX_SHOWN: usize = 3;

/// `--sample`: looks at the socket count of each process shown twice, `interval` apart, and
/// gives each the growth between the looks (none to a process that exited or whose pid was
/// reused in between); a TCP port's listeners are looked at several times in between, and their
/// health judged again from all the looks.
pub fn sample_growth(
    d: &mut Diagnosis,
    snap: &crate::model::Snapshot,
    interval: std::time::Duration,
    netns: &crate::collect::NetnsTarget,
) {
    use crate::collect::listen_sample::{Target, sample};
    use crate::collect::socket_growth::sockets_open;
    let keys: Vec<(u32, u64)> = processes(d)
        .iter()
        .map(|c| (c.pid, c.start.ticks))
        .collect();
    let listeners: Vec<&crate::model::Socket> = d
        .holders
        .iter()
        .map(|h| &h.socket)
        .filter(|s| s.proto == crate::model::Proto::Tcp && s.is_listening())
        .collect();
    let target = Target {
        port: d.port,
        inodes: listeners.iter().map(|s| s.inode).collect(),
        pids: listeners
            .iter()
            .filter_map(|s| s.owners.first().map(|o| o.pid))
            .collect(),
    };
    let (obs, looks) = if target.inodes.is_empty() {
        (crate::collect::socket_growth::sample(&keys, interval), None)
    } else {
        let mut obs = crate::model::process_context::Observations::new();
        let mut count = || {
            for &(pid, start) in &keys {
                if let Some(n) = sockets_open(pid, start) {
                    obs.record(pid, start, jiff::Timestamp::now(), n);
                }
            }
        };
        let looks = sample(netns, &target, interval, &mut count);
        (obs, Some(looks))
    };
    for h in &mut d.holders {
        if let Some(c) = h.process.as_mut() {
            let per_min = obs.per_min(c.pid, c.start.ticks);
            Arc::make_mut(c).sockets.per_min = per_min;
        }
    }
    if let Some(looks) = &looks {
        crate::analyze::why::health::apply(
            d,
            crate::analyze::why::health::Known {
                looks: Some(looks),
                somaxconn: snap.sysctl.somaxconn,
                ns_prefix: &netns.nsenter_prefix(),
            },
        );
    }
}

/// The distinct processes of a diagnosis, in holder order (listeners first).
pub fn processes(d: &Diagnosis) -> Vec<&ProcessContext> {
    let mut out: Vec<&ProcessContext> = Vec::new();
    for c in d.holders.iter().filter_map(|h| h.process.as_deref()) {
        if !out
            .iter()
            .any(|x| x.pid == c.pid && x.start.ticks == c.start.ticks)
        {
            out.push(c);
        }
    }
    out
}

/// The "Processes" section of `why`: a few lines per process, at most [`MAX_SHOWN`] processes
/// unless `all`. Without a `sample` interval, one line says how to get the growth.
pub fn render(d: &Diagnosis, all: bool, sample: Option<std::time::Duration>) -> String {
    let procs = processes(d);
    if procs.is_empty() {
        return String::new();
    }
    let mut o = String::from("\nProcesses\n");
    let shown = if all { procs.len() } else { MAX_SHOWN };
    for c in procs.iter().take(shown) {
        o.push_str(&block(c, all));
    }
    if procs.len() > shown {
        _ = writeln!(
            o,
            "  ... and {} more processes (--all shows them)",
            procs.len() - shown
        );
    }
    match sample {
        None => o.push_str("  socket growth needs two looks: add --sample 5s\n"),
        Some(iv) if iv < std::time::Duration::from_secs(1) => {
            _ = writeln!(
                o,
                "  socket growth from two looks {} ms apart",
                iv.as_millis()
            );
        }
        Some(iv) => {
            _ = writeln!(
                o,
                "  socket growth from two looks {} apart",
                human::duration(i64::try_from(iv.as_secs()).unwrap_or(i64::MAX))
            );
        }
    }
    o
}

/// Columns of the text output.
const WIDTH: usize = 80;

/// One process: who, started when, its chain, and its resources (4 to 5 lines, more where the
/// chain wraps). The command line is never wrapped (it is copied and compared); without `all`
/// a long one is cut in the middle, keeping the arguments at its end that tell same-named
/// processes apart.
pub fn block(c: &ProcessContext, all: bool) -> String {
    let mut o = wrap(
        &format!(
            "{} (pid {}) · user {} · started {}",
            c.comm,
            c.pid,
            c.user,
            c.start.words(human::duration)
        ),
        WIDTH,
        "  ",
    );
    if let Some(s) = c.state_words() {
        o.push_str(&wrap(s, WIDTH, "    "));
    }
    let cmd = c.cmdline.shown();
    let cmd = if all {
        cmd.into_owned()
    } else {
        cut_middle(&cmd, WIDTH - 6)
    };
    _ = writeln!(o, "    $ {cmd}");
    let chain = c.chain_words(true);
    let links: Vec<&str> = chain.split(" ← ").collect();
    o.push_str(&pack(&links, " ← ", "    ", "      "));
    let mut res = Vec::new();
    if let Some(f) = &c.fds {
        let warn = match f.level() {
            Level::Ok => "",
            Level::Warning => " WARNING: near RLIMIT_NOFILE",
            Level::Critical => " CRITICAL: at RLIMIT_NOFILE, accept() and open() fail soon",
        };
        res.push(format!("fds {}{warn}", f.words()));
    }
    res.push(human::count(c.sockets.now, "socket"));
    if let Some(g) = c.sockets.growth_per(" sockets/min") {
        res.push(g);
    }
    if let Some(l) = c.listeners.first() {
        let more = match c.listeners.len() {
            1 => String::new(),
            n => format!(" (+{} more)", n - 1),
        };
        let full = if l.full() { ", FULL" } else { "" };
        let backlog = if l.backlog > 0 {
            format!("{}/{}", l.queued, l.backlog)
        } else {
            format!("{} queued", l.queued)
        };
        res.push(format!(
            "accept queue {backlog}{full} on {}{more}",
            crate::model::fmt_endpoint(l.addr, l.port)
        ));
    }
    let res: Vec<&str> = res.iter().map(String::as_str).collect();
    o.push_str(&pack(&res, " · ", "    ", "      "));
    if let Some(s) = &c.listen_stats {
        o.push_str(&wrap(
            &format!(
                "its network namespace: ListenOverflows {}, ListenDrops {}",
                s.overflows, s.drops
            ),
            WIDTH,
            "    ",
        ));
    }
    o
}

/// `items` joined by `sep` in lines of [`WIDTH`], broken only between items (a phrase such as
/// "accept queue 2/1, FULL on :8080" is read whole).
fn pack(items: &[&str], sep: &str, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for item in items {
        let len = line.chars().count();
        if !empty && len + sep.chars().count() + item.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = format!("{rest}{}", sep.trim_start());
        } else if !empty {
            line.push_str(sep);
        }
        line.push_str(item);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// `text` in at most `width` characters: its start and its end, "…" between.
fn cut_middle(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= width {
        return text.to_string();
    }
    let head = (width - 1) / 2;
    let tail = width - 1 - head;
    let mut s: String = chars[..head].iter().collect();
    s.push('…');
    s.extend(&chars[chars.len() - tail..]);
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_command_lines_keep_both_ends() {
        let cut = super::cut_middle("java -jar /srv/a/b/c/d/e/f/api.jar --port=8080", 20);
        assert_eq!(cut, "java -jar…-port=8080");
        assert_eq!(cut.chars().count(), 20);
        assert_eq!(super::cut_middle("short", 20), "short");
        let long = "x".repeat(30);
        let packed = super::pack(&[&long, &long, &long], " · ", "    ", "      ");
        assert_eq!(
            packed,
            format!("    {long} · {long}\n      · {long}\n"),
            "breaks between items only"
        );
    }
}
