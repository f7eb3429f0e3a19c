//! The command line's one error type, and the one place that prints an error and picks the
//! exit status: 2 for bad input, 3 (UNKNOWN, in the plugin's own format) for `check`, and the
//! stated status (1 unless a command documents another) for portscope's own failures. Every
//! line goes through the escaping sink of [`super::out`].

use std::process::ExitCode;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// What the user typed was wrong; nothing was changed.
    #[error("{0}")]
    BadInput(String),
    /// `check` could not judge (bad arguments included): UNKNOWN to the monitoring system.
    #[error("{0}")]
    CheckUnknown(String),
    /// portscope itself failed.
    #[error("{message}")]
    Failed { message: String, status: u8 },
}

impl CliError {
    pub fn bad_input(msg: impl std::fmt::Display) -> Self {
        CliError::BadInput(msg.to_string())
    }

    pub fn failed(msg: impl std::fmt::Display, status: u8) -> Self {
        CliError::Failed {
            message: msg.to_string(),
            status,
        }
    }

    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::BadInput(_) => super::EXIT_BAD_INPUT,
            CliError::CheckUnknown(_) => super::check_cmd::EXIT_UNKNOWN,
            CliError::Failed { status, .. } => *status,
        }
    }

    /// Prints the error (one line on stderr, or `check`'s UNKNOWN answer on stdout) and
    /// returns the status to exit with.
    pub fn report(self) -> ExitCode {
        let status = self.exit_status();
        match &self {
            CliError::CheckUnknown(msg) => super::check_cmd::print_unknown(msg),
            CliError::BadInput(_) | CliError::Failed { .. } => {
                super::out::eprint_line(&format!("portscope: {self}"));
            }
        }
        ExitCode::from(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_documented_ones() {
        assert_eq!(CliError::bad_input("x").exit_status(), 2);
        assert_eq!(CliError::CheckUnknown("x".into()).exit_status(), 3);
        assert_eq!(CliError::failed("x", 1).exit_status(), 1);
        assert_eq!(CliError::failed("boom", 4).to_string(), "boom");
    }
}
