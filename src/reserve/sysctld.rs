//! Which configuration file sets `ip_local_reserved_ports` at boot, following sysctl.d(5).
//!
//! Files named `*.conf` in the layout's directories are merged into one list sorted by file name;
//! a file in an earlier directory masks a same-named file in a later one (so /etc overrides
//! /usr/lib, and a symlink to /dev/null disables a vendor file). Files are applied in that order
//! and, for one key, the last assignment wins; `/etc/sysctl.conf` is read after all of them
//! (`sysctl --system`). The audit only reads; the layout's roots are configurable so tests and
//! image builders never touch the host's /etc.

use crate::portset::PortSet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The key as sysctl.d spells it.
pub const KEY: &str = "net.ipv4.ip_local_reserved_ports";

/// Where sysctl configuration lives, in precedence order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SysctlLayout {
    /// sysctl.d directories; for a same-named file the first directory wins.
    pub dirs: Vec<PathBuf>,
    /// The legacy single file, applied after every directory.
    pub conf: Option<PathBuf>,
}

impl SysctlLayout {
    pub const SYSTEM_DIRS: [&'static str; 4] = [
        "/etc/sysctl.d",
        "/run/sysctl.d",
        "/usr/local/lib/sysctl.d",
        "/usr/lib/sysctl.d",
    ];
    pub const SYSTEM_CONF: &'static str = "/etc/sysctl.conf";

    /// The host's layout.
    pub fn system() -> Self {
        Self::under_root(Path::new("/"))
    }

    /// The standard layout below `root` (an image, a container's root, a test's temp dir), as
    /// `systemd-sysctl --root` reads it.
    pub fn under_root(root: &Path) -> Self {
        let join = |p: &str| root.join(p.trim_start_matches('/'));
        SysctlLayout {
            dirs: Self::SYSTEM_DIRS.iter().map(|d| join(d)).collect(),
            conf: Some(join(Self::SYSTEM_CONF)),
        }
    }

    /// The same layout with `dir` in place of the first (administrator's) directory: where
    /// portscope writes its drop-in and what everything else is weighed against.
    #[must_use]
    pub fn with_admin_dir(mut self, dir: &Path) -> Self {
        match self.dirs.first_mut() {
            Some(first) => *first = dir.to_path_buf(),
            None => self.dirs.push(dir.to_path_buf()),
        }
        self
    }

    /// The directory portscope writes to.
    pub fn admin_dir(&self) -> Option<&Path> {
        self.dirs.first().map(PathBuf::as_path)
    }
}

/// Something wrong with an assignment that sysctl will trip over at boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// sysctl.d writes the value byte for byte, quotes included, and the kernel rejects it;
    /// `sysctl -w` on a shell line works only because the shell strips them.
    Quoted {
        message: String,
    },
    Invalid {
        message: String,
    },
}

impl Problem {
    pub fn message(&self) -> &str {
        match self {
            Problem::Quoted { message } | Problem::Invalid { message } => message,
        }
    }
}

/// One line that assigns the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub file: PathBuf,
    /// 1-based.
    pub line: usize,
    /// The value as written (after trimming).
    pub raw: String,
    /// The parsed list, when it parses.
    pub value: Option<PortSet>,
    /// The line starts with `-`: sysctl ignores a failure to set it.
    pub ignore_errors: bool,
    pub problem: Option<Problem>,
}

/// A line assigning some key, as sysctl.d(5) reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub line: usize,
    /// Normalised to dots.
    pub key: String,
    pub value: String,
    pub ignore_errors: bool,
}

/// Normalises a key written with `/` separators (`net/ipv4/ip_local_reserved_ports`) to dots.
/// As in sysctl.d(5), the first separator decides: after a leading `/` form, dots are literal
/// parts of a name (an interface like `eth0.100`) and become slashes in the dotted form.
pub fn normalise_key(key: &str) -> String {
    let first_sep = key.find(['.', '/']);
    match first_sep.map(|i| key.as_bytes()[i]) {
        Some(b'/') => key
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

/// Parses a sysctl.d file's text into assignments; comments (`#`, `;`), blank lines and lines
/// without `=` are skipped (sysctl warns about the latter and goes on).
pub fn parse_conf(text: &str) -> Vec<Assignment> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let k = k.trim();
        let (ignore_errors, k) = match k.strip_prefix('-') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, k),
        };
        out.push(Assignment {
            line: i + 1,
            key: normalise_key(k),
            value: v.trim().to_string(),
            ignore_errors,
        });
    }
    out
}

/// Validates a value the way the kernel will see it from a sysctl.d file.
pub fn check_value(raw: &str) -> (Option<PortSet>, Option<Problem>) {
    let quoted = raw.len() >= 2
        && ((raw.starts_with('"') && raw.ends_with('"'))
            || (raw.starts_with('\'') && raw.ends_with('\'')));
    if quoted {
        let inner = &raw[1..raw.len() - 1];
        let hint = match PortSet::parse(inner) {
            Ok(set) => format!("; write it without quotes: {KEY} = {set}"),
            Err(e) => format!("; inside them, {e}"),
        };
        return (
            None,
            Some(Problem::Quoted {
                message: format!(
                    "quoted value {raw}: sysctl.d passes quotes to the kernel, which rejects \
                     the value at boot{hint}"
                ),
            }),
        );
    }
    match PortSet::parse(raw) {
        // The kernel's list parser stops at a space and rejects the write; only portscope's
        // parser (made for what people type) tolerates them.
        Ok(set) if raw.contains(char::is_whitespace) => (
            None,
            Some(Problem::Invalid {
                message: format!(
                    "spaces inside the list {raw:?}: the kernel rejects the value at boot; \
                     write it as {KEY} = {set}"
                ),
            }),
        ),
        Ok(set) => (Some(set), None),
        Err(e) => (
            None,
            Some(Problem::Invalid {
                message: format!("{e}; the kernel rejects the whole value at boot"),
            }),
        ),
    }
}

/// The files sysctl would read, in the order it applies them, after masking.
pub fn effective_files(layout: &SysctlLayout) -> Vec<PathBuf> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in &layout.dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue; // a missing directory is normal (/run/sysctl.d, /usr/local/lib/sysctl.d)
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".conf") {
                continue;
            }
            by_name.entry(name).or_insert_with(|| entry.path());
        }
    }
    let mut files: Vec<PathBuf> = by_name.into_values().collect();
    if let Some(conf) = &layout.conf {
        files.push(conf.clone());
    }
    files
}

/// What the configuration files will do with the key at boot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Audit {
    pub layout: SysctlLayout,
    /// Every assignment of the key, in the order sysctl applies them.
    pub settings: Vec<Setting>,
    /// Files that could not be read (permissions, not a file): their lines are unknown.
    pub unreadable: Vec<String>,
    /// Files masked by a same-named file in an earlier directory (only those setting the key).
    pub masked: Vec<Masked>,
    /// False when a file that could not be read comes after every valid assignment: it may set
    /// the key, so the boot value is not known.
    pub boot_known: bool,
    /// The files behind `unreadable`, each with the number of assignments read before it.
    #[serde(skip)]
    pub unreadable_files: Vec<(PathBuf, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Masked {
    pub file: PathBuf,
    pub by: PathBuf,
}

impl Audit {
    /// The assignment that takes effect at boot: the last one. A value the kernel rejects still
    /// "wins" in the sense that it is the last one tried; the boot value is then whatever an
    /// earlier line set (sysctl applies each line in turn and a rejected write changes nothing).
    pub fn winner(&self) -> Option<&Setting> {
        self.settings.last()
    }

    /// The value the kernel will hold after boot, and the line that set it; `None` when no valid
    /// line sets the key (the kernel default, an empty list) or when it is not known (see
    /// [`Audit::boot_known`]).
    pub fn boot_value(&self) -> Option<&Setting> {
        if !self.boot_known {
            return None;
        }
        self.settings.iter().rev().find(|s| s.value.is_some())
    }

    pub fn problems(&self) -> impl Iterator<Item = &Setting> {
        self.settings.iter().filter(|s| s.problem.is_some())
    }

    /// Assignments sysctl applies after a file called `name` in the administrator's (first)
    /// directory, i.e. those that would override portscope's drop-in there. A same-named file in
    /// a later directory is masked by it, so it does not count.
    pub fn after_dropin(&self, name: &str) -> Vec<&Setting> {
        self.settings
            .iter()
            .filter(|s| self.is_after(&s.file, name))
            .collect()
    }

    /// Whether sysctl applies `file` after a drop-in named `dropin` in the administrator's
    /// directory (so it wins over the drop-in).
    fn is_after(&self, file: &Path, dropin: &str) -> bool {
        self.layout.conf.as_deref() == Some(file)
            || file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().as_ref() > dropin)
    }

    /// What the configuration sets at boot *under* a drop-in named `dropin`: the value a drop-in
    /// written now replaces. Files applied after the drop-in win over it anyway (see
    /// [`Audit::after_dropin`]), and the drop-in itself is left out. `Err` names the unreadable
    /// file that makes it unknown.
    pub fn value_under_dropin(&self, dropin: &str) -> Result<Option<&Setting>, BootUnknown> {
        let before = |f: &Path| {
            !self.is_after(f, dropin) && f.file_name().is_none_or(|n| n.to_string_lossy() != dropin)
        };
        let winner = self
            .settings
            .iter()
            .enumerate()
            .rev()
            .find(|(_, s)| before(&s.file) && s.value.is_some());
        for (i, (f, at)) in self.unreadable_files.iter().enumerate() {
            // An unreadable file matters unless a valid assignment is applied after it.
            if before(f) && winner.is_none_or(|(w, _)| w < *at) {
                return Err(BootUnknown {
                    reason: self.unreadable.get(i).cloned().unwrap_or_default(),
                });
            }
        }
        Ok(winner.map(|(_, s)| s))
    }

    /// What a drop-in named `dropin` written now must keep: the value the configuration sets
    /// under it *and* the value the drop-in itself holds. A drop-in is replaced whole, so ports
    /// only it reserves at boot (an earlier apply, an administrator's edit) would otherwise be
    /// dropped in silence at the next boot. `Err` when what lies under it cannot be known.
    pub fn boot_to_keep(&self, dropin: &str) -> Result<Option<super::BootValue>, BootUnknown> {
        let under = self.value_under_dropin(dropin)?;
        let own = self.settings.iter().rev().find(|s| {
            s.value.is_some()
                && s.file
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy() == dropin)
                && s.file.parent() == self.layout.admin_dir()
        });
        let mut value = crate::portset::PortSet::new();
        let mut sources = Vec::new();
        for s in under.into_iter().chain(own) {
            if let Some(v) = &s.value {
                value = value.union(v);
                sources.push(format!("{}:{}", s.file.display(), s.line));
            }
        }
        Ok((!sources.is_empty()).then(|| super::BootValue {
            value,
            source: sources.join(", "),
        }))
    }

    /// What an apply planned from and must find unchanged when it acts: every assignment of the
    /// key and every file that could not be read.
    pub fn seen(&self) -> super::BootSeen {
        super::BootSeen {
            layout: self.layout.clone(),
            settings: self.settings.clone(),
            unreadable: self.unreadable.clone(),
        }
    }

    /// Assignments that come after a file named `file`, i.e. win over it; empty when `file`
    /// is the winner or does not set the key.
    pub fn overriding(&self, file: &Path) -> Vec<&Setting> {
        match self.settings.iter().rposition(|s| s.file == file) {
            Some(i) => self.settings[i + 1..].iter().collect(),
            None => Vec::new(),
        }
    }
}

/// A file applied at boot before the drop-in could not be read: what the drop-in would sit on
/// is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the value set at boot cannot be known (could not read {reason})")]
pub struct BootUnknown {
    /// Why the file could not be read (it names the file).
    pub reason: String,
}

/// Reads every file of the layout and collects the assignments of [`KEY`]. Files are read as
/// bytes (sysctl does not care about UTF-8), size-capped, and a FIFO or device is refused
/// unread (see [`crate::safefs::read_config`]).
pub fn audit(layout: &SysctlLayout) -> Audit {
    let mut settings = Vec::new();
    let mut unreadable = Vec::new();
    let mut boot_unknown_after = None;
    let mut unreadable_files = Vec::new();
    for file in effective_files(layout) {
        let bytes = match crate::safefs::read_config(&file) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                unreadable.push(e.to_string());
                unreadable_files.push((file.clone(), settings.len()));
                boot_unknown_after = Some(settings.len());
                continue;
            }
        };
        settings.extend(settings_in(&file, &String::from_utf8_lossy(&bytes)));
    }
    let masked = masked_settings(layout);
    // A file that could not be read may set the key; if it comes after the last valid
    // assignment, the boot value is unknown rather than that assignment's.
    let boot_known = match boot_unknown_after {
        None => true,
        Some(n) => settings[n..].iter().any(|s: &Setting| s.value.is_some()),
    };
    Audit {
        layout: layout.clone(),
        settings,
        unreadable,
        masked,
        boot_known,
        unreadable_files,
    }
}

fn settings_in(file: &Path, text: &str) -> Vec<Setting> {
    parse_conf(text)
        .into_iter()
        .filter(|a| a.key == KEY)
        .map(|a| {
            let (value, problem) = check_value(&a.value);
            Setting {
                file: file.to_path_buf(),
                line: a.line,
                raw: a.value,
                value,
                ignore_errors: a.ignore_errors,
                problem,
            }
        })
        .collect()
}

/// Files that set the key but never run because an earlier directory has the same name: worth
/// saying, since editing them has no effect.
fn masked_settings(layout: &SysctlLayout) -> Vec<Masked> {
    let mut first: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut out = Vec::new();
    for dir in &layout.dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<_> = entries.flatten().collect();
        names.sort_by_key(std::fs::DirEntry::file_name);
        for entry in names {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".conf") {
                continue;
            }
            match first.get(&name) {
                None => {
                    first.insert(name, entry.path());
                }
                Some(by) => {
                    let sets_key = crate::safefs::read_config(&entry.path())
                        .ok()
                        .flatten()
                        .is_some_and(|b| {
                            !settings_in(&entry.path(), &String::from_utf8_lossy(&b)).is_empty()
                        });
                    if sets_key {
                        out.push(Masked {
                            file: entry.path(),
                            by: by.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Warnings naming each file that sysctl applies after portscope's drop-in (`dropin` is its file
/// name) and what that does at boot to `value`, the list the drop-in sets.
pub fn override_warnings(after: &[&Setting], dropin: &str, value: &PortSet) -> Vec<String> {
    after
        .iter()
        .map(|s| {
            let effect = match &s.value {
                Some(v) if v == value => "it sets the same value, so no harm today".to_string(),
                Some(v) if v.is_empty() => "at boot the list is emptied instead".to_string(),
                Some(v) => format!("at boot the kernel gets {v} instead"),
                None => {
                    return format!(
                        "{}:{} sets {KEY} = {} after {dropin}; the kernel rejects that value at \
                         boot, so the drop-in's value stays, but fix or remove the line",
                        s.file.display(),
                        s.line,
                        s.raw
                    );
                }
            };
            format!(
                "{}:{} sets {KEY} = {} and is applied after {dropin}, so it overrides the \
                 drop-in: {effect}",
                s.file.display(),
                s.line,
                s.raw
            )
        })
        .collect()
}
