//! `portscope services`: what to declare, from the listeners seen now and from systemd socket
//! units (`ListenStream=`, `ListenDatagram=`), which name a service's ports even while it is down.

use super::service::Service;
use crate::model::{Proto, Snapshot};
use crate::portset::PortSet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped
use std::path::{Path, PathBuf};

/// Where systemd looks for unit files, highest precedence first (systemd.unit(5)).
pub const UNIT_DIRS: [&str; 5] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found {
    #[serde(flatten)]
    pub service: Service,
    /// `listener` or `socket_unit`.
    pub source: String,
    /// The socket unit file, or the processes seen listening.
    pub detail: String,
}

/// Turns a unit or command name into a declaration name (letters, digits, `-_.@`).
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "service".into() } else { s }
}

/// One port out of a `ListenStream=`/`ListenDatagram=` value: `80`, `0.0.0.0:80`, `[::]:80`.
/// Unix sockets (`/run/x.sock`, `@abstract`), netlink and vsock addresses have no port.
pub fn listen_port(value: &str) -> Option<u16> {
    let v = value.trim();
    if v.is_empty() || v.starts_with('/') || v.starts_with('@') || v.contains("vsock:") {
        return None;
    }
    let port_text = match v.rfind(':') {
        Some(i) if !v.starts_with('[') || v[..i].ends_with(']') => &v[i + 1..],
        Some(_) => return None,
        None => v,
    };
    // `%iface` may follow an address (`[fe80::1]:80%eth0` is not valid, but be lenient).
    let port_text = port_text.split('%').next().unwrap_or("");
    match port_text.parse::<u16>() {
        Ok(p) if p > 0 => Some(p),
        _ => None,
    }
}

/// The `[Socket]` listen settings of a unit file's text, applied on top of `acc`
/// (an empty assignment resets the list, as systemd does).
fn apply_unit_text(text: &str, acc: &mut Vec<(Proto, String)>, service: &mut Option<String>) {
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        // Line continuation: a trailing backslash joins the next line.
        if let Some(stripped) = raw.strip_suffix('\\') {
            pending.push_str(stripped);
            pending.push(' ');
            continue;
        }
        pending.push_str(raw);
        let line = std::mem::take(&mut pending);
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if l.starts_with('[') && l.ends_with(']') {
            section = l[1..l.len() - 1].to_string();
            continue;
        }
        if section != "Socket" {
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        let proto = match k {
            "ListenStream" => Proto::Tcp,
            "ListenDatagram" => Proto::Udp,
            "Service" => {
                *service = Some(v.to_string());
                continue;
            }
            _ => continue,
        };
        if v.is_empty() {
            acc.retain(|(p, _)| *p != proto);
        } else {
            acc.push((proto, v.to_string()));
        }
    }
}

/// Whether a unit file is masked (a link to /dev/null, or an empty file).
fn masked(path: &Path) -> bool {
    std::fs::read_link(path).is_ok_and(|t| t == Path::new("/dev/null"))
        || std::fs::metadata(path).is_ok_and(|m| m.len() == 0)
}

/// Socket units below `root` (`/` for the host), with their TCP and UDP ports.
pub fn socket_units(root: &Path) -> Vec<Found> {
    let dirs: Vec<PathBuf> = UNIT_DIRS
        .iter()
        .map(|d| root.join(d.trim_start_matches('/')))
        .collect();
    // Same name: the first directory wins. Template units (`foo@.socket`) have no instance.
    let mut units: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in &dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".socket") && !name.contains("@.") {
                units.entry(name).or_insert_with(|| e.path());
            }
        }
    }
    let mut out = Vec::new();
    for (name, path) in units {
        if masked(&path) {
            continue;
        }
        let Ok(Some(bytes)) = crate::safefs::read_config(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let mut listens = Vec::new();
        let mut service = None;
        apply_unit_text(&text, &mut listens, &mut service);
        // Drop-ins (`name.d/*.conf`) from every directory, by file name; the first wins.
        let mut dropins: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in &dirs {
            if let Ok(entries) = std::fs::read_dir(dir.join(format!("{name}.d"))) {
                for e in entries.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.ends_with(".conf") {
                        dropins.entry(n).or_insert_with(|| e.path());
                    }
                }
            }
        }
        for p in dropins.values() {
            if let Ok(Some(t)) = crate::safefs::read_config(p) {
                apply_unit_text(&String::from_utf8_lossy(&t), &mut listens, &mut service);
            }
        }
        let stem = name.trim_end_matches(".socket");
        for proto in [Proto::Tcp, Proto::Udp] {
            let mut ports = PortSet::new();
            for (_, v) in listens.iter().filter(|(p, _)| *p == proto) {
                if let Some(port) = listen_port(v) {
                    ports.insert(port);
                }
            }
            if ports.is_empty() {
                continue;
            }
            out.push(Found {
                service: Service {
                    name: sanitize(stem),
                    ports,
                    proto,
                    // systemd (pid 1) holds a socket unit's listener, started or not.
                    process: Some("systemd".into()),
                },
                source: "socket_unit".into(),
                detail: format!(
                    "{}{}",
                    path.display(),
                    service
                        .as_deref()
                        .map_or(String::new(), |s| format!(" (activates {s})"))
                ),
            });
        }
    }
    out
}

/// The identity a listener's process is declared by: its unit (without `.service`), its
/// container, or its command name.
fn identity(o: &crate::model::Owner) -> String {
    if let Some(c) = &o.container {
        return c.raw().to_string();
    }
    if let Some(u) = o
        .unit
        .as_ref()
        .and_then(|u| u.raw().strip_suffix(".service"))
    {
        return u.to_string();
    }
    o.comm.raw().to_string()
}

/// Listeners seen now, grouped by owning process identity and protocol.
pub fn from_listeners(snap: &Snapshot) -> Vec<Found> {
    let mut groups: BTreeMap<(String, Proto), (PortSet, Vec<String>)> = BTreeMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.is_listening() && !s.autobound && s.local_port != 0)
    {
        let Some(o) = s.owners.first() else {
            continue;
        };
        let id = identity(o);
        let entry = groups.entry((id, s.proto)).or_default();
        entry.0.insert(s.local_port);
        let label = o.label();
        if !entry.1.contains(&label) && entry.1.len() < 3 {
            entry.1.push(label);
        }
    }
    groups
        .into_iter()
        .map(|((id, proto), (ports, who))| Found {
            service: Service {
                name: sanitize(&id),
                ports,
                proto,
                process: Some(id),
            },
            source: "listener".into(),
            detail: super::why_line::one_line(&who.join(", ")),
        })
        .collect()
}

/// Everything found, socket units first; a port already found in a socket unit (or declared in
/// `existing`) is not proposed again, and names are made unique.
pub fn discover(snap: Option<&Snapshot>, unit_root: &Path, existing: &[Service]) -> Vec<Found> {
    let mut all = socket_units(unit_root);
    if let Some(snap) = snap {
        all.extend(from_listeners(snap));
    }
    let mut taken: Vec<(Proto, PortSet)> = existing
        .iter()
        .map(|s| (s.proto, s.ports.clone()))
        .collect();
    let mut names: Vec<String> = existing.iter().map(|s| s.name.clone()).collect();
    let mut out = Vec::new();
    for mut f in all {
        for (proto, set) in &taken {
            if *proto == f.service.proto {
                f.service.ports = f.service.ports.difference(set);
            }
        }
        if f.service.ports.is_empty() {
            continue;
        }
        taken.push((f.service.proto, f.service.ports.clone()));
        let base = if names.contains(&f.service.name) && f.service.proto == Proto::Udp {
            format!("{}-udp", f.service.name)
        } else {
            f.service.name.clone()
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        names.push(name.clone());
        f.service.name = name;
        out.push(f);
    }
    out
}

/// The text appended to a config file for `found`.
pub fn config_text(found: &[Found]) -> String {
    let mut out = String::new();
    for f in found {
        _ = write!(
            out,
            "\n# discovered by portscope services from {}: {}\n",
            f.source.replace('_', " "),
            super::why_line::one_line(&f.detail)
        );
        out.push_str(&f.service.to_toml());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_values() {
        for (v, want) in [
            ("8080", Some(8080)),
            ("0.0.0.0:53", Some(53)),
            ("[::]:443", Some(443)),
            ("[::1]:9000", Some(9000)),
            ("127.0.0.1:70000", None),
            ("/run/foo.sock", None),
            ("@abstract", None),
            ("vsock:2:1234", None),
            ("", None),
            ("[::1]", None),
        ] {
            assert_eq!(listen_port(v), want, "{v}");
        }
    }

    #[test]
    fn unit_text_sections_resets_and_continuations() {
        let mut acc = Vec::new();
        let mut svc = None;
        apply_unit_text(
            "[Unit]\nListenStream=1\n[Socket]\nListenStream=80\nListenStream=\\\n  [::]:81\n\
             ListenDatagram=53\n# ListenStream=99\nService=web.service\n",
            &mut acc,
            &mut svc,
        );
        assert_eq!(
            acc,
            [
                (Proto::Tcp, "80".to_string()),
                (Proto::Tcp, "[::]:81".to_string()),
                (Proto::Udp, "53".to_string())
            ]
        );
        apply_unit_text(
            "[Socket]\nListenStream=\nListenStream=82\n",
            &mut acc,
            &mut svc,
        );
        assert_eq!(
            acc,
            [
                (Proto::Udp, "53".to_string()),
                (Proto::Tcp, "82".to_string())
            ]
        );
        assert_eq!(svc.as_deref(), Some("web.service"));
    }
}
