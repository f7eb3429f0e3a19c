use std::process::ExitCode;

fn main() -> ExitCode {
    // First, so that the TUI's panic hook (installed later by ratatui::init) restores the
    // terminal before color-eyre prints the report.
    let _ = color_eyre::install();
    match portscope::cli::parse() {
        Ok(cli) => portscope::cli::run(cli),
        Err(code) => code,
    }
}
