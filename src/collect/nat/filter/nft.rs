//! `nft -j list ruleset`: native tables' input chains (a plain `inet filter`, ufw- and
//! firewalld-shaped tables), each rule judged for new connections to one port from outside.
//! Tables iptables-nft manages are read through iptables-nft-save instead (their rules carry
//! `xt` expressions nft cannot print), and the caller names them to skip.

use super::rules::{Action, Rule, Table};
use crate::collect::nat::nft::{includes, is_dport, key_matches};
use crate::model::Proto;
use serde_json::Value;
use std::collections::HashMap;

type Key = (String, String); // family, table
/// Input base chains by priority.
type Bases = Vec<(i64, String)>;

/// Whether an nft table family carries packets of `family` (ipv4/ipv6).
fn carries(table_family: &str, family: &str) -> bool {
    match table_family {
        "inet" => true,
        "ip" => family == "ipv4",
        "ip6" => family == "ipv6",
        _ => false,
    }
}

/// A value as nft prints it (near enough to recognise the rule).
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => a.iter().map(show).collect::<Vec<_>>().join(","),
        Value::Object(o) => {
            if let Some(p) = o.get("prefix") {
                format!("{}/{}", show(&p["addr"]), show(&p["len"]))
            } else if let Some(r) = o.get("range").and_then(Value::as_array) {
                r.iter().map(show).collect::<Vec<_>>().join("-")
            } else if let Some(s) = o.get("set") {
                format!("{{ {} }}", show(s).replace(',', ", "))
            } else if let Some(c) = o.get("concat") {
                show(c).replace(',', " . ")
            } else if let Some(p) = o.get("payload") {
                format!("{} {}", show(&p["protocol"]), show(&p["field"]))
            } else if let Some(m) = o.get("meta") {
                let k = show(&m["key"]);
                if k.starts_with("iif") || k.starts_with("oif") || k == "l4proto" {
                    k
                } else {
                    format!("meta {k}")
                }
            } else if let Some(c) = o.get("ct") {
                format!("ct {}", show(&c["key"]))
            } else {
                o.keys().next().cloned().unwrap_or_default()
            }
        }
        _ => String::new(),
    }
}

/// A rule's expressions as text.
fn text(exprs: &[Value]) -> String {
    let mut out = Vec::new();
    for e in exprs {
        let Some((k, v)) = e.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        out.push(match k.as_str() {
            "match" => {
                let op = v["op"].as_str().unwrap_or("==");
                let right = match (&v["right"], show(&v["left"]).starts_with("iif")) {
                    (Value::String(s), true) => format!("\"{s}\""),
                    (r, _) => show(r),
                };
                let op = if op == "==" || op == "in" {
                    String::new()
                } else {
                    format!("{op} ")
                };
                format!("{} {op}{right}", show(&v["left"]))
            }
            "counter" => format!("counter packets {} bytes {}", v["packets"], v["bytes"]),
            "jump" | "goto" => format!("{k} {}", show(&v["target"])),
            "vmap" => {
                let data = match v["data"]["set"].as_array() {
                    Some(pairs) => {
                        let shown: Vec<String> = pairs
                            .iter()
                            .map(|p| match p.as_array() {
                                Some(kv) if kv.len() == 2 => {
                                    format!("{} : {}", show(&kv[0]), text(&kv[1..]))
                                }
                                _ => show(p),
                            })
                            .collect();
                        format!("{{ {} }}", shown.join(", "))
                    }
                    None => show(&v["data"]),
                };
                format!("{} vmap {data}", show(&v["key"]))
            }
            "reject" if v.is_object() => format!("reject with {}", show(&v["expr"])),
            k => k.to_string(),
        });
    }
    out.join(" ")
}

struct Ctx<'a> {
    family: &'a str,
    proto: Proto,
    port: u16,
    sets: &'a HashMap<(String, String, String), Vec<Value>>,
    table: &'a Key,
    /// The addresses new connections to the listener are sent to (empty: not known).
    dests: &'a [std::net::IpAddr],
}

impl Ctx<'_> {
    /// A named set's elements, or the value itself.
    fn resolve(&self, right: &Value) -> Value {
        match right.as_str().and_then(|s| s.strip_prefix('@')) {
            Some(name) => {
                let k = (self.table.0.clone(), self.table.1.clone(), name.to_string());
                Value::Array(self.sets.get(&k).cloned().unwrap_or_default())
            }
            None => right.clone(),
        }
    }

    fn verdict(v: &Value) -> Option<Action> {
        let o = v.as_object()?;
        let (k, val) = o.iter().next()?;
        let target = || val["target"].as_str().unwrap_or("").to_string();
        Some(match k.as_str() {
            "accept" => Action::Accept,
            "drop" => Action::Drop,
            "reject" => Action::Reject,
            "return" => Action::Return,
            "jump" => Action::Jump(target()),
            "goto" => Action::Goto(target()),
            _ => return None,
        })
    }

    /// Applies one `match` to the rule being built.
    fn matched(&self, m: &Value, r: &mut Rule) {
        let left = &m["left"];
        let right = self.resolve(&m["right"]);
        let negate = m["op"].as_str() == Some("!=");
        let not = if negate { "!= " } else { "" };
        let hit_or_not = |hit: bool, r: &mut Rule| {
            if hit == negate {
                r.matches = false;
            }
        };
        let words = |v: &Value| -> Vec<String> {
            match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) => a
                    .iter()
                    .flat_map(|x| show(x).split(',').map(String::from).collect::<Vec<_>>())
                    .collect(),
                Value::Object(o) => o
                    .get("set")
                    .map(|s| show(s).split(',').map(String::from).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            }
        };
        if let Some(p) = left.get("payload") {
            let proto = p["protocol"].as_str().unwrap_or("");
            let field = p["field"].as_str().unwrap_or("");
            let ip = match proto {
                "ip" => Some("ipv4"),
                "ip6" => Some("ipv6"),
                _ => None,
            };
            if ip.is_some_and(|f| f != self.family) {
                r.matches = false;
            } else if is_dport(left) {
                if proto != "th" && proto != self.proto.as_str() {
                    r.matches = false;
                }
                hit_or_not(includes(&right, self.port), r);
            } else if field == "saddr" {
                let shown = show(&m["right"]);
                if !negate && (shown.starts_with("127.") || shown.starts_with("::1")) {
                    r.matches = false;
                } else if negate {
                    r.conds.push(format!("all but {shown}"));
                } else {
                    r.conds.push(shown);
                }
            } else if field == "daddr" {
                let specs: Vec<String> = match &right {
                    Value::Array(a) => a.iter().map(show).collect(),
                    Value::Object(o) if o.contains_key("set") => o["set"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(show)
                        .collect(),
                    v => vec![show(v)],
                };
                let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
                match super::rules::dest_match(&specs, negate, self.dests) {
                    Some(false) => r.matches = false,
                    Some(true) => {}
                    None => r.conds.push(format!("to {not}{}", show(&m["right"]))),
                }
            } else if field != "flags" {
                r.conds
                    .push(format!("{} {not}{}", show(left), show(&m["right"])));
            }
        } else if let Some(k) = left.pointer("/meta/key").and_then(Value::as_str) {
            match k {
                "l4proto" => hit_or_not(words(&right).iter().any(|w| w == self.proto.as_str()), r),
                "nfproto" => hit_or_not(words(&right).iter().any(|w| w == self.family), r),
                "iif" | "iifname" if words(&right) == ["lo"] => {
                    if !negate {
                        r.matches = false;
                    }
                }
                _ => r
                    .conds
                    .push(format!("{} {not}{}", show(left), show(&m["right"]))),
            }
        } else if let Some(k) = left.pointer("/ct/key").and_then(Value::as_str) {
            match k {
                "state" => {
                    let w = words(&right);
                    hit_or_not(w.iter().any(|s| s == "new" || s == "untracked"), r);
                }
                // A connection DNATed here came through a NAT rule, not to this port.
                "status" if words(&right).iter().any(|s| s == "dnat") => r.matches = false,
                _ => r.conds.push(format!("ct {k} {not}{}", show(&m["right"]))),
            }
        } else {
            r.conds
                .push(format!("{} {not}{}", show(left), show(&m["right"])));
        }
    }

    /// One JSON rule as the rules it stands for (a verdict map keyed on something other than
    /// the port is one rule per element).
    fn rules(&self, rule: &Value) -> Vec<Rule> {
        let exprs = rule["expr"].as_array().cloned().unwrap_or_default();
        let mut r = Rule {
            text: text(&exprs),
            matches: true,
            conds: Vec::new(),
            action: Action::Continue,
            counters: None,
        };
        let mut split = Vec::new();
        for e in &exprs {
            if let Some(m) = e.get("match") {
                self.matched(m, &mut r);
            } else if let Some(c) = e.get("counter") {
                r.counters = Some((
                    c["packets"].as_u64().unwrap_or(0),
                    c["bytes"].as_u64().unwrap_or(0),
                ));
            } else if let Some(v) = e.get("vmap") {
                let key = &v["key"];
                let elems = match self.resolve(&v["data"]) {
                    Value::Array(a) => a,
                    d => d["set"].as_array().cloned().unwrap_or_default(),
                };
                let on_port = is_dport(key)
                    || key["concat"]
                        .as_array()
                        .is_some_and(|p| p.iter().any(is_dport));
                let pairs = elems.iter().filter_map(|el| {
                    let pair = el.as_array()?;
                    Some((pair.first()?.clone(), Self::verdict(pair.get(1)?)?))
                });
                if on_port {
                    match pairs
                        .into_iter()
                        .find(|(k, _)| key_matches(k, self.proto, self.port))
                    {
                        Some((_, a)) => r.action = a,
                        None => r.matches = false,
                    }
                } else {
                    for (k, a) in pairs {
                        let m = serde_json::json!({"op": "==", "left": key, "right": k});
                        let mut one = r.clone();
                        self.matched(&m, &mut one);
                        one.action = a;
                        split.push(one);
                    }
                    r.matches = false;
                }
            } else if let Some(x) = e.get("xt") {
                let name = x["name"].as_str().unwrap_or("");
                match (x["type"].as_str(), name) {
                    (Some("target"), "REJECT") => r.action = Action::Reject,
                    (Some("target"), _) | (_, "comment" | "tcp" | "udp") => {}
                    _ => r.conds.push(format!("xt {name}")),
                }
            } else if let Some(a) = Self::verdict(e) {
                r.action = a;
            } else if e.get("limit").is_some() {
                r.conds.push("within a rate limit".into());
            }
        }
        if split.is_empty() { vec![r] } else { split }
    }
}

/// The tables of `doc` that carry `family` packets into an input hook, skipping `skip`
/// (family, table) pairs read by another tool.
pub fn tables(
    doc: &Value,
    family: &str,
    (proto, port): (Proto, u16),
    skip: &[(String, String)],
    dests: &[std::net::IpAddr],
) -> Vec<Table> {
    let items = doc["nftables"].as_array().cloned().unwrap_or_default();
    let mut sets = HashMap::new();
    let mut out: Vec<(Key, Table, Bases)> = Vec::new();
    let key_of = |o: &Value, f: &str| -> Option<(String, String, String)> {
        Some((
            o["family"].as_str()?.into(),
            o["table"].as_str()?.into(),
            o[f].as_str()?.into(),
        ))
    };
    for item in &items {
        for kind in ["set", "map"] {
            if let Some(s) = item.get(kind)
                && let Some(k) = key_of(s, "name")
            {
                sets.insert(k, s["elem"].as_array().cloned().unwrap_or_default());
            }
        }
    }
    for item in &items {
        if let Some(c) = item.get("chain")
            && let Some((fam, tab, name)) = key_of(c, "name")
            && carries(&fam, family)
            && !skip.contains(&(fam.clone(), tab.clone()))
        {
            let key = (fam.clone(), tab.clone());
            let i = match out.iter().position(|(k, _, _)| *k == key) {
                Some(i) => i,
                None => {
                    let t = Table {
                        tool: "nft".into(),
                        family: family.into(),
                        name: format!("{fam} {tab}"),
                        ..Table::default()
                    };
                    out.push((key, t, Vec::new()));
                    out.len() - 1
                }
            };
            let chain = out[i].1.chains.entry(name.clone()).or_default();
            if c["hook"].as_str() == Some("input") && c["type"].as_str() == Some("filter") {
                chain.policy = Some(match c["policy"].as_str() {
                    Some("drop") => Action::Drop,
                    _ => Action::Accept,
                });
                out[i].2.push((c["prio"].as_i64().unwrap_or(0), name));
            }
        }
    }
    for item in &items {
        if let Some(r) = item.get("rule")
            && let Some((fam, tab, chain)) = key_of(r, "chain")
            && let Some(entry) = out.iter_mut().find(|(k, _, _)| k.0 == fam && k.1 == tab)
        {
            let ctx = Ctx {
                family,
                proto,
                port,
                sets: &sets,
                table: &entry.0,
                dests,
            };
            let rules = ctx.rules(r);
            entry.1.chains.entry(chain).or_default().rules.extend(rules);
        }
    }
    out.into_iter()
        .filter(|(_, _, bases)| !bases.is_empty())
        .map(|(_, mut t, mut bases)| {
            bases.sort();
            t.bases = bases.into_iter().map(|(_, n)| n).collect();
            t
        })
        .collect()
}
