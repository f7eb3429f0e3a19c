//! The config file: `$XDG_CONFIG_HOME/portscope/config.toml` (or `--config FILE`).
//!
//! ```toml
//! interval_ms = 1000
//! sysctl_dir = "/etc/sysctl.d"
//! history_minutes = 60      # what `[` / `]` can go back to: this long ...
//! history_mb = 50           # ... or this much memory, whichever comes first
//! [colors]
//! listener = "green"        # names, "#rrggbb" or 0-255
//! [keys]
//! quit = ["q", "ctrl-c"]    # rebinding a command replaces its default keys
//! [protect]                 # warned about before anything stops them (crate::model::protect)
//! programs = ["postgres", "/usr/sbin/haproxy"]
//! [recorder]                # the Failures view reads this log instead of recording live
//! log = "/var/lib/portscope/failures.log"
//! ```
//! Unknown fields are errors that name the culprit; portscope then exits with status 2.
//!
//! The file is the product's: `check` and `services` read its `[[service]]` tables, `why` and
//! `fix` its `[protect]`, the TUI all of it. `[keys]` and `[colors]` are handed to the TUI as
//! written ([`Config::keys`], [`Config::colors`]): it turns them into its key map and theme, and
//! says what is wrong with them (unknown colour names, unknown commands or keys, duplicate
//! bindings) in the same words.

mod error;

pub use error::{ConfigError, ConfigProblem};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The refresh interval's range, for `--interval` and `interval_ms` alike.
pub const INTERVAL_MIN: std::time::Duration = std::time::Duration::from_millis(50);
pub const INTERVAL_MAX: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    interval_ms: Option<u64>,
    sysctl_dir: Option<PathBuf>,
    history_minutes: Option<u64>,
    history_mb: Option<u64>,
    #[serde(default)]
    colors: ColorOverrides,
    #[serde(default)]
    keys: BTreeMap<String, Vec<String>>,
    /// `[[service]]` tables: declared service ports (see crate::guard::service).
    #[serde(default)]
    service: Vec<crate::guard::service::ServiceEntry>,
    /// `[protect]`: processes whose stopping is warned about (see crate::model::protect).
    #[serde(default)]
    protect: crate::model::protect::Protect,
    /// `[recorder]`: the flight recorder's log the Failures view reads.
    #[serde(default)]
    recorder: Recorder,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Recorder {
    log: Option<PathBuf>,
}

/// `[colors]`: each a colour name, "#rrggbb" or 0-255, checked by the TUI's theme.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColorOverrides {
    pub accent: Option<String>,
    pub listener: Option<String>,
    pub conflict: Option<String>,
    pub outgoing: Option<String>,
    pub reserved: Option<String>,
    pub ephemeral: Option<String>,
    pub free: Option<String>,
    pub warning: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file as shown to the user (empty when there is no config file at all).
    pub file: String,
    pub interval_ms: Option<u64>,
    pub sysctl_dir: Option<PathBuf>,
    /// Bounds of the in-memory history (time travel).
    pub history: crate::history::Bounds,
    /// `[keys]` as written: the TUI makes its key map of them.
    pub keys: BTreeMap<String, Vec<String>>,
    /// `[colors]` as written: the TUI makes its theme of them.
    pub colors: ColorOverrides,
    /// Declared service ports, validated.
    pub services: Vec<crate::guard::Service>,
    /// `[protect]`, validated.
    pub protect: crate::model::protect::Protect,
    /// `[recorder] log`: the Failures view reads this log instead of recording live.
    pub recorder_log: Option<PathBuf>,
}

/// Where the config file lives unless `--config` says otherwise.
pub fn default_path() -> Option<PathBuf> {
    crate::paths::config_dir().map(|d| d.join(crate::paths::CONFIG_FILE))
}

/// A config file exists only where no other user can change it or the directories above it:
/// its key bindings and service declarations steer what root's portscope does.
fn trusted(path: &Path) -> Result<(), crate::safefs::FileError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(path) else {
        return Ok(()); // missing or unreadable: the read says so
    };
    let me = nix::unistd::geteuid().as_raw();
    if m.uid() != 0 && m.uid() != me {
        return Err(crate::safefs::FileError {
            path: path.to_path_buf(),
            what: format!(
                "belongs to uid {}, not to root or to uid {me} that portscope runs as: not \
                 read (run with sudo -H or su -, or give --config a file of yours)",
                m.uid()
            ),
            not_found: false,
            denied: false,
        });
    }
    let dir = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("/"));
    crate::safefs::check_trusted_dir(&dir)
}

/// A configuration file is a few kilobytes; past this it is not one.
const MAX_CONFIG: u64 = 1 << 20;

/// Loads `path` (a missing default file is fine; a missing explicit one is not).
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let (path, explicit) = match path {
        Some(p) => (Some(p.to_path_buf()), true),
        None => (default_path(), false),
    };
    let file = match &path {
        // The default location may be in another user's home (sudo without -H): a file they
        // planted there is not ours to obey, and must not stop portscope either: ignored.
        Some(p) if !explicit && trusted(p).is_err() => File::default(),
        Some(p) => match trusted(p)
            .and_then(|()| crate::safefs::read_text(p, crate::safefs::Links::Follow, MAX_CONFIG))
        {
            Ok(text) => toml::from_str::<File>(&text).map_err(|e| ConfigError {
                file: p.display().to_string(),
                problem: ConfigProblem::Syntax(e.message().trim().to_string()),
            })?,
            // The default location may be another user's (HOME kept across su or setpriv):
            // without an explicit --config, unreadable means "no config", not "cannot start".
            Err(e) if !explicit && (e.not_found || e.denied) => File::default(),
            Err(e) => {
                return Err(ConfigError {
                    file: p.display().to_string(),
                    problem: ConfigProblem::Read(e.what),
                });
            }
        },
        None => File::default(),
    };
    let shown = path
        .as_deref()
        .map_or_else(String::new, |p| p.display().to_string());
    let wrong = |problem| ConfigError {
        file: shown.clone(),
        problem,
    };
    if let Some(ms) = file.interval_ms
        && !(INTERVAL_MIN..=INTERVAL_MAX).contains(&std::time::Duration::from_millis(ms))
    {
        return Err(wrong(ConfigProblem::Interval(ms)));
    }
    let services =
        crate::guard::service::validate_all(&file.service).map_err(|e| wrong(e.into()))?;
    file.protect.validate().map_err(|e| wrong(e.into()))?;
    if file.history_minutes == Some(0) || file.history_mb == Some(0) {
        return Err(wrong(ConfigProblem::HistoryZero));
    }
    let defaults = crate::history::Bounds::default();
    Ok(Config {
        services,
        protect: file.protect,
        recorder_log: file.recorder.log,
        interval_ms: file.interval_ms,
        sysctl_dir: file.sysctl_dir,
        history: crate::history::Bounds {
            max_age: file.history_minutes.map_or(defaults.max_age, |m| {
                std::time::Duration::from_secs(m.saturating_mul(60))
            }),
            max_bytes: file.history_mb.map_or(defaults.max_bytes, |m| {
                usize::try_from(m.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
            }),
        },
        keys: file.keys,
        colors: file.colors,
        file: shown,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn history_bounds_come_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "history_minutes = 5\nhistory_mb = 2\n").unwrap();
        let c = super::load(Some(&f)).unwrap();
        assert_eq!(c.history.max_age, std::time::Duration::from_secs(300));
        assert_eq!(c.history.max_bytes, 2 * 1024 * 1024);
        std::fs::write(&f, "history_mb = 0\n").unwrap();
        let e = super::load(Some(&f)).unwrap_err();
        assert!(
            matches!(e.problem, super::ConfigProblem::HistoryZero),
            "{e}"
        );
        assert!(e.to_string().contains("history_mb"), "{e}");
        std::fs::write(&f, "").unwrap();
        let c = super::load(Some(&f)).unwrap();
        assert_eq!(c.history.max_bytes, 50 * 1024 * 1024);
    }
}
