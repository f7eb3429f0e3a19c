use std::process::ExitCode;

fn main() -> ExitCode {
    // color-eyre is the panic report, and only that: errors a user can act on are typed
    // (`CliError`, printed by `CliError::report` with its exit status), never eyre reports.
    // Installed first, so that the TUI's panic hook (installed later by ratatui::init)
    // restores the terminal before color-eyre prints the report.
    let _ = color_eyre::install();
    portscope::cli::main()
}
