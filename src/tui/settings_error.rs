//! The ways the TUI's sections of the config file (`[keys]`, `[colors]`) can be wrong, as types.
//! Every message names what was wrong and where; [`SettingsError`] adds the file.

/// A key written in `[keys]` that cannot be bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("unknown key {0:?} (function keys are F1 to F12)")]
    FunctionKey(String),
    #[error("unknown key {0:?}")]
    Unknown(String),
    /// The terminal sends it as another key, so the binding would never fire as written.
    #[error("key {written:?} reaches portscope as {other}: bind {other} instead")]
    SameAs {
        written: String,
        other: &'static str,
    },
    #[error(
        "key {0:?} cannot be sent by a terminal (ctrl goes with a letter, space, an arrow, \
         home/end, pgup/pgdown, delete or F1-F12)"
    )]
    Unsendable(String),
}

/// A `[keys]` table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeymapError {
    #[error("unknown command {name:?} in [keys] (known: {known})")]
    UnknownCommand { name: String, known: String },
    #[error("{error} for {command} in [keys]")]
    Key {
        command: &'static str,
        error: KeyError,
    },
    #[error("key {key} is bound to both {first} and {second}")]
    BoundTwice {
        key: String,
        first: &'static str,
        second: &'static str,
    },
    #[error("{0} = [] would leave no way out: bind at least one key to it")]
    NoWayOut(&'static str),
}

/// What is wrong in the TUI's sections of the config file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsProblem {
    #[error(transparent)]
    Keys(#[from] KeymapError),
    #[error("unknown colour {value:?} for {name} (a name, #rrggbb or 0-255)")]
    Colour { name: &'static str, value: String },
}

/// The config file's `[keys]` or `[colors]` could not be used; nothing was started. Worded as
/// [`crate::config::ConfigError`] is: the user sees one config file.
#[derive(Debug, thiserror::Error)]
#[error("config file {file}: {problem}")]
pub struct SettingsError {
    /// As shown to the user (empty when there is no config file at all).
    pub file: String,
    pub problem: SettingsProblem,
}
