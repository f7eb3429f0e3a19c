//! Where portscope keeps its files, and who it runs as: one answer for every module.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/portscope` (default `~/.local/share/portscope`): the undo journal and the
/// action log.
pub fn data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "portscope").map(|d| d.data_dir().to_path_buf())
}

/// `$XDG_CONFIG_HOME/portscope` (default `~/.config/portscope`).
pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "portscope").map(|d| d.config_dir().to_path_buf())
}

/// The config file's name in [`config_dir`].
pub const CONFIG_FILE: &str = "config.toml";
/// The action log's name in [`data_dir`]: every outcome of a signal, stop or close.
pub const ACTION_LOG: &str = "actions.log";
/// The undo journal's name in [`data_dir`].
pub const RESERVE_JOURNAL: &str = "reserve-journal.json";

/// Effective root: what reading every process and changing the kernel needs.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
