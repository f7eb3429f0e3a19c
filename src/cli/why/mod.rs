//! `portscope why PORT`: the kernel's verdict on a bind, the causes in the way, and the plan.

mod allns;
pub mod connect;
pub mod process;
pub mod reach;
pub mod text;

use super::{ArgError, BindFlags, CliError, CliResult, WhyArgs, collect_for_cli};
use crate::analyze::why::{Context, Diagnosis};
use crate::ask::{Question, Reads, Resolved};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::model::Snapshot;
use std::process::ExitCode;

/// The question the flags ask, checked (a port that names an address and a different --addr
/// is refused, not guessed at) and with its user looked up.
pub fn resolved(f: &BindFlags) -> Result<Resolved, ArgError> {
    question(f)?.resolve().map_err(|e| match e {
        crate::ask::UserError::NoSuchUser(u) => ArgError::NoSuchUser(u),
        crate::ask::UserError::Lookup { user, errno } => ArgError::UserLookup { user, errno },
    })
}

fn question(f: &BindFlags) -> Result<Question, ArgError> {
    let Some(target) = f.port else {
        return Err(ArgError::Conflict(
            "name the PORT the service binds (`why --connect DST:PORT` asks about connect() instead)"
                .into(),
        ));
    };
    let proto = match (target.proto, f.proto) {
        (Some(a), Some(b)) if a != b => {
            return Err(ArgError::Conflict(format!(
                "PORT says {a} and --proto {b}: name one"
            )));
        }
        (a, b) => a.or(b),
    };
    let addrs = match (target.addr, f.addr.as_ref()) {
        (Some(a), Some(b)) if b.0 != [a] => {
            return Err(ArgError::Conflict(format!(
                "PORT names address {a} and --addr {}: name one",
                b.text()
            )));
        }
        (Some(a), _) => vec![a],
        (None, Some(b)) => b.0.clone(),
        (None, None) => Vec::new(),
    };
    Ok(Question {
        port: target.port,
        proto,
        addrs,
        v6only: f.v6only,
        reuseport: f.reuseport,
        freebind: f.freebind,
        user: f.user.clone(),
    })
}

/// Collects and answers: the question each round of `fix` asks again.
pub fn ask(r: &Resolved, ctx: &Context) -> Result<(Snapshot, Diagnosis), CliError> {
    let snap = collect_for_cli(&CollectOptions {
        netns: ctx.netns.clone(),
        ..CollectOptions::default()
    })?;
    let d = crate::ask::answer(r, &snap, ctx, Reads::Live { processes: true });
    Ok((snap, d))
}

pub fn run(args: &WhyArgs, netns: &NetnsTarget) -> CliResult {
    let r = resolved(&args.bind).map_err(CliError::bad_input)?;
    let ctx = crate::ask::session(netns);
    let (snap, elsewhere) = if args.all_netns {
        allns::collect(netns, &r)?
    } else {
        let snap = collect_for_cli(&CollectOptions {
            netns: netns.clone(),
            ..CollectOptions::default()
        })?;
        (snap, Vec::new())
    };
    let mut d = crate::ask::answer(&r, &snap, &ctx, Reads::Live { processes: true });
    let req = d.request();
    if let Some(interval) = args.sample {
        process::sample_growth(&mut d, &snap, interval, netns);
    }
    let nat = if args.nat {
        match crate::collect::nat::check(
            netns,
            req.proto,
            req.port,
            std::time::Duration::from_secs(5),
        ) {
            Ok(r) => Some(r),
            Err(e) => return Err(CliError::failed(e, 1)),
        }
    } else {
        None
    };
    let pinned = args.bind.proto.is_some() || args.bind.port.is_some_and(|t| t.proto.is_some());
    let reach = reach::read(
        netns,
        &snap,
        req.proto,
        pinned,
        req.port,
        !args.no_firewall,
        crate::collect::nat::filter::DEFAULT_BUDGET,
    );
    let nat_lines = nat
        .as_ref()
        .map(|r| r.sentences(d.would_bind()))
        .unwrap_or_default();
    if args.json {
        let mut extra = Vec::new();
        if args.all_netns {
            extra.push((
                "elsewhere",
                serde_json::to_value(&elsewhere).unwrap_or_default(),
            ));
            extra.push(("unread_netns", allns::unread_json(&snap)));
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
        reach::json(&reach, &mut extra);
        if let Some(interval) = args.sample {
            extra.push((
                "sample",
                serde_json::json!({ "interval_ms": interval.as_millis() }),
            ));
        }
        match allns::json_value(&d, extra) {
            Ok(v) => super::out::print_json(&v),
            Err(e) => return Err(CliError::failed(format!("cannot encode JSON: {e}"), 1)),
        }
    } else {
        super::out::print(
            &(text::render(&d, &snap, args.all, args.sample)
                + &allns::render(&elsewhere, &snap)
                + &reach::render(&reach)
                + &allns::render_nat(&nat_lines)),
        );
    }
    if d.would_bind() {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}
