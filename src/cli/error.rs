//! The command line's one error type, and the one place that prints an error and picks the
//! exit status: 2 for bad input, 3 (UNKNOWN, in the plugin's own format) for `check`, and the
//! stated status (1 unless a command documents another) for portscope's own failures. Every
//! line goes through the escaping sink of [`super::out`].

use std::process::ExitCode;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
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
    /// Stdout could not be written (the command itself may have done its work): one line,
    /// none when the reader closed the pipe, which was its choice. `status` is the command's
    /// own when that already said something (1 from `why`), else 1.
    #[error("cannot write output: {message}")]
    Output {
        message: String,
        quiet: bool,
        status: ExitCode,
    },
}

/// What a command returns: its status (`check`'s 0-2, `why`'s 0/1 are answers, not errors),
/// or the error [`CliError::report`] prints.
pub type CliResult = Result<ExitCode, CliError>;

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

    /// A failed write to stdout, from `io::Error`.
    pub fn output(e: &std::io::Error, status: ExitCode) -> Self {
        CliError::Output {
            message: e.to_string(),
            quiet: e.kind() == std::io::ErrorKind::BrokenPipe,
            status,
        }
    }

    pub fn exit_status(&self) -> ExitCode {
        match self {
            CliError::BadInput(_) => ExitCode::from(super::EXIT_BAD_INPUT),
            CliError::CheckUnknown(_) => ExitCode::from(super::out::EXIT_UNKNOWN),
            CliError::Failed { status, .. } => ExitCode::from(*status),
            CliError::Output { status, .. } => *status,
        }
    }

    /// Prints the error (one line on stderr, or `check`'s UNKNOWN answer on stdout) and
    /// returns the status to exit with. The one place an error of the command line is printed.
    pub fn report(self) -> ExitCode {
        match &self {
            CliError::CheckUnknown(msg) => super::out::print_unknown(msg),
            CliError::Output { quiet: true, .. } => {}
            CliError::BadInput(_) | CliError::Failed { .. } | CliError::Output { .. } => {
                super::out::eprint_line(&format!("portscope: {self}"));
            }
        }
        self.exit_status()
    }
}

impl From<crate::collect::CollectError> for CliError {
    /// A namespace that cannot be entered because it does not exist (or is not a network
    /// namespace) is the user's input; any other failure to collect is portscope's.
    fn from(e: crate::collect::CollectError) -> Self {
        use crate::collect::{CollectError, NetnsError};
        match e {
            CollectError::Netns(NetnsError::NotFound(m) | NetnsError::NotANetns(m)) => {
                CliError::BadInput(m)
            }
            e => CliError::failed(e, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_documented_ones() {
        assert_eq!(CliError::bad_input("x").exit_status(), ExitCode::from(2));
        assert_eq!(
            CliError::CheckUnknown("x".into()).exit_status(),
            ExitCode::from(3)
        );
        assert_eq!(CliError::failed("x", 1).exit_status(), ExitCode::from(1));
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = CliError::output(&pipe, ExitCode::from(1));
        assert!(matches!(e, CliError::Output { quiet: true, .. }));
        assert_eq!(e.exit_status(), ExitCode::from(1));
        assert_eq!(CliError::failed("boom", 4).to_string(), "boom");
    }
}
