use std::process::ExitCode;

fn main() -> ExitCode {
    match portscope::cli::parse() {
        Ok(cli) => portscope::cli::run(cli),
        Err(code) => code,
    }
}
