//! Asking before a change: on the terminal only, default no, and never silently without one.

use super::CliError;
use std::io::{IsTerminal, Write};

/// The user's answer to a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Yes,
    No,
    /// Nobody to ask: stdin is not a terminal and `--yes` was not given.
    NoTerminal,
}

/// `y` or `yes`, any case; everything else (including an empty line) is the default, no.
pub fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Asks `question` on the terminal unless `yes`; without a terminal nobody is asked.
pub fn confirm(yes: bool, question: &str) -> Consent {
    if yes {
        return Consent::Yes;
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Consent::NoTerminal;
    }
    eprint!("{} [y/N] ", crate::escape::escape_lines(question));
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    match stdin.read_line(&mut line) {
        Ok(n) if n > 0 && is_yes(&line) => Consent::Yes,
        _ => Consent::No,
    }
}

/// Exit 1 with the reason, for a refused or declined confirmation.
pub fn declined(consent: Consent, what: &str) -> CliError {
    match consent {
        Consent::NoTerminal => CliError::failed(
            format!("not asking without a terminal: pass --yes to {what}; nothing was changed"),
            1,
        ),
        _ => CliError::failed("not confirmed; nothing was changed", 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_confirms() {
        for (answer, want) in [
            ("y\n", true),
            ("YES\n", true),
            (" yes ", true),
            ("\n", false),
            ("n\n", false),
            ("yess\n", false),
            ("", false),
        ] {
            assert_eq!(is_yes(answer), want, "{answer:?}");
        }
    }
}
