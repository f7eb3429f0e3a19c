//! `nft -j list ruleset`: native nftables redirects (kube-proxy's nftables mode with its
//! `service-nodeports` verdict map, CNI portmap's `cni_hostport`, Docker's nftables backend,
//! netavark). Rules made by iptables-nft carry opaque `xt` targets here; `iptables-save`
//! reads those.

use super::Redirect;
use crate::model::Proto;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

type Key = (String, String, String); // family, table, name

struct Ruleset {
    chains: HashMap<Key, Vec<Value>>,
    maps: HashMap<Key, Vec<Value>>,
    order: Vec<(Key, Value)>,
}

fn key(o: &Value, name_field: &str) -> Option<Key> {
    Some((
        o.get("family")?.as_str()?.to_string(),
        o.get("table")?.as_str()?.to_string(),
        o.get(name_field)?.as_str()?.to_string(),
    ))
}

fn load(doc: &Value) -> Ruleset {
    let mut rs = Ruleset {
        chains: HashMap::new(),
        maps: HashMap::new(),
        order: Vec::new(),
    };
    for item in doc
        .get("nftables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(r) = item.get("rule")
            && let Some(k) = key(r, "chain")
        {
            rs.chains.entry(k.clone()).or_default().push(r.clone());
            rs.order.push((k, r.clone()));
        } else if let Some(m) = item.get("map")
            && let Some(k) = key(m, "name")
        {
            let elems = m
                .get("elem")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            rs.maps.insert(k, elems);
        }
    }
    rs
}

fn proto_name(v: &Value) -> Option<&str> {
    v.as_str()
}

/// Whether a match's right-hand side includes the port (a number, a set, a range).
pub(super) fn includes(right: &Value, port: u16) -> bool {
    match right {
        Value::Number(n) => n.as_u64() == Some(u64::from(port)),
        Value::Object(o) => {
            if let Some(r) = o.get("range").and_then(Value::as_array)
                && let (Some(a), Some(b)) = (
                    r.first().and_then(Value::as_u64),
                    r.get(1).and_then(Value::as_u64),
                )
            {
                return (a..=b).contains(&u64::from(port));
            }
            o.get("set")
                .and_then(Value::as_array)
                .is_some_and(|s| s.iter().any(|v| includes(v, port)))
        }
        Value::Array(a) => a.iter().any(|v| includes(v, port)),
        _ => false,
    }
}

pub(super) fn is_dport(left: &Value) -> bool {
    left.pointer("/payload/field").and_then(Value::as_str) == Some("dport")
}

/// A vmap key element that stands for a port: `30080`, `{"concat": ["tcp", 30080]}`.
pub(super) fn key_matches(k: &Value, proto: Proto, port: u16) -> bool {
    match k.get("concat").and_then(Value::as_array) {
        Some(parts) => {
            parts.iter().any(|p| includes(p, port))
                && parts
                    .iter()
                    .all(|p| p.as_str().is_none_or(|s| s == proto.as_str()))
        }
        None => includes(k, port),
    }
}

/// How a rule treats the port: `Some(true)` it matches it, `Some(false)` it excludes it,
/// `None` it does not look at ports.
fn rule_port(rule: &Value, proto: Proto, port: u16) -> Option<bool> {
    let mut seen = None;
    for e in rule
        .get("expr")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(m) = e.get("match") {
            let left = m.get("left").unwrap_or(&Value::Null);
            let right = m.get("right").unwrap_or(&Value::Null);
            let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
            if is_dport(left) {
                let p = left.pointer("/payload/protocol").and_then(Value::as_str);
                if p.is_some_and(|p| p != "th" && p != proto.as_str()) {
                    return Some(false);
                }
                let hit = includes(right, port);
                let hit = if op == "!=" { !hit } else { hit };
                if !hit {
                    return Some(false);
                }
                seen = Some(true);
            } else if left.pointer("/meta/key").and_then(Value::as_str) == Some("l4proto")
                && let Some(p) = proto_name(right)
                && p != proto.as_str()
            {
                return Some(false);
            }
        }
        if let Some(v) = e.get("vmap")
            && let Some(parts) = v.pointer("/key/concat").and_then(Value::as_array)
            && parts.iter().any(is_dport)
        {
            seen = Some(true);
        }
        if let Some(v) = e.get("vmap")
            && is_dport(v.get("key").unwrap_or(&Value::Null))
        {
            seen = Some(true);
        }
    }
    seen
}

struct Walk<'a> {
    rs: &'a Ruleset,
    proto: Proto,
    port: u16,
    seen: HashSet<Key>,
    to: Vec<String>,
    comment: Option<String>,
}

impl Walk<'_> {
    fn verdict(&mut self, family: &str, table: &str, v: &Value, depth: usize) {
        for kind in ["jump", "goto"] {
            if let Some(t) = v
                .pointer(&format!("/{kind}/target"))
                .and_then(Value::as_str)
            {
                self.chain(&(family.into(), table.into(), t.into()), depth + 1);
            }
        }
    }

    fn chain(&mut self, k: &Key, depth: usize) {
        if depth > 10 || !self.seen.insert(k.clone()) {
            return;
        }
        let rules = self.rs.chains.get(k).cloned().unwrap_or_default();
        for r in &rules {
            if rule_port(r, self.proto, self.port) == Some(false) {
                continue;
            }
            self.rule(k, r, depth);
        }
    }

    fn rule(&mut self, k: &Key, r: &Value, depth: usize) {
        if self.comment.is_none() {
            self.comment = r.get("comment").and_then(Value::as_str).map(str::to_string);
        }
        let (family, table) = (k.0.clone(), k.1.clone());
        for e in r
            .get("expr")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(d) = e.get("dnat") {
                let addr = d.get("addr").and_then(Value::as_str).unwrap_or("?");
                let port = d
                    .get("port")
                    .and_then(Value::as_u64)
                    .unwrap_or(u64::from(self.port));
                let dest = if addr.contains(':') {
                    format!("[{addr}]:{port}")
                } else {
                    format!("{addr}:{port}")
                };
                if !self.to.contains(&dest) {
                    self.to.push(dest);
                }
            } else if let Some(d) = e.get("redirect") {
                let p = d.get("port").and_then(Value::as_u64).unwrap_or(0);
                let dest = format!("local port {p}");
                if !self.to.contains(&dest) {
                    self.to.push(dest);
                }
            } else if let Some(v) = e.get("vmap") {
                let keyed_on_port = v
                    .pointer("/key/concat")
                    .and_then(Value::as_array)
                    .is_some_and(|p| p.iter().any(is_dport))
                    || is_dport(v.get("key").unwrap_or(&Value::Null));
                let elems: Vec<Value> = match v.get("data") {
                    Some(Value::String(m)) => m
                        .strip_prefix('@')
                        .and_then(|m| self.rs.maps.get(&(family.clone(), table.clone(), m.into())))
                        .cloned()
                        .unwrap_or_default(),
                    Some(d) => d
                        .get("set")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    None => Vec::new(),
                };
                for el in elems {
                    let Some(pair) = el.as_array() else {
                        continue;
                    };
                    let (Some(k), Some(verdict)) = (pair.first(), pair.get(1)) else {
                        continue;
                    };
                    if !keyed_on_port || key_matches(k, self.proto, self.port) {
                        self.verdict(&family, &table, verdict, depth);
                    }
                }
            } else {
                self.verdict(&family, &table, e, depth);
            }
        }
    }
}

/// What kube-proxy's chain names, CNI's comments or the table say the redirect is for.
fn what(table: &str, chains: &HashSet<Key>, comment: Option<&str>) -> Option<String> {
    match table {
        "kube-proxy" => chains.iter().find_map(|(_, _, c)| {
            // {prefix}-{hash}-{namespace}/{name}/{proto}/{port name}
            let rest = c.splitn(3, '-').nth(2)?;
            let mut parts = rest.split('/');
            let (ns, name) = (parts.next()?, parts.next()?);
            Some(format!("service {ns}/{name}"))
        }),
        "cni_hostport" => Some(match comment {
            Some(id) => format!("hostPort of sandbox {}", &id[..id.len().min(12)]),
            None => "CNI hostPort".into(),
        }),
        t if t.starts_with("docker") => Some("docker published port".into()),
        t if t.starts_with("netavark") => Some("podman published port".into()),
        _ => comment.map(str::to_string),
    }
}

/// Every native nftables redirect of `proto` port `port`.
pub fn redirects(doc: &Value, proto: Proto, port: u16) -> Vec<Redirect> {
    let rs = load(doc);
    let mut found: Vec<(Redirect, HashSet<Key>)> = Vec::new();
    for (k, r) in &rs.order {
        if rule_port(r, proto, port) != Some(true) {
            continue;
        }
        let mut w = Walk {
            rs: &rs,
            proto,
            port,
            seen: HashSet::from([k.clone()]),
            to: Vec::new(),
            comment: None,
        };
        w.rule(k, r, 0);
        if w.to.is_empty() {
            continue;
        }
        let what = what(&k.1, &w.seen, w.comment.as_deref());
        found.push((
            Redirect {
                source: "nft".into(),
                table: format!("{} {}", k.0, k.1),
                chain: k.2.clone(),
                to: w.to,
                what,
            },
            w.seen,
        ));
    }
    let keys: Vec<Key> = found
        .iter()
        .map(|(r, _)| {
            let mut t = r.table.splitn(2, ' ');
            (
                t.next().unwrap_or("").to_string(),
                t.next().unwrap_or("").to_string(),
                r.chain.clone(),
            )
        })
        .collect();
    found
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            !found
                .iter()
                .enumerate()
                .any(|(j, (_, seen))| j != *i && keys[j] != keys[*i] && seen.contains(&keys[*i]))
        })
        .map(|(_, (r, _))| r.clone())
        .collect()
}
