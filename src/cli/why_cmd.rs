//! `portscope why PORT`: the kernel's verdict on a bind, who is in the way, and the safe fixes.

use super::{WhyArgs, collect_for_cli, failed, wrap};
use crate::analyze::why::{BindRequest, Context, Diagnosis, diagnose};
use crate::cli::snapshot_cmd::{marks, owners_cell, user_cell};
use crate::collect::probe::{has_net_bind_service, probe};
use crate::collect::{CollectOptions, NetnsTarget};
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: &WhyArgs, netns: &NetnsTarget) -> ExitCode {
    let req = BindRequest {
        port: args.port,
        proto: args.proto,
        addr: args.addr,
    };
    let (snap, elsewhere) = if args.all_netns {
        match super::why_allns::collect(netns, &req) {
            Ok(v) => v,
            Err(code) => return code,
        }
    } else {
        match collect_for_cli(&CollectOptions {
            netns: netns.clone(),
            ..CollectOptions::default()
        }) {
            Ok(s) => (s, Vec::new()),
            Err(code) => return code,
        }
    };
    let result = probe(netns, req.proto, req.addr, req.port);
    let ctx = Context {
        netns: netns.clone(),
        can_bind_privileged: has_net_bind_service(),
    };
    let d = diagnose(&req, &snap, &result, &ctx);
    let nat = if args.nat {
        match crate::collect::nat::check(
            netns,
            req.proto,
            req.port,
            std::time::Duration::from_secs(5),
        ) {
            Ok(r) => Some(r),
            Err(e) => return failed(e, 1),
        }
    } else {
        None
    };
    let nat_lines = nat
        .as_ref()
        .map(|r| r.sentences(d.would_bind()))
        .unwrap_or_default();
    let out = if args.json {
        let mut extra = Vec::new();
        if args.all_netns {
            extra.push((
                "elsewhere",
                serde_json::to_value(&elsewhere).unwrap_or_default(),
            ));
        }
        if let Some(r) = &nat {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "summary".into(),
                    serde_json::to_value(&nat_lines).unwrap_or_default(),
                );
            }
            extra.push(("nat", v));
        }
        match super::why_allns::json(&d, extra) {
            Ok(j) => j + "\n",
            Err(e) => return failed(format!("cannot encode JSON: {e}"), 2),
        }
    } else {
        render(&d, &snap)
            + &super::why_allns::render(&elsewhere)
            + &super::why_allns::render_nat(&nat_lines)
    };
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if d.would_bind() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub fn render(d: &Diagnosis, snap: &crate::model::Snapshot) -> String {
    let mut o = String::new();
    let on = crate::model::fmt_endpoint(d.addr, d.port);
    o.push_str(&format!(
        "{}  {} {on}{}\n",
        d.verdict.label(),
        d.proto,
        if d.at_risk {
            "  (at risk: ephemeral, unreserved)"
        } else {
            ""
        }
    ));
    o.push_str(&format!("{}\n\n", d.probe_summary()));
    o.push_str(&wrap(&d.explanation, 80, ""));
    if !d.holders.is_empty() {
        o.push_str("\nIn the way\n");
        let (mark, hidden) = crate::cli::snapshot_cmd::hidden_labels(snap);
        for h in &d.holders {
            let s = &h.socket;
            o.push_str(&format!(
                "  {:<9} {} {} -> {}  {}\n",
                h.role.name(),
                s.state.ss_name(),
                s.local(),
                s.remote(),
                marks(s, mark)
            ));
            o.push_str(&format!(
                "            {} (user {})\n",
                owners_cell(s, hidden),
                user_cell(s)
            ));
        }
    }
    if !d.remedies.is_empty() {
        o.push_str("\nWhat to do, safest first\n");
        for (i, r) in d.remedies.iter().enumerate() {
            o.push_str(&wrap(&r.text, 80, &format!("  {}. ", i + 1)));
            o.push_str(&format!("       $ {}\n", r.command));
        }
    }
    if !d.notes.is_empty() {
        o.push_str("\nNotes\n");
        for n in &d.notes {
            o.push_str(&wrap(n, 80, "  - "));
        }
    }
    o
}
