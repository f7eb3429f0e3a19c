//! Shell completions and the man page, generated from the one CLI definition so they can never
//! drift from what the parser accepts.

use super::{Cli, CliError, CliResult};
use clap::{CommandFactory, ValueEnum};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `portscope completions bash|zsh|fish`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> CliResult {
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "portscope", &mut buf);
    write_raw(&buf)
}

/// `portscope man`: the man page (roff) on stdout, e.g. `portscope man > portscope.1`.
pub fn man() -> CliResult {
    let mut buf = Vec::new();
    match clap_mangen::Man::new(Cli::command()).render(&mut buf) {
        Ok(()) => write_raw(&buf),
        Err(e) => Err(CliError::failed(
            format!("cannot render the man page: {e}"),
            1,
        )),
    }
}

/// Generated text is ours, not another process's: written as is (escaping would break roff).
fn write_raw(bytes: &[u8]) -> CliResult {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CliError::output(&e, ExitCode::from(1))),
    }
}
