//! `why --all-netns`: the usual diagnosis of the namespace in focus, plus what the other
//! namespaces and the runtimes' state say about the port.

use crate::analyze::across::{Elsewhere, elsewhere};
use crate::analyze::why::Diagnosis;
use crate::cli::CliError;
use crate::collect::NetnsTarget;
use crate::collect::allns::{AllNetnsOptions, collect_all};
use crate::collect::container::{self, RuntimeRoots};
use crate::model::Snapshot;

/// The focus namespace's snapshot (other namespaces' sockets removed, so they are not taken
/// for holders) and the facts from elsewhere.
pub fn collect(
    netns: &NetnsTarget,
    r: &crate::ask::Resolved,
) -> Result<(Snapshot, Vec<Elsewhere>), CliError> {
    let focus = match netns {
        NetnsTarget::Current => None,
        t => match t.inode() {
            Some(i) => Some(i),
            None => {
                return Err(CliError::bad_input(format!(
                    "cannot read network namespace {}",
                    t.describe()
                )));
            }
        },
    };
    let mut snap = collect_all(&AllNetnsOptions {
        focus,
        one_shot: true,
        ..AllNetnsOptions::default()
    })
    .map_err(|e| CliError::failed(e, 1))?;
    let bindings = {
        let mut st = container::state(&RuntimeRoots::from_env());
        container::published::state_bindings(&mut st)
    };
    let mut found = Vec::new();
    let mut asked = Vec::new();
    for b in &r.binds {
        if !asked.contains(&(b.proto, b.port)) {
            asked.push((b.proto, b.port));
            found.extend(elsewhere(&snap, b.proto, b.port, &bindings));
        }
    }
    let inode = snap.netns.inode;
    snap.sockets.retain(|s| s.netns == inode);
    Ok((snap, found))
}

/// The diagnosis as JSON, with extra top-level fields (`elsewhere`, `nat`) added.
pub fn json_value(
    d: &Diagnosis,
    extra: Vec<(&str, serde_json::Value)>,
) -> serde_json::Result<serde_json::Value> {
    let mut v = serde_json::to_value(d)?;
    if let Some(obj) = v.as_object_mut() {
        for (k, x) in extra {
            obj.insert(k.into(), x);
        }
    }
    Ok(v)
}

/// The NAT section of the text output.
pub fn render_nat(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut o = String::from("\nNAT rules\n");
    for l in lines {
        o.push_str(&crate::cli::wrap(l, 80, "  - "));
    }
    o
}

pub fn render(found: &[Elsewhere], snap: &Snapshot) -> String {
    let unread = crate::collect::allns::unread_warnings(&snap.namespaces);
    if found.is_empty() && unread.is_empty() {
        return String::new();
    }
    let mut o = String::from("\nOther network namespaces\n");
    for e in found {
        o.push_str(&crate::cli::wrap(&e.text, 80, "  - "));
    }
    for u in &unread {
        o.push_str(&crate::cli::wrap(&format!("not seen: {u}"), 80, "  - "));
    }
    o
}

/// The namespaces `--all-netns` could not read, for JSON: each with its label and error.
pub fn unread_json(snap: &Snapshot) -> serde_json::Value {
    serde_json::Value::Array(
        snap.namespaces
            .iter()
            .filter_map(|n| {
                n.error
                    .as_ref()
                    .map(|e| serde_json::json!({ "inode": n.inode, "label": n.label, "error": e }))
            })
            .collect(),
    )
}
