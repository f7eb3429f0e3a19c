//! Declared service ports: the `[[service]]` tables of the config file.
//!
//! ```toml
//! [[service]]
//! name = "api"
//! port = 8080              # or a list with ranges: "8080,9000-9010"
//! proto = "tcp"            # default tcp
//! process = "api"          # command name, systemd unit or container that should listen
//! ```
//! A declared port is checked whether or not anything listens on it: a service that is down is
//! the one whose port can be taken.

use crate::model::{Owner, Proto};
use crate::portset::{PortSet, PortSpecError};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _; // write! to a String cannot fail, so its Result is dropped

/// One `[[service]]` table as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    pub name: String,
    pub port: PortField,
    #[serde(default)]
    pub proto: Option<String>,
    #[serde(default)]
    pub process: Option<String>,
}

/// `port = 8080` or `port = "8080,9000-9010"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortField {
    Number(i64),
    List(String),
}

/// A validated declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub name: String,
    pub ports: PortSet,
    pub proto: Proto,
    /// Who should hold the port: matched against the command name, the systemd unit (with or
    /// without `.service`) and the container (`docker:3f2a9c0d4e5b`, or its id or id prefix).
    /// `None`: any listener will do.
    pub process: Option<String>,
}

/// What is wrong with the `[[service]]` declarations; each names the service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("service name {0:?}: use 1-64 letters, digits, '-', '_', '.', '@'")]
    Name(String),
    #[error("service {name:?}: port {port} is outside 1-65535")]
    PortRange { name: String, port: i64 },
    #[error("service {name:?}: port: {error}")]
    PortList { name: String, error: PortSpecError },
    #[error("service {0:?}: port must name ports 1-65535 (0 asks the kernel for any port)")]
    PortZero(String),
    #[error("service {name:?}: {error}")]
    Proto {
        name: String,
        error: crate::model::UnknownName,
    },
    #[error("service {0:?}: process is empty (leave it out to accept any listener)")]
    EmptyProcess(String),
    #[error("service {0:?} is declared twice")]
    Twice(String),
    #[error("services {first:?} and {second:?} both declare {ports}/{proto}")]
    Overlap {
        first: String,
        second: String,
        ports: PortSet,
        proto: Proto,
    },
}

/// Names end up in metric labels and perfdata: keep them short and plain.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

impl ServiceEntry {
    pub fn validate(&self) -> Result<Service, ServiceError> {
        let name = || self.name.clone();
        if !valid_name(&self.name) {
            return Err(ServiceError::Name(name()));
        }
        let ports = match &self.port {
            PortField::Number(n) if (1..=65535).contains(n) => PortSet::from_ranges([(
                u16::try_from(*n).unwrap_or(0),
                u16::try_from(*n).unwrap_or(0),
            )]),
            PortField::Number(n) => {
                return Err(ServiceError::PortRange {
                    name: name(),
                    port: *n,
                });
            }
            PortField::List(s) => PortSet::parse(s).map_err(|error| ServiceError::PortList {
                name: name(),
                error,
            })?,
        };
        if ports.is_empty() || ports.contains(0) {
            return Err(ServiceError::PortZero(name()));
        }
        let proto = match &self.proto {
            None => Proto::Tcp,
            Some(p) => p.parse::<Proto>().map_err(|error| ServiceError::Proto {
                name: name(),
                error,
            })?,
        };
        let process = match &self.process {
            Some(p) if p.trim().is_empty() => {
                return Err(ServiceError::EmptyProcess(name()));
            }
            p => p.clone(),
        };
        Ok(Service {
            name: self.name.clone(),
            ports,
            proto,
            process,
        })
    }
}

/// Validates every entry; names must be unique, and one port/proto belongs to one service.
pub fn validate_all(entries: &[ServiceEntry]) -> Result<Vec<Service>, ServiceError> {
    let mut out: Vec<Service> = Vec::with_capacity(entries.len());
    for e in entries {
        let s = e.validate()?;
        if let Some(other) = out.iter().find(|o| o.name == s.name) {
            return Err(ServiceError::Twice(other.name.clone()));
        }
        if let Some(other) = out
            .iter()
            .find(|o| o.proto == s.proto && !o.ports.intersection(&s.ports).is_empty())
        {
            return Err(ServiceError::Overlap {
                first: other.name.clone(),
                second: s.name.clone(),
                ports: other.ports.intersection(&s.ports),
                proto: s.proto,
            });
        }
        out.push(s);
    }
    Ok(out)
}

impl Service {
    /// Whether `owner` is the process this service expects.
    pub fn matches(&self, owner: &Owner) -> bool {
        let Some(want) = self.process.as_deref() else {
            return true;
        };
        if owner.comm.raw() == want {
            return true;
        }
        if let Some(unit) = owner.unit.as_ref().map(crate::escape::Foreign::raw)
            && (unit == want || unit.strip_suffix(".service") == Some(want))
        {
            return true;
        }
        if let Some(c) = owner.container.as_ref().map(crate::escape::Foreign::raw) {
            if c == want {
                return true;
            }
            let id = c.split_once(':').map_or(c, |(_, id)| id);
            if id == want || (want.len() >= 4 && id.starts_with(want)) {
                return true;
            }
        }
        false
    }

    /// `8080/tcp`, `9000-9010/udp`.
    pub fn ports_label(&self) -> String {
        format!("{}/{}", self.ports, self.proto)
    }

    /// The `[[service]]` table for the config file.
    pub fn to_toml(&self) -> String {
        let port = match self.ports.ranges() {
            [(lo, hi)] if lo == hi => lo.to_string(),
            _ => toml_str(&self.ports.to_string()),
        };
        let mut t = format!(
            "[[service]]\nname = {}\nport = {port}\nproto = {}\n",
            toml_str(&self.name),
            toml_str(self.proto.as_str())
        );
        if let Some(p) = &self.process {
            _ = writeln!(t, "process = {}", toml_str(p));
        }
        t
    }
}

/// A TOML basic string; JSON's escaping is valid TOML for the characters we allow.
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::owner;

    fn parse(text: &str) -> Result<Vec<Service>, String> {
        #[derive(Deserialize)]
        struct F {
            service: Vec<ServiceEntry>,
        }
        let f: F = toml::from_str(text).map_err(|e| e.to_string())?;
        validate_all(&f.service).map_err(|e| e.to_string())
    }

    #[test]
    fn ports_as_number_or_list_and_defaults() {
        let s = parse(
            "[[service]]\nname='api'\nport=8080\nprocess='api'\n\
             [[service]]\nname='dns'\nport=' 53 '\nproto='udp'\n\
             [[service]]\nname='pool'\nport='9005-9010,9000'\n",
        )
        .unwrap();
        assert_eq!(s[0].ports_label(), "8080/tcp");
        assert_eq!(s[1].ports_label(), "53/udp");
        assert_eq!(s[2].ports_label(), "9000,9005-9010/tcp");
        assert_eq!(s[2].process, None);
        // What we write parses back to the same declaration.
        for svc in &s {
            assert_eq!(&parse(&svc.to_toml()).unwrap()[0], svc);
        }
    }

    #[test]
    fn bad_declarations_name_the_culprit() {
        for (text, needle) in [
            ("[[service]]\nname='a b'\nport=1\n", "service name"),
            ("[[service]]\nname='a'\nport=70000\n", "outside 1-65535"),
            ("[[service]]\nname='a'\nport='80,x'\n", "\"x\""),
            ("[[service]]\nname='a'\nport='0-10'\n", "0 asks"),
            ("[[service]]\nname='a'\nport=1\nproto='sctp'\n", "sctp"),
            (
                "[[service]]\nname='a'\nport=1\n[[service]]\nname='a'\nport=2\n",
                "twice",
            ),
            (
                "[[service]]\nname='a'\nport='1-5'\n[[service]]\nname='b'\nport=3\n",
                "both declare 3/tcp",
            ),
            ("[[service]]\nname='a'\nport=1\nprocesss='x'\n", "processs"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn process_matches_comm_unit_or_container() {
        let svc = |p: &str| Service {
            name: "x".into(),
            ports: PortSet::parse("1").unwrap(),
            proto: Proto::Tcp,
            process: Some(p.into()),
        };
        let mut o = (*owner(7, "nginx")).clone();
        assert!(svc("nginx").matches(&o));
        assert!(!svc("ngin").matches(&o));
        o.unit = Some("web.service".into());
        assert!(svc("web").matches(&o) && svc("web.service").matches(&o));
        o.container = Some("docker:3f2a9c0d4e5b".into());
        assert!(svc("docker:3f2a9c0d4e5b").matches(&o));
        assert!(svc("3f2a9c").matches(&o));
        assert!(!svc("3f2").matches(&o), "too short a prefix");
    }
}
