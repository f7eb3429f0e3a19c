//! Shell completions and the man pages, generated from the one CLI definition so they can never
//! drift from what the parser accepts.

pub mod man;
pub mod roff;
pub mod shared;

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

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The page: a command (why, reserve, reserve-plan, ...); portscope(1) without one.
    #[arg(value_name = "COMMAND", value_parser = man::page_names(), conflicts_with = "dir")]
    pub page: Option<String>,
    /// Write every page to DIR (portscope.1, portscope-why.1, ...) instead of one to stdout,
    /// e.g. --dir /usr/local/share/man/man1.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub dir: Option<std::path::PathBuf>,
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

/// `portscope man [COMMAND]`: one page (roff) on stdout; `--dir DIR`: every page as a file.
pub fn man(args: &ManArgs) -> CliResult {
    let cmd = Cli::command();
    match &args.dir {
        None => {
            let name = args.page.as_deref().unwrap_or("");
            let page = man::Page::find(&cmd, name)
                .ok_or_else(|| CliError::BadInput(format!("no man page for {name:?}")))?;
            write_raw(&render(&page)?)
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                CliError::failed(format!("cannot create {}: {e}", dir.display()), 1)
            })?;
            for page in man::Page::all(&cmd) {
                let path = dir.join(page.file_name());
                std::fs::write(&path, render(&page)?).map_err(|e| {
                    CliError::failed(format!("cannot write {}: {e}", path.display()), 1)
                })?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn render(page: &man::Page) -> Result<Vec<u8>, CliError> {
    page.render()
        .map_err(|e| CliError::failed(format!("cannot render the man page: {e}"), 1))
}

/// Generated text is ours, not another process's: written as is (escaping would break roff).
fn write_raw(bytes: &[u8]) -> CliResult {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CliError::output(&e, ExitCode::from(1))),
    }
}
