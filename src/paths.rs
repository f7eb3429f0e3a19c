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

/// Effective root: what reading every process and changing the kernel needs.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
