//! One change of the runtime value and the drop-in, all or nothing: each step that fails puts
//! back the steps before it, and the message says exactly what was changed and put back.

use super::runtime::{self, shown};
use crate::portset::PortSet;
use crate::safefs::{Dir, Existing};

/// Test hook: `PORTSCOPE_FAILPOINT=NAME` makes portscope SIGKILL itself at the step `NAME`, so
/// the crash-recovery tests can stop an apply or undo at every step, deterministically.
pub fn failpoint(name: &str) {
    if std::env::var_os("PORTSCOPE_FAILPOINT").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// The drop-in's part of a change: from what is there now to what should be.
pub struct DropinStep {
    pub dir: Dir,
    pub name: String,
    pub from: Existing,
    pub to: Existing,
}

pub struct Change {
    /// The kernel's value now, and the value to set.
    pub runtime_from: PortSet,
    pub runtime_to: PortSet,
    pub dropin: Option<DropinStep>,
    /// Names the failpoints (`apply`, `undo`, `finish`).
    pub tag: &'static str,
}

/// A change that did not happen: the message, and whether everything is as it was before.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub clean: bool,
}

impl Change {
    pub fn run(self) -> Result<(), Failure> {
        let runtime_changed = self.runtime_from != self.runtime_to;
        if runtime_changed && let Err((e, _)) = runtime::set(&self.runtime_to) {
            // What the kernel holds now decides whether anything needs putting back, never
            // what the failed write was thought to have done: a claim of "nothing was changed"
            // is made only after reading the value whole and finding the one from before.
            let changed = runtime::read().map_or(true, |now| now != self.runtime_from);
            return Err(self.put_back(&e, changed, false));
        }
        failpoint(&format!("{}:after-runtime", self.tag));
        if let Some(d) = &self.dropin
            && d.from != d.to
            && let Err(e) = d.dir.restore(&d.name, &d.to)
        {
            // Whether the rename happened before the failure (a failed directory fsync) is
            // read back rather than guessed.
            let replaced = d.dir.inspect(&d.name).map_or(true, |now| now != d.from);
            return Err(self.put_back(
                &format!("cannot write the drop-in: {e}"),
                runtime_changed,
                replaced,
            ));
        }
        failpoint(&format!("{}:after-dropin", self.tag));
        Ok(())
    }

    /// Puts back the runtime value (when `runtime` was changed) and the drop-in (when `dropin`
    /// was replaced), and says so truthfully.
    fn put_back(&self, what: &str, runtime: bool, dropin: bool) -> Failure {
        let mut restored = Vec::new();
        let mut left = Vec::new();
        if dropin && let Some(d) = &self.dropin {
            match d.dir.restore(&d.name, &d.from) {
                Ok(()) => restored.push(format!(
                    "{} as it was",
                    d.dir.path().join(&d.name).display()
                )),
                Err(e) => left.push(format!(
                    "{} could not be put back ({e}); it was {}",
                    d.dir.path().join(&d.name).display(),
                    d.from.describe()
                )),
            }
        }
        if runtime {
            match runtime::set(&self.runtime_from) {
                Ok(()) => restored.push(format!("the runtime value {}", shown(&self.runtime_from))),
                Err((e, _)) => left.push(format!(
                    "the runtime value could not be put back ({e}); set it with: sysctl -w \
                     net.ipv4.ip_local_reserved_ports={}",
                    self.runtime_from
                )),
            }
        }
        let message = if !left.is_empty() {
            format!("{what}; {}", left.join("; "))
        } else if restored.is_empty() {
            format!("{what}; nothing was changed")
        } else {
            format!(
                "{what}; put back {}: nothing is changed",
                restored.join(" and ")
            )
        };
        Failure {
            message,
            clean: left.is_empty(),
        }
    }
}
