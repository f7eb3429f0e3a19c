//! The config file: `$XDG_CONFIG_HOME/portscope/config.toml` (or `--config FILE`).
//!
//! ```toml
//! interval_ms = 1000
//! sysctl_dir = "/etc/sysctl.d"
//! [colors]
//! listener = "green"        # names, "#rrggbb" or 0-255
//! [keys]
//! quit = ["q", "ctrl-c"]    # rebinding a command replaces its default keys
//! ```
//! Unknown fields, unknown colour names, unknown commands or keys and duplicate bindings are
//! errors that name the culprit; portscope then exits with status 2.

use super::keymap::KeyMap;
use super::theme::{ColorOverrides, Theme};
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
    #[serde(default)]
    colors: ColorOverrides,
    #[serde(default)]
    keys: BTreeMap<String, Vec<String>>,
    /// `[[service]]` tables: declared service ports (see crate::guard::service).
    #[serde(default)]
    service: Vec<crate::guard::service::ServiceEntry>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub interval_ms: Option<u64>,
    pub sysctl_dir: Option<PathBuf>,
    pub keymap: KeyMap,
    pub theme: Theme,
    /// Declared service ports, validated.
    pub services: Vec<crate::guard::Service>,
}

/// Where the config file lives unless `--config` says otherwise.
pub fn default_path() -> Option<PathBuf> {
    crate::paths::config_dir().map(|d| d.join("config.toml"))
}

/// Loads `path` (a missing default file is fine; a missing explicit one is not).
pub fn load(path: Option<&Path>, no_color: bool) -> Result<Config, String> {
    let (path, explicit) = match path {
        Some(p) => (Some(p.to_path_buf()), true),
        None => (default_path(), false),
    };
    let file = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => toml::from_str::<File>(&text).map_err(|e| {
                let msg = e.message().to_string();
                format!("config file {}: {}", p.display(), msg.trim())
            })?,
            // The default location may be another user's (HOME kept across su or setpriv):
            // without an explicit --config, unreadable means "no config", not "cannot start".
            Err(e)
                if !explicit
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                    ) =>
            {
                File::default()
            }
            Err(e) => return Err(format!("config file {}: {e}", p.display())),
        },
        None => File::default(),
    };
    let shown = path
        .as_deref()
        .map_or_else(String::new, |p| p.display().to_string());
    let keymap =
        KeyMap::with_overrides(&file.keys).map_err(|e| format!("config file {shown}: {e}"))?;
    let theme =
        Theme::new(no_color, &file.colors).map_err(|e| format!("config file {shown}: {e}"))?;
    if let Some(ms) = file.interval_ms
        && !(INTERVAL_MIN..=INTERVAL_MAX).contains(&std::time::Duration::from_millis(ms))
    {
        return Err(format!(
            "config file {shown}: interval_ms = {ms} is out of range (50 to 3600000, as --interval)"
        ));
    }
    let services = crate::guard::service::validate_all(&file.service)
        .map_err(|e| format!("config file {shown}: {e}"))?;
    Ok(Config {
        services,
        interval_ms: file.interval_ms,
        sysctl_dir: file.sysctl_dir,
        keymap,
        theme,
    })
}
