//! The network-namespace picker: the TUI shows the namespace it was started in, every
//! namespace at once, or one of them (a container's), and `w` ("which namespace") switches between them without a
//! restart. Kept apart from `app` so the TUI can be restructured around it.

use crate::collect::allns::{AllNetnsOptions, collect_all};
use crate::collect::{CollectError, CollectOptions};
use crate::model::{Snapshot, Socket};

/// Which namespaces the collector reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// The namespace the TUI started with (`--netns`, or its own): what it always showed.
    #[default]
    Start,
    /// Every namespace: listeners and UDP of each, everything of the start namespace.
    All,
    /// One namespace, every socket of it.
    One { inode: u64, label: String },
}

/// The picker's state: the scope and the namespaces the last all-namespace snapshot listed.
#[derive(Debug, Clone, Default)]
pub struct Picker {
    pub scope: Scope,
    known: Vec<(u64, String)>,
    /// How many namespaces the all-namespace snapshot on its way in listed: none until the
    /// first one arrives (a count before it would be the last visit's, or a guess).
    counted: Option<usize>,
}

impl Picker {
    /// Remembers the namespaces of an all-namespace snapshot, to offer them one by one.
    /// Returns whether the title changed.
    pub fn observe(&mut self, snap: &Snapshot) -> bool {
        if self.scope != Scope::All || snap.namespaces.is_empty() {
            return false;
        }
        self.known = snap
            .namespaces
            .iter()
            .filter(|n| !n.own)
            .map(|n| (n.inode, n.label.clone()))
            .collect();
        let before = self.counted.replace(snap.namespaces.len());
        before != self.counted
    }

    /// start → all → each other namespace → start.
    pub fn advance(&mut self) -> Scope {
        self.scope = match &self.scope {
            Scope::Start => {
                self.counted = None;
                Scope::All
            }
            Scope::All => self
                .known
                .first()
                .map_or(Scope::Start, |(i, l)| Scope::One {
                    inode: *i,
                    label: l.clone(),
                }),
            Scope::One { inode, .. } => {
                let at = self.known.iter().position(|(i, _)| i == inode);
                match at.and_then(|a| self.known.get(a + 1)) {
                    Some((i, l)) => Scope::One {
                        inode: *i,
                        label: l.clone(),
                    },
                    None => Scope::Start,
                }
            }
        };
        self.scope.clone()
    }

    /// For the title bar: `netns: all (12)`, `netns: docker: web`; `netns: all` until the
    /// first all-namespace snapshot has counted them.
    pub fn title(&self) -> Option<String> {
        match &self.scope {
            Scope::Start => None,
            Scope::All => Some(match self.counted {
                Some(n) => format!("netns: all ({n})"),
                None => "netns: all".to_string(),
            }),
            // Labels already say what they are ("netns: blue", "docker: web").
            Scope::One { label, .. } if label.starts_with("netns") => Some(label.clone()),
            Scope::One { label, .. } => Some(format!("netns: {label}")),
        }
    }
}

/// One snapshot of the scope.
/// The start namespace reuses the incremental owner cache (see `collect::owner_cache`).
pub fn collect_scope(
    scope: &Scope,
    opts: &CollectOptions,
    cache: &mut crate::collect::owner_cache::OwnerCache,
) -> Result<Snapshot, CollectError> {
    match scope {
        Scope::Start => crate::collect::collect_with(opts, Some(cache)),
        Scope::All => collect_all(&AllNetnsOptions {
            skip_owners: opts.skip_owners,
            ..AllNetnsOptions::default()
        }),
        Scope::One { inode, .. } => collect_all(&AllNetnsOptions {
            focus: Some(*inode),
            only: vec![*inode],
            skip_owners: opts.skip_owners,
            ..AllNetnsOptions::default()
        }),
    }
}

/// Why an action that works through a namespace (closing a connection, reserving its port)
/// cannot be offered for `s`: actions reach the start namespace only.
pub fn foreign(snap: &Snapshot, s: &Socket) -> Option<String> {
    if s.netns == 0 {
        return None;
    }
    let ns = snap.namespaces.iter().find(|n| n.inode == s.netns);
    if ns.is_some_and(|n| n.own) && snap.netns.target == "all" {
        return None;
    }
    Some(format!(
        "{} {} lives in network namespace {}: start portscope there (--netns PID) to act on it",
        s.proto,
        s.local(),
        ns.map_or_else(|| format!("net:[{}]", s.netns), |n| n.label.clone())
    ))
}

/// An all-namespace snapshot cut down to the start namespace (for the why verdict, whose
/// probe runs there); `None` when the snapshot is of one namespace already.
pub fn start_only(snap: &Snapshot) -> Option<Snapshot> {
    if snap.namespaces.is_empty() {
        return None;
    }
    let mut own = snap.clone();
    own.sockets.retain(|s| s.netns == snap.netns.inode);
    own.namespaces.clear();
    Some(own)
}

/// The label of a socket's namespace, for the namespace column.
pub fn label_of(snap: &Snapshot, s: &Socket) -> String {
    snap.namespaces
        .iter()
        .find(|n| n.inode == s.netns)
        .map_or_else(String::new, |n| n.label.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NetnsSummary;

    fn ns(inode: u64, label: &str, own: bool) -> NetnsSummary {
        NetnsSummary {
            inode,
            label: label.into(),
            mounts: vec![],
            pid: None,
            own,
            full: own,
            sockets: 0,
            error: None,
        }
    }

    #[test]
    fn cycles_start_all_each_namespace() {
        let mut p = Picker::default();
        assert_eq!(p.advance(), Scope::All);
        // Nothing counted yet: no number that the next snapshot would contradict.
        assert_eq!(p.title().as_deref(), Some("netns: all"));
        let mut snap = crate::model::test_support::snapshot(vec![]);
        snap.netns.target = "all".into();
        snap.namespaces = vec![
            ns(1, "host", true),
            ns(2, "docker: web", false),
            ns(3, "netns: blue", false),
        ];
        assert!(p.observe(&snap));
        assert_eq!(p.title().as_deref(), Some("netns: all (3)"));
        assert!(!p.observe(&snap), "the same count again changes nothing");
        assert_eq!(
            p.advance(),
            Scope::One {
                inode: 2,
                label: "docker: web".into()
            }
        );
        assert_eq!(p.title().as_deref(), Some("netns: docker: web"));
        assert_eq!(
            p.advance(),
            Scope::One {
                inode: 3,
                label: "netns: blue".into()
            }
        );
        assert_eq!(p.advance(), Scope::Start);
        assert_eq!(p.title(), None);
        let mut s = crate::model::test_support::listener(80);
        s.netns = 2;
        assert!(foreign(&snap, &s).is_some_and(|w| w.contains("docker: web")));
        s.netns = 1;
        assert_eq!(foreign(&snap, &s), None);
    }
}
