//! What stops a socket that a service manager holds (systemd socket activation), and which
//! signals `why` proposes for a socket's holders: pure, from the snapshot alone. Asking systemd
//! itself (`systemctl list-sockets`) is I/O and lives in action::units.
//!
//! The guess: a service that shares the socket runs in `foo.service` (or a per-connection
//! instance `foo@….service`), and systemd's convention pairs it with `foo.socket` (the default
//! `Service=` of a socket unit is the unit of the same name). Said to be a guess, with the
//! command that confirms it.

use crate::analyze::remedy_kind::RemedyKind;
use crate::model::role::manager_label;
use crate::model::{ProcessRole, Proto, Socket};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketUnitHint {
    /// `foo.socket`, when known or guessed.
    pub unit: Option<String>,
    /// The service it activates, when known.
    pub activates: Option<String>,
    /// True when the unit name was derived from a service name, not read from systemd.
    pub guessed: bool,
}

impl SocketUnitHint {
    /// The command that stops the socket (and its service), or the one that finds the unit.
    pub fn command(&self, proto: Proto, port: u16) -> String {
        match (&self.unit, &self.activates) {
            (Some(u), Some(s)) => format!("systemctl stop {u} {s}"),
            (Some(u), None) => format!("systemctl stop {u}"),
            (None, _) => find_command(proto, port),
        }
    }

    /// One sentence: what to stop and how sure we are.
    pub fn advice(&self, proto: Proto, port: u16) -> String {
        match &self.unit {
            Some(_) if self.guessed => format!(
                "stop its socket unit: {} (guessed from the service's name; `{}` shows the unit that listens)",
                self.command(proto, port),
                find_command(proto, port)
            ),
            Some(_) => format!(
                "stop its socket unit: {} (systemd lists it as listening on {proto} port {port})",
                self.command(proto, port)
            ),
            None => format!(
                "stop the socket unit that listens on it; find it with: {}",
                find_command(proto, port)
            ),
        }
    }
}

fn find_command(proto: Proto, port: u16) -> String {
    let kind = match proto {
        Proto::Tcp => "Stream",
        Proto::Udp => "Datagram",
    };
    format!("systemctl list-sockets --all --show-types | grep -E ':{port} +{kind}'")
}

/// The guess from the services that share the socket (see the module comment).
pub fn guess(s: &Socket) -> SocketUnitHint {
    let service = s
        .owners
        .iter()
        .filter_map(|o| o.unit.as_ref().map(crate::model::Foreign::raw))
        .find(|u| u.ends_with(".service"));
    match service {
        Some(svc) => {
            let stem = svc.trim_end_matches(".service");
            // foo@instance.service is a connection of an Accept=yes foo.socket.
            let (base, templated) = match stem.split_once('@') {
                Some((b, _)) => (b, true),
                None => (stem, false),
            };
            SocketUnitHint {
                unit: Some(format!("{base}.socket")),
                activates: (!templated).then(|| svc.to_string()),
                guessed: true,
            }
        }
        None => SocketUnitHint {
            unit: None,
            activates: None,
            guessed: true,
        },
    }
}

/// Holders that are never signalled, as "systemd (pid 1, the host's init)".
pub fn managers(s: &Socket) -> Vec<String> {
    s.owners
        .iter()
        .filter(|o| ProcessRole::of_owner(o).never_signalled())
        .map(|o| manager_label(o))
        .collect()
}

pub fn stop_socket_unit(s: &Socket, managers: &[String], hint: &SocketUnitHint) -> SignalRemedy {
    SignalRemedy {
        action: RemedyKind::StopSocketUnit,
        command: hint.command(s.proto, s.local_port),
        text: format!(
            "{} holds the socket and is never signalled (a manager keeps listeners open for the services it starts on demand): {}",
            managers.join(" and "),
            hint.advice(s.proto, s.local_port)
        ),
    }
}

/// A remedy line for `why`: (action, command, text), as `why` prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalRemedy {
    pub action: RemedyKind,
    pub command: String,
    pub text: String,
}

/// What `why` proposes for the processes holding `s`: a signal for each one that may be
/// signalled (saying what it does to a container's init), and the socket unit to stop when the
/// host's init or a service manager holds it.
pub fn signal_remedies(s: &Socket) -> Vec<SignalRemedy> {
    let mut out = Vec::new();
    let managers = managers(s);
    if !managers.is_empty() {
        out.push(stop_socket_unit(s, &managers, &guess(s)));
    }
    for o in s.owners.iter() {
        let role = ProcessRole::of_owner(o);
        if role.never_signalled() {
            continue;
        }
        let mut text = format!("send SIGTERM to {}", o.described());
        if role == ProcessRole::NamespaceInit {
            text.push_str(
                "; it is PID 1 of its own PID namespace (a container's init): it ignores SIGTERM unless it handles it, and SIGKILL ends every process of that container",
            );
        } else if o.unit.is_some() || o.container.is_some() {
            text.push_str("; its supervisor may start it again");
        }
        if !managers.is_empty() {
            text.push_str("; the port stays held by the service manager");
        }
        text.push_str(
            " (key K in portscope checks it is still the same process, holding this socket)",
        );
        out.push(SignalRemedy {
            action: RemedyKind::Kill,
            command: format!("kill {}", o.pid),
            text,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_say_so() {
        use crate::model::no_owners;
        use crate::model::test_support::{listener, owner};
        let mut s = listener(22);
        s.owners = no_owners();
        let g = guess(&s);
        assert_eq!(g.unit, None);
        assert!(g.advice(Proto::Tcp, 80).contains("list-sockets"));
        let mut o = (*owner(500, "sshd")).clone();
        o.unit = Some("sshd@3-10.0.0.1:22-10.0.0.9:5000.service".into());
        s.owners = std::sync::Arc::from([std::sync::Arc::new(o)]);
        let g = guess(&s);
        assert_eq!(
            (g.unit.as_deref(), g.activates.as_deref()),
            (Some("sshd.socket"), None)
        );
        assert!(g.advice(Proto::Tcp, 22).contains("guessed"), "{g:?}");
    }
}
