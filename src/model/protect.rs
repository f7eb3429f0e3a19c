//! The `[protect]` section of the config file: processes whose loss the operator wants named
//! before anything stops them, beside the built-in ones (remote logins, resolvers, the
//! operator's own session).
//!
//! ```toml
//! [protect]
//! programs = ["postgres", "/usr/sbin/haproxy"]   # a command name, or an absolute exe path
//! units = ["payments.service"]
//! containers = ["db"]
//! why = "payments database: losing it pages the on-call"
//! ```

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protect {
    /// A command name (matched against comm, which any process can choose), or an absolute
    /// path (matched against /proc/PID/exe).
    #[serde(default)]
    pub programs: Vec<String>,
    /// systemd units (`payments.service`, or `payments` for it).
    #[serde(default)]
    pub units: Vec<String>,
    /// Containers: a name, `runtime:id` as portscope shows it, or an id prefix (4+ characters).
    #[serde(default)]
    pub containers: Vec<String>,
    /// Said in the warning: what losing it costs.
    #[serde(default)]
    pub why: Option<String>,
}

/// What is wrong in `[protect]`: one line naming the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtectError {
    #[error("[protect] {0}: an entry is empty")]
    Empty(&'static str),
    #[error(
        "[protect] programs: {0:?} is neither a command name nor an absolute path (a path \
         starts with /, has no . or .. parts, does not end in /)"
    )]
    Path(String),
    #[error(
        "[protect] programs: {0:?} is longer than 15 bytes: the kernel keeps 15 of a command \
         name, so it never matches; give the program's absolute path instead"
    )]
    LongName(String),
    #[error("[protect] {0}: {1:?} contains a control character")]
    Control(&'static str, String),
}

impl Protect {
    /// Checks every value, so a typo is an error at start rather than a protection that never
    /// matches.
    pub fn validate(&self) -> Result<(), ProtectError> {
        let lists: [(&'static str, &Vec<String>); 3] = [
            ("programs", &self.programs),
            ("units", &self.units),
            ("containers", &self.containers),
        ];
        for (name, list) in lists {
            for v in list {
                if v.trim().is_empty() {
                    return Err(ProtectError::Empty(name));
                }
                if v.chars().any(char::is_control) {
                    return Err(ProtectError::Control(name, v.clone()));
                }
            }
        }
        for p in &self.programs {
            if p.contains('/') {
                let bad = !p.starts_with('/')
                    || p.ends_with('/')
                    || p.split('/').any(|part| part == "." || part == "..");
                if bad {
                    return Err(ProtectError::Path(p.clone()));
                }
            } else if p.len() > 15 {
                return Err(ProtectError::LongName(p.clone()));
            }
        }
        if let Some(w) = &self.why
            && w.chars().any(char::is_control)
        {
            return Err(ProtectError::Control("why", w.clone()));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.programs.is_empty() && self.units.is_empty() && self.containers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programs(p: &[&str]) -> Protect {
        Protect {
            programs: p.iter().map(ToString::to_string).collect(),
            ..Protect::default()
        }
    }

    #[test]
    fn names_and_absolute_paths_are_taken_and_the_rest_refused() {
        assert_eq!(
            programs(&["postgres", "/usr/sbin/haproxy"]).validate(),
            Ok(())
        );
        for bad in ["bin/x", "/usr/sbin/", "/usr/../bin/x", "./x"] {
            assert!(
                matches!(programs(&[bad]).validate(), Err(ProtectError::Path(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            programs(&["a-very-long-program-name"]).validate(),
            Err(ProtectError::LongName(_))
        ));
        assert!(matches!(
            programs(&[" "]).validate(),
            Err(ProtectError::Empty(_))
        ));
        let p = Protect {
            why: Some("pages\x1b[2J".into()),
            ..Protect::default()
        };
        assert!(matches!(p.validate(), Err(ProtectError::Control(..))));
    }
}
