//! The ways the config file can be wrong, as types. Every message names what was wrong and
//! where; [`ConfigError`] adds the file. The TUI's own sections (`[keys]`, `[colors]`) are
//! judged by the TUI, in `tui::settings_error`, with the same wording.

/// What is wrong inside the config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    #[error("{0}")]
    Read(String),
    /// toml's own message, trimmed.
    #[error("{0}")]
    Syntax(String),
    #[error("interval_ms = {0} is out of range (50 to 3600000, as --interval)")]
    Interval(u64),
    #[error(transparent)]
    Services(#[from] crate::guard::service::ServiceError),
    #[error(transparent)]
    Protect(#[from] crate::model::protect::ProtectError),
    #[error("history_minutes and history_mb must be at least 1")]
    HistoryZero,
}

/// The config file could not be used; nothing was started.
#[derive(Debug, thiserror::Error)]
#[error("config file {file}: {problem}")]
pub struct ConfigError {
    /// As shown to the user (empty when there is no config file at all).
    pub file: String,
    pub problem: ConfigProblem,
}
