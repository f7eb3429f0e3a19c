//! `portscope why PORT`: the kernel's verdict on a bind, the causes in the way, and the plan.

use super::{ArgError, BindFlags, CliError, CliResult, WhyArgs, collect_for_cli};
use crate::analyze::why::{BindOptions, BindRequest, Context, Diagnosis, ServiceUser, diagnose};
use crate::collect::probe::{has_net_bind_service, probe_as};
use crate::collect::{CollectOptions, NetnsTarget};
use crate::model::Snapshot;
use std::process::ExitCode;

/// Resolves `--user` (a name or a uid) and the flags into bind options and the user's name.
/// The bind request the flags describe, and the service user's name.
pub fn bind_request(f: &BindFlags) -> Result<(BindRequest, Option<String>), ArgError> {
    let (opts, user) = bind_options(f)?;
    Ok((
        BindRequest {
            port: f.port.port,
            proto: asked_proto(f)?.unwrap_or(crate::model::Proto::Tcp),
            addr: match (f.port.addr, f.addr) {
                (Some(a), Some(b)) if a != b => {
                    return Err(ArgError::Conflict(format!(
                        "PORT names address {a} and --addr {b}: name one"
                    )));
                }
                (a, b) => a
                    .or(b)
                    .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            },
            opts,
        },
        user,
    ))
}

/// The protocol the words ask about (`8080/udp` or `--proto udp`), if they name one.
pub fn asked_proto(f: &BindFlags) -> Result<Option<crate::model::Proto>, ArgError> {
    match (f.port.proto, f.proto) {
        (Some(a), Some(b)) if a != b => Err(ArgError::Conflict(format!(
            "PORT says {a} and --proto {b}: name one"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

fn bind_options(f: &BindFlags) -> Result<(BindOptions, Option<String>), ArgError> {
    let user = match f.user.as_deref() {
        None => None,
        Some(u) => {
            let found = match u.parse::<u32>() {
                Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
                Err(_) => nix::unistd::User::from_name(u),
            };
            match found {
                Ok(Some(p)) => Some((
                    ServiceUser {
                        uid: p.uid.as_raw(),
                        gid: p.gid.as_raw(),
                    },
                    p.name,
                )),
                Ok(None) => match u.parse::<u32>() {
                    // A uid without a passwd entry (a container's user): its own group.
                    Ok(uid) => Some((ServiceUser { uid, gid: uid }, u.to_string())),
                    Err(_) => return Err(ArgError::NoSuchUser(u.to_string())),
                },
                Err(errno) => {
                    return Err(ArgError::UserLookup {
                        user: u.to_string(),
                        errno,
                    });
                }
            }
        }
    };
    Ok((
        BindOptions {
            v6only: f.v6only,
            reuseport: f.reuseport,
            freebind: f.freebind,
            user: user.as_ref().map(|u| u.0),
        },
        user.map(|u| u.1),
    ))
}

pub fn context(netns: &NetnsTarget, opts: &BindOptions, user_name: Option<String>) -> Context {
    Context {
        netns: netns.clone(),
        can_bind_privileged: has_net_bind_service(),
        uid: opts
            .user
            .map_or_else(|| nix::unistd::geteuid().as_raw(), |u| u.uid),
        user_name,
        ancestors: crate::collect::probe::session_ancestors(),
        hz: procfs::ticks_per_second(),
    }
}

/// Collects, probes and diagnoses: the one question `why` and each round of `fix` ask.
pub fn ask(req: &BindRequest, ctx: &Context) -> Result<(Snapshot, Diagnosis), CliError> {
    let snap = collect_for_cli(&CollectOptions {
        netns: ctx.netns.clone(),
        ..CollectOptions::default()
    })?;
    let result = probe_as(&ctx.netns, req.proto, req.addr, req.port, &req.opts);
    let d = diagnose(req, &snap, &result, ctx);
    Ok((snap, d))
}

pub fn run(args: &WhyArgs, netns: &NetnsTarget) -> CliResult {
    let (req, user_name) = match bind_request(&args.bind) {
        Ok(r) => r,
        Err(e) => return Err(CliError::bad_input(e)),
    };
    let ctx = context(netns, &req.opts, user_name);
    let (snap, elsewhere) = if args.all_netns {
        super::why_allns::collect(netns, &req)?
    } else {
        match collect_for_cli(&CollectOptions {
            netns: netns.clone(),
            ..CollectOptions::default()
        }) {
            Ok(s) => (s, Vec::new()),
            Err(e) => return Err(e),
        }
    };
    let result = probe_as(&ctx.netns, req.proto, req.addr, req.port, &req.opts);
    let mut d = diagnose(&req, &snap, &result, &ctx);
    // Without --proto the question is "can my service have this port": a port free for TCP
    // but held for UDP (a resolver on 53, mDNS on 5353) is not free. Both are asked; the
    // blocked one leads, the other is one line.
    let mut other = None;
    if asked_proto(&args.bind).ok().flatten().is_none() {
        let udp_req = BindRequest {
            proto: crate::model::Proto::Udp,
            ..req
        };
        let udp_probe = probe_as(
            &ctx.netns,
            udp_req.proto,
            udp_req.addr,
            udp_req.port,
            &udp_req.opts,
        );
        let udp = diagnose(&udp_req, &snap, &udp_probe, &ctx);
        let (lead, rest) = if d.would_bind() && !udp.would_bind() {
            (udp, d)
        } else {
            (d, udp)
        };
        d = lead;
        let line = format!(
            "{} {} is {}{}",
            rest.proto,
            rest.port,
            if rest.would_bind() {
                "free"
            } else {
                "blocked too"
            },
            if rest.would_bind() {
                String::new()
            } else {
                format!(": {}", rest.explanation)
            }
        );
        d.notes.insert(
            0,
            format!("answered for tcp and udp (--proto picks one); {line}"),
        );
        other = Some(serde_json::json!({
            "proto": rest.proto,
            "verdict": rest.verdict,
            "would_bind": rest.would_bind(),
            "explanation": rest.explanation,
        }));
    }
    name_socket_units(&mut d);
    super::why_process::attach(&mut d, &snap);
    if let Some(interval) = args.sample {
        super::why_process::sample_growth(&mut d, interval);
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
    let nat_lines = nat
        .as_ref()
        .map(|r| r.sentences(d.would_bind()))
        .unwrap_or_default();
    if args.json {
        let mut extra = Vec::new();
        if let Some(o) = other {
            extra.push(("other_protocol", o));
        }
        if args.all_netns {
            extra.push((
                "elsewhere",
                serde_json::to_value(&elsewhere).unwrap_or_default(),
            ));
            extra.push(("unread_netns", super::why_allns::unread_json(&snap)));
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
        if let Some(interval) = args.sample {
            extra.push((
                "sample",
                serde_json::json!({ "interval_ms": interval.as_millis() }),
            ));
        }
        match super::why_allns::json_value(&d, extra) {
            Ok(v) => super::out::print_json(&v),
            Err(e) => return Err(CliError::failed(format!("cannot encode JSON: {e}"), 1)),
        }
    } else {
        super::out::print(
            &(super::why_text::render(&d, &snap, args.all, args.sample)
                + &super::why_allns::render(&elsewhere, &snap)
                + &super::why_allns::render_nat(&nat_lines)),
        );
    }
    if d.would_bind() {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

/// The socket unit a manager holds the port for is guessed from names in the library (no I/O
/// there); systemd knows, so the CLI asks it and puts its answer in every place the guess is.
fn name_socket_units(d: &mut crate::analyze::why::Diagnosis) {
    let found: Vec<_> = d
        .holders
        .iter()
        .filter_map(|h| crate::action::socket_unit_from_systemd(&h.socket))
        .collect();
    for (guessed, listed) in found {
        let all = d
            .remedies
            .iter_mut()
            .chain(d.plan.iter_mut())
            .chain(d.causes.iter_mut().flat_map(|c| c.remedies.iter_mut()));
        for r in all.filter(|r| r.command == guessed.command) {
            r.command.clone_from(&listed.command);
            r.text.clone_from(&listed.text);
        }
    }
}
