//! A name typed by a person that is not one of a closed set: a protocol, a socket state, a
//! sort column, a grouping. The message quotes what was typed and lists what would do.

/// `unknown state "estabished" (expected one of ...)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {given:?}{hint}")]
pub struct UnknownName {
    /// What kind of name was expected ("protocol", "sort column").
    pub what: &'static str,
    /// The text as typed.
    pub given: String,
    /// The choices, already worded: " (expected tcp or udp)", "; try local, remote".
    hint: String,
}

impl UnknownName {
    /// "unknown {what} {given:?} (expected {choices})".
    pub fn expected(what: &'static str, given: &str, choices: &str) -> Self {
        UnknownName {
            what,
            given: given.to_string(),
            hint: format!(" (expected {choices})"),
        }
    }

    /// "unknown {what} {given:?}; try {choices}".
    pub fn try_one_of(what: &'static str, given: &str, choices: &[&str]) -> Self {
        UnknownName {
            what,
            given: given.to_string(),
            hint: format!("; try {}", choices.join(", ")),
        }
    }
}
