//! The words for a port shared by several sockets, one function for every surface (`why`'s text,
//! the TUI's why view): a mixed group is a warning, a uniform one a note.

use super::group::{Evidence, Member, ReuseGroup};
use crate::model::Proto;
use crate::model::text::Line;

/// "api-v1 (pid 4711, started 3 h ago, /usr/local/bin/api-v1)". `duration` is the surface's
/// way of saying a number of seconds ("3 h 2 m").
fn generation_words(g: &ReuseGroup, n: usize, duration: &dyn Fn(i64) -> String) -> String {
    let generation = &g.generations[n];
    let ms: Vec<&Member> = generation.members.iter().map(|&m| &g.members[m]).collect();
    let Some(first) = ms.first() else {
        return String::new();
    };
    let name = first
        .program
        .as_ref()
        .map_or_else(|| "?".to_string(), ToString::to_string);
    let mut pids: Vec<u32> = ms.iter().filter_map(|m| m.pid).collect();
    pids.dedup();
    let mut parts = vec![match pids.as_slice() {
        [one] => format!("pid {one}"),
        many if many.len() <= 3 => format!(
            "pids {}",
            many.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        many => format!("pids {}, {} … ({} processes)", many[0], many[1], many.len()),
    }];
    match ms.iter().filter_map(|m| m.age_secs).max() {
        Some(age) => parts.push(format!("started {} ago", duration(age))),
        None if n > 0 => parts.push(format!(
            "started {} after the first",
            duration(i64::try_from(generation.after_first_secs).unwrap_or(i64::MAX))
        )),
        None => {}
    }
    if let Some(exe) = &first.exe {
        parts.push(exe.to_string());
    }
    format!("{name} ({})", parts.join(", "))
}

/// "A and B", "A, B and C".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn what_mixes(g: &ReuseGroup) -> String {
    let programs = {
        let mut p: Vec<&str> = g.generations.iter().map(|x| x.program.raw()).collect();
        p.sort_unstable();
        p.dedup();
        p.len()
    };
    let gens = g.generations.len();
    match (g.mixed_programs, g.mixed_generations) {
        (true, false) => format!("{programs} programs"),
        (false, _) => format!(
            "{gens} generations of {}",
            g.generations
                .first()
                .and_then(|x| g.members[x.members[0]].program.as_ref())
                .map_or_else(|| "one program".to_string(), ToString::to_string)
        ),
        (true, true) => format!("{programs} programs in {gens} generations"),
    }
}

/// What the surfaces show about one group: a warning line for a mixed group, a note otherwise.
pub fn group_lines(g: &ReuseGroup, duration: &dyn Fn(i64) -> String) -> Vec<Line> {
    let what = format!("{} {}", g.proto, g.local);
    let gens: Vec<String> = (0..g.generations.len())
        .map(|n| generation_words(g, n, duration))
        .collect();
    let hidden = g.members.iter().filter(|m| m.pid.is_none()).count();
    let unseen = match hidden {
        0 => String::new(),
        1 => " (and a socket whose process portscope cannot see)".to_string(),
        n => format!(" (and {n} sockets whose processes portscope cannot see)"),
    };
    let shared_by = match g.evidence {
        Evidence::Sharing => {
            "shared (through SO_REUSEPORT or SO_REUSEADDR: no table says which) by sockets of"
        }
        Evidence::Listeners | Evidence::Probe => "shared by a SO_REUSEPORT group of",
    };
    let splits = match g.proto {
        Proto::Tcp => "the kernel splits new connections between",
        Proto::Udp => "datagrams to the port may reach any of",
    };
    let joins = if g.service_joins {
        "; a service binding it with SO_REUSEPORT now joins them"
    } else {
        ""
    };
    let mut out = Vec::new();
    if g.mixed() {
        let old = g
            .stale()
            .map_or_else(String::new, |s| match &g.members[s.members[0]].program {
                Some(p) => format!(": the oldest, {p}, still takes a share"),
                None => ": the oldest still takes a share".to_string(),
            });
        out.push(Line::warning(format!(
            "{what} is {shared_by} {}: {splits} {}{unseen}{old}{joins}",
            what_mixes(g),
            and_list(&gens)
        )));
        return out;
    }
    let sockets = match g.members.len() {
        1 => "1 socket".to_string(),
        n => format!("{n} sockets"),
    };
    let text = match g.evidence {
        Evidence::Probe => format!(
            "{what} is held by {}{unseen}, which set SO_REUSEPORT (the service's bind with it \
             succeeded): the service would join its group, and the kernel would split {} \
             between them",
            and_list(&gens),
            if g.proto == Proto::Tcp {
                "new connections"
            } else {
                "datagrams"
            }
        ),
        _ => format!(
            "{what} is {shared_by} {sockets}: {}{unseen} (one program, one generation){joins}",
            and_list(&gens)
        ),
    };
    out.push(Line::note(text));
    out
}
